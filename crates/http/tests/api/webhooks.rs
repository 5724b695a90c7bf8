//! Webhooks through the real app, on both databases: an admin adds an endpoint, events reach a
//! receiver signed by Standard Webhooks, failures are retried and logged, a 410 turns the
//! endpoint off, a rotated secret signs beside the new one. And the sender's refusals of
//! internal addresses (server-side request forgery).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use ordo_domain::{Actor, CustomerId, EventKind, EventRecord, OrderId, Version};
use ordo_http::webhooks::{AllowList, HttpSender, signature};
use ordo_service::{Role, StoredEvent, WebhookEndpoint, WebhookSender as _};
use reqwest::Method;
use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem, order_body};
use crate::auth::{ALICE, token};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), crate::auth::secured();
    an_event_reaches_the_endpoint_signed_and_is_logged,
    a_failing_endpoint_is_retried_and_a_410_turns_it_off,
    a_rotated_secret_signs_beside_the_new_one_for_a_day,
    only_admins_manage_endpoints_and_bad_ones_are_refused_naming_the_field,
    a_key_is_refused_where_the_answer_holds_the_secret_and_nothing_keeps_it,
    a_delivery_being_sent_is_not_sent_again_and_one_sent_again_starts_afresh,
);

/// What a receiver got: headers and body of each request.
type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A receiver on loopback answering each request with the next status given (200 after).
async fn receiver(statuses: &[u16]) -> (SocketAddr, Received) {
    let received: Received = Arc::default();
    let answers = Arc::new(Mutex::new(
        statuses.iter().copied().collect::<VecDeque<_>>(),
    ));
    let (log, queue) = (received.clone(), answers.clone());
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: String| {
        let (log, queue) = (log.clone(), queue.clone());
        async move {
            log.lock().unwrap().push((headers, body));
            let status = queue.lock().unwrap().pop_front().unwrap_or(200);
            StatusCode::from_u16(status).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, received)
}

fn admin() -> String {
    token(Role::Admin, "root")
}

pub(crate) async fn add_endpoint(app: &TestApp, url: &str, types: &[&str]) -> Value {
    let response = app
        .post("/v1/webhook-endpoints")
        .bearer_auth(admin())
        .json(&json!({ "url": url, "event_types": types, "description": "the ERP" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// Fans out and sends everything due, as `ordo serve`'s loop does.
async fn send_all(app: &TestApp) {
    let webhooks = app.service.webhooks().unwrap();
    webhooks.fan_out().await.unwrap();
    while webhooks.deliver_due().await.unwrap() > 0 {}
}

/// An endpoint as an admin reads it.
async fn read_endpoint(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/webhook-endpoints/{id}"))
        .bearer_auth(admin())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub(crate) async fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/v1/webhook-endpoints/{endpoint}/deliveries"))
        .bearer_auth(admin())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["data"].as_array().unwrap().clone()
}

/// Checks a received request's Standard Webhooks headers against `secret`; its body.
fn verified(headers: &HeaderMap, body: &str, secret: &str) -> Value {
    let id = headers["webhook-id"].to_str().unwrap();
    let timestamp: i64 = headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = signature(&[secret], id, timestamp, body.as_bytes()).unwrap();
    let sent = headers["webhook-signature"].to_str().unwrap();
    assert!(
        sent.split(' ').any(|one| one == expected),
        "{sent} holds no signature by this secret"
    );
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["data"]["id"], id, "webhook-id is the event's id");
    body
}

async fn an_event_reaches_the_endpoint_signed_and_is_logged(app: TestApp) {
    let (address, received) = receiver(&[]).await;
    let endpoint = add_endpoint(&app, &format!("http://{address}/hooks"), &["order.placed"]).await;
    let secret = endpoint["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    let id = endpoint["id"].as_str().unwrap();
    let order = app
        .place_as(&token(Role::Staff, "s"), &order_body(ALICE))
        .await;
    send_all(&app).await;

    let got = received.lock().unwrap().clone();
    assert_eq!(
        got.len(),
        1,
        "order.placed only: payment.authorized is not asked for"
    );
    let (headers, body) = &got[0];
    assert_eq!(headers["content-type"], "application/json");
    let body = verified(headers, body, secret);
    assert_eq!(body["type"], "order.placed");
    assert_eq!(body["data"]["type"], "order.placed");
    assert_eq!(body["data"]["order"]["id"], order["id"]);
    let log = deliveries(&app, id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (
            &log[0]["status"],
            &log[0]["attempts"],
            &log[0]["last_status"]
        ),
        (&json!("succeeded"), &json!(1), &json!(200))
    );
    assert_eq!(log[0]["event_id"], body["data"]["id"]);
    // Nothing more is due: nothing is sent twice.
    send_all(&app).await;
    assert_eq!(received.lock().unwrap().len(), 1);
    // The secret is shown once: never in a read.
    let read: Value = read_endpoint(&app, id).await;
    assert!(read.get("secret").is_none(), "{read}");
}

async fn a_failing_endpoint_is_retried_and_a_410_turns_it_off(app: TestApp) {
    let (address, received) = receiver(&[500, 410]).await;
    let endpoint = add_endpoint(&app, &format!("http://{address}/"), &["order.placed"]).await;
    let id = endpoint["id"].as_str().unwrap();
    app.place_as(&token(Role::Staff, "s"), &order_body(ALICE))
        .await;
    send_all(&app).await;
    // A 500: pending, due again in about five seconds, the endpoint failing since now.
    let log = deliveries(&app, id).await;
    assert_eq!(
        (&log[0]["status"], &log[0]["attempts"]),
        (&json!("pending"), &json!(1))
    );
    assert_eq!(log[0]["last_status"], 500);
    let read: Value = read_endpoint(&app, id).await;
    assert!(read["failing_since"].is_string());
    send_all(&app).await;
    assert_eq!(received.lock().unwrap().len(), 1, "not due yet");
    // Sent again by hand: a 410, so the delivery fails and the endpoint is turned off.
    let delivery = log[0]["id"].as_str().unwrap();
    let again = app
        .post(&format!(
            "/v1/webhook-endpoints/{id}/deliveries/{delivery}/redeliver"
        ))
        .bearer_auth(admin())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    send_all(&app).await;
    assert_eq!(received.lock().unwrap().len(), 2);
    let log = deliveries(&app, id).await;
    assert_eq!(
        (&log[0]["status"], &log[0]["last_status"]),
        (&json!("failed"), &json!(410))
    );
    let off: Value = read_endpoint(&app, id).await;
    assert_eq!(off["enabled"], false);
    assert_eq!(off["disabled_reason"], "the endpoint answered 410 Gone");
    // Events while it is off are not sent to it.
    app.place_as(&token(Role::Staff, "s"), &order_body(ALICE))
        .await;
    send_all(&app).await;
    assert_eq!(received.lock().unwrap().len(), 2);
    // Turned back on, it is no longer failing and says so.
    let on = app
        .request(Method::PATCH, &format!("/v1/webhook-endpoints/{id}"))
        .bearer_auth(admin())
        .header("if-match", format!("\"{}\"", off["version"]))
        .header("content-type", "application/merge-patch+json")
        .json(&json!({ "enabled": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(on.status(), 200);
    let on: Value = on.json().await.unwrap();
    assert_eq!(
        (&on["enabled"], &on["disabled_reason"], &on["failing_since"]),
        (&json!(true), &Value::Null, &Value::Null)
    );
}

async fn a_rotated_secret_signs_beside_the_new_one_for_a_day(app: TestApp) {
    let (address, received) = receiver(&[]).await;
    let endpoint = add_endpoint(&app, &format!("http://{address}/"), &[]).await;
    let (id, old) = (
        endpoint["id"].as_str().unwrap(),
        endpoint["secret"].as_str().unwrap(),
    );
    let stale = app
        .post(&format!("/v1/webhook-endpoints/{id}/rotate-secret"))
        .bearer_auth(admin())
        .header("if-match", "\"9\"")
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "stale-version").await;
    let rotated = app
        .post(&format!("/v1/webhook-endpoints/{id}/rotate-secret"))
        .bearer_auth(admin())
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new = rotated["secret"].as_str().unwrap();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_until"].is_string());
    app.place_as(&token(Role::Staff, "s"), &order_body(ALICE))
        .await;
    send_all(&app).await;
    let got = received.lock().unwrap().clone();
    assert_eq!(
        got.len(),
        2,
        "order.placed and payment.authorized: every type"
    );
    for (headers, body) in &got {
        assert_eq!(
            headers["webhook-signature"]
                .to_str()
                .unwrap()
                .split(' ')
                .count(),
            2
        );
        verified(headers, body, new);
        verified(headers, body, old);
    }
}

async fn only_admins_manage_endpoints_and_bad_ones_are_refused_naming_the_field(app: TestApp) {
    let body = json!({ "url": "https://erp.example.com/hooks" });
    for bearer in [token(Role::Staff, "s"), token(Role::Customer, ALICE)] {
        let refused = app
            .post("/v1/webhook-endpoints")
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(refused, 403, "forbidden").await;
    }
    for (url, why) in [
        ("ftp://erp.example.com/", "http or https"),
        ("https://user:secret@erp.example.com/", "credentials"),
        ("not a url", "not a URL"),
    ] {
        let refused = app
            .post("/v1/webhook-endpoints")
            .bearer_auth(admin())
            .json(&json!({ "url": url }))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(refused, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], "url", "{problem}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(why),
            "{problem}"
        );
    }
    let unknown_type = app
        .post("/v1/webhook-endpoints")
        .bearer_auth(admin())
        .json(&json!({ "url": "https://erp.example.com/", "event_types": ["order.shipped"] }))
        .send()
        .await
        .unwrap();
    assert!(unknown_type.status().is_client_error());
    let missing = app
        .get("/v1/webhook-endpoints/0193a1a0-0000-7000-8000-00000000ffff")
        .bearer_auth(admin())
        .send()
        .await
        .unwrap();
    assert_problem(missing, 404, "not-found").await;
}

/// Making an endpoint and rotating its secret answer with the secret: with an `Idempotency-Key`
/// they are refused, nothing changes, and the idempotency table never holds a secret.
async fn a_key_is_refused_where_the_answer_holds_the_secret_and_nothing_keeps_it(app: TestApp) {
    let refused_key = |problem: &Value| {
        assert_eq!(
            problem["errors"][0]["field"], "Idempotency-Key",
            "{problem}"
        );
    };
    let made = app
        .post("/v1/webhook-endpoints")
        .bearer_auth(admin())
        .header("idempotency-key", "hook-1")
        .json(&json!({ "url": "https://erp.example.com/hooks" }))
        .send()
        .await
        .unwrap();
    refused_key(&assert_problem(made, 400, "invalid-parameter").await);
    let listed: Value = app
        .get("/v1/webhook-endpoints")
        .bearer_auth(admin())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]), "no endpoint was made");

    let endpoint = add_endpoint(&app, "https://erp.example.com/hooks", &[]).await;
    let (id, secret) = (
        endpoint["id"].as_str().unwrap(),
        endpoint["secret"].as_str().unwrap(),
    );
    let rotated = app
        .post(&format!("/v1/webhook-endpoints/{id}/rotate-secret"))
        .bearer_auth(admin())
        .header("if-match", "\"1\"")
        .header("idempotency-key", "rotate-1")
        .send()
        .await
        .unwrap();
    refused_key(&assert_problem(rotated, 400, "invalid-parameter").await);
    let read = read_endpoint(&app, id).await;
    assert_eq!(
        (&read["version"], &read["previous_secret_until"]),
        (&json!(1), &Value::Null),
        "not rotated"
    );
    let admin_caller = ordo_service::Caller::operator(Role::Admin, "root").unwrap();
    let stored = app
        .service
        .webhooks()
        .unwrap()
        .get(&admin_caller, id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(stored.secret, secret, "the secret is the one made");

    // A key on a route without a secret is kept as ever, so the table is read; no answer kept
    // holds a secret.
    let placed = app
        .post("/v1/orders")
        .bearer_auth(token(Role::Staff, "s"))
        .header("idempotency-key", "order-1")
        .json(&order_body(ALICE))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);
    let kept = app.kept_responses().await;
    let keys: Vec<&str> = kept.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["order-1"]);
    for (key, body) in &kept {
        let body = String::from_utf8_lossy(body.as_deref().unwrap_or_default());
        assert!(!body.contains("whsec_"), "{key} keeps a secret: {body}");
    }
}

/// A receiver on loopback that holds each request until `release` lets one through, then
/// answers 500: how many it got.
async fn held_receiver() -> (SocketAddr, Arc<AtomicUsize>, Arc<tokio::sync::Semaphore>) {
    let (got, release) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(tokio::sync::Semaphore::new(0)),
    );
    let (count, gate) = (got.clone(), release.clone());
    let app = axum::Router::new().fallback(move || {
        let (count, gate) = (count.clone(), gate.clone());
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            gate.acquire().await.unwrap().forget();
            StatusCode::INTERNAL_SERVER_ERROR
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, got, release)
}

async fn a_delivery_being_sent_is_not_sent_again_and_one_sent_again_starts_afresh(app: TestApp) {
    let (address, got, release) = held_receiver().await;
    let endpoint = add_endpoint(&app, &format!("http://{address}/"), &["order.placed"]).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    app.place_as(&token(Role::Staff, "s"), &order_body(ALICE))
        .await;
    let webhooks = app.service.webhooks().unwrap().clone();
    webhooks.fan_out().await.unwrap();
    let delivery = deliveries(&app, &id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let redeliver = format!("/v1/webhook-endpoints/{id}/deliveries/{delivery}/redeliver");
    // A sender is delivering it: the receiver holds the request.
    let sending = tokio::spawn(async move { webhooks.deliver_due().await.unwrap() });
    while got.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let refused = app
        .post(&redeliver)
        .bearer_auth(admin())
        .send()
        .await
        .unwrap();
    assert!(refused.headers().contains_key("retry-after"));
    let problem = assert_problem(refused, 409, "delivery-in-progress").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("lease"),
        "{problem}"
    );
    // The attempt under way is recorded: its outcome was not dropped.
    release.add_permits(1);
    assert_eq!(sending.await.unwrap(), 1);
    let log = deliveries(&app, &id).await;
    assert_eq!(
        (
            &log[0]["status"],
            &log[0]["attempts"],
            &log[0]["last_status"]
        ),
        (&json!("pending"), &json!(1), &json!(500))
    );
    // Now it may be sent again: due now, attempts counted afresh, the last outcome kept.
    let again = app
        .post(&redeliver)
        .bearer_auth(admin())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        (&again["status"], &again["attempts"], &again["last_status"]),
        (&json!("pending"), &json!(0), &json!(500))
    );
    release.add_permits(1);
    send_all(&app).await;
    assert_eq!(got.load(Ordering::SeqCst), 2);
    let log = deliveries(&app, &id).await;
    assert_eq!(
        (&log[0]["status"], &log[0]["attempts"]),
        (&json!("pending"), &json!(1)),
        "the first attempt of a fresh schedule"
    );
}

/// An event and an endpoint at `url`, for the sender alone.
fn sample(url: &str) -> (WebhookEndpoint, StoredEvent) {
    let order = OrderId::from_parts(1_790_000_000_000, &[7; 10]);
    let record = EventRecord::new(
        uuid::Uuid::from_u128(1),
        EventKind::OrderPlaced,
        order,
        CustomerId::from_uuid(uuid::Uuid::from_u128(2)).unwrap(),
        Version::FIRST,
        Actor::system("test"),
        chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
        "{}".to_owned(),
    );
    let now = record.at;
    let endpoint = WebhookEndpoint {
        id: uuid::Uuid::from_u128(3),
        url: url.to_owned(),
        description: None,
        event_types: Vec::new(),
        enabled: true,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        previous_secret: None,
        disabled_reason: None,
        failing_since: None,
        version: Version::FIRST,
        created_at: now,
        updated_at: now,
        starts_after: None,
    };
    let event = StoredEvent {
        record,
        position: ordo_service::FeedPosition { tx: 0, seq: 1 },
        chain: 1,
        prev_hash: None,
        hash: [0; 32],
    };
    (endpoint, event)
}

/// Deliveries to loopback, private and link-local addresses, to a name that resolves to one,
/// and through a redirect to one, are refused unless allow-listed; nothing reaches them.
#[tokio::test]
async fn the_sender_refuses_internal_addresses_unless_allowed() {
    let (address, received) = receiver(&[]).await;
    let port = address.port();
    let closed = HttpSender::new(AllowList::default()).unwrap();
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        "http://10.0.0.1/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        format!("http://[::1]:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
    ] {
        let (endpoint, event) = sample(&url);
        let outcome = closed.send(&endpoint, &event, now).await;
        assert_eq!(outcome.status, None, "{url}");
        let error = outcome.error.unwrap_or_default();
        assert!(error.contains("refused"), "{url}: {error}");
    }
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );

    // Allow-listed, the same receiver is reached.
    let open = HttpSender::new(AllowList::parse(&["127.0.0.1/32"]).unwrap()).unwrap();
    let (endpoint, event) = sample(&format!("http://localhost:{port}/ok"));
    let outcome = open.send(&endpoint, &event, now).await;
    assert_eq!(outcome.status, Some(200), "{outcome:?}");
    assert_eq!(received.lock().unwrap().len(), 1);

    // A redirect to the metadata address is not followed, allow-listed receiver or not.
    let redirecting = axum::Router::new().fallback(|| async {
        (
            StatusCode::FOUND,
            [("location", "http://169.254.169.254/latest/meta-data/")],
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirector = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, redirecting).await.unwrap() });
    let (endpoint, event) = sample(&format!("http://{redirector}/"));
    let outcome = open.send(&endpoint, &event, now).await;
    assert_eq!(outcome.status, Some(302));
    assert!(!outcome.succeeded());
    assert!(outcome.error.unwrap_or_default().contains("redirect"));
}
