//! The price book: the shop's products, each with its prices, so a customer's order names a
//! SKU and a quantity and never a figure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::order::{Version, checked_amount};
use crate::record::{LineSnapshot, Sku, Title, VariantOptions};
use crate::validation::{Collector, ValidationErrors, Violation};
use crate::{Currency, ProductId};

/// The longest tax class name, in characters.
pub const MAX_TAX_CLASS_CHARS: usize = 32;
/// The most currencies one product may be priced in.
pub const MAX_PRICES: usize = 50;

/// Which tax rates apply to a product (`standard`, `reduced`, `zero`...): 1 to
/// [`MAX_TAX_CLASS_CHARS`] lowercase ASCII letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct TaxClass(String);

impl TaxClass {
    /// The class every product has unless it says otherwise.
    pub const STANDARD: &str = "standard";

    /// A tax class, if `raw` follows the rule.
    ///
    /// # Errors
    /// [`Violation::InvalidTaxClass`].
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let valid = (1..=MAX_TAX_CLASS_CHARS).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Violation::InvalidTaxClass {
                max: MAX_TAX_CLASS_CHARS,
            })
        }
    }

    /// The class's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TaxClass {
    fn default() -> Self {
        Self(Self::STANDARD.to_owned())
    }
}

crate::record::text::text_type!(TaxClass);

/// Whether a product can be ordered.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ProductStatus {
    /// On sale.
    #[default]
    Active,
    /// Kept for the orders that name it, but no longer sold.
    Archived,
}

/// A product as staff or a catalogue sync sends it, before any rule is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDraft {
    /// The SKU orders name it by; unique in the book.
    pub sku: String,
    /// What customers see.
    pub title: String,
    /// The variant this SKU is (`{"size": "L"}`).
    pub options: BTreeMap<String, String>,
    /// Whether it ships (a gift card does not).
    pub requires_shipping: bool,
    /// Which tax rates apply; `standard` when left out.
    pub tax_class: Option<String>,
    /// Whether it is on sale.
    pub status: ProductStatus,
    /// The price of one, by ISO 4217 code.
    pub prices: BTreeMap<String, Decimal>,
}

/// A product's content once every rule holds. The only way to make one is
/// [`ProductSpec::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSpec {
    sku: Sku,
    title: Title,
    options: VariantOptions,
    requires_shipping: bool,
    tax_class: TaxClass,
    status: ProductStatus,
    prices: BTreeMap<String, Decimal>,
}

impl ProductSpec {
    /// Checks every rule and reports every broken one: errors name `sku`, `title`,
    /// `options.size`, `tax_class`, `prices` and `prices.USD`. A price is not negative, has at
    /// most its currency's minor units of decimals and is kept with exactly that many.
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in field order.
    pub fn parse(draft: &ProductDraft) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let sku = errors.check(|| "sku".into(), Sku::parse(&draft.sku));
        let title = errors.check(|| "title".into(), Title::parse(&draft.title));
        let options = VariantOptions::collect(&draft.options, "", &mut errors);
        let tax_class = match &draft.tax_class {
            None => Some(TaxClass::default()),
            Some(raw) => errors.check(|| "tax_class".into(), TaxClass::parse(raw)),
        };
        let mut prices = BTreeMap::new();
        if draft.prices.is_empty() {
            errors.push("prices", Violation::NoPrice);
        } else if draft.prices.len() > MAX_PRICES {
            errors.push("prices", Violation::TooManyEntries { max: MAX_PRICES });
        }
        for (code, price) in &draft.prices {
            let field = || format!("prices.{}", code.escape_debug());
            let Some(currency) = errors.check(
                field,
                Currency::from_code(code).map_err(|_| Violation::UnknownCurrency),
            ) else {
                continue;
            };
            if let Some(price) = errors.check(
                field,
                checked_amount(*price, u32::from(currency.minor_units())),
            ) {
                prices.insert(currency.code().to_owned(), price);
            }
        }
        let spec = match (sku, title, options, tax_class) {
            (Some(sku), Some(title), Some(options), Some(tax_class))
                if prices.len() == draft.prices.len() =>
            {
                Some(Self {
                    sku,
                    title,
                    options,
                    requires_shipping: draft.requires_shipping,
                    tax_class,
                    status: draft.status,
                    prices,
                })
            }
            _ => None,
        };
        errors.finish(spec)
    }

    /// The content as a client would send it: `parse(&s.to_draft()) == Ok(s)`.
    pub fn to_draft(&self) -> ProductDraft {
        ProductDraft {
            sku: self.sku.as_str().to_owned(),
            title: self.title.as_str().to_owned(),
            options: self
                .options
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            requires_shipping: self.requires_shipping,
            tax_class: Some(self.tax_class.as_str().to_owned()),
            status: self.status,
            prices: self.prices.clone(),
        }
    }

    /// The SKU.
    pub fn sku(&self) -> &Sku {
        &self.sku
    }

    /// What customers see.
    pub fn title(&self) -> &Title {
        &self.title
    }

    /// The variant.
    pub fn options(&self) -> &VariantOptions {
        &self.options
    }

    /// Whether it ships.
    pub fn requires_shipping(&self) -> bool {
        self.requires_shipping
    }

    /// Which tax rates apply.
    pub fn tax_class(&self) -> &TaxClass {
        &self.tax_class
    }

    /// Whether it is on sale.
    pub fn status(&self) -> ProductStatus {
        self.status
    }

    /// Every price, by ISO 4217 code, each with its currency's minor units.
    pub fn prices(&self) -> &BTreeMap<String, Decimal> {
        &self.prices
    }

    /// The price of one in `currency`, if the product has one.
    pub fn price_in(&self, currency: Currency) -> Option<Decimal> {
        self.prices.get(currency.code()).copied()
    }
}

/// A product in the book: its content, and what storage keeps about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    id: ProductId,
    spec: ProductSpec,
    version: Version,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Product {
    /// A new product, at version 1.
    pub fn new(id: ProductId, spec: ProductSpec, now: DateTime<Utc>) -> Self {
        Self {
            id,
            spec,
            version: Version::new(1),
            created_at: now,
            updated_at: now,
        }
    }

    /// A product as storage kept it (its content is parsed again before this).
    pub fn restore(
        id: ProductId,
        spec: ProductSpec,
        version: Version,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            spec,
            version,
            created_at,
            updated_at,
        }
    }

    /// Replaces the content, if it differs: the version moves on only for a real change, so a
    /// catalogue sync sending the same product again changes nothing. Says whether it changed.
    pub fn revise(&mut self, spec: ProductSpec, now: DateTime<Utc>) -> bool {
        if spec == self.spec {
            return false;
        }
        self.spec = spec;
        self.version = self.version.next();
        self.updated_at = now;
        true
    }

    /// Its id.
    pub fn id(&self) -> ProductId {
        self.id
    }

    /// Its content.
    pub fn spec(&self) -> &ProductSpec {
        &self.spec
    }

    /// Bumped by every change; what `If-Match` names.
    pub fn version(&self) -> Version {
        self.version
    }

    /// When it was added.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// When its content last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// The line an order for it in `currency` gets: its price, and the snapshot that keeps
    /// what it was when ordered.
    ///
    /// # Errors
    /// [`Violation::ProductArchived`] or [`Violation::NoPriceIn`].
    pub fn offer(&self, currency: Currency) -> Result<(Decimal, LineSnapshot), Violation> {
        if self.spec.status == ProductStatus::Archived {
            return Err(Violation::ProductArchived);
        }
        let price = self.spec.price_in(currency).ok_or(Violation::NoPriceIn {
            currency: currency.code(),
        })?;
        let snapshot = LineSnapshot::new(
            self.spec.sku.clone(),
            self.spec.title.clone(),
            self.spec.options.clone(),
            self.spec.requires_shipping,
        );
        Ok((price, snapshot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn draft() -> ProductDraft {
        ProductDraft {
            sku: "TS-BLUE-L".into(),
            title: " T-shirt ".into(),
            options: BTreeMap::from([("size".into(), "L".into())]),
            requires_shipping: true,
            tax_class: None,
            status: ProductStatus::Active,
            prices: BTreeMap::from([
                ("USD".into(), Decimal::from_str("19.9").unwrap()),
                ("JPY".into(), Decimal::from(2000)),
            ]),
        }
    }

    #[test]
    fn prices_are_kept_with_their_currencys_minor_units() {
        let spec = ProductSpec::parse(&draft()).unwrap();
        assert_eq!(spec.prices()["USD"].to_string(), "19.90");
        assert_eq!(spec.prices()["JPY"].to_string(), "2000");
        assert_eq!(spec.title().as_str(), "T-shirt");
        assert_eq!(spec.tax_class().as_str(), "standard");
        assert_eq!(ProductSpec::parse(&spec.to_draft()), Ok(spec));
    }

    #[test]
    fn every_broken_rule_is_named() {
        let mut bad = draft();
        bad.sku = " x".into();
        bad.tax_class = Some("Reduced".into());
        bad.prices = BTreeMap::from([
            ("USD".into(), Decimal::from_str("1.001").unwrap()),
            ("XYZ".into(), Decimal::ONE),
            ("EUR".into(), Decimal::from(-1)),
        ]);
        bad.options = BTreeMap::from([(" size".into(), "L".into())]);
        let errors = ProductSpec::parse(&bad).unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "sku",
                "options. size",
                "tax_class",
                "prices.EUR",
                "prices.USD",
                "prices.XYZ"
            ]
        );
        bad.prices.clear();
        let errors = ProductSpec::parse(&bad).unwrap_err();
        assert_eq!(errors.for_field("prices"), Some(&Violation::NoPrice));
    }

    #[test]
    fn an_offer_needs_an_active_product_priced_in_the_currency() {
        let now = DateTime::UNIX_EPOCH;
        let usd = Currency::from_code("USD").unwrap();
        let eur = Currency::from_code("EUR").unwrap();
        let mut product = Product::new(
            ProductId::from_uuid(uuid::Uuid::nil()).unwrap(),
            ProductSpec::parse(&draft()).unwrap(),
            now,
        );
        let (price, snapshot) = product.offer(usd).unwrap();
        assert_eq!(price.to_string(), "19.90");
        assert_eq!(snapshot.sku().as_str(), "TS-BLUE-L");
        assert_eq!(
            product.offer(eur),
            Err(Violation::NoPriceIn { currency: "EUR" })
        );
        let mut archived = product.spec().to_draft();
        archived.status = ProductStatus::Archived;
        assert!(product.revise(ProductSpec::parse(&archived).unwrap(), now));
        assert_eq!(product.version(), Version::new(2));
        assert_eq!(product.offer(usd), Err(Violation::ProductArchived));
        assert!(!product.revise(ProductSpec::parse(&archived).unwrap(), now));
        assert_eq!(product.version(), Version::new(2));
    }
}
