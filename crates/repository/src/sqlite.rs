//! The embedded SQLite store: ordo with no setup, in one file.
//!
//! # Durability and concurrency
//! The file runs in WAL mode with `synchronous = FULL`: a transaction that returned is on disk
//! and survives a power loss, not only a crash of the process (`NORMAL` would keep the file
//! consistent but could lose the last commits on power loss; for orders and payments that is
//! not acceptable). Writers take the lock up front (`BEGIN IMMEDIATE`) and every connection has
//! a busy timeout, so concurrent requests queue for the lock instead of failing with
//! `SQLITE_BUSY` halfway through a transaction; readers never block in WAL mode.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::{Order, OrderId, OrderStatus, Version};
use rust_decimal::Decimal;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row as _, Sqlite};
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

/// Settings for [`SqliteStore::open`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The most connections (readers run in parallel; writers take turns).
    pub max_connections: u32,
    /// How long a writer waits for the lock before storage counts as unavailable.
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

/// Orders in an SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Callers waiting for a connection, for metrics.
    waiting: crate::sql::Waiting,
}

const GET_ORDER: &str = "
SELECT id, order_number, customer_id, currency, subtotal, discount, discount_kind,
       discount_value, tax_rate, tax, total, minor_units, rounding_mode, tax_rounding, status,
       cancel_reason, version, created_at, updated_at, payment_status, amount_authorized,
       amount_captured, amount_refunded, payment_reference, payment_pending, pending_status,
       pending_reason
FROM orders WHERE id = ?1 AND deleted_at IS NULL";

const LIST_ORDERS: &str = "
SELECT id, order_number, customer_id, currency, subtotal, discount, discount_kind,
       discount_value, tax_rate, tax, total, minor_units, rounding_mode, tax_rounding, status,
       cancel_reason, version, created_at, updated_at, payment_status, amount_authorized,
       amount_captured, amount_refunded, payment_reference, payment_pending, pending_status,
       pending_reason
FROM orders
WHERE customer_id = ?1 AND deleted_at IS NULL
  AND (created_at, id) < (?2, ?3)
  AND created_at >= ?4
  AND (?5 IS NULL OR status = ?5)
ORDER BY created_at DESC, id DESC
LIMIT ?6";

const INSERT_ORDER: &str = "
INSERT INTO orders (id, order_number, customer_id, currency, subtotal, discount, discount_kind,
                    discount_value, tax_rate, tax, total, minor_units, rounding_mode,
                    tax_rounding, status, cancel_reason, version, created_at, updated_at,
                    payment_status, amount_authorized, amount_captured, amount_refunded,
                    payment_reference, payment_pending, pending_status, pending_reason)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
        ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)";

const UPDATE_ORDER: &str = "
UPDATE orders SET status = ?1, cancel_reason = ?2, version = ?3, updated_at = ?4,
                  payment_status = ?7, amount_authorized = ?8, amount_captured = ?9,
                  amount_refunded = ?10, payment_reference = ?11, payment_pending = ?12,
                  pending_status = ?13, pending_reason = ?14
WHERE id = ?5 AND version = ?6 AND deleted_at IS NULL";

const SOFT_DELETE: &str = "
UPDATE orders SET deleted_at = ?2, updated_at = ?2, version = version + 1
WHERE id = ?1 AND deleted_at IS NULL AND (?3 IS NULL OR version = ?3)";

const CURRENT_VERSION: &str = "SELECT version FROM orders WHERE id = ?1 AND deleted_at IS NULL";

const NEXT_SEQUENCE: &str =
    "UPDATE sequences SET value = value + 1 WHERE name = 'order_number' RETURNING value";

impl SqliteStore {
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
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.busy_timeout)
            .connect_with(connect)
            .await?;
        Ok(Self {
            pool,
            waiting: crate::sql::Waiting::default(),
        })
    }

    /// Applies the migrations in `migrations/sqlite` that have not run yet, and names them
    /// (`"<version> <description>"`).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    pub async fn migrate(&self) -> Result<Vec<String>, RepoError> {
        let migrator = sqlx::migrate!("../../migrations/sqlite");
        // Before the first run the bookkeeping table does not exist: nothing was applied. Any
        // other failure to read it is an error, not "nothing applied".
        let bookkept: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')")
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

    /// A connection from the pool; the wait for it is counted in [`crate::PoolStats::waiting`].
    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Sqlite>, RepoError> {
        let _waiting = self.waiting.enter();
        Ok(self.pool.acquire().await?)
    }

    async fn why_missed(&self, id: OrderId) -> RepoError {
        let mut conn = match self.conn().await {
            Ok(conn) => conn,
            Err(error) => return error,
        };
        let current: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(CURRENT_VERSION)
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await;
        match current {
            Ok(version) => missed_write(version),
            Err(error) => error.into(),
        }
    }

    /// Each order's items, by order id, in position order.
    async fn items_of(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, ItemRow)>, RepoError> {
        if ids.is_empty() {
            return Ok(Vec::new());
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
        let rows = query.build().fetch_all(&mut *self.conn().await?).await?;
        rows.iter()
            .map(|row| {
                let item = ItemRow {
                    product_id: row.try_get("product_id")?,
                    quantity: row.try_get("quantity")?,
                    unit_price: decimal(row, "unit_price")?,
                    line_total: decimal(row, "line_total")?,
                };
                Ok((row.try_get("order_id")?, item))
            })
            .collect()
    }

    /// Attaches their items to order rows and rebuilds the orders.
    async fn with_items(&self, rows: Vec<SqliteRow>) -> Result<Vec<Order>, RepoError> {
        let orders = rows.iter().map(order_row).collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<Uuid> = orders.iter().map(|order| order.id).collect();
        let mut items: HashMap<Uuid, Vec<ItemRow>> = HashMap::with_capacity(ids.len());
        for (order_id, item) in self.items_of(&ids).await? {
            items.entry(order_id).or_default().push(item);
        }
        orders
            .into_iter()
            .map(|order| {
                let mine = items.remove(&order.id).unwrap_or_default();
                restore(order, mine)
            })
            .collect()
    }
}

/// The compare-and-set write of an order's mutable fields.
fn update_order(
    order: &Order,
    expected: Version,
) -> sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments> {
    sqlx::query(UPDATE_ORDER)
        .bind(order.status().as_str())
        .bind(
            order
                .cancel_reason()
                .map(|reason| reason.as_str().to_owned()),
        )
        .bind(version_column(order.version()))
        .bind(order.updated_at().timestamp_micros())
        .bind(order.id().as_uuid())
        .bind(version_column(expected))
        .bind(order.payment().status.as_str())
        .bind(order.payment().authorized.to_string())
        .bind(order.payment().captured.to_string())
        .bind(order.payment().refunded.to_string())
        .bind(order.payment().reference.clone())
        .bind(pending_columns(order).0)
        .bind(pending_columns(order).1)
        .bind(pending_columns(order).2)
}

fn refund_from_row(row: &SqliteRow) -> Result<Refund, RepoError> {
    let status: String = row.try_get("status")?;
    Ok(Refund {
        id: row.try_get("id")?,
        order_id: OrderId::from_uuid(row.try_get("order_id")?).map_err(RepoError::other)?,
        amount: decimal(row, "amount")?,
        reason: row.try_get("reason")?,
        status: RefundStatus::parse(&status)
            .ok_or_else(|| RepoError::other("invalid refund status"))?,
        created_at: time(row.try_get("created_at")?)?,
    })
}

fn decimal(row: &SqliteRow, column: &str) -> Result<Decimal, RepoError> {
    let text: String = row.try_get(column)?;
    Decimal::from_str_exact(&text)
        .or_else(|_| Decimal::from_str(&text))
        .map_err(RepoError::other)
}

fn optional_decimal(row: &SqliteRow, column: &str) -> Result<Option<Decimal>, RepoError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| Decimal::from_str_exact(&text).map_err(RepoError::other))
        .transpose()
}

fn time(micros: i64) -> Result<DateTime<Utc>, RepoError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| RepoError::other("stored time out of range"))
}

fn order_row(row: &SqliteRow) -> Result<OrderRow, RepoError> {
    Ok(OrderRow {
        id: row.try_get("id")?,
        number: row.try_get("order_number")?,
        customer_id: row.try_get("customer_id")?,
        currency: row.try_get("currency")?,
        subtotal: decimal(row, "subtotal")?,
        discount: decimal(row, "discount")?,
        discount_kind: row.try_get("discount_kind")?,
        discount_value: optional_decimal(row, "discount_value")?,
        tax_rate: optional_decimal(row, "tax_rate")?,
        tax: decimal(row, "tax")?,
        total: decimal(row, "total")?,
        minor_units: row.try_get("minor_units")?,
        rounding_mode: row.try_get("rounding_mode")?,
        tax_rounding: row.try_get("tax_rounding")?,
        status: row.try_get("status")?,
        cancel_reason: row.try_get("cancel_reason")?,
        version: row.try_get("version")?,
        payment_status: row.try_get("payment_status")?,
        amount_authorized: decimal(row, "amount_authorized")?,
        amount_captured: decimal(row, "amount_captured")?,
        amount_refunded: decimal(row, "amount_refunded")?,
        payment_reference: row.try_get("payment_reference")?,
        payment_pending: row.try_get("payment_pending")?,
        pending_status: row.try_get("pending_status")?,
        pending_reason: row.try_get("pending_reason")?,
        created_at: time(row.try_get("created_at")?)?,
        updated_at: time(row.try_get("updated_at")?)?,
    })
}

#[async_trait]
impl OrderRepository for SqliteStore {
    #[tracing::instrument(skip_all, err)]
    async fn next_order_sequence(&self) -> Result<u64, RepoError> {
        let value: i64 = sqlx::query_scalar(NEXT_SEQUENCE)
            .fetch_one(&mut *self.conn().await?)
            .await?;
        u64::try_from(value).map_err(RepoError::other)
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id()), err)]
    async fn insert<'a>(&self, order: &Order, claim: Option<&'a Claim>) -> Result<(), RepoError> {
        let pricing = order.pricing();
        let (discount_kind, discount_value) = discount_columns(pricing.discount_rule);
        let mut conn = self.conn().await?;
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
        if let Some(claim) = claim {
            let linked = sqlx::query(
                "UPDATE idempotency_keys SET order_id = ?4
                 WHERE caller = ?1 AND key = ?2 AND token = ?3
                   AND order_id IS NULL AND response_status IS NULL",
            )
            .bind(&claim.scope.caller)
            .bind(&claim.scope.key)
            .bind(claim.token)
            .bind(order.id().as_uuid())
            .execute(&mut *tx)
            .await?;
            if linked.rows_affected() == 0 {
                // Dropping the transaction rolls it back: nothing is stored.
                return Err(RepoError::ClaimLost);
            }
        }
        sqlx::query(INSERT_ORDER)
            .bind(order.id().as_uuid())
            .bind(order.number().to_string())
            .bind(order.customer_id().as_uuid())
            .bind(pricing.currency.code())
            .bind(pricing.subtotal.to_string())
            .bind(pricing.discount.to_string())
            .bind(discount_kind)
            .bind(discount_value.map(|value| value.to_string()))
            .bind(pricing.tax_rate.map(|rate| rate.to_string()))
            .bind(pricing.tax.to_string())
            .bind(pricing.total.to_string())
            .bind(i64::from(pricing.rounding.minor_units()))
            .bind(pricing.rounding.mode().as_str())
            .bind(pricing.rounding.tax().as_str())
            .bind(order.status().as_str())
            .bind(
                order
                    .cancel_reason()
                    .map(|reason| reason.as_str().to_owned()),
            )
            .bind(version_column(order.version()))
            .bind(order.created_at().timestamp_micros())
            .bind(order.updated_at().timestamp_micros())
            .bind(order.payment().status.as_str())
            .bind(order.payment().authorized.to_string())
            .bind(order.payment().captured.to_string())
            .bind(order.payment().refunded.to_string())
            .bind(order.payment().reference.clone())
            .bind(pending_columns(order).0)
            .bind(pending_columns(order).1)
            .bind(pending_columns(order).2)
            .execute(&mut *tx)
            .await?;
        // All items in one multi-row INSERT (100 items × 6 values is far below SQLite's limit).
        let mut items: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO order_items (order_id, position, product_id, quantity, unit_price, line_total) ",
        );
        items.push_values(
            pricing.lines.iter().enumerate(),
            |mut row, (position, line)| {
                row.push_bind(order.id().as_uuid())
                    .push_bind(i64::try_from(position).unwrap_or(i64::MAX))
                    .push_bind(line.product_id.as_uuid())
                    .push_bind(i64::from(line.quantity.get()))
                    .push_bind(line.unit_price.to_string())
                    .push_bind(line.line_total.to_string());
            },
        );
        items.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(order_id = %id), err)]
    async fn get(&self, id: OrderId) -> Result<Order, RepoError> {
        let row = sqlx::query(GET_ORDER)
            .bind(id.as_uuid())
            .fetch_one(&mut *self.conn().await?)
            .await?;
        let mut orders = self.with_items(vec![row]).await?;
        orders.pop().ok_or(RepoError::NotFound)
    }

    #[tracing::instrument(skip_all, fields(customer_id = %query.customer_id), err)]
    async fn list(&self, query: &ListQuery) -> Result<Page, RepoError> {
        let ((before_time, before_id), after_time) = list_bounds(query);
        let limit = query.limit.get();
        let rows = sqlx::query(LIST_ORDERS)
            .bind(query.customer_id.as_uuid())
            .bind(before_time.timestamp_micros())
            .bind(before_id)
            .bind(after_time.timestamp_micros())
            .bind(query.status.map(OrderStatus::as_str))
            .bind(i64::from(limit).saturating_add(1))
            .fetch_all(&mut *self.conn().await?)
            .await?;
        let mut orders = self.with_items(rows).await?;
        Ok(page(&mut orders, limit))
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id()), err)]
    async fn update(&self, order: &Order, expected: Version) -> Result<(), RepoError> {
        check_next_version(order, expected)?;
        let done = update_order(order, expected)
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(attempt.id)
        .bind(attempt.order_id.as_uuid())
        .bind(attempt.operation.as_str())
        .bind(attempt.amount.to_string())
        .bind(attempt.outcome.as_str())
        .bind(attempt.reference.clone())
        .bind(attempt.at.timestamp_micros())
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
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
        let done = update_order(order, expected).execute(&mut *tx).await?;
        if done.rows_affected() != 1 {
            drop(tx);
            drop(conn);
            return Err(self.why_missed(order.id()).await);
        }
        sqlx::query(
            "INSERT INTO refunds (id, order_id, amount, reason, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        )
        .bind(refund.id)
        .bind(refund.order_id.as_uuid())
        .bind(refund.amount.to_string())
        .bind(&refund.reason)
        .bind(refund.status.as_str())
        .bind(refund.created_at.timestamp_micros())
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
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
        let marked = sqlx::query(
            "UPDATE refunds SET status = ?2, updated_at = ?3 WHERE id = ?1 AND status = 'pending'",
        )
        .bind(refund_id)
        .bind(status.as_str())
        .bind(at.timestamp_micros())
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() != 1 {
            return Err(RepoError::NotFound);
        }
        if let Some((order, expected)) = order {
            check_next_version(order, expected)?;
            let done = update_order(order, expected).execute(&mut *tx).await?;
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
             WHERE status = 'pending' ORDER BY created_at LIMIT ?1",
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
               AND (payment_status = 'unknown' OR updated_at < ?2)
             ORDER BY updated_at LIMIT ?1",
        )
        .bind(i64::from(limit))
        .bind(claimed_before.timestamp_micros())
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
        let latest = sqlx::migrate!("../../migrations/sqlite")
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
        let done = sqlx::query(SOFT_DELETE)
            .bind(id.as_uuid())
            .bind(at.timestamp_micros())
            .bind(expected.map(version_column))
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(self.why_missed(id).await)
        }
    }
}

#[async_trait]
impl KeyRows for SqliteStore {
    async fn insert_or_restart(&self, request: &KeyRequest) -> Result<bool, RepoError> {
        let row = sqlx::query(
            "INSERT INTO idempotency_keys (caller, key, fingerprint, token, locked_until, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (caller, key) DO UPDATE SET
                 fingerprint = excluded.fingerprint, token = excluded.token,
                 locked_until = excluded.locked_until, order_id = NULL, response_status = NULL,
                 response_headers = NULL, response_body = NULL,
                 created_at = excluded.created_at, expires_at = excluded.expires_at
             WHERE idempotency_keys.expires_at <= excluded.created_at
             RETURNING 1",
        )
        .bind(&request.scope.caller)
        .bind(&request.scope.key)
        .bind(&request.fingerprint)
        .bind(request.token)
        .bind(request.lease_until.timestamp_micros())
        .bind(request.now.timestamp_micros())
        .bind(request.expires_at.timestamp_micros())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        Ok(row.is_some())
    }

    async fn read_key(&self, scope: &KeyScope) -> Result<Option<KeyRow>, RepoError> {
        let row = sqlx::query(
            "SELECT fingerprint, token, locked_until, response_status, response_headers, response_body
             FROM idempotency_keys WHERE caller = ?1 AND key = ?2",
        )
        .bind(&scope.caller)
        .bind(&scope.key)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let status: Option<i64> = row.try_get("response_status")?;
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
            locked_until: time(row.try_get("locked_until")?)?,
            response,
        }))
    }

    async fn take_over(
        &self,
        request: &KeyRequest,
        old: Uuid,
    ) -> Result<Option<Option<Uuid>>, RepoError> {
        let row: Option<(Option<Uuid>,)> = sqlx::query_as(
            "UPDATE idempotency_keys SET token = ?3, locked_until = ?4
             WHERE caller = ?1 AND key = ?2 AND token = ?5 AND response_status IS NULL
             RETURNING order_id",
        )
        .bind(&request.scope.caller)
        .bind(&request.scope.key)
        .bind(request.token)
        .bind(request.lease_until.timestamp_micros())
        .bind(old)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        Ok(row.map(|(order_id,)| order_id))
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    #[tracing::instrument(skip_all, err)]
    async fn begin(&self, request: &KeyRequest) -> Result<Begin, RepoError> {
        begin_key(self, request).await
    }

    #[tracing::instrument(skip_all, err)]
    async fn complete(&self, claim: &Claim, response: &StoredResponse) -> Result<(), RepoError> {
        let done = sqlx::query(
            "UPDATE idempotency_keys
             SET response_status = ?4, response_headers = ?5, response_body = ?6
             WHERE caller = ?1 AND key = ?2 AND token = ?3 AND response_status IS NULL",
        )
        .bind(&claim.scope.caller)
        .bind(&claim.scope.key)
        .bind(claim.token)
        .bind(i64::from(response.status))
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
             WHERE caller = ?1 AND key = ?2 AND token = ?3 AND order_id IS NULL AND response_status IS NULL",
        )
        .bind(&claim.scope.caller)
        .bind(&claim.scope.key)
        .bind(claim.token)
        .execute(&mut *self.conn().await?)
        .await?;
        sqlx::query(
            "UPDATE idempotency_keys SET locked_until = ?4
             WHERE caller = ?1 AND key = ?2 AND token = ?3 AND response_status IS NULL",
        )
        .bind(&claim.scope.caller)
        .bind(&claim.scope.key)
        .bind(claim.token)
        .bind(now.timestamp_micros())
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, err)]
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= ?1")
            .bind(now.timestamp_micros())
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl GatewayLedger for SqliteStore {
    async fn remember(&self, entry: &LedgerEntry) -> Result<LedgerEntry, RepoError> {
        // One round trip: on a repeated key, the no-op update makes RETURNING give the row
        // first written, so the first outcome is the one every retry sees.
        let row = sqlx::query(
            "INSERT INTO simulated_gateway_ledger
                 (idempotency_key, operation, order_id, amount, outcome, reference, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
             RETURNING idempotency_key, operation, order_id, amount, outcome, reference, created_at",
        )
        .bind(&entry.key)
        .bind(entry.operation.as_str())
        .bind(entry.order_id.as_uuid())
        .bind(entry.amount.to_string())
        .bind(if entry.approved {
            "approved"
        } else {
            "declined"
        })
        .bind(&entry.reference)
        .bind(entry.at.timestamp_micros())
        .fetch_one(&mut *self.conn().await?)
        .await?;
        ledger_row(&row)
    }

    async fn find(&self, key: &str) -> Result<Option<LedgerEntry>, RepoError> {
        let row = sqlx::query(
            "SELECT idempotency_key, operation, order_id, amount, outcome, reference, created_at
             FROM simulated_gateway_ledger WHERE idempotency_key = ?1",
        )
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
fn ledger_row(row: &SqliteRow) -> Result<LedgerEntry, RepoError> {
    ledger_entry(
        row.try_get("idempotency_key")?,
        &row.try_get::<String, _>("operation")?,
        row.try_get("order_id")?,
        decimal(row, "amount")?,
        &row.try_get::<String, _>("outcome")?,
        row.try_get("reference")?,
        time(row.try_get("created_at")?)?,
    )
}
/// Facts and leases are one per database file: shared by every process that opens it.
#[async_trait]
impl crate::Coordination for SqliteStore {
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
            .bind(until.timestamp_micros())
            .bind(now.timestamp_micros())
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        Ok(taken == Some(holder))
    }
}
