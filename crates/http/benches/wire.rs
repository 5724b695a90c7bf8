//! Request and response (de)serialization: a create body in, an order out.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    reason = "a benchmark: a failure here is a broken benchmark"
)]

use std::fmt::Write as _;
use std::hint::black_box;

use chrono::{TimeZone as _, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ordo_domain::{NewOrder, Order, OrderId, OrderNumber, OrderNumberKey, RoundingPolicy, price};
use ordo_http::wire;

fn body(items: u32) -> String {
    let mut lines = String::new();
    for i in 0..items {
        if i > 0 {
            lines.push(',');
        }
        let _ = write!(
            lines,
            r#"{{"product_id":"0193a1a0-0000-7000-8000-{i:012x}","quantity":{},"unit_price":"{}.99"}}"#,
            i % 5 + 1,
            i % 90 + 1
        );
    }
    format!(
        r#"{{"customer_id":"0193a1a0-0000-7000-8000-000000000001","currency":"USD","items":[{lines}],"discount":{{"type":"percentage","percent":"10"}},"tax_rate":"0.0825"}}"#
    )
}

fn order(body: &str) -> Order {
    let draft = wire::read_create(body.as_bytes()).unwrap();
    let new = NewOrder::parse(&draft).unwrap();
    let pricing = price(&new, RoundingPolicy::default_for(new.currency())).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 5, 18, 14).unwrap();
    let number = OrderNumber::from_sequence(1, now.date_naive(), OrderNumberKey::DEFAULT).unwrap();
    Order::place(
        OrderId::from_parts(1, &[7; 10]),
        number,
        new.customer_id(),
        pricing,
        new.details().clone(),
        now,
    )
}

fn wire_formats(c: &mut Criterion) {
    let mut read = c.benchmark_group("read a create body");
    for items in [1, 3, 100] {
        let body = body(items);
        read.bench_with_input(BenchmarkId::new("strict", items), &body, |b, body| {
            b.iter(|| wire::read_create(black_box(body.as_bytes())).unwrap());
        });
        read.bench_with_input(BenchmarkId::new("streaming", items), &body, |b, body| {
            b.iter(|| wire::read_create_streaming(black_box(body.as_bytes())).unwrap());
        });
    }
    read.finish();
    let mut write = c.benchmark_group("write an order");
    for items in [1, 3, 100] {
        let order = order(&body(items));
        write.bench_with_input(BenchmarkId::from_parameter(items), &order, |b, order| {
            b.iter(|| wire::write_order(black_box(order)).unwrap());
        });
    }
    write.finish();
}

criterion_group!(benches, wire_formats);
criterion_main!(benches);
