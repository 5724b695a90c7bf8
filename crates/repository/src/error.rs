//! What storage can report, as callers can act on it.

use ordo_domain::{CorruptOrder, Version};

/// Any error, boxed: the cause of a storage failure, kept for logs, opaque to callers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A storage failure, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// No such row, or it was soft-deleted.
    #[error("not found")]
    NotFound,
    /// The caller's version is stale: someone changed the row first.
    #[error("version conflict: the stored version is {}", current.get())]
    VersionConflict {
        /// The version now stored.
        current: Version,
    },
    /// The idempotency key this write ran under was taken over by another holder; nothing was
    /// written.
    #[error("the idempotency key was taken over by another request")]
    ClaimLost,
    /// A unique constraint refused the write.
    #[error("duplicate: {constraint} already holds this value")]
    Duplicate {
        /// The constraint (or column) that refused it.
        constraint: String,
    },
    /// A discount code's limit (all orders', or this customer's) is reached: nothing was
    /// written.
    #[error("the discount code's {} limit is reached", if *per_customer { "per-customer" } else { "usage" })]
    LimitReached {
        /// Whether it is the customer's own limit.
        per_customer: bool,
    },
    /// A discount code's usage limit may not go below the uses orders hold now.
    #[error("{used} orders hold a use of this code")]
    LimitBelowUses {
        /// The uses held.
        used: u32,
    },
    /// The row is leased to a holder (a webhook sender) until `until`: nothing was written.
    #[error("leased until {until}")]
    Leased {
        /// When the lease ends, unless its holder finishes first.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// The database cannot be reached right now (connection, pool, timeout, busy): retry later.
    #[error("storage unavailable")]
    Unavailable(#[source] BoxError),
    /// A stored order that does not hold together.
    #[error("stored order is corrupt")]
    Corrupt(#[from] CorruptOrder),
    /// Anything else: a bug or an unexpected database answer.
    #[error("storage error")]
    Other(#[source] BoxError),
}

impl RepoError {
    /// Wraps an unexpected error.
    pub fn other(error: impl Into<BoxError>) -> Self {
        Self::Other(error.into())
    }
}
