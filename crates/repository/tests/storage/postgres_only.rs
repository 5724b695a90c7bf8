//! PostgreSQL-specific proof: the list's plans on a million orders. (The insert's constant
//! statement count is `tests/statement_count.rs`, alone in its process.)

use ordo_repository::ListQuery;
use ordo_repository::OrderRepository as _;
use ordo_repository::testing::TestPostgres;
use ordo_repository::testing::event_of;
use sqlx::{Connection as _, Executor as _};

use crate::fixtures::customer;

/// A million orders over 100k customers, straight in SQL (the repository's insert is tested
/// elsewhere; here only the table's size and shape matter): contacts with 200k emails and 104
/// names, one line of 5,000 SKUs, a vip tag on every 7th and a gift tag on every 11th, five
/// channels, every status, payment status and fulfilment status, totals from 0 to 499.99, one a second back.
const SEED_A_MILLION: &str = r#"
INSERT INTO orders (id, order_number, customer_id, currency, subtotal, discount, tax, total,
                    minor_units, rounding_mode, tax_rounding, status, cancel_reason,
                    payment_status, version, created_at, updated_at, shipping, email_key,
                    channel, document, fulfillment_status)
SELECT gen_random_uuid(), 'ORD-SEED-' || n,
       CAST('00000000-0000-0000-0000-' || lpad(to_hex(49152 + n % 100000), 12, '0') AS uuid),
       'EUR', total, 0, 0, total, 2, 'half_up', 'per_order', status,
       CASE WHEN status = 'cancelled' THEN 'seeded' END,
       (ARRAY['paid', 'paid', 'paid', 'authorized', 'unpaid', 'refunded', 'partially_refunded',
              'failed', 'paid', 'paid'])[1 + n % 10],
       1, now() - n * interval '1 second', now(), 0, email, channel,
       jsonb_build_object(
           'lines', jsonb_build_array(jsonb_build_object(
               'product_id', '0193a1a0-0000-7000-8000-0000000000aa', 'quantity', 1,
               'unit_price', CAST(total AS TEXT), 'line_total', CAST(total AS TEXT),
               'snapshot', jsonb_build_object('sku', 'SKU-' || n % 5000, 'title', 'Thing',
                                              'requires_shipping', true))),
           'details', jsonb_build_object(
               'contact', jsonb_build_object('email', email, 'name', name),
               'shipping_address', jsonb_build_object('name', name, 'line1', '1 Main St',
                                                      'city', 'Springfield', 'country', 'US'),
               'tags', CASE WHEN n % 7 = 0 THEN '["vip"]'::jsonb
                            WHEN n % 11 = 0 THEN '["gift"]'::jsonb ELSE '[]'::jsonb END,
               'channel', channel)),
       CASE WHEN status = 'completed' THEN 'fulfilled'
            WHEN status = 'processing' AND n % 3 = 0 THEN 'partially_fulfilled'
            ELSE 'unfulfilled' END
FROM (SELECT n, round(n % 50000 / 100.0, 2) AS total,
             'user' || n % 200000 || '@example.com' AS email,
             (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances',
                    'Margaret'])[1 + n % 8] || ' ' ||
             (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen',
                    'Hamilton', 'Ritchie', 'Thompson', 'Kay', 'Wirth', 'Backus'])[1 + n % 13]
                 AS name,
             (ARRAY['web', 'web', 'web', 'pos', 'phone', 'marketplace', 'api'])[1 + n % 7]
                 AS channel,
             (ARRAY['completed', 'completed', 'completed', 'processing', 'pending', 'pending',
                    'completed', 'completed', 'completed', 'completed', 'completed',
                    'completed', 'completed', 'completed', 'completed', 'completed',
                    'completed', 'completed', 'completed', 'cancelled'])[1 + n % 20] AS status
      FROM generate_series(1, 1000000) AS n) AS seed;"#;

/// Each documented filter, and pairs: (what, the filters, the index the plan must start from;
/// None: any index will do).
#[allow(
    clippy::too_many_lines,
    reason = "one line a case: a table that reads best whole"
)]
fn plan_cases() -> Vec<(&'static str, Set, Option<&'static str>)> {
    use ordo_domain::{
        Channel, Email, FulfillmentStatus, OrderStatus as S, PaymentStatus, Sku, Tag,
    };
    use ordo_repository::{SearchText, TotalBound};
    let ago = |seconds: i64| Some(chrono::Utc::now() - chrono::Duration::seconds(seconds));
    let total = |text: &str| Some(TotalBound::new(text.parse().unwrap()).unwrap());
    let text = |text: &str| Some(SearchText::parse(text).unwrap());
    let email = || Some(Email::parse("User4242@example.com").unwrap());
    let tag = |tag: &str| Some(Tag::parse(tag).unwrap());
    let sku = |sku: &str| Some(Sku::parse(sku).unwrap());
    let channel = |channel: &str| Some(Channel::parse(channel).unwrap());
    vec![
        ("every order", Box::new(|_| {}), Some("orders_created_idx")),
        (
            "a customer",
            Box::new(|q| q.customer_id = Some(customer(7))),
            Some("orders_customer_created_idx"),
        ),
        ("status", Box::new(|q| q.status = Some(S::Pending)), None),
        (
            "rare status",
            Box::new(|q| q.status = Some(S::Cancelled)),
            None,
        ),
        (
            "payment status",
            Box::new(|q| q.payment_status = Some(PaymentStatus::Failed)),
            None,
        ),
        (
            "overdue",
            Box::new(move |q| q.due_before = ago(0)),
            Some("orders_payment_due_idx"),
        ),
        (
            "fulfilment status",
            Box::new(|q| q.fulfillment_status = Some(FulfillmentStatus::PartiallyFulfilled)),
            None,
        ),
        (
            "created range",
            Box::new(move |q| (q.created_after, q.created_before) = (ago(90_000), ago(86_400))),
            Some("orders_created_idx"),
        ),
        (
            "email",
            Box::new(move |q| q.email = email()),
            Some("orders_email_created_idx"),
        ),
        ("tag", Box::new(move |q| q.tag = tag("vip")), None),
        (
            "sku",
            Box::new(move |q| q.sku = sku("SKU-42")),
            Some("order_terms_pkey"),
        ),
        (
            "unknown sku",
            Box::new(move |q| q.sku = sku("NO-SUCH-SKU")),
            Some("order_terms_pkey"),
        ),
        (
            "channel",
            Box::new(move |q| q.channel = channel("marketplace")),
            None,
        ),
        (
            "total range",
            Box::new(move |q| (q.total_min, q.total_max) = (total("100"), total("100.05"))),
            Some("orders_total_created_idx"),
        ),
        (
            "q, a common name",
            Box::new(move |q| q.text = text("lovelace")),
            Some("orders_created_idx"),
        ),
        (
            "q, an email",
            Box::new(move |q| q.text = text("user123456@")),
            Some("orders_search_text_idx"),
        ),
        (
            "q, a whole email",
            Box::new(move |q| q.text = text("User123456@Example.com")),
            Some("orders_search_text_idx"),
        ),
        (
            "q, a number",
            Box::new(move |q| q.text = text("ord-seed-777777")),
            Some("orders_search_text_idx"),
        ),
        (
            "q, nothing",
            Box::new(move |q| q.text = text("zzqqxx")),
            Some("orders_search_text_idx"),
        ),
        (
            "customer and q",
            Box::new(move |q| (q.customer_id, q.text) = (Some(customer(7)), text("hopper"))),
            Some("orders_customer_created_idx"),
        ),
        (
            "tag and channel",
            Box::new(move |q| (q.tag, q.channel) = (tag("gift"), channel("pos"))),
            None,
        ),
        (
            "status and total",
            Box::new(move |q| (q.status, q.total_min) = (Some(S::Processing), total("490"))),
            None,
        ),
        (
            "email and status",
            Box::new(move |q| (q.email, q.status) = (email(), Some(S::Completed))),
            Some("orders_email_created_idx"),
        ),
        (
            "sku and created range",
            Box::new(move |q| (q.sku, q.created_after) = (sku("SKU-4999"), ago(500_000))),
            None,
        ),
    ]
}

/// The plan of every documented filter of the list, alone and in pairs, on a million orders:
/// each starts from an index (the one made for it where the filter is selective), never a
/// sequential scan of the table. Prints each plan with its execution time.
/// Seeds a million orders into `pool`'s empty tables. Indexes are built faster over a full
/// table than row by row: each is dropped for the seed and made again from its own definition.
async fn seed_a_million(pool: &sqlx::PgPool) -> std::time::Duration {
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname, indexdef FROM pg_indexes
         WHERE schemaname = current_schema() AND tablename IN ('orders', 'order_terms')
           AND indexname NOT IN (SELECT conname FROM pg_constraint)",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(indexes.len() >= 10, "{indexes:?}");
    let started = std::time::Instant::now();
    for (name, _) in &indexes {
        let drop = sqlx::AssertSqlSafe(format!("DROP INDEX {name}"));
        pool.execute(drop).await.unwrap();
    }
    pool.execute(SEED_A_MILLION).await.unwrap();
    for (_, definition) in &indexes {
        let create = sqlx::AssertSqlSafe(definition.clone());
        pool.execute(create).await.unwrap();
    }
    pool.execute("ANALYZE orders; ANALYZE order_terms")
        .await
        .unwrap();
    started.elapsed()
}

/// A change to a query.
type Set = Box<dyn Fn(&mut ListQuery)>;

/// The plan of every documented filter of the list, alone and in pairs, on a million orders:
/// each starts from an index (the one made for it where the filter is selective), never a
/// sequential scan of the table. Prints each plan with its execution time.
#[tokio::test]
async fn every_documented_filter_plans_an_index_scan_on_a_million_orders() {
    let (database, store) = TestPostgres::store().await.unwrap();
    let pool = sqlx::PgPool::connect(&database.tables_url()).await.unwrap();
    let took = seed_a_million(&pool).await;
    println!("seeded a million orders in {took:.0?}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 1_000_000);

    for (what, set, index) in plan_cases() {
        let mut query = ListQuery::all();
        set(&mut query);
        let plan = store.explain_list(&query).await.unwrap();
        println!("── {what}\n{plan}\n");
        assert!(
            !plan.contains("Seq Scan on orders"),
            "{what}: no sequential scan of orders:\n{plan}"
        );
        assert!(
            plan.contains("Index Scan") || plan.contains("Index Only Scan"),
            "{what}: the plan starts from an index:\n{plan}"
        );
        if let Some(index) = index {
            assert!(plan.contains(index), "{what} must use {index}:\n{plan}");
        }
    }
}

/// Callers waiting for a connection are counted while they wait, and only then.
#[tokio::test]
async fn callers_waiting_for_a_connection_are_counted() {
    let database = TestPostgres::create().await.unwrap();
    let options = ordo_repository::PgOptions {
        max_connections: 1,
        ..ordo_repository::PgOptions::default()
    };
    let store = ordo_repository::PgStore::connect(database.url(), &options)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.pool_stats().waiting, 0);
    // Another session locks the table: the first read takes the pool's one connection and
    // blocks on the lock; the other two wait for the connection.
    let mut locker = sqlx::PgConnection::connect(&database.tables_url())
        .await
        .unwrap();
    locker
        .execute("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let reads: Vec<_> = (0..3)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .get(ordo_domain::OrderId::from_parts(1, &[1; 10]))
                    .await
            })
        })
        .collect();
    let started = std::time::Instant::now();
    while store.pool_stats().waiting != 2 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            store.pool_stats()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    locker.execute("ROLLBACK").await.unwrap();
    for read in reads {
        assert!(matches!(
            read.await.unwrap(),
            Err(ordo_repository::RepoError::NotFound)
        ));
    }
    assert_eq!(store.pool_stats().waiting, 0);
}

/// Two server processes on one database (two stores, two pools) never hand out the same
/// order-number sequence value, though each takes values in blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_never_share_a_sequence_value() {
    let (database, first) = TestPostgres::store().await.unwrap();
    let second =
        ordo_repository::PgStore::connect(database.url(), &ordo_repository::PgOptions::default())
            .await
            .unwrap();
    let tasks: Vec<_> = (0..400)
        .map(|n| {
            let store = if n % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move { store.next_order_sequence().await.unwrap() })
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for task in tasks {
        let value = task.await.unwrap();
        assert!(seen.insert(value), "{value} was handed out twice");
    }
    assert_eq!(seen.len(), 400);
}

/// A payment write and its audit in one statement: the audit row is written whether or not
/// the compare-and-set matches; the order only when it does.
#[tokio::test]
async fn a_payment_write_audits_its_gateway_call_whether_or_not_it_lands() {
    use ordo_domain::GatewayOutcome;
    use ordo_repository::{AttemptOutcome, PaymentAttempt, PaymentOperation, RepoError};
    let (database, store) = TestPostgres::store().await.unwrap();
    let order = crate::fixtures::stored(&store, customer(1), crate::fixtures::at(0)).await;
    let mut authorized = order.clone();
    authorized
        .settle_payment(
            GatewayOutcome::Approved {
                reference: "auth_1".into(),
            },
            crate::fixtures::at(1),
        )
        .unwrap();
    let attempt = |n: u128| PaymentAttempt {
        id: uuid::Uuid::from_u128(n),
        order_id: order.id(),
        operation: PaymentOperation::Authorize,
        amount: order.pricing().total(),
        outcome: AttemptOutcome::Approved,
        reference: Some("auth_1".into()),
        at: crate::fixtures::at(1),
    };
    store
        .update_with_attempt(
            &authorized,
            order.version(),
            &attempt(1),
            &event_of(&authorized),
        )
        .await
        .unwrap();
    assert_eq!(store.get(order.id()).await.unwrap(), authorized);
    // A stale write: refused, yet its call is on record.
    let stale = store
        .update_with_attempt(
            &authorized,
            order.version(),
            &attempt(2),
            &event_of(&authorized),
        )
        .await;
    assert!(
        matches!(stale, Err(RepoError::VersionConflict { current }) if current == authorized.version())
    );
    assert_eq!(store.get(order.id()).await.unwrap(), authorized);
    let pool = sqlx::PgPool::connect(&database.tables_url()).await.unwrap();
    let audited: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM payment_attempts WHERE order_id = $1 ORDER BY id")
            .bind(order.id().as_uuid())
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        audited,
        vec![uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2)]
    );
}
