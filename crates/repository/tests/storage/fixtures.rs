//! Orders for the tests, built through the domain exactly as the service will build them.

use chrono::{DateTime, TimeZone as _, Utc};
use ordo_domain::{
    CustomerId, Discount, LineItemDraft, NewOrder, Order, OrderDraft, OrderId, OrderNumber,
    OrderNumberKey, ProductId, RoundingPolicy, price,
};
use ordo_repository::OrderRepository;
use ordo_repository::testing::event_of;
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
    placed(store, NewOrder::parse(draft).unwrap(), created_at).await
}

/// `customer`'s order of one line, 10 % off by discount code `code`.
pub(crate) async fn with_code(
    store: &dyn OrderRepository,
    customer: CustomerId,
    code: &str,
    created_at: DateTime<Utc>,
) -> Order {
    let mut draft = OrderDraft {
        details: ordo_domain::OrderDetailsDraft::default(),
        customer_id: customer,
        currency: "USD".into(),
        items: Vec::new(),
        discount: None,
        discount_code: None,
        discount_code_optional: false,
        tax_rate: None,
        shipping: Vec::new(),
        shipping_method: None,
        discount_reason: None,
    };
    draft.items.push(LineItemDraft {
        snapshot: ordo_domain::LineSnapshotDraft::default(),
        product_id: Some(ProductId::from_uuid(Uuid::from_u128(1)).unwrap()),
        quantity: 1,
        unit_price: Some(Decimal::new(2000, 2)),
    });
    let new = NewOrder::parse(&draft).unwrap().with_code(
        ordo_domain::CodeName::parse(code).unwrap(),
        Discount::Percentage {
            percent: Decimal::TEN,
        },
    );
    placed(store, new, created_at).await
}

pub(crate) async fn placed(
    store: &dyn OrderRepository,
    new: NewOrder,
    created_at: DateTime<Utc>,
) -> Order {
    let pricing = price(&new, RoundingPolicy::default_for(new.currency())).unwrap();
    let sequence = store.next_order_sequence().await.unwrap();
    let number =
        OrderNumber::from_sequence(sequence, created_at.date_naive(), OrderNumberKey::DEFAULT)
            .unwrap();
    let random: [u8; 10] = *Uuid::new_v4().as_bytes().first_chunk().unwrap();
    let id = OrderId::from_parts(created_at.timestamp_millis() as u64, &random);
    Order::place(
        id,
        number,
        new.customer_id(),
        pricing,
        new.details().clone(),
        created_at,
    )
}

/// An order of `items` lines for `customer`, created at `created_at`.
pub(crate) async fn sample(
    store: &dyn OrderRepository,
    customer: CustomerId,
    items: usize,
    created_at: DateTime<Utc>,
) -> Order {
    let draft = OrderDraft {
        details: ordo_domain::OrderDetailsDraft::default(),
        customer_id: customer,
        currency: "EUR".into(),
        items: (0..items)
            .map(|i| LineItemDraft {
                snapshot: ordo_domain::LineSnapshotDraft::default(),
                product_id: Some(ProductId::from_uuid(Uuid::from_u128(i as u128 + 1)).unwrap()),
                quantity: (i % 7 + 1) as i64,
                unit_price: Some(Decimal::new(1999 + i as i64, 2)),
            })
            .collect(),
        discount: Some(Discount::Percentage {
            percent: Decimal::new(125, 1),
        }),
        discount_code: None,
        discount_code_optional: false,
        tax_rate: Some(Decimal::new(19, 2)),
        shipping: Vec::new(),
        shipping_method: None,
        discount_reason: None,
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
    store.insert(&order, None, &event_of(&order)).await.unwrap();
    order
}

/// An order with every part of the record: lines with snapshots (one without), shipping lines
/// taxed and not, contact, both addresses, notes, tags, metadata and a custom channel.
pub(crate) async fn full_record(
    store: &dyn OrderRepository,
    customer: CustomerId,
    created_at: DateTime<Utc>,
) -> Order {
    let draft: OrderDraft = serde_json::from_value(serde_json::json!({
        "customer_id": customer,
        "currency": "JPY",
        "items": [
            {"product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 2,
             "unit_price": "1980",
             "snapshot": {"sku": "TS-BLUE-L", "title": "T-shirt «Ærø» 青", "requires_shipping": true,
                          "options": {"colour": "midnight blue", "size": "L"}}},
            {"product_id": "0193a1a0-0000-7000-8000-0000000000bb", "quantity": 1,
             "unit_price": "500",
             "snapshot": {"sku": "GIFT-500", "title": "Gift card", "requires_shipping": false}},
            {"product_id": "0193a1a0-0000-7000-8000-0000000000cc", "quantity": 3,
             "unit_price": "120"}
        ],
        "discount": {"type": "fixed", "amount": "300"},
        "tax_rate": "0.1",
        "shipping": [
            {"code": "yamato", "title": "Yamato (next day)", "amount": "800", "taxed": true},
            {"code": "cool-box", "title": "Cool box", "amount": "250"}
        ],
        "details": {
            "contact": {"email": "Ada.Lovelace@Example.COM", "phone": "+819012345678",
                        "name": "Ada Lovelace"},
            "shipping_address": {"name": "Ada Lovelace", "company": "Analytical Engines",
                                 "line1": "1-2-3 Shibuya", "line2": "Room 405",
                                 "city": "Tokyo", "region": "Tokyo-to",
                                 "postal_code": "150-0002", "country": "JP",
                                 "phone": "+81312345678"},
            "billing_address": "same_as_shipping",
            "customer_note": "Leave it with the concierge.\nThanks!",
            "staff_note": "VIP: check the wrapping",
            "tags": ["vip", "gift wrap"],
            "metadata": {"erp_id": "SO-12345", "storefront_cart": "c_9f8e"},
            "channel": "instagram"
        }
    }))
    .unwrap();
    order_from(store, &draft, created_at).await
}
