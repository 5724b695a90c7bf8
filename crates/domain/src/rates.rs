//! The shop's rates: what tax a line pays where it goes, and what shipping costs. Both are
//! whole tables, set by staff, read by every order; [`crate::NewOrder::settle`] applies them.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog::TaxClass;
use crate::order::{MAX_SHIPPING_CODE_CHARS, MAX_SHIPPING_TITLE_CHARS, checked_amount, tax_rate};
use crate::record::text::line;
use crate::validation::{Collector, ValidationErrors, Violation};
use crate::{CountryCode, Currency};

/// The most tax rates a shop may keep (every country, region and class it sells to).
pub const MAX_TAX_RATES: usize = 2_000;
/// The most shipping methods a shop may keep.
pub const MAX_SHIPPING_METHODS: usize = 100;
/// The longest region or rate name, in characters.
pub const MAX_RATE_TEXT_CHARS: usize = 100;

/// The tax table as staff send it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxTableDraft {
    /// Whether the shop's prices (book, custom lines and shipping) already contain the tax, as
    /// in the EU; otherwise tax is added on top, as in the US.
    #[serde(default)]
    pub prices_include_tax: bool,
    /// The rates.
    #[serde(default)]
    pub rates: Vec<TaxRateDraft>,
}

/// One rate as staff send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxRateDraft {
    /// ISO 3166-1 alpha-2 code of the destination.
    pub country: String,
    /// A region of it (`CA`, `BY`), compared without case to the address's; none for the
    /// whole country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The products' tax class it applies to; `standard` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_class: Option<String>,
    /// The rate in `[0, 1)` (`0.19` is 19 %), at most 6 decimals.
    #[serde(with = "crate::amount_serde")]
    pub rate: Decimal,
    /// What receipts call it (`VAT`, `CA sales tax`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One checked rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRate {
    country: CountryCode,
    region: Option<String>,
    tax_class: TaxClass,
    rate: Decimal,
    name: Option<String>,
}

impl TaxRate {
    /// The destination country.
    pub fn country(&self) -> CountryCode {
        self.country
    }

    /// The region, if the rate is for one.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The tax class.
    pub fn tax_class(&self) -> &TaxClass {
        &self.tax_class
    }

    /// The rate (`0.19`).
    pub fn rate(&self) -> Decimal {
        self.rate
    }

    /// What receipts call it.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// The shop's tax table: every rule holds, and no two rates share a country, region and class.
/// The only way to make one is [`TaxTable::parse`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaxTable {
    prices_include_tax: bool,
    rates: Vec<TaxRate>,
}

impl TaxTable {
    /// Checks every rate; errors name `rates[i].country`, `rates[i].rate`... A second rate for
    /// the same country, region (any case) and class is [`Violation::Duplicate`] at `rates[i]`.
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in field order.
    pub fn parse(draft: &TaxTableDraft) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        if draft.rates.len() > MAX_TAX_RATES {
            errors.push("rates", Violation::TooManyEntries { max: MAX_TAX_RATES });
        }
        let mut rates = Vec::with_capacity(draft.rates.len());
        let mut seen = HashSet::new();
        for (index, rate) in draft.rates.iter().enumerate() {
            let field = |name: &str| format!("rates[{index}].{name}");
            let country = errors.check(|| field("country"), CountryCode::parse(&rate.country));
            let region = match &rate.region {
                None => Some(None),
                Some(raw) => errors
                    .check(|| field("region"), line(raw, MAX_RATE_TEXT_CHARS))
                    .map(Some),
            };
            let tax_class = match &rate.tax_class {
                None => Some(TaxClass::default()),
                Some(raw) => errors.check(|| field("tax_class"), TaxClass::parse(raw)),
            };
            let value = errors.check(|| field("rate"), tax_rate(rate.rate));
            let name = match &rate.name {
                None => Some(None),
                Some(raw) => errors
                    .check(|| field("name"), line(raw, MAX_RATE_TEXT_CHARS))
                    .map(Some),
            };
            if let (Some(country), Some(region), Some(tax_class), Some(rate), Some(name)) =
                (country, region, tax_class, value, name)
            {
                let key = (
                    country,
                    region.as_deref().map(str::to_ascii_lowercase),
                    tax_class.clone(),
                );
                if seen.insert(key) {
                    rates.push(TaxRate {
                        country,
                        region,
                        tax_class,
                        rate,
                        name,
                    });
                } else {
                    errors.push(format!("rates[{index}]"), Violation::Duplicate);
                }
            }
        }
        let table = (rates.len() == draft.rates.len()).then_some(Self {
            prices_include_tax: draft.prices_include_tax,
            rates,
        });
        errors.finish(table)
    }

    /// The table as staff would send it: `parse(&t.to_draft()) == Ok(t)`.
    pub fn to_draft(&self) -> TaxTableDraft {
        TaxTableDraft {
            prices_include_tax: self.prices_include_tax,
            rates: self
                .rates
                .iter()
                .map(|rate| TaxRateDraft {
                    country: rate.country.as_str().to_owned(),
                    region: rate.region.clone(),
                    tax_class: Some(rate.tax_class.as_str().to_owned()),
                    rate: rate.rate,
                    name: rate.name.clone(),
                })
                .collect(),
        }
    }

    /// Whether prices contain the tax.
    pub fn prices_include_tax(&self) -> bool {
        self.prices_include_tax
    }

    /// The rates, as given.
    pub fn rates(&self) -> &[TaxRate] {
        &self.rates
    }

    /// The rate for `class` at a destination: the region's own if it has one (compared without
    /// case), else the country's.
    pub fn rate_for(
        &self,
        country: CountryCode,
        region: Option<&str>,
        class: &TaxClass,
    ) -> Option<Decimal> {
        let matching = |want_region: Option<&str>| {
            self.rates.iter().find(|rate| {
                rate.country == country
                    && rate.tax_class == *class
                    && match (rate.region.as_deref(), want_region) {
                        (None, None) => true,
                        (Some(have), Some(want)) => have.eq_ignore_ascii_case(want.trim()),
                        _ => false,
                    }
            })
        };
        region
            .and_then(|region| matching(Some(region)))
            .or_else(|| matching(None))
            .map(|rate| rate.rate)
    }
}

/// A shipping method as staff send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingMethodDraft {
    /// What orders name it by (`standard`, `dhl-express`).
    pub code: String,
    /// What customers see.
    pub title: String,
    /// Its price by ISO 4217 code.
    #[serde(with = "crate::amount_serde::map")]
    pub prices: BTreeMap<String, Decimal>,
    /// Free when the order's subtotal less its discount reaches this, by currency.
    #[serde(default, with = "crate::amount_serde::map")]
    pub free_above: BTreeMap<String, Decimal>,
    /// Whether it is taxed, at the destination's `standard` rate.
    #[serde(default)]
    pub taxed: bool,
    /// The countries it ships to; none for everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countries: Option<Vec<String>>,
}

/// One checked shipping method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingMethod {
    code: String,
    title: String,
    prices: BTreeMap<String, Decimal>,
    free_above: BTreeMap<String, Decimal>,
    taxed: bool,
    countries: Option<BTreeSet<CountryCode>>,
}

impl ShippingMethod {
    /// Its code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Its title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Whether it is taxed.
    pub fn taxed(&self) -> bool {
        self.taxed
    }

    /// What it costs in `currency` for goods worth `goods` (subtotal less discount), if it is
    /// priced in that currency: nothing once `goods` reaches the free-above threshold.
    pub fn price_for(&self, currency: Currency, goods: Decimal) -> Option<Decimal> {
        let price = *self.prices.get(currency.code())?;
        match self.free_above.get(currency.code()) {
            Some(threshold) if goods >= *threshold => {
                let mut free = Decimal::ZERO;
                free.rescale(u32::from(currency.minor_units()));
                Some(free)
            }
            _ => Some(price),
        }
    }

    /// Whether it ships everywhere (it names no countries).
    pub fn ships_to_every_country(&self) -> bool {
        self.countries.is_none()
    }

    /// Whether it ships to `country`.
    pub fn ships_to(&self, country: CountryCode) -> bool {
        self.countries
            .as_ref()
            .is_none_or(|countries| countries.contains(&country))
    }
}

/// The shop's shipping methods, each code once. The only way to make one is
/// [`ShippingTable::parse`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShippingTable {
    methods: Vec<ShippingMethod>,
}

impl ShippingTable {
    /// Checks every method; errors name `methods[i].code`, `methods[i].prices.EUR`...
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in field order.
    pub fn parse(drafts: &[ShippingMethodDraft]) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        if drafts.len() > MAX_SHIPPING_METHODS {
            errors.push(
                "methods",
                Violation::TooManyEntries {
                    max: MAX_SHIPPING_METHODS,
                },
            );
        }
        let mut methods = Vec::with_capacity(drafts.len());
        let mut codes = HashSet::new();
        for (index, draft) in drafts.iter().enumerate() {
            let field = |name: &str| format!("methods[{index}].{name}");
            let code = errors
                .check(|| field("code"), shipping_code(&draft.code))
                .filter(|code| {
                    let fresh = codes.insert(code.clone());
                    if !fresh {
                        errors.push(field("code"), Violation::Duplicate);
                    }
                    fresh
                });
            let title = errors.check(
                || field("title"),
                line(&draft.title, MAX_SHIPPING_TITLE_CHARS),
            );
            if draft.prices.is_empty() {
                errors.push(field("prices"), Violation::NoPrice);
            }
            let prices = amounts(&draft.prices, &field("prices"), &mut errors);
            let free_above = amounts(&draft.free_above, &field("free_above"), &mut errors);
            let countries = match &draft.countries {
                None => Some(None),
                Some(list) if list.is_empty() => {
                    errors.push(field("countries"), Violation::Empty);
                    None
                }
                Some(list) => {
                    let mut parsed = BTreeSet::new();
                    for (i, raw) in list.iter().enumerate() {
                        let field = || format!("methods[{index}].countries[{i}]");
                        if let Some(country) = errors.check(field, CountryCode::parse(raw))
                            && !parsed.insert(country)
                        {
                            errors.push(field(), Violation::Duplicate);
                        }
                    }
                    (parsed.len() == list.len()).then_some(Some(parsed))
                }
            };
            if let (Some(code), Some(title), Some(prices), Some(free_above), Some(countries)) =
                (code, title, prices, free_above, countries)
                && !prices.is_empty()
            {
                methods.push(ShippingMethod {
                    code,
                    title,
                    prices,
                    free_above,
                    taxed: draft.taxed,
                    countries,
                });
            }
        }
        let table = (methods.len() == drafts.len()).then_some(Self { methods });
        errors.finish(table)
    }

    /// The methods as staff would send them: `parse(&t.to_drafts()) == Ok(t)`.
    pub fn to_drafts(&self) -> Vec<ShippingMethodDraft> {
        self.methods
            .iter()
            .map(|method| ShippingMethodDraft {
                code: method.code.clone(),
                title: method.title.clone(),
                prices: method.prices.clone(),
                free_above: method.free_above.clone(),
                taxed: method.taxed,
                countries: method.countries.as_ref().map(|countries| {
                    countries
                        .iter()
                        .map(|country| country.as_str().to_owned())
                        .collect()
                }),
            })
            .collect()
    }

    /// The methods, as given.
    pub fn methods(&self) -> &[ShippingMethod] {
        &self.methods
    }

    /// The method with `code`.
    pub fn method(&self, code: &str) -> Option<&ShippingMethod> {
        self.methods.iter().find(|method| method.code == code)
    }
}

/// Both tables, as one order reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rates {
    /// The tax table.
    pub taxes: TaxTable,
    /// The shipping methods.
    pub shipping: ShippingTable,
}

/// A shipping method's code: as a shipping line's.
pub(crate) fn shipping_code(raw: &str) -> Result<String, Violation> {
    line(raw, MAX_SHIPPING_CODE_CHARS).and_then(|code| {
        if code.contains(char::is_whitespace) {
            Err(Violation::Whitespace)
        } else {
            Ok(code)
        }
    })
}

/// Amounts by currency code, each at its currency's minor units; `None` when any is wrong.
fn amounts(
    given: &BTreeMap<String, Decimal>,
    prefix: &str,
    errors: &mut Collector,
) -> Option<BTreeMap<String, Decimal>> {
    let mut checked = BTreeMap::new();
    for (code, amount) in given {
        let field = || format!("{prefix}.{}", code.escape_debug());
        let Some(currency) = errors.check(
            field,
            Currency::from_code(code).map_err(|_| Violation::UnknownCurrency),
        ) else {
            continue;
        };
        if let Some(amount) = errors.check(
            field,
            checked_amount(*amount, u32::from(currency.minor_units())),
        ) {
            checked.insert(currency.code().to_owned(), amount);
        }
    }
    (checked.len() == given.len()).then_some(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(country: &str, region: Option<&str>, class: Option<&str>, rate: &str) -> TaxRateDraft {
        TaxRateDraft {
            country: country.into(),
            region: region.map(Into::into),
            tax_class: class.map(Into::into),
            rate: rate.parse().unwrap(),
            name: None,
        }
    }

    #[test]
    fn a_region_s_own_rate_beats_the_country_s_and_falls_back_to_it() {
        let table = TaxTable::parse(&TaxTableDraft {
            prices_include_tax: false,
            rates: vec![
                rate("US", None, None, "0"),
                rate("US", Some("CA"), None, "0.0725"),
                rate("DE", None, Some("reduced"), "0.07"),
            ],
        })
        .unwrap();
        let us = CountryCode::parse("US").unwrap();
        let standard = TaxClass::default();
        let rate_at = |region| table.rate_for(us, region, &standard).map(|r| r.to_string());
        assert_eq!(rate_at(Some("ca")).as_deref(), Some("0.0725"));
        assert_eq!(rate_at(Some("NY")).as_deref(), Some("0"));
        assert_eq!(rate_at(None).as_deref(), Some("0"));
        let de = CountryCode::parse("DE").unwrap();
        assert_eq!(table.rate_for(de, None, &standard), None);
        assert_eq!(table.to_draft().rates.len(), 3);
        assert_eq!(TaxTable::parse(&table.to_draft()), Ok(table));
    }

    #[test]
    fn every_broken_rate_is_named_and_duplicates_are_refused() {
        let errors = TaxTable::parse(&TaxTableDraft {
            prices_include_tax: true,
            rates: vec![
                rate("XX", None, None, "0.2"),
                rate("FR", None, Some("Bad Class"), "1"),
                rate("US", Some("ca"), None, "0.07"),
                rate("US", Some("CA"), Some("standard"), "0.08"),
            ],
        })
        .unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "rates[0].country",
                "rates[1].tax_class",
                "rates[1].rate",
                "rates[3]"
            ]
        );
    }

    #[test]
    fn shipping_is_free_from_its_threshold_and_only_where_it_ships() {
        let draft = ShippingMethodDraft {
            code: "standard".into(),
            title: "Standard".into(),
            prices: BTreeMap::from([("EUR".into(), "4.9".parse().unwrap())]),
            free_above: BTreeMap::from([("EUR".into(), "50".parse().unwrap())]),
            taxed: true,
            countries: Some(vec!["DE".into(), "AT".into()]),
        };
        let table = ShippingTable::parse(std::slice::from_ref(&draft)).unwrap();
        let method = table.method("standard").unwrap();
        let eur = Currency::from_code("EUR").unwrap();
        let price = |goods: &str| method.price_for(eur, goods.parse().unwrap()).unwrap();
        assert_eq!(price("49.99").to_string(), "4.90");
        assert_eq!(price("50.00").to_string(), "0.00");
        assert!(
            method
                .price_for(Currency::from_code("USD").unwrap(), Decimal::ONE)
                .is_none()
        );
        assert!(method.ships_to(CountryCode::parse("AT").unwrap()));
        assert!(!method.ships_to(CountryCode::parse("FR").unwrap()));
        assert_eq!(ShippingTable::parse(&table.to_drafts()), Ok(table));
        let errors = ShippingTable::parse(&[draft.clone(), draft]).unwrap_err();
        assert_eq!(errors.errors()[0].field, "methods[1].code");
    }
}
