//! [`RatesStore`] on both databases, each statement written once. Each table is one row of
//! `shop_rates` holding the whole table as a document: an order reads both in one statement,
//! and staff replace a table whole, checked against the version they read.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::{ShippingMethodDraft, ShippingTable, TaxTable, TaxTableDraft, Version};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Store;
use super::dialect::{Dialect, RowRead, Statement, Value, required};
use super::rows::{corrupt, missed_write, version_column};
use crate::{RatesStore, RepoError, StoredRates, Versioned};

pub(super) const RATES: &str =
    "SELECT name, version, updated_at, CAST(document AS TEXT) AS document
FROM shop_rates WHERE name IN ('taxes', 'shipping')";

const REPLACE: &str = "UPDATE shop_rates SET document = $2, version = $3, updated_at = $4
WHERE name = $1 AND version = $5";

const VERSION: &str = "SELECT version FROM shop_rates WHERE name = $1";

/// One table's row: its draft, parsed again on the way out.
fn table<T: DeserializeOwned>(row: &impl RowRead) -> Result<Versioned<T>, RepoError> {
    let text = required(row.text("document")?, "document")?;
    let value = serde_json::from_str(&text).map_err(|_| corrupt("rates document"))?;
    let version = u32::try_from(required(row.int("version")?, "version")?)
        .map_err(|_| corrupt("rates version"))?;
    Ok(Versioned {
        value,
        version: Version::new(version),
        updated_at: row.time("updated_at")?,
    })
}

/// Replaces the table `name` if it is still at `expected`.
async fn replace<D: Dialect>(
    store: &Store<D>,
    name: &'static str,
    document: &impl Serialize,
    expected: Version,
    now: DateTime<Utc>,
) -> Result<Version, RepoError> {
    let next = Version::new(expected.get().saturating_add(1));
    let statement = Statement::new(REPLACE)
        .bind(name)
        .bind(Value::Json(Some(
            serde_json::to_string(document).map_err(RepoError::other)?,
        )))
        .bind(version_column(next)?)
        .bind(now)
        .bind(version_column(expected)?);
    if store.execute(statement).await? == 1 {
        return Ok(next);
    }
    let current = store
        .read_optional(Statement::new(VERSION).bind(name))
        .await?
        .map(|row| required(row.int("version")?, "version"))
        .transpose()?;
    Err(missed_write(current))
}

#[async_trait]
impl<D: Dialect> RatesStore for Store<D> {
    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn rates(&self) -> Result<StoredRates, RepoError> {
        let mut taxes = None;
        let mut shipping = None;
        for row in self.read_all(Statement::new(RATES)).await? {
            if required(row.text("name")?, "name")? == "taxes" {
                let stored: Versioned<TaxTableDraft> = table(&row)?;
                let value = TaxTable::parse(&stored.value).map_err(|_| corrupt("tax table"))?;
                taxes = Some(Versioned {
                    value,
                    version: stored.version,
                    updated_at: stored.updated_at,
                });
            } else {
                let stored: Versioned<Vec<ShippingMethodDraft>> = table(&row)?;
                let value =
                    ShippingTable::parse(&stored.value).map_err(|_| corrupt("shipping methods"))?;
                shipping = Some(Versioned {
                    value,
                    version: stored.version,
                    updated_at: stored.updated_at,
                });
            }
        }
        match (taxes, shipping) {
            (Some(taxes), Some(shipping)) => Ok(StoredRates { taxes, shipping }),
            _ => Err(RepoError::other("the shop_rates rows are missing")),
        }
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn replace_taxes(
        &self,
        table: &TaxTable,
        expected: Version,
        now: DateTime<Utc>,
    ) -> Result<Version, RepoError> {
        replace(self, "taxes", &table.to_draft(), expected, now).await
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn replace_shipping(
        &self,
        table: &ShippingTable,
        expected: Version,
        now: DateTime<Utc>,
    ) -> Result<Version, RepoError> {
        replace(self, "shipping", &table.to_drafts(), expected, now).await
    }
}
