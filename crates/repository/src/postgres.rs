//! The PostgreSQL store: what production replicas share.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::{Order, OrderId, OrderStatus, Version};
use rust_decimal::Decimal;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions as _, Row as _};
use uuid::Uuid;

use crate::payments::ledger_entry;
use crate::sql::{
    ItemRow, KeyRow, KeyRows, OrderRow, PIN_FACT, TAKE_LEASE, begin_key, check_next_version,
    discount_columns, headers_from_text, headers_to_text, list_bounds, missed_write, newly_applied,
    page, pending_columns, restore, version_column,
};
use crate::{
    Begin, Claim, GatewayLedger, IdempotencyStore, KeyRequest, KeyScope, LedgerEntry, ListQuery,
    OrderRepository, Page, PaymentAttempt, Refund, RefundStatus, RepoError, StoredResponse,
};

/// Connection settings for [`PgStore::connect`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The most connections the pool opens. PostgreSQL on a small machine peaks at a handful of
    /// busy connections, so the default is small.
    pub max_connections: u32,
    /// How long a request waits for a free connection before storage counts as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Orders in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Callers waiting for a connection, for metrics.
    waiting: crate::sql::Waiting,
    /// Sequence values this process took from the database and has not handed out yet.
    sequence_block: Arc<std::sync::Mutex<std::ops::Range<u64>>>,
}

/// How many sequence values one `nextval` reserves: the sequence's `INCREMENT BY` (migration
/// `20261122000005_sequence_blocks.sql`).
const SEQUENCE_BLOCK: u64 = 64;

/// The order's columns and its items as arrays, in one row: one round trip per order.
macro_rules! select_order {
    () => {
        "
SELECT o.id, o.order_number, o.customer_id, o.currency, o.subtotal, o.discount, o.discount_kind,
       o.discount_value, o.tax_rate, o.tax, o.total, o.minor_units, o.rounding_mode,
       o.tax_rounding, o.status, o.cancel_reason, o.version, o.created_at, o.updated_at,
       o.payment_status, o.amount_authorized, o.amount_captured, o.amount_refunded,
       o.payment_reference, o.payment_pending, o.pending_status, o.pending_reason,
       i.product_ids, i.quantities, i.unit_prices, i.line_totals
FROM orders o
CROSS JOIN LATERAL (
    SELECT array_agg(product_id ORDER BY position) AS product_ids,
           array_agg(quantity ORDER BY position) AS quantities,
           array_agg(unit_price ORDER BY position) AS unit_prices,
           array_agg(line_total ORDER BY position) AS line_totals
    FROM order_items WHERE order_id = o.id
) i"
    };
}

const GET_ORDER: &str = concat!(select_order!(), " WHERE o.id = $1 AND o.deleted_at IS NULL");

/// A customer's orders below an upper `(created_at, id)` bound and at or above a lower
/// `created_at` bound, newest first. The row comparison lets the index scan start at the bound.
macro_rules! list_orders {
    () => {
        concat!(
            select_order!(),
            "
WHERE o.customer_id = $1 AND o.deleted_at IS NULL
  AND (o.created_at, o.id) < ($2, $3)
  AND o.created_at >= $4
  AND ($5::text IS NULL OR o.status = $5)
ORDER BY o.created_at DESC, o.id DESC
LIMIT $6"
        )
    };
}

/// The order's row and its items' rows from `UNNEST`, inserted by one statement. `$source`
/// is where the order row comes from: its values, or its values only if a claim was linked.
macro_rules! insert_order {
    ($claim:literal, $source:literal) => {
        concat!(
            $claim,
            "new_order AS (
    INSERT INTO orders (id, order_number, customer_id, currency, subtotal, discount,
                        discount_kind, discount_value, tax_rate, tax, total, minor_units,
                        rounding_mode, tax_rounding, status, cancel_reason, version,
                        created_at, updated_at, payment_status, amount_authorized,
                        amount_captured, amount_refunded, payment_reference,
                        payment_pending, pending_status, pending_reason)
    ",
            $source,
            "
    RETURNING id
)
INSERT INTO order_items (order_id, position, product_id, quantity, unit_price, line_total)
SELECT new_order.id, item.position, item.product_id, item.quantity, item.unit_price, item.line_total
FROM new_order,
     UNNEST($20::smallint[], $21::uuid[], $22::integer[], $23::numeric[], $24::numeric[])
         AS item (position, product_id, quantity, unit_price, line_total)"
        )
    };
}

/// One statement: the order and all its items, whatever their number, atomically.
const INSERT_ORDER: &str = insert_order!(
    "WITH ",
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
            $25, $26, $27, $28, $29, $30, $31, $32)"
);

/// The same, and the idempotency key linked to the order in the same statement; if the claim
/// is no longer held, nothing at all is inserted.
const INSERT_ORDER_CLAIMED: &str = insert_order!(
    "WITH claim AS (
    UPDATE idempotency_keys SET order_id = $1
    WHERE caller = $30 AND key = $31 AND token = $32
      AND order_id IS NULL AND response_status IS NULL
    RETURNING 1
), ",
    "SELECT $1::uuid, $2::text, $3::uuid, $4::char(3), $5::numeric, $6::numeric, $7::text,
           $8::numeric, $9::numeric, $10::numeric, $11::numeric, $12::smallint, $13::text,
           $14::text, $15::text, $16::text, $17::integer, $18::timestamptz, $19::timestamptz,
           $25::text, $26::numeric, $27::numeric, $28::numeric, $29::text, $33::text, $34::text,
           $35::text
    WHERE EXISTS (SELECT 1 FROM claim)"
);

const UPDATE_ORDER: &str = "
UPDATE orders SET status = $1, cancel_reason = $2, version = $3, updated_at = $4,
                  payment_status = $7, amount_authorized = $8, amount_captured = $9,
                  amount_refunded = $10, payment_reference = $11, payment_pending = $12,
                  pending_status = $13, pending_reason = $14
WHERE id = $5 AND version = $6 AND deleted_at IS NULL";

/// `UPDATE_ORDER` with the payment call that caused it audited in the same statement. A
/// data-modifying CTE always runs, so the audit row is written whether or not the update
/// matches, as when it was written first on its own.
const UPDATE_ORDER_AUDITED: &str = "
WITH attempt AS (
    INSERT INTO payment_attempts (id, order_id, operation, amount, outcome, reference, created_at)
    VALUES ($15, $5, $16, $17, $18, $19, $20)
)
UPDATE orders SET status = $1, cancel_reason = $2, version = $3, updated_at = $4,
                  payment_status = $7, amount_authorized = $8, amount_captured = $9,
                  amount_refunded = $10, payment_reference = $11, payment_pending = $12,
                  pending_status = $13, pending_reason = $14
WHERE id = $5 AND version = $6 AND deleted_at IS NULL";

const SOFT_DELETE: &str = "
UPDATE orders SET deleted_at = $2, updated_at = $2, version = version + 1
WHERE id = $1 AND deleted_at IS NULL AND ($3::integer IS NULL OR version = $3)";

const CURRENT_VERSION: &str = "SELECT version FROM orders WHERE id = $1 AND deleted_at IS NULL";

impl PgStore {
    /// Connects a pool to `url` (`postgres://user@host:port/database`).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the server cannot be reached; [`RepoError::Other`] for a
    /// malformed URL.
    pub async fn connect(url: &str, options: &PgOptions) -> Result<Self, RepoError> {
        let connect: PgConnectOptions = url.parse().map_err(RepoError::other)?;
        let connect = connect.log_statements(tracing::log::LevelFilter::Debug);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // sqlx pings each connection as it leaves the pool by default: a second round trip
            // for every query. A connection that broke meanwhile fails its query instead, is
            // dropped, and the request answers 503; the next one gets a fresh connection.
            .test_before_acquire(false)
            .connect_with(connect)
            .await?;
        Ok(Self {
            pool,
            waiting: crate::sql::Waiting::default(),
            sequence_block: Arc::new(std::sync::Mutex::new(0..0)),
        })
    }

    /// Applies the migrations in `migrations/postgres` that have not run yet, and names them
    /// (`"<version> <description>"`). Safe to call from
    /// several replicas at once: sqlx serialises them with an advisory lock.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    pub async fn migrate(&self) -> Result<Vec<String>, RepoError> {
        let migrator = sqlx::migrate!("../../migrations/postgres");
        // Before the first run the bookkeeping table does not exist: nothing was applied. Any
        // other failure to read it is an error, not "nothing applied".
        let bookkept: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        let applied: Vec<i64> = if bookkept {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
                .fetch_all(&self.pool)
                .await?
        } else {
            Vec::new()
        };
        migrator.run(&self.pool).await.map_err(RepoError::other)?;
        Ok(newly_applied(&migrator, &applied))
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The next value of this process's sequence block, if any is left.
    fn take_from_block(&self) -> Option<u64> {
        self.sequence_block.lock().ok()?.next()
    }

    /// A connection from the pool; the wait for it is counted in [`crate::PoolStats::waiting`].
    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, RepoError> {
        let _waiting = self.waiting.enter();
        Ok(self.pool.acquire().await?)
    }
}

fn order_from_row(row: &PgRow) -> Result<Order, RepoError> {
    let product_ids: Vec<Uuid> = row.try_get("product_ids")?;
    let quantities: Vec<i32> = row.try_get("quantities")?;
    let unit_prices: Vec<Decimal> = row.try_get("unit_prices")?;
    let line_totals: Vec<Decimal> = row.try_get("line_totals")?;
    let items = product_ids
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
        .collect();
    let order = OrderRow {
        id: row.try_get("id")?,
        number: row.try_get("order_number")?,
        customer_id: row.try_get("customer_id")?,
        currency: row.try_get("currency")?,
        subtotal: row.try_get("subtotal")?,
        discount: row.try_get("discount")?,
        discount_kind: row.try_get("discount_kind")?,
        discount_value: row.try_get("discount_value")?,
        tax_rate: row.try_get("tax_rate")?,
        tax: row.try_get("tax")?,
        total: row.try_get("total")?,
        minor_units: i64::from(row.try_get::<i16, _>("minor_units")?),
        rounding_mode: row.try_get("rounding_mode")?,
        tax_rounding: row.try_get("tax_rounding")?,
        status: row.try_get("status")?,
        cancel_reason: row.try_get("cancel_reason")?,
        version: i64::from(row.try_get::<i32, _>("version")?),
        payment_status: row.try_get("payment_status")?,
        amount_authorized: row.try_get("amount_authorized")?,
        amount_captured: row.try_get("amount_captured")?,
        amount_refunded: row.try_get("amount_refunded")?,
        payment_reference: row.try_get("payment_reference")?,
        payment_pending: row.try_get("payment_pending")?,
        pending_status: row.try_get("pending_status")?,
        pending_reason: row.try_get("pending_reason")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    };
    restore(order, items)
}

/// Binds the list query's parameters, one more row than the page to learn if more exist.
fn bind_list<'q, Q: BindList<'q>>(statement: Q, query: &ListQuery) -> Q {
    let ((before_time, before_id), after_time) = list_bounds(query);
    statement
        .bind_value(query.customer_id.as_uuid())
        .bind_value(before_time)
        .bind_value(before_id)
        .bind_value(after_time)
        .bind_value(query.status.map(OrderStatus::as_str))
        .bind_value(i64::from(query.limit.get()).saturating_add(1))
}

/// `bind` for both `query` and `query_scalar`, which sqlx gives no common trait.
trait BindList<'q>: Sized {
    fn bind_value<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send;
}

impl<'q> BindList<'q> for sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    fn bind_value<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
    {
        self.bind(value)
    }
}

impl<'q, O> BindList<'q>
    for sqlx::query::QueryScalar<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>
{
    fn bind_value<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
    {
        self.bind(value)
    }
}

/// The compare-and-set write of an order's mutable fields.
fn update_order(
    order: &Order,
    expected: Version,
) -> Result<sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>, RepoError> {
    update_order_with(UPDATE_ORDER, order, expected)
}

/// `statement` (`UPDATE_ORDER` or a statement built on it) with the order's values bound as
/// `$1`..`$14`.
fn update_order_with(
    statement: &'static str,
    order: &Order,
    expected: Version,
) -> Result<sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>, RepoError> {
    Ok(sqlx::query(statement)
        .bind(order.status().as_str())
        .bind(
            order
                .cancel_reason()
                .map(|reason| reason.as_str().to_owned()),
        )
        .bind(int_version(order.version())?)
        .bind(order.updated_at())
        .bind(order.id().as_uuid())
        .bind(int_version(expected)?)
        .bind(order.payment().status.as_str())
        .bind(order.payment().authorized)
        .bind(order.payment().captured)
        .bind(order.payment().refunded)
        .bind(order.payment().reference.clone())
        .bind(pending_columns(order).0)
        .bind(pending_columns(order).1)
        .bind(pending_columns(order).2))
}

fn refund_from_row(row: &PgRow) -> Result<Refund, RepoError> {
    let status: String = row.try_get("status")?;
    Ok(Refund {
        id: row.try_get("id")?,
        order_id: OrderId::from_uuid(row.try_get("order_id")?).map_err(RepoError::other)?,
        amount: row.try_get("amount")?,
        reason: row.try_get("reason")?,
        status: RefundStatus::parse(&status)
            .ok_or_else(|| RepoError::other("invalid refund status"))?,
        created_at: row.try_get("created_at")?,
    })
}

fn int_version(version: Version) -> Result<i32, RepoError> {
    i32::try_from(version_column(version)).map_err(RepoError::other)
}

#[async_trait]
impl OrderRepository for PgStore {
    #[tracing::instrument(skip_all, err)]
    async fn next_order_sequence(&self) -> Result<u64, RepoError> {
        if let Some(value) = self.take_from_block() {
            return Ok(value);
        }
        let start: i64 = sqlx::query_scalar("SELECT nextval('order_number_seq')")
            .fetch_one(&mut *self.conn().await?)
            .await?;
        let start = u64::try_from(start).map_err(RepoError::other)?;
        // Two callers may fetch blocks at once: the later one replaces the other's remainder,
        // whose values are then never handed out, so none is handed out twice.
        let rest = start.saturating_add(1)..start.saturating_add(SEQUENCE_BLOCK);
        if let Ok(mut block) = self.sequence_block.lock() {
            *block = rest;
        }
        Ok(start)
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id()), err)]
    async fn insert<'a>(&self, order: &Order, claim: Option<&'a Claim>) -> Result<(), RepoError> {
        let pricing = order.pricing();
        let (discount_kind, discount_value) = discount_columns(pricing.discount_rule);
        let count = pricing.lines.len();
        let (mut positions, mut products, mut quantities, mut prices, mut totals) = (
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
        );
        for (position, line) in pricing.lines.iter().enumerate() {
            positions.push(i16::try_from(position).map_err(RepoError::other)?);
            products.push(line.product_id.as_uuid());
            quantities.push(i32::try_from(line.quantity.get()).map_err(RepoError::other)?);
            prices.push(line.unit_price);
            totals.push(line.line_total);
        }
        let statement = if claim.is_some() {
            INSERT_ORDER_CLAIMED
        } else {
            INSERT_ORDER
        };
        let mut query = sqlx::query(statement)
            .bind(order.id().as_uuid())
            .bind(order.number().to_string())
            .bind(order.customer_id().as_uuid())
            .bind(pricing.currency.code())
            .bind(pricing.subtotal)
            .bind(pricing.discount)
            .bind(discount_kind)
            .bind(discount_value)
            .bind(pricing.tax_rate)
            .bind(pricing.tax)
            .bind(pricing.total)
            .bind(i16::from(pricing.rounding.minor_units()))
            .bind(pricing.rounding.mode().as_str())
            .bind(pricing.rounding.tax().as_str())
            .bind(order.status().as_str())
            .bind(
                order
                    .cancel_reason()
                    .map(|reason| reason.as_str().to_owned()),
            )
            .bind(int_version(order.version())?)
            .bind(order.created_at())
            .bind(order.updated_at())
            .bind(positions)
            .bind(products)
            .bind(quantities)
            .bind(prices)
            .bind(totals)
            .bind(order.payment().status.as_str())
            .bind(order.payment().authorized)
            .bind(order.payment().captured)
            .bind(order.payment().refunded)
            .bind(order.payment().reference.clone());
        if let Some(claim) = claim {
            query = query
                .bind(&claim.scope.caller)
                .bind(&claim.scope.key)
                .bind(claim.token);
        }
        let (pending, pending_status, pending_reason) = pending_columns(order);
        query = query
            .bind(pending)
            .bind(pending_status)
            .bind(pending_reason);
        let inserted = query.execute(&mut *self.conn().await?).await?;
        // Items are never empty, so no row means the claim was not held.
        if inserted.rows_affected() == 0 {
            Err(RepoError::ClaimLost)
        } else {
            Ok(())
        }
    }

    #[tracing::instrument(skip_all, fields(order_id = %id), err)]
    async fn get(&self, id: OrderId) -> Result<Order, RepoError> {
        let row = sqlx::query(GET_ORDER)
            .bind(id.as_uuid())
            .fetch_one(&mut *self.conn().await?)
            .await?;
        order_from_row(&row)
    }

    #[tracing::instrument(skip_all, fields(customer_id = %query.customer_id), err)]
    async fn list(&self, query: &ListQuery) -> Result<Page, RepoError> {
        let rows = bind_list(sqlx::query(list_orders!()), query)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        let mut orders = rows
            .iter()
            .map(order_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page(&mut orders, query.limit.get()))
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id()), err)]
    async fn update(&self, order: &Order, expected: Version) -> Result<(), RepoError> {
        check_next_version(order, expected)?;
        let done = update_order(order, expected)?
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(self.why_missed(order.id()).await)
        }
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id()), err)]
    async fn update_with_attempt(
        &self,
        order: &Order,
        expected: Version,
        attempt: &PaymentAttempt,
    ) -> Result<(), RepoError> {
        check_next_version(order, expected)?;
        // The statement audits under the order's id ($5).
        if attempt.order_id != order.id() {
            return Err(RepoError::other(
                "a payment attempt audited with another order",
            ));
        }
        let done = update_order_with(UPDATE_ORDER_AUDITED, order, expected)?
            .bind(attempt.id)
            .bind(attempt.operation.as_str())
            .bind(attempt.amount)
            .bind(attempt.outcome.as_str())
            .bind(attempt.reference.clone())
            .bind(attempt.at)
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(self.why_missed(order.id()).await)
        }
    }

    #[tracing::instrument(skip_all, fields(order_id = %attempt.order_id), err)]
    async fn record_payment_attempt(&self, attempt: &PaymentAttempt) -> Result<(), RepoError> {
        sqlx::query(
            "INSERT INTO payment_attempts (id, order_id, operation, amount, outcome, reference, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(attempt.id)
        .bind(attempt.order_id.as_uuid())
        .bind(attempt.operation.as_str())
        .bind(attempt.amount)
        .bind(attempt.outcome.as_str())
        .bind(attempt.reference.clone())
        .bind(attempt.at)
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id()), err)]
    async fn reserve_refund(
        &self,
        order: &Order,
        expected: Version,
        refund: &Refund,
    ) -> Result<(), RepoError> {
        check_next_version(order, expected)?;
        let mut conn = self.conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let done = update_order(order, expected)?.execute(&mut *tx).await?;
        if done.rows_affected() != 1 {
            drop(tx);
            drop(conn);
            return Err(self.why_missed(order.id()).await);
        }
        sqlx::query(
            "INSERT INTO refunds (id, order_id, amount, reason, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(refund.id)
        .bind(refund.order_id.as_uuid())
        .bind(refund.amount)
        .bind(&refund.reason)
        .bind(refund.status.as_str())
        .bind(refund.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, err)]
    async fn settle_refund<'a>(
        &self,
        refund_id: Uuid,
        status: RefundStatus,
        order: Option<(&'a Order, Version)>,
        at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let marked = sqlx::query(
            "UPDATE refunds SET status = $2, updated_at = $3 WHERE id = $1 AND status = 'pending'",
        )
        .bind(refund_id)
        .bind(status.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() != 1 {
            return Err(RepoError::NotFound);
        }
        if let Some((order, expected)) = order {
            check_next_version(order, expected)?;
            let done = update_order(order, expected)?.execute(&mut *tx).await?;
            if done.rows_affected() != 1 {
                drop(tx);
                drop(conn);
                return Err(self.why_missed(order.id()).await);
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn pending_refunds(&self, limit: u32) -> Result<Vec<Refund>, RepoError> {
        let rows = sqlx::query(
            "SELECT id, order_id, amount, reason, status, created_at FROM refunds
             WHERE status = 'pending' ORDER BY created_at LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(refund_from_row).collect()
    }

    async fn orders_with_pending_payment(
        &self,
        limit: u32,
        claimed_before: DateTime<Utc>,
    ) -> Result<Vec<OrderId>, RepoError> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM orders
             WHERE payment_pending IS NOT NULL AND deleted_at IS NULL
               AND (payment_status = 'unknown' OR updated_at < $2)
             ORDER BY updated_at LIMIT $1",
        )
        .bind(i64::from(limit))
        .bind(claimed_before)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        ids.into_iter()
            .map(|id| OrderId::from_uuid(id).map_err(RepoError::other))
            .collect()
    }

    fn pool_stats(&self) -> crate::PoolStats {
        crate::PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
            waiting: self.waiting.count(),
        }
    }

    async fn check_ready(&self) -> Result<(), RepoError> {
        let latest = sqlx::migrate!("../../migrations/postgres")
            .iter()
            .map(|m| m.version)
            .max();
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&mut *self.conn().await?)
                .await?;
        if applied < latest {
            return Err(RepoError::other(
                "database migrations are pending: run `ordo migrate`",
            ));
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(order_id = %id), err)]
    async fn soft_delete(
        &self,
        id: OrderId,
        expected: Option<Version>,
        at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let expected = expected.map(int_version).transpose()?;
        let done = sqlx::query(SOFT_DELETE)
            .bind(id.as_uuid())
            .bind(at)
            .bind(expected)
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(self.why_missed(id).await)
        }
    }
}

impl PgStore {
    async fn why_missed(&self, id: OrderId) -> RepoError {
        let mut conn = match self.conn().await {
            Ok(conn) => conn,
            Err(error) => return error,
        };
        let current: Result<Option<i32>, sqlx::Error> = sqlx::query_scalar(CURRENT_VERSION)
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await;
        match current {
            Ok(version) => missed_write(version.map(i64::from)),
            Err(error) => error.into(),
        }
    }

    /// `EXPLAIN` of the list query as [`OrderRepository::list`] sends it, for plan checks.
    ///
    /// # Errors
    /// As [`OrderRepository::list`].
    #[cfg(feature = "test-util")]
    pub async fn explain_list(&self, query: &ListQuery) -> Result<String, RepoError> {
        let explain = sqlx::query_scalar(concat!("EXPLAIN ", list_orders!()));
        let lines: Vec<String> = bind_list(explain, query)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        Ok(lines.join("\n"))
    }
}

#[async_trait]
impl KeyRows for PgStore {
    async fn insert_or_restart(&self, request: &KeyRequest) -> Result<bool, RepoError> {
        let row = sqlx::query(
            "INSERT INTO idempotency_keys (caller, key, fingerprint, token, locked_until, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (caller, key) DO UPDATE SET
                 fingerprint = EXCLUDED.fingerprint, token = EXCLUDED.token,
                 locked_until = EXCLUDED.locked_until, order_id = NULL, response_status = NULL,
                 response_headers = NULL, response_body = NULL,
                 created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
             WHERE idempotency_keys.expires_at <= EXCLUDED.created_at
             RETURNING 1",
        )
        .bind(&request.scope.caller)
        .bind(&request.scope.key)
        .bind(&request.fingerprint)
        .bind(request.token)
        .bind(request.lease_until)
        .bind(request.now)
        .bind(request.expires_at)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        Ok(row.is_some())
    }

    async fn read_key(&self, scope: &KeyScope) -> Result<Option<KeyRow>, RepoError> {
        let row = sqlx::query(
            "SELECT fingerprint, token, locked_until, response_status, response_headers, response_body
             FROM idempotency_keys WHERE caller = $1 AND key = $2",
        )
        .bind(&scope.caller)
        .bind(&scope.key)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let status: Option<i16> = row.try_get("response_status")?;
        let response = match status {
            None => None,
            Some(status) => Some(StoredResponse {
                status: u16::try_from(status).map_err(RepoError::other)?,
                headers: headers_from_text(&row.try_get::<String, _>("response_headers")?)?,
                body: row.try_get("response_body")?,
            }),
        };
        Ok(Some(KeyRow {
            fingerprint: row.try_get("fingerprint")?,
            token: row.try_get("token")?,
            locked_until: row.try_get("locked_until")?,
            response,
        }))
    }

    async fn take_over(
        &self,
        request: &KeyRequest,
        old: Uuid,
    ) -> Result<Option<Option<Uuid>>, RepoError> {
        let row: Option<(Option<Uuid>,)> = sqlx::query_as(
            "UPDATE idempotency_keys SET token = $3, locked_until = $4
             WHERE caller = $1 AND key = $2 AND token = $5 AND response_status IS NULL
             RETURNING order_id",
        )
        .bind(&request.scope.caller)
        .bind(&request.scope.key)
        .bind(request.token)
        .bind(request.lease_until)
        .bind(old)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        Ok(row.map(|(order_id,)| order_id))
    }
}

#[async_trait]
impl IdempotencyStore for PgStore {
    #[tracing::instrument(skip_all, err)]
    async fn begin(&self, request: &KeyRequest) -> Result<Begin, RepoError> {
        begin_key(self, request).await
    }

    #[tracing::instrument(skip_all, err)]
    async fn complete(&self, claim: &Claim, response: &StoredResponse) -> Result<(), RepoError> {
        let done = sqlx::query(
            "UPDATE idempotency_keys
             SET response_status = $4, response_headers = $5, response_body = $6
             WHERE caller = $1 AND key = $2 AND token = $3 AND response_status IS NULL",
        )
        .bind(&claim.scope.caller)
        .bind(&claim.scope.key)
        .bind(claim.token)
        .bind(i16::try_from(response.status).map_err(RepoError::other)?)
        .bind(headers_to_text(&response.headers)?)
        .bind(&response.body)
        .execute(&mut *self.conn().await?)
        .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(RepoError::ClaimLost)
        }
    }

    #[tracing::instrument(skip_all, err)]
    async fn release(&self, claim: &Claim, now: DateTime<Utc>) -> Result<(), RepoError> {
        // Unlinked: forget the key. Linked to an order: keep it, end the lease.
        sqlx::query(
            "DELETE FROM idempotency_keys
             WHERE caller = $1 AND key = $2 AND token = $3 AND order_id IS NULL AND response_status IS NULL",
        )
        .bind(&claim.scope.caller)
        .bind(&claim.scope.key)
        .bind(claim.token)
        .execute(&mut *self.conn().await?)
        .await?;
        sqlx::query(
            "UPDATE idempotency_keys SET locked_until = $4
             WHERE caller = $1 AND key = $2 AND token = $3 AND response_status IS NULL",
        )
        .bind(&claim.scope.caller)
        .bind(&claim.scope.key)
        .bind(claim.token)
        .bind(now)
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, err)]
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(done.rows_affected())
    }
}

/// The simulated gateway's write: the row first kept for the key, in one round trip.
const REMEMBER: &str = "INSERT INTO simulated_gateway_ledger
                 (idempotency_key, operation, order_id, amount, outcome, reference, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
             RETURNING idempotency_key, operation, order_id, amount, outcome, reference, created_at";

const LEDGER_COLUMNS: &str =
    "SELECT idempotency_key, operation, order_id, amount, outcome, reference, created_at
     FROM simulated_gateway_ledger WHERE idempotency_key = $1";

#[async_trait]
impl GatewayLedger for PgStore {
    async fn remember(&self, entry: &LedgerEntry) -> Result<LedgerEntry, RepoError> {
        // One round trip: on a repeated key, the no-op update makes RETURNING give the row
        // first written, so the first outcome is the one every retry sees.
        let row = sqlx::query(REMEMBER)
            .bind(&entry.key)
            .bind(entry.operation.as_str())
            .bind(entry.order_id.as_uuid())
            .bind(entry.amount)
            .bind(if entry.approved {
                "approved"
            } else {
                "declined"
            })
            .bind(&entry.reference)
            .bind(entry.at)
            .fetch_one(&mut *self.conn().await?)
            .await?;
        ledger_row(&row)
    }

    async fn find(&self, key: &str) -> Result<Option<LedgerEntry>, RepoError> {
        let row = sqlx::query(LEDGER_COLUMNS)
            .bind(key)
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        row.as_ref().map(ledger_row).transpose()
    }

    async fn entries<'a>(
        &self,
        after: Option<&'a str>,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, RepoError> {
        let rows = sqlx::query(crate::payments::LEDGER_PAGE)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.conn().await?)
            .await?;
        rows.iter().map(ledger_row).collect()
    }
}

/// A ledger row as the gateway's entry.
fn ledger_row(row: &PgRow) -> Result<LedgerEntry, RepoError> {
    ledger_entry(
        row.try_get("idempotency_key")?,
        &row.try_get::<String, _>("operation")?,
        row.try_get("order_id")?,
        row.try_get("amount")?,
        &row.try_get::<String, _>("outcome")?,
        row.try_get("reference")?,
        row.try_get("created_at")?,
    )
}

/// `cargo xtask bench` compares ordo with pgbench running "the SQL ordo sends": these tests
/// keep `bench/pgbench/` from drifting away from the statements above.
/// Facts and leases are one per database: shared by every replica.
#[async_trait]
impl crate::Coordination for PgStore {
    #[tracing::instrument(skip_all, fields(name), err)]
    async fn pin_fact(&self, name: &str, value: &str) -> Result<String, RepoError> {
        Ok(sqlx::query_scalar(PIN_FACT)
            .bind(name)
            .bind(value)
            .fetch_one(&mut *self.conn().await?)
            .await?)
    }

    #[tracing::instrument(skip_all, fields(job), err)]
    async fn take_lease(
        &self,
        job: &str,
        holder: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let taken: Option<Uuid> = sqlx::query_scalar(TAKE_LEASE)
            .bind(job)
            .bind(holder)
            .bind(until)
            .bind(now)
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        Ok(taken == Some(holder))
    }
}

#[cfg(test)]
mod bench_scripts {
    use super::{INSERT_ORDER, REMEMBER, UPDATE_ORDER, UPDATE_ORDER_AUDITED};

    fn words(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn script(name: &str) -> String {
        let path = format!("{}/../../bench/pgbench/{name}", env!("CARGO_MANIFEST_DIR"));
        words(&std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}")))
    }

    #[test]
    fn reads_run_the_select_the_store_sends() {
        let select = words(select_order!());
        for name in ["get.sql", "list.sql"] {
            assert!(
                script(name).contains(&select),
                "{name} differs from select_order!"
            );
        }
        assert!(script("get.sql").contains("WHERE o.id = "));
        let order_by = words("ORDER BY o.created_at DESC, o.id DESC LIMIT");
        assert!(script("list.sql").contains(&order_by));
    }

    #[test]
    fn creates_insert_as_the_store_does() {
        let items = words(
            "INSERT INTO order_items (order_id, position, product_id, quantity, unit_price, line_total)
             SELECT new_order.id, item.position, item.product_id, item.quantity, item.unit_price, item.line_total
             FROM new_order,",
        );
        assert!(
            words(INSERT_ORDER).contains(&items),
            "the check itself is stale"
        );
        for name in ["create.sql", "create_one.sql"] {
            assert!(
                script(name).contains(&items),
                "{name} differs from insert_order!"
            );
        }
        let ledger = words(
            "ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
             RETURNING idempotency_key, operation, order_id, amount, outcome, reference, created_at",
        );
        assert!(
            words(REMEMBER).contains(&ledger),
            "the check itself is stale"
        );
        assert!(script("create.sql").contains(&ledger));
        let update = words("WHERE id = $5 AND version = $6 AND deleted_at IS NULL");
        assert!(
            words(UPDATE_ORDER).contains(&update),
            "the check itself is stale"
        );
        assert!(script("create.sql").contains("AND version = 1 AND deleted_at IS NULL"));
        let audited = words(
            "WITH attempt AS (
                 INSERT INTO payment_attempts (id, order_id, operation, amount, outcome, reference, created_at)",
        );
        assert!(
            words(UPDATE_ORDER_AUDITED).contains(&audited),
            "the check itself is stale"
        );
        assert!(script("create.sql").contains(&audited));
    }
}
