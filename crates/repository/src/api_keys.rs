//! API keys for trusted backends (a storefront's server, an ERP): each stored with the SHA-256
//! of its secret, never the key itself, so the database cannot give a key away.
#![cfg_attr(
    feature = "mock",
    allow(clippy::ref_option_ref, reason = "in mockall's generated code")
)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::RepoError;

/// An API key as stored: whose it is, what it may do, and the hash its secret must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The key's id, also written in the key, so a request finds its row by it.
    pub id: Uuid,
    /// What the admin called it ("storefront", "erp").
    pub name: String,
    /// Its scopes (`orders:read`, …), as the service names them.
    pub scopes: Vec<String>,
    /// SHA-256 of the key's secret part.
    pub secret_hash: [u8; 32],
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Who made it (the admin token's subject).
    pub created_by: String,
    /// When it was revoked; it authenticates nothing from then on.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request, to the minute (each replica writes it at most
    /// once a minute per key).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The API keys, shared by every replica through the database: a revocation is seen by the
/// next request anywhere.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key.
    ///
    /// # Errors
    /// [`RepoError::Duplicate`] when its id is taken; [`RepoError::Unavailable`] or
    /// [`RepoError::Other`].
    async fn insert_key(&self, key: &StoredKey) -> Result<(), RepoError>;

    /// The key with `id`, revoked or not.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn key(&self, id: Uuid) -> Result<Option<StoredKey>, RepoError>;

    /// Every key, newest first.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn keys(&self) -> Result<Vec<StoredKey>, RepoError>;

    /// Revokes the key with `id` at `at` (a key revoked before keeps its first time) and
    /// returns it as now stored; `None` when there is no such key.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn revoke_key(&self, id: Uuid, at: DateTime<Utc>)
    -> Result<Option<StoredKey>, RepoError>;

    /// Records that the key with `id` authenticated a request at `at` (never moving its last
    /// use back in time).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn touch_key(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), RepoError>;
}
