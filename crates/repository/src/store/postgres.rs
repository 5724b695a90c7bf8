//! PostgreSQL's side of [`Dialect`]: what production replicas share.

use std::convert::identity;
use std::time::Duration;

use async_trait::async_trait;
use ordo_domain::Order;
use rust_decimal::Decimal;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{
    ConnectOptions as _, Connection as _, Postgres, Row as _, TypeInfo as _, ValueRef as _,
};
use uuid::Uuid;

use super::Store;
use super::dialect::{Conn, Dialect, Statement, Value, Work, values_travel};
use super::driver::{Waiting, pool_figures};
use super::orders::{get_where, list_where, number_where};
use super::pg_schema::{self, PgSchema};
use super::rows::{ItemRow, OrderRow, order_columns, order_row};
#[cfg(feature = "test-util")]
use crate::ListQuery;
use crate::{Claim, PaymentAttempt, PoolStats, RepoError};

/// Connection settings for [`crate::PgStore::connect`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The most connections the pool opens. PostgreSQL on a small machine peaks at a handful of
    /// busy connections, so the default is small.
    pub max_connections: u32,
    /// How long a request waits for a free connection before storage counts as unavailable.
    pub acquire_timeout: Duration,
    /// The schema ordo's tables live in (`search_path` of every connection).
    pub schema: PgSchema,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            schema: PgSchema::default(),
        }
    }
}

/// PostgreSQL: a pool whose connections all read and write.
#[derive(Debug, Clone)]
pub struct PgDialect {
    pool: PgPool,
    /// Callers waiting for a connection, for metrics.
    waiting: Waiting,
    /// Where the tables are.
    schema: PgSchema,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The order's columns and its items as arrays, in one row: one round trip per order.
macro_rules! select_order {
    () => {
        concat!(
            "
SELECT ",
            $crate::store::rows::select_columns!(),
            ",
       i.product_ids, i.quantities, i.unit_prices, i.line_totals
FROM orders o
CROSS JOIN LATERAL (
    SELECT array_agg(product_id ORDER BY position) AS product_ids,
           array_agg(quantity ORDER BY position) AS quantities,
           array_agg(unit_price ORDER BY position) AS unit_prices,
           array_agg(line_total ORDER BY position) AS line_totals
    FROM order_items WHERE order_id = o.id
) i"
        )
    };
}

/// The items' rows from `UNNEST` of `$28`..`$32`, after the order's row `new_order`.
macro_rules! insert_items {
    () => {
        "
INSERT INTO order_items (order_id, position, product_id, quantity, unit_price, line_total)
SELECT new_order.id, item.position, item.product_id, item.quantity, item.unit_price, item.line_total
FROM new_order,
     UNNEST($28::smallint[], $29::uuid[], $30::integer[], $31::numeric[], $32::numeric[])
         AS item (position, product_id, quantity, unit_price, line_total)"
    };
}

/// One statement: the order and all its items, whatever their number, atomically.
const INSERT_ORDER: &str = concat!(
    "WITH new_order AS (
    INSERT INTO orders (",
    order_columns!(),
    ")
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20, $21, $22, $23, $24, $25, $26, $27)
    RETURNING id
)",
    insert_items!()
);

/// The same, and the idempotency key (`$33`..`$35`) linked to the order in the same
/// statement; if the claim is no longer held, nothing at all is inserted.
const INSERT_ORDER_CLAIMED: &str = concat!(
    "WITH claim AS (
    UPDATE idempotency_keys SET order_id = $1
    WHERE caller = $33 AND key = $34 AND token = $35
      AND order_id IS NULL AND response_status IS NULL
    RETURNING 1
), new_order AS (
    INSERT INTO orders (",
    order_columns!(),
    ")
    SELECT $1::uuid, $2::text, $3::uuid, $4::char(3), $5::numeric, $6::numeric, $7::text,
           $8::numeric, $9::numeric, $10::numeric, $11::numeric, $12::smallint, $13::text,
           $14::text, $15::text, $16::text, $17::integer, $18::timestamptz, $19::timestamptz,
           $20::text, $21::numeric, $22::numeric, $23::numeric, $24::text, $25::text, $26::text,
           $27::text
    WHERE EXISTS (SELECT 1 FROM claim)
    RETURNING id
)",
    insert_items!()
);

/// `UPDATE_ORDER` with the payment call that caused it audited (`$15`..`$21`) in the same
/// statement. A data-modifying CTE always runs, so the audit row is written whether or not
/// the update matches.
const UPDATE_ORDER_AUDITED: &str = "
WITH attempt AS (
    INSERT INTO payment_attempts (id, order_id, operation, amount, outcome, reference, created_at)
    VALUES ($15, $16, $17, $18, $19, $20, $21)
)
UPDATE orders SET status = $1, cancel_reason = $2, version = $3, updated_at = $4,
                  payment_status = $7, amount_authorized = $8, amount_captured = $9,
                  amount_refunded = $10, payment_reference = $11, payment_pending = $12,
                  pending_status = $13, pending_reason = $14
WHERE id = $5 AND version = $6 AND deleted_at IS NULL";

values_travel! {
    database: Postgres, arguments: PgArguments, connection: PgConnection, row: PgRow,
    encode: { small: identity, int: identity, money: identity, time: identity },
    decode: { int: read_int, money: read_plain, time: read_plain },
}

/// Any integer column: PostgreSQL's integers keep their width on the wire.
fn read_int(row: &PgRow, column: &str) -> Result<Option<i64>, RepoError> {
    let raw = row.try_get_raw(column)?;
    if raw.is_null() {
        return Ok(None);
    }
    let width = raw.type_info();
    Ok(Some(match width.name() {
        "INT2" => i64::from(row.try_get::<i16, _>(column)?),
        "INT4" => i64::from(row.try_get::<i32, _>(column)?),
        _ => row.try_get::<i64, _>(column)?,
    }))
}

/// Money (`NUMERIC`) and times (`TIMESTAMPTZ`) come back as they are.
fn read_plain<T>(row: &PgRow, column: &str) -> Result<Option<T>, RepoError>
where
    for<'r> T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    Ok(row.try_get(column)?)
}

/// An order's items from the arrays `select_order!` puts in its row.
fn items_in_row(row: &PgRow) -> Result<Vec<ItemRow>, RepoError> {
    let product_ids: Vec<Uuid> = row.try_get("product_ids")?;
    let quantities: Vec<i32> = row.try_get("quantities")?;
    let unit_prices: Vec<Decimal> = row.try_get("unit_prices")?;
    let line_totals: Vec<Decimal> = row.try_get("line_totals")?;
    Ok(product_ids
        .into_iter()
        .zip(quantities)
        .zip(unit_prices.into_iter().zip(line_totals))
        .map(
            |((product_id, quantity), (unit_price, line_total))| ItemRow {
                product_id,
                quantity: i64::from(quantity),
                unit_price,
                line_total,
            },
        )
        .collect())
}

impl PgDialect {
    /// A connection from the pool; the wait for it is counted in [`PoolStats::waiting`].
    async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<Postgres>, RepoError> {
        let _waiting = self.waiting.enter();
        Ok(self.pool.acquire().await?)
    }
}

#[async_trait]
impl Dialect for PgDialect {
    type Row = PgRow;
    type Conn = PgConnection;

    const GET_ORDER: &'static str = concat!(select_order!(), get_where!());
    const GET_ORDER_BY_NUMBER: &'static str = concat!(select_order!(), number_where!());
    const LIST_ORDERS: &'static str = concat!(select_order!(), list_where!());
    const NEXT_BLOCK: &'static str = "SELECT nextval('order_number_seq') AS start";
    const MIGRATIONS_BOOKKEPT: &'static str =
        "SELECT CAST(to_regclass('_sqlx_migrations') IS NOT NULL AS INTEGER) AS bookkept";
    const MIGRATOR: &'static sqlx::migrate::Migrator = &MIGRATOR;

    async fn read_all(&self, statement: Statement) -> Result<Vec<PgRow>, RepoError> {
        fetch_all(&mut *self.acquire().await?, statement).await
    }

    async fn write<T: Send + 'static, W: Work<PgConnection, T>>(
        &self,
        atomic: bool,
        work: W,
    ) -> Result<T, RepoError> {
        let mut conn = self.acquire().await?;
        if !atomic {
            return work(&mut conn).await;
        }
        // Dropped on an error (or a cancelled request), the transaction rolls back.
        let mut transaction = conn.begin().await?;
        let done = work(&mut transaction).await?;
        transaction.commit().await?;
        Ok(done)
    }

    async fn with_items(
        &self,
        rows: Vec<PgRow>,
    ) -> Result<Vec<(OrderRow, Vec<ItemRow>)>, RepoError> {
        rows.iter()
            .map(|row| Ok((order_row(row)?, items_in_row(row)?)))
            .collect()
    }

    async fn insert_order(
        conn: &mut PgConnection,
        order: &Order,
        order_values: Vec<Value>,
        claim: Option<Claim>,
    ) -> Result<(), RepoError> {
        let lines = &order.pricing().lines();
        let (mut positions, mut products, mut quantities, mut prices, mut totals) = (
            Vec::with_capacity(lines.len()),
            Vec::with_capacity(lines.len()),
            Vec::with_capacity(lines.len()),
            Vec::with_capacity(lines.len()),
            Vec::with_capacity(lines.len()),
        );
        for (position, line) in lines.iter().enumerate() {
            positions.push(i16::try_from(position).map_err(RepoError::other)?);
            products.push(line.product_id.as_uuid());
            quantities.push(i32::try_from(line.quantity.get()).map_err(RepoError::other)?);
            prices.push(line.unit_price);
            totals.push(line.line_total);
        }
        let sql = if claim.is_some() {
            INSERT_ORDER_CLAIMED
        } else {
            INSERT_ORDER
        };
        let mut statement = query(Statement::new(sql).bind_all(order_values))
            .bind(positions)
            .bind(products)
            .bind(quantities)
            .bind(prices)
            .bind(totals);
        if let Some(claim) = claim {
            statement = statement
                .bind(claim.scope.caller)
                .bind(claim.scope.key)
                .bind(claim.token);
        }
        // Items are never empty, so no row means the claim was not held.
        if statement.execute(conn).await?.rows_affected() == 0 {
            Err(RepoError::ClaimLost)
        } else {
            Ok(())
        }
    }

    async fn update_audited(
        conn: &mut PgConnection,
        update: Statement,
        attempt: &PaymentAttempt,
    ) -> Result<u64, RepoError> {
        let audited = Statement::new(UPDATE_ORDER_AUDITED)
            .bind_all(update.values)
            .bind_all(super::rows::attempt_values(attempt));
        conn.execute(audited).await
    }

    async fn prepare_migrations(&self) -> Result<u64, RepoError> {
        let versions: Vec<i64> = MIGRATOR.iter().map(|migration| migration.version).collect();
        pg_schema::prepare(&mut *self.acquire().await?, &self.schema, &versions).await
    }

    async fn run_migrations(&self) -> Result<(), RepoError> {
        // sqlx serialises replicas migrating at once with an advisory lock.
        MIGRATOR.run(&self.pool).await.map_err(RepoError::other)
    }

    fn pool_stats(&self) -> PoolStats {
        pool_figures(&self.pool, &self.waiting)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

impl Store<PgDialect> {
    /// Connects a pool to `url` (`postgres://user@host:port/database`).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the server cannot be reached; [`RepoError::Other`] for a
    /// malformed URL.
    pub async fn connect(url: &str, options: &PgOptions) -> Result<Self, RepoError> {
        let connect: PgConnectOptions = url.parse().map_err(RepoError::other)?;
        // Appended after any `options` in the URL, so the setting wins.
        let connect = connect
            .options([("search_path", options.schema.as_str())])
            .log_statements(tracing::log::LevelFilter::Debug);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // sqlx pings each connection as it leaves the pool by default: a second round trip
            // for every query. A connection that broke meanwhile fails its query instead, is
            // dropped, and the request answers 503; the next one gets a fresh connection.
            .test_before_acquire(false)
            .connect_with(connect)
            .await?;
        Ok(Self::new(PgDialect {
            pool,
            waiting: Waiting::default(),
            schema: options.schema.clone(),
        }))
    }

    /// `EXPLAIN` of the list query as [`crate::OrderRepository::list`] sends it, for plan
    /// checks.
    ///
    /// # Errors
    /// As [`crate::OrderRepository::list`].
    #[cfg(feature = "test-util")]
    pub async fn explain_list(&self, query: &ListQuery) -> Result<String, RepoError> {
        const EXPLAIN: &str = concat!("EXPLAIN ", select_order!(), list_where!());
        self.read_all(super::orders::list_statement(EXPLAIN, query))
            .await?
            .iter()
            .map(|row| {
                let line = super::dialect::RowRead::text(row, "QUERY PLAN")?;
                super::dialect::required(line, "QUERY PLAN")
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|lines| lines.join("\n"))
    }
}

#[cfg(test)]
#[path = "bench_scripts.rs"]
mod bench_scripts;
