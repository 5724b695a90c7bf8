//! SQLite's side of [`Dialect`]: ordo with no setup, in one file.
//!
//! # Durability and concurrency
//! The file runs in WAL mode with `synchronous = FULL`: a transaction that returned is on disk
//! and survives a power loss, not only a crash of the process (`NORMAL` would keep the file
//! consistent but could lose the last commits on power loss; for orders and payments that is
//! not acceptable). Reads run on a pool and never block in WAL mode; every write goes through
//! one writer connection (`writer.rs`), which commits the writes that arrive together at once.
//! Another process on the same file is waited for by the busy timeout.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::Order;
use rust_decimal::Decimal;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions as _, QueryBuilder, Row as _, Sqlite};
use uuid::Uuid;

use super::Store;
use super::dialect::{Conn, Dialect, RowRead, Statement, Value, Work, required, values_travel};
use super::driver::{Waiting, pool_figures};
use super::orders::{get_where, list_where, number_where};
use super::rows::{ItemRow, OrderRow, order_columns, order_row, select_columns};
use super::writer::Writer;
use crate::{Claim, PaymentAttempt, PoolStats, RepoError};

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

macro_rules! select_order {
    () => {
        concat!("\nSELECT ", select_columns!(), "\nFROM orders o")
    };
}

const INSERT_ORDER: &str = concat!(
    "INSERT INTO orders (",
    order_columns!(),
    ")
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26, $27)"
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

    /// Each order's items, by order id, in position order.
    async fn items_of(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<ItemRow>>, RepoError> {
        let mut items: HashMap<Uuid, Vec<ItemRow>> = HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(items);
        }
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT order_id, product_id, quantity, unit_price, line_total FROM order_items \
             WHERE order_id IN (",
        );
        let mut separated = query.separated(", ");
        for id in ids {
            separated.push_bind(*id);
        }
        query.push(") ORDER BY order_id, position");
        for row in query.build().fetch_all(&mut *self.reader().await?).await? {
            let item = ItemRow {
                product_id: required(row.uuid("product_id")?, "product_id")?,
                quantity: required(row.int("quantity")?, "quantity")?,
                unit_price: required(row.money("unit_price")?, "unit_price")?,
                line_total: required(row.money("line_total")?, "line_total")?,
            };
            let order_id = required(row.uuid("order_id")?, "order_id")?;
            items.entry(order_id).or_default().push(item);
        }
        Ok(items)
    }
}

#[async_trait]
impl Dialect for SqliteDialect {
    type Row = SqliteRow;
    type Conn = SqliteConnection;

    const MIGRATOR: &'static sqlx::migrate::Migrator = &MIGRATOR;
    const GET_ORDER: &'static str = concat!(select_order!(), get_where!());
    const GET_ORDER_BY_NUMBER: &'static str = concat!(select_order!(), number_where!());
    const LIST_ORDERS: &'static str = concat!(select_order!(), list_where!());
    const NEXT_BLOCK: &'static str = "UPDATE sequences SET value = value + 64 \
         WHERE name = 'order_number' RETURNING value - 63 AS start";
    const MIGRATIONS_BOOKKEPT: &'static str = "SELECT EXISTS (SELECT 1 FROM sqlite_master \
         WHERE type = 'table' AND name = '_sqlx_migrations') AS bookkept";

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

    async fn with_items(
        &self,
        rows: Vec<SqliteRow>,
    ) -> Result<Vec<(OrderRow, Vec<ItemRow>)>, RepoError> {
        let orders = rows.iter().map(order_row).collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<Uuid> = orders.iter().map(|order| order.id).collect();
        let mut items = self.items_of(&ids).await?;
        Ok(orders
            .into_iter()
            .map(|order| {
                let mine = items.remove(&order.id).unwrap_or_default();
                (order, mine)
            })
            .collect())
    }

    async fn update_audited(
        conn: &mut SqliteConnection,
        update: Statement,
        attempt: &PaymentAttempt,
    ) -> Result<u64, RepoError> {
        let audit = Statement::new(super::orders::RECORD_ATTEMPT)
            .bind_all(super::rows::attempt_values(attempt));
        conn.execute(audit).await?;
        conn.execute(update).await
    }

    async fn insert_order(
        conn: &mut SqliteConnection,
        order: &Order,
        order_values: Vec<Value>,
        claim: Option<Claim>,
    ) -> Result<(), RepoError> {
        if let Some(claim) = claim {
            let link = Statement::new(LINK_CLAIM)
                .bind(claim.scope.caller)
                .bind(claim.scope.key)
                .bind(claim.token)
                .bind(order.id().as_uuid());
            if conn.execute(link).await? == 0 {
                // The write fails, so its savepoint rolls back: nothing is stored.
                return Err(RepoError::ClaimLost);
            }
        }
        conn.execute(Statement::new(INSERT_ORDER).bind_all(order_values))
            .await?;
        // All items in one multi-row INSERT (100 items × 6 values is far below SQLite's limit).
        let mut items: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO order_items (order_id, position, product_id, quantity, unit_price, line_total) ",
        );
        let mut positions = 0_i64..;
        items.push_values(
            order.pricing().lines().iter().zip(&mut positions),
            |mut row, (line, position)| {
                row.push_bind(order.id().as_uuid())
                    .push_bind(position)
                    .push_bind(line.product_id.as_uuid())
                    .push_bind(i64::from(line.quantity.get()))
                    .push_bind(line.unit_price.to_string())
                    .push_bind(line.line_total.to_string());
            },
        );
        items.build().execute(&mut *conn).await?;
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
        for (name, statement) in [
            ("INSERT_ORDER", INSERT_ORDER),
            ("REMEMBER", REMEMBER),
            ("RECORD_ATTEMPT", RECORD_ATTEMPT),
            ("UPDATE_ORDER", UPDATE_ORDER),
            ("GET_ORDER", SqliteDialect::GET_ORDER),
            ("LIST_ORDERS", SqliteDialect::LIST_ORDERS),
        ] {
            assert!(
                script.contains(&words(statement)),
                "bench/sqlite/baseline.py differs from {name}"
            );
        }
    }
}
