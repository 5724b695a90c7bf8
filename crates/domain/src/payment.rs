//! An order's payment, kept apart from its fulfilment status as the best commerce APIs do: an
//! order can be processing and unpaid, or completed and refunded.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use strum::{EnumIter, IntoEnumIterator as _, IntoStaticStr};

/// Where the money stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PaymentStatus {
    /// Nothing authorized (yet, or any more after a void).
    Unpaid,
    /// The total is held on the customer's means of payment.
    Authorized,
    /// Payments recorded outside a gateway add up to less than the total.
    PartiallyPaid,
    /// The total was captured.
    Paid,
    /// Part of what was captured was refunded.
    PartiallyRefunded,
    /// All that was captured was refunded.
    Refunded,
    /// The gateway declined.
    Failed,
    /// The gateway did not answer; reconciliation will settle it.
    Unknown,
}

impl PaymentStatus {
    /// The status as written in JSON and storage (strum's name, checked against serde's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PaymentStatus {
    type Err = UnknownPaymentStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::iter()
            .find(|s| s.as_str() == text)
            .ok_or(UnknownPaymentStatus)
    }
}

/// A string that names no payment status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown payment status")]
pub struct UnknownPaymentStatus;

/// When an order's authorized money is captured (the shop's setting, read at each move).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CaptureMode {
    /// When the order moves to completed (the default: charge for what ships).
    #[default]
    OnCompletion,
    /// Right after the authorization.
    Immediately,
    /// As each fulfilment ships, its lines' share (the first also the shipping, the last
    /// whatever is left, so the captures sum to the total exactly).
    OnShipment,
}

/// A call to the payment gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum PaymentOperation {
    /// Hold the total.
    Authorize,
    /// Take what was held.
    Capture,
    /// Release what was held.
    Void,
    /// Give back part or all of what was taken.
    Refund,
}

impl PaymentOperation {
    /// The name in storage and idempotency keys.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for PaymentOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PaymentOperation {
    type Err = UnknownPaymentStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::iter()
            .find(|op| op.as_str() == text)
            .ok_or(UnknownPaymentStatus)
    }
}

/// What the gateway said to a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayOutcome {
    /// Done, under the gateway's reference.
    Approved {
        /// The gateway's id for the operation.
        reference: String,
    },
    /// Refused.
    Declined,
    /// No answer: it may or may not have happened.
    Unknown,
}

/// A gateway call claimed on the order before it is made, with the status change its approval
/// completes. While one is set no other move of status or money may start, so two requests can
/// never both reach the gateway for one order; a crash leaves it for reconciliation to finish
/// with the same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPayment {
    /// The call in flight.
    pub operation: PaymentOperation,
    /// The status change that follows its approval, if any.
    pub change: Option<crate::StatusChange>,
}

/// A payment move the current payment state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The move does not apply in this status.
    #[error("the payment is {status}: cannot {action}")]
    WrongStatus {
        /// The current payment status.
        status: PaymentStatus,
        /// What was asked.
        action: &'static str,
    },
    /// A refund would pass what was captured.
    #[error("refunds would exceed what was captured: {available} is left to refund")]
    ExceedsCaptured {
        /// What can still be refunded.
        available: Decimal,
    },
    /// A refund of zero or less.
    #[error("a refund must be more than zero")]
    NotPositive,
    /// A gateway call for this order is in flight; no other move may start until it settles.
    #[error("a payment {operation} is in progress for this order; retry once it settles")]
    InFlight {
        /// The call in flight.
        operation: PaymentOperation,
    },
    /// Settling a gateway call that was never claimed.
    #[error("no payment call is in progress for this order")]
    NothingPending,
    /// A refund with more decimals than the order's amounts have.
    #[error("a refund may have at most {max_scale} decimal places")]
    TooPrecise {
        /// The decimals the order's amounts have.
        max_scale: u32,
    },
}

/// The money side of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Where the money stands.
    pub status: PaymentStatus,
    /// Held by the authorization.
    #[serde(with = "crate::amount_serde")]
    pub authorized: Decimal,
    /// Taken.
    #[serde(with = "crate::amount_serde")]
    pub captured: Decimal,
    /// Given back, of what was captured.
    #[serde(with = "crate::amount_serde")]
    pub refunded: Decimal,
    /// The gateway's id for the authorization, once approved.
    pub reference: Option<String>,
    /// The gateway call in flight, claimed before it was made.
    #[serde(skip)]
    pub pending: Option<PendingPayment>,
}

impl Payment {
    /// No payment yet: amounts written with `minor_units` decimals.
    pub fn unpaid(minor_units: u8) -> Self {
        let zero = Decimal::new(0, u32::from(minor_units));
        Self {
            status: PaymentStatus::Unpaid,
            authorized: zero,
            captured: zero,
            refunded: zero,
            reference: None,
            pending: None,
        }
    }

    /// The same amounts written with exactly `minor_units` decimals.
    #[must_use]
    pub fn rescaled(mut self, minor_units: u8) -> Self {
        for amount in [&mut self.authorized, &mut self.captured, &mut self.refunded] {
            amount.rescale(u32::from(minor_units));
        }
        self
    }

    /// What can still be refunded.
    pub fn refundable(&self) -> Decimal {
        self.captured
            .checked_sub(self.refunded)
            .unwrap_or(Decimal::ZERO)
    }

    /// True when the amounts hold together: refunded ≤ captured ≤ authorized ≤ `total`.
    pub fn is_consistent(&self, total: Decimal) -> bool {
        let zero = Decimal::ZERO;
        zero <= self.refunded
            && self.refunded <= self.captured
            && self.captured <= self.authorized
            && self.authorized <= total
    }
}
