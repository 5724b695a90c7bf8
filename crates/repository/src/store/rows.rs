//! Rows ↔ domain: an order's columns and values, and the checks on what storage returns.
//! (Just over 400 lines: one order's 31 columns are read, written and checked here, in one
//! place on purpose; its document is `document.rs`.)

use chrono::{DateTime, Utc};
use ordo_domain::{
    CancelReason, Currency, CustomerId, Discount, Order, OrderId, OrderNumber, OrderRecord,
    OrderStatus, Payment, PaymentOperation, PaymentStatus, PendingPayment, RoundingMode,
    RoundingPolicy, StatusChange, StoredPricing, TaxRounding, Version,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::dialect::{RowRead, Value, required};
use super::document::Document;
use crate::{Cursor, ListQuery, Page, PaymentAttempt, Refund, RefundStatus, RepoError};

/// An order's columns in storage form.
pub(crate) struct OrderRow {
    pub(crate) id: Uuid,
    pub(crate) number: String,
    pub(crate) customer_id: Uuid,
    pub(crate) currency: String,
    pub(crate) subtotal: Decimal,
    pub(crate) discount: Decimal,
    pub(crate) shipping: Decimal,
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
    /// Lines, shipping lines and details, as JSON text (`document.rs`).
    pub(crate) document: String,
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

/// A version as its `INTEGER` column.
pub(crate) fn version_column(version: Version) -> Result<i32, RepoError> {
    i32::try_from(version.get()).map_err(RepoError::other)
}

pub(crate) fn corrupt(what: &str) -> RepoError {
    RepoError::other(format!("stored order has an invalid {what}"))
}

/// The columns of `orders`, in the order `INSERT_COLUMNS` names them.
macro_rules! order_columns {
    () => {
        "id, order_number, customer_id, currency, subtotal, discount, discount_kind,
 discount_value, tax_rate, tax, total, minor_units, rounding_mode, tax_rounding, status,
 cancel_reason, version, created_at, updated_at, payment_status, amount_authorized,
 amount_captured, amount_refunded, payment_reference, payment_pending, pending_status,
 pending_reason, shipping, email_key, channel, document"
    };
}
pub(crate) use order_columns;

/// The columns of `orders o` that `order_row` reads.
macro_rules! select_columns {
    () => {
        "o.id, o.order_number, o.customer_id, o.currency, o.subtotal, o.discount, o.discount_kind,
       o.discount_value, o.tax_rate, o.tax, o.total, o.minor_units, o.rounding_mode,
       o.tax_rounding, o.status, o.cancel_reason, o.version, o.created_at, o.updated_at,
       o.payment_status, o.amount_authorized, o.amount_captured, o.amount_refunded,
       o.payment_reference, o.payment_pending, o.pending_status, o.pending_reason, o.shipping,
       CAST(o.document AS TEXT) AS document"
    };
}
pub(crate) use select_columns;

/// An order's columns, as `select_columns!` names them.
pub(crate) fn order_row(row: &impl RowRead) -> Result<OrderRow, RepoError> {
    let text = |column: &str| required(row.text(column)?, column);
    let money = |column: &str| required(row.money(column)?, column);
    let time = |column: &str| required(row.time(column)?, column);
    Ok(OrderRow {
        id: required(row.uuid("id")?, "id")?,
        number: text("order_number")?,
        customer_id: required(row.uuid("customer_id")?, "customer_id")?,
        currency: text("currency")?,
        subtotal: money("subtotal")?,
        discount: money("discount")?,
        shipping: money("shipping")?,
        discount_kind: row.text("discount_kind")?,
        discount_value: row.money("discount_value")?,
        tax_rate: row.money("tax_rate")?,
        tax: money("tax")?,
        total: money("total")?,
        minor_units: required(row.int("minor_units")?, "minor_units")?,
        rounding_mode: text("rounding_mode")?,
        tax_rounding: text("tax_rounding")?,
        status: text("status")?,
        cancel_reason: row.text("cancel_reason")?,
        version: required(row.int("version")?, "version")?,
        payment_status: text("payment_status")?,
        amount_authorized: money("amount_authorized")?,
        amount_captured: money("amount_captured")?,
        amount_refunded: money("amount_refunded")?,
        payment_reference: row.text("payment_reference")?,
        payment_pending: row.text("payment_pending")?,
        pending_status: row.text("pending_status")?,
        pending_reason: row.text("pending_reason")?,
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
        document: text("document")?,
    })
}

/// An order's values for `order_columns!`, in its order.
pub(crate) fn order_values(order: &Order) -> Result<Vec<Value>, RepoError> {
    let pricing = order.pricing();
    let (discount_kind, discount_value) = discount_columns(pricing.discount_rule());
    let (pending, pending_status, pending_reason) = pending_columns(order);
    Ok(vec![
        order.id().as_uuid().into(),
        order.number().to_string().into(),
        order.customer_id().as_uuid().into(),
        pricing.currency().code().into(),
        pricing.subtotal().into(),
        pricing.discount().into(),
        discount_kind.into(),
        discount_value.into(),
        pricing.tax_rate().into(),
        pricing.tax().into(),
        pricing.total().into(),
        i16::from(pricing.rounding().minor_units()).into(),
        pricing.rounding().mode().as_str().into(),
        pricing.rounding().tax().as_str().into(),
        order.status().as_str().into(),
        order.cancel_reason().map(CancelReason::as_str).into(),
        version_column(order.version())?.into(),
        order.created_at().into(),
        order.updated_at().into(),
        order.payment().status.as_str().into(),
        order.payment().authorized.into(),
        order.payment().captured.into(),
        order.payment().refunded.into(),
        order.payment().reference.clone().into(),
        pending.into(),
        pending_status.into(),
        pending_reason.into(),
        pricing.shipping().into(),
        email_key(order).into(),
        order.details().channel().as_str().into(),
        Value::Json(Some(Document::write(order)?)),
    ])
}

/// The contact's email as lists match it (lowercased), if the order has one.
fn email_key(order: &Order) -> Option<String> {
    order
        .details()
        .contact()
        .map(|contact| contact.email().match_key())
}

/// The values of `UPDATE_ORDER`'s `$1`..`$18`.
pub(crate) fn update_values(order: &Order, expected: Version) -> Result<Vec<Value>, RepoError> {
    let (pending, pending_status, pending_reason) = pending_columns(order);
    Ok(vec![
        order.status().as_str().into(),
        order.cancel_reason().map(CancelReason::as_str).into(),
        version_column(order.version())?.into(),
        order.updated_at().into(),
        order.id().as_uuid().into(),
        version_column(expected)?.into(),
        order.payment().status.as_str().into(),
        order.payment().authorized.into(),
        order.payment().captured.into(),
        order.payment().refunded.into(),
        order.payment().reference.clone().into(),
        pending.into(),
        pending_status.into(),
        pending_reason.into(),
        email_key(order).into(),
        order.details().channel().as_str().into(),
        Value::Json(Some(Document::write(order)?)),
        order.fulfillment_status().as_str().into(),
    ])
}

/// The values of `RECORD_ATTEMPT`'s columns, in order.
pub(crate) fn attempt_values(attempt: &PaymentAttempt) -> Vec<Value> {
    vec![
        attempt.id.into(),
        attempt.order_id.as_uuid().into(),
        attempt.operation.as_str().into(),
        attempt.amount.into(),
        attempt.outcome.as_str().into(),
        attempt.reference.clone().into(),
        attempt.at.into(),
    ]
}

/// A refund's row.
pub(crate) fn refund_row(row: &impl RowRead) -> Result<Refund, RepoError> {
    let status = required(row.text("status")?, "status")?;
    Ok(Refund {
        id: required(row.uuid("id")?, "id")?,
        order_id: OrderId::from_uuid(required(row.uuid("order_id")?, "order_id")?)
            .map_err(|_| corrupt("refund's order id"))?,
        amount: required(row.money("amount")?, "amount")?,
        reason: required(row.text("reason")?, "reason")?,
        status: RefundStatus::parse(&status).ok_or_else(|| corrupt("refund status"))?,
        created_at: required(row.time("created_at")?, "created_at")?,
    })
}

/// Rebuilds an order from its row; [`Order::restore`] re-prices it to catch corruption.
pub(crate) fn restore(row: OrderRow) -> Result<Order, RepoError> {
    let parts = Document::read(&row.document)?;
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
        pricing: StoredPricing {
            currency,
            lines: parts.lines,
            subtotal: row.subtotal,
            discount_rule,
            discount_code: parts.discount_code,
            prices_include_tax: parts.prices_include_tax,
            discount_reason: parts.discount_reason,
            discount: row.discount,
            shipping_lines: parts.shipping,
            shipping: row.shipping,
            tax_rate: row.tax_rate,
            tax: row.tax,
            total: row.total,
            rounding,
        },
        details: parts.details,
        erased_at: parts.erased_at,
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
        fulfillments: parts.fulfillments,
        returns: parts.returns,
        refunded_lines: parts.refunded_lines,
        provider: parts.provider,
        payment_due_at: parts.payment_due_at,
        recorded_payments: parts.recorded_payments,
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
pub(crate) fn list_bounds(query: &ListQuery) -> ((DateTime<Utc>, Uuid), Option<DateTime<Utc>>) {
    let end_of_time = DateTime::<Utc>::from_timestamp_micros(253_402_300_799_999_999);
    let start_of_time = DateTime::<Utc>::from_timestamp_micros(-62_135_596_800_000_000);
    let mut upper = (end_of_time.unwrap_or(DateTime::<Utc>::MAX_UTC), Uuid::max());
    if let Some(before) = query.created_before {
        // (before, nil) sits below every order created at `before`: order ids are never nil.
        upper = upper.min((before, Uuid::nil()));
    }
    if let Some(Cursor { created_at, id }) = query.after {
        upper = upper.min((created_at, id));
    }
    let start_of_time = start_of_time.unwrap_or(DateTime::<Utc>::MIN_UTC);
    // Both bounds within years 1 to 9999, which every database stores: a cursor may carry any
    // time (it is only a bound), and PostgreSQL refuses one before 4713 BC.
    upper.0 = upper.0.max(start_of_time);
    let lower = query.created_after.map(|after| after.max(start_of_time));
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
            id: last.id().as_uuid(),
        })
    } else {
        None
    };
    Page {
        orders: std::mem::take(orders),
        next,
    }
}

/// Response headers as stored: a JSON list of `[name, value]` pairs.
pub(crate) fn headers_to_text(headers: &[(String, String)]) -> Result<String, RepoError> {
    serde_json::to_string(headers).map_err(RepoError::other)
}

pub(crate) fn headers_from_text(text: &str) -> Result<Vec<(String, String)>, RepoError> {
    serde_json::from_str(text).map_err(|_| corrupt("stored response headers"))
}
