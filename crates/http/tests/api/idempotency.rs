//! Idempotency keys over HTTP: retries are safe.

use serde_json::{Value, json};

use crate::app::{CUSTOMER, TestApp, assert_problem, on_both_databases, order_body};

on_both_databases!(
    a_retry_gets_the_first_response_byte_for_byte_and_creates_nothing,
    the_same_key_with_another_body_is_422,
    concurrent_requests_with_one_key_place_one_order,
    an_invalid_key_is_400,
    keys_make_every_post_safe_to_retry,
    requests_without_a_key_are_unaffected,
    an_answer_to_come_back_later_is_not_kept,
);

async fn count_orders(app: &TestApp) -> usize {
    let page: Value = app
        .get(&format!("/v1/orders?customer_id={CUSTOMER}&limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["data"].as_array().unwrap().len()
}

async fn a_retry_gets_the_first_response_byte_for_byte_and_creates_nothing(app: TestApp) {
    let send = || {
        app.post("/v1/orders")
            .header("idempotency-key", "order-1")
            .json(&order_body(CUSTOMER))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (location, etag) = (
        first.headers()["location"].clone(),
        first.headers()["etag"].clone(),
    );
    let first_body = first.bytes().await.unwrap();
    for _ in 0..3 {
        let again = send().await.unwrap();
        assert_eq!(again.status(), 201);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(
            (&again.headers()["location"], &again.headers()["etag"]),
            (&location, &etag)
        );
        assert_eq!(again.headers()["content-type"], "application/json");
        assert_eq!(again.bytes().await.unwrap(), first_body);
    }
    // Formatting does not make it another request.
    let reformatted = serde_json::to_string_pretty(&order_body(CUSTOMER)).unwrap();
    let again = app
        .post("/v1/orders")
        .header("idempotency-key", "order-1")
        .header("content-type", "application/json")
        .body(reformatted)
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(count_orders(&app).await, 1);
}

async fn the_same_key_with_another_body_is_422(app: TestApp) {
    let first = app
        .post("/v1/orders")
        .header("idempotency-key", "k")
        .json(&order_body(CUSTOMER))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let mut other = order_body(CUSTOMER);
    other["items"][0]["quantity"] = json!(4);
    let response = app
        .post("/v1/orders")
        .header("idempotency-key", "k")
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_problem(response, 422, "idempotency-key-reused").await;
    // The same body on another route is another request too.
    let preview = app
        .post("/v1/orders/preview")
        .header("idempotency-key", "k")
        .json(&order_body(CUSTOMER));
    assert_problem(preview.send().await.unwrap(), 422, "idempotency-key-reused").await;
    assert_eq!(count_orders(&app).await, 1);
}

async fn concurrent_requests_with_one_key_place_one_order(app: TestApp) {
    let requests = (0..12).map(|_| {
        app.post("/v1/orders")
            .header("idempotency-key", "double-click")
            .json(&order_body(CUSTOMER))
            .send()
    });
    let responses = futures_join_all(requests).await;
    let mut bodies = Vec::new();
    for response in responses {
        let response = response.unwrap();
        match response.status().as_u16() {
            201 => bodies.push(response.bytes().await.unwrap()),
            409 => {
                assert_eq!(response.headers()["retry-after"], "1");
                assert_problem(response, 409, "idempotency-key-in-use").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(!bodies.is_empty());
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "every 201 is the same order"
    );
    assert_eq!(count_orders(&app).await, 1);
}

async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

async fn an_invalid_key_is_400(app: TestApp) {
    for key in [String::new(), "k".repeat(256)] {
        let response = app
            .post("/v1/orders")
            .header("idempotency-key", key)
            .json(&order_body(CUSTOMER))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 400, "invalid-parameter").await;
        assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    }
    assert_eq!(count_orders(&app).await, 0);
}

async fn keys_make_every_post_safe_to_retry(app: TestApp) {
    let placed = app.place(&order_body(CUSTOMER)).await;
    let path = format!("/v1/orders/{}/transitions", placed["id"].as_str().unwrap());
    let send = || {
        app.post(&path)
            .header("idempotency-key", "move-1")
            .header("if-match", "\"2\"")
            .json(&json!({ "to": "processing" }))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let first_body = first.bytes().await.unwrap();
    // Without the key this retry would be 412 (the version moved on); with it, the first answer.
    let again = send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first_body);

    // Final client errors are kept too: the retry of a rejected request is rejected the same way.
    let invalid = json!({ "customer_id": CUSTOMER, "currency": "XYZ", "items": [] });
    let send = || {
        app.post("/v1/orders")
            .header("idempotency-key", "bad-1")
            .json(&invalid)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 422);
    let first_body = first.bytes().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first_body);
}

async fn requests_without_a_key_are_unaffected(app: TestApp) {
    app.place(&order_body(CUSTOMER)).await;
    app.place(&order_body(CUSTOMER)).await;
    assert_eq!(count_orders(&app).await, 2);
}

/// Keys expire: after their time to live the same key runs afresh, whatever the body.
mod expiry {
    use ordo_repository::testing::{TestPostgres, TestSqlite};
    use ordo_service::{KeyTimes, ServiceConfig};

    use crate::app::{CUSTOMER, Database, TestApp, order_body, serve_with};

    fn one_second_keys() -> ServiceConfig {
        ServiceConfig {
            key_times: KeyTimes {
                ttl: chrono::Duration::seconds(1),
                ..KeyTimes::default()
            },
            ..ServiceConfig::default()
        }
    }

    async fn an_expired_key_runs_afresh(app: TestApp) {
        let first = app
            .post("/v1/orders")
            .header("idempotency-key", "k")
            .json(&order_body(CUSTOMER));
        assert_eq!(first.send().await.unwrap().status(), 201);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let mut other = order_body(CUSTOMER);
        other["items"][0]["quantity"] = serde_json::json!(9);
        let again = app
            .post("/v1/orders")
            .header("idempotency-key", "k")
            .json(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 201);
        assert!(again.headers().get("idempotent-replayed").is_none());
        assert_eq!(super::count_orders(&app).await, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        let (database, store) = TestPostgres::store().await.unwrap();
        let app = serve_with(
            store,
            Database::Postgres(Box::new(database)),
            one_second_keys(),
        )
        .await;
        an_expired_key_runs_afresh(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        let (database, store) = TestSqlite::store().await.unwrap();
        an_expired_key_runs_afresh(
            serve_with(store, Database::Sqlite(database), one_second_keys()).await,
        )
        .await;
    }
}

/// While the first request with a key runs (here, waiting on a slow gateway), the same key is a
/// 409 with Retry-After; once it finished, the retry gets its answer.
mod in_flight {
    use std::time::Duration;

    use ordo_repository::testing::{TestPostgres, TestSqlite};
    use ordo_service::ServiceConfig;

    use crate::app::{CUSTOMER, Database, TestApp, assert_problem, order_body, serve_slow_gateway};

    async fn a_request_while_the_first_runs_is_409(app: TestApp) {
        let app = std::sync::Arc::new(app);
        let first = {
            let app = app.clone();
            tokio::spawn(async move {
                app.post("/v1/orders")
                    .header("idempotency-key", "slow")
                    .json(&order_body(CUSTOMER))
                    .send()
                    .await
                    .unwrap()
            })
        };
        tokio::time::sleep(Duration::from_millis(800)).await;
        let during = app
            .post("/v1/orders")
            .header("idempotency-key", "slow")
            .json(&order_body(CUSTOMER))
            .send()
            .await
            .unwrap();
        assert_eq!(during.headers()["retry-after"], "1");
        assert_problem(during, 409, "idempotency-key-in-use").await;
        let first = first.await.unwrap();
        assert_eq!(first.status(), 201);
        let first = first.bytes().await.unwrap();
        let after = app
            .post("/v1/orders")
            .header("idempotency-key", "slow")
            .json(&order_body(CUSTOMER))
            .send()
            .await
            .unwrap();
        assert_eq!(after.headers()["idempotent-replayed"], "true");
        assert_eq!(after.bytes().await.unwrap(), first);
        assert_eq!(super::count_orders(&app).await, 1);
    }

    const LATENCY: Duration = Duration::from_secs(3);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        let (database, store) = TestPostgres::store().await.unwrap();
        let database = Database::Postgres(Box::new(database));
        a_request_while_the_first_runs_is_409(
            serve_slow_gateway(store, database, ServiceConfig::default(), LATENCY).await,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        let (database, store) = TestSqlite::store().await.unwrap();
        let database = Database::Sqlite(database);
        a_request_while_the_first_runs_is_409(
            serve_slow_gateway(store, database, ServiceConfig::default(), LATENCY).await,
        )
        .await;
    }
}

/// A 409 "payment call in progress" carries `Retry-After`: it is not the request's final
/// answer, so the key is released and the retry, once the payment settled, runs.
async fn an_answer_to_come_back_later_is_not_kept(app: TestApp) {
    // The simulated gateway times out on amounts ending .05: the payment stays unknown.
    let order = app
        .place(&json!({
            "customer_id": CUSTOMER,
            "currency": "USD",
            "items": [{ "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1, "unit_price": "10.05" }]
        }))
        .await;
    let id = order["id"].as_str().unwrap();
    let path = format!("/v1/orders/{id}/transitions");
    let send = |etag: &'static str| {
        app.post(&path)
            .header("idempotency-key", "move-it-once")
            .header("if-match", etag)
            .json(&json!({ "to": "processing" }))
            .send()
    };
    let later = send("\"2\"").await.unwrap();
    assert_eq!(later.headers()["retry-after"], "1");
    assert_problem(later, 409, "payment-in-progress").await;
    app.service.reconcile().await.unwrap();
    // The same key again, now at the order's new version: it runs, nothing is replayed.
    let moved = send("\"3\"").await.unwrap();
    assert_eq!(moved.status(), 200);
    assert!(moved.headers().get("idempotent-replayed").is_none());
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["status"], "processing");
}
