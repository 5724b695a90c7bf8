//! The simulated gateway's [`GatewayLedger`] and the replicas' [`Coordination`], on both
//! databases: one ledger, one set of facts and leases per database, shared by every process.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Store;
use super::dialect::{Dialect, RowRead, Statement, required};
use crate::payments::ledger_entry;
use crate::{Coordination, GatewayLedger, LedgerEntry, RepoError};

/// The simulated gateway's write: the row first kept for the key, in one round trip. On a
/// repeated key the no-op update makes `RETURNING` give the row first written, so the first
/// outcome is the one every retry sees.
pub(crate) const REMEMBER: &str = "
INSERT INTO simulated_gateway_ledger
    (idempotency_key, operation, order_id, amount, outcome, reference, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
RETURNING idempotency_key, operation, order_id, amount, outcome, reference, created_at";

const FIND: &str = "
SELECT idempotency_key, operation, order_id, amount, outcome, reference, created_at
FROM simulated_gateway_ledger WHERE idempotency_key = $1";

/// The ledger in key order from a key on.
const LEDGER_PAGE: &str = "
SELECT idempotency_key, operation, order_id, amount, outcome, reference, created_at
FROM simulated_gateway_ledger WHERE CAST($1 AS TEXT) IS NULL OR idempotency_key > $1
ORDER BY idempotency_key LIMIT $2";

/// Keeps the first value written under a name and returns it. The no-op update makes
/// `RETURNING` yield the kept row.
const PIN_FACT: &str = "
INSERT INTO shared_facts (name, value) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET name = shared_facts.name
RETURNING value";

/// Takes a job's lease when it is free or the caller's own; returns the holder only when the
/// caller got it. One statement, so racing replicas serialize on the row.
const TAKE_LEASE: &str = "
INSERT INTO job_leases (job, holder, until) VALUES ($1, $2, $3)
ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, until = excluded.until
WHERE job_leases.until <= $4 OR job_leases.holder = excluded.holder
RETURNING holder";

/// A ledger row as the gateway's entry.
fn ledger_row(row: &impl RowRead) -> Result<LedgerEntry, RepoError> {
    let text = |column: &str| required(row.text(column)?, column);
    ledger_entry(
        text("idempotency_key")?,
        &text("operation")?,
        required(row.uuid("order_id")?, "order_id")?,
        required(row.money("amount")?, "amount")?,
        &text("outcome")?,
        text("reference")?,
        required(row.time("created_at")?, "created_at")?,
    )
}

#[async_trait]
impl<D: Dialect> GatewayLedger for Store<D> {
    async fn remember(&self, entry: &LedgerEntry) -> Result<LedgerEntry, RepoError> {
        let statement = Statement::new(REMEMBER)
            .bind(entry.key.as_str())
            .bind(entry.operation.as_str())
            .bind(entry.order_id.as_uuid())
            .bind(entry.amount)
            .bind(if entry.approved {
                "approved"
            } else {
                "declined"
            })
            .bind(entry.reference.as_str())
            .bind(entry.at);
        self.write_returning(statement, ledger_row)
            .await?
            .ok_or_else(|| RepoError::other("the ledger kept no row for the key"))
    }

    async fn find(&self, key: &str) -> Result<Option<LedgerEntry>, RepoError> {
        self.read_optional(Statement::new(FIND).bind(key))
            .await?
            .as_ref()
            .map(ledger_row)
            .transpose()
    }

    async fn entries<'a>(
        &self,
        after: Option<&'a str>,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, RepoError> {
        let statement = Statement::new(LEDGER_PAGE)
            .bind(after)
            .bind(i64::from(limit));
        self.read_all(statement)
            .await?
            .iter()
            .map(ledger_row)
            .collect()
    }
}

#[async_trait]
impl<D: Dialect> Coordination for Store<D> {
    #[tracing::instrument(skip_all, fields(name), err(level = "debug"))]
    async fn pin_fact(&self, name: &str, value: &str) -> Result<String, RepoError> {
        let statement = Statement::new(PIN_FACT).bind(name).bind(value);
        self.write_returning(statement, |row| required(row.text("value")?, "value"))
            .await?
            .ok_or_else(|| RepoError::other("no fact was kept"))
    }

    #[tracing::instrument(skip_all, fields(job), err(level = "debug"))]
    async fn take_lease(
        &self,
        job: &str,
        holder: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let statement = Statement::new(TAKE_LEASE)
            .bind(job)
            .bind(holder)
            .bind(until)
            .bind(now);
        let taken = self
            .write_returning(statement, |row| row.uuid("holder"))
            .await?
            .flatten();
        Ok(taken == Some(holder))
    }
}
