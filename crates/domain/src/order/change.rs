//! The values a change of an order carries: its reason, its step, its version.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::payment::{PaymentError, PaymentOperation};
use crate::status::{IllegalTransition, OrderStatus};
use crate::validation::Violation;

use super::draft::MAX_REASON_CHARS;

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
    /// Call the gateway for `operation` of `amount`, then [`crate::Order::settle_payment`].
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
    /// Something of the order has shipped, so it cannot be cancelled (return it instead).
    #[error(
        "part of the order has shipped, so it cannot be cancelled: return what shipped instead"
    )]
    Shipped,
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

    pub(crate) fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}
