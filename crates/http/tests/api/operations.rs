//! Health, readiness, the request timeout and the in-flight cap.

use std::time::Duration;

use ordo_http::HttpConfig;
use ordo_repository::testing::{TestPostgres, TestSqlite};
use ordo_service::ServiceConfig;
use serde_json::Value;

use crate::app::{CUSTOMER, Database, TestApp, assert_problem, order_body, serve_http};
use crate::framing::{Raw, post_head, secured, token};
use ordo_service::Role;

async fn sqlite_app(latency: Duration, http: HttpConfig) -> TestApp {
    let (database, store) = TestSqlite::store().await.unwrap();
    serve_http(
        store,
        Database::Sqlite(database),
        ServiceConfig::default(),
        latency,
        http,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer_and_readiness_turns_503_when_draining() {
    let app = crate::app::sqlite().await;
    let health = app.get("/healthz").send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "ok");
    assert_eq!(app.get("/readyz").send().await.unwrap().status(), 200);
    app.draining.start();
    let problem = assert_problem(app.get("/readyz").send().await.unwrap(), 503, "not-ready").await;
    assert_eq!(problem["detail"], "shutting down");
    // Still alive, and still serving the requests that reach it.
    assert_eq!(app.get("/healthz").send().await.unwrap().status(), 200);
    assert_eq!(
        app.post("/v1/orders")
            .json(&order_body(CUSTOMER))
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_503_when_the_database_is_gone() {
    let (database, store) = TestPostgres::store().await.unwrap();
    store.close().await;
    let app = crate::app::serve(store, Database::Postgres(Box::new(database))).await;
    assert_eq!(app.get("/healthz").send().await.unwrap().status(), 200);
    assert_problem(app.get("/readyz").send().await.unwrap(), 503, "not-ready").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_timeout_is_a_504_problem() {
    let http = HttpConfig {
        request_timeout: Duration::from_millis(200),
        ..HttpConfig::default()
    };
    let app = sqlite_app(Duration::from_millis(1500), http).await;
    let response = app
        .post("/v1/orders")
        .json(&order_body(CUSTOMER))
        .send()
        .await
        .unwrap();
    assert_problem(response, 504, "timeout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_in_flight_cap_are_503_at_once() {
    let http = HttpConfig {
        max_in_flight: 1,
        ..HttpConfig::default()
    };
    let app = std::sync::Arc::new(sqlite_app(Duration::from_secs(1), http).await);
    let slow = {
        let app = app.clone();
        tokio::spawn(async move {
            app.post("/v1/orders")
                .json(&order_body(CUSTOMER))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let refused = app
        .post("/v1/orders")
        .json(&order_body(CUSTOMER))
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "refused at once, not queued"
    );
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_problem(refused, 503, "overloaded").await;
    assert_eq!(slow.await.unwrap(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_template_and_leave_probes_out() {
    let app = crate::app::sqlite().await;
    let placed = app.place(&order_body(CUSTOMER)).await;
    let id = placed["id"].as_str().unwrap();
    app.get(&format!("/v1/orders/{id}")).send().await.unwrap();
    app.get("/healthz").send().await.unwrap();
    app.post("/v1/orders")
        .header("idempotency-key", "m")
        .json(&order_body(CUSTOMER))
        .send()
        .await
        .unwrap();
    app.post("/v1/orders")
        .header("idempotency-key", "m")
        .json(&order_body(CUSTOMER))
        .send()
        .await
        .unwrap();
    let response = app.get("/metrics").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="POST",route="/v1/orders",status="201"}"#,
        r#"http_requests_total{method="GET",route="/v1/orders/{id}",status="200"}"#,
        "http_request_duration_seconds_bucket",
        "ordo_orders_created_total",
        r#"ordo_payment_calls_total{operation="authorize",outcome="approved"}"#,
        "ordo_idempotent_replays_total",
        "ordo_db_pool_connections",
        "ordo_db_pool_idle",
        "ordo_db_pool_waiting",
        "ordo_db_pool_max",
        "ordo_build_info",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    assert!(!text.contains(id), "no ids in labels");
    assert!(
        !text.contains(r#"route="/healthz""#),
        "probes are not traffic"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_compressed_when_the_client_asks() {
    let app = crate::app::sqlite().await;
    let placed = app.place(&order_body(CUSTOMER)).await;
    let path = format!("/v1/orders/{}", placed["id"].as_str().unwrap());
    for encoding in ["gzip", "br"] {
        let response = app
            .get(&path)
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], encoding);
    }
    let plain = app.get(&path).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_unless_configured_and_then_only_for_its_origins() {
    let preflight = |app: &TestApp, origin: &str| {
        app.request(reqwest::Method::OPTIONS, "/v1/orders")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,idempotency-key",
            )
            .send()
    };
    let closed = crate::app::sqlite().await;
    let response = preflight(&closed, "https://shop.example").await.unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let http = HttpConfig {
        cors_origins: vec!["https://shop.example".parse().unwrap()],
        ..HttpConfig::default()
    };
    let open = sqlite_app(Duration::ZERO, http).await;
    let allowed = preflight(&open, "https://shop.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let other = preflight(&open, "https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_rate_gets_429_with_retry_after() {
    let limit = ordo_http::RateLimit {
        per_second: std::num::NonZeroU32::new(1).unwrap(),
        burst: std::num::NonZeroU32::new(3).unwrap(),
    };
    let app = sqlite_app(
        Duration::ZERO,
        HttpConfig {
            rate_limit: Some(limit),
            ..HttpConfig::default()
        },
    )
    .await;
    let list = format!("/v1/orders?customer_id={CUSTOMER}");
    for _ in 0..3 {
        assert_eq!(app.get(&list).send().await.unwrap().status(), 200);
    }
    let limited = app.get(&list).send().await.unwrap();
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_problem(limited, 429, "rate-limited").await;
    // Probes are never limited.
    assert_eq!(app.get("/healthz").send().await.unwrap().status(), 200);
}

/// The `http_requests_total` series on `/metrics`.
async fn request_series(app: &TestApp) -> Vec<String> {
    let text = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut series: Vec<String> = text
        .lines()
        .filter(|line| line.starts_with("http_requests_total{"))
        .map(|line| line.rsplit_once(' ').unwrap().0.to_owned())
        .collect();
    series.sort();
    series
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_and_paths_add_no_series_and_are_never_echoed() {
    let app = crate::app::sqlite().await;
    let made_up = |n: usize| reqwest::Method::from_bytes(format!("M{n}").as_bytes()).unwrap();
    for path in ["/v1/orders", "/nowhere"] {
        app.request(made_up(0), path).send().await.unwrap();
    }
    let before = request_series(&app).await;
    assert!(
        before.iter().any(|s| s.contains(r#"method="other""#)),
        "{before:?}"
    );
    for n in 1..=50 {
        for path in ["/v1/orders".to_owned(), format!("/nowhere/{n}")] {
            let response = app.request(made_up(n), &path).send().await.unwrap();
            assert!(response.status().is_client_error());
        }
    }
    assert_eq!(
        request_series(&app).await,
        before,
        "no series per method or path"
    );

    // A long made-up method on a real route: a 405 that echoes neither it nor the path.
    let long = "X".repeat(8 * 1024);
    let path = format!("/v1/orders?{}", "q".repeat(4 * 1024));
    let response = app
        .request(reqwest::Method::from_bytes(long.as_bytes()).unwrap(), &path)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 405, "method-not-allowed").await;
    let text = problem.to_string();
    assert!(text.len() < 600, "{text}");
    assert!(!text.contains("XXXX") && !text.contains("qqqq"), "{text}");
    assert_eq!(
        problem["detail"],
        "this method is not allowed on this route; the Allow header lists the methods that are"
    );
    let put = app
        .request(reqwest::Method::PUT, "/v1/orders")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(put, 405, "method-not-allowed").await;
    assert_eq!(
        problem["detail"],
        "PUT is not allowed on this route; the Allow header lists the methods that are"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_made_up_field_name_is_cut_short_in_the_problem() {
    let app = crate::app::sqlite().await;
    let mut body = order_body(CUSTOMER);
    body["k".repeat(10_000)] = serde_json::json!(1);
    let response = app.post("/v1/orders").json(&body).send().await.unwrap();
    let problem = assert_problem(response, 422, "validation").await;
    let field = problem["errors"][0]["field"].as_str().unwrap();
    assert_eq!(field, format!("{}…", "k".repeat(128)));
    // The field is cut; the list of the fields that exist is what remains.
    assert!(problem.to_string().len() < 1200, "{problem}");
}

const ALICE: &str = "0193a1a0-0000-7000-8000-00000000a11c";
const BOB: &str = "0193a1a0-0000-7000-8000-000000000b0b";

/// `count` connections of `subject` (a customer) that each send a create's head and the
/// first byte of its 500-byte body, then nothing.
async fn stalled_bodies(app: &TestApp, subject: &str, count: usize) -> Vec<Raw> {
    let token = token(Role::Customer, subject);
    let mut stalled = Vec::new();
    for _ in 0..count {
        let mut raw = Raw::connect(app).await;
        raw.send(post_head(&format!("Authorization: Bearer {token}\r\n")).as_bytes())
            .await;
        raw.send(b"{").await;
        stalled.push(raw);
    }
    // Let the server take them all in.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stalled
}

/// `subject` places an order for itself: the status.
async fn place_as(app: &TestApp, subject: &str) -> u16 {
    app.post("/v1/orders")
        .bearer_auth(token(Role::Customer, subject))
        .json(&crate::app::customer_body(subject))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_of_one_caller_never_lock_out_another() {
    let http = HttpConfig {
        max_in_flight: 4,
        ..secured()
    };
    let app = crate::app::sqlite_with(ServiceConfig::default(), http).await;
    // More stalled bodies than the whole in-flight cap.
    let stalled = stalled_bodies(&app, ALICE, 6).await;
    assert_eq!(place_as(&app, BOB).await, 201, "Bob is served");
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_past_its_share_of_requests_in_flight_gets_429_and_others_are_served() {
    let http = HttpConfig {
        max_in_flight_per_caller: 2,
        ..secured()
    };
    let app = crate::app::sqlite_with(ServiceConfig::default(), http).await;
    let stalled = stalled_bodies(&app, ALICE, 2).await;
    let started = std::time::Instant::now();
    let mut third = stalled_bodies(&app, ALICE, 1).await.pop().unwrap();
    let refused = third.response().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once"
    );
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(refused.header("connection"), Some("close"));
    let problem: Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(
        problem["type"],
        "https://ordo.dev/problems/too-many-in-flight"
    );
    assert_eq!(place_as(&app, BOB).await, 201, "Bob has a share of his own");
    // Alice's slots come back when her stalled requests end.
    drop(stalled);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(place_as(&app, ALICE).await, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_is_408_and_ends_its_connection() {
    let http = HttpConfig {
        body_read_timeout: Duration::from_millis(500),
        ..secured()
    };
    let app = crate::app::sqlite_with(ServiceConfig::default(), http).await;
    let started = std::time::Instant::now();
    let mut stalled = stalled_bodies(&app, ALICE, 1).await.pop().unwrap();
    let response = stalled.response().await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(response.status, 408, "{}", response.body);
    assert_eq!(response.header("connection"), Some("close"));
    let problem: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(problem["type"], "https://ordo.dev/problems/body-timeout");
    assert!(stalled.is_closed_within(Duration::from_secs(5)).await);
    // Nothing was placed, and the caller is served again.
    assert_eq!(place_as(&app, ALICE).await, 201);
}
