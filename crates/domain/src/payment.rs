//! An order's payment, kept apart from its fulfilment status as the best commerce APIs do: an
//! order can be processing and unpaid, or completed and refunded.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Where the money stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Nothing authorized (yet, or any more after a void).
    Unpaid,
    /// The total is held on the customer's means of payment.
    Authorized,
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
    /// The status as written in JSON and storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unpaid => "unpaid",
            Self::Authorized => "authorized",
            Self::Paid => "paid",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }

    /// Every status.
    pub const ALL: [Self; 7] = [
        Self::Unpaid,
        Self::Authorized,
        Self::Paid,
        Self::PartiallyRefunded,
        Self::Refunded,
        Self::Failed,
        Self::Unknown,
    ];
}

impl std::fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PaymentStatus {
    type Err = UnknownPaymentStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(UnknownPaymentStatus)
    }
}

/// A string that names no payment status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown payment status")]
pub struct UnknownPaymentStatus;

/// What the gateway said to an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationOutcome {
    /// Held, under the gateway's reference.
    Approved {
        /// The gateway's id for the authorization.
        reference: String,
    },
    /// Refused.
    Declined,
    /// No answer: the authorization may or may not exist.
    Unknown,
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
        }
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
