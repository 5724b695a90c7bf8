//! Payment records: the audit trail of gateway calls, and the simulated gateway's own ledger.
#![cfg_attr(
    feature = "mock",
    allow(clippy::ref_option_ref, reason = "in mockall's generated code")
)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::{OrderId, PaymentOperation};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::RepoError;

/// What came of a gateway call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum AttemptOutcome {
    /// Done.
    Approved,
    /// Refused.
    Declined,
    /// No answer in time.
    TimedOut,
}

impl AttemptOutcome {
    /// The name in storage.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One gateway call, as audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentAttempt {
    /// The attempt's id.
    pub id: Uuid,
    /// The order paid for.
    pub order_id: OrderId,
    /// What was asked.
    pub operation: PaymentOperation,
    /// How much.
    pub amount: Decimal,
    /// What came of it.
    pub outcome: AttemptOutcome,
    /// The gateway's reference, when it gave one.
    pub reference: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// What the simulated gateway did for one idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The idempotency key the caller passed.
    pub key: String,
    /// What was asked.
    pub operation: PaymentOperation,
    /// The order it was for.
    pub order_id: OrderId,
    /// How much.
    pub amount: Decimal,
    /// Whether it was approved (else declined).
    pub approved: bool,
    /// The gateway's reference.
    pub reference: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The simulated gateway's durable books.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait GatewayLedger: Send + Sync {
    /// Records `entry` unless its key is already there; returns what is kept under the key
    /// (the first entry wins, as a real gateway deduplicates by idempotency key).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn remember(&self, entry: &LedgerEntry) -> Result<LedgerEntry, RepoError>;

    /// The entry under `key`, if any.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn find(&self, key: &str) -> Result<Option<LedgerEntry>, RepoError>;

    /// Up to `limit` entries with keys after `after` (from the first when `None`), in key
    /// order: the whole ledger page by page, for checking the books.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn entries<'a>(
        &self,
        after: Option<&'a str>,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, RepoError>;
}

/// A ledger row's columns, as both stores read them.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) fn ledger_entry(
    key: String,
    operation: &str,
    order_id: Uuid,
    amount: Decimal,
    outcome: &str,
    reference: String,
    at: DateTime<Utc>,
) -> Result<LedgerEntry, RepoError> {
    let corrupt = || RepoError::other("invalid row in simulated_gateway_ledger");
    Ok(LedgerEntry {
        key,
        operation: operation
            .parse::<PaymentOperation>()
            .map_err(|_| corrupt())?,
        order_id: OrderId::from_uuid(order_id).map_err(|_| corrupt())?,
        amount,
        approved: outcome == "approved",
        reference,
        at,
    })
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum RefundStatus {
    /// Reserved on the order; the gateway's answer is awaited.
    Pending,
    /// The gateway gave the money back.
    Succeeded,
    /// The gateway refused; the reservation was released.
    Failed,
}

impl RefundStatus {
    /// The name in storage and JSON.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Reads a name written by [`RefundStatus::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        <Self as strum::IntoEnumIterator>::iter().find(|s| s.as_str() == text)
    }
}

/// A refund of part or all of an order's captured money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// The refund's id; the gateway key is derived from it.
    pub id: Uuid,
    /// The order refunded.
    pub order_id: OrderId,
    /// How much.
    pub amount: Decimal,
    /// Why.
    pub reason: String,
    /// Where it stands.
    pub status: RefundStatus,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
}
