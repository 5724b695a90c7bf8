//! How `ordo serve` sends webhooks: each slow endpoint holds one slot of the sender, not the
//! others' deliveries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use ordo_service::Role;
use reqwest::Method;

use crate::app::{TestApp, order_body};
use crate::auth::{ALICE, token};
use crate::webhooks::{add_endpoint, deliveries};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), crate::auth::secured();
    a_hanging_endpoint_does_not_hold_back_another_endpoints_deliveries,
);

/// An event whose transaction began before an endpoint was made and commits after it is the
/// endpoint's, whatever its clock time says (its `at` is from before the making): the
/// endpoint starts at the feed's head, not at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_committing_after_an_endpoint_was_made_is_delivered_to_it() {
    use sqlx::{Connection as _, Executor as _};
    let app = crate::app::postgres_with(
        ordo_service::ServiceConfig::default(),
        crate::auth::secured(),
    )
    .await;
    let staff = token(Role::Staff, "s");
    let placed = app.place_as(&staff, &order_body(ALICE)).await;
    let mut held = sqlx::PgConnection::connect(&app.postgres_tables_url().unwrap())
        .await
        .unwrap();
    held.execute("BEGIN").await.unwrap();
    let event = uuid::Uuid::new_v4();
    held.execute(
        sqlx::query(
            "INSERT INTO order_events (id, order_id, customer_id, chain, kind, version, actor_role,
                 actor_subject, at, payload, payload_digest, prev_hash, hash)
             VALUES ($1, $2, $3, 99, 'order.edited', 9, 'system', 'held', now(), '{}',
                     sha256('{}'), sha256('p'), sha256('x'))",
        )
        .bind(event)
        .bind(
            placed["id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap(),
        )
        .bind(ALICE.parse::<uuid::Uuid>().unwrap()),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (url, _) = receiver(None).await;
    let endpoint = add_endpoint(&app, &url, &[]).await;
    held.execute("COMMIT").await.unwrap();
    let webhooks = app.service.webhooks().unwrap();
    while webhooks.fan_out().await.unwrap() > 0 {}
    let log = deliveries(&app, endpoint["id"].as_str().unwrap()).await;
    let events: Vec<&str> = log
        .iter()
        .map(|delivery| delivery["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [event.to_string().as_str()],
        "the held event, and nothing placed before the endpoint was made"
    );
}

/// A receiver that keeps the ids it got; while `hang` is set it does not answer.
async fn receiver(hang: Option<Arc<tokio::sync::Notify>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = got.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let (log, hang) = (log.clone(), hang.clone());
        async move {
            let id = headers["webhook-id"].to_str().unwrap().to_owned();
            log.lock().unwrap().push(id);
            if let Some(hang) = hang {
                hang.notified().await;
            }
            StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/hooks"), got)
}

/// Waits (up to ten seconds) until `got` holds `count` ids.
async fn until_received(got: &Mutex<Vec<String>>, count: usize) -> Vec<String> {
    for _ in 0..500 {
        let ids = got.lock().unwrap().clone();
        if ids.len() >= count {
            return ids;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got.lock().unwrap().clone()
}

async fn a_hanging_endpoint_does_not_hold_back_another_endpoints_deliveries(app: TestApp) {
    let release = Arc::new(tokio::sync::Notify::new());
    let (hanging, stuck) = receiver(Some(release.clone())).await;
    let (healthy, got) = receiver(None).await;
    add_endpoint(&app, &hanging, &[]).await;
    add_endpoint(&app, &healthy, &[]).await;
    let webhooks = app.service.webhooks().unwrap().clone();
    let sender = webhooks.clone();
    let sending = tokio::spawn(async move {
        sender.send_continuously(Duration::from_millis(20)).await;
    });

    let staff = token(Role::Staff, "s");
    let placed = app.place_as(&staff, &order_body(ALICE)).await;
    webhooks.fan_out().await.unwrap();
    let before = until_received(&got, 2).await.len();
    assert_eq!(before, 2);
    assert_eq!(until_received(&stuck, 2).await.len(), 2);
    // The first endpoint still has not answered; a change now reaches the other one anyway.
    // Placing sent two events (placed, payment authorized) to each.
    let id = placed["id"].as_str().unwrap();
    let edited = app
        .request(Method::PATCH, &format!("/v1/orders/{id}"))
        .bearer_auth(&staff)
        .header("if-match", format!("\"{}\"", placed["version"]))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"staff_note":"call before delivery"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 200, "{}", edited.text().await.unwrap());
    webhooks.fan_out().await.unwrap();
    let ids = until_received(&got, 3).await;
    assert_eq!(
        ids.len(),
        3,
        "the healthy endpoint waited for the hanging one"
    );
    // (The hanging endpoint got the change too, and holds that one as well.)
    release.notify_waiters();
    sending.abort();
}
