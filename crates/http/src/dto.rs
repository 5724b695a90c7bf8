//! The API's request and response bodies, and their conversions to and from the domain.
//! (Just over 400 lines: every wire shape in one file, so the document and the code are read
//! side by side.)

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use ordo_domain::{
    CustomerId, Discount, Fulfillment, FulfillmentStatus, LineItemDraft, LineSnapshot,
    LineSnapshotDraft, LineSource, Order, OrderDraft, OrderStatus, PaymentStatus, PricedLine,
    Pricing, ProductId, RoundingMode, ShippingLine, TaxRounding, Version, amount_serde,
};
use ordo_service::Caller;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::record::{
    AddressBody, BillingBody, ContactBody, CountrySchema, DetailsBody, MetadataPatchSchema,
    MetadataSchema, OptionsSchema, ShippingLineBody, TagSchema,
};

/// The ETag of an order at `version`.
pub(crate) fn etag(version: Version) -> String {
    format!("\"{}\"", version.get())
}

/// The version in an `If-Match` value (one strong ETag).
pub(crate) fn parse_etag(text: &str) -> Option<Version> {
    let number = text.trim().strip_prefix('"')?.strip_suffix('"')?;
    number
        .parse::<u32>()
        .ok()
        .filter(|n| *n >= 1)
        .map(Version::new)
}

/// A new order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateOrder {
    /// Who the order is for.
    #[schema(value_type = Uuid)]
    pub customer_id: CustomerId,
    /// ISO 4217 currency code of every amount (one with minor units).
    #[schema(example = "USD", pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// 1 to 100 lines.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<CreateLineItem>,
    /// An optional order-level discount (staff, admins and `orders:price` keys only: a
    /// customer's is refused, 422 `set-by-shop`).
    #[serde(default)]
    pub discount: Option<DiscountBody>,
    /// A discount code the shop set up (`SUMMER-10`; any case): its discount, if the order
    /// meets it. Anyone placing may name one; not beside a `discount`.
    #[serde(default)]
    #[schema(example = "SUMMER-10")]
    pub discount_code: Option<String>,
    /// With a `discount_code`: place the order without the discount when the code cannot be
    /// used (unknown, expired, below its minimum, used up) instead of refusing it.
    #[serde(default)]
    pub discount_code_optional: bool,
    /// An optional tax rate in [0, 1) (`"0.2"` is 20 %), at most 6 decimals (staff, admins and
    /// `orders:price` keys only).
    #[serde(default, with = "amount_serde::option")]
    #[schema(value_type = Option<String>, example = "0.0825", pattern = "^0([.][0-9]{1,6})?$")]
    pub tax_rate: Option<Decimal>,
    /// How the order is shipped, and what that costs: up to 5 lines (none when nothing ships;
    /// staff, admins and `orders:price` keys only).
    #[serde(default)]
    #[schema(max_items = 5)]
    pub shipping: Vec<ShippingLineBody>,
    /// The code of one of the shop's shipping methods (`/v1/shipping-rates`): the shop prices
    /// the shipping from it, free from the method's threshold. Anyone placing may name one;
    /// not beside `shipping` lines. Required for an order with a line that ships once the shop
    /// keeps shipping methods.
    #[serde(default)]
    #[schema(
        example = "standard",
        max_length = 64,
        pattern = "^[^\\s\\x00-\\x1F\\x7F-\\x9F]+$"
    )]
    pub shipping_method: Option<String>,
    /// Who takes the money: `gateway` (the default: authorized at once) or `manual` (a bank
    /// transfer, cash on delivery, an invoice: nothing held; staff record payments as they
    /// arrive).
    #[serde(default)]
    #[schema(example = "gateway", pattern = "^(gateway|manual)$")]
    pub payment_provider: Option<String>,
    /// Days until a manual payment is due (0 to 365; the shop's `payment_terms_days` when not
    /// given). Set by staff, admins and keys; a customer's is refused (422 "set by the shop").
    #[serde(default)]
    #[schema(minimum = 0, maximum = 365, example = 30)]
    pub payment_terms_days: Option<i64>,
    /// Who to contact about the order.
    #[serde(default)]
    pub contact: Option<ContactBody>,
    /// Where it goes.
    #[serde(default)]
    pub shipping_address: Option<AddressBody>,
    /// Who is billed: an address, or `"same_as_shipping"`.
    #[serde(default)]
    pub billing_address: Option<BillingBody>,
    /// The customer's note to the shop.
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = "^[^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub customer_note: Option<String>,
    /// The shop's own note (staff and admins only; a customer's is refused).
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = "^[^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub staff_note: Option<String>,
    /// Labels (staff and admins only): up to 20, stored lower case, each once.
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<TagSchema>)]
    pub tags: Vec<String>,
    /// An integration's own keys and values (staff and admins only).
    #[serde(default)]
    #[schema(value_type = MetadataSchema)]
    pub metadata: BTreeMap<String, String>,
    /// Where the order came from (staff and admins only; `api` when left out).
    #[serde(default)]
    #[schema(example = "web", pattern = "^[a-z0-9_-]{1,32}$")]
    pub channel: Option<String>,
}

/// A line of a new order: a `sku` and a `quantity`, priced from the price book; or, for staff
/// and API keys with `orders:price`, a custom line with its own `unit_price` and its
/// `product_id`, its snapshot (`sku`, `title` and `requires_shipping` together), or both: a
/// draft or phone order's line for something the book does not hold.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateLineItem {
    /// A custom line's product, if it has one (a book line's comes from the book).
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub product_id: Option<ProductId>,
    /// 1 to 10 000.
    #[schema(minimum = 1, maximum = 10000)]
    pub quantity: i64,
    /// A custom line's price of one (staff and `orders:price` only), ≥ 0, with at most the
    /// currency's minor units of decimals. A string (`"19.99"`) or a JSON number, read exactly
    /// from its digits. Left out, the price comes from the book by `sku`.
    #[serde(default, with = "amount_serde::option")]
    #[schema(value_type = Option<String>, example = "19.99", pattern = "^[0-9]{1,12}([.][0-9]{1,4})?$")]
    pub unit_price: Option<Decimal>,
    /// The product's SKU: on a book line, the product ordered; on a custom line, what it was
    /// when bought, given with `title` and `requires_shipping` or not at all.
    #[serde(default)]
    #[schema(
        example = "TS-BLUE-L",
        max_length = 64,
        pattern = "^[^\\s\\x00-\\x1F\\x7F-\\x9F]([^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F])?$"
    )]
    pub sku: Option<String>,
    /// The product's title when bought.
    #[serde(default)]
    #[schema(
        example = "T-shirt",
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub title: Option<String>,
    /// The variant chosen (`{"size": "L"}`): up to 10 options.
    #[serde(default)]
    #[schema(value_type = OptionsSchema)]
    pub options: BTreeMap<String, String>,
    /// Whether the line ships (a gift card does not).
    #[serde(default)]
    pub requires_shipping: Option<bool>,
}

/// An order-level discount.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum DiscountBody {
    /// A fixed amount off, capped at the subtotal.
    Fixed {
        /// The amount, in the order's currency.
        #[serde(with = "amount_serde")]
        #[schema(value_type = String, example = "5.00", pattern = "^[0-9]{1,12}([.][0-9]{1,4})?$")]
        amount: Decimal,
        /// Why the shop gave it (a late delivery, a loyal customer): up to 200 characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(
            example = "Late delivery",
            min_length = 1,
            max_length = 200,
            pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
        )]
        reason: Option<String>,
    },
    /// A percentage of the subtotal, 0 to 100, at most 4 decimals.
    Percentage {
        /// The percentage (`"12.5"` is 12.5 %).
        #[serde(with = "amount_serde")]
        #[schema(value_type = String, example = "10", pattern = "^(100([.]0{1,4})?|[0-9]{1,2}([.][0-9]{1,4})?)$")]
        percent: Decimal,
        /// Why the shop gave it (a late delivery, a loyal customer): up to 200 characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(
            example = "Late delivery",
            min_length = 1,
            max_length = 200,
            pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
        )]
        reason: Option<String>,
    },
}

impl DiscountBody {
    /// The discount and the reason given for it.
    fn into_parts(self) -> (Discount, Option<String>) {
        match self {
            Self::Fixed { amount, reason } => (Discount::Fixed { amount }, reason),
            Self::Percentage { percent, reason } => (Discount::Percentage { percent }, reason),
        }
    }

    /// `discount`, given for `reason`.
    fn new(discount: Discount, reason: Option<&str>) -> Self {
        let reason = reason.map(str::to_owned);
        match discount {
            Discount::Fixed { amount } => Self::Fixed { amount, reason },
            Discount::Percentage { percent } => Self::Percentage { percent, reason },
        }
    }
}

impl From<CreateOrder> for OrderDraft {
    fn from(body: CreateOrder) -> Self {
        let (discount, discount_reason) = body
            .discount
            .map(DiscountBody::into_parts)
            .map_or((None, None), |(discount, reason)| (Some(discount), reason));
        let details = DetailsBody {
            contact: body.contact,
            shipping_address: body.shipping_address,
            billing_address: body.billing_address,
            customer_note: body.customer_note,
            staff_note: body.staff_note,
            tags: body.tags,
            metadata: body.metadata,
            channel: body.channel,
        };
        Self {
            customer_id: body.customer_id,
            currency: body.currency,
            items: body
                .items
                .into_iter()
                .map(|item| LineItemDraft {
                    snapshot: LineSnapshotDraft {
                        sku: item.sku,
                        title: item.title,
                        options: item.options,
                        requires_shipping: item.requires_shipping,
                    },
                    product_id: item.product_id,
                    quantity: item.quantity,
                    unit_price: item.unit_price,
                })
                .collect(),
            discount,
            discount_reason,
            discount_code: body.discount_code,
            discount_code_optional: body.discount_code_optional,
            tax_rate: body.tax_rate,
            shipping: body.shipping.into_iter().map(Into::into).collect(),
            shipping_method: body.shipping_method,
            details: details.into(),
        }
    }
}

/// A priced line.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LineItemBody {
    /// The product; null for a custom line placed without one.
    pub product_id: Option<Uuid>,
    /// How many.
    pub quantity: u32,
    /// The price of one.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "19.99", pattern = "^[0-9]{1,12}([.][0-9]{1,4})?$")]
    pub unit_price: Decimal,
    /// quantity × unit price, exact.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "59.97")]
    pub line_total: Decimal,
    /// The SKU when bought; null if the order was placed without one.
    pub sku: Option<String>,
    /// The title when bought; null if the order was placed without one.
    pub title: Option<String>,
    /// The variant chosen.
    #[schema(value_type = OptionsSchema)]
    pub options: BTreeMap<String, String>,
    /// Whether the line ships; null if the order was placed without a snapshot.
    pub requires_shipping: Option<bool>,
    /// `book` when the price came from the price book; `custom` when it was given with the
    /// order (by staff or a trusted backend, or before the book existed).
    #[schema(value_type = String, example = "book", pattern = "^(book|custom)$")]
    pub price_source: LineSource,
    /// The tax rate the line pays: its own from the shop's tax table, else the order's; null
    /// when untaxed.
    #[serde(with = "amount_serde::option")]
    #[schema(value_type = Option<String>, example = "0.19")]
    pub tax_rate: Option<Decimal>,
    /// Units held by fulfilments that are not cancelled (an order's lines only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = 1)]
    pub fulfilled_quantity: Option<u32>,
    /// Units that shipped (an order's lines only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = 0)]
    pub shipped_quantity: Option<u32>,
    /// Units held by returns that are not rejected (an order's lines only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = 0)]
    pub returned_quantity: Option<u32>,
    /// Units refunded by line (an order's lines only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = 0)]
    pub refunded_quantity: Option<u32>,
}

impl LineItemBody {
    /// `line` of an order whose own rate is `order_rate`.
    fn new(line: &PricedLine, order_rate: Option<Decimal>) -> Self {
        let snapshot = line
            .snapshot
            .as_ref()
            .map(LineSnapshot::to_draft)
            .unwrap_or_default();
        Self {
            product_id: line.product_id.as_ref().map(ProductId::as_uuid),
            quantity: line.quantity.get(),
            unit_price: line.unit_price,
            line_total: line.line_total,
            sku: snapshot.sku,
            title: snapshot.title,
            options: snapshot.options,
            requires_shipping: snapshot.requires_shipping,
            price_source: line.source,
            tax_rate: line.tax_rate.or(order_rate),
            fulfilled_quantity: None,
            shipped_quantity: None,
            returned_quantity: None,
            refunded_quantity: None,
        }
    }
}

/// A shipping line of a priced order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ShippingLineView {
    /// The method's code.
    #[schema(example = "standard")]
    pub code: String,
    /// The method as the customer saw it.
    #[schema(example = "Standard (3–5 days)")]
    pub title: String,
    /// What it costs.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "4.95")]
    pub amount: Decimal,
    /// Whether it is taxed.
    pub taxed: bool,
    /// The rate it is taxed at (its own from the tax table, else the order's); null when
    /// untaxed.
    #[serde(with = "amount_serde::option")]
    #[schema(value_type = Option<String>, example = "0.19")]
    pub tax_rate: Option<Decimal>,
}

impl ShippingLineView {
    fn new(line: &ShippingLine, order_rate: Option<Decimal>) -> Self {
        Self {
            code: line.code.clone(),
            title: line.title.clone(),
            amount: line.amount,
            taxed: line.taxed,
            tax_rate: line.taxed.then(|| line.tax_rate.or(order_rate)).flatten(),
        }
    }
}

/// The tax at one rate.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TaxLineBody {
    /// The rate (`0.19` is 19 %).
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "0.19")]
    pub rate: Decimal,
    /// What it was charged on (the gross amount, when prices include tax).
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "58.47")]
    pub base: Decimal,
    /// The tax.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "4.82")]
    pub tax: Decimal,
}

/// The rounding rules the figures were computed with.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoundingBody {
    /// Decimals every amount carries.
    pub minor_units: u8,
    /// `half_up` or `half_even`.
    #[schema(value_type = String, example = "half_up")]
    pub mode: RoundingMode,
    /// `per_order` or `per_line`.
    #[schema(value_type = String, example = "per_order")]
    pub tax: TaxRounding,
}

/// Prices as charged: what a preview returns, and what every order carries.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PricingBody {
    /// ISO 4217 code of every amount.
    #[schema(example = "USD")]
    pub currency: String,
    /// The lines, in the order given.
    pub items: Vec<LineItemBody>,
    /// Σ line totals.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "64.97")]
    pub subtotal: Decimal,
    /// The discount as asked for.
    pub discount_rule: Option<DiscountBody>,
    /// The discount code it came from, if it came from one.
    #[schema(example = "SUMMER-10")]
    pub discount_code: Option<String>,
    /// The discount applied, 0 to the subtotal.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "6.50")]
    pub discount: Decimal,
    /// The shipping lines, in the order given.
    pub shipping: Vec<ShippingLineView>,
    /// Σ shipping amounts.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "4.95")]
    pub shipping_total: Decimal,
    /// The order's own tax rate, set by staff; null when each line's rate came from the
    /// shop's tax table (see the lines' `tax_rate` and `tax_lines`) or nothing is taxed.
    #[serde(with = "amount_serde::option")]
    #[schema(value_type = Option<String>, example = "0.0825")]
    pub tax_rate: Option<Decimal>,
    /// Tax on subtotal − discount, and on the shipping lines that are taxed; with
    /// `prices_include_tax`, the tax those prices contain.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "4.82")]
    pub tax: Decimal,
    /// Whether the prices contain the tax (EU style): then the total does not add it again.
    pub prices_include_tax: bool,
    /// The tax by rate, ascending: what a receipt lists.
    pub tax_lines: Vec<TaxLineBody>,
    /// subtotal − discount + shipping total + tax (without + tax when the prices include it).
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "63.29")]
    pub total: Decimal,
    /// How the figures were rounded.
    pub rounding: RoundingBody,
}

impl From<&Pricing> for PricingBody {
    fn from(pricing: &Pricing) -> Self {
        Self {
            currency: pricing.currency().code().to_owned(),
            items: pricing
                .lines()
                .iter()
                .map(|line| LineItemBody::new(line, pricing.tax_rate()))
                .collect(),
            subtotal: pricing.subtotal(),
            discount_rule: pricing
                .discount_rule()
                .map(|rule| DiscountBody::new(rule, pricing.discount_reason())),
            discount_code: pricing.discount_code().map(|code| code.as_str().to_owned()),
            discount: pricing.discount(),
            shipping: pricing
                .shipping_lines()
                .iter()
                .map(|line| ShippingLineView::new(line, pricing.tax_rate()))
                .collect(),
            shipping_total: pricing.shipping(),
            tax_rate: pricing.tax_rate(),
            tax: pricing.tax(),
            prices_include_tax: pricing.prices_include_tax(),
            tax_lines: pricing
                .tax_lines()
                .iter()
                .map(|line| TaxLineBody {
                    rate: line.rate,
                    base: line.base,
                    tax: line.tax,
                })
                .collect(),
            total: pricing.total(),
            rounding: RoundingBody {
                minor_units: pricing.rounding().minor_units(),
                mode: pricing.rounding().mode(),
                tax: pricing.rounding().tax(),
            },
        }
    }
}

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrderBody {
    /// The order's id (UUIDv7).
    pub id: Uuid,
    /// The human-readable number, for people (never a key).
    #[schema(example = "ORD-261122-7KQ3M9AX")]
    pub order_number: String,
    /// Who the order is for.
    pub customer_id: Uuid,
    /// Fulfilment status.
    #[schema(value_type = String, example = "pending")]
    pub status: OrderStatus,
    /// Why it was cancelled, when it was.
    pub cancel_reason: Option<String>,
    /// Prices as charged.
    #[serde(flatten)]
    pub pricing: PricingBody,
    /// Contact, addresses, notes, tags, metadata and channel.
    #[serde(flatten)]
    pub details: DetailsBody,
    /// When the customer's personal data was erased from the order (its contact, addresses
    /// and notes are gone); null if never.
    pub personal_data_erased_at: Option<DateTime<Utc>>,
    /// Where the money stands: `unpaid`, `authorized`, `partially_paid` (manual payments adding
    /// up to less than the total), `paid`, `partially_refunded`,
    /// `refunded`, `failed` or `unknown` (the gateway did not answer; reconciliation settles it).
    #[schema(value_type = String, example = "authorized")]
    pub payment_status: PaymentStatus,
    /// Held by the authorization.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "63.29")]
    pub amount_authorized: Decimal,
    /// Taken.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "0.00")]
    pub amount_captured: Decimal,
    /// Given back.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "0.00")]
    pub amount_refunded: Decimal,
    /// The gateway call claimed and not yet answered (`authorize`, `capture`, `void` or
    /// `refund`), or null. While one is in progress other changes answer 409; ordo settles it
    /// by itself.
    #[schema(example = json!(null))]
    pub payment_in_progress: Option<&'static str>,
    /// How much of it is fulfilled, counted over the lines that require shipping (over all
    /// lines when none does): `unfulfilled`, `partially_fulfilled`, `fulfilled`, then
    /// `partially_returned` or `returned` as units come back.
    #[schema(value_type = String, example = "unfulfilled", pattern = "^(unfulfilled|partially_fulfilled|fulfilled|partially_returned|returned)$")]
    pub fulfillment_status: FulfillmentStatus,
    /// Its fulfilments, oldest first (cancelled ones too).
    pub fulfillments: Vec<FulfillmentView>,
    /// Its returns, oldest first.
    pub returns: Vec<ReturnView>,
    /// Who takes its money: `gateway` or `manual`.
    #[schema(example = "gateway", pattern = "^(gateway|manual)$")]
    pub payment_provider: &'static str,
    /// When a manual payment is due; null for the gateway.
    pub payment_due_at: Option<DateTime<Utc>>,
    /// The payments staff recorded (manual orders), oldest first.
    pub payments: Vec<PaymentView>,
    /// The concurrency version; the ETag is this number in quotes.
    pub version: u32,
    /// When it was placed (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

impl OrderBody {
    /// The order as `caller` sees it (a customer never sees the staff note).
    pub(crate) fn new(order: &Order, caller: &Caller) -> Self {
        let mut details = DetailsBody::from(order.details().to_draft());
        if !caller.sees_staff_note() {
            details.staff_note = None;
        }
        let mut pricing = PricingBody::from(order.pricing());
        let returned = order.returned_quantities();
        let refunded = order.refunded_units();
        for (index, (item, progress)) in pricing
            .items
            .iter_mut()
            .zip(order.line_progress())
            .enumerate()
        {
            item.fulfilled_quantity = Some(progress.fulfilled);
            item.shipped_quantity = Some(progress.shipped);
            item.returned_quantity = Some(returned.get(index).copied().unwrap_or(0));
            item.refunded_quantity = Some(refunded.get(index).copied().unwrap_or(0));
        }
        Self {
            id: order.id().as_uuid(),
            order_number: order.number().to_string(),
            customer_id: order.customer_id().as_uuid(),
            status: order.status(),
            cancel_reason: order
                .cancel_reason()
                .map(|reason| reason.as_str().to_owned()),
            pricing,
            details,
            personal_data_erased_at: order.erased_at(),
            payment_status: order.payment().status,
            amount_authorized: order.payment().authorized,
            amount_captured: order.payment().captured,
            amount_refunded: order.payment().refunded,
            payment_in_progress: order
                .payment()
                .pending
                .as_ref()
                .map(|pending| pending.operation.as_str()),
            fulfillment_status: order.fulfillment_status(),
            fulfillments: order
                .fulfillments()
                .iter()
                .map(FulfillmentView::from)
                .collect(),
            returns: order.returns().iter().map(ReturnView::from).collect(),
            payment_provider: order.payment_provider().as_str(),
            payment_due_at: order.payment_due_at(),
            payments: order
                .recorded_payments()
                .iter()
                .map(PaymentView::from)
                .map(|mut payment| {
                    // Who on staff acted is the shop's side, as in events.
                    if !caller.sees_staff_note() {
                        payment.recorded_by = None;
                    }
                    payment
                })
                .collect(),
            version: order.version().get(),
            created_at: order.created_at(),
            updated_at: order.updated_at(),
        }
    }
}

/// A merge patch of an order's details (RFC 7396): each field given replaces it, `null`
/// removes it, an address object merges into the address. (The route reads the body as a
/// merge patch; this type is its schema.)
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "the body's schema: the route applies the JSON as a merge patch"
)]
pub(crate) struct DetailsPatch {
    /// Who to contact: the fields given merge into the contact; null removes it.
    contact: Option<ContactPatch>,
    /// Where it goes: the fields given merge into the address; null removes it.
    shipping_address: Option<AddressPatch>,
    /// Who is billed: `"same_as_shipping"`, or fields merged into the billing address; null
    /// removes it.
    billing_address: Option<BillingPatch>,
    /// The customer's note; null removes it.
    #[schema(
        max_length = 2000,
        pattern = "^[^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    customer_note: Option<String>,
    /// The shop's note (staff and admins); null removes it.
    #[schema(
        max_length = 2000,
        pattern = "^[^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    staff_note: Option<String>,
    /// The whole new set of tags (staff and admins).
    #[schema(max_items = 20, value_type = Option<Vec<TagSchema>>)]
    tags: Option<Vec<String>>,
    /// Keys to set, or to remove with null (staff and admins).
    #[schema(value_type = Option<MetadataPatchSchema>)]
    metadata: Option<BTreeMap<String, Option<String>>>,
}

/// A merge patch of a contact: each field given replaces it, null removes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "a schema: the route applies the JSON as a merge patch"
)]
pub(crate) struct ContactPatch {
    /// The email address (it cannot be removed alone: remove the contact).
    #[schema(
        max_length = 254,
        pattern = "^[^\\s@\\x00-\\x1F\\x7F-\\x9F]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
    )]
    email: Option<String>,
    /// The phone number, E.164.
    #[schema(pattern = "^[+][1-9][0-9]{7,14}$")]
    phone: Option<String>,
    /// The person's name.
    #[schema(
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    name: Option<String>,
}

/// A merge patch of an address: each field given replaces it, null removes it (`line1`,
/// `city` and `country` stay required of the result).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "a schema: the route applies the JSON as a merge patch"
)]
pub(crate) struct AddressPatch {
    /// The recipient.
    #[schema(
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    name: Option<String>,
    /// The company.
    #[schema(
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    company: Option<String>,
    /// Street and number.
    #[schema(
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    line1: Option<String>,
    /// Flat, floor, building.
    #[schema(
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    line2: Option<String>,
    /// The city.
    #[schema(
        max_length = 100,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    city: Option<String>,
    /// State, province or county.
    #[schema(
        max_length = 100,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    region: Option<String>,
    /// The postal code.
    #[schema(
        max_length = 20,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 code.
    #[schema(value_type = Option<CountrySchema>)]
    country: Option<String>,
    /// A phone number for the carrier, E.164.
    #[schema(pattern = "^[+][1-9][0-9]{7,14}$")]
    phone: Option<String>,
}

/// A merge patch of the billing address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(
    dead_code,
    clippy::large_enum_variant,
    reason = "a schema: the route applies the JSON as a merge patch"
)]
pub(crate) enum BillingPatch {
    /// `"same_as_shipping"`.
    SameAsShipping(crate::record::SameAsShippingBody),
    /// Fields merged into the billing address.
    Address(AddressPatch),
}

/// One page of orders, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrderPage {
    /// The orders.
    pub data: Vec<OrderBody>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// Whether another page exists.
    pub has_more: bool,
}

/// Filters and position of a list. Every filter given must hold; any combination pages by the
/// same keyset.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Whose orders. Staff and admins leave it out to list every customer's; a customer's list
    /// is its own whatever it asks for (naming another customer is 403).
    #[param(value_type = Option<Uuid>)]
    pub customer_id: Option<CustomerId>,
    /// Only orders in this status.
    #[param(value_type = Option<String>, example = "pending", pattern = "^(pending|processing|completed|cancelled)$")]
    pub status: Option<OrderStatus>,
    /// Only orders whose payment is in this status.
    #[param(value_type = Option<String>, example = "paid", pattern = "^(unpaid|authorized|partially_paid|paid|partially_refunded|refunded|failed|unknown)$")]
    pub payment_status: Option<PaymentStatus>,
    /// Only orders paid manually whose payment is overdue (still unpaid, or partly, after its
    /// due date).
    pub overdue: Option<bool>,
    /// Only orders this far fulfilled (or returned).
    #[param(value_type = Option<String>, example = "unfulfilled", pattern = "^(unfulfilled|partially_fulfilled|fulfilled|partially_returned|returned)$")]
    pub fulfillment_status: Option<FulfillmentStatus>,
    /// Only orders created at or after this instant (RFC 3339).
    pub created_after: Option<DateTime<Utc>>,
    /// Only orders created strictly before this instant (RFC 3339).
    pub created_before: Option<DateTime<Utc>>,
    /// Only orders whose contact has this email, ignoring case.
    #[param(
        example = "ada@example.com",
        max_length = 254,
        pattern = "^[^\\s@\\x00-\\x1F\\x7F-\\x9F]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
    )]
    pub email: Option<String>,
    /// Only orders carrying this tag (matched as tags are stored: trimmed, lowercase).
    #[param(
        example = "vip",
        max_length = 40,
        pattern = "^[A-Za-z0-9_-]([A-Za-z0-9_ -]*[A-Za-z0-9_-])?$"
    )]
    pub tag: Option<String>,
    /// Only orders with a line of this SKU, exactly.
    #[param(
        example = "TS-BLUE-L",
        max_length = 64,
        pattern = "^[^\\s\\x00-\\x1F\\x7F-\\x9F]([^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F])?$"
    )]
    pub sku: Option<String>,
    /// Only orders from this channel.
    #[param(example = "web", pattern = "^[a-z0-9_-]{1,32}$")]
    pub channel: Option<String>,
    /// Only orders whose total is at least this amount (whatever the currency).
    #[param(example = "100.00", pattern = "^[0-9]{1,15}([.][0-9]{1,4})?$")]
    pub total_min: Option<String>,
    /// Only orders whose total is at most this amount (whatever the currency).
    #[param(example = "250", pattern = "^[0-9]{1,15}([.][0-9]{1,4})?$")]
    pub total_max: Option<String>,
    /// Free text, 3 to 100 characters: orders whose number, contact email or a name (the
    /// contact's, the shipping or billing address's) contains it, ignoring case.
    #[param(
        example = "lovelace",
        min_length = 3,
        max_length = 100,
        pattern = "^[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F]$"
    )]
    pub q: Option<String>,
    /// Page size, 1 to 100 (default 20). Over 100 is an error, not a silent clamp.
    #[param(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "page_limit")]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page, unchanged (with the same filters).
    #[param(
        min_length = 34,
        max_length = 34,
        pattern = "^A[Q-Za-f][A-Za-z0-9_-]{31}[AQgw]$"
    )]
    pub cursor: Option<String>,
}

/// `limit` as a client reads its refusal: one plain rule, whatever was sent.
fn page_limit<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let max = u64::from(ordo_service::MAX_PAGE_SIZE);
    let text = String::deserialize(deserializer)?;
    text.parse::<u64>()
        .ok()
        .filter(|limit| (1..=max).contains(limit))
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("must be a whole number from 1 to {max}")))
}

/// Where to move an order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransitionBody {
    /// `processing` or `completed` (cancelling has its own route, with a reason).
    pub to: TransitionTarget,
}

/// A status a transition may target.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TransitionTarget {
    /// Start working on the order.
    Processing,
    /// The order is fulfilled.
    Completed,
}

impl From<TransitionTarget> for OrderStatus {
    fn from(target: TransitionTarget) -> Self {
        match target {
            TransitionTarget::Processing => Self::Processing,
            TransitionTarget::Completed => Self::Completed,
        }
    }
}

/// Why an order is cancelled.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelBody {
    /// 1 to 500 characters, not only white space, no control characters but tab and newline.
    #[schema(
        example = "customer changed their mind",
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub reason: String,
}

/// A refund to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefundRequest {
    /// How much, in the order's currency: more than zero, at most what is left to refund (a
    /// goodwill refund). Give an amount, or lines and shipping, not both.
    #[serde(default, with = "amount_serde::option")]
    #[schema(value_type = Option<String>, nullable = false, example = "5.00", pattern = "^[0-9]{1,12}([.][0-9]{1,4})?$")]
    pub amount: Option<Decimal>,
    /// Refund by line: which units of which lines (by their place in `items`, from 0). Each is
    /// worth its exact share of what was charged for it, discount and tax included; refunding
    /// every unit and the shipping refunds exactly the total.
    #[serde(default)]
    #[schema(nullable = false, max_items = 100)]
    pub lines: Option<Vec<RefundLineRequest>>,
    /// Shipping lines to refund, whole, by their place in `shipping` (from 0).
    #[serde(default)]
    #[schema(nullable = false, max_items = 5)]
    pub shipping: Option<Vec<i64>>,
    /// Why, for the records: as a cancellation reason.
    #[schema(
        example = "damaged in transit",
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub reason: String,
}

/// Some units of one line to refund.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefundLineRequest {
    /// The line's 0-based place in the order's `items`.
    #[schema(minimum = 0, maximum = 99, example = 0)]
    pub line: i64,
    /// How many of its units (at most what is left to refund).
    #[schema(minimum = 1, maximum = 10000, example = 1)]
    pub quantity: i64,
}

/// Some units of one line a refund paid back, and what they were worth.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RefundLineView {
    /// `item` (a line of `items`) or `shipping` (a line of `shipping`).
    #[schema(example = "item", pattern = "^(item|shipping)$")]
    pub kind: &'static str,
    /// Its 0-based place in `items` or `shipping`.
    pub line: u32,
    /// How many units (a shipping line has one).
    pub quantity: u32,
    /// What they were worth: their share of the line after its discount share, with its tax.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "18.18")]
    pub amount: Decimal,
}

impl RefundLineView {
    /// The lines `refund` paid back, as the order records them.
    pub(crate) fn of(order: &Order, refund: Uuid) -> Vec<Self> {
        order
            .refunded_lines()
            .iter()
            .filter(|line| line.refund == refund)
            .map(|line| {
                let (kind, index) = match line.part {
                    ordo_domain::LinePart::Item(index) => ("item", index),
                    ordo_domain::LinePart::Shipping(index) => ("shipping", index),
                };
                Self {
                    kind,
                    line: u32::try_from(index).unwrap_or(u32::MAX),
                    quantity: line.quantity,
                    amount: line.amount,
                }
            })
            .collect()
    }
}

/// A refund, and the order it changed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RefundBody {
    /// The refund's id.
    pub id: Uuid,
    /// How much.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "5.00")]
    pub amount: Decimal,
    /// Why.
    pub reason: String,
    /// `succeeded`, or `pending` when the gateway's answer is awaited (reconciliation settles it).
    pub status: String,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// A refund by line: the units it paid back and what each line's were worth (their sum is
    /// `amount`, unless an earlier refund by amount left less to refund); empty for a refund
    /// by amount.
    pub lines: Vec<RefundLineView>,
    /// The order, with its refunded amount and payment status.
    pub order: OrderBody,
}

/// Some units of one line, in a fulfilment.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FulfillmentLineView {
    /// The line's 0-based place in the order's `items`.
    pub line: u32,
    /// How many of its units.
    pub quantity: u32,
}

/// A fulfilment: which units go out together, from where, with what tracking.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FulfillmentView {
    /// Its id.
    pub id: Uuid,
    /// 1 for the order's first fulfilment, then 2, 3...
    pub number: u32,
    /// `created` (set aside, not yet shipped), `shipped`, `delivered`, or `cancelled` (before it
    /// shipped; its units are unfulfilled again).
    #[schema(
        example = "created",
        pattern = "^(created|shipped|delivered|cancelled)$"
    )]
    pub status: &'static str,
    /// Which units of which lines.
    pub lines: Vec<FulfillmentLineView>,
    /// Where it ships from; null if not given.
    pub location: Option<String>,
    /// Who carries it; null if not known.
    pub carrier: Option<String>,
    /// The carrier's number for it; null if not known.
    pub tracking_number: Option<String>,
    /// Where to follow it; null if not known.
    pub tracking_url: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it shipped.
    pub shipped_at: Option<DateTime<Utc>>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The capture its shipping made, when the shop captures on shipment; null otherwise.
    pub capture: Option<ShipmentCaptureView>,
}

/// The money a shipment's capture moved: the shipped units' share (the first shipment's also
/// the shipping; the last one's what was left), less what earlier shipments captured.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ShipmentCaptureView {
    /// `pending` (asked of the gateway, not yet answered), `captured`, or `failed` (the gateway
    /// refused; the next shipment or completing the order captures it).
    #[schema(example = "captured", pattern = "^(pending|captured|failed)$")]
    pub status: &'static str,
    /// How much it asked for, in the order's currency.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "21.40", pattern = "^[0-9]{1,12}([.][0-9]{1,4})?$")]
    pub amount: Decimal,
}

impl From<&Fulfillment> for FulfillmentView {
    fn from(fulfillment: &Fulfillment) -> Self {
        Self {
            id: fulfillment.id.as_uuid(),
            number: fulfillment.number,
            status: fulfillment.state.as_str(),
            lines: fulfillment
                .lines
                .iter()
                .map(|line| FulfillmentLineView {
                    line: line.line,
                    quantity: line.quantity.get(),
                })
                .collect(),
            location: fulfillment.location.clone(),
            carrier: fulfillment.tracking.carrier.clone(),
            tracking_number: fulfillment.tracking.number.clone(),
            tracking_url: fulfillment.tracking.url.clone(),
            created_at: fulfillment.created_at,
            shipped_at: fulfillment.shipped_at,
            delivered_at: fulfillment.delivered_at,
            cancelled_at: fulfillment.cancelled_at,
            capture: fulfillment.capture.map(|capture| ShipmentCaptureView {
                status: capture.state.as_str(),
                amount: capture.amount,
            }),
        }
    }
}

/// A return of shipped units.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReturnView {
    /// Its id.
    pub id: Uuid,
    /// 1 for the order's first return, then 2, 3...
    pub number: u32,
    /// `requested`, `received` (the units are back) or `closed`.
    #[schema(example = "requested", pattern = "^(requested|received|closed)$")]
    pub status: &'static str,
    /// Once closed: `refunded` or `rejected`.
    #[schema(example = json!(null), pattern = "^(refunded|rejected)$")]
    pub outcome: Option<&'static str>,
    /// Why: `damaged`, `defective`, `wrong_item`, `not_as_described`, `size_or_fit`,
    /// `unwanted`, `arrived_late` or `other`.
    #[schema(example = "size_or_fit")]
    pub reason: &'static str,
    /// In the customer's or the shop's words.
    pub note: Option<String>,
    /// Whether the units go back into stock when received.
    pub restock: bool,
    /// Which units of which lines.
    pub lines: Vec<FulfillmentLineView>,
    /// The refund that closed it, if one did.
    pub refund_id: Option<Uuid>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When the units came back.
    pub received_at: Option<DateTime<Utc>>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<&ordo_domain::Return> for ReturnView {
    fn from(ret: &ordo_domain::Return) -> Self {
        Self {
            id: ret.id.as_uuid(),
            number: ret.number,
            status: ret.state.as_str(),
            outcome: ret.outcome.map(ordo_domain::ReturnOutcome::as_str),
            reason: ret.reason.as_str(),
            note: ret.note.clone(),
            restock: ret.restock,
            lines: ret
                .lines
                .iter()
                .map(|line| FulfillmentLineView {
                    line: line.line,
                    quantity: line.quantity.get(),
                })
                .collect(),
            refund_id: ret.refund,
            created_at: ret.created_at,
            received_at: ret.received_at,
            closed_at: ret.closed_at,
        }
    }
}

/// A payment staff recorded.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PaymentView {
    /// Its id.
    pub id: Uuid,
    /// How much.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "50.00")]
    pub amount: Decimal,
    /// `bank_transfer`, `cash`, `cheque`, `card_terminal` or `other`.
    #[schema(example = "bank_transfer")]
    pub method: &'static str,
    /// The bank's, the receipt's or the cheque's reference.
    pub reference: Option<String>,
    /// When the money arrived.
    pub received_at: DateTime<Utc>,
    /// Who recorded it (staff and admins see it; null for a customer).
    pub recorded_by: Option<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl From<&ordo_domain::RecordedPayment> for PaymentView {
    fn from(payment: &ordo_domain::RecordedPayment) -> Self {
        Self {
            id: payment.id,
            amount: payment.amount,
            method: payment.method.as_str(),
            reference: payment.reference.clone(),
            received_at: payment.received_at,
            recorded_by: Some(payment.recorded_by.clone()),
            recorded_at: payment.recorded_at,
        }
    }
}
