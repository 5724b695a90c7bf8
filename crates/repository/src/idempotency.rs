//! The idempotency-key storage port.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::OrderId;
use uuid::Uuid;

use crate::RepoError;

/// A key as one caller used it: keys of different callers never collide.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyScope {
    /// Who sent it.
    pub caller: String,
    /// The `Idempotency-Key` value.
    pub key: String,
}

/// A finished response, kept to be sent again byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The status code.
    pub status: u16,
    /// The headers that matter (content type, location, ETag...), in order.
    pub headers: Vec<(String, String)>,
    /// The body, exactly.
    pub body: Vec<u8>,
}

/// The right to run a request under a key, until the lease ends or another takes it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The key.
    pub scope: KeyScope,
    /// Identifies this holder; writes under a claim check it, so a holder whose lease was taken
    /// over cannot finish.
    pub token: Uuid,
    /// The order an earlier holder created before it stopped (crashed or timed out): resume
    /// from it instead of creating another. Set when completing, the order the response is
    /// about, so an erasure finds every kept response that holds the order's data.
    pub order_id: Option<OrderId>,
}

/// A request to run under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    /// The key.
    pub scope: KeyScope,
    /// What the request was: the same key with another fingerprint is refused.
    pub fingerprint: String,
    /// The current time.
    pub now: DateTime<Utc>,
    /// How long others must wait before taking over an unfinished request.
    pub lease_until: DateTime<Utc>,
    /// When the key may be used afresh.
    pub expires_at: DateTime<Utc>,
    /// A fresh random token for this attempt's claim.
    pub token: Uuid,
}

/// What [`IdempotencyStore::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// Run the request (first time, after expiry, or taking over an abandoned one).
    Claimed(Claim),
    /// Finished before: send this again.
    Replay(StoredResponse),
    /// Another request with this key is running now.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

/// Where idempotency keys are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims a key for a request, or says why not.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn begin(&self, request: &KeyRequest) -> Result<Begin, RepoError>;

    /// Keeps the final response under the key.
    ///
    /// # Errors
    /// [`RepoError::ClaimLost`] when another holder took the key over; [`RepoError::Unavailable`];
    /// [`RepoError::Other`].
    /// (A key not yet linked to an order is linked to `claim.order_id`, the order the response
    /// is about, when given.)
    async fn complete(&self, claim: &Claim, response: &StoredResponse) -> Result<(), RepoError>;

    /// Gives a key up after a failure, so a retry runs again. A key already linked to an order
    /// is kept (a retry resumes from the order) with its lease ended.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn release(&self, claim: &Claim, now: DateTime<Utc>) -> Result<(), RepoError>;

    /// Deletes keys that expired at or before `now`; returns how many.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepoError>;
}
