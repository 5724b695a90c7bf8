//! SQLite's side of [`Dialect`]: ordo with no setup, in one file.
//!
//! # Durability and concurrency
//! The file runs in WAL mode with `synchronous = FULL`: a transaction that returned is on disk
//! and survives a power loss, not only a crash of the process (`NORMAL` would keep the file
//! consistent but could lose the last commits on power loss; for orders and payments that is
//! not acceptable). Reads run on a pool and never block in WAL mode; every write goes through
//! one writer connection (`writer.rs`), which commits the writes that arrive together at once.
//! Another process on the same file is waited for by the busy timeout.

use std::convert::identity;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::EventRecord;
use rust_decimal::Decimal;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions as _, Row as _, Sqlite};

use super::Store;
use super::dialect::{Conn, Dialect, Statement, Value, Work, values_travel};
use super::driver::{Waiting, pool_figures};
use super::list::Clause;
use super::rows::order_columns;
use super::writer::Writer;
use crate::{Claim, PaymentAttempt, PoolStats, RepoError, SearchText, TotalBound};

/// Settings for [`crate::SqliteStore::open`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The most reading connections (reads run in parallel; writes have one connection).
    pub max_connections: u32,
    /// How long a write waits for another process's lock on the file before storage counts as
    /// unavailable.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            max_connections: 4,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// SQLite: a pool of readers and one writer.
#[derive(Debug, Clone)]
pub struct SqliteDialect {
    readers: SqlitePool,
    writer: Writer,
    /// Callers waiting for a reading connection or for their write's commit, for metrics.
    waiting: Waiting,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

const INSERT_ORDER: &str = concat!(
    "INSERT INTO orders (",
    order_columns!(),
    ")
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)"
);

const LINK_CLAIM: &str = "
UPDATE idempotency_keys SET order_id = $4
WHERE caller = $1 AND key = $2 AND token = $3 AND order_id IS NULL AND response_status IS NULL";

values_travel! {
    database: Sqlite, arguments: SqliteArguments, connection: SqliteConnection, row: SqliteRow,
    encode: {
        small: i64::from,
        int: i64::from,
        money: |amount: Decimal| amount.to_string(),
        time: |at: DateTime<Utc>| at.timestamp_micros(),
        json: identity,
    },
    decode: { int: read_int, money: read_money, time: read_time },
}

/// Every integer is 64 bits.
fn read_int(row: &SqliteRow, column: &str) -> Result<Option<i64>, RepoError> {
    Ok(row.try_get(column)?)
}

/// Money is exact decimal text.
fn read_money(row: &SqliteRow, column: &str) -> Result<Option<Decimal>, RepoError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| {
        Decimal::from_str_exact(&text)
            .or_else(|_| Decimal::from_str(&text))
            .map_err(RepoError::other)
    })
    .transpose()
}

/// Times are microseconds since the epoch.
fn read_time(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>, RepoError> {
    let micros: Option<i64> = row.try_get(column)?;
    micros
        .map(|micros| {
            DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| RepoError::other("stored time out of range"))
        })
        .transpose()
}

impl SqliteDialect {
    /// A reading connection; the wait for it is counted in [`PoolStats::waiting`].
    async fn reader(&self) -> Result<sqlx::pool::PoolConnection<Sqlite>, RepoError> {
        let _waiting = self.waiting.enter();
        Ok(self.readers.acquire().await?)
    }
}

#[async_trait]
impl Dialect for SqliteDialect {
    type Row = SqliteRow;
    type Conn = SqliteConnection;

    const MIGRATOR: &'static sqlx::migrate::Migrator = &MIGRATOR;
    const NEXT_BLOCK: &'static str = "UPDATE sequences SET value = value + 64 \
         WHERE name = 'order_number' RETURNING value - 63 AS start";
    const MIGRATIONS_BOOKKEPT: &'static str = "SELECT EXISTS (SELECT 1 FROM sqlite_master \
         WHERE type = 'table' AND name = '_sqlx_migrations') AS bookkept";
    // One writer: whatever a reader sees was committed in `seq` order already.
    const FEED_BOUND: Option<&'static str> = None;
    const CLAIM_DELIVERIES: &'static str = super::webhooks::claim_deliveries!("");

    // The tables and columns below are those of migration `…10_order_search.sql`, kept by
    // its triggers.
    fn matches_text(text: &SearchText) -> Clause {
        // One FTS5 phrase: the trigram tokenizer matches it as a substring, case-insensitively.
        let phrase = format!("\"{}\"", text.as_str().replace('"', "\"\""));
        (
            "o.id IN (SELECT s.order_id FROM order_search s WHERE s.id IN
            (SELECT rowid FROM order_text WHERE order_text MATCH $?))",
            vec![phrase.into()],
        )
    }

    fn total_at_least(bound: TotalBound) -> Clause {
        ("o.total_key >= $?", vec![total_key(bound).into()])
    }

    fn total_at_most(bound: TotalBound) -> Clause {
        ("o.total_key <= $?", vec![total_key(bound).into()])
    }

    async fn write<T: Send + 'static, W: Work<SqliteConnection, T>>(
        &self,
        _atomic: bool,
        work: W,
    ) -> Result<T, RepoError> {
        // Every write is atomic here: it runs in a savepoint of the writer's transaction.
        let _waiting = self.waiting.enter();
        self.writer.write(work).await
    }

    async fn read_all(&self, statement: Statement) -> Result<Vec<SqliteRow>, RepoError> {
        fetch_all(&mut *self.reader().await?, statement).await
    }

    async fn update_audited(
        conn: &mut SqliteConnection,
        update: Statement,
        attempt: &PaymentAttempt,
        event: &EventRecord,
    ) -> Result<u64, RepoError> {
        let audit = Statement::new(super::orders::RECORD_ATTEMPT)
            .bind_all(super::rows::attempt_values(attempt));
        conn.execute(audit).await?;
        Self::chained(conn, update, event).await
    }

    async fn insert_order(
        conn: &mut SqliteConnection,
        order_values: Vec<Value>,
        claim: Option<Claim>,
        event: &EventRecord,
    ) -> Result<(), RepoError> {
        if let Some(claim) = claim {
            // `order_values` starts with the order's id.
            let id = order_values
                .first()
                .cloned()
                .ok_or_else(|| RepoError::other("an order without its values"))?;
            let link = Statement::new(LINK_CLAIM)
                .bind(claim.scope.caller)
                .bind(claim.scope.key)
                .bind(claim.token)
                .bind(id);
            if conn.execute(link).await? == 0 {
                // The write fails, so its savepoint rolls back: nothing is stored.
                return Err(RepoError::ClaimLost);
            }
        }
        Self::chained(
            conn,
            Statement::new(INSERT_ORDER).bind_all(order_values),
            event,
        )
        .await?;
        Ok(())
    }

    async fn prepare_migrations(&self) -> Result<u64, RepoError> {
        // One file, one application: nothing to share it with.
        Ok(0)
    }

    async fn run_migrations(&self) -> Result<(), RepoError> {
        // On a reading connection: the writer's would be inside its own transaction.
        MIGRATOR.run(&self.readers).await.map_err(RepoError::other)
    }

    fn pool_stats(&self) -> PoolStats {
        let readers = pool_figures(&self.readers, &self.waiting);
        // The writer's one connection is counted with the readers'.
        PoolStats {
            size: readers.size.saturating_add(1),
            max: readers.max.saturating_add(1),
            ..readers
        }
    }

    async fn close(&self) {
        self.writer.close().await;
        self.readers.close().await;
    }
}

impl Store<SqliteDialect> {
    /// Opens (creating if missing) the database file at `path`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the file cannot be opened or created.
    pub async fn open(path: &Path, options: &SqliteOptions) -> Result<Self, RepoError> {
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        let writer = Writer::start(connect.connect().await?);
        let readers = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.busy_timeout)
            .connect_with(connect)
            .await?;
        Ok(Self::new(SqliteDialect {
            readers,
            writer,
            waiting: Waiting::default(),
        }))
    }
}

/// A total as the `total_key` column holds it: 16 integer digits and 4 decimals, zero-padded and
/// without the point, so text order is numeric order (totals are never negative).
fn total_key(bound: TotalBound) -> String {
    let amount = bound.get();
    // At most 4 decimals and at most 10^15 (`TotalBound`): the scaled mantissa fits in 20 digits.
    let scale = 4_u32.saturating_sub(amount.scale());
    let scaled = amount.mantissa().saturating_mul(10_i128.pow(scale));
    format!("{scaled:020}")
}

/// `cargo xtask bench --sqlite` compares ordo with `bench/sqlite/baseline.py` running "the
/// statements the SQLite store sends": this keeps the script from drifting away from them.
#[cfg(test)]
mod baseline_script {
    use super::super::ledger::REMEMBER;
    use super::super::orders::{RECORD_ATTEMPT, UPDATE_ORDER};
    use super::super::rows::{order_columns, select_columns};
    use super::{Dialect as _, INSERT_ORDER, SqliteDialect};

    fn words(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn sqlite_draws_sequence_blocks_of_the_size_the_store_hands_out() {
        use super::super::dialect::SEQUENCE_BLOCK;
        let statement = words(SqliteDialect::NEXT_BLOCK);
        assert!(
            statement.contains(&format!("value = value + {SEQUENCE_BLOCK}")),
            "{statement}"
        );
        assert!(
            statement.contains(&format!("RETURNING value - {}", SEQUENCE_BLOCK - 1)),
            "{statement}"
        );
    }

    #[test]
    fn the_baseline_runs_the_statements_the_store_sends() {
        let path = format!(
            "{}/../../bench/sqlite/baseline.py",
            env!("CARGO_MANIFEST_DIR")
        );
        let script =
            std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
        // The script names the column lists once and puts them in its statements.
        let script = words(&script)
            .replace("{ORDER_COLUMNS}", &words(order_columns!()))
            .replace("{SELECT_COLUMNS}", &words(select_columns!()));
        // A customer's first page, as the list route asks for it.
        let customer = ordo_domain::CustomerId::from_uuid(uuid::Uuid::from_u128(7)).unwrap();
        let list = super::super::list::list_statement::<SqliteDialect>(
            super::super::orders::select_order!(),
            &crate::ListQuery::first_page(customer),
        )
        .sql;
        for (name, statement) in [
            ("INSERT_ORDER", INSERT_ORDER),
            ("REMEMBER", REMEMBER),
            ("RECORD_ATTEMPT", RECORD_ATTEMPT),
            ("UPDATE_ORDER", UPDATE_ORDER),
            ("GET_ORDER", super::super::orders::GET_ORDER),
            ("LIST_ORDERS", &list),
        ] {
            assert!(
                script.contains(&words(statement)),
                "bench/sqlite/baseline.py differs from {name}"
            );
        }
    }
}
