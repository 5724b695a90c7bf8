//! The order's fulfilment status and the one table that decides every move between them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use strum::{EnumIter, IntoEnumIterator as _, IntoStaticStr};

/// Where an order stands in its fulfilment life.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, not yet worked on.
    Pending,
    /// Being prepared or shipped.
    Processing,
    /// Delivered; terminal.
    Completed,
    /// Cancelled with a reason; terminal.
    Cancelled,
}

/// Every legal move, and nothing else: `(from, to)`.
///
/// This table is the status machine. [`OrderStatus::allowed_next`] and
/// [`OrderStatus::check_transition`] only read it.
pub const TRANSITIONS: &[(OrderStatus, OrderStatus)] = &[
    (OrderStatus::Pending, OrderStatus::Processing),
    (OrderStatus::Pending, OrderStatus::Cancelled),
    (OrderStatus::Processing, OrderStatus::Completed),
    (OrderStatus::Processing, OrderStatus::Cancelled),
];

/// A move the status machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an order cannot move from {from} to {to}; allowed next: {}", list(.allowed))]
pub struct IllegalTransition {
    /// The order's current status.
    pub from: OrderStatus,
    /// The status asked for.
    pub to: OrderStatus,
    /// Where the order may go from `from` (empty when `from` is terminal).
    pub allowed: Vec<OrderStatus>,
}

fn list(statuses: &[OrderStatus]) -> String {
    if statuses.is_empty() {
        return "none (terminal)".to_owned();
    }
    statuses
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl OrderStatus {
    /// The status as written in JSON and storage (`"pending"`): strum's name, checked against
    /// serde's.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The statuses an order may move to from this one, in table order.
    pub fn allowed_next(self) -> Vec<Self> {
        TRANSITIONS
            .iter()
            .filter(|(from, _)| *from == self)
            .map(|(_, to)| *to)
            .collect()
    }

    /// True when no move leaves this status.
    pub fn is_terminal(self) -> bool {
        !TRANSITIONS.iter().any(|(from, _)| *from == self)
    }

    /// Checks a move against [`TRANSITIONS`].
    ///
    /// # Errors
    /// [`IllegalTransition`], listing the allowed next statuses, when the table has no such edge.
    pub fn check_transition(self, to: Self) -> Result<(), IllegalTransition> {
        if TRANSITIONS.contains(&(self, to)) {
            Ok(())
        } else {
            Err(IllegalTransition {
                from: self,
                to,
                allowed: self.allowed_next(),
            })
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown order status {0:?}: expected pending, processing, completed or cancelled")]
pub struct UnknownStatus(pub String);

impl FromStr for OrderStatus {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UnknownStatus(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::{Cancelled, Completed, Pending, Processing};

    /// Every (from, to) pair, written out by hand rather than derived from the table.
    #[test]
    fn every_pair_is_decided_as_the_lifecycle_says() {
        let expected_legal = [
            (Pending, Processing),
            (Pending, Cancelled),
            (Processing, Completed),
            (Processing, Cancelled),
        ];
        for from in OrderStatus::iter() {
            for to in OrderStatus::iter() {
                let legal = expected_legal.contains(&(from, to));
                assert_eq!(from.check_transition(to).is_ok(), legal, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn an_illegal_move_lists_the_allowed_next_states() {
        let error = Pending.check_transition(Completed).unwrap_err();
        assert_eq!(error.allowed, vec![Processing, Cancelled]);
        assert_eq!(
            error.to_string(),
            "an order cannot move from pending to completed; allowed next: processing, cancelled"
        );
        let error = Completed.check_transition(Cancelled).unwrap_err();
        assert!(error.allowed.is_empty());
        assert!(error.to_string().ends_with("none (terminal)"));
    }

    #[test]
    fn completed_and_cancelled_are_terminal() {
        assert!(Completed.is_terminal() && Cancelled.is_terminal());
        assert!(!Pending.is_terminal() && !Processing.is_terminal());
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in OrderStatus::iter() {
            assert_eq!(status.as_str().parse::<OrderStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{status}\"")
            );
        }
        assert!("shipped".parse::<OrderStatus>().is_err());
    }
}
