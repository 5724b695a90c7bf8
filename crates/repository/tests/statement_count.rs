//! Inserting an order takes the same number of statements whatever its item count.
//!
//! Alone in its own test binary: it installs a tracing subscriber to count the statements sqlx
//! sends, and tracing's per-callsite interest cache can hide events from a thread-local
//! subscriber while other tests run in the same process.
#![allow(
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    reason = "test code"
)]

use ordo_repository::testing::event_of;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{TimeZone as _, Utc};
use ordo_domain::{
    CustomerId, LineItemDraft, NewOrder, Order, OrderDraft, OrderId, OrderNumber, OrderNumberKey,
    ProductId, RoundingPolicy, price,
};
use ordo_repository::OrderRepository;
use ordo_repository::testing::TestPostgres;
use rust_decimal::Decimal;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use uuid::Uuid;

async fn order_of(store: &dyn OrderRepository, items: u128) -> Order {
    let draft = OrderDraft {
        details: ordo_domain::OrderDetailsDraft::default(),
        customer_id: CustomerId::from_uuid(Uuid::from_u128(1)).unwrap(),
        currency: "USD".into(),
        items: (0..items)
            .map(|i| LineItemDraft {
                snapshot: ordo_domain::LineSnapshotDraft::default(),
                product_id: Some(ProductId::from_uuid(Uuid::from_u128(i + 1)).unwrap()),
                quantity: 2,
                unit_price: Some(Decimal::new(1050, 2)),
            })
            .collect(),
        discount: None,
        discount_code: None,
        discount_code_optional: false,
        tax_rate: None,
        shipping: Vec::new(),
        shipping_method: None,
        discount_reason: None,
    };
    let new = NewOrder::parse(&draft).unwrap();
    let pricing = price(&new, RoundingPolicy::default_for(new.currency())).unwrap();
    let now = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let sequence = store.next_order_sequence().await.unwrap();
    let number =
        OrderNumber::from_sequence(sequence, now.date_naive(), OrderNumberKey::DEFAULT).unwrap();
    let id = OrderId::from_parts(
        1_790_000_000_000,
        Uuid::new_v4().as_bytes().first_chunk().unwrap(),
    );
    Order::place(
        id,
        number,
        new.customer_id(),
        pricing,
        new.details().clone(),
        now,
    )
}

/// Counts the statements sqlx sends (it logs each one under the `sqlx::query` target).
#[derive(Clone, Default)]
struct StatementCounter(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for StatementCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn inserting_fifty_items_takes_as_many_statements_as_inserting_one() {
    let (_database, store) = TestPostgres::store().await.unwrap();
    let counter = StatementCounter::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(counter.clone()));
    let mut statements = Vec::new();
    for items in [1_u128, 50] {
        let order = order_of(&store, items).await;
        let before = counter.0.load(Ordering::SeqCst);
        store.insert(&order, None, &event_of(&order)).await.unwrap();
        statements.push(counter.0.load(Ordering::SeqCst) - before);
        assert_eq!(
            store.get(order.id()).await.unwrap().pricing().lines().len() as u128,
            items
        );
    }
    // One statement each: the order and all its items in a single INSERT … UNNEST, which
    // PostgreSQL runs as one implicit transaction.
    assert_eq!(statements, vec![1, 1]);
}
