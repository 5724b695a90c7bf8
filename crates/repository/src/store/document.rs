//! An order's nested parts as one JSON document, in one column (`document`: JSONB on
//! PostgreSQL, JSON text on SQLite): its lines with what they were when ordered, its shipping
//! lines and its details. Measured against a lines table in docs/performance.md ("How an order
//! is stored"). Amounts are strings, so no JSON reader ever turns them into floats.
//!
//! The shape is storage's own, versioned by the migrations that write it; nothing outside this
//! crate reads it. Keys are never renamed in place: a new shape comes with a migration.

use chrono::{DateTime, Utc};
use ordo_domain::{
    CodeName, Fulfillment, LineSnapshot, LineSnapshotDraft, LineSource, Order, OrderDetails,
    OrderDetailsDraft, PaymentProvider, PricedLine, ProductId, Quantity, RecordedPayment,
    RefundedLine, Return, ShippingLine, amount_serde,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::rows::corrupt;
use crate::RepoError;

/// The document.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Document {
    lines: Vec<StoredLine>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    shipping: Vec<ShippingLine>,
    /// Absent in orders placed before details existed: all empty, channel `api`.
    #[serde(default)]
    details: OrderDetailsDraft,
    /// When the customer's personal data was erased from the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    erased_at: Option<DateTime<Utc>>,
    /// The discount code its discount came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    discount_code: Option<String>,
    /// Why the shop gave its manual discount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    discount_reason: Option<String>,
    /// Whether its prices contain the tax; absent (false) in orders placed before tax tables.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    prices_include_tax: bool,
    /// Its fulfilments, oldest first; absent while it has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    fulfillments: Vec<Fulfillment>,
    /// Its returns, oldest first; absent while it has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    returns: Vec<Return>,
    /// Its refunds by line; absent while it has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    refunded_lines: Vec<RefundedLine>,
    /// Who takes its money; absent for the gateway.
    #[serde(default, skip_serializing_if = "is_gateway")]
    payment_provider: PaymentProvider,
    /// When a manual payment is due, in microseconds since the epoch (a number: the
    /// `payment_due_us` column the overdue filter reads is generated from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment_due_us: Option<i64>,
    /// The payments staff recorded; absent while there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    payments: Vec<RecordedPayment>,
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_gateway(provider: &PaymentProvider) -> bool {
    *provider == PaymentProvider::Gateway
}

/// One line.
#[derive(Debug, Serialize, Deserialize)]
struct StoredLine {
    /// Absent for a custom line placed without a product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    product_id: Option<Uuid>,
    quantity: i64,
    #[serde(with = "amount_serde")]
    unit_price: Decimal,
    #[serde(with = "amount_serde")]
    line_total: Decimal,
    #[serde(default, skip_serializing_if = "LineSnapshotDraft::is_empty")]
    snapshot: LineSnapshotDraft,
    /// Absent in lines placed before the price book: their prices came with the order.
    #[serde(default, skip_serializing_if = "is_custom")]
    source: LineSource,
    /// The line's own rate from the shop's tax table; absent when the order's rate applied.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "amount_serde::option"
    )]
    tax_rate: Option<Decimal>,
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_custom(source: &LineSource) -> bool {
    *source == LineSource::Custom
}

/// What storage reads back: checked again by [`Order::restore`].
pub(crate) struct Parts {
    pub(crate) lines: Vec<PricedLine>,
    pub(crate) shipping: Vec<ShippingLine>,
    pub(crate) details: OrderDetails,
    pub(crate) erased_at: Option<DateTime<Utc>>,
    pub(crate) discount_code: Option<CodeName>,
    pub(crate) prices_include_tax: bool,
    pub(crate) discount_reason: Option<String>,
    pub(crate) fulfillments: Vec<Fulfillment>,
    pub(crate) returns: Vec<Return>,
    pub(crate) refunded_lines: Vec<RefundedLine>,
    pub(crate) provider: PaymentProvider,
    pub(crate) payment_due_at: Option<DateTime<Utc>>,
    pub(crate) recorded_payments: Vec<RecordedPayment>,
}

impl Document {
    /// The document of `order`, as JSON text.
    pub(crate) fn write(order: &Order) -> Result<String, RepoError> {
        let pricing = order.pricing();
        let document = Self {
            lines: pricing
                .lines()
                .iter()
                .map(|line| StoredLine {
                    product_id: line.product_id.as_ref().map(ProductId::as_uuid),
                    quantity: i64::from(line.quantity.get()),
                    unit_price: line.unit_price,
                    line_total: line.line_total,
                    snapshot: line
                        .snapshot
                        .as_ref()
                        .map(LineSnapshot::to_draft)
                        .unwrap_or_default(),
                    source: line.source,
                    tax_rate: line.tax_rate,
                })
                .collect(),
            shipping: pricing.shipping_lines().to_vec(),
            details: order.details().to_draft(),
            erased_at: order.erased_at(),
            discount_code: pricing.discount_code().map(|code| code.as_str().to_owned()),
            prices_include_tax: pricing.prices_include_tax(),
            discount_reason: pricing.discount_reason().map(str::to_owned),
            fulfillments: order.fulfillments().to_vec(),
            returns: order.returns().to_vec(),
            refunded_lines: order.refunded_lines().to_vec(),
            payment_provider: order.payment_provider(),
            payment_due_us: order.payment_due_at().map(|at| at.timestamp_micros()),
            payments: order.recorded_payments().to_vec(),
        };
        serde_json::to_string(&document).map_err(RepoError::other)
    }

    /// The parts of a stored document; every value is parsed again, so a hand-edited document
    /// that breaks a rule is caught rather than served.
    pub(crate) fn read(text: &str) -> Result<Parts, RepoError> {
        let document: Self = serde_json::from_str(text).map_err(|_| corrupt("document"))?;
        let lines = document
            .lines
            .into_iter()
            .enumerate()
            .map(|(index, line)| {
                Ok(PricedLine {
                    product_id: line
                        .product_id
                        .map(|id| ProductId::from_uuid(id).map_err(|_| corrupt("product id")))
                        .transpose()?,
                    quantity: Quantity::new(line.quantity).map_err(|_| corrupt("quantity"))?,
                    unit_price: line.unit_price,
                    line_total: line.line_total,
                    snapshot: LineSnapshot::parse(&line.snapshot, index)
                        .map_err(|_| corrupt("line snapshot"))?,
                    source: line.source,
                    tax_rate: line.tax_rate,
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        let details =
            OrderDetails::parse(&document.details).map_err(|_| corrupt("order details"))?;
        let discount_code = document
            .discount_code
            .map(|code| CodeName::parse(&code).map_err(|_| corrupt("discount code")))
            .transpose()?;
        Ok(Parts {
            lines,
            shipping: document.shipping,
            details,
            erased_at: document.erased_at,
            discount_code,
            prices_include_tax: document.prices_include_tax,
            discount_reason: document.discount_reason,
            fulfillments: document.fulfillments,
            returns: document.returns,
            refunded_lines: document.refunded_lines,
            provider: document.payment_provider,
            payment_due_at: document
                .payment_due_us
                .map(|us| DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt("payment due")))
                .transpose()?,
            recorded_payments: document.payments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_from_before_details_reads_with_empty_details() {
        let old = r#"{"lines":[{"product_id":"0193a1a0-0000-7000-8000-0000000000aa",
            "quantity":2,"unit_price":"19.99","line_total":"39.98"}]}"#;
        let parts = Document::read(old).unwrap();
        assert_eq!(parts.lines.len(), 1);
        assert_eq!(parts.lines[0].line_total, Decimal::new(3998, 2));
        assert_eq!(parts.lines[0].snapshot, None);
        assert!(parts.shipping.is_empty());
        assert_eq!(parts.details, OrderDetails::default());
    }

    #[test]
    fn a_document_breaking_a_rule_is_corrupt() {
        let bad_email = r#"{"lines":[],"details":{"contact":{"email":"not an email"}}}"#;
        assert!(Document::read(bad_email).is_err());
        let zero_quantity = r#"{"lines":[{"product_id":"0193a1a0-0000-7000-8000-0000000000aa",
            "quantity":0,"unit_price":"1","line_total":"0"}]}"#;
        assert!(Document::read(zero_quantity).is_err());
        assert!(Document::read("[]").is_err());
    }
}
