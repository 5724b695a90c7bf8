//! The domain's hot paths: validating and pricing an order, and order numbers.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    reason = "a benchmark: a failure here is a broken benchmark"
)]

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ordo_domain::{
    CustomerId, LineItemDraft, NewOrder, OrderDraft, OrderNumber, OrderNumberKey, ProductId,
    RoundingPolicy, price,
};
use rust_decimal::Decimal;
use uuid::Uuid;

fn draft(items: u32) -> OrderDraft {
    OrderDraft {
        details: ordo_domain::OrderDetailsDraft::default(),
        customer_id: CustomerId::from_uuid(Uuid::from_u128(1)).unwrap(),
        currency: "USD".to_owned(),
        items: (0..items)
            .map(|i| LineItemDraft {
                snapshot: ordo_domain::LineSnapshotDraft::default(),
                product_id: Some(
                    ProductId::from_uuid(Uuid::from_u128(u128::from(i) + 100)).unwrap(),
                ),
                quantity: i64::from(i % 7 + 1),
                unit_price: Some(Decimal::new(i64::from(i) * 37 % 10_000 + 99, 2)),
            })
            .collect(),
        discount: None,
        discount_code: None,
        discount_code_optional: false,
        tax_rate: Some(Decimal::new(825, 4)),
        shipping: Vec::new(),
        shipping_method: None,
        discount_reason: None,
    }
}

fn pricing(c: &mut Criterion) {
    let mut group = c.benchmark_group("price an order");
    for items in [1, 10, 100] {
        let order = NewOrder::parse(&draft(items)).unwrap();
        let policy = RoundingPolicy::default_for(order.currency());
        group.bench_with_input(BenchmarkId::from_parameter(items), &order, |b, order| {
            b.iter(|| price(black_box(order), policy).unwrap());
        });
    }
    group.finish();
}

fn validation(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate a request");
    for items in [1, 10, 100] {
        let draft = draft(items);
        group.bench_with_input(BenchmarkId::from_parameter(items), &draft, |b, draft| {
            b.iter(|| NewOrder::parse(black_box(draft)).unwrap());
        });
    }
    group.finish();
}

fn order_numbers(c: &mut Criterion) {
    let date = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let number = OrderNumber::from_sequence(123_456, date, OrderNumberKey::DEFAULT).unwrap();
    let text = number.to_string();
    c.bench_function("order number from sequence", |b| {
        b.iter(|| OrderNumber::from_sequence(black_box(123_456), date, OrderNumberKey::DEFAULT));
    });
    c.bench_function("order number format", |b| {
        b.iter(|| black_box(&number).to_string());
    });
    c.bench_function("order number parse", |b| {
        b.iter(|| black_box(text.as_str()).parse::<OrderNumber>().unwrap());
    });
}

criterion_group!(benches, pricing, validation, order_numbers);
criterion_main!(benches);
