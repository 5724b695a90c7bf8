//! The rates contract: the shop's tax table and shipping methods, and orders settled against
//! them, on both databases.

use ordo_repository::testing::event_of;
use std::sync::Arc;

use ordo_domain::{
    NewOrder, OrderDraft, RoundingPolicy, ShippingMethodDraft, ShippingTable, TaxTable,
    TaxTableDraft, Version,
};
use ordo_repository::{OrderRepository, RatesStore, RepoError};

use crate::fixtures::{at, customer, placed};

contract!(
    the_rates_start_empty_and_are_replaced_whole_by_compare_and_set,
    an_order_settled_against_the_rates_reads_back_equal,
);

trait Storage: OrderRepository + RatesStore {}

impl<T: OrderRepository + RatesStore> Storage for T {}

type Store = Arc<dyn Storage>;

fn taxes(included: bool) -> TaxTable {
    TaxTable::parse(
        &serde_json::from_value::<TaxTableDraft>(serde_json::json!({
            "prices_include_tax": included,
            "rates": [
                {"country": "DE", "rate": "0.19", "name": "MwSt."},
                {"country": "DE", "tax_class": "reduced", "rate": "0.07"},
                {"country": "US", "region": "CA", "rate": "0.0725"}
            ]
        }))
        .unwrap(),
    )
    .unwrap()
}

fn shipping() -> ShippingTable {
    ShippingTable::parse(
        &serde_json::from_value::<Vec<ShippingMethodDraft>>(serde_json::json!([
            {"code": "standard", "title": "Standard", "prices": {"EUR": "4.90", "USD": "5"},
             "free_above": {"EUR": "50"}, "taxed": true, "countries": ["DE", "US"]},
            {"code": "pickup", "title": "Pick up in store", "prices": {"EUR": "0"}}
        ]))
        .unwrap(),
    )
    .unwrap()
}

async fn the_rates_start_empty_and_are_replaced_whole_by_compare_and_set(store: Store) {
    let empty = store.rates().await.unwrap();
    assert!(empty.taxes.value.rates().is_empty());
    assert!(!empty.taxes.value.prices_include_tax());
    assert!(empty.shipping.value.methods().is_empty());
    assert_eq!(empty.taxes.version, Version::new(1));
    assert_eq!(empty.shipping.version, Version::new(1));
    assert_eq!(empty.taxes.updated_at, None);

    let version = store
        .replace_taxes(&taxes(true), Version::new(1), at(1))
        .await
        .unwrap();
    assert_eq!(version, Version::new(2));
    // A writer that read version 1 lost: told the current version, nothing written.
    assert!(matches!(
        store.replace_taxes(&taxes(false), Version::new(1), at(2)).await,
        Err(RepoError::VersionConflict { current }) if current == Version::new(2)
    ));
    store
        .replace_shipping(&shipping(), Version::new(1), at(3))
        .await
        .unwrap();
    let read = store.rates().await.unwrap();
    assert_eq!(read.taxes.value, taxes(true));
    assert_eq!(read.taxes.version, Version::new(2));
    assert_eq!(read.taxes.updated_at, Some(at(1)));
    assert_eq!(read.shipping.value, shipping());
    assert_eq!(read.shipping.version, Version::new(2));
    // Back to empty is a replacement like any other.
    store
        .replace_shipping(&ShippingTable::default(), Version::new(2), at(4))
        .await
        .unwrap();
    let read = store.rates().await.unwrap();
    assert!(read.shipping.value.methods().is_empty());
    assert_eq!(read.shipping.version, Version::new(3));
    assert_eq!(read.taxes.value, taxes(true));
}

async fn an_order_settled_against_the_rates_reads_back_equal(store: Store) {
    let rates = ordo_domain::Rates {
        taxes: taxes(true),
        shipping: shipping(),
    };
    let draft: OrderDraft = serde_json::from_value(serde_json::json!({
        "customer_id": customer(1),
        "currency": "EUR",
        "items": [
            {"product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 3, "unit_price": "9.99"},
            {"product_id": "0193a1a0-0000-7000-8000-0000000000bb", "quantity": 1, "unit_price": "4.5"}
        ],
        "discount": {"type": "fixed", "amount": "2"},
        "shipping_method": "standard",
        "details": {"shipping_address": {"line1": "Hauptstraße 1", "city": "Berlin", "country": "DE"}}
    }))
    .unwrap();
    let policy = RoundingPolicy::default_for(ordo_domain::Currency::from_code("EUR").unwrap());
    let new = NewOrder::parse(&draft)
        .unwrap()
        .settle(&rates, policy)
        .unwrap();
    let order = placed(&*store, new, at(0)).await;
    assert!(order.pricing().prices_include_tax());
    assert_eq!(order.pricing().tax_lines().len(), 1);
    assert_eq!(
        order.pricing().lines()[0].tax_rate,
        Some("0.19".parse().unwrap())
    );
    assert_eq!(
        order.pricing().shipping_lines()[0].tax_rate,
        Some("0.19".parse().unwrap())
    );
    store.insert(&order, None, &event_of(&order)).await.unwrap();
    assert_eq!(store.get(order.id()).await.unwrap(), order);
}
