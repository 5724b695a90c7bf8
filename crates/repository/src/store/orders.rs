//! [`OrderRepository`] on both databases: the order statements and the compare-and-set writes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::{CustomerId, EventRecord, Order, OrderId, OrderNumber, Version};
use uuid::Uuid;

use super::Store;
use super::dialect::{
    BoxFuture, Conn, Dialect, RowRead, SEQUENCE_BLOCK, Statement, Value, Work, required,
};
use super::document::Document;
use super::list::list_statement;
use super::rows::{
    attempt_values, check_next_version, headers_to_text, missed_write, order_row, order_values,
    page, refund_row, restore, update_values, version_column,
};
use crate::{
    Claim, Erasure, ListQuery, OrderRepository, Page, PaymentAttempt, Refund, RefundStatus,
    RepoError,
};

/// An order is one row: its columns and its document (lines, shipping lines, details).
macro_rules! select_order {
    () => {
        concat!(
            "\nSELECT ",
            $crate::store::rows::select_columns!(),
            "\nFROM orders o"
        )
    };
}
pub(crate) use select_order;

/// The order by id.
pub(crate) const GET_ORDER: &str =
    concat!(select_order!(), " WHERE o.id = $1 AND o.deleted_at IS NULL");

/// The order by its number; the number's unique index makes it one row.
const GET_ORDER_BY_NUMBER: &str = concat!(
    select_order!(),
    " WHERE o.order_number = $1 AND o.deleted_at IS NULL"
);

/// The compare-and-set write of an order's mutable fields (values: `rows::update_values`).
macro_rules! update_order {
    () => {
        "
UPDATE orders SET status = $1, cancel_reason = $2, version = $3, updated_at = $4,
                  payment_status = $7, amount_authorized = $8, amount_captured = $9,
                  amount_refunded = $10, payment_reference = $11, payment_pending = $12,
                  pending_status = $13, pending_reason = $14, email_key = $15, channel = $16,
                  document = $17, fulfillment_status = $18
WHERE id = $5 AND version = $6 AND deleted_at IS NULL"
    };
}
#[cfg(test)]
pub(crate) use update_order;

/// [`update_order!`] as a statement.
pub(crate) const UPDATE_ORDER: &str = update_order!();

/// One gateway call's audit row (values: `rows::attempt_values`).
pub(crate) const RECORD_ATTEMPT: &str = "
INSERT INTO payment_attempts (id, order_id, operation, amount, outcome, reference, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)";

const SOFT_DELETE: &str = "
UPDATE orders SET deleted_at = $2, updated_at = $2, version = version + 1
WHERE id = $1 AND deleted_at IS NULL AND (CAST($3 AS INTEGER) IS NULL OR version = $3)";

const CURRENT_VERSION: &str = "SELECT version FROM orders WHERE id = $1 AND deleted_at IS NULL";

/// Every order of a customer, deleted ones too, oldest first (for an erasure).
const CUSTOMER_ORDERS: &str = concat!(
    select_order!(),
    " WHERE o.customer_id = $1 ORDER BY o.created_at, o.id"
);

/// An erased order's compare-and-set write, deleted or not: its document without the personal
/// data, and no email to match.
const ERASE_ORDER: &str = "
UPDATE orders SET email_key = NULL, document = $1, version = $2, updated_at = $3
WHERE id = $4 AND version = $5";

/// The earlier events of an erased order lose the order as it was; their digests stay.
const ERASE_PAYLOADS: &str =
    "UPDATE order_events SET payload = NULL WHERE order_id = $1 AND id <> $2";

/// A version, deleted or not.
const ANY_VERSION: &str = "SELECT version FROM orders WHERE id = $1";

/// The stored responses that made an order held its personal data: replays answer 410.
const ERASE_RESPONSES: &str = "
UPDATE idempotency_keys SET response_status = 410, response_headers = $2, response_body = $3
WHERE order_id = $1 AND response_status IS NOT NULL";

const RECORD_ERASURE: &str = "
INSERT INTO erasures (id, customer_id, erased_by, erased_at, orders) VALUES ($1, $2, $3, $4, $5)";

const ERASURES_OF: &str = "
SELECT id, customer_id, erased_by, erased_at, orders FROM erasures
WHERE customer_id = $1 ORDER BY erased_at, id";

/// What a replay of an erased response answers.
const ERASED_RESPONSE: &str = r#"{"type":"https://ordo.dev/problems/erased","title":"Erased","status":410,"detail":"this response held personal data, which was erased on request; read the order itself instead"}"#;

const INSERT_REFUND: &str = "
INSERT INTO refunds (id, order_id, amount, reason, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)";

const REFUND: &str =
    "SELECT id, order_id, amount, reason, status, created_at FROM refunds WHERE id = $1";

const SETTLE_REFUND: &str =
    "UPDATE refunds SET status = $2, updated_at = $3 WHERE id = $1 AND status = 'pending'";

/// The order a refund's success leaves as it is, held (its row locked, nothing changed; no
/// trigger watches `version`) only while it still stands at the version its event shows, or
/// was deleted (nothing changes it any more): the event then shows the order as it is, and
/// takes its place in the chain in the order's own turn.
const ORDER_STANDS: &str = "
UPDATE orders SET version = version
WHERE id = $1 AND (version = $2 OR deleted_at IS NOT NULL)";

const PENDING_REFUNDS: &str = "
SELECT id, order_id, amount, reason, status, created_at FROM refunds
WHERE status = 'pending' AND created_at < $2 ORDER BY created_at LIMIT $1";

const PENDING_PAYMENTS: &str = "
SELECT id FROM orders
WHERE payment_pending IS NOT NULL AND deleted_at IS NULL
  AND (payment_status = 'unknown' OR updated_at < $2)
ORDER BY updated_at LIMIT $1";

/// The constraint that keeps an order's chain one line (migration 18).
const CHAIN_PLACE: &str = "order_events_order_id_chain_key";

/// How many times a write whose event lost its chain place is tried.
const CHAIN_TRIES: u32 = 50;

/// After a compare-and-set wrote nothing, on the write's own connection: why.
async fn missed_on<C: Conn>(conn: &mut C, id: OrderId) -> RepoError {
    missed(conn.fetch_optional(current_version(id)).await)
}

fn current_version(id: OrderId) -> Statement {
    Statement::new(CURRENT_VERSION).bind(id.as_uuid())
}

/// The error for a compare-and-set that missed, from the row's current version.
fn missed(current: Result<Option<impl RowRead>, RepoError>) -> RepoError {
    match current.and_then(|row| row.map(|row| row.int("version")).transpose()) {
        Ok(version) => missed_write(version.flatten()),
        Err(error) => error,
    }
}

#[expect(
    private_bounds,
    reason = "its methods are the crate's own; the traits are the API"
)]
impl<D: Dialect> Store<D> {
    /// After a compare-and-set wrote nothing: was the row missing, or the version stale?
    async fn why_missed(&self, id: OrderId) -> RepoError {
        missed(self.read_optional(current_version(id)).await)
    }

    /// `change` with its event, as one write: the rows it changed.
    async fn chained(&self, change: Statement, event: &EventRecord) -> Result<u64, RepoError> {
        // One statement on PostgreSQL; SQLite's writes are always atomic.
        self.with_event(false, || {
            let (change, event) = (change.clone(), event.clone());
            move |conn: &mut D::Conn| -> BoxFuture<'_, Result<u64, RepoError>> {
                Box::pin(async move { D::chained(conn, change, &event).await })
            }
        })
        .await
    }

    /// Runs a write that records an event, made afresh by `work`; again when another write
    /// took the order's next chain place first (an event that changes no version, a refund's
    /// success, races the order's other writes; the loser of `UNIQUE (order_id, chain)` wrote
    /// nothing and chains after the winner on its next try).
    async fn with_event<T, W>(&self, atomic: bool, work: impl Fn() -> W) -> Result<T, RepoError>
    where
        T: Send + 'static,
        W: Work<D::Conn, T>,
    {
        let mut tries = 1;
        loop {
            match self.dialect.write(atomic, work()).await {
                Err(RepoError::Duplicate { constraint })
                    if constraint == CHAIN_PLACE && tries < CHAIN_TRIES =>
                {
                    tries = tries.saturating_add(1);
                }
                result => return result,
            }
        }
    }

    /// The next value of this process's sequence block, if any is left.
    fn take_from_block(&self) -> Option<u64> {
        self.sequence_block.lock().ok()?.next()
    }

    /// Orders from rows of `select_order!`.
    fn orders(rows: &[D::Row]) -> Result<Vec<Order>, RepoError> {
        rows.iter().map(|row| restore(order_row(row)?)).collect()
    }
}

#[async_trait]
impl<D: Dialect> OrderRepository for Store<D> {
    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn next_order_sequence(&self) -> Result<u64, RepoError> {
        if let Some(value) = self.take_from_block() {
            return Ok(value);
        }
        let start = self
            .write_returning(Statement::new(D::NEXT_BLOCK), |row| {
                required(row.int("start")?, "start")
            })
            .await?
            .ok_or_else(|| RepoError::other("the order-number sequence returned nothing"))?;
        let start = u64::try_from(start).map_err(RepoError::other)?;
        // Two callers may draw blocks at once: the later one replaces the other's remainder,
        // whose values are then never handed out, so none is handed out twice.
        let rest = start.saturating_add(1)..start.saturating_add(SEQUENCE_BLOCK);
        if let Ok(mut block) = self.sequence_block.lock() {
            *block = rest;
        }
        Ok(start)
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id()), err(level = "debug"))]
    async fn insert<'a>(
        &self,
        order: &Order,
        claim: Option<&'a Claim>,
        event: &EventRecord,
    ) -> Result<(), RepoError> {
        let values = order_values(order)?;
        let claim = claim.cloned();
        let event = event.clone();
        // One statement on PostgreSQL; SQLite's writes are always atomic.
        self.dialect
            .write(false, move |conn| {
                Box::pin(async move { D::insert_order(conn, values, claim, &event).await })
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(order_id = %id), err(level = "debug"))]
    async fn get(&self, id: OrderId) -> Result<Order, RepoError> {
        let rows = self
            .read_all(Statement::new(GET_ORDER).bind(id.as_uuid()))
            .await?;
        Self::orders(&rows)?.pop().ok_or(RepoError::NotFound)
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn get_by_number(&self, number: &OrderNumber) -> Result<Order, RepoError> {
        let rows = self
            .read_all(Statement::new(GET_ORDER_BY_NUMBER).bind(number.to_string()))
            .await?;
        Self::orders(&rows)?.pop().ok_or(RepoError::NotFound)
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn list(&self, query: &ListQuery) -> Result<Page, RepoError> {
        let rows = self
            .read_all(list_statement::<D>(select_order!(), query))
            .await?;
        let mut orders = Self::orders(&rows)?;
        Ok(page(&mut orders, query.limit.get()))
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id()), err(level = "debug"))]
    async fn update(
        &self,
        order: &Order,
        expected: Version,
        event: &EventRecord,
    ) -> Result<(), RepoError> {
        check_next_version(order, expected)?;
        let update = Statement::new(UPDATE_ORDER).bind_all(update_values(order, expected)?);
        if self.chained(update, event).await? == 1 {
            Ok(())
        } else {
            Err(self.why_missed(order.id()).await)
        }
    }

    #[tracing::instrument(skip_all, fields(order_id = %attempt.order_id), err(level = "debug"))]
    async fn record_payment_attempt(&self, attempt: &PaymentAttempt) -> Result<(), RepoError> {
        self.execute(Statement::new(RECORD_ATTEMPT).bind_all(attempt_values(attempt)))
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id()), err(level = "debug"))]
    async fn update_with_attempt(
        &self,
        order: &Order,
        expected: Version,
        attempt: &PaymentAttempt,
        event: &EventRecord,
    ) -> Result<(), RepoError> {
        check_next_version(order, expected)?;
        if attempt.order_id != order.id() {
            return Err(RepoError::other(
                "a payment attempt audited with another order",
            ));
        }
        let update = Statement::new(UPDATE_ORDER).bind_all(update_values(order, expected)?);
        // The audit row stays whether or not the compare-and-set matches.
        let changed = self
            .with_event(false, || {
                let (update, attempt, event) = (update.clone(), attempt.clone(), event.clone());
                move |conn: &mut D::Conn| -> BoxFuture<'_, Result<u64, RepoError>> {
                    Box::pin(async move { D::update_audited(conn, update, &attempt, &event).await })
                }
            })
            .await?;
        if changed == 1 {
            Ok(())
        } else {
            Err(self.why_missed(order.id()).await)
        }
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id()), err(level = "debug"))]
    async fn reserve_refund(
        &self,
        order: &Order,
        expected: Version,
        refund: &Refund,
        event: &EventRecord,
    ) -> Result<(), RepoError> {
        check_next_version(order, expected)?;
        let (id, update) = (
            order.id(),
            Statement::new(UPDATE_ORDER).bind_all(update_values(order, expected)?),
        );
        let insert = Statement::new(INSERT_REFUND)
            .bind(refund.id)
            .bind(refund.order_id.as_uuid())
            .bind(refund.amount)
            .bind(refund.reason.as_str())
            .bind(refund.status.as_str())
            .bind(refund.created_at);
        self.with_event(true, || {
            let (update, insert, event) = (update.clone(), insert.clone(), event.clone());
            move |conn: &mut D::Conn| -> BoxFuture<'_, Result<(), RepoError>> {
                Box::pin(async move {
                    if D::chained(conn, update, &event).await? != 1 {
                        return Err(missed_on(conn, id).await);
                    }
                    conn.execute(insert).await?;
                    Ok(())
                })
            }
        })
        .await
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn settle_refund<'a>(
        &self,
        refund_id: Uuid,
        status: RefundStatus,
        order: Option<(&'a Order, Version)>,
        at: DateTime<Utc>,
        event: &EventRecord,
    ) -> Result<(), RepoError> {
        let mark = Statement::new(SETTLE_REFUND)
            .bind(refund_id)
            .bind(status.as_str())
            .bind(at);
        let (id, update) = match order {
            Some((order, expected)) => {
                check_next_version(order, expected)?;
                let values = update_values(order, expected)?;
                (order.id(), Statement::new(UPDATE_ORDER).bind_all(values))
            }
            None => (
                event.order_id,
                Statement::new(ORDER_STANDS)
                    .bind(event.order_id.as_uuid())
                    .bind(version_column(event.version)?),
            ),
        };
        self.with_event(true, || {
            let (mark, update, event) = (mark.clone(), update.clone(), event.clone());
            move |conn: &mut D::Conn| -> BoxFuture<'_, Result<(), RepoError>> {
                Box::pin(async move {
                    // The event goes with the order's write (or its hold), its statement
                    // first (`Dialect::chained`), then the refund's.
                    if D::chained(conn, update, &event).await? != 1 {
                        return Err(missed_on(conn, id).await);
                    }
                    if conn.execute(mark).await? != 1 {
                        return Err(RepoError::NotFound);
                    }
                    Ok(())
                })
            }
        })
        .await
    }

    async fn refund(&self, id: Uuid) -> Result<Refund, RepoError> {
        self.read_optional(Statement::new(REFUND).bind(id))
            .await?
            .as_ref()
            .map(refund_row)
            .transpose()?
            .ok_or(RepoError::NotFound)
    }

    async fn pending_refunds(
        &self,
        limit: u32,
        created_before: DateTime<Utc>,
    ) -> Result<Vec<Refund>, RepoError> {
        let statement = Statement::new(PENDING_REFUNDS)
            .bind(i64::from(limit))
            .bind(created_before);
        self.read_all(statement)
            .await?
            .iter()
            .map(refund_row)
            .collect()
    }

    async fn orders_with_pending_payment(
        &self,
        limit: u32,
        claimed_before: DateTime<Utc>,
    ) -> Result<Vec<OrderId>, RepoError> {
        let statement = Statement::new(PENDING_PAYMENTS)
            .bind(i64::from(limit))
            .bind(claimed_before);
        self.read_all(statement)
            .await?
            .iter()
            .map(|row| {
                OrderId::from_uuid(required(row.uuid("id")?, "id")?).map_err(RepoError::other)
            })
            .collect()
    }

    async fn orders_of_customer(&self, customer: CustomerId) -> Result<Vec<Order>, RepoError> {
        let rows = self
            .read_all(Statement::new(CUSTOMER_ORDERS).bind(customer.as_uuid()))
            .await?;
        Self::orders(&rows)
    }

    #[tracing::instrument(skip_all, fields(customer_id = %erasure.customer_id), err(level = "debug"))]
    async fn erase_customer<'a>(
        &self,
        orders: &'a [(Order, Version, EventRecord)],
        erasure: &'a Erasure,
    ) -> Result<(), RepoError> {
        let headers = headers_to_text(&[(
            "content-type".to_owned(),
            "application/problem+json".to_owned(),
        )])?;
        let mut writes = Vec::with_capacity(orders.len());
        for (order, expected, event) in orders {
            check_next_version(order, *expected)?;
            let erase = Statement::new(ERASE_ORDER)
                .bind(Value::Json(Some(Document::write(order)?)))
                .bind(version_column(order.version())?)
                .bind(order.updated_at())
                .bind(order.id().as_uuid())
                .bind(version_column(*expected)?);
            let responses = Statement::new(ERASE_RESPONSES)
                .bind(order.id().as_uuid())
                .bind(headers.clone())
                .bind(ERASED_RESPONSE.as_bytes());
            let payloads = Statement::new(ERASE_PAYLOADS)
                .bind(order.id().as_uuid())
                .bind(event.id);
            writes.push((order.id(), erase, responses, payloads, event.clone()));
        }
        let record = Statement::new(RECORD_ERASURE)
            .bind(erasure.id)
            .bind(erasure.customer_id.as_uuid())
            .bind(erasure.by.clone())
            .bind(erasure.at)
            .bind(i64::from(erasure.orders));
        self.with_event(true, || {
            let (writes, record) = (writes.clone(), record.clone());
            move |conn: &mut D::Conn| -> BoxFuture<'_, Result<(), RepoError>> {
                Box::pin(async move {
                    for (id, erase, responses, payloads, event) in writes {
                        if D::chained(conn, erase, &event).await? != 1 {
                            let current = conn
                                .fetch_optional(Statement::new(ANY_VERSION).bind(id.as_uuid()))
                                .await;
                            return Err(missed(current));
                        }
                        conn.execute(responses).await?;
                        conn.execute(payloads).await?;
                    }
                    conn.execute(record).await?;
                    Ok(())
                })
            }
        })
        .await
    }

    async fn erasures_of(&self, customer: CustomerId) -> Result<Vec<Erasure>, RepoError> {
        self.read_all(Statement::new(ERASURES_OF).bind(customer.as_uuid()))
            .await?
            .iter()
            .map(|row| {
                Ok(Erasure {
                    id: required(row.uuid("id")?, "id")?,
                    customer_id: CustomerId::from_uuid(required(
                        row.uuid("customer_id")?,
                        "customer_id",
                    )?)
                    .map_err(RepoError::other)?,
                    by: required(row.text("erased_by")?, "erased_by")?,
                    at: required(row.time("erased_at")?, "erased_at")?,
                    orders: u32::try_from(required(row.int("orders")?, "orders")?)
                        .map_err(RepoError::other)?,
                })
            })
            .collect()
    }

    fn pool_stats(&self) -> crate::PoolStats {
        self.dialect.pool_stats()
    }

    async fn check_ready(&self) -> Result<(), RepoError> {
        self.migrations_applied().await
    }

    #[tracing::instrument(skip_all, fields(order_id = %id), err(level = "debug"))]
    async fn soft_delete(
        &self,
        id: OrderId,
        expected: Option<Version>,
        at: DateTime<Utc>,
        event: &EventRecord,
    ) -> Result<(), RepoError> {
        let statement = Statement::new(SOFT_DELETE)
            .bind(id.as_uuid())
            .bind(at)
            .bind(expected.map(version_column).transpose()?);
        if self.chained(statement, event).await? == 1 {
            Ok(())
        } else {
            Err(self.why_missed(id).await)
        }
    }
}
