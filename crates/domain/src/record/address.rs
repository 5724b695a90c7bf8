//! Postal addresses: where an order ships to and who is billed.

use serde::{Deserialize, Serialize, Serializer};

use super::text;
use crate::validation::{Collector, ValidationErrors, Violation};
use crate::{CountryCode, Phone};

/// The longest recipient or company name on an address, in characters.
pub const MAX_ADDRESS_NAME_CHARS: usize = 200;
/// The longest street line (`line1`, `line2`), in characters.
pub const MAX_ADDRESS_LINE_CHARS: usize = 200;
/// The longest city or region, in characters.
pub const MAX_CITY_CHARS: usize = 100;
/// The longest postal code, in characters. Its form is not checked: postal rules differ by
/// country and change, and a wrong guess refuses a real address.
pub const MAX_POSTAL_CODE_CHARS: usize = 20;

/// An address as a client sends it. Parse it with [`Address::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    missing_docs,
    reason = "each field is the `Address` field of the same name; blank optionals count as absent"
)]
pub struct AddressDraft {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    pub country: String,
    #[serde(default)]
    pub phone: Option<String>,
}

/// A postal address: every text trimmed, on one line, within its limit; `line1`, `city` and
/// `country` present; empty optionals absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    company: Option<String>,
    line1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    line2: Option<String>,
    city: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    postal_code: Option<String>,
    country: CountryCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<Phone>,
}

impl Address {
    /// Checks every field and reports every broken one under `prefix` (`shipping_address.city`).
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in field order.
    pub fn parse(draft: &AddressDraft, prefix: &str) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let at = |field: &'static str| move || format!("{prefix}.{field}");
        let name = errors.check(
            at("name"),
            optional(draft.name.as_deref(), MAX_ADDRESS_NAME_CHARS),
        );
        let company = errors.check(
            at("company"),
            optional(draft.company.as_deref(), MAX_ADDRESS_NAME_CHARS),
        );
        let line1 = errors.check(
            at("line1"),
            text::line(&draft.line1, MAX_ADDRESS_LINE_CHARS),
        );
        let line2 = errors.check(
            at("line2"),
            optional(draft.line2.as_deref(), MAX_ADDRESS_LINE_CHARS),
        );
        let city = errors.check(at("city"), text::line(&draft.city, MAX_CITY_CHARS));
        let region = errors.check(
            at("region"),
            optional(draft.region.as_deref(), MAX_CITY_CHARS),
        );
        let postal_code = errors.check(
            at("postal_code"),
            optional(draft.postal_code.as_deref(), MAX_POSTAL_CODE_CHARS),
        );
        let country = errors.check(at("country"), CountryCode::parse(&draft.country));
        let phone = errors.check(
            at("phone"),
            text::optional(draft.phone.as_deref(), Phone::parse),
        );
        let address = (|| {
            Some(Self {
                name: name?,
                company: company?,
                line1: line1?,
                line2: line2?,
                city: city?,
                region: region?,
                postal_code: postal_code?,
                country: country?,
                phone: phone?,
            })
        })();
        errors.finish(address)
    }

    /// The recipient, if given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The company, if given.
    pub fn company(&self) -> Option<&str> {
        self.company.as_deref()
    }

    /// The first street line.
    pub fn line1(&self) -> &str {
        &self.line1
    }

    /// The second street line, if given.
    pub fn line2(&self) -> Option<&str> {
        self.line2.as_deref()
    }

    /// The city.
    pub fn city(&self) -> &str {
        &self.city
    }

    /// The state, province or region, if given.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The postal code, if given; its form is the country's business, not ours.
    pub fn postal_code(&self) -> Option<&str> {
        self.postal_code.as_deref()
    }

    /// The country.
    pub fn country(&self) -> CountryCode {
        self.country
    }

    /// A phone number for the carrier, if given.
    pub fn phone(&self) -> Option<&Phone> {
        self.phone.as_ref()
    }
}

/// An optional one-line text: absent or blank is `None`.
fn optional(raw: Option<&str>, max: usize) -> Result<Option<String>, Violation> {
    text::optional(raw, |raw| text::line(raw, max))
}

/// The word a client sends, and a stored record holds, for "bill the shipping address".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SameAsShipping {
    /// `"same_as_shipping"`.
    SameAsShipping,
}

/// A billing address as a client sends it: the text `"same_as_shipping"` or an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per order, parsed once: boxing would only add an allocation"
)]
pub enum BillingAddressDraft {
    /// Bill the shipping address.
    SameAsShipping(SameAsShipping),
    /// Bill this address.
    Address(AddressDraft),
}

/// Who is billed: the shipping address, or an address of its own. Never "absent" by accident:
/// the same-as-shipping case is spelt out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per order, parsed once: boxing would only add an allocation"
)]
pub enum BillingAddress {
    /// Bill the shipping address.
    SameAsShipping,
    /// Bill this address.
    Address(Address),
}

impl BillingAddress {
    /// Checks a billing address; an address's errors name `billing_address.<field>`.
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in field order.
    pub fn parse(draft: &BillingAddressDraft) -> Result<Self, ValidationErrors> {
        match draft {
            BillingAddressDraft::SameAsShipping(SameAsShipping::SameAsShipping) => {
                Ok(Self::SameAsShipping)
            }
            BillingAddressDraft::Address(address) => {
                Address::parse(address, "billing_address").map(Self::Address)
            }
        }
    }

    /// The address to bill, given the order's shipping address.
    pub fn resolve<'a>(&'a self, shipping: &'a Address) -> &'a Address {
        match self {
            Self::SameAsShipping => shipping,
            Self::Address(address) => address,
        }
    }
}

impl Serialize for BillingAddress {
    /// As the draft: `"same_as_shipping"` or the address.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::SameAsShipping => SameAsShipping::SameAsShipping.serialize(serializer),
            Self::Address(address) => address.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> AddressDraft {
        AddressDraft {
            name: Some(" Ada Lovelace ".into()),
            company: None,
            line1: "12 St James's Square".into(),
            line2: Some(String::new()),
            city: "London".into(),
            region: None,
            postal_code: Some("SW1Y 4JH".into()),
            country: "GB".into(),
            phone: Some("+442079460000".into()),
        }
    }

    fn violation(draft: &AddressDraft, field: &str) -> Option<Violation> {
        Address::parse(draft, "shipping_address")
            .unwrap_err()
            .for_field(&format!("shipping_address.{field}"))
            .cloned()
    }

    #[test]
    fn a_good_address_is_trimmed_and_blank_optionals_are_absent() {
        let address = Address::parse(&draft(), "shipping_address").unwrap();
        assert_eq!(address.name(), Some("Ada Lovelace"));
        assert_eq!(address.line2(), None);
        assert_eq!(address.country().as_str(), "GB");
        assert_eq!(address.postal_code(), Some("SW1Y 4JH"));
    }

    #[test]
    fn line1_city_and_country_are_required() {
        let mut bad = draft();
        bad.line1 = " ".into();
        bad.city = String::new();
        bad.country = String::new();
        let errors = Address::parse(&bad, "billing_address").unwrap_err();
        assert_eq!(
            errors.for_field("billing_address.line1"),
            Some(&Violation::Empty)
        );
        assert_eq!(
            errors.for_field("billing_address.city"),
            Some(&Violation::Empty)
        );
        assert_eq!(
            errors.for_field("billing_address.country"),
            Some(&Violation::UnknownCountry)
        );
        assert_eq!(errors.errors().len(), 3);
    }

    #[test]
    fn each_field_has_its_length_limit() {
        type Setter = fn(&mut AddressDraft, String);
        let cases: [(&str, Setter, usize); 7] = [
            ("name", |d, s| d.name = Some(s), 200),
            ("company", |d, s| d.company = Some(s), 200),
            ("line1", |d, s| d.line1 = s, 200),
            ("line2", |d, s| d.line2 = Some(s), 200),
            ("city", |d, s| d.city = s, 100),
            ("region", |d, s| d.region = Some(s), 100),
            ("postal_code", |d, s| d.postal_code = Some(s), 20),
        ];
        for (field, set, max) in cases {
            let mut ok = draft();
            set(&mut ok, "é".repeat(max));
            assert!(Address::parse(&ok, "shipping_address").is_ok(), "{field}");
            let mut bad = draft();
            set(&mut bad, "é".repeat(max + 1));
            assert_eq!(
                violation(&bad, field),
                Some(Violation::TooLong { max }),
                "{field}"
            );
            let mut bad = draft();
            set(&mut bad, "a\nb".into());
            assert_eq!(
                violation(&bad, field),
                Some(Violation::ControlCharacter),
                "{field}"
            );
        }
    }

    #[test]
    fn the_country_is_an_uppercase_code_and_the_phone_e164() {
        let mut bad = draft();
        bad.country = "gb".into();
        bad.phone = Some("020 7946 0000".into());
        assert_eq!(violation(&bad, "country"), Some(Violation::UnknownCountry));
        assert_eq!(violation(&bad, "phone"), Some(Violation::InvalidPhone));
    }

    #[test]
    fn postal_codes_of_any_country_form_are_accepted() {
        for code in [
            "10115", "SW1Y 4JH", "K1A 0B1", "1010-001", "00120", "D02 X285",
        ] {
            let mut ok = draft();
            ok.postal_code = Some(code.into());
            assert!(Address::parse(&ok, "shipping_address").is_ok(), "{code}");
        }
    }

    #[test]
    fn billing_same_as_shipping_is_spelt_out_and_resolves_to_shipping() {
        let shipping = Address::parse(&draft(), "shipping_address").unwrap();
        let same = BillingAddress::parse(&BillingAddressDraft::SameAsShipping(
            SameAsShipping::SameAsShipping,
        ))
        .unwrap();
        assert_eq!(same, BillingAddress::SameAsShipping);
        assert_eq!(same.resolve(&shipping), &shipping);
    }

    #[test]
    fn a_billing_address_reports_under_billing_address() {
        let mut bad = draft();
        bad.city = "\u{0}".into();
        let errors = BillingAddress::parse(&BillingAddressDraft::Address(bad)).unwrap_err();
        assert_eq!(
            errors.for_field("billing_address.city"),
            Some(&Violation::ControlCharacter)
        );
    }

    #[test]
    fn billing_reads_and_writes_as_a_word_or_an_address() {
        let same: BillingAddressDraft = serde_json::from_str(r#""same_as_shipping""#).unwrap();
        assert_eq!(
            BillingAddress::parse(&same).unwrap(),
            BillingAddress::SameAsShipping
        );
        assert_eq!(
            serde_json::to_string(&BillingAddress::SameAsShipping).unwrap(),
            r#""same_as_shipping""#
        );
        let address = Address::parse(&draft(), "billing_address").unwrap();
        let json = serde_json::to_string(&BillingAddress::Address(address.clone())).unwrap();
        let back: BillingAddressDraft = serde_json::from_str(&json).unwrap();
        assert_eq!(
            BillingAddress::parse(&back).unwrap(),
            BillingAddress::Address(address)
        );
        assert!(serde_json::from_str::<BillingAddressDraft>(r#""same""#).is_err());
        assert!(serde_json::from_str::<BillingAddressDraft>("null").is_err());
    }
}
