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
//! 5. **Tax** on `subtotal − discount` plus the shipping lines marked `taxed`, at the order's
//!    rate, rounded to the minor units:
//!    - `per_order` (default): one product, **rounded once**;
//!    - `per_line`: the discount is spread over the item lines in proportion to their totals by
//!      the largest-remainder method (the shares sum to the discount exactly; ties go to the
//!      larger line), each item line's and each taxed shipping line's tax is **rounded**, and
//!      the rounded taxes are summed.
//! 6. **Total** = subtotal − discount + shipping + tax. Exact: no rounding after step 5, so the
//!    identity holds to the last digit.
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
//! # Status
//! [`TRANSITIONS`] is the whole status machine: pending → processing → completed, and pending
//! or processing → cancelled (with a [`CancelReason`]). Anything else is an
//! [`IllegalTransition`] that lists the allowed next statuses.
//!
//! # Order numbers
//! See [`order_number`] for how numbers are unique by construction, hide the order volume and
//! catch typos.

mod currency;
mod ids;
mod money;
mod order;
pub mod order_number;
mod payment;
mod pricing;
mod rounding;
mod status;
mod validation;

pub use currency::{Currency, UnknownCurrency};
pub use ids::{CustomerId, IdError, OrderId, ProductId};
pub use money::{MAX_AMOUNT, Money, MoneyError, amount_serde};
pub use order::{
    CancelReason, ChangeError, CorruptOrder, LineItemDraft, MAX_LINE_ITEMS, MAX_PERCENT_SCALE,
    MAX_QUANTITY, MAX_REASON_CHARS, MAX_SHIPPING_CODE_CHARS, MAX_SHIPPING_LINES,
    MAX_SHIPPING_TITLE_CHARS, MAX_TAX_RATE_SCALE, NewLineItem, NewOrder, Order, OrderDraft,
    OrderRecord, PaymentStep, Quantity, ShippingLineDraft, StatusChange, Version,
};
pub use order_number::{OrderNumber, OrderNumberError, OrderNumberKey};
pub use payment::{
    GatewayOutcome, Payment, PaymentError, PaymentOperation, PaymentStatus, PendingPayment,
    UnknownPaymentStatus,
};
pub use pricing::{
    Discount, InvalidPolicy, MAX_MINOR_UNITS, PricedLine, Pricing, PricingError, RoundingMode,
    RoundingPolicy, ShippingLine, StoredPricing, TaxRounding, price,
};
pub use status::{IllegalTransition, OrderStatus, TRANSITIONS, UnknownStatus};
pub use validation::{FieldError, ValidationErrors, Violation};
