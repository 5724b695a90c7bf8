//! Upgrading a database that holds orders from before the claimed payment calls (migration 6):
//! an unknown authorization, and an order whose authorization was never made, become claimed
//! authorizations for reconciliation; everything else reads back as it was. On both stores.

use std::borrow::Cow;

use ordo_domain::{Order, OrderNumber, OrderNumberKey, PaymentOperation};
use ordo_repository::testing::TestPostgres;
use ordo_repository::{OrderRepository, PgOptions, PgStore, SqliteOptions, SqliteStore};
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::fixtures::at;

/// The first migration this change added: everything before it is "the old version".
const FIRST_NEW: i64 = 20_261_126_000_006;

fn before_the_change(all: &Migrator) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            all.iter()
                .filter(|migration| migration.version < FIRST_NEW)
                .cloned()
                .collect(),
        ),
        locking: all.locking,
        ..Migrator::DEFAULT
    }
}

/// An old order: id, status, payment status, gateway reference, and the claim it must get.
type OldOrder = (
    Uuid,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<PaymentOperation>,
);

/// The old orders, with what each must become.
fn old_orders() -> Vec<OldOrder> {
    let id = |n: u128| Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n);
    vec![
        (
            id(1),
            "pending",
            "unknown",
            None,
            Some(PaymentOperation::Authorize),
        ),
        (
            id(2),
            "pending",
            "unpaid",
            None,
            Some(PaymentOperation::Authorize),
        ),
        (id(3), "pending", "authorized", Some("auth_3"), None),
        (id(4), "cancelled", "unpaid", Some("auth_4"), None),
        (id(5), "pending", "failed", None, None),
        (id(6), "completed", "paid", Some("auth_6"), None),
    ]
}

fn number(n: u64) -> String {
    OrderNumber::from_sequence(n, at(0).date_naive(), OrderNumberKey::DEFAULT)
        .unwrap()
        .to_string()
}

const INSERT_ORDER: &str = "
INSERT INTO orders (id, order_number, customer_id, currency, subtotal, discount, tax, total,
                    minor_units, rounding_mode, tax_rounding, status, cancel_reason, version,
                    created_at, updated_at, payment_status, amount_authorized, amount_captured,
                    amount_refunded, payment_reference)
VALUES ($1, $2, $3, 'USD', $4, $5, $5, $4, 2, 'half_up', 'per_order', $6, $7, 2, $8, $8, $9,
        $10, $5, $5, $11)";
const INSERT_ITEM: &str = "
INSERT INTO order_items (order_id, position, product_id, quantity, unit_price, line_total)
VALUES ($1, 0, $2, 1, $3, $3)";

/// After the upgrade, through the store: each old order reads back, claimed or not as it must.
async fn check_upgraded(store: &dyn OrderRepository) {
    for (id, status, payment, _, claimed) in old_orders() {
        let order = store
            .get(ordo_domain::OrderId::from_uuid(id).unwrap())
            .await
            .unwrap();
        assert_eq!(order.status().as_str(), status, "{id}");
        assert_eq!(order.payment().status.as_str(), payment, "{id}");
        assert_eq!(
            order
                .payment()
                .pending
                .as_ref()
                .map(|pending| pending.operation),
            claimed,
            "{id}"
        );
    }
    let mut found = store
        .orders_with_pending_payment(10, at(1_000_000))
        .await
        .unwrap();
    found.sort();
    let mut expected: Vec<_> = old_orders()
        .into_iter()
        .filter(|order| order.4.is_some())
        .map(|order| ordo_domain::OrderId::from_uuid(order.0).unwrap())
        .collect();
    expected.sort();
    assert_eq!(found, expected, "reconciliation finds the claimed ones");
    // Migration 22: a completed order shipped everything when it completed.
    let listed = |status| {
        let query = ordo_repository::ListQuery {
            fulfillment_status: Some(status),
            ..ordo_repository::ListQuery::all()
        };
        async move {
            let mut ids = store
                .list(&query)
                .await
                .unwrap()
                .orders
                .iter()
                .map(|order| order.id().as_uuid())
                .collect::<Vec<_>>();
            ids.sort();
            ids
        }
    };
    let (fulfilled, unfulfilled): (Vec<_>, Vec<_>) = old_orders()
        .into_iter()
        .partition(|order| order.1 == "completed");
    let ids = |orders: Vec<OldOrder>| orders.into_iter().map(|order| order.0).collect::<Vec<_>>();
    assert_eq!(
        listed(ordo_domain::FulfillmentStatus::Fulfilled).await,
        ids(fulfilled)
    );
    assert_eq!(
        listed(ordo_domain::FulfillmentStatus::Unfulfilled).await,
        ids(unfulfilled)
    );
}

#[tokio::test]
async fn old_orders_on_postgres_migrate_to_claims_where_money_was_left_unsettled() {
    let database = TestPostgres::create().await.unwrap();
    let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
    before_the_change(&sqlx::migrate!("../../migrations/postgres"))
        .run(&pool)
        .await
        .unwrap();
    for (n, (id, status, payment, reference, _)) in old_orders().into_iter().enumerate() {
        let authorized = if matches!(payment, "authorized" | "paid") {
            "10.00"
        } else {
            "0.00"
        };
        sqlx::query(INSERT_ORDER)
            .bind(id)
            .bind(number(n as u64 + 1))
            .bind(Uuid::from_u128(7))
            .bind(rust_decimal::Decimal::new(1000, 2))
            .bind(rust_decimal::Decimal::new(0, 2))
            .bind(status)
            .bind((status == "cancelled").then_some("voided"))
            .bind(at(0))
            .bind(payment)
            .bind(authorized.parse::<rust_decimal::Decimal>().unwrap())
            .bind(reference)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(INSERT_ITEM)
            .bind(id)
            .bind(Uuid::from_u128(8))
            .bind(rust_decimal::Decimal::new(1000, 2))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let store = PgStore::connect(database.url(), &PgOptions::default())
        .await
        .unwrap();
    let applied = store.migrate().await.unwrap();
    assert!(
        applied.iter().all(|name| name.as_str() >= "20261126000006"),
        "{applied:?}"
    );
    check_upgraded(&store).await;
}

#[tokio::test]
async fn old_orders_on_sqlite_migrate_to_claims_where_money_was_left_unsettled() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("ordo.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    before_the_change(&sqlx::migrate!("../../migrations/sqlite"))
        .run(&pool)
        .await
        .unwrap();
    for (n, (id, status, payment, reference, _)) in old_orders().into_iter().enumerate() {
        let authorized = if matches!(payment, "authorized" | "paid") {
            "10.00"
        } else {
            "0.00"
        };
        sqlx::query(INSERT_ORDER)
            .bind(id)
            .bind(number(n as u64 + 1))
            .bind(Uuid::from_u128(7))
            .bind("10.00")
            .bind("0.00")
            .bind(status)
            .bind((status == "cancelled").then_some("voided"))
            .bind(at(0).timestamp_micros())
            .bind(payment)
            .bind(authorized)
            .bind(reference)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(INSERT_ITEM)
            .bind(id)
            .bind(Uuid::from_u128(8))
            .bind("10.00")
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let store = SqliteStore::open(&path, &SqliteOptions::default())
        .await
        .unwrap();
    let applied = store.migrate().await.unwrap();
    assert!(
        applied.iter().all(|name| name.as_str() >= "20261126000006"),
        "{applied:?}"
    );
    check_upgraded(&store).await;
}

/// The migrations of the last version that kept its tables in `public`.
const BEFORE_SCHEMAS: i64 = 20_261_126_000_007;

/// Stores an old order (pending, authorized, one line of 10.00) as the version before
/// migration 8 did, through `pool`'s `search_path`, numbered from its sequence as that version
/// did; its id, and its sequence value.
async fn old_order_in(pool: &sqlx::PgPool) -> (ordo_domain::OrderId, u64) {
    let drawn: i64 = sqlx::query_scalar("SELECT nextval('order_number_seq')")
        .fetch_one(pool)
        .await
        .unwrap();
    let n = u64::try_from(drawn).unwrap();
    let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0100 + u128::from(n));
    let ten = rust_decimal::Decimal::new(1000, 2);
    sqlx::query(INSERT_ORDER)
        .bind(id)
        .bind(number(n))
        .bind(Uuid::from_u128(7))
        .bind(ten)
        .bind(rust_decimal::Decimal::new(0, 2))
        .bind("pending")
        .bind(None::<&str>)
        .bind(at(0))
        .bind("authorized")
        .bind(ten)
        .bind("auth_old")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(INSERT_ITEM)
        .bind(id)
        .bind(Uuid::from_u128(8))
        .bind(ten)
        .execute(pool)
        .await
        .unwrap();
    (ordo_domain::OrderId::from_uuid(id).unwrap(), n)
}

/// What schema each of `names` is in (`None`: not found anywhere).
async fn schemas_of(pool: &sqlx::PgPool, names: &[&str]) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    for name in names {
        let schema: Option<String> = sqlx::query_scalar(
            "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relname = $1 AND n.nspname IN ('public', 'ordo', 'shop')",
        )
        .bind(name)
        .fetch_optional(pool)
        .await
        .unwrap();
        found.push(((*name).to_owned(), schema));
    }
    found
}

/// A database migrated by the version before schemas, shared with another sqlx application:
/// upgrading moves ordo's tables, sequence and bookkeeping rows into `ordo`, leaves the other
/// application's table and migration rows in `public`, and reads every order back; a second
/// run moves nothing. A configured schema gets the same.
#[tokio::test]
async fn tables_left_in_public_by_an_earlier_version_move_into_ordos_schema() {
    for schema in ["ordo", "shop"] {
        let database = TestPostgres::create().await.unwrap();
        let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
        let all = sqlx::migrate!("../../migrations/postgres");
        let old = Migrator {
            migrations: Cow::Owned(
                all.iter()
                    .filter(|migration| migration.version <= BEFORE_SCHEMAS)
                    .cloned()
                    .collect(),
            ),
            locking: all.locking,
            ..Migrator::DEFAULT
        };
        old.run(&pool).await.unwrap();
        // The other application: a table of its own, and its migration in the shared table.
        sqlx::raw_sql(
            "CREATE TABLE products (id integer PRIMARY KEY);
             INSERT INTO products VALUES (1);
             INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (1, 'products', true, '\\x00', 0);",
        )
        .execute(&pool)
        .await
        .unwrap();
        let options = PgOptions {
            schema: schema.parse().unwrap(),
            ..PgOptions::default()
        };
        // An order placed by the old version, in `public`, its line in the old lines table.
        let (before, drawn) = old_order_in(&pool).await;
        let store = PgStore::connect(database.url(), &options).await.unwrap();
        let applied = store.migrate().await.unwrap();
        assert!(
            applied.iter().all(|name| name.as_str() > "20261126000007"),
            "already applied migrations are not applied again: {applied:?}"
        );
        let moved = store.get(before).await.unwrap();
        assert_eq!(moved.number().to_string(), number(drawn));
        assert_eq!(moved.pricing().total().to_string(), "10.00");
        let ours = [
            "orders",
            "idempotency_keys",
            "payment_attempts",
            "simulated_gateway_ledger",
            "refunds",
            "shared_facts",
            "job_leases",
            "order_number_seq",
        ];
        let found = schemas_of(&pool, &ours).await;
        assert!(
            found.iter().all(|(_, at)| at.as_deref() == Some(schema)),
            "{found:?}"
        );
        assert_eq!(
            schemas_of(&pool, &["products"]).await[0].1.as_deref(),
            Some("public")
        );
        // The other application's row stays, and ordo's are left too: an earlier ordo started
        // by mistake fails on the missing tables instead of making empty ones.
        let left: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM public._sqlx_migrations ORDER BY version")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(left.len(), old.iter().count() + 1, "{left:?}");
        assert_eq!(left[0], 1);
        let ours_kept: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {schema}._sqlx_migrations WHERE version <= {BEFORE_SCHEMAS}"
        )))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(ours_kept, i64::try_from(old.iter().count()).unwrap());
        // The sequence moved with its state: numbers go on from where the old tables left them.
        let next = crate::fixtures::stored(&store, crate::fixtures::customer(1), at(1)).await;
        assert!(next.number() != moved.number());
        assert_eq!(store.migrate().await.unwrap(), Vec::<String>::new());
        pool.close().await;
    }
}

/// An earlier version run with its own `search_path` (here `legacy`) recorded its tables
/// there: nothing moves, nothing is made, and the start is refused naming that schema; set to
/// it, the store finds its orders.
#[tokio::test]
async fn tables_in_a_schema_of_their_own_are_named_not_abandoned() {
    let database = TestPostgres::create().await.unwrap();
    let admin = sqlx::PgPool::connect(database.url()).await.unwrap();
    sqlx::raw_sql("CREATE SCHEMA legacy")
        .execute(&admin)
        .await
        .unwrap();
    let legacy_url = ordo_repository::testing::in_schema(database.url(), "legacy");
    let legacy = PgStore::connect(
        database.url(),
        &PgOptions {
            schema: "legacy".parse().unwrap(),
            ..PgOptions::default()
        },
    )
    .await
    .unwrap();
    legacy.migrate().await.unwrap();
    crate::fixtures::stored(&legacy, crate::fixtures::customer(1), at(0)).await;
    legacy.close().await;
    let store = PgStore::connect(database.url(), &PgOptions::default())
        .await
        .unwrap();
    let error = store.migrate().await.unwrap_err();
    let mut refused = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        refused = format!("{refused}: {cause}");
        source = cause.source();
    }
    assert!(
        refused.contains("legacy") && refused.contains("database_schema"),
        "{refused}"
    );
    let made: Option<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname = 'ordo'")
            .fetch_optional(&admin)
            .await
            .unwrap();
    assert_eq!(made, None, "refused before anything is made");
    let pool = sqlx::PgPool::connect(&legacy_url).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 1, "the legacy orders are where they were");
}

/// Before migration 8, an order's lines lived in `order_items`.
const BEFORE_DOCUMENTS: i64 = 20_261_127_000_008;

fn before_documents(all: &Migrator) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            all.iter()
                .filter(|migration| migration.version < BEFORE_DOCUMENTS)
                .cloned()
                .collect(),
        ),
        locking: all.locking,
        ..Migrator::DEFAULT
    }
}

/// Three lines, stored out of position order: `(position, product, quantity, unit price)`.
const OLD_LINES: [(i16, u128, i32, &str); 3] = [
    (2, 0xcc, 3, "0.50"),
    (0, 0xaa, 2, "19.99"),
    (1, 0xbb, 1, "5.00"),
];

const INSERT_LINE: &str = "
INSERT INTO order_items (order_id, position, product_id, quantity, unit_price, line_total)
VALUES ($1, $2, $3, $4, $5, $6)";

/// The old order reads back with its lines in position order, amounts to the cent, and empty
/// details; the lines table is gone.
async fn check_lines_moved(store: &dyn OrderRepository, id: Uuid) {
    let order = store
        .get(ordo_domain::OrderId::from_uuid(id).unwrap())
        .await
        .unwrap();
    // Lines placed before the price book read as given with the order, and no discount code.
    assert!(
        order
            .pricing()
            .lines()
            .iter()
            .all(|line| line.source == ordo_domain::LineSource::Custom)
    );
    assert_eq!(order.pricing().discount_code(), None);
    let lines: Vec<_> = order
        .pricing()
        .lines()
        .iter()
        .map(|line| {
            (
                line.product_id.unwrap().as_uuid(),
                line.quantity.get(),
                line.unit_price.to_string(),
                line.line_total.to_string(),
                line.snapshot.is_none(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                Uuid::from_u128(0xaa),
                2,
                "19.99".into(),
                "39.98".into(),
                true
            ),
            (Uuid::from_u128(0xbb), 1, "5.00".into(), "5.00".into(), true),
            (Uuid::from_u128(0xcc), 3, "0.50".into(), "1.50".into(), true),
        ]
    );
    assert_eq!(order.pricing().subtotal().to_string(), "46.48");
    assert_eq!(order.pricing().shipping().to_string(), "0.00");
    assert_eq!(order.pricing().total().to_string(), "46.48");
    assert_eq!(*order.details(), ordo_domain::OrderDetails::default());
    // Migration 10 indexed it for search: by its number, its total, every order.
    let number = order.number().to_string();
    let bound =
        |amount: &str| Some(ordo_repository::TotalBound::new(amount.parse().unwrap()).unwrap());
    for query in [
        ordo_repository::ListQuery::all(),
        ordo_repository::ListQuery {
            text: Some(ordo_repository::SearchText::parse(&number[4..]).unwrap()),
            ..ordo_repository::ListQuery::all()
        },
        ordo_repository::ListQuery {
            total_min: bound("46.48"),
            total_max: bound("46.48"),
            ..ordo_repository::ListQuery::all()
        },
    ] {
        let found = store.list(&query).await.unwrap().orders;
        assert_eq!(found, vec![order.clone()], "{query:?}");
    }
    let above = ordo_repository::ListQuery {
        total_min: bound("46.481"),
        ..ordo_repository::ListQuery::all()
    };
    assert!(store.list(&above).await.unwrap().orders.is_empty());
}

#[tokio::test]
async fn lines_kept_in_a_table_move_into_the_order_document_on_postgres() {
    let database = TestPostgres::create().await.unwrap();
    let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
    before_documents(&sqlx::migrate!("../../migrations/postgres"))
        .run(&pool)
        .await
        .unwrap();
    let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0042);
    sqlx::query(INSERT_ORDER)
        .bind(id)
        .bind(number(42))
        .bind(Uuid::from_u128(7))
        .bind(rust_decimal::Decimal::new(4648, 2))
        .bind(rust_decimal::Decimal::new(0, 2))
        .bind("pending")
        .bind(None::<&str>)
        .bind(at(0))
        .bind("authorized")
        .bind(rust_decimal::Decimal::new(4648, 2))
        .bind("auth_42")
        .execute(&pool)
        .await
        .unwrap();
    for (position, product, quantity, price) in OLD_LINES {
        let price: rust_decimal::Decimal = price.parse().unwrap();
        sqlx::query(INSERT_LINE)
            .bind(id)
            .bind(position)
            .bind(Uuid::from_u128(product))
            .bind(quantity)
            .bind(price)
            .bind(price * rust_decimal::Decimal::from(quantity))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let store = PgStore::connect(database.url(), &PgOptions::default())
        .await
        .unwrap();
    let applied = store.migrate().await.unwrap();
    assert!(applied[0].starts_with("20261127000008"), "{applied:?}");
    check_lines_moved(&store, id).await;
    let pool = sqlx::PgPool::connect(&database.tables_url()).await.unwrap();
    let left: Option<String> =
        sqlx::query_scalar("SELECT CAST(to_regclass('order_items') AS TEXT)")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(left, None, "the lines table is dropped");
}

#[tokio::test]
async fn lines_kept_in_a_table_move_into_the_order_document_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    before_documents(&sqlx::migrate!("../../migrations/sqlite"))
        .run(&pool)
        .await
        .unwrap();
    let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0042);
    sqlx::query(INSERT_ORDER)
        .bind(id)
        .bind(number(42))
        .bind(Uuid::from_u128(7))
        .bind("46.48")
        .bind("0.00")
        .bind("pending")
        .bind(None::<&str>)
        .bind(at(0).timestamp_micros())
        .bind("authorized")
        .bind("46.48")
        .bind("auth_42")
        .execute(&pool)
        .await
        .unwrap();
    for (position, product, quantity, price) in OLD_LINES {
        let total =
            price.parse::<rust_decimal::Decimal>().unwrap() * rust_decimal::Decimal::from(quantity);
        sqlx::query(INSERT_LINE)
            .bind(id)
            .bind(position)
            .bind(Uuid::from_u128(product))
            .bind(quantity)
            .bind(price)
            .bind(total.to_string())
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let store = SqliteStore::open(&path, &SqliteOptions::default())
        .await
        .unwrap();
    let applied = store.migrate().await.unwrap();
    assert!(applied[0].starts_with("20261127000008"), "{applied:?}");
    check_lines_moved(&store, id).await;
    let pool =
        sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&path))
            .await
            .unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'order_items'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0, "the lines table is dropped");
}

/// Every row of every table of an SQLite file, as text, table by table (sorted, so row order
/// inside a table does not matter).
async fn every_row(connection: &mut sqlx::SqliteConnection) -> Vec<(String, Vec<String>)> {
    use sqlx::Row as _;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
         AND name NOT LIKE 'order_text%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut *connection)
    .await
    .unwrap();
    let mut all = Vec::new();
    for table in tables {
        // The table names come from the schema itself.
        let query = sqlx::AssertSqlSafe(format!("SELECT * FROM \"{table}\""));
        let rows = sqlx::query(query)
            .fetch_all(&mut *connection)
            .await
            .unwrap();
        let mut lines: Vec<String> = rows
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        let value: sqlx::sqlite::SqliteValueRef<'_> = row.try_get_raw(i).unwrap();
                        if sqlx::ValueRef::is_null(&value) {
                            return "NULL".to_owned();
                        }
                        row.try_get::<String, _>(i)
                            .or_else(|_| row.try_get::<i64, _>(i).map(|v| v.to_string()))
                            .or_else(|_| row.try_get::<Vec<u8>, _>(i).map(|v| format!("{v:02x?}")))
                            .unwrap_or_else(|_| "?".to_owned())
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        lines.sort();
        all.push((table, lines));
    }
    all
}

/// Migration 23 rebuilds SQLite's `orders` table (a CHECK cannot change in place): run again on
/// a database holding orders with their events, payment attempts, refunds and search terms, it
/// keeps every row of every table, leaves no foreign key dangling, and the triggers and the
/// view it made again still work (a changed tag is found, and only it).
#[tokio::test]
async fn rebuilding_sqlite_orders_keeps_every_row_and_what_refers_to_it() {
    use ordo_repository::testing::{TestSqlite, event_of};
    use sqlx::Connection as _;
    let (database, store) = TestSqlite::store().await.unwrap();
    let mut orders = Vec::new();
    for n in 0..5_u32 {
        let draft: ordo_domain::OrderDraft = serde_json::from_value(serde_json::json!({
            "customer_id": crate::fixtures::customer(u128::from(n)),
            "currency": "USD",
            "items": [{ "product_id": Uuid::from_u128(0xAA), "quantity": n + 1, "unit_price": "12.50",
                        "snapshot": { "sku": format!("SKU-{n}"), "title": "Thing", "requires_shipping": true } }],
            "details": { "contact": { "email": format!("c{n}@example.com"), "name": "Ada" },
                         "tags": ["vip"] }
        }))
        .unwrap();
        let order = crate::fixtures::order_from(&store, &draft, at(i64::from(n))).await;
        store.insert(&order, None, &event_of(&order)).await.unwrap();
        store
            .record_payment_attempt(&ordo_repository::PaymentAttempt {
                id: Uuid::from_u128(u128::from(n) + 1),
                order_id: order.id(),
                operation: PaymentOperation::Authorize,
                amount: order.pricing().total(),
                outcome: ordo_repository::AttemptOutcome::Approved,
                reference: Some(format!("auth_{n}")),
                at: at(i64::from(n)),
            })
            .await
            .unwrap();
        orders.push(order);
    }
    drop(store);
    let url = format!("sqlite://{}", database.path().display());
    let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut connection)
        .await
        .unwrap();
    let before = every_row(&mut connection).await;
    assert!(
        before
            .iter()
            .any(|(table, rows)| table == "orders" && rows.len() == 5)
    );
    assert!(
        before
            .iter()
            .any(|(table, rows)| table == "order_terms" && !rows.is_empty())
    );
    // As sqlx runs it (`no-transaction`: the migration holds its own transaction).
    sqlx::raw_sql(include_str!(
        "../../../../migrations/sqlite/20261128000023_payment_terms.sql"
    ))
    .execute(&mut connection)
    .await
    .unwrap();
    let keys_on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys_on, 1, "foreign keys are on again");
    assert_eq!(every_row(&mut connection).await, before);
    let dangling: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&mut connection)
        .await
        .unwrap();
    assert!(dangling.is_empty(), "{dangling:?}");
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    connection.close().await.unwrap();

    // Through the store again: the search triggers follow a change, the view reads the table.
    let store = SqliteStore::open(&database.path(), &SqliteOptions::default())
        .await
        .unwrap();
    let mut order = store.get(orders[0].id()).await.unwrap();
    let expected = order.version();
    let mut details = order.details().to_draft();
    details.tags = vec!["wholesale".to_owned()];
    order.change_details(ordo_domain::OrderDetails::parse(&details).unwrap(), at(100));
    store
        .update(&order, expected, &event_of(&order))
        .await
        .unwrap();
    let tagged = |tag: &str| ordo_repository::ListQuery {
        tag: Some(ordo_domain::Tag::parse(tag).unwrap()),
        ..ordo_repository::ListQuery::all()
    };
    let found = store.list(&tagged("wholesale")).await.unwrap().orders;
    assert_eq!(
        found.iter().map(Order::id).collect::<Vec<_>>(),
        [orders[0].id()]
    );
    assert_eq!(store.list(&tagged("vip")).await.unwrap().orders.len(), 4);
    let text = ordo_repository::ListQuery {
        text: Some(ordo_repository::SearchText::parse("c3@example").unwrap()),
        ..ordo_repository::ListQuery::all()
    };
    assert_eq!(store.list(&text).await.unwrap().orders.len(), 1);
}
