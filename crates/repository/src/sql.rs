//! What the PostgreSQL and SQLite stores share: error mapping and the row ↔ domain mapping.

use chrono::{DateTime, Utc};
use ordo_domain::{
    CancelReason, Currency, CustomerId, Discount, Order, OrderId, OrderNumber, OrderRecord,
    OrderStatus, Payment, PaymentOperation, PaymentStatus, PendingPayment, PricedLine, Pricing,
    ProductId, Quantity, RoundingMode, RoundingPolicy, StatusChange, TaxRounding, Version,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::{
    Begin, Claim, Cursor, KeyRequest, KeyScope, ListQuery, Page, RepoError, StoredResponse,
};

/// Maps a driver error to what a caller can act on. No sqlx type leaves the crate.
impl From<sqlx::Error> for RepoError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) => {
                if matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation) {
                    let constraint = db
                        .constraint()
                        .map_or_else(|| db.message().to_owned(), str::to_owned);
                    return Self::Duplicate { constraint };
                }
                if db.code().is_some_and(|code| transient_code(&code)) {
                    return Self::Unavailable(Box::new(sqlx::Error::Database(db)));
                }
                Self::Other(Box::new(sqlx::Error::Database(db)))
            }
            error @ (sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed) => Self::Unavailable(Box::new(error)),
            other => Self::Other(Box::new(other)),
        }
    }
}

/// Codes that mean "not now" rather than "never": PostgreSQL's connection exceptions (class
/// 08), shutdowns (57P01-57P03), too many connections (53300) and serialization failures
/// (40001, 40P01); SQLite's BUSY (5) and LOCKED (6), with their extended codes.
fn transient_code(code: &str) -> bool {
    if code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
        )
    {
        return true;
    }
    code.parse::<u32>()
        .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6))
}

/// An order's columns in storage form.
pub(crate) struct OrderRow {
    pub(crate) id: Uuid,
    pub(crate) number: String,
    pub(crate) customer_id: Uuid,
    pub(crate) currency: String,
    pub(crate) subtotal: Decimal,
    pub(crate) discount: Decimal,
    pub(crate) discount_kind: Option<String>,
    pub(crate) discount_value: Option<Decimal>,
    pub(crate) tax_rate: Option<Decimal>,
    pub(crate) tax: Decimal,
    pub(crate) total: Decimal,
    pub(crate) minor_units: i64,
    pub(crate) rounding_mode: String,
    pub(crate) tax_rounding: String,
    pub(crate) status: String,
    pub(crate) cancel_reason: Option<String>,
    pub(crate) payment_status: String,
    pub(crate) amount_authorized: Decimal,
    pub(crate) amount_captured: Decimal,
    pub(crate) amount_refunded: Decimal,
    pub(crate) payment_reference: Option<String>,
    pub(crate) payment_pending: Option<String>,
    pub(crate) pending_status: Option<String>,
    pub(crate) pending_reason: Option<String>,
    pub(crate) version: i64,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// A line item's columns in storage form.
pub(crate) struct ItemRow {
    pub(crate) product_id: Uuid,
    pub(crate) quantity: i64,
    pub(crate) unit_price: Decimal,
    pub(crate) line_total: Decimal,
}

/// `(kind, value)` of a discount rule.
pub(crate) fn discount_columns(
    discount: Option<Discount>,
) -> (Option<&'static str>, Option<Decimal>) {
    match discount {
        None => (None, None),
        Some(Discount::Fixed { amount }) => (Some("fixed"), Some(amount)),
        Some(Discount::Percentage { percent }) => (Some("percentage"), Some(percent)),
    }
}

pub(crate) fn version_column(version: Version) -> i64 {
    i64::from(version.get())
}

fn corrupt(what: &str) -> RepoError {
    RepoError::other(format!("stored order has an invalid {what}"))
}

/// Rebuilds an order from its rows; [`Order::restore`] re-prices it to catch corruption.
pub(crate) fn restore(row: OrderRow, items: Vec<ItemRow>) -> Result<Order, RepoError> {
    let currency = Currency::from_code(&row.currency).map_err(|_| corrupt("currency"))?;
    let mode =
        RoundingMode::from_name(&row.rounding_mode).ok_or_else(|| corrupt("rounding mode"))?;
    let tax = TaxRounding::from_name(&row.tax_rounding).ok_or_else(|| corrupt("tax rounding"))?;
    let minor_units = u8::try_from(row.minor_units).map_err(|_| corrupt("minor units"))?;
    let rounding =
        RoundingPolicy::new(minor_units, mode, tax).map_err(|_| corrupt("minor units"))?;
    let discount_rule = match (row.discount_kind.as_deref(), row.discount_value) {
        (None, None) => None,
        (Some("fixed"), Some(amount)) => Some(Discount::Fixed { amount }),
        (Some("percentage"), Some(percent)) => Some(Discount::Percentage { percent }),
        _ => return Err(corrupt("discount")),
    };
    let lines = items
        .into_iter()
        .map(|item| {
            Ok(PricedLine {
                product_id: ProductId::from_uuid(item.product_id)
                    .map_err(|_| corrupt("product id"))?,
                quantity: Quantity::new(item.quantity).map_err(|_| corrupt("quantity"))?,
                unit_price: item.unit_price,
                line_total: item.line_total,
            })
        })
        .collect::<Result<Vec<_>, RepoError>>()?;
    let status = row
        .status
        .parse::<OrderStatus>()
        .map_err(|_| corrupt("status"))?;
    let cancel_reason = row
        .cancel_reason
        .map(|reason| CancelReason::parse(&reason).map_err(|_| corrupt("cancel reason")))
        .transpose()?;
    let record = OrderRecord {
        id: OrderId::from_uuid(row.id).map_err(|_| corrupt("id"))?,
        number: OrderNumber::parse(&row.number).map_err(|_| corrupt("order number"))?,
        customer_id: CustomerId::from_uuid(row.customer_id).map_err(|_| corrupt("customer id"))?,
        pricing: Pricing {
            currency,
            lines,
            subtotal: row.subtotal,
            discount_rule,
            discount: row.discount,
            tax_rate: row.tax_rate,
            tax: row.tax,
            total: row.total,
            rounding,
        },
        status,
        cancel_reason,
        payment: Payment {
            status: row
                .payment_status
                .parse::<PaymentStatus>()
                .map_err(|_| corrupt("payment status"))?,
            authorized: row.amount_authorized,
            captured: row.amount_captured,
            refunded: row.amount_refunded,
            reference: row.payment_reference,
            pending: pending_from_columns(
                row.payment_pending.as_deref(),
                row.pending_status.as_deref(),
                row.pending_reason.as_deref(),
            )?,
        },
        version: Version::new(u32::try_from(row.version).map_err(|_| corrupt("version"))?),
        created_at: row.created_at,
        updated_at: row.updated_at,
    };
    Ok(Order::restore(record)?)
}

/// The claimed gateway call's columns: `(payment_pending, pending_status, pending_reason)`.
pub(crate) fn pending_columns(
    order: &Order,
) -> (Option<&'static str>, Option<&'static str>, Option<String>) {
    let Some(pending) = &order.payment().pending else {
        return (None, None, None);
    };
    let change = pending.change.as_ref();
    let reason = match change {
        Some(StatusChange::Cancel(reason)) => Some(reason.as_str().to_owned()),
        _ => None,
    };
    (
        Some(pending.operation.as_str()),
        change.map(|change| change.target().as_str()),
        reason,
    )
}

fn pending_from_columns(
    operation: Option<&str>,
    status: Option<&str>,
    reason: Option<&str>,
) -> Result<Option<PendingPayment>, RepoError> {
    let Some(operation) = operation else {
        return match (status, reason) {
            (None, None) => Ok(None),
            _ => Err(corrupt("pending payment")),
        };
    };
    let operation = operation
        .parse::<PaymentOperation>()
        .map_err(|_| corrupt("pending payment"))?;
    let change = match (status.map(str::parse::<OrderStatus>), reason) {
        (None, None) => None,
        (Some(Ok(OrderStatus::Processing)), None) => Some(StatusChange::Process),
        (Some(Ok(OrderStatus::Completed)), None) => Some(StatusChange::Complete),
        (Some(Ok(OrderStatus::Cancelled)), Some(reason)) => Some(StatusChange::Cancel(
            CancelReason::parse(reason).map_err(|_| corrupt("pending cancel reason"))?,
        )),
        _ => return Err(corrupt("pending status change")),
    };
    Ok(Some(PendingPayment { operation, change }))
}

/// After a compare-and-set wrote nothing: was the row missing, or the version stale?
pub(crate) fn missed_write(current_version: Option<i64>) -> RepoError {
    match current_version.map(u32::try_from) {
        None => RepoError::NotFound,
        Some(Ok(version)) => RepoError::VersionConflict {
            current: Version::new(version),
        },
        Some(Err(_)) => corrupt("version"),
    }
}

/// The write a compare-and-set performs must move the version up (by one per change it holds).
pub(crate) fn check_next_version(order: &Order, expected: Version) -> Result<(), RepoError> {
    if order.version() > expected {
        Ok(())
    } else {
        Err(RepoError::other(format!(
            "update of order {} to version {} from expected version {}: versions must go up",
            order.id(),
            order.version().get(),
            expected.get()
        )))
    }
}

/// The list's bounds: below the cursor and `created_before`, at or above `created_after`.
pub(crate) fn list_bounds(query: &ListQuery) -> ((DateTime<Utc>, Uuid), DateTime<Utc>) {
    let end_of_time = DateTime::<Utc>::from_timestamp_micros(253_402_300_799_999_999);
    let start_of_time = DateTime::<Utc>::from_timestamp_micros(-62_135_596_800_000_000);
    let mut upper = (end_of_time.unwrap_or(DateTime::<Utc>::MAX_UTC), Uuid::max());
    if let Some(before) = query.created_before {
        // (before, nil) sits below every order created at `before`: order ids are never nil.
        upper = upper.min((before, Uuid::nil()));
    }
    if let Some(Cursor { created_at, id }) = query.after {
        upper = upper.min((created_at, id.as_uuid()));
    }
    let lower = query
        .created_after
        .or(start_of_time)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    (upper, lower)
}

/// Trims the extra row fetched to learn whether another page exists.
pub(crate) fn page(orders: &mut Vec<Order>, limit: u32) -> Page {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = orders.len() > limit;
    orders.truncate(limit);
    let next = if has_more {
        orders.last().map(|last| Cursor {
            created_at: last.created_at(),
            id: last.id(),
        })
    } else {
        None
    };
    Page {
        orders: std::mem::take(orders),
        next,
    }
}

/// `"<version> <description>"` of each migration of `migrator` not in `applied_before`.
pub(crate) fn newly_applied(
    migrator: &sqlx::migrate::Migrator,
    applied_before: &[i64],
) -> Vec<String> {
    migrator
        .iter()
        .filter(|migration| !applied_before.contains(&migration.version))
        .map(|migration| format!("{} {}", migration.version, migration.description))
        .collect()
}

/// An idempotency key's row, as both stores read it.
pub(crate) struct KeyRow {
    pub(crate) fingerprint: String,
    pub(crate) token: Uuid,
    pub(crate) locked_until: DateTime<Utc>,
    pub(crate) response: Option<StoredResponse>,
}

/// The three row operations [`begin_key`] is made of.
#[async_trait::async_trait]
pub(crate) trait KeyRows {
    /// Inserts the key, or starts it afresh if it expired; true when `request` now holds it.
    async fn insert_or_restart(&self, request: &KeyRequest) -> Result<bool, RepoError>;
    /// The key's row, if any.
    async fn read_key(&self, scope: &KeyScope) -> Result<Option<KeyRow>, RepoError>;
    /// Moves an unfinished key from holder `old` to `request`; `Some(order id)` on success.
    async fn take_over(
        &self,
        request: &KeyRequest,
        old: Uuid,
    ) -> Result<Option<Option<Uuid>>, RepoError>;
}

/// Claims a key: insert it, or read it and decide (replay, mismatch, in flight), or take over an
/// abandoned one. Every write is a compare-and-set, so two racing requests never both hold it.
pub(crate) async fn begin_key(
    rows: &(impl KeyRows + Sync),
    request: &KeyRequest,
) -> Result<Begin, RepoError> {
    let claimed = |order_id: Option<Uuid>| -> Result<Begin, RepoError> {
        let order_id = order_id
            .map(OrderId::from_uuid)
            .transpose()
            .map_err(|_| corrupt("order id"))?;
        Ok(Begin::Claimed(Claim {
            scope: request.scope.clone(),
            token: request.token,
            order_id,
        }))
    };
    // A few rounds cover the races (the row expiring, being purged or taken over meanwhile).
    for _ in 0..3 {
        if rows.insert_or_restart(request).await? {
            return claimed(None);
        }
        let Some(row) = rows.read_key(&request.scope).await? else {
            continue;
        };
        if row.fingerprint != request.fingerprint {
            return Ok(Begin::Mismatch);
        }
        if let Some(response) = row.response {
            return Ok(Begin::Replay(response));
        }
        if row.locked_until > request.now {
            return Ok(Begin::InFlight);
        }
        if let Some(order_id) = rows.take_over(request, row.token).await? {
            return claimed(order_id);
        }
    }
    Ok(Begin::InFlight)
}

/// Response headers as stored: a JSON list of `[name, value]` pairs.
pub(crate) fn headers_to_text(headers: &[(String, String)]) -> Result<String, RepoError> {
    serde_json::to_string(headers).map_err(RepoError::other)
}

pub(crate) fn headers_from_text(text: &str) -> Result<Vec<(String, String)>, RepoError> {
    serde_json::from_str(text).map_err(|_| corrupt("stored response headers"))
}

/// Counts the callers waiting for a pool connection (sqlx does not say).
#[derive(Debug, Clone, Default)]
pub(crate) struct Waiting(std::sync::Arc<std::sync::atomic::AtomicU32>);

impl Waiting {
    /// Counts one waiter until the guard is dropped (when the wait ends, however it ends).
    pub(crate) fn enter(&self) -> WaitingGuard<'_> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        WaitingGuard(&self.0)
    }

    /// Callers waiting now.
    pub(crate) fn count(&self) -> u32 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// One waiter, counted while it lives.
pub(crate) struct WaitingGuard<'a>(&'a std::sync::atomic::AtomicU32);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Keeps the first value written under a name and returns it, in both dialects (`$n`
/// placeholders are read by SQLite too). The no-op update makes `RETURNING` yield the kept row.
pub(crate) const PIN_FACT: &str = "
INSERT INTO shared_facts (name, value) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET name = shared_facts.name
RETURNING value";

/// Takes a job's lease when it is free or the caller's own; returns the holder only when the
/// caller got it. One statement, so racing replicas serialize on the row.
pub(crate) const TAKE_LEASE: &str = "
INSERT INTO job_leases (job, holder, until) VALUES ($1, $2, $3)
ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, until = excluded.until
WHERE job_leases.until <= $4 OR job_leases.holder = excluded.holder
RETURNING holder";
