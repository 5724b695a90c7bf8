//! Order events through the real app, on both databases: an order's history as support reads
//! it (and its customer, without the shop's side), and the feed with its cursor, filters and
//! long polling.

use std::collections::HashSet;

use ordo_service::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem, customer_body, order_body};
use crate::auth::{ALICE, BOB, token};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), crate::auth::secured();
    an_orders_life_is_its_history_each_event_chained_to_the_last,
    a_customer_reads_its_own_history_without_the_shops_side,
    an_order_from_before_events_has_an_empty_history_for_whoever_may_read_it,
    a_customer_gets_404_for_its_deleted_orders_history_as_for_the_order,
    the_feed_pages_in_order_and_filters_by_type,
    a_feed_read_with_wait_returns_the_next_event_when_it_comes,
    bad_feed_parameters_are_refused_naming_them,
    a_socket_streams_events_live_and_resumes_from_a_cursor,
    a_customers_socket_carries_only_its_own_orders_events,
);

fn staff() -> String {
    token(Role::Staff, "staff-1")
}

fn alice() -> String {
    token(Role::Customer, ALICE)
}

/// `GET path` as `bearer`, its JSON body.
async fn read(app: &TestApp, path: &str, bearer: &str) -> Value {
    let response = app.get(path).bearer_auth(bearer).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn history(app: &TestApp, id: &str, bearer: &str) -> reqwest::Response {
    app.get(&format!("/v1/orders/{id}/events"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
}

async fn history_body(app: &TestApp, id: &str, bearer: &str) -> Vec<Value> {
    let response = history(app, id, bearer).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["has_more"], false);
    body["data"].as_array().unwrap().clone()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// Each event names the one before it by its hash, and counts its place.
fn assert_linked(events: &[Value]) {
    let mut previous = Value::Null;
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event["chain"], index + 1, "{event}");
        assert_eq!(event["prev_hash"], previous, "{event}");
        assert_eq!(event["hash"].as_str().unwrap().len(), 64);
        previous = event["hash"].clone();
    }
}

async fn move_to(app: &TestApp, id: &str, version: u64, to: &str) -> Value {
    let response = app
        .post(&format!("/v1/orders/{id}/transitions"))
        .bearer_auth(staff())
        .header("if-match", format!("\"{version}\""))
        .json(&json!({ "to": to }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn an_orders_life_is_its_history_each_event_chained_to_the_last(app: TestApp) {
    let placed = app
        .post("/v1/orders")
        .bearer_auth(staff())
        .header("x-request-id", "req-place-1")
        .header("idempotency-key", "place-1")
        .json(&order_body(ALICE))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);
    let placed: Value = placed.json().await.unwrap();
    let id = placed["id"].as_str().unwrap();
    let processing = move_to(&app, id, placed["version"].as_u64().unwrap(), "processing").await;
    let completed = move_to(
        &app,
        id,
        processing["version"].as_u64().unwrap(),
        "completed",
    )
    .await;
    let refunded = app
        .post(&format!("/v1/orders/{id}/refunds"))
        .bearer_auth(staff())
        .json(&json!({ "amount": "1.00", "reason": "scratched" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refunded.status(), 201, "{}", refunded.text().await.unwrap());

    let events = history_body(&app, id, &staff()).await;
    assert_eq!(
        types(&events),
        [
            "order.placed",
            "payment.authorized",
            "order.status_changed",
            "order.status_changed",
            "payment.captured",
            "refund.requested",
            "refund.succeeded",
        ]
    );
    assert_linked(&events);
    // Who, through which request, and the order as it then was.
    let first = &events[0];
    assert_eq!(
        first["actor"],
        json!({"role": "staff", "subject": "staff-1"})
    );
    assert_eq!(first["request_id"], "req-place-1");
    assert_eq!(first["idempotency_key"], "place-1");
    assert_eq!(first["order"]["id"], id);
    assert_eq!(first["order"]["payment_status"], "unpaid");
    assert_eq!(events[1]["order"]["payment_status"], "authorized");
    for event in &events {
        assert_eq!(event["order_id"], id);
        assert_eq!(event["customer_id"], ALICE);
        assert_eq!(event["version"], event["order"]["version"], "{event}");
    }
    // The capture's event shows the order exactly as completing it answered.
    assert_eq!(events[4]["order"], completed);
    let now: Value = read(&app, &format!("/v1/orders/{id}"), &staff()).await;
    assert_eq!(events[6]["order"], now);
    // The feed holds the same events, with the same cursors.
    let feed: Value = read(&app, "/v1/events", &staff()).await;
    assert_eq!(feed["data"].as_array().unwrap(), &events);
    // A deleted order keeps its history for support.
    let deleted = app
        .delete(&format!("/v1/orders/{id}"))
        .bearer_auth(token(Role::Admin, "root"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204, "{}", deleted.text().await.unwrap());
    let after = history_body(&app, id, &staff()).await;
    assert_eq!(types(&after).last(), Some(&"order.deleted"));
    assert_linked(&after);
}

async fn a_customer_reads_its_own_history_without_the_shops_side(app: TestApp) {
    let placed = app
        .post("/v1/orders")
        .bearer_auth(staff())
        .header("idempotency-key", "staff-key")
        .json(&order_body(ALICE))
        .send()
        .await
        .unwrap();
    let placed: Value = placed.json().await.unwrap();
    let id = placed["id"].as_str().unwrap();
    let noted = app
        .request(Method::PATCH, &format!("/v1/orders/{id}"))
        .bearer_auth(staff())
        .header("if-match", format!("\"{}\"", placed["version"]))
        .header("content-type", "application/merge-patch+json")
        .json(&json!({ "staff_note": "fragile, call first" }))
        .send()
        .await
        .unwrap();
    assert_eq!(noted.status(), 200, "{}", noted.text().await.unwrap());

    let shop = history_body(&app, id, &staff()).await;
    assert_eq!(types(&shop).last(), Some(&"order.edited"));
    assert_eq!(
        shop.last().unwrap()["order"]["staff_note"],
        "fragile, call first"
    );
    let own = history_body(&app, id, &alice()).await;
    assert_eq!(types(&own), types(&shop));
    for event in &own {
        assert_eq!(event["order"]["staff_note"], Value::Null, "{event}");
        assert_eq!(event["actor"]["role"], "staff");
        assert_eq!(event["actor"]["subject"], Value::Null);
        assert_eq!(event["idempotency_key"], Value::Null);
        assert_eq!(event["request_id"], Value::Null);
    }
    // Another customer cannot tell it from no order; nor can anyone tell a missing one.
    assert_problem(
        history(&app, id, &token(Role::Customer, BOB)).await,
        404,
        "not-found",
    )
    .await;
    let missing = "0193a1a0-0000-7000-8000-00000000ffff";
    assert_problem(history(&app, missing, &staff()).await, 404, "not-found").await;
    // A customer's feed is its own orders' events only.
    app.place_as(&staff(), &order_body(BOB)).await;
    let feed: Value = read(&app, "/v1/events", &alice()).await;
    let data = feed["data"].as_array().unwrap();
    assert_eq!(data.len(), own.len());
    assert!(data.iter().all(|e| e["customer_id"] == ALICE));
}

async fn an_order_from_before_events_has_an_empty_history_for_whoever_may_read_it(app: TestApp) {
    let placed = app.place_as(&staff(), &order_body(ALICE)).await;
    let id = placed["id"].as_str().unwrap();
    app.forget_events(id).await;
    for bearer in [staff(), alice(), token(Role::Admin, "root")] {
        let response = history(&app, id, &bearer).await;
        assert_eq!(response.status(), 200, "{bearer}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "data": [], "next_cursor": null, "has_more": false })
        );
    }
    // Another customer cannot tell it from no order.
    assert_problem(
        history(&app, id, &token(Role::Customer, BOB)).await,
        404,
        "not-found",
    )
    .await;
    // Its next change starts its history, a chain of its own.
    let noted = app
        .request(Method::PATCH, &format!("/v1/orders/{id}"))
        .bearer_auth(staff())
        .header("if-match", format!("\"{}\"", placed["version"]))
        .header("content-type", "application/merge-patch+json")
        .json(&json!({ "tags": ["vip"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(noted.status(), 200, "{}", noted.text().await.unwrap());
    let events = history_body(&app, id, &alice()).await;
    assert_eq!(types(&events), ["order.edited"]);
    assert_linked(&events);
}

async fn a_customer_gets_404_for_its_deleted_orders_history_as_for_the_order(app: TestApp) {
    let placed = app.place_as(&alice(), &customer_body(ALICE)).await;
    let id = placed["id"].as_str().unwrap();
    let cancelled = app
        .post(&format!("/v1/orders/{id}/cancel"))
        .bearer_auth(alice())
        .header("if-match", format!("\"{}\"", placed["version"]))
        .json(&json!({ "reason": "customer_request" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        cancelled.status(),
        200,
        "{}",
        cancelled.text().await.unwrap()
    );
    let before = history_body(&app, id, &alice()).await;
    assert_eq!(types(&before).first(), Some(&"order.placed"));
    let deleted = app
        .delete(&format!("/v1/orders/{id}"))
        .bearer_auth(token(Role::Admin, "root"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204, "{}", deleted.text().await.unwrap());

    // To its customer the order is gone, and so is its history.
    let order = app
        .get(&format!("/v1/orders/{id}"))
        .bearer_auth(alice())
        .send()
        .await
        .unwrap();
    assert_problem(order, 404, "not-found").await;
    assert_problem(history(&app, id, &alice()).await, 404, "not-found").await;
    assert_problem(
        history(&app, id, &token(Role::Customer, BOB)).await,
        404,
        "not-found",
    )
    .await;
    // Staff keep reading it, to its deletion.
    let kept = history_body(&app, id, &staff()).await;
    assert_eq!(types(&kept).last(), Some(&"order.deleted"));
    assert_linked(&kept);
}

async fn the_feed_pages_in_order_and_filters_by_type(app: TestApp) {
    for _ in 0..3 {
        app.place_as(&staff(), &order_body(ALICE)).await;
    }
    // Three orders placed and authorized: six events, read two at a time.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut request = app.get("/v1/events?limit=2").bearer_auth(staff());
        if let Some(cursor) = &after {
            request = request.query(&[("after", cursor)]);
        }
        let page: Value = request.send().await.unwrap().json().await.unwrap();
        let data = page["data"].as_array().unwrap().clone();
        if data.is_empty() {
            assert_eq!(page["has_more"], false);
            assert_eq!(
                page["next_cursor"].as_str(),
                after.as_deref(),
                "an empty read keeps the cursor"
            );
            break;
        }
        assert_eq!(page["next_cursor"], data.last().unwrap()["cursor"]);
        after = page["next_cursor"].as_str().map(str::to_owned);
        seen.extend(data);
    }
    assert_eq!(seen.len(), 6);
    let ids: HashSet<_> = seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 6, "each once");
    let placed: Value = read(
        &app,
        "/v1/events?types=order.placed,order.cancelled",
        &staff(),
    )
    .await;
    assert_eq!(
        types(placed["data"].as_array().unwrap()),
        ["order.placed"; 3]
    );
    // A key reads the feed with orders:read, and not without it.
    let admin = token(Role::Admin, "root");
    for (scopes, status) in [(vec!["orders:read"], 200), (vec!["orders:write"], 403)] {
        let key: Value = app
            .post("/v1/api-keys")
            .bearer_auth(&admin)
            .json(&json!({ "name": "erp", "scopes": scopes }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let answer = app
            .get("/v1/events")
            .bearer_auth(key["secret"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status);
    }
}

async fn a_feed_read_with_wait_returns_the_next_event_when_it_comes(app: TestApp) {
    app.place_as(&staff(), &order_body(ALICE)).await;
    let page: Value = read(&app, "/v1/events", &staff()).await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let waiting = {
        let request = app
            .get("/v1/events")
            .query(&[("after", cursor.as_str()), ("wait", "20")])
            .bearer_auth(staff());
        tokio::spawn(async move { request.send().await.unwrap().json::<Value>().await.unwrap() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "nothing new yet: the read waits");
    let next = app.place_as(&staff(), &order_body(BOB)).await;
    let page = waiting.await.unwrap();
    let data = page["data"].as_array().unwrap();
    assert!(!data.is_empty());
    assert_eq!(data[0]["type"], "order.placed");
    assert_eq!(data[0]["order_id"], next["id"]);
}

async fn bad_feed_parameters_are_refused_naming_them(app: TestApp) {
    for (query, field) in [
        ("after=nonsense", "after"),
        ("types=order.shipped", "types"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("wait=31", "wait"),
        ("wait=-1", "wait"),
    ] {
        let response = app
            .get(&format!("/v1/events?{query}"))
            .bearer_auth(staff())
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 400, "invalid-parameter").await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    let response = app
        .get("/v1/orders/not-a-uuid/events")
        .bearer_auth(staff())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the live feed as a browser would: the token offered as a subprotocol.
async fn socket(app: &TestApp, bearer: &str, after: Option<&str>) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let query = after
        .map(|cursor| format!("?after={cursor}"))
        .unwrap_or_default();
    let url = format!(
        "{}/v1/events/ws{query}",
        app.base.replace("http://", "ws://")
    );
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("ordo.v1, bearer.{bearer}").parse().unwrap(),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "ordo.v1");
    socket
}

/// The next event the socket carries (pings skipped), within ten seconds.
async fn next_event(socket: &mut Socket) -> Value {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("an event within ten seconds")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn a_socket_streams_events_live_and_resumes_from_a_cursor(app: TestApp) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let first = app.place_as(&staff(), &order_body(ALICE)).await;
    let mut live = socket(&app, &staff(), None).await;
    // What was recorded before it opened, then what happens while it is open.
    for kind in ["order.placed", "payment.authorized"] {
        let event = next_event(&mut live).await;
        assert_eq!(
            (event["type"].as_str(), &event["order_id"]),
            (Some(kind), &first["id"])
        );
    }
    let second = app.place_as(&staff(), &order_body(BOB)).await;
    let placed = next_event(&mut live).await;
    assert_eq!(
        (placed["type"].as_str(), &placed["order_id"]),
        (Some("order.placed"), &second["id"])
    );
    let cursor = placed["cursor"].as_str().unwrap().to_owned();
    drop(live);
    // Disconnected; more happens; resuming from the last cursor misses nothing and repeats
    // nothing.
    let third = app.place_as(&staff(), &order_body(ALICE)).await;
    let mut resumed = socket(&app, &staff(), Some(&cursor)).await;
    let expected = [
        ("payment.authorized", &second["id"]),
        ("order.placed", &third["id"]),
        ("payment.authorized", &third["id"]),
    ];
    for (kind, order) in expected {
        let event = next_event(&mut resumed).await;
        assert_eq!(
            (event["type"].as_str(), &event["order_id"]),
            (Some(kind), order)
        );
    }
    // Without a token there is no socket.
    let request = format!("{}/v1/events/ws", app.base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    assert!(tokio_tungstenite::connect_async(request).await.is_err());
}

async fn a_customers_socket_carries_only_its_own_orders_events(app: TestApp) {
    app.place_as(&staff(), &order_body(BOB)).await;
    let own = app.place_as(&staff(), &order_body(ALICE)).await;
    let mut socket = socket(&app, &alice(), None).await;
    let first = next_event(&mut socket).await;
    assert_eq!(
        (first["type"].as_str(), &first["order_id"]),
        (Some("order.placed"), &own["id"])
    );
    assert_eq!(
        first["actor"]["subject"],
        Value::Null,
        "the shop's side stays hidden"
    );
    assert_eq!(next_event(&mut socket).await["order_id"], own["id"]);
    app.place_as(&staff(), &order_body(BOB)).await;
    let later = app.place_as(&staff(), &order_body(ALICE)).await;
    assert_eq!(
        next_event(&mut socket).await["order_id"],
        later["id"],
        "Bob's are skipped"
    );
}

/// A refund's outcome is recorded when the gateway answers, after whatever changed the order
/// meanwhile (another refund, an edit): its event shows the order as it is then, as every
/// event does, never the order its request read.
mod refund_outcomes {
    use std::sync::Arc;
    use std::time::Duration;

    use ordo_repository::testing::{TestPostgres, TestSqlite};
    use ordo_service::{CaptureMode, ServiceConfig};
    use reqwest::Method;
    use serde_json::{Value, json};

    use crate::app::{CUSTOMER, Database, TestApp, order_body, serve_slow_gateway};

    /// Long enough for two refunds to be reserved and the order edited while the gateway
    /// answers them.
    const LATENCY: Duration = Duration::from_millis(800);

    async fn body(app: &TestApp, path: &str) -> Value {
        let response = app.get(path).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }

    async fn a_refunds_success_shows_the_order_as_it_is_when_recorded(app: TestApp) {
        let app = Arc::new(app);
        let id = app.place(&order_body(CUSTOMER)).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let history = format!("/v1/orders/{id}/events");
        let refunds: Vec<_> = ["1.00", "2.00"]
            .into_iter()
            .map(|amount| {
                let (app, id) = (app.clone(), id.clone());
                tokio::spawn(async move {
                    app.post(&format!("/v1/orders/{id}/refunds"))
                        .json(&json!({ "amount": amount, "reason": "dented" }))
                        .send()
                        .await
                        .unwrap()
                        .status()
                })
            })
            .collect();
        // Both reserved (each reservation is recorded before its gateway call)...
        let requested = |events: &Value| {
            events["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|event| event["type"] == "refund.requested")
                .count()
        };
        while requested(&body(&app, &history).await) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // ...then the order edited while the gateway answers.
        let read = body(&app, &format!("/v1/orders/{id}")).await;
        let edited = app
            .request(Method::PATCH, &format!("/v1/orders/{id}"))
            .header("if-match", format!("\"{}\"", read["version"]))
            .header("content-type", "application/merge-patch+json")
            .json(&json!({ "staff_note": "dented in transit" }))
            .send()
            .await
            .unwrap();
        assert_eq!(edited.status(), 200, "{}", edited.text().await.unwrap());
        for refund in refunds {
            assert_eq!(refund.await.unwrap(), 201);
        }

        let events = body(&app, &history).await["data"]
            .as_array()
            .unwrap()
            .clone();
        let now = body(&app, &format!("/v1/orders/{id}")).await;
        let succeeded: Vec<&Value> = events
            .iter()
            .filter(|event| event["type"] == "refund.succeeded")
            .collect();
        assert_eq!(succeeded.len(), 2);
        for event in succeeded {
            let order = &event["order"];
            assert_eq!(
                (
                    order["amount_refunded"].as_str(),
                    order["payment_status"].as_str(),
                    order["staff_note"].as_str(),
                ),
                (
                    Some("3.00"),
                    Some("partially_refunded"),
                    Some("dented in transit")
                ),
                "{event}"
            );
            assert_eq!(order, &now, "the order as it now is");
            assert_eq!(event["version"], now["version"]);
        }
        // No event shows an order older than one before it.
        let versions: Vec<u64> = events
            .iter()
            .map(|event| event["version"].as_u64().unwrap())
            .collect();
        assert!(versions.is_sorted(), "{versions:?}");
    }

    fn captured() -> ServiceConfig {
        ServiceConfig {
            capture: CaptureMode::Immediately,
            ..ServiceConfig::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        let (database, store) = TestPostgres::store().await.unwrap();
        let database = Database::Postgres(Box::new(database));
        a_refunds_success_shows_the_order_as_it_is_when_recorded(
            serve_slow_gateway(store, database, captured(), LATENCY).await,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        let (database, store) = TestSqlite::store().await.unwrap();
        let database = Database::Sqlite(database);
        a_refunds_success_shows_the_order_as_it_is_when_recorded(
            serve_slow_gateway(store, database, captured(), LATENCY).await,
        )
        .await;
    }
}
