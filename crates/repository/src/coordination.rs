//! What several replicas sharing one database agree on through it.
#![cfg_attr(
    feature = "mock",
    allow(clippy::ref_option_ref, reason = "in mockall's generated code")
)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::RepoError;

/// Shared facts and job leases: state that must be one per database, not one per process.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Coordination: Send + Sync {
    /// Records `value` under `name` unless a value is there already, and returns the value
    /// kept: the first writer's, whoever asks.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn pin_fact(&self, name: &str, value: &str) -> Result<String, RepoError>;

    /// Takes `job` for `holder` until `until` when its lease is free at `now` (never taken, or
    /// ended) or already `holder`'s; true when `holder` now holds it. Of many callers at once,
    /// at most one gets it.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn take_lease(
        &self,
        job: &str,
        holder: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, RepoError>;
}
