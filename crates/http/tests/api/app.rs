//! Spawning the app for a test, on either database.

use std::sync::Arc;

use ordo_http::HttpConfig;
use ordo_repository::testing::{TestPostgres, TestSqlite};
use std::time::Duration;

use ordo_repository::{
    ApiKeyStore, DiscountCodeStore, GatewayLedger, IdempotencyStore, OrderRepository, ProductStore,
};
use ordo_service::{OrderService, RandomIds, ServiceConfig, SimulatedGateway, SystemClock};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

/// Keeps a test's database alive as long as its app, and reaches its tables.
pub(crate) enum Database {
    Postgres(Box<TestPostgres>),
    Sqlite(TestSqlite),
}

/// A running app and a client for it.
pub(crate) struct TestApp {
    pub(crate) base: String,
    pub(crate) client: Client,
    /// The service behind the app, for what has no route (reconciliation).
    pub(crate) service: OrderService,
    /// Starts the app's shutdown, as SIGTERM does.
    pub(crate) draining: ordo_http::Draining,
    /// The simulated gateway's books, for checking what it was asked.
    pub(crate) ledger: Arc<dyn GatewayLedger>,
    database: Database,
}

/// Serves `store` on 127.0.0.1 at a port the OS picks.
pub(crate) async fn serve<S>(store: S, database: Database) -> TestApp
where
    S: OrderRepository
        + IdempotencyStore
        + GatewayLedger
        + ApiKeyStore
        + ProductStore
        + DiscountCodeStore
        + ordo_repository::RatesStore
        + ordo_repository::EventStore
        + ordo_repository::WebhookStore
        + Clone
        + 'static,
{
    serve_with(store, database, ServiceConfig::default()).await
}

/// The same, with its own service settings.
pub(crate) async fn serve_with<S>(store: S, database: Database, config: ServiceConfig) -> TestApp
where
    S: OrderRepository
        + IdempotencyStore
        + GatewayLedger
        + ApiKeyStore
        + ProductStore
        + DiscountCodeStore
        + ordo_repository::RatesStore
        + ordo_repository::EventStore
        + ordo_repository::WebhookStore
        + Clone
        + 'static,
{
    serve_slow_gateway(store, database, config, Duration::ZERO).await
}

/// The same, with a gateway that takes `latency` per call.
pub(crate) async fn serve_slow_gateway<S>(
    store: S,
    database: Database,
    config: ServiceConfig,
    latency: Duration,
) -> TestApp
where
    S: OrderRepository
        + IdempotencyStore
        + GatewayLedger
        + ApiKeyStore
        + ProductStore
        + DiscountCodeStore
        + ordo_repository::RatesStore
        + ordo_repository::EventStore
        + ordo_repository::WebhookStore
        + Clone
        + 'static,
{
    serve_http(store, database, config, latency, HttpConfig::default()).await
}

/// The same, with its own HTTP settings too.
pub(crate) async fn serve_http<S>(
    store: S,
    database: Database,
    config: ServiceConfig,
    latency: Duration,
    http: HttpConfig,
) -> TestApp
where
    S: OrderRepository
        + IdempotencyStore
        + GatewayLedger
        + ApiKeyStore
        + ProductStore
        + DiscountCodeStore
        + ordo_repository::RatesStore
        + ordo_repository::EventStore
        + ordo_repository::WebhookStore
        + Clone
        + 'static,
{
    seed_price_book(&store).await;
    let draining = http.draining.clone();
    let http = HttpConfig {
        metrics: Some(metrics_handle()),
        ..http
    };
    let ledger: Arc<dyn GatewayLedger> = Arc::new(store.clone());
    let gateway = SimulatedGateway::new(Arc::clone(&ledger), Arc::new(SystemClock), latency);
    let service = OrderService::new(
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        Arc::new(gateway),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        Arc::new(ordo_http::ApiRenderer),
        config,
    )
    .with_events(Arc::new(store.clone()))
    .with_webhooks(
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        // Receivers in tests listen on loopback.
        Arc::new(
            ordo_http::webhooks::HttpSender::new(
                ordo_http::webhooks::AllowList::parse(&["127.0.0.1/32"]).unwrap(),
            )
            .unwrap(),
        ),
        ordo_service::WebhookOptions::default(),
    )
    .with_api_keys(Arc::new(store.clone()))
    .with_catalog(Arc::new(store.clone()))
    .with_discount_codes(Arc::new(store.clone()))
    .with_rates(Arc::new(store));
    let app = ordo_http::app(service.clone(), http);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestApp {
        base: format!("http://{address}"),
        client: Client::new(),
        service,
        draining,
        ledger,
        database,
    }
}

pub(crate) async fn postgres() -> TestApp {
    let (database, store) = TestPostgres::store().await.unwrap();
    serve(store, Database::Postgres(Box::new(database))).await
}

pub(crate) async fn sqlite() -> TestApp {
    let (database, store) = TestSqlite::store().await.unwrap();
    serve(store, Database::Sqlite(database)).await
}

/// An app on PostgreSQL with its own service and HTTP settings.
pub(crate) async fn postgres_with(config: ServiceConfig, http: HttpConfig) -> TestApp {
    let (database, store) = TestPostgres::store().await.unwrap();
    let database = Database::Postgres(Box::new(database));
    serve_http(store, database, config, Duration::ZERO, http).await
}

/// An app on SQLite with its own service and HTTP settings.
pub(crate) async fn sqlite_with(config: ServiceConfig, http: HttpConfig) -> TestApp {
    let (database, store) = TestSqlite::store().await.unwrap();
    serve_http(
        store,
        Database::Sqlite(database),
        config,
        Duration::ZERO,
        http,
    )
    .await
}

/// The price book every test app starts with: what `customer_body` orders.
async fn seed_price_book(store: &impl ProductStore) {
    let product = |id: &str, sku: &str, title: &str, prices: &[(&str, &str)]| {
        let draft = ordo_domain::ProductDraft {
            sku: sku.to_owned(),
            title: title.to_owned(),
            options: std::collections::BTreeMap::new(),
            requires_shipping: true,
            tax_class: None,
            status: ordo_domain::ProductStatus::Active,
            prices: prices
                .iter()
                .map(|(code, price)| ((*code).to_owned(), price.parse().unwrap()))
                .collect(),
        };
        ordo_repository::ProductWrite::Insert(ordo_domain::Product::new(
            id.parse().unwrap(),
            ordo_domain::ProductSpec::parse(&draft).unwrap(),
            chrono::Utc::now(),
        ))
    };
    let seeded = store
        .write_products(&[
            product(
                "0193a1a0-0000-7000-8000-0000000000aa",
                "TS-BLUE-L",
                "T-shirt, blue, L",
                &[("USD", "19.99"), ("EUR", "18.50"), ("JPY", "2000")],
            ),
            product(
                "0193a1a0-0000-7000-8000-0000000000bb",
                "STICKER",
                "Sticker",
                &[("USD", "5"), ("EUR", "4.50")],
            ),
        ])
        .await;
    // Some tests serve a store whose database is already gone.
    assert!(
        matches!(
            seeded,
            Ok(()) | Err(ordo_repository::RepoError::Unavailable(_))
        ),
        "{seeded:?}"
    );
}

/// A customer's order for `customer`: lines by SKU, priced from the seeded book (3 × 19.99 +
/// 5.00 = 64.97 USD).
pub(crate) fn customer_body(customer: &str) -> Value {
    json!({
        "customer_id": customer,
        "currency": "USD",
        "items": [
            { "sku": "TS-BLUE-L", "quantity": 3 },
            { "sku": "STICKER", "quantity": 1 }
        ]
    })
}

/// A valid order body for `customer`, with its own prices, discount and tax rate: what staff,
/// admins and keys with `orders:price` may place.
pub(crate) fn order_body(customer: &str) -> Value {
    json!({
        "customer_id": customer,
        "currency": "USD",
        "items": [
            { "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 3, "unit_price": "19.99" },
            { "product_id": "0193a1a0-0000-7000-8000-0000000000bb", "quantity": 1, "unit_price": 5 }
        ],
        "discount": { "type": "percentage", "percent": "10" },
        "tax_rate": "0.0825"
    })
}

pub(crate) const CUSTOMER: &str = "0193a1a0-0000-7000-8000-000000000001";

impl TestApp {
    pub(crate) fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(format!("{}{path}", self.base))
    }

    pub(crate) fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(format!("{}{path}", self.base))
    }

    pub(crate) fn delete(&self, path: &str) -> RequestBuilder {
        self.client.delete(format!("{}{path}", self.base))
    }

    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// Every `Idempotency-Key` kept, with the response kept under it (none while its request
    /// runs), read from the table itself.
    pub(crate) async fn kept_responses(&self) -> Vec<(String, Option<Vec<u8>>)> {
        use sqlx::Connection as _;
        const KEPT: &str = "SELECT key, response_body FROM idempotency_keys ORDER BY key";
        match &self.database {
            Database::Postgres(database) => {
                let mut connection = sqlx::PgConnection::connect(&database.tables_url())
                    .await
                    .unwrap();
                sqlx::query_as(KEPT)
                    .fetch_all(&mut connection)
                    .await
                    .unwrap()
            }
            Database::Sqlite(database) => {
                let url = format!("sqlite://{}", database.path().display());
                let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query_as(KEPT)
                    .fetch_all(&mut connection)
                    .await
                    .unwrap()
            }
        }
    }

    /// The URL of the app's tables, on PostgreSQL.
    pub(crate) fn postgres_tables_url(&self) -> Option<String> {
        match &self.database {
            Database::Postgres(database) => Some(database.tables_url()),
            Database::Sqlite(_) => None,
        }
    }

    /// Deletes the events of the order `id` from the table itself: the order is then as one
    /// placed before events were kept (migration 18 recorded none for the orders there).
    pub(crate) async fn forget_events(&self, id: &str) {
        use sqlx::Connection as _;
        const FORGET: &str = "DELETE FROM order_events WHERE order_id = $1";
        let id: uuid::Uuid = id.parse().unwrap();
        let forgotten = match &self.database {
            Database::Postgres(database) => {
                let mut connection = sqlx::PgConnection::connect(&database.tables_url())
                    .await
                    .unwrap();
                let done = sqlx::query(FORGET).bind(id).execute(&mut connection).await;
                done.unwrap().rows_affected()
            }
            Database::Sqlite(database) => {
                let url = format!("sqlite://{}", database.path().display());
                let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
                let done = sqlx::query(FORGET).bind(id).execute(&mut connection).await;
                done.unwrap().rows_affected()
            }
        };
        assert!(forgotten > 0, "the order {id} had no events to forget");
    }

    /// Places an order with `bearer`'s token and returns its body.
    pub(crate) async fn place_as(&self, bearer: &str, body: &Value) -> Value {
        let response = self
            .post("/v1/orders")
            .bearer_auth(bearer)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    /// Places an order and returns its body.
    pub(crate) async fn place(&self, body: &Value) -> Value {
        let response = self.post("/v1/orders").json(body).send().await.unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }
}

/// Asserts a problem answer: status, content type, the RFC 9457 members, and its `type`.
pub(crate) async fn assert_problem(response: Response, status: u16, kind: &str) -> Value {
    assert_eq!(response.status(), status, "wrong status for {kind}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "{kind}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["type"],
        format!("https://ordo.dev/problems/{kind}"),
        "{body}"
    );
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert!(
        body["instance"]
            .as_str()
            .is_some_and(|i| i.starts_with("urn:request:")),
        "{body}"
    );
    body
}

/// Runs each case against a fresh app on PostgreSQL and on SQLite; after `with`, an app with
/// those service and HTTP settings (expressions in the calling module, named from `super`).
macro_rules! on_both_databases {
    (with $config:expr, $http:expr; $($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::app::postgres_with($config, $http).await).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::app::sqlite_with($config, $http).await).await;
                }
            )*
        }
    };
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::app::postgres().await).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::app::sqlite().await).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_databases;

/// The process-wide metrics recorder, installed once for every app in this test binary.
pub(crate) fn metrics_handle() -> ordo_http::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<ordo_http::PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| ordo_http::install_recorder().unwrap())
        .clone()
}

/// An order as a preview of it reads: its lines without what only a placed order's lines have
/// (how many units are fulfilled, shipped, returned and refunded).
pub(crate) fn as_priced(order: &Value) -> Value {
    let mut order = order.clone();
    for item in order["items"].as_array_mut().into_iter().flatten() {
        let item = item.as_object_mut().unwrap();
        assert_eq!(item.remove("fulfilled_quantity"), Some(json!(0)));
        assert_eq!(item.remove("shipped_quantity"), Some(json!(0)));
        assert_eq!(item.remove("returned_quantity"), Some(json!(0)));
        assert_eq!(item.remove("refunded_quantity"), Some(json!(0)));
    }
    order
}
