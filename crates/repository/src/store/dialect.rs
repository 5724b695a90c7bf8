//! What differs between PostgreSQL and SQLite, and nothing else.
//!
//! The store (`store/*.rs`) holds every statement and every trait method once, written in the
//! SQL both databases read (`$n` placeholders, `ON CONFLICT … RETURNING`, `CAST(… AS …)`). It
//! binds [`Value`]s and reads rows through [`RowRead`], so it never names a driver type. A
//! [`Dialect`] supplies the rest:
//!
//! | | PostgreSQL (`postgres.rs`) | SQLite (`sqlite.rs`) |
//! |---|---|---|
//! | money | `NUMERIC` | exact decimal text |
//! | times | `TIMESTAMPTZ` | microseconds since the epoch |
//! | an order's document | `JSONB` | JSON text |
//! | inserting an order | one statement (the claim in a CTE) | two in a transaction |
//! | an audited payment write | one statement (a CTE) | two in a transaction |
//! | an order's event, chained | in the change's statement (CTEs; the link hashed in SQL) | the change, the last event read, the event inserted (linked in Rust) |
//! | the feed's safe end | below the oldest transaction writing events now (`pg_locks`), read before the events | everything committed (one writer) |
//! | sequence blocks | a sequence `INCREMENT BY 64` | a row moved up by 64 |
//! | writes | any pooled connection; several statements in a transaction | one writer connection; writes that arrive together share a commit (`writer.rs`) |
//! | leasing webhook deliveries | `FOR UPDATE SKIP LOCKED` | nothing (one writer) |
//! | migrations | `migrations/postgres` | `migrations/sqlite` |
//! | terms (tags, SKUs) kept by | a PL/pgSQL trigger | SQL triggers |
//! | search text (`q`) | `LIKE` on a stored column with a `pg_trgm` index | an FTS5 trigram table kept by triggers |
//! | total range | `NUMERIC` compared | a fixed-width text key of the total, compared |

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::EventRecord;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::list::Clause;
use crate::{Claim, PaymentAttempt, PoolStats, RepoError, SearchText, TotalBound};

/// A boxed future that may hold borrows for `'a`.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How many order-number sequence values one draw reserves (migration
/// `20261122000005_sequence_blocks.sql` for PostgreSQL; `SQLite::NEXT_BLOCK` moves its row by
/// the same).
pub(crate) const SEQUENCE_BLOCK: u64 = 64;

/// A value bound to a statement, in the store's terms; each dialect encodes it in its own.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Uuid(Option<Uuid>),
    Text(Option<String>),
    /// A PostgreSQL `SMALLINT` column; an integer in SQLite.
    Small(Option<i16>),
    /// A PostgreSQL `INTEGER` column.
    Int(Option<i32>),
    /// A PostgreSQL `BIGINT` column.
    Big(Option<i64>),
    Money(Option<Decimal>),
    Time(Option<DateTime<Utc>>),
    Bytes(Option<Vec<u8>>),
    /// A JSON document, as text.
    Json(Option<String>),
}

macro_rules! value_from {
    ($($variant:ident: $type:ty),* $(,)?) => {$(
        impl From<$type> for Value {
            fn from(value: $type) -> Self {
                Self::$variant(Some(value.into()))
            }
        }
        impl From<Option<$type>> for Value {
            fn from(value: Option<$type>) -> Self {
                Self::$variant(value.map(Into::into))
            }
        }
    )*};
}

value_from!(
    Uuid: Uuid,
    Text: String,
    Text: &str,
    Small: i16,
    Int: i32,
    Big: i64,
    Money: Decimal,
    Time: DateTime<Utc>,
    Bytes: Vec<u8>,
    Bytes: &[u8],
);

/// A statement and its values, owned so a write can travel to SQLite's writer.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    /// Constant text, or text put together from constant clauses (`list.rs`): never a value.
    pub(crate) sql: Cow<'static, str>,
    pub(crate) values: Vec<Value>,
    /// Kept prepared on the connection. A statement whose best plan depends on its values
    /// (how common a search word is) is not: PostgreSQL would settle on one generic plan for
    /// every value after five runs.
    pub(crate) persistent: bool,
}

impl Statement {
    pub(crate) fn new(sql: &'static str) -> Self {
        Self {
            sql: Cow::Borrowed(sql),
            values: Vec::new(),
            persistent: true,
        }
    }

    /// A statement assembled from constant clauses; values are bound, never written into it.
    pub(crate) fn owned(sql: String) -> Self {
        Self {
            sql: Cow::Owned(sql),
            values: Vec::new(),
            persistent: true,
        }
    }

    /// Planned for its values at each run, never kept prepared ([`Statement::persistent`]).
    pub(crate) fn planned_each_time(mut self) -> Self {
        self.persistent = false;
        self
    }

    /// Binds the next placeholder.
    pub(crate) fn bind(mut self, value: impl Into<Value>) -> Self {
        self.values.push(value.into());
        self
    }

    /// Binds the next placeholders, in order.
    pub(crate) fn bind_all(mut self, values: impl IntoIterator<Item = Value>) -> Self {
        self.values.extend(values);
        self
    }
}

/// Work a write does on its connection; its borrows end with the future.
pub(crate) trait Work<C, T>:
    for<'c> FnOnce(&'c mut C) -> BoxFuture<'c, Result<T, RepoError>> + Send + 'static
{
}

impl<C, T, F> Work<C, T> for F where
    F: for<'c> FnOnce(&'c mut C) -> BoxFuture<'c, Result<T, RepoError>> + Send + 'static
{
}

/// A result row's columns, by name, in the store's terms.
pub(crate) trait RowRead {
    fn text(&self, column: &str) -> Result<Option<String>, RepoError>;
    /// Any integer column, widened.
    fn int(&self, column: &str) -> Result<Option<i64>, RepoError>;
    fn uuid(&self, column: &str) -> Result<Option<Uuid>, RepoError>;
    fn money(&self, column: &str) -> Result<Option<Decimal>, RepoError>;
    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, RepoError>;
    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, RepoError>;
}

/// A `NOT NULL` column's value.
pub(crate) fn required<T>(value: Option<T>, column: &str) -> Result<T, RepoError> {
    value.ok_or_else(|| RepoError::other(format!("column {column} is unexpectedly NULL")))
}

/// A connection a write runs on (inside a transaction where the write asked for one).
#[async_trait]
pub(crate) trait Conn: Send {
    type Row: RowRead + Send + 'static;
    /// Runs `statement`; the rows it changed.
    async fn execute(&mut self, statement: Statement) -> Result<u64, RepoError>;
    /// Runs `statement`; its first row, if any.
    async fn fetch_optional(
        &mut self,
        statement: Statement,
    ) -> Result<Option<Self::Row>, RepoError>;
    /// Runs `statement`; all its rows.
    async fn fetch_all(&mut self, statement: Statement) -> Result<Vec<Self::Row>, RepoError>;
}

/// A dialect's encoding of [`Value`]s, its rows read through [`RowRead`], and its write
/// connection as [`Conn`]: the table of what differs in how values travel. The plain values
/// (uuids, text, bytes, 64-bit integers) go as they are; each dialect names how `SMALLINT` and
/// `INTEGER` values, money, times and JSON documents go (`encode`) and how integers, money and times come
/// back (`decode`, functions of the row and the column).
macro_rules! values_travel {
    (
        database: $db:ty, arguments: $args:ty, connection: $conn:ty, row: $row:ty,
        encode: {
            small: $small:expr, int: $int:expr, money: $money:expr, time: $time:expr,
            json: $json:expr $(,)?
        },
        decode: { int: $read_int:path, money: $read_money:path, time: $read_time:path $(,)? } $(,)?
    ) => {
        /// `statement` with its values encoded for this database.
        fn query(
            statement: $crate::store::dialect::Statement,
        ) -> sqlx::query::Query<'static, $db, $args> {
            let mut query = match statement.sql {
                std::borrow::Cow::Borrowed(sql) => sqlx::query(sql),
                // Assembled from constant clauses only (`Statement::owned`).
                std::borrow::Cow::Owned(sql) => sqlx::query(sqlx::AssertSqlSafe(sql)),
            }
            .persistent(statement.persistent);
            for value in statement.values {
                query = match value {
                    $crate::store::dialect::Value::Uuid(value) => query.bind(value),
                    $crate::store::dialect::Value::Text(value) => query.bind(value),
                    $crate::store::dialect::Value::Small(value) => query.bind(value.map($small)),
                    $crate::store::dialect::Value::Int(value) => query.bind(value.map($int)),
                    $crate::store::dialect::Value::Big(value) => query.bind(value),
                    $crate::store::dialect::Value::Money(value) => query.bind(value.map($money)),
                    $crate::store::dialect::Value::Time(value) => query.bind(value.map($time)),
                    $crate::store::dialect::Value::Bytes(value) => query.bind(value),
                    $crate::store::dialect::Value::Json(value) => query.bind(value.map($json)),
                };
            }
            query
        }

        /// All the rows of `statement`, on `conn`.
        async fn fetch_all(
            conn: &mut $conn,
            statement: $crate::store::dialect::Statement,
        ) -> Result<Vec<$row>, $crate::RepoError> {
            Ok(query(statement).fetch_all(conn).await?)
        }

        impl $crate::store::dialect::RowRead for $row {
            fn text(&self, column: &str) -> Result<Option<String>, $crate::RepoError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }

            fn int(&self, column: &str) -> Result<Option<i64>, $crate::RepoError> {
                $read_int(self, column)
            }

            fn uuid(&self, column: &str) -> Result<Option<uuid::Uuid>, $crate::RepoError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }

            fn money(
                &self,
                column: &str,
            ) -> Result<Option<rust_decimal::Decimal>, $crate::RepoError> {
                $read_money(self, column)
            }

            fn time(
                &self,
                column: &str,
            ) -> Result<Option<chrono::DateTime<chrono::Utc>>, $crate::RepoError> {
                $read_time(self, column)
            }

            fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, $crate::RepoError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::dialect::Conn for $conn {
            type Row = $row;

            async fn execute(
                &mut self,
                statement: $crate::store::dialect::Statement,
            ) -> Result<u64, $crate::RepoError> {
                Ok(query(statement).execute(self).await?.rows_affected())
            }

            async fn fetch_optional(
                &mut self,
                statement: $crate::store::dialect::Statement,
            ) -> Result<Option<$row>, $crate::RepoError> {
                Ok(query(statement).fetch_optional(self).await?)
            }

            async fn fetch_all(
                &mut self,
                statement: $crate::store::dialect::Statement,
            ) -> Result<Vec<$row>, $crate::RepoError> {
                Ok(query(statement).fetch_all(self).await?)
            }
        }
    };
}
pub(crate) use values_travel;

/// One database's way of doing what the store asks.
#[async_trait]
pub(crate) trait Dialect: Send + Sync + 'static {
    /// A result row.
    type Row: RowRead + Send + 'static;
    /// What writes run on.
    type Conn: Conn<Row = Self::Row>;

    /// Reserves [`SEQUENCE_BLOCK`] order-number values; returns the first.
    const NEXT_BLOCK: &'static str;
    /// Whether the migrations' bookkeeping table exists yet.
    const MIGRATIONS_BOOKKEPT: &'static str;

    /// Keeps the orders whose search text (number, email, names) contains `text` (`list.rs`).
    fn matches_text(text: &SearchText) -> Clause;
    /// Keeps the orders whose total is at least `bound`.
    fn total_at_least(bound: TotalBound) -> Clause;
    /// Keeps the orders whose total is at most `bound`.
    fn total_at_most(bound: TotalBound) -> Clause;

    /// Runs a read on a pooled connection: all its rows.
    async fn read_all(&self, statement: Statement) -> Result<Vec<Self::Row>, RepoError>;

    /// Runs `work` as one write; with `atomic`, all of it or none (a SQLite write always is).
    async fn write<T: Send + 'static, W: Work<Self::Conn, T>>(
        &self,
        atomic: bool,
        work: W,
    ) -> Result<T, RepoError>;

    /// A statement whose `bound` column is the transaction id below which every event that
    /// will ever commit already has (`events.rs`); `None` when all that is committed is
    /// settled (SQLite's one writer).
    const FEED_BOUND: Option<&'static str>;
    /// Leases due webhook deliveries (`webhooks.rs`, `claim_deliveries!`): PostgreSQL skips
    /// rows another sender is leasing right now; SQLite's one writer needs nothing.
    const CLAIM_DELIVERIES: &'static str;

    /// Stores the order (its columns are `order_values`) and its first event, linking `claim`
    /// to it; [`RepoError::ClaimLost`] (nothing stored) when the claim is no longer held.
    async fn insert_order(
        conn: &mut Self::Conn,
        order_values: Vec<Value>,
        claim: Option<Claim>,
        event: &EventRecord,
    ) -> Result<(), RepoError>;

    /// The compare-and-set `update` (already bound) with `attempt` audited whether or not it
    /// matches, and `event` recorded when it does; the rows the update changed.
    async fn update_audited(
        conn: &mut Self::Conn,
        update: Statement,
        attempt: &PaymentAttempt,
        event: &EventRecord,
    ) -> Result<u64, RepoError>;

    /// Runs `change` (a constant `INSERT` or `UPDATE` of at most one row of `event`'s order)
    /// and, when it wrote, records `event` chained to the order's last one, atomically: the
    /// rows `change` wrote. Runs inside the write's transaction, as its first write: the
    /// feed's bound on PostgreSQL counts a transaction from its first event statement on, so a
    /// transaction must not take its id (write anything) before it.
    async fn chained(
        conn: &mut Self::Conn,
        change: Statement,
        event: &EventRecord,
    ) -> Result<u64, RepoError> {
        let changed = conn.execute(change).await?;
        if changed == 1 {
            super::events::append_event(conn, event).await?;
        }
        Ok(changed)
    }

    /// The migrations this build carries.
    const MIGRATOR: &'static sqlx::migrate::Migrator;

    /// What must exist before migrations are read: PostgreSQL's schema, with tables an
    /// earlier version left in `public` moved into it (how many moved).
    async fn prepare_migrations(&self) -> Result<u64, RepoError>;

    /// Applies the migrations not applied yet.
    async fn run_migrations(&self) -> Result<(), RepoError>;

    /// Connections and waiters, for metrics.
    fn pool_stats(&self) -> PoolStats;

    /// Finishes the writes under way and closes every connection.
    async fn close(&self);
}
