//! The price book's wire shapes: a product as sent and as read, a page, a bulk upsert's
//! answer. Amounts are strings, as everywhere in the API.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ordo_domain::{Product, ProductDraft, ProductStatus, amount_serde};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::record::OptionsSchema;

/// A product as staff or a catalogue sync sends it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductInput {
    /// The SKU orders name it by, unique in the book; kept exactly as given.
    #[schema(example = "TS-BLUE-L", min_length = 1, max_length = 64)]
    pub sku: String,
    /// What customers see: 1 to 200 characters.
    #[schema(example = "T-shirt, blue, L", min_length = 1, max_length = 200)]
    pub title: String,
    /// The variant this SKU is (`{"size": "L"}`): up to 10 options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = OptionsSchema)]
    pub options: BTreeMap<String, String>,
    /// Whether it ships (a gift card does not); true when left out.
    #[serde(default = "shipped")]
    pub requires_shipping: bool,
    /// Which tax rates apply: 1 to 32 of a-z, 0-9, `-`, `_`; `standard` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "standard", pattern = "^[a-z0-9_-]{1,32}$")]
    pub tax_class: Option<String>,
    /// `active` (on sale; the default) or `archived` (kept for the orders that name it, no
    /// longer sold).
    #[serde(default)]
    #[schema(value_type = String, example = "active", pattern = "^(active|archived)$")]
    pub status: ProductStatus,
    /// The price of one by ISO 4217 code, each with at most the currency's minor units:
    /// `{"USD": "19.99", "JPY": "2000"}`. At least one.
    #[schema(value_type = BTreeMap<String, String>, example = json!({"USD": "19.99", "EUR": "18.50"}))]
    pub prices: BTreeMap<String, Price>,
}

/// An amount, as a string (or a JSON number, read exactly from its digits).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Price(#[serde(with = "amount_serde")] Decimal);

fn shipped() -> bool {
    true
}

impl From<ProductInput> for ProductDraft {
    fn from(input: ProductInput) -> Self {
        Self {
            sku: input.sku,
            title: input.title,
            options: input.options,
            requires_shipping: input.requires_shipping,
            tax_class: input.tax_class,
            status: input.status,
            prices: input
                .prices
                .into_iter()
                .map(|(code, Price(price))| (code, price))
                .collect(),
        }
    }
}

impl From<ProductDraft> for ProductInput {
    fn from(draft: ProductDraft) -> Self {
        Self {
            sku: draft.sku,
            title: draft.title,
            options: draft.options,
            requires_shipping: draft.requires_shipping,
            tax_class: draft.tax_class,
            status: draft.status,
            prices: draft
                .prices
                .into_iter()
                .map(|(code, price)| (code, Price(price)))
                .collect(),
        }
    }
}

/// A product in the book.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProductBody {
    /// Its id.
    pub id: Uuid,
    /// The SKU orders name it by.
    #[schema(example = "TS-BLUE-L")]
    pub sku: String,
    /// What customers see.
    pub title: String,
    /// The variant.
    #[schema(value_type = OptionsSchema)]
    pub options: BTreeMap<String, String>,
    /// Whether it ships.
    pub requires_shipping: bool,
    /// Which tax rates apply.
    #[schema(example = "standard")]
    pub tax_class: String,
    /// `active` or `archived`.
    #[schema(value_type = String, example = "active")]
    pub status: ProductStatus,
    /// The price of one by ISO 4217 code, with the currency's minor units.
    #[schema(value_type = BTreeMap<String, String>, example = json!({"USD": "19.99"}))]
    pub prices: BTreeMap<String, Price>,
    /// Bumped by every change; the ETag is this number in quotes.
    pub version: u32,
    /// When it was added (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When its content last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&Product> for ProductBody {
    fn from(product: &Product) -> Self {
        let spec = product.spec();
        Self {
            id: product.id().as_uuid(),
            sku: spec.sku().as_str().to_owned(),
            title: spec.title().as_str().to_owned(),
            options: spec
                .options()
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            requires_shipping: spec.requires_shipping(),
            tax_class: spec.tax_class().as_str().to_owned(),
            status: spec.status(),
            prices: spec
                .prices()
                .iter()
                .map(|(code, price)| (code.clone(), Price(*price)))
                .collect(),
            version: product.version().get(),
            created_at: product.created_at(),
            updated_at: product.updated_at(),
        }
    }
}

/// One page of products, in SKU order (byte order).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProductPageBody {
    /// The products.
    pub data: Vec<ProductBody>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// Whether another page exists.
    pub has_more: bool,
}

/// Filters and position of a product list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ProductParams {
    /// Only products with this status.
    #[param(value_type = Option<String>, example = "active", pattern = "^(active|archived)$")]
    pub status: Option<String>,
    /// Only products of this tax class.
    #[param(example = "standard", pattern = "^[a-z0-9_-]{1,32}$")]
    pub tax_class: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page, unchanged (with the same filters).
    #[param(min_length = 2, max_length = 90, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// What a bulk upsert did, product by product.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BulkBody {
    /// How many were new.
    pub created: usize,
    /// How many changed.
    pub updated: usize,
    /// How many were sent with the content they had (nothing written).
    pub unchanged: usize,
    /// Each product sent, in the order sent.
    pub data: Vec<BulkItem>,
}

/// One product of a bulk upsert.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BulkItem {
    /// Its id.
    pub id: Uuid,
    /// Its SKU.
    pub sku: String,
    /// `created`, `updated` or `unchanged`.
    #[schema(example = "created")]
    pub result: &'static str,
    /// Its version now.
    pub version: u32,
}
