//! The price book's wire shapes: a product as sent and as read, a page, a bulk upsert's
//! answer. Amounts are strings, as everywhere in the API.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ordo_domain::{
    CodeValueDraft, DiscountCode, DiscountCodeDraft, Product, ProductDraft, ProductStatus,
    amount_serde,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::record::OptionsSchema;
use utoipa::PartialSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};

/// A product's prices: 1 to 50, by ISO 4217 code, each an amount as a string.
pub(crate) struct PricesSchema;

impl PartialSchema for PricesSchema {
    fn schema() -> RefOr<Schema> {
        prices(1)
    }
}

impl ToSchema for PricesSchema {}

/// Amounts by ISO 4217 code, none or more.
pub(crate) struct AmountsSchema;

impl PartialSchema for AmountsSchema {
    fn schema() -> RefOr<Schema> {
        prices(0)
    }
}

impl ToSchema for AmountsSchema {}

fn prices(min: usize) -> RefOr<Schema> {
    let amount = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[0-9]{1,12}([.][0-9]{1,4})?$"))
        .build();
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .min_properties(Some(min))
        .max_properties(Some(ordo_domain::MAX_PRICES))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Z]{3}$"))
                .build(),
        ))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::Object(
            amount,
        )))))
        .into()
}

/// A product as staff or a catalogue sync sends it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductInput {
    /// The SKU orders name it by, unique in the book; kept exactly as given.
    #[schema(
        example = "TS-BLUE-L",
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\s\\x00-\\x1F\\x7F-\\x9F]([^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F])?$"
    )]
    pub sku: String,
    /// What customers see: 1 to 200 characters.
    #[schema(
        example = "T-shirt, blue, L",
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
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
    #[schema(value_type = PricesSchema, example = json!({"USD": "19.99", "EUR": "18.50"}))]
    pub prices: BTreeMap<String, Price>,
}

/// A change to a product, as a JSON Merge Patch (RFC 7396): each field given replaces the
/// product's, `null` removes it (a price, an option), an object merges into the object.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "the document's shape of a patch; a patch is read as JSON"
)]
pub(crate) struct ProductPatch {
    /// A new SKU.
    #[schema(
        example = "TS-BLUE-L",
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\s\\x00-\\x1F\\x7F-\\x9F]([^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F])?$"
    )]
    sku: Option<String>,
    /// A new title.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    title: Option<String>,
    /// Options to set, or remove with `null`.
    #[schema(value_type = Option<Object>)]
    options: Option<()>,
    /// Whether it ships.
    requires_shipping: Option<bool>,
    /// A new tax class.
    #[schema(example = "reduced", pattern = "^[a-z0-9_-]{1,32}$")]
    tax_class: Option<String>,
    /// `active` or `archived`.
    #[schema(example = "archived", pattern = "^(active|archived)$")]
    status: Option<String>,
    /// Prices to set, or remove with `null` (`{"EUR": null}`); at least one must remain.
    #[schema(value_type = Option<Object>, example = json!({"EUR": "17.90", "GBP": null}))]
    prices: Option<()>,
}

/// An amount, as a string (or a JSON number, read exactly from its digits).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Price(#[serde(with = "amount_serde")] pub(crate) Decimal);

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
    #[schema(value_type = String, example = "active", pattern = "^(active|archived)$")]
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
    #[param(min_length = 2, max_length = 400, pattern = "^[A-Za-z0-9_-]+$")]
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

/// A discount code as staff send it: `percent` or `amounts`, one of them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiscountCodeInput {
    /// What customers type: 1 to 40 of A-Z, 0-9, `-`, `_` (any case; kept upper case).
    #[schema(example = "SUMMER-10", pattern = "^[A-Za-z0-9_-]{1,40}$")]
    pub code: String,
    /// A percentage off the subtotal, above 0 and at most 100, at most 4 decimals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "10", pattern = "^(100([.]0{1,4})?|[0-9]{1,2}([.][0-9]{1,4})?)$")]
    pub percent: Option<Price>,
    /// Or a fixed amount off, by ISO 4217 code: an order in another currency cannot use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PricesSchema>, example = json!({"USD": "5.00"}))]
    pub amounts: Option<BTreeMap<String, Price>>,
    /// The subtotal (before the discount) an order must reach, by ISO 4217 code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = AmountsSchema, example = json!({"USD": "50.00"}))]
    pub minimum_subtotal: BTreeMap<String, Price>,
    /// From when it may be used (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// How many orders may hold a use of it at once (a cancelled order gives its use back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub usage_limit: Option<i64>,
    /// How many of one customer's orders may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub per_customer_limit: Option<i64>,
    /// `active` (the default) or `archived` (no longer usable).
    #[serde(default)]
    #[schema(value_type = String, example = "active", pattern = "^(active|archived)$")]
    pub status: ProductStatus,
}

impl DiscountCodeInput {
    /// The draft it says, or 422 when it gives both or neither of `percent` and `amounts`.
    pub(crate) fn into_draft(self) -> Result<DiscountCodeDraft, crate::problem::Problem> {
        let value = match (self.percent, self.amounts) {
            (Some(Price(percent)), None) => CodeValueDraft::Percentage(percent),
            (None, Some(amounts)) => CodeValueDraft::Fixed(
                amounts
                    .into_iter()
                    .map(|(code, Price(amount))| (code, amount))
                    .collect(),
            ),
            _ => {
                return Err(crate::problem::Problem::invalid_field(
                    "percent",
                    "give one of percent and amounts",
                ));
            }
        };
        Ok(DiscountCodeDraft {
            code: self.code,
            value,
            minimum_subtotal: self
                .minimum_subtotal
                .into_iter()
                .map(|(code, Price(amount))| (code, amount))
                .collect(),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            usage_limit: self.usage_limit,
            per_customer_limit: self.per_customer_limit,
            status: self.status,
        })
    }
}

impl From<DiscountCodeDraft> for DiscountCodeInput {
    fn from(draft: DiscountCodeDraft) -> Self {
        let (percent, amounts) = match draft.value {
            CodeValueDraft::Percentage(percent) => (Some(Price(percent)), None),
            CodeValueDraft::Fixed(amounts) => (
                None,
                Some(
                    amounts
                        .into_iter()
                        .map(|(code, amount)| (code, Price(amount)))
                        .collect(),
                ),
            ),
        };
        Self {
            code: draft.code,
            percent,
            amounts,
            minimum_subtotal: draft
                .minimum_subtotal
                .into_iter()
                .map(|(code, amount)| (code, Price(amount)))
                .collect(),
            starts_at: draft.starts_at,
            ends_at: draft.ends_at,
            usage_limit: draft.usage_limit,
            per_customer_limit: draft.per_customer_limit,
            status: draft.status,
        }
    }
}

/// A discount code as staff read it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DiscountCodeBody {
    /// Its id.
    pub id: Uuid,
    /// What customers type, upper case.
    #[schema(example = "SUMMER-10")]
    pub code: String,
    /// A percentage off the subtotal; null for a fixed amount.
    #[schema(value_type = Option<String>, example = "10")]
    pub percent: Option<Price>,
    /// A fixed amount off by ISO 4217 code; null for a percentage.
    #[schema(value_type = Option<Object>, example = json!({"USD": "5.00"}))]
    pub amounts: Option<BTreeMap<String, Price>>,
    /// The subtotal an order must reach, by ISO 4217 code.
    #[schema(value_type = Object, example = json!({"USD": "50.00"}))]
    pub minimum_subtotal: BTreeMap<String, Price>,
    /// From when it may be used.
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when (exclusive).
    pub ends_at: Option<DateTime<Utc>>,
    /// How many orders may hold a use of it at once.
    pub usage_limit: Option<i64>,
    /// How many of one customer's orders may.
    pub per_customer_limit: Option<i64>,
    /// `active` or `archived`.
    #[schema(value_type = String, example = "active", pattern = "^(active|archived)$")]
    pub status: ProductStatus,
    /// How many orders hold a use of it now.
    pub used: u32,
    /// Bumped by every change; the ETag is this number in quotes.
    pub version: u32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When its content last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&DiscountCode> for DiscountCodeBody {
    fn from(code: &DiscountCode) -> Self {
        let content = DiscountCodeInput::from(code.spec().to_draft());
        Self {
            id: code.id(),
            code: content.code,
            percent: content.percent,
            amounts: content.amounts,
            minimum_subtotal: content.minimum_subtotal,
            starts_at: content.starts_at,
            ends_at: content.ends_at,
            usage_limit: content.usage_limit,
            per_customer_limit: content.per_customer_limit,
            status: content.status,
            used: code.used(),
            version: code.version().get(),
            created_at: code.created_at(),
            updated_at: code.updated_at(),
        }
    }
}

/// One page of discount codes, in code order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DiscountCodePage {
    /// The codes.
    pub data: Vec<DiscountCodeBody>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// Whether another page exists.
    pub has_more: bool,
}

/// Position of a discount code list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DiscountCodeParams {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page, unchanged.
    #[param(min_length = 2, max_length = 60, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}
