//! What the client prints: the server's JSON for scripts (`--json`), tables for people.
#![allow(clippy::print_stdout, reason = "the CLI prints results on stdout")]

use comfy_table::Table;
use serde_json::Value;

/// A JSON value's text, `-` when absent.
fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    }
}

/// A one-line result: JSON with `--json`, else the sentence.
pub(crate) fn result(json: bool, value: &Value, line: &str) {
    if json {
        println!("{value}");
    } else {
        println!("{line}");
    }
}

pub(crate) fn order(json: bool, order: &Value) {
    if json {
        println!("{order}");
        return;
    }
    let mut summary = Table::new();
    for key in [
        "id",
        "order_number",
        "customer_id",
        "status",
        "cancel_reason",
        "payment_status",
        "currency",
        "subtotal",
        "discount",
        "shipping_total",
        "tax",
        "total",
        "amount_refunded",
        "channel",
        "version",
        "created_at",
        "updated_at",
    ] {
        summary.add_row(vec![key.to_owned(), text(order, key)]);
    }
    let empty = Value::Null;
    let contact = order.get("contact").unwrap_or(&empty);
    summary.add_row(vec!["email".to_owned(), text(contact, "email")]);
    let address = order.get("shipping_address").unwrap_or(&empty);
    summary.add_row(vec![
        "ship to".to_owned(),
        format!("{}, {}", text(address, "city"), text(address, "country")),
    ]);
    let tags = order
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    summary.add_row(vec!["tags".to_owned(), tags]);
    println!("{summary}\n{}", items(order));
}

/// A preview: the prices an order would have.
pub(crate) fn pricing(json: bool, pricing: &Value) {
    if json {
        println!("{pricing}");
        return;
    }
    let mut summary = Table::new();
    for key in [
        "currency", "subtotal", "discount", "tax_rate", "tax", "total",
    ] {
        summary.add_row(vec![key.to_owned(), text(pricing, key)]);
    }
    println!(
        "{summary}\n{}\n(a preview: nothing was stored)",
        items(pricing)
    );
}

/// A refund and the order it changed.
pub(crate) fn refund(json: bool, refund: &Value) {
    if json {
        println!("{refund}");
        return;
    }
    println!(
        "refund {}: {} ({}), {}",
        text(refund, "id"),
        text(refund, "amount"),
        text(refund, "status"),
        text(refund, "reason")
    );
    if let Some(changed) = refund.get("order") {
        order(false, changed);
    }
}

/// A fulfilment, then its order.
pub(crate) fn fulfillment(json: bool, fulfillment: &Value) {
    if json {
        println!("{fulfillment}");
        return;
    }
    let lines = fulfillment
        .get("lines")
        .and_then(Value::as_array)
        .map(|lines| {
            lines
                .iter()
                .map(|line| format!("line {} × {}", text(line, "line"), text(line, "quantity")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    println!(
        "fulfillment {} (#{}): {}, {lines}; tracking {} {}",
        text(fulfillment, "id"),
        text(fulfillment, "number"),
        text(fulfillment, "status"),
        text(fulfillment, "carrier"),
        text(fulfillment, "tracking_number"),
    );
    if let Some(capture) = fulfillment.get("capture").filter(|c| !c.is_null()) {
        println!(
            "capture {}: {}",
            text(capture, "amount"),
            text(capture, "status")
        );
    }
    if let Some(changed) = fulfillment.get("order") {
        println!(
            "order {}: {}, {}, {}",
            text(changed, "order_number"),
            text(changed, "status"),
            text(changed, "fulfillment_status"),
            text(changed, "payment_status"),
        );
    }
}

/// A return, its refund when one closed it, then its order.
pub(crate) fn returned(json: bool, ret: &Value) {
    if json {
        println!("{ret}");
        return;
    }
    println!(
        "return {} (#{}): {} {}, {}",
        text(ret, "id"),
        text(ret, "number"),
        text(ret, "status"),
        text(ret, "outcome"),
        text(ret, "reason"),
    );
    if let Some(refund) = ret.get("refund") {
        println!(
            "refund {}: {} ({})",
            text(refund, "id"),
            text(refund, "amount"),
            text(refund, "status")
        );
    }
    if let Some(changed) = ret.get("order") {
        println!(
            "order {}: {}, {}, {}; refunded {}",
            text(changed, "order_number"),
            text(changed, "status"),
            text(changed, "fulfillment_status"),
            text(changed, "payment_status"),
            text(changed, "amount_refunded"),
        );
    }
}

fn items(priced: &Value) -> Table {
    let mut items = Table::new();
    items.set_header(vec![
        "product",
        "sku",
        "title",
        "quantity",
        "unit price",
        "line total",
    ]);
    for item in priced
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        items.add_row(vec![
            text(item, "product_id"),
            text(item, "sku"),
            text(item, "title"),
            text(item, "quantity"),
            text(item, "unit_price"),
            text(item, "line_total"),
        ]);
    }
    items
}

pub(crate) fn page(json: bool, page: &Value) {
    if json {
        println!("{page}");
        return;
    }
    let mut table = Table::new();
    table.set_header(vec!["id", "number", "status", "total", "created"]);
    for order in page
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let total = format!("{} {}", text(order, "total"), text(order, "currency"));
        table.add_row(vec![
            text(order, "id"),
            text(order, "order_number"),
            text(order, "status"),
            total,
            text(order, "created_at"),
        ]);
    }
    println!("{table}");
    if let Some(cursor) = page.get("next_cursor").and_then(Value::as_str) {
        println!("more: --cursor {cursor}");
    }
}

/// A bulk upsert's answer: how many products were created, updated, left alone.
pub(crate) fn imported(json: bool, outcome: &Value) {
    let line = format!(
        "{} created, {} updated, {} unchanged",
        text(outcome, "created"),
        text(outcome, "updated"),
        text(outcome, "unchanged")
    );
    result(json, outcome, &line);
}

/// A page of the price book.
pub(crate) fn products(json: bool, page: &Value) {
    if json {
        println!("{page}");
        return;
    }
    let mut table = Table::new();
    table.set_header(vec!["sku", "title", "status", "prices", "version"]);
    for product in page
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let prices = product
            .get("prices")
            .and_then(Value::as_object)
            .map(|prices| {
                prices
                    .iter()
                    .map(|(code, price)| format!("{} {code}", price.as_str().unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        table.add_row(vec![
            text(product, "sku"),
            text(product, "title"),
            text(product, "status"),
            prices,
            text(product, "version"),
        ]);
    }
    println!("{table}");
    if let Some(cursor) = page.get("next_cursor").and_then(Value::as_str) {
        println!("more: --cursor {cursor}");
    }
}
