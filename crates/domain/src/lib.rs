//! ordo's domain: money, orders, line items, pricing, the status machine and order numbers.
//!
//! Types and rules only: no I/O, no async, no clock, no randomness. The crate builds for
//! `wasm32-unknown-unknown`, so a browser prices a cart with exactly this code.
//!
//! # Parse, don't validate
//! A client's [`OrderDraft`] becomes a [`NewOrder`] only through [`NewOrder::parse`], which
//! reports every broken rule with its field path (`items[3].quantity`). The limits:
//!
//! | what | rule |
//! |---|---|
//! | items | 1 to [`MAX_LINE_ITEMS`] (100) |
//! | quantity | 1 to [`MAX_QUANTITY`] (10 000) |
//! | unit price, fixed discount | ≥ 0, ≤ [`MAX_AMOUNT`] (10^15), at most the currency's minor units of decimals |
//! | currency | ISO 4217 with minor units ([`Currency`]) |
//! | tax rate | in [0, 1), at most [`MAX_TAX_RATE_SCALE`] (6) decimals |
//! | discount percentage | in [0, 100], at most [`MAX_PERCENT_SCALE`] (4) decimals |
//! | shipping lines | 0 to [`MAX_SHIPPING_LINES`] (5); amount as a unit price; `code` 1 to 64 characters without white space, `title` 1 to 200, both trimmed and free of control characters; `taxed` defaults to false |
//!
//! The values of a complete order record ([`record`]) follow the same way. Every text refuses
//! control characters anywhere, even at the ends (notes allow `\n` and `\r`); free texts are
//! trimmed, identifiers (SKU, keys, channel, country) are kept exactly as given; lengths count
//! characters, not bytes; an optional text that is blank is absent.
//!
//! | what | rule |
//! |---|---|
//! | `contact.email` ([`Email`]) | ≤ 254 chars, trimmed; one `@`; 1–64 chars before it, no white space; a domain of ≥ 2 dot-separated labels of 1–63 ASCII letters, digits, inner `-`; kept as given, matched by its lowercase [`Email::match_key`] |
//! | `contact.phone`, `*_address.phone` ([`Phone`]) | E.164: `+` then 8–15 ASCII digits, the first not 0, nothing else |
//! | `contact.name` ([`PersonName`]) | 1–200 chars |
//! | `*_address.name`, `.company` | 1–200 chars, optional |
//! | `*_address.line1` | 1–200 chars, required |
//! | `*_address.line2` | 1–200 chars, optional |
//! | `*_address.city` | 1–100 chars, required |
//! | `*_address.region` | 1–100 chars, optional |
//! | `*_address.postal_code` | 1–20 chars, optional, form not checked (no per-country rules) |
//! | `*_address.country` ([`CountryCode`]) | one of the 249 ISO 3166-1 alpha-2 codes, uppercase, required |
//! | `billing_address` ([`BillingAddress`]) | `"same_as_shipping"` or an address |
//! | `items[i].sku` ([`Sku`]) | 1–64 chars, no white space at either end, exact |
//! | `items[i].title` ([`Title`]) | 1–200 chars |
//! | `items[i].options` ([`VariantOptions`]) | ≤ 10 entries; name 1–40 chars, exact; value 1–100 chars |
//! | `customer_note`, `staff_note` ([`Note`]) | 1–2 000 chars, line breaks allowed |
//! | `tags[i]` ([`Tag`]) | trimmed, lowercased, then 1–40 chars of letters, digits, `-`, `_`, space |
//! | `tags` ([`Tags`]) | ≤ 20 after duplicates collapse, sorted |
//! | `metadata` ([`Metadata`]) | ≤ 50 entries (Stripe's limits); key 1–40 chars, exact; value 0–500 chars, strings only, kept as given |
//! | `channel` ([`Channel`]) | `web`, `pos`, `phone`, `marketplace`, `api`, or 1–32 chars of `a-z`, `0-9`, `-`, `_` |
//!
//! # Pricing and rounding
//! [`price`] computes, in this order, under a [`RoundingPolicy`] that is stored with the order:
//!
//! 1. **Line total** = quantity × unit price. Exact: unit prices never have more decimals than
//!    the currency's minor units, so nothing rounds.
//! 2. **Subtotal** = Σ line totals. Exact.
//! 3. **Discount**: a fixed amount, or subtotal × percent ÷ 100 **rounded once** to the minor
//!    units; then clamped to `[0, subtotal]`, so a total never goes below zero.
//! 4. **Shipping** = Σ shipping line amounts. Exact. The discount applies to the items only,
//!    never to shipping.
//! 5. **Tax**, by rate. Each line pays its own rate (found by [`NewOrder::settle`] in the
//!    shop's [`TaxTable`] for the line's tax class where the order goes) or else the order's
//!    `tax_rate` (set by staff); a shipping line marked `taxed` likewise (class `standard`).
//!    The discount is spread over the item lines in proportion to their totals by the
//!    largest-remainder method (the shares sum to the discount exactly; ties go to the larger
//!    line, then to the earlier one); a line's **base** is its total less its share, a taxed
//!    shipping line's its amount. Bases are grouped by rate; per group:
//!    - `per_order` (default): the tax on the group's summed base, **rounded once**;
//!    - `per_line`: each base's tax **rounded**, then summed.
//!
//!    The tax on a base `b` at rate `r` is `b × r`; when the shop's prices include tax (EU
//!    style) it is the tax that `b` contains, `b × r ÷ (1 + r)`, computed exactly as a
//!    quotient of integers and rounded once. The groups are the order's [`TaxLine`]s.
//! 6. **Total** = subtotal − discount + shipping + tax, or subtotal − discount + shipping when
//!    the prices include the tax. Exact: no rounding after step 5, so the identity holds to the
//!    last digit.
//!
//! [`NewOrder::settle`] applies the shop's [`Rates`] before pricing: a named shipping method
//! becomes a shipping line at its price in the order's currency, or free once subtotal less
//! discount reaches its threshold; the destination is the shipping address, else the billing
//! address; a region's own rate beats its country's. `tests/golden/rates.json` holds worked
//! cases in JPY, USD, EUR, KWD and CLF, tax-inclusive and exclusive, with shipping and
//! discounts, checked by the independent oracle.
//!
//! Rounding is half-up by default (0.125 → 0.13, as receipts and tax authorities expect) or
//! half-even (0.125 → 0.12), always to the policy's minor units (by default the currency's:
//! 2 for USD, 0 for JPY, 3 for KWD). Never to fractions of a minor unit: every amount a priced
//! order shows is a whole number of cents (or yen, or fils), written with exactly that many
//! decimals. Any amount that would pass [`MAX_AMOUNT`] is [`PricingError::Overflow`], not a
//! panic and not a silent loss of digits.
//!
//! `tests/golden/pricing.json` holds worked cases, computed independently, that every build of
//! this code (native and browser) must reproduce.
//!
//! Refunding (or capturing) by line takes each line's exact share of the total, and rounds the
//! running figure of its units, never each step, so the last unit takes the remainder and all
//! of an order's lines add up to its total: [`Pricing::units_amount`], the rule in full in the
//! `line_refund` module, worked cases in `tests/golden/refunds.json`.
//!
//! # Status
//! [`TRANSITIONS`] is the whole status machine: pending → processing → completed, and pending
//! or processing → cancelled (with a [`CancelReason`]). Anything else is an
//! [`IllegalTransition`] that lists the allowed next statuses. An order's [`Fulfillment`]s
//! move by [`FULFILLMENT_MOVES`]; its [`FulfillmentStatus`] is counted from them.
//!
//! # Order numbers
//! See [`order_number`] for how numbers are unique by construction, hide the order volume and
//! catch typos.

mod catalog;
mod currency;
mod discount_code;
mod event;
mod ids;
mod line_refund;
mod money;
mod order;
pub mod order_number;
mod payment;
mod pricing;
mod rates;
pub mod record;
mod rounding;
mod status;
mod validation;

pub use catalog::{
    MAX_PRICES, MAX_TAX_CLASS_CHARS, Product, ProductDraft, ProductSpec, ProductStatus, TaxClass,
};
pub use currency::{Currency, UnknownCurrency};
pub use discount_code::{
    CodeName, CodeValue, CodeValueDraft, DiscountCode, DiscountCodeDraft, DiscountCodeSpec,
    MAX_CODE_CHARS, MAX_USAGE_LIMIT,
};
pub use event::{Actor, ActorRole, EventKind, EventRecord, Hash, UnknownEventKind, link, sha256};
pub use ids::{CustomerId, IdError, OrderId, ProductId};
pub use line_refund::{LineAmount, LinePart, LineRefundError};
pub use money::{MAX_AMOUNT, Money, MoneyError, amount_serde};
pub use order::{
    CancelReason, CaptureState, ChangeError, CorruptOrder, FULFILLMENT_MOVES, Fulfillment,
    FulfillmentDraft, FulfillmentError, FulfillmentId, FulfillmentLine, FulfillmentLineDraft,
    FulfillmentState, FulfillmentStatus, LineItemDraft, LineProgress, LineRefund, LineSource,
    MAX_CARRIER_CHARS, MAX_DISCOUNT_REASON_CHARS, MAX_FULFILLMENTS, MAX_LINE_ITEMS,
    MAX_LOCATION_CHARS, MAX_PAYMENT_REFERENCE_CHARS, MAX_PERCENT_SCALE, MAX_QUANTITY,
    MAX_REASON_CHARS, MAX_RECORDED_PAYMENTS, MAX_RETURN_NOTE_CHARS, MAX_RETURNS,
    MAX_SHIPPING_CODE_CHARS, MAX_SHIPPING_LINES, MAX_SHIPPING_TITLE_CHARS, MAX_TAX_RATE_SCALE,
    MAX_TERMS_DAYS, MAX_TRACKING_NUMBER_CHARS, MAX_TRACKING_URL_CHARS, NewFulfillment, NewLineItem,
    NewOrder, NewReturn, Order, OrderDraft, OrderRecord, PaymentChoice, PaymentDraft,
    PaymentMethod, PaymentProvider, PaymentStep, Quantity, RecordError, RecordedPayment,
    RefundedLine, Return, ReturnDraft, ReturnError, ReturnId, ReturnOutcome, ReturnReason,
    ReturnState, ShipmentCapture, ShippingLineDraft, StatusChange, Tracking, TrackingDraft,
    UnknownFulfillmentStatus, Version, terms_days_checked,
};
pub use order_number::{OrderNumber, OrderNumberError, OrderNumberKey};
pub use payment::{
    CaptureMode, GatewayOutcome, Payment, PaymentError, PaymentOperation, PaymentStatus,
    PendingPayment, UnknownPaymentStatus,
};
pub use pricing::{
    Discount, InvalidPolicy, MAX_MINOR_UNITS, PricedLine, Pricing, PricingError, RoundingMode,
    RoundingPolicy, ShippingLine, StoredPricing, TaxLine, TaxRounding, price,
};
pub use rates::{
    MAX_RATE_TEXT_CHARS, MAX_SHIPPING_METHODS, MAX_TAX_RATES, Rates, ShippingMethod,
    ShippingMethodDraft, ShippingTable, TaxRate, TaxRateDraft, TaxTable, TaxTableDraft,
};
pub use record::{
    Address, AddressDraft, BillingAddress, BillingAddressDraft, Channel, Contact, ContactDraft,
    CountryCode, CustomChannel, DETAIL_FIELDS, Email, LineSnapshot, LineSnapshotDraft, Metadata,
    Note, OrderDetails, OrderDetailsDraft, PersonName, Phone, SameAsShipping, Sku, Tag, Tags,
    Title, VariantOptions,
};
pub use record::{
    COUNTRY_CODES, MAX_ADDRESS_LINE_CHARS, MAX_ADDRESS_NAME_CHARS, MAX_CHANNEL_CHARS,
    MAX_CITY_CHARS, MAX_EMAIL_CHARS, MAX_METADATA_ENTRIES, MAX_METADATA_KEY_CHARS,
    MAX_METADATA_VALUE_CHARS, MAX_NOTE_CHARS, MAX_OPTION_KEY_CHARS, MAX_OPTION_VALUE_CHARS,
    MAX_OPTIONS, MAX_POSTAL_CODE_CHARS, MAX_SKU_CHARS, MAX_TAG_CHARS, MAX_TAGS, MAX_TITLE_CHARS,
};
pub use status::{IllegalTransition, OrderStatus, TRANSITIONS, UnknownStatus};
pub use validation::{FieldError, ValidationErrors, Violation};
