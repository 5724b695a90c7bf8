//! Orders: the unvalidated draft a client sends, the validated [`NewOrder`], and the stored
//! [`Order`] with its status life.
//!
//! `draft` holds what a client sends and its parsing, `change` the values a change carries,
//! `money` the order's payment moves (the rules of docs/status.md); this file the order itself.

mod change;
mod draft;
mod fulfillment;
mod manual;
mod money;
mod returns;
mod settle;

pub use change::{CancelReason, ChangeError, PaymentStep, StatusChange, Version};
pub use draft::{
    LineItemDraft, LineSource, MAX_DISCOUNT_REASON_CHARS, MAX_LINE_ITEMS, MAX_PERCENT_SCALE,
    MAX_QUANTITY, MAX_REASON_CHARS, MAX_SHIPPING_CODE_CHARS, MAX_SHIPPING_LINES,
    MAX_SHIPPING_TITLE_CHARS, MAX_TAX_RATE_SCALE, NewLineItem, NewOrder, OrderDraft, Quantity,
    ShippingLineDraft,
};
pub(crate) use draft::{checked_amount, tax_rate};
pub use fulfillment::{
    CaptureState, FULFILLMENT_MOVES, Fulfillment, FulfillmentDraft, FulfillmentError,
    FulfillmentId, FulfillmentLine, FulfillmentLineDraft, FulfillmentState, FulfillmentStatus,
    LineProgress, MAX_CARRIER_CHARS, MAX_FULFILLMENTS, MAX_LOCATION_CHARS,
    MAX_TRACKING_NUMBER_CHARS, MAX_TRACKING_URL_CHARS, NewFulfillment, ShipmentCapture, Tracking,
    TrackingDraft, UnknownFulfillmentStatus,
};
pub use manual::{
    MAX_PAYMENT_REFERENCE_CHARS, MAX_RECORDED_PAYMENTS, MAX_TERMS_DAYS, PaymentChoice,
    PaymentDraft, PaymentMethod, PaymentProvider, RecordError, RecordedPayment, terms_days_checked,
};
pub use returns::{
    LineRefund, MAX_RETURN_NOTE_CHARS, MAX_RETURNS, NewReturn, RefundedLine, Return, ReturnDraft,
    ReturnError, ReturnId, ReturnOutcome, ReturnReason, ReturnState,
};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::payment::{Payment, PaymentOperation, PendingPayment};
use crate::pricing::{PricingError, StoredPricing, price};
use crate::record::OrderDetails;
use crate::status::{IllegalTransition, OrderStatus};
use crate::validation::ValidationErrors;
use crate::{CustomerId, LineSnapshot, OrderDetailsDraft, OrderId, OrderNumber, Pricing};

/// An order as stored: priced, numbered, with a status and a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Order {
    id: OrderId,
    number: OrderNumber,
    customer_id: CustomerId,
    pricing: Pricing,
    #[serde(skip)]
    details: OrderDetails,
    /// When its customer's personal data was erased, if it was.
    erased_at: Option<DateTime<Utc>>,
    status: OrderStatus,
    cancel_reason: Option<CancelReason>,
    payment: Payment,
    /// Its fulfilments, oldest first.
    #[serde(skip)]
    fulfillments: Vec<Fulfillment>,
    /// Its returns, oldest first.
    #[serde(skip)]
    returns: Vec<Return>,
    /// Its refunds by line: which units each refunded.
    #[serde(skip)]
    refunded_lines: Vec<RefundedLine>,
    /// Who takes its money.
    #[serde(skip)]
    provider: PaymentProvider,
    /// When a manual payment is due.
    #[serde(skip)]
    payment_due_at: Option<DateTime<Utc>>,
    /// Payments staff recorded (manual orders).
    #[serde(skip)]
    recorded_payments: Vec<RecordedPayment>,
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
    pub pricing: StoredPricing,
    pub details: OrderDetails,
    pub erased_at: Option<DateTime<Utc>>,
    pub status: OrderStatus,
    pub cancel_reason: Option<CancelReason>,
    pub payment: Payment,
    pub fulfillments: Vec<Fulfillment>,
    pub returns: Vec<Return>,
    pub refunded_lines: Vec<RefundedLine>,
    pub provider: PaymentProvider,
    pub payment_due_at: Option<DateTime<Utc>>,
    pub recorded_payments: Vec<RecordedPayment>,
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
    /// Fulfilments that name other lines, hold more than was ordered, or do not fit the status.
    #[error("the fulfillments do not hold together with the order")]
    FulfillmentMismatch,
}

impl Order {
    /// A newly placed order: pending, version 1.
    pub fn place(
        id: OrderId,
        number: OrderNumber,
        customer_id: CustomerId,
        pricing: Pricing,
        details: OrderDetails,
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
            details,
            erased_at: None,
            status: OrderStatus::Pending,
            cancel_reason: None,
            payment,
            fulfillments: Vec::new(),
            returns: Vec::new(),
            refunded_lines: Vec::new(),
            provider: PaymentProvider::Gateway,
            payment_due_at: None,
            recorded_payments: Vec::new(),
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
                    unit_price: Some(line.unit_price),
                    snapshot: line
                        .snapshot
                        .as_ref()
                        .map(LineSnapshot::to_draft)
                        .unwrap_or_default(),
                })
                .collect(),
            discount: pricing.discount_rule,
            discount_reason: pricing.discount_reason.clone(),
            discount_code: None,
            discount_code_optional: false,
            tax_rate: pricing.tax_rate,
            shipping: pricing
                .shipping_lines
                .iter()
                .map(|line| ShippingLineDraft {
                    code: line.code.clone(),
                    title: line.title.clone(),
                    amount: line.amount,
                    taxed: line.taxed,
                })
                .collect(),
            shipping_method: None,
            // Already checked: storage parsed them into `record.details`.
            details: OrderDetailsDraft::default(),
        };
        let mut order = NewOrder::parse(&draft)?;
        // The rates the shop's table gave, checked as a staff rate would be.
        let stored_rate = |rate: Option<rust_decimal::Decimal>| {
            rate.map(tax_rate)
                .transpose()
                .map_err(|_| CorruptOrder::PricingMismatch)
        };
        for (item, stored) in order.items.iter_mut().zip(&pricing.lines) {
            item.tax_rate = stored_rate(stored.tax_rate)?;
        }
        for (line, stored) in order.shipping.iter_mut().zip(&pricing.shipping_lines) {
            line.tax_rate = stored_rate(stored.tax_rate)?;
        }
        order.prices_include_tax = pricing.prices_include_tax;
        let mut repriced = price(&order, pricing.rounding)?;
        // Re-parsed, every line is a custom one; where a price came from is no figure, so it
        // is kept as stored.
        for (line, stored) in repriced.lines.iter_mut().zip(&pricing.lines) {
            line.source = stored.source;
        }
        repriced.discount_code.clone_from(&pricing.discount_code);
        if StoredPricing::from(&repriced) != *pricing {
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
        // As for the pricing: the policy's decimals, whatever the database did to zeros.
        let payment = record.payment.rescaled(repriced.rounding.minor_units());
        Self {
            id: record.id,
            number: record.number,
            customer_id: record.customer_id,
            pricing: repriced,
            details: record.details,
            erased_at: record.erased_at,
            status: record.status,
            cancel_reason: record.cancel_reason,
            payment,
            fulfillments: record.fulfillments,
            returns: record.returns,
            refunded_lines: record.refunded_lines,
            provider: record.provider,
            payment_due_at: record.payment_due_at,
            recorded_payments: record.recorded_payments,
            version: record.version,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
        .with_fulfillments_checked()
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
        self.fulfil_for_change(&change, now);
        self.status = change.target();
        if let StatusChange::Cancel(reason) = change {
            self.cancel_reason = Some(reason);
        }
        self.touch(now);
        Ok(())
    }

    /// Replaces the details (contact, addresses, notes, tags, metadata, channel), bumping the
    /// version; nothing else changes. Who may change which field is the service's rule.
    pub fn change_details(&mut self, details: OrderDetails, now: DateTime<Utc>) {
        self.details = details;
        self.touch(now);
    }

    /// Erases the customer's personal data from the order (its contact, addresses and notes),
    /// marking when; amounts, lines and number stay. Whether anything changed: erasing an
    /// order already erased changes nothing (and keeps the first erasure's time).
    pub fn erase_personal_data(&mut self, now: DateTime<Utc>) -> bool {
        if self.erased_at.is_some() && !self.details.has_personal_data() {
            return false;
        }
        self.details = self.details.without_personal_data();
        // A return's note is in the customer's words.
        for ret in &mut self.returns {
            ret.note = None;
        }
        // A transfer's reference often holds the payer's name or account.
        for payment in &mut self.recorded_payments {
            payment.reference = None;
        }
        self.erased_at.get_or_insert(now);
        self.touch(now);
        true
    }
}

impl Order {
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
    /// Contact, addresses, notes, tags, metadata and channel.
    pub fn details(&self) -> &OrderDetails {
        &self.details
    }
    /// When its customer's personal data was erased, if it was.
    pub fn erased_at(&self) -> Option<DateTime<Utc>> {
        self.erased_at
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
            pricing: StoredPricing::from(&self.pricing),
            details: self.details.clone(),
            erased_at: self.erased_at,
            status: self.status,
            cancel_reason: self.cancel_reason.clone(),
            payment: self.payment.clone(),
            fulfillments: self.fulfillments.clone(),
            returns: self.returns.clone(),
            refunded_lines: self.refunded_lines.clone(),
            provider: self.provider,
            payment_due_at: self.payment_due_at,
            recorded_payments: self.recorded_payments.clone(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}
