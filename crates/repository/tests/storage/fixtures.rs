//! Orders for the tests, built through the domain exactly as the service will build them.

use chrono::{DateTime, TimeZone as _, Utc};
use ordo_domain::{
    CustomerId, Discount, LineItemDraft, NewOrder, Order, OrderDraft, OrderId, OrderNumber,
    OrderNumberKey, ProductId, RoundingPolicy, price,
};
use ordo_repository::OrderRepository;
use rust_decimal::Decimal;
use uuid::Uuid;

pub(crate) fn customer(n: u128) -> CustomerId {
    CustomerId::from_uuid(Uuid::from_u128(0xC000 + n)).unwrap()
}

pub(crate) fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + seconds, 0).unwrap()
}

/// A priced order from a draft, numbered from the store's own sequence.
pub(crate) async fn order_from(
    store: &dyn OrderRepository,
    draft: &OrderDraft,
    created_at: DateTime<Utc>,
) -> Order {
    let new = NewOrder::parse(draft).unwrap();
    let pricing = price(&new, RoundingPolicy::default_for(new.currency())).unwrap();
    let sequence = store.next_order_sequence().await.unwrap();
    let number =
        OrderNumber::from_sequence(sequence, created_at.date_naive(), OrderNumberKey::DEFAULT)
            .unwrap();
    let random: [u8; 10] = *Uuid::new_v4().as_bytes().first_chunk().unwrap();
    let id = OrderId::from_parts(created_at.timestamp_millis() as u64, &random);
    Order::place(id, number, new.customer_id(), pricing, created_at)
}

/// An order of `items` lines for `customer`, created at `created_at`.
pub(crate) async fn sample(
    store: &dyn OrderRepository,
    customer: CustomerId,
    items: usize,
    created_at: DateTime<Utc>,
) -> Order {
    let draft = OrderDraft {
        customer_id: customer,
        currency: "EUR".into(),
        items: (0..items)
            .map(|i| LineItemDraft {
                product_id: ProductId::from_uuid(Uuid::from_u128(i as u128 + 1)).unwrap(),
                quantity: (i % 7 + 1) as i64,
                unit_price: Decimal::new(1999 + i as i64, 2),
            })
            .collect(),
        discount: Some(Discount::Percentage {
            percent: Decimal::new(125, 1),
        }),
        tax_rate: Some(Decimal::new(19, 2)),
        shipping: Vec::new(),
    };
    order_from(store, &draft, created_at).await
}

/// Stores a sample order and returns it.
pub(crate) async fn stored(
    store: &dyn OrderRepository,
    customer: CustomerId,
    created_at: DateTime<Utc>,
) -> Order {
    let order = sample(store, customer, 3, created_at).await;
    store.insert(&order, None).await.unwrap();
    order
}
