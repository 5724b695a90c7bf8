//! The wire shapes of `/v1/tax-rates` and `/v1/shipping-rates`: what staff send to replace a
//! table, and what every reader gets back (the same, with its version).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ordo_domain::{ShippingMethodDraft, ShippingTable, TaxRateDraft, TaxTable, TaxTableDraft};
use ordo_service::Versioned;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::{AmountsSchema, Price, PricesSchema};
use crate::record::CountrySchema;

/// The shop's tax table, whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaxTableInput {
    /// Whether the shop's prices (the book's, custom lines', shipping) already contain the tax
    /// (EU style: the tax is taken out of them); otherwise it is added on top (US style).
    #[serde(default)]
    pub prices_include_tax: bool,
    /// Up to 2,000 rates; one per country, region and tax class. An empty table charges no tax.
    #[serde(default)]
    #[schema(max_items = 2000)]
    pub rates: Vec<TaxRateBody>,
}

/// One rate.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaxRateBody {
    /// Where the order goes: ISO 3166-1 alpha-2.
    #[schema(value_type = CountrySchema, example = "DE")]
    pub country: String,
    /// A region of it, compared without case to the address's `region` (`CA`, `BY`); null
    /// for the whole country. A region's own rate beats the country's.
    #[serde(default)]
    #[schema(
        example = "CA",
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub region: Option<String>,
    /// The products' tax class it applies to; `standard` when left out. Shipping is taxed at
    /// the `standard` rate.
    #[serde(default)]
    #[schema(example = "standard", pattern = "^[a-z0-9_-]{1,32}$")]
    pub tax_class: Option<String>,
    /// The rate in [0, 1) (`"0.19"` is 19 %), at most 6 decimals.
    #[serde(with = "ordo_domain::amount_serde")]
    #[schema(value_type = String, example = "0.19", pattern = "^0([.][0-9]{1,6})?$")]
    pub rate: Decimal,
    /// What receipts call it.
    #[serde(default)]
    #[schema(
        example = "VAT",
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub name: Option<String>,
}

impl From<TaxTableInput> for TaxTableDraft {
    fn from(input: TaxTableInput) -> Self {
        Self {
            prices_include_tax: input.prices_include_tax,
            rates: input
                .rates
                .into_iter()
                .map(|rate| TaxRateDraft {
                    country: rate.country,
                    region: rate.region,
                    tax_class: rate.tax_class,
                    rate: rate.rate,
                    name: rate.name,
                })
                .collect(),
        }
    }
}

/// The tax table as stored.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TaxTableBody {
    /// Whether prices contain the tax.
    pub prices_include_tax: bool,
    /// The rates, as given.
    pub rates: Vec<TaxRateBody>,
    /// The table's version (its ETag): 1 until first replaced.
    pub version: u32,
    /// When it was last replaced; null while it is the empty table ordo starts with.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<&Versioned<TaxTable>> for TaxTableBody {
    fn from(stored: &Versioned<TaxTable>) -> Self {
        let draft = stored.value.to_draft();
        Self {
            prices_include_tax: draft.prices_include_tax,
            rates: draft
                .rates
                .into_iter()
                .map(|rate| TaxRateBody {
                    country: rate.country,
                    region: rate.region,
                    tax_class: rate.tax_class,
                    rate: rate.rate,
                    name: rate.name,
                })
                .collect(),
            version: stored.version.get(),
            updated_at: stored.updated_at,
        }
    }
}

/// The shop's shipping methods, whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShippingRatesInput {
    /// Up to 100 methods, each code once. With none, orders carry no shipping unless staff
    /// give it.
    #[schema(max_items = 100)]
    pub methods: Vec<ShippingMethodBody>,
}

/// One shipping method.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShippingMethodBody {
    /// What orders name it by in `shipping_method`: no white space.
    #[schema(
        example = "standard",
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\s\\x00-\\x1F\\x7F-\\x9F]+$"
    )]
    pub code: String,
    /// What customers see.
    #[schema(
        example = "Standard (3–5 days)",
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub title: String,
    /// Its price by ISO 4217 code, each with at most the currency's minor units. At least one.
    #[schema(value_type = PricesSchema, example = json!({"EUR": "4.90", "USD": "5.00"}))]
    pub prices: BTreeMap<String, Price>,
    /// Free once the order's subtotal less its discount reaches this, by currency.
    #[serde(default)]
    #[schema(value_type = AmountsSchema, example = json!({"EUR": "50.00"}))]
    pub free_above: BTreeMap<String, Price>,
    /// Whether it is taxed, at the destination's `standard` rate (false when left out).
    #[serde(default)]
    pub taxed: bool,
    /// The countries it ships to (ISO 3166-1 alpha-2, each once; read back sorted); null or
    /// left out for everywhere.
    #[serde(default)]
    #[schema(value_type = Option<Vec<CountrySchema>>, min_items = 1, example = json!(["AT", "DE"]))]
    pub countries: Option<Vec<String>>,
}

fn amounts(given: BTreeMap<String, Price>) -> BTreeMap<String, Decimal> {
    given
        .into_iter()
        .map(|(code, price)| (code, price.0))
        .collect()
}

fn prices(given: BTreeMap<String, Decimal>) -> BTreeMap<String, Price> {
    given
        .into_iter()
        .map(|(code, amount)| (code, Price(amount)))
        .collect()
}

impl From<ShippingMethodBody> for ShippingMethodDraft {
    fn from(body: ShippingMethodBody) -> Self {
        Self {
            code: body.code,
            title: body.title,
            prices: amounts(body.prices),
            free_above: amounts(body.free_above),
            taxed: body.taxed,
            countries: body.countries,
        }
    }
}

/// The shipping methods as stored.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ShippingRatesBody {
    /// The methods, as given.
    pub methods: Vec<ShippingMethodBody>,
    /// The table's version (its ETag): 1 until first replaced.
    pub version: u32,
    /// When it was last replaced; null while it is the empty table ordo starts with.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<&Versioned<ShippingTable>> for ShippingRatesBody {
    fn from(stored: &Versioned<ShippingTable>) -> Self {
        Self {
            methods: stored
                .value
                .to_drafts()
                .into_iter()
                .map(|draft| ShippingMethodBody {
                    code: draft.code,
                    title: draft.title,
                    prices: prices(draft.prices),
                    free_above: prices(draft.free_above),
                    taxed: draft.taxed,
                    countries: draft.countries,
                })
                .collect(),
            version: stored.version.get(),
            updated_at: stored.updated_at,
        }
    }
}
