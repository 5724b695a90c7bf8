//! PostgreSQL-specific proof: the list query's plan on 100k orders. (The insert's constant
//! statement count is `tests/statement_count.rs`, alone in its process.)

use ordo_repository::ListQuery;
use ordo_repository::OrderRepository as _;
use ordo_repository::testing::TestPostgres;
use sqlx::{Connection as _, Executor as _};

use crate::fixtures::customer;

/// Seeds 100k orders over 10k customers straight in SQL (the repository's insert is tested
/// elsewhere; here only the table's size and shape matter), then checks the list plan.
#[tokio::test]
async fn the_list_query_uses_the_index_on_a_hundred_thousand_orders() {
    let (database, store) = TestPostgres::store().await.unwrap();
    let pool = sqlx::PgPool::connect(&database.tables_url()).await.unwrap();
    pool.execute(
        r#"INSERT INTO orders (id, order_number, customer_id, currency, subtotal, discount, tax,
                             total, minor_units, rounding_mode, tax_rounding, status, version,
                             created_at, updated_at, shipping, channel, document)
         SELECT gen_random_uuid(), 'ORD-SEED-' || n,
                ('00000000-0000-0000-0000-' || lpad(to_hex(49152 + n % 10000), 12, '0'))::uuid,
                'EUR', 10, 0, 0, 10, 2, 'half_up', 'per_order', 'pending', 1,
                now() - n * interval '1 minute', now(), 0, 'api', '{"lines": []}'
         FROM generate_series(1, 100000) AS n;
         ANALYZE orders;"#,
    )
    .await
    .unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 100_000);

    let plan = store
        .explain_list(&ListQuery::first_page(customer(7)))
        .await
        .unwrap();
    println!("{plan}");
    assert!(
        plan.contains("orders_customer_created_idx"),
        "the list must use its index:\n{plan}"
    );
    assert!(
        !plan.contains("Seq Scan on orders"),
        "no sequential scan of orders:\n{plan}"
    );
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
        .update_with_attempt(&authorized, order.version(), &attempt(1))
        .await
        .unwrap();
    assert_eq!(store.get(order.id()).await.unwrap(), authorized);
    // A stale write: refused, yet its call is on record.
    let stale = store
        .update_with_attempt(&authorized, order.version(), &attempt(2))
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
