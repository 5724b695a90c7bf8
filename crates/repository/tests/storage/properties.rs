//! Random valid orders, at full scale in random currencies, stored and read back equal to the
//! last digit, on both databases.

use ordo_domain::{Discount, LineItemDraft, OrderDraft, ProductId};
use ordo_repository::OrderRepository;
use ordo_repository::testing::event_of;
use ordo_repository::testing::{TestPostgres, TestSqlite};
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::fixtures::{at, customer, order_from};

const CURRENCIES: &[(&str, u32)] = &[("USD", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4), ("EUR", 2)];

fn draft() -> impl Strategy<Value = (OrderDraft, i64)> {
    prop::sample::select(CURRENCIES).prop_flat_map(|(code, scale)| {
        let price = (0_i64..=9_999_999_999).prop_map(move |units| Decimal::new(units, scale));
        let item = (1_i64..=10_000, price.clone());
        let discount = prop_oneof![
            Just(None),
            price.prop_map(|amount| Some(Discount::Fixed { amount })),
            (0_i64..=1_000_000).prop_map(|p| Some(Discount::Percentage {
                percent: Decimal::new(p, 4)
            })),
        ];
        let tax = prop::option::of((0_i64..1_000_000).prop_map(|r| Decimal::new(r, 6)));
        (
            prop::collection::vec(item, 1..=8),
            discount,
            tax,
            0_i64..1_000_000_000,
        )
            .prop_map(move |(items, discount, tax_rate, micros)| {
                let draft = OrderDraft {
                    details: ordo_domain::OrderDetailsDraft::default(),
                    customer_id: customer(1),
                    currency: code.to_owned(),
                    items: items
                        .into_iter()
                        .map(|(quantity, unit_price)| LineItemDraft {
                            snapshot: ordo_domain::LineSnapshotDraft::default(),
                            product_id: Some(ProductId::from_uuid(Uuid::new_v4()).unwrap()),
                            quantity,
                            unit_price: Some(unit_price),
                        })
                        .collect(),
                    discount,
                    discount_code: None,
                    discount_code_optional: false,
                    tax_rate,
                    shipping: Vec::new(),
                    shipping_method: None,
                    discount_reason: None,
                };
                (draft, micros)
            })
    })
}

fn round_trips(store: &dyn OrderRepository, runtime: &tokio::runtime::Runtime) {
    proptest!(ProptestConfig::with_cases(48), |((draft, micros) in draft())| {
        runtime.block_on(async {
            // Times carry microseconds, the precision both stores keep.
            let created_at = at(0) + chrono::Duration::microseconds(micros);
            let order = order_from(store, &draft, created_at).await;
            store.insert(&order, None, &event_of(&order)).await.unwrap();
            let read = store.get(order.id()).await.unwrap();
            assert_eq!(read, order);
            // To the last digit, and with every decimal: compare the text too.
            assert_eq!(serde_json::to_string(&read).unwrap(), serde_json::to_string(&order).unwrap());
        });
    });
}

#[test]
fn random_orders_read_back_equal_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_database, store) = runtime.block_on(TestPostgres::store()).unwrap();
    round_trips(&store, &runtime);
}

#[test]
fn random_orders_read_back_equal_on_sqlite() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_database, store) = runtime.block_on(TestSqlite::store()).unwrap();
    round_trips(&store, &runtime);
}
