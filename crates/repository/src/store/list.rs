//! The list statement: `select_order!` with exactly the clauses a [`ListQuery`] asks for, so each
//! combination of filters is its own prepared statement, planned for what it filters on (a
//! catch-all `($n IS NULL OR …)` statement would get one generic plan for all of them).
//!
//! Clauses are fixed text with numbered placeholders; values are only ever bound. The two
//! filters whose SQL differs between the databases (search text, total) come from the
//! [`Dialect`]; every other clause is written once here.

use ordo_domain::OrderStatus;

use super::dialect::{Dialect, Statement, Value};
use super::rows::list_bounds;
use crate::ListQuery;

/// The keyset order every list pages by.
const ORDER_BY: &str = "\nORDER BY o.created_at DESC, o.id DESC";

/// Orders carrying a tag: `order_terms` holds each order's tags and SKUs (migration 10; kept
/// by triggers on both databases), with statistics that tell the planner how rare a term is.
const HAS_TAG: &str =
    "o.id IN (SELECT t.order_id FROM order_terms t WHERE t.kind = 'tag' AND t.term = $?)";
/// Orders with a line of a SKU.
const HAS_SKU: &str =
    "o.id IN (SELECT t.order_id FROM order_terms t WHERE t.kind = 'sku' AND t.term = $?)";

/// A filter clause the dialect writes, with a `$?` for each of its values, in order.
pub(crate) type Clause = (&'static str, Vec<Value>);

/// `WHERE` clauses being put together, and their values.
struct Clauses {
    sql: String,
    values: Vec<Value>,
}

impl Clauses {
    /// Appends `AND clause`, numbering its `$?` placeholders in order and binding `values`.
    fn and(&mut self, clause: &str, values: impl IntoIterator<Item = Value>) {
        let bound = self.values.len();
        self.sql.push_str("\n  AND ");
        let mut parts = clause.split("$?");
        if let Some(first) = parts.next() {
            self.sql.push_str(first);
        }
        let mut values = values.into_iter();
        for part in parts {
            if let Some(value) = values.next() {
                self.placeholder(value);
            }
            self.sql.push_str(part);
        }
        debug_assert!(values.next().is_none(), "a value too many for {clause}");
        debug_assert_eq!(
            self.values.len().saturating_sub(bound),
            clause.matches("$?").count(),
            "one value for each placeholder of {clause}"
        );
    }

    /// Binds `value` as the next placeholder, written where the text ends.
    fn placeholder(&mut self, value: Value) {
        self.values.push(value);
        self.sql.push('$');
        self.sql.push_str(&self.values.len().to_string());
    }

    fn and_clause(&mut self, (clause, values): Clause) {
        self.and(clause, values);
    }
}

/// `select` (a `SELECT … FROM orders o`) with the query's filters and keyset bounds, newest
/// first, and one row more than the page to learn whether another page exists.
///
/// A list filtered by status, payment status, email, channel, total, tag, SKU or `q` finds the
/// page's ids first and only then reads those rows: the search walks or sorts narrow index entries (`(total, created_at, id)`, the
/// `(channel, created_at, id)` walk checking each id's tag, …) instead of whole order rows,
/// which are wide (the document), so the orders it passes over are never read.
pub(crate) fn list_statement<D: Dialect>(select: &'static str, query: &ListQuery) -> Statement {
    let ((before_time, before_id), after_time) = list_bounds(query);
    let ids_first = query.status.is_some()
        || query.payment_status.is_some()
        || query.fulfillment_status.is_some()
        || query.due_before.is_some()
        || query.email.is_some()
        || query.channel.is_some()
        || query.total_min.is_some()
        || query.total_max.is_some()
        || query.tag.is_some()
        || query.sku.is_some()
        || query.text.is_some();
    let head = if ids_first {
        format!("{select}\nWHERE o.id IN (\nSELECT o.id FROM orders o\nWHERE o.deleted_at IS NULL")
    } else {
        format!("{select}\nWHERE o.deleted_at IS NULL")
    };
    let mut clauses = Clauses {
        sql: head,
        values: Vec::new(),
    };
    clauses.and(
        "(o.created_at, o.id) < ($?, $?)",
        [before_time.into(), before_id.into()],
    );
    if let Some(after) = after_time {
        clauses.and("o.created_at >= $?", [after.into()]);
    }
    if let Some(customer) = query.customer_id {
        clauses.and("o.customer_id = $?", [customer.as_uuid().into()]);
    }
    if let Some(status) = query.status {
        clauses.and("o.status = $?", [OrderStatus::as_str(status).into()]);
    }
    if let Some(payment) = query.payment_status {
        clauses.and("o.payment_status = $?", [payment.as_str().into()]);
    }
    if let Some(fulfillment) = query.fulfillment_status {
        clauses.and("o.fulfillment_status = $?", [fulfillment.as_str().into()]);
    }
    if let Some(due) = query.due_before {
        clauses.and(
            "o.payment_due_us < $? AND o.payment_status IN ('unpaid', 'partially_paid') \
             AND o.status <> 'cancelled'",
            [due.timestamp_micros().into()],
        );
    }
    if let Some(email) = &query.email {
        clauses.and("o.email_key = $?", [email.match_key().into()]);
    }
    if let Some(channel) = &query.channel {
        clauses.and("o.channel = $?", [channel.as_str().into()]);
    }
    if let Some(bound) = query.total_min {
        clauses.and_clause(D::total_at_least(bound));
    }
    if let Some(bound) = query.total_max {
        clauses.and_clause(D::total_at_most(bound));
    }
    if let Some(tag) = &query.tag {
        clauses.and(HAS_TAG, [tag.as_str().into()]);
    }
    if let Some(sku) = &query.sku {
        clauses.and(HAS_SKU, [sku.as_str().into()]);
    }
    if let Some(text) = &query.text {
        clauses.and_clause(D::matches_text(text));
    }
    clauses.sql.push_str(ORDER_BY);
    clauses.sql.push_str("\nLIMIT ");
    clauses.placeholder(i64::from(query.limit.get()).saturating_add(1).into());
    if ids_first {
        clauses.sql.push(')');
        clauses.sql.push_str(ORDER_BY);
    }
    let statement = Statement::owned(clauses.sql).bind_all(clauses.values);
    // How many orders a word, a term or a total range matches decides the plan (walk the
    // newest orders, or read the filter's index): plan these for their values every time.
    let skewed = query.text.is_some()
        || query.tag.is_some()
        || query.sku.is_some()
        || query.total_min.is_some()
        || query.total_max.is_some();
    if skewed {
        statement.planned_each_time()
    } else {
        statement
    }
}

/// `text` as a `LIKE` pattern matching it anywhere, with `\`, `%` and `_` escaped (`\` is the
/// escape character both databases are told to use).
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len().saturating_add(2));
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut clauses = Clauses {
            sql: String::new(),
            values: vec![Value::Big(Some(0))],
        };
        clauses.and("(a, b) < ($?, $?)", [1_i64.into(), 2_i64.into()]);
        clauses.and("c = $?", [3_i64.into()]);
        assert_eq!(clauses.sql, "\n  AND (a, b) < ($2, $3)\n  AND c = $4");
        assert_eq!(clauses.values.len(), 4);
    }

    #[test]
    fn like_patterns_escape_their_wildcards() {
        assert_eq!(contains_pattern("ord-26"), "%ord-26%");
        assert_eq!(contains_pattern(r"50%_a\b"), r"%50\%\_a\\b%");
    }
}
