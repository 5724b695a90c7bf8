//! Orders: the unvalidated draft a client sends, the validated [`NewOrder`], and the stored
//! [`Order`] with its status life.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::payment::{
    GatewayOutcome, Payment, PaymentError, PaymentOperation, PaymentStatus, PendingPayment,
};
use crate::pricing::{Discount, PricingError, price};
use crate::status::{IllegalTransition, OrderStatus};
use crate::validation::{Collector, ValidationErrors, Violation};
use crate::{Currency, CustomerId, MAX_AMOUNT, OrderId, OrderNumber, Pricing, ProductId};

/// The most line items one order may have.
pub const MAX_LINE_ITEMS: usize = 100;
/// The largest quantity of one line.
pub const MAX_QUANTITY: u32 = 10_000;
/// The most decimals a tax rate may have (`0.082500` is fine, `0.0825001` is not).
pub const MAX_TAX_RATE_SCALE: u32 = 6;
/// The most decimals a discount percentage may have.
pub const MAX_PERCENT_SCALE: u32 = 4;
/// The longest cancellation reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// An order as a client sends it, before any rule is checked. Parse it with [`NewOrder::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderDraft {
    /// Who the order is for.
    pub customer_id: CustomerId,
    /// ISO 4217 code.
    pub currency: String,
    /// The lines.
    pub items: Vec<LineItemDraft>,
    /// An optional order-level discount.
    #[serde(default)]
    pub discount: Option<Discount>,
    /// An optional tax rate in `[0, 1)`.
    #[serde(default, with = "crate::amount_serde::option")]
    pub tax_rate: Option<Decimal>,
}

/// A line as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineItemDraft {
    /// The product.
    pub product_id: ProductId,
    /// How many; checked against `1..=MAX_QUANTITY`.
    pub quantity: i64,
    /// The price of one, in the order's currency.
    #[serde(with = "crate::amount_serde")]
    pub unit_price: Decimal,
}

/// A quantity in `1..=MAX_QUANTITY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    /// A quantity, if it is in range.
    ///
    /// # Errors
    /// [`Violation::QuantityOutOfRange`].
    pub fn new(value: i64) -> Result<Self, Violation> {
        u32::try_from(value)
            .ok()
            .filter(|v| (1..=MAX_QUANTITY).contains(v))
            .map(Self)
            .ok_or(Violation::QuantityOutOfRange { max: MAX_QUANTITY })
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Quantity {
    type Error = Violation;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Quantity> for u32 {
    fn from(quantity: Quantity) -> Self {
        quantity.0
    }
}

/// A valid line item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLineItem {
    product_id: ProductId,
    quantity: Quantity,
    unit_price: Decimal,
}

impl NewLineItem {
    /// The product.
    pub fn product_id(&self) -> ProductId {
        self.product_id
    }

    /// How many.
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// The price of one: not negative, within the currency's minor units.
    pub fn unit_price(&self) -> Decimal {
        self.unit_price
    }
}

/// An order that passed every rule and can be priced. The only way to make one is
/// [`NewOrder::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    customer_id: CustomerId,
    currency: Currency,
    items: Vec<NewLineItem>,
    discount: Option<Discount>,
    tax_rate: Option<Decimal>,
}

impl NewOrder {
    /// Checks every rule and reports every broken one, each naming its field.
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in field order.
    pub fn parse(draft: &OrderDraft) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let currency = errors.check(
            || "currency".into(),
            Currency::from_code(&draft.currency).map_err(|_| Violation::UnknownCurrency),
        );
        // Without a currency the minor units are unknown; check prices against the widest
        // scale so other errors are still reported.
        let scale = currency.map_or(u32::from(crate::pricing::MAX_MINOR_UNITS), |c| {
            u32::from(c.minor_units())
        });
        if draft.items.is_empty() {
            errors.push("items", Violation::NoItems);
        } else if draft.items.len() > MAX_LINE_ITEMS {
            errors.push(
                "items",
                Violation::TooManyItems {
                    max: MAX_LINE_ITEMS,
                },
            );
        }
        let mut items = Vec::with_capacity(draft.items.len());
        for (index, item) in draft.items.iter().enumerate() {
            let quantity = errors.check(
                || format!("items[{index}].quantity"),
                Quantity::new(item.quantity),
            );
            let unit_price = errors.check(
                || format!("items[{index}].unit_price"),
                amount(item.unit_price, scale),
            );
            if let (Some(quantity), Some(unit_price)) = (quantity, unit_price) {
                items.push(NewLineItem {
                    product_id: item.product_id,
                    quantity,
                    unit_price,
                });
            }
        }
        let discount = match &draft.discount {
            None => Some(None),
            Some(Discount::Fixed { amount: value }) => errors
                .check(|| "discount.amount".to_owned(), amount(*value, scale))
                .map(|amount| Some(Discount::Fixed { amount })),
            Some(Discount::Percentage { percent }) => errors
                .check(|| "discount.percent".to_owned(), percentage(*percent))
                .map(|percent| Some(Discount::Percentage { percent })),
        };
        let tax_rate = match draft.tax_rate {
            None => Some(None),
            Some(rate) => errors
                .check(|| "tax_rate".to_owned(), tax_rate(rate))
                .map(Some),
        };
        let order = match (currency, discount, tax_rate) {
            (Some(currency), Some(discount), Some(tax_rate))
                if items.len() == draft.items.len() =>
            {
                Some(Self {
                    customer_id: draft.customer_id,
                    currency,
                    items,
                    discount,
                    tax_rate,
                })
            }
            _ => None,
        };
        errors.finish(order)
    }

    /// Who the order is for.
    pub fn customer_id(&self) -> CustomerId {
        self.customer_id
    }

    /// The currency of every amount.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The lines, as given.
    pub fn items(&self) -> &[NewLineItem] {
        &self.items
    }

    /// The discount, if any.
    pub fn discount(&self) -> Option<Discount> {
        self.discount
    }

    /// The tax rate, if any.
    pub fn tax_rate(&self) -> Option<Decimal> {
        self.tax_rate
    }
}

/// A non-negative amount of at most `scale` decimals and at most [`MAX_AMOUNT`].
fn amount(value: Decimal, scale: u32) -> Result<Decimal, Violation> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(Violation::Negative);
    }
    if value.normalize().scale() > scale {
        return Err(Violation::TooPrecise { max_scale: scale });
    }
    if value > MAX_AMOUNT {
        return Err(Violation::TooLarge { max: MAX_AMOUNT });
    }
    let mut exact = value.abs();
    exact.rescale(scale);
    Ok(exact)
}

fn percentage(value: Decimal) -> Result<Decimal, Violation> {
    if value.is_sign_negative() && !value.is_zero() || value > Decimal::ONE_HUNDRED {
        return Err(Violation::PercentOutOfRange);
    }
    if value.normalize().scale() > MAX_PERCENT_SCALE {
        return Err(Violation::TooPrecise {
            max_scale: MAX_PERCENT_SCALE,
        });
    }
    Ok(value.abs().normalize())
}

fn tax_rate(value: Decimal) -> Result<Decimal, Violation> {
    if value.is_sign_negative() && !value.is_zero() || value >= Decimal::ONE {
        return Err(Violation::TaxRateOutOfRange);
    }
    if value.normalize().scale() > MAX_TAX_RATE_SCALE {
        return Err(Violation::TooPrecise {
            max_scale: MAX_TAX_RATE_SCALE,
        });
    }
    Ok(value.abs().normalize())
}

/// Why an order was cancelled or refunded: 1 to [`MAX_REASON_CHARS`] characters, trimmed, with
/// no control characters but line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CancelReason(String);

impl CancelReason {
    /// A reason, trimmed.
    ///
    /// # Errors
    /// [`Violation::Empty`], [`Violation::TooLong`] or [`Violation::ControlCharacter`].
    pub fn parse(text: &str) -> Result<Self, Violation> {
        let text = text.trim();
        if text.is_empty() {
            Err(Violation::Empty)
        } else if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        {
            Err(Violation::ControlCharacter)
        } else if text.chars().count() > MAX_REASON_CHARS {
            Err(Violation::TooLong {
                max: MAX_REASON_CHARS,
            })
        } else {
            Ok(Self(text.to_owned()))
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CancelReason {
    type Error = Violation;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<CancelReason> for String {
    fn from(reason: CancelReason) -> Self {
        reason.0
    }
}

/// A status change a caller asks for. Cancelling needs a reason; the others do not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusChange {
    /// Start working on the order.
    Process,
    /// The order is fulfilled.
    Complete,
    /// Stop the order, saying why.
    Cancel(CancelReason),
}

impl StatusChange {
    /// What the change does, for messages ("cancel the order").
    pub fn verb(&self) -> &'static str {
        match self {
            Self::Process => "move the order to processing",
            Self::Complete => "complete the order",
            Self::Cancel(_) => "cancel the order",
        }
    }

    /// The status this change leads to.
    pub fn target(&self) -> OrderStatus {
        match self {
            Self::Process => OrderStatus::Processing,
            Self::Complete => OrderStatus::Completed,
            Self::Cancel(_) => OrderStatus::Cancelled,
        }
    }
}

/// What a started change needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStep {
    /// Nothing: no gateway call is in flight (the change, if any, is applied).
    Done,
    /// Call the gateway for `operation` of `amount`, then [`Order::settle_payment`].
    Call {
        /// The call to make.
        operation: PaymentOperation,
        /// How much it moves.
        amount: Decimal,
    },
}

/// Why a status change cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// The status machine does not allow it.
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    /// The payment does not allow it (not paid, unsettled, or a call in flight).
    #[error(transparent)]
    Payment(#[from] PaymentError),
}

/// The optimistic-concurrency version of a stored order: 1 when placed, +1 on every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(u32);

impl Version {
    /// The version of a newly placed order.
    pub const FIRST: Self = Self(1);

    /// A version as stored or sent back by a client.
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }

    fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

/// An order as stored: priced, numbered, with a status and a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Order {
    id: OrderId,
    number: OrderNumber,
    customer_id: CustomerId,
    pricing: Pricing,
    status: OrderStatus,
    cancel_reason: Option<CancelReason>,
    payment: Payment,
    version: Version,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Every stored field of an order, for storage to rebuild one with [`Order::restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    missing_docs,
    reason = "each field is the `Order` field of the same name"
)]
pub struct OrderRecord {
    pub id: OrderId,
    pub number: OrderNumber,
    pub customer_id: CustomerId,
    pub pricing: Pricing,
    pub status: OrderStatus,
    pub cancel_reason: Option<CancelReason>,
    pub payment: Payment,
    pub version: Version,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored order that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorruptOrder {
    /// Re-pricing the stored lines under the stored policy gives other figures.
    #[error("stored prices differ from a re-pricing under the stored rounding policy")]
    PricingMismatch,
    /// The stored lines no longer pass validation.
    #[error("stored lines are invalid: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The stored lines cannot be priced.
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// A cancelled order without a reason, or a reason on an order that is not cancelled.
    #[error("the cancellation reason does not match the status")]
    CancelReasonMismatch,
    /// Refunded, captured, authorized and total amounts out of order.
    #[error("the payment amounts do not hold together")]
    PaymentMismatch,
}

impl Order {
    /// A newly placed order: pending, version 1.
    pub fn place(
        id: OrderId,
        number: OrderNumber,
        customer_id: CustomerId,
        pricing: Pricing,
        now: DateTime<Utc>,
    ) -> Self {
        let mut payment = Payment::unpaid(pricing.rounding.minor_units());
        // Every order is authorized right after it is stored: claimed from the start, so
        // nothing can move it before the gateway has answered.
        payment.pending = Some(PendingPayment {
            operation: PaymentOperation::Authorize,
            change: None,
        });
        Self {
            id,
            number,
            customer_id,
            pricing,
            status: OrderStatus::Pending,
            cancel_reason: None,
            payment,
            version: Version::FIRST,
            created_at: now,
            updated_at: now,
        }
    }

    /// Rebuilds a stored order, re-pricing its lines under its own stored policy so corrupt
    /// or hand-edited rows are caught rather than served.
    ///
    /// # Errors
    /// [`CorruptOrder`] when the record does not hold together.
    pub fn restore(record: OrderRecord) -> Result<Self, CorruptOrder> {
        let pricing = &record.pricing;
        let draft = OrderDraft {
            customer_id: record.customer_id,
            currency: pricing.currency.code().to_owned(),
            items: pricing
                .lines
                .iter()
                .map(|line| LineItemDraft {
                    product_id: line.product_id,
                    quantity: i64::from(line.quantity.get()),
                    unit_price: line.unit_price,
                })
                .collect(),
            discount: pricing.discount_rule,
            tax_rate: pricing.tax_rate,
        };
        let repriced = price(&NewOrder::parse(&draft)?, pricing.rounding)?;
        if &repriced != pricing {
            return Err(CorruptOrder::PricingMismatch);
        }
        // Equal in value; keep the re-priced figures, which carry exactly the policy's decimals
        // whatever a database did to the scale of a stored zero.
        if (record.status == OrderStatus::Cancelled) != record.cancel_reason.is_some() {
            return Err(CorruptOrder::CancelReasonMismatch);
        }
        if !record.payment.is_consistent(repriced.total) {
            return Err(CorruptOrder::PaymentMismatch);
        }
        if let Some(change) = record
            .payment
            .pending
            .as_ref()
            .and_then(|pending| pending.change.as_ref())
        {
            record
                .status
                .check_transition(change.target())
                .map_err(|_| CorruptOrder::PaymentMismatch)?;
        }
        let mut payment = record.payment;
        // As for the pricing: the policy's decimals, whatever the database did to zeros.
        for amount in [
            &mut payment.authorized,
            &mut payment.captured,
            &mut payment.refunded,
        ] {
            amount.rescale(u32::from(repriced.rounding.minor_units()));
        }
        Ok(Self {
            id: record.id,
            number: record.number,
            customer_id: record.customer_id,
            pricing: repriced,
            status: record.status,
            cancel_reason: record.cancel_reason,
            payment,
            version: record.version,
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }

    /// Applies a status change through the status machine, bumping the version.
    ///
    /// # Errors
    /// [`IllegalTransition`] when the machine does not allow the move; the order is unchanged.
    pub fn change_status(
        &mut self,
        change: StatusChange,
        now: DateTime<Utc>,
    ) -> Result<(), IllegalTransition> {
        self.status.check_transition(change.target())?;
        self.status = change.target();
        if let StatusChange::Cancel(reason) = change {
            self.cancel_reason = Some(reason);
        }
        self.touch(now);
        Ok(())
    }

    /// Starts a caller's status change under the payment rules (the table in
    /// `docs/status.md`): processing and completing need money held or taken; cancelling
    /// gives back what is held or taken. A change that moves no money is applied at once; one
    /// that does is claimed (the version moves on and the call is recorded as in flight), and
    /// the caller makes the gateway call it is told, then [`Order::settle_payment`].
    ///
    /// # Errors
    /// [`ChangeError::Illegal`] when the status machine forbids the move;
    /// [`ChangeError::Payment`] when a payment call is in flight, or the payment state does not
    /// allow the move. The order is unchanged.
    pub fn begin_change(
        &mut self,
        change: StatusChange,
        now: DateTime<Utc>,
    ) -> Result<PaymentStep, ChangeError> {
        self.status.check_transition(change.target())?;
        if let Some(pending) = &self.payment.pending {
            return Err(PaymentError::InFlight {
                operation: pending.operation,
            }
            .into());
        }
        let status = self.payment.status;
        let operation = match (&change, status) {
            (StatusChange::Process, PaymentStatus::Authorized)
            | (
                StatusChange::Process | StatusChange::Complete,
                PaymentStatus::Paid | PaymentStatus::PartiallyRefunded,
            )
            | (
                StatusChange::Cancel(_),
                PaymentStatus::Unpaid | PaymentStatus::Failed | PaymentStatus::Refunded,
            ) => None,
            (StatusChange::Complete, PaymentStatus::Authorized) => Some(PaymentOperation::Capture),
            (StatusChange::Cancel(_), PaymentStatus::Authorized) => Some(PaymentOperation::Void),
            (StatusChange::Cancel(_), PaymentStatus::Paid | PaymentStatus::PartiallyRefunded) => {
                Some(PaymentOperation::Refund)
            }
            (StatusChange::Process | StatusChange::Complete, _)
            | (StatusChange::Cancel(_), PaymentStatus::Unknown) => {
                return Err(PaymentError::WrongStatus {
                    status,
                    action: change.verb(),
                }
                .into());
            }
        };
        let Some(operation) = operation else {
            self.change_status(change, now)?;
            return Ok(PaymentStep::Done);
        };
        self.payment.pending = Some(PendingPayment {
            operation,
            change: Some(change),
        });
        self.touch(now);
        Ok(self.pending_call())
    }

    /// Claims a gateway call with no status change (a capture right after authorization).
    ///
    /// # Errors
    /// [`PaymentError::InFlight`] or [`PaymentError::WrongStatus`]; the order is unchanged.
    pub fn begin_payment(
        &mut self,
        operation: PaymentOperation,
        now: DateTime<Utc>,
    ) -> Result<PaymentStep, PaymentError> {
        let allowed: &[PaymentStatus] = match operation {
            PaymentOperation::Authorize => &[PaymentStatus::Unpaid],
            PaymentOperation::Capture | PaymentOperation::Void => &[PaymentStatus::Authorized],
            PaymentOperation::Refund => &[PaymentStatus::Paid, PaymentStatus::PartiallyRefunded],
        };
        self.payment_must_be(allowed, operation.as_str())?;
        self.payment.pending = Some(PendingPayment {
            operation,
            change: None,
        });
        self.touch(now);
        Ok(self.pending_call())
    }

    /// The gateway call in flight and its amount, or [`PaymentStep::Done`] when none is.
    pub fn pending_call(&self) -> PaymentStep {
        let Some(pending) = &self.payment.pending else {
            return PaymentStep::Done;
        };
        let amount = match pending.operation {
            PaymentOperation::Authorize => self.pricing.total,
            PaymentOperation::Capture | PaymentOperation::Void => self.payment.authorized,
            PaymentOperation::Refund => self.payment.refundable(),
        };
        PaymentStep::Call {
            operation: pending.operation,
            amount,
        }
    }

    /// Records what the gateway said to the call in flight. Approved: the money moves and the
    /// claimed status change is applied. Declined: the claim ends and the status stays (a
    /// declined authorization leaves the payment failed). Unknown: the claim stays for
    /// reconciliation (an authorization's payment shows `unknown` meanwhile).
    ///
    /// Returns whether the order changed (and so must be written).
    ///
    /// # Errors
    /// [`ChangeError::Payment`] with [`PaymentError::NothingPending`] when no call is in
    /// flight; [`ChangeError::Illegal`] if the claimed change no longer fits the status (a
    /// corrupt record). The order is unchanged.
    pub fn settle_payment(
        &mut self,
        outcome: GatewayOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, ChangeError> {
        let Some(pending) = self.payment.pending.clone() else {
            return Err(PaymentError::NothingPending.into());
        };
        let mut settled = self.clone();
        match outcome {
            GatewayOutcome::Unknown => {
                if pending.operation != PaymentOperation::Authorize
                    || self.payment.status == PaymentStatus::Unknown
                {
                    return Ok(false);
                }
                settled.payment.status = PaymentStatus::Unknown;
            }
            GatewayOutcome::Declined => {
                if pending.operation == PaymentOperation::Authorize {
                    settled.payment.status = PaymentStatus::Failed;
                }
                settled.payment.pending = None;
            }
            GatewayOutcome::Approved { reference } => {
                let payment = &mut settled.payment;
                match pending.operation {
                    PaymentOperation::Authorize => {
                        payment.status = PaymentStatus::Authorized;
                        payment.authorized = self.pricing.total;
                        payment.reference = Some(reference);
                    }
                    PaymentOperation::Capture => {
                        payment.status = PaymentStatus::Paid;
                        payment.captured = payment.authorized;
                    }
                    PaymentOperation::Void => {
                        payment.status = PaymentStatus::Unpaid;
                        payment.authorized = Decimal::new(0, payment.authorized.scale());
                    }
                    PaymentOperation::Refund => {
                        payment.status = PaymentStatus::Refunded;
                        payment.refunded = payment.captured;
                    }
                }
                payment.pending = None;
                if let Some(change) = pending.change {
                    settled.change_status(change, now)?;
                }
            }
        }
        settled.touch(now);
        // `change_status` may have touched already; one settle is one version step.
        settled.version = self.version.next();
        *self = settled;
        Ok(true)
    }

    /// Checks that `amount` may be refunded now.
    ///
    /// # Errors
    /// [`PaymentError::WrongStatus`] unless paid or partially refunded;
    /// [`PaymentError::NotPositive`]; [`PaymentError::ExceedsCaptured`].
    pub fn check_refund(&self, amount: Decimal) -> Result<(), PaymentError> {
        self.payment_must_be(
            &[PaymentStatus::Paid, PaymentStatus::PartiallyRefunded],
            "refund",
        )?;
        if amount <= Decimal::ZERO {
            return Err(PaymentError::NotPositive);
        }
        let max_scale = u32::from(self.pricing.rounding.minor_units());
        if amount.normalize().scale() > max_scale {
            return Err(PaymentError::TooPrecise { max_scale });
        }
        if amount > self.payment.refundable() {
            return Err(PaymentError::ExceedsCaptured {
                available: self.payment.refundable(),
            });
        }
        Ok(())
    }

    /// Records a refund of `amount`.
    ///
    /// # Errors
    /// As [`Order::check_refund`]; the order is unchanged.
    pub fn record_refund(
        &mut self,
        amount: Decimal,
        now: DateTime<Utc>,
    ) -> Result<(), PaymentError> {
        self.check_refund(amount)?;
        // Checked to have at most the currency's decimals: kept with exactly them.
        let mut amount = amount;
        amount.rescale(u32::from(self.pricing.rounding.minor_units()));
        let refunded =
            self.payment
                .refunded
                .checked_add(amount)
                .ok_or(PaymentError::ExceedsCaptured {
                    available: self.payment.refundable(),
                })?;
        self.payment.refunded = refunded;
        self.payment.status = if refunded == self.payment.captured {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        };
        self.touch(now);
        Ok(())
    }

    /// Releases a refund reservation the gateway refused.
    ///
    /// # Errors
    /// [`PaymentError::ExceedsCaptured`] when less than `amount` is recorded as refunded.
    pub fn revert_refund(
        &mut self,
        amount: Decimal,
        now: DateTime<Utc>,
    ) -> Result<(), PaymentError> {
        let refunded = self
            .payment
            .refunded
            .checked_sub(amount)
            .filter(|left| *left >= Decimal::ZERO)
            .ok_or(PaymentError::ExceedsCaptured {
                available: self.payment.refunded,
            })?;
        self.payment.refunded = refunded;
        self.payment.status = if refunded.is_zero() {
            PaymentStatus::Paid
        } else {
            PaymentStatus::PartiallyRefunded
        };
        self.touch(now);
        Ok(())
    }

    fn payment_must_be(
        &self,
        allowed: &[PaymentStatus],
        action: &'static str,
    ) -> Result<(), PaymentError> {
        if let Some(pending) = &self.payment.pending {
            return Err(PaymentError::InFlight {
                operation: pending.operation,
            });
        }
        if allowed.contains(&self.payment.status) {
            Ok(())
        } else {
            Err(PaymentError::WrongStatus {
                status: self.payment.status,
                action,
            })
        }
    }

    /// Every change moves the version on and stamps the time.
    fn touch(&mut self, now: DateTime<Utc>) {
        self.version = self.version.next();
        self.updated_at = now;
    }

    /// The id.
    pub fn id(&self) -> OrderId {
        self.id
    }
    /// The human-readable number.
    pub fn number(&self) -> OrderNumber {
        self.number
    }
    /// Who the order is for.
    pub fn customer_id(&self) -> CustomerId {
        self.customer_id
    }
    /// The priced lines and totals.
    pub fn pricing(&self) -> &Pricing {
        &self.pricing
    }
    /// The fulfilment status.
    pub fn status(&self) -> OrderStatus {
        self.status
    }
    /// Why it was cancelled, when it was.
    pub fn cancel_reason(&self) -> Option<&CancelReason> {
        self.cancel_reason.as_ref()
    }
    /// The money side.
    pub fn payment(&self) -> &Payment {
        &self.payment
    }
    /// The concurrency version.
    pub fn version(&self) -> Version {
        self.version
    }
    /// When it was placed.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// When it last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// Rebuilds the record storage keeps.
    pub fn to_record(&self) -> OrderRecord {
        OrderRecord {
            id: self.id,
            number: self.number,
            customer_id: self.customer_id,
            pricing: self.pricing.clone(),
            status: self.status,
            cancel_reason: self.cancel_reason.clone(),
            payment: self.payment.clone(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}
