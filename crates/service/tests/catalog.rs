//! The price book's use cases against mockall fakes: orders by SKU priced through the
//! `PriceBook` port, figures a customer may not name, and a catalogue sync's upsert.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone as _, Utc};
use ordo_domain::{
    CustomerId, LineSource, OrderDraft, OrderId, Product, ProductDraft, ProductSpec, ProductStatus,
    Sku, Version, Violation,
};
use ordo_repository::{
    MockIdempotencyStore, MockOrderRepository, MockProductStore, ProductWrite, RepoError,
};
use ordo_service::{
    Caller, Clock, IdGenerator, OrderService, PriceBook, Role, ServiceConfig, ServiceError,
    SimulatedGateway, Upserted,
};
use rust_decimal::Decimal;
use uuid::Uuid;

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
    }
}

struct FixedIds;
impl IdGenerator for FixedIds {
    fn order_id(&self, now: DateTime<Utc>) -> OrderId {
        OrderId::from_parts(u64::try_from(now.timestamp_millis()).unwrap(), &[7; 10])
    }
}

/// A book that answers from a fixed list and counts its lookups.
#[derive(Default)]
struct ListBook {
    products: Vec<Product>,
    lookups: std::sync::Mutex<Vec<Vec<String>>>,
}

#[async_trait::async_trait]
impl PriceBook for ListBook {
    async fn products_by_sku(&self, skus: &[Sku]) -> Result<Vec<Product>, ServiceError> {
        self.lookups
            .lock()
            .unwrap()
            .push(skus.iter().map(|sku| sku.as_str().to_owned()).collect());
        Ok(self
            .products
            .iter()
            .filter(|product| skus.contains(product.spec().sku()))
            .cloned()
            .collect())
    }
}

fn product(n: u128, sku: &str, usd: &str, status: ProductStatus) -> Product {
    let draft = ProductDraft {
        sku: sku.to_owned(),
        title: format!("Product {n}"),
        options: BTreeMap::new(),
        requires_shipping: true,
        tax_class: None,
        status,
        prices: BTreeMap::from([("USD".to_owned(), usd.parse().unwrap())]),
    };
    Product::new(
        ordo_domain::ProductId::from_uuid(Uuid::from_u128(n)).unwrap(),
        ProductSpec::parse(&draft).unwrap(),
        FixedClock.now(),
    )
}

fn service(repository: MockOrderRepository, book: Arc<ListBook>) -> OrderService {
    let ledger = Arc::new(ordo_repository::MockGatewayLedger::new());
    OrderService::new(
        Arc::new(repository),
        Arc::new(MockIdempotencyStore::new()),
        Arc::new(SimulatedGateway::new(
            ledger,
            Arc::new(FixedClock),
            std::time::Duration::ZERO,
        )),
        Arc::new(FixedClock),
        Arc::new(FixedIds),
        Arc::new(IdRenderer),
        ServiceConfig::default(),
    )
    .with_price_book(book)
}

fn customer() -> Caller {
    Caller::customer(CustomerId::from_uuid(Uuid::from_u128(1)).unwrap())
}

fn by_sku(lines: &[(&str, i64)]) -> OrderDraft {
    serde_json::from_value(serde_json::json!({
        "customer_id": "00000000-0000-0000-0000-000000000001",
        "currency": "USD",
        "items": lines.iter().map(|(sku, quantity)| serde_json::json!({
            "quantity": quantity, "snapshot": {"sku": sku}
        })).collect::<Vec<_>>(),
    }))
    .unwrap()
}

#[tokio::test]
async fn a_preview_by_sku_asks_the_book_once_and_prices_from_it() {
    let book = Arc::new(ListBook {
        products: vec![
            product(1, "A", "2.50", ProductStatus::Active),
            product(2, "B", "10", ProductStatus::Active),
        ],
        ..ListBook::default()
    });
    // No storage expectations: a preview stores nothing.
    let service = service(MockOrderRepository::new(), book.clone());
    let pricing = service
        .preview(&customer(), &by_sku(&[("A", 4), ("B", 1)]))
        .await
        .unwrap();
    assert_eq!(pricing.subtotal(), Decimal::new(2000, 2));
    assert!(
        pricing
            .lines()
            .iter()
            .all(|line| line.source == LineSource::Book)
    );
    assert_eq!(*book.lookups.lock().unwrap(), [vec!["A", "B"]]);
}

#[tokio::test]
async fn skus_the_book_cannot_price_are_each_named() {
    let book = Arc::new(ListBook {
        products: vec![product(2, "B", "10", ProductStatus::Archived)],
        ..ListBook::default()
    });
    let service = service(MockOrderRepository::new(), book);
    let draft = by_sku(&[("A", 1), ("B", 1)]);
    match service.place(&customer(), &draft, None).await {
        Err(ServiceError::Validation(errors)) => {
            assert_eq!(
                errors.for_field("items[0].sku"),
                Some(&Violation::UnknownSku)
            );
            assert_eq!(
                errors.for_field("items[1].sku"),
                Some(&Violation::ProductArchived)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_customer_naming_a_figure_is_refused_before_the_book_or_storage_is_asked() {
    let book = Arc::new(ListBook::default());
    let service = service(MockOrderRepository::new(), book.clone());
    let mut draft = by_sku(&[("A", 1)]);
    draft.tax_rate = Some(Decimal::new(1, 1));
    match service.place(&customer(), &draft, None).await {
        Err(ServiceError::SetByShop(fields)) => assert_eq!(fields, ["tax_rate"]),
        other => panic!("{other:?}"),
    }
    assert!(book.lookups.lock().unwrap().is_empty());
}

fn staff() -> Caller {
    Caller::operator(Role::Staff, "s").unwrap()
}

fn spec(sku: &str, usd: &str) -> ProductDraft {
    product(0, sku, usd, ProductStatus::Active)
        .spec()
        .to_draft()
}

fn catalog_service(store: MockProductStore) -> OrderService {
    service(MockOrderRepository::new(), Arc::new(ListBook::default())).with_catalog(Arc::new(store))
}

#[tokio::test]
async fn an_upsert_creates_updates_and_leaves_alone_in_one_write() {
    let mut store = MockProductStore::new();
    let known = product(7, "B", "2", ProductStatus::Active);
    let same = product(8, "C", "3", ProductStatus::Active);
    let stored = vec![known.clone(), same.clone()];
    store
        .expect_products_by_sku()
        .times(1)
        .returning(move |_| Ok(stored.clone()));
    store
        .expect_write_products()
        .times(1)
        .withf(move |writes: &[ProductWrite]| {
            matches!(writes, [ProductWrite::Insert(new), ProductWrite::Update { product, expected }]
                if new.spec().sku().as_str() == "A"
                    && product.id() == known.id()
                    && product.version() == Version::new(2)
                    && *expected == Version::FIRST)
        })
        .returning(|_| Ok(()));
    let service = catalog_service(store);
    let outcome = service
        .catalog()
        .unwrap()
        .upsert(
            &staff(),
            &[spec("A", "1"), spec("B", "2.5"), same.spec().to_draft()],
        )
        .await
        .unwrap();
    let results: Vec<Upserted> = outcome.products.iter().map(|(_, r)| *r).collect();
    assert_eq!(
        results,
        [Upserted::Created, Upserted::Updated, Upserted::Unchanged]
    );
}

#[tokio::test]
async fn an_upsert_refuses_a_sku_twice_and_a_race_on_a_new_sku() {
    // No expectations: a SKU sent twice is refused before storage is asked.
    let service = catalog_service(MockProductStore::new());
    match service
        .catalog()
        .unwrap()
        .upsert(&staff(), &[spec("A", "1"), spec("A", "2")])
        .await
    {
        Err(ServiceError::Validation(errors)) => {
            assert_eq!(
                errors.for_field("products[1].sku"),
                Some(&Violation::Duplicate)
            );
        }
        other => panic!("{other:?}"),
    }
    // Another sync added the SKU between the read and the write: send the batch again.
    let mut store = MockProductStore::new();
    store.expect_products_by_sku().returning(|_| Ok(Vec::new()));
    store.expect_write_products().returning(|_| {
        Err(RepoError::Duplicate {
            constraint: "products_sku_key".into(),
        })
    });
    let service = catalog_service(store);
    assert!(matches!(
        service
            .catalog()
            .unwrap()
            .upsert(&staff(), &[spec("A", "1")])
            .await,
        Err(ServiceError::CatalogChanged)
    ));
    // A customer changes nothing.
    assert!(matches!(
        service
            .catalog()
            .unwrap()
            .upsert(&customer(), &[spec("A", "1")])
            .await,
        Err(ServiceError::Forbidden(_))
    ));
}

/// Events in these tests carry the order's id and version: what they check is that the event
/// goes with its write.
struct IdRenderer;

impl ordo_service::OrderRenderer for IdRenderer {
    fn render(&self, order: &ordo_domain::Order) -> Result<String, ordo_service::BoxError> {
        Ok(format!(
            r#"{{"id":"{}","version":{}}}"#,
            order.id(),
            order.version().get()
        ))
    }
}
