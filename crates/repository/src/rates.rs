//! The shop's rates: its tax table and its shipping methods, each kept whole and versioned.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::{ShippingTable, TaxTable, Version};

use crate::RepoError;

/// One table as stored: its content, its version (1 for the empty table every database
/// starts with) and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The content.
    pub value: T,
    /// Moves up by one with every replacement: the ETag.
    pub version: Version,
    /// When it was last replaced; `None` while it is the empty table of the migration.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Both tables, read together (one round trip per order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRates {
    /// The tax table.
    pub taxes: Versioned<TaxTable>,
    /// The shipping methods.
    pub shipping: Versioned<ShippingTable>,
}

/// The shop's rates, shared by every replica through the database.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RatesStore: Send + Sync {
    /// Both tables.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`] (a table that breaks a rule).
    async fn rates(&self) -> Result<StoredRates, RepoError>;

    /// Replaces the tax table if it is still at `expected`; the new version.
    ///
    /// # Errors
    /// [`RepoError::VersionConflict`] when it moved on, [`RepoError::Unavailable`] or
    /// [`RepoError::Other`].
    async fn replace_taxes(
        &self,
        table: &TaxTable,
        expected: Version,
        now: DateTime<Utc>,
    ) -> Result<Version, RepoError>;

    /// Replaces the shipping methods if they are still at `expected`; the new version.
    ///
    /// # Errors
    /// As [`RatesStore::replace_taxes`].
    async fn replace_shipping(
        &self,
        table: &ShippingTable,
        expected: Version,
        now: DateTime<Utc>,
    ) -> Result<Version, RepoError>;
}
