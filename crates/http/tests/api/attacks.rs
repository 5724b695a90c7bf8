//! What a black-box attack on ordo found (issue #13), one test each, on both databases: money
//! that moved on a version nobody named, unpaid orders completed, holds left open, amounts
//! rounded, loose refunds, and another customer's order told apart from none.

use std::time::Duration;

use ordo_repository::testing::{TestPostgres, TestSqlite};
use ordo_service::{Role, ServiceConfig};
use serde_json::{Value, json};

use crate::app::{CUSTOMER, Database, TestApp, assert_problem, on_both_databases};
use crate::auth::{ALICE, BOB, token};

on_both_databases!(
    an_order_whose_payment_is_not_held_cannot_be_processed_or_completed,
    a_cancel_reason_holding_a_nul_is_refused_before_any_money_moves,
    deleting_an_order_that_holds_money_is_refused_until_it_is_cancelled,
    an_amount_with_more_decimals_than_a_decimal_holds_is_refused_not_rounded,
    a_refund_reason_is_checked_like_a_cancel_and_its_amount_has_the_currency_decimals,
);

fn costing(price: &str) -> Value {
    json!({
        "customer_id": CUSTOMER,
        "currency": "USD",
        "items": [{ "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1, "unit_price": price }]
    })
}

async fn move_to(app: &TestApp, id: &str, to: &str, etag: &str) -> reqwest::Response {
    app.post(&format!("/v1/orders/{id}/transitions"))
        .header("if-match", etag)
        .json(&json!({ "to": to }))
        .send()
        .await
        .unwrap()
}

async fn cancel(app: &TestApp, id: &str, etag: &str, reason: &str) -> reqwest::Response {
    app.post(&format!("/v1/orders/{id}/cancel"))
        .header("if-match", etag)
        .json(&json!({ "reason": reason }))
        .send()
        .await
        .unwrap()
}

async fn read(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/orders/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn an_order_whose_payment_is_not_held_cannot_be_processed_or_completed(app: TestApp) {
    // Declined: the order is kept as failed, and stays out of fulfilment.
    let declined = app
        .post("/v1/orders")
        .json(&costing("10.02"))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(declined, 402, "payment-declined").await;
    let id = problem["order_id"].as_str().unwrap().to_owned();
    let problem = assert_problem(
        move_to(&app, &id, "processing", "\"2\"").await,
        409,
        "payment-state",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("failed"),
        "{problem}"
    );
    // Unknown: nothing moves until reconciliation knows.
    let unknown = app.place(&costing("10.05")).await;
    let id = unknown["id"].as_str().unwrap();
    assert_eq!(unknown["payment_in_progress"], "authorize");
    for response in [
        move_to(&app, id, "processing", "\"2\"").await,
        cancel(&app, id, "\"2\"", "changed my mind").await,
    ] {
        assert_problem(response, 409, "payment-in-progress").await;
    }
    app.service.reconcile().await.unwrap();
    let settled = read(&app, id).await;
    assert_eq!(
        (
            settled["payment_status"].as_str(),
            settled["version"].as_u64()
        ),
        (Some("authorized"), Some(3))
    );
    assert_eq!(move_to(&app, id, "processing", "\"3\"").await.status(), 200);
    let completed: Value = move_to(&app, id, "completed", "\"4\"")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            completed["status"].as_str(),
            completed["payment_status"].as_str(),
            completed["amount_captured"].as_str()
        ),
        (Some("completed"), Some("paid"), Some("10.05"))
    );
}

async fn a_cancel_reason_holding_a_nul_is_refused_before_any_money_moves(app: TestApp) {
    let placed = app.place(&costing("10.00")).await;
    let id = placed["id"].as_str().unwrap();
    let problem = assert_problem(
        cancel(&app, id, "\"2\"", "oops\u{0}").await,
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "reason", "{problem}");
    let after = read(&app, id).await;
    assert_eq!(
        (
            after["status"].as_str(),
            after["payment_status"].as_str(),
            after["version"].as_u64()
        ),
        (Some("pending"), Some("authorized"), Some(2)),
        "the hold is untouched"
    );
}

async fn deleting_an_order_that_holds_money_is_refused_until_it_is_cancelled(app: TestApp) {
    let placed = app.place(&costing("10.00")).await;
    let id = placed["id"].as_str().unwrap();
    let path = format!("/v1/orders/{id}");
    let problem = assert_problem(
        app.delete(&path).send().await.unwrap(),
        409,
        "payment-state",
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("cancel it first"),
        "{problem}"
    );
    let cancelled: Value = cancel(&app, id, "\"2\"", "not needed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["payment_status"], "unpaid", "the hold was voided");
    assert_eq!(app.delete(&path).send().await.unwrap().status(), 204);
}

async fn an_amount_with_more_decimals_than_a_decimal_holds_is_refused_not_rounded(app: TestApp) {
    let long = "19.989999999999999999999999999999";
    for (body, field) in [
        (costing(long), "items[0].unit_price"),
        (
            json!({ "customer_id": CUSTOMER, "currency": "USD", "tax_rate": format!("0.{}", "1".repeat(30)),
                    "items": [{ "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1, "unit_price": "1.00" }] }),
            "tax_rate",
        ),
    ] {
        let response = app.post("/v1/orders").json(&body).send().await.unwrap();
        let problem = assert_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let listed: Value = app
        .get(&format!("/v1/orders?customer_id={CUSTOMER}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]), "nothing was stored");
}

async fn a_refund_reason_is_checked_like_a_cancel_and_its_amount_has_the_currency_decimals(
    app: TestApp,
) {
    let placed = app.place(&costing("10.00")).await;
    let id = placed["id"].as_str().unwrap();
    assert_eq!(move_to(&app, id, "processing", "\"2\"").await.status(), 200);
    assert_eq!(move_to(&app, id, "completed", "\"3\"").await.status(), 200);
    let refunds = format!("/v1/orders/{id}/refunds");
    for reason in [
        String::new(),
        "  ".into(),
        "x".repeat(100 * 1024),
        "a\u{0}b".into(),
    ] {
        let response = app
            .post(&refunds)
            .json(&json!({ "amount": "1", "reason": reason }))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], "reason", "{problem}");
    }
    let response = app
        .post(&refunds)
        .json(&json!({ "amount": "1", "reason": "dented box" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let refund: Value = response.json().await.unwrap();
    assert_eq!(refund["amount"], "1.00");
    assert_eq!(refund["order"]["amount_refunded"], "1.00");
}

/// Two requests naming the same version, through a slow gateway: exactly one proceeds, and
/// the loser's never reaches the gateway.
async fn one_version_moves_money_once(app: TestApp) {
    for _ in 0..10 {
        let placed = app.place(&costing("10.00")).await;
        let id = placed["id"].as_str().unwrap();
        let (cancelled, processed) = tokio::join!(
            cancel(&app, id, "\"2\"", "race"),
            move_to(&app, id, "processing", "\"2\"")
        );
        let statuses = [cancelled.status().as_u16(), processed.status().as_u16()];
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| [200, 409, 412].contains(s)),
            "{statuses:?}"
        );
        let order = read(&app, id).await;
        let version = order["version"].as_u64().unwrap();
        if order["status"] == "processing" {
            let etag = format!("\"{version}\"");
            let (cancelled, completed) = tokio::join!(
                cancel(&app, id, &etag, "race"),
                move_to(&app, id, "completed", &etag)
            );
            let statuses = [cancelled.status().as_u16(), completed.status().as_u16()];
            assert_eq!(
                statuses.iter().filter(|s| **s == 200).count(),
                1,
                "{statuses:?}"
            );
        }
        let order = read(&app, id).await;
        let money = (
            order["status"].as_str().unwrap(),
            order["payment_status"].as_str().unwrap(),
        );
        assert!(
            matches!(money, ("cancelled", "unpaid") | ("completed", "paid")),
            "{money:?}: the status and the money agree"
        );
        assert_eq!(order["payment_in_progress"], Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_version_moves_money_once_on_postgres() {
    let (database, store) = TestPostgres::store().await.unwrap();
    let database = Database::Postgres(Box::new(database));
    let latency = Duration::from_millis(30);
    one_version_moves_money_once(
        crate::app::serve_slow_gateway(store, database, ServiceConfig::default(), latency).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_version_moves_money_once_on_sqlite() {
    let (database, store) = TestSqlite::store().await.unwrap();
    let latency = Duration::from_millis(30);
    one_version_moves_money_once(
        crate::app::serve_slow_gateway(
            store,
            Database::Sqlite(database),
            ServiceConfig::default(),
            latency,
        )
        .await,
    )
    .await;
}

/// Another customer's order answers 404 however malformed the request about it: the missing
/// or malformed `If-Match`, the empty reason or the bad body are judged only for one's own.
async fn another_customers_order_is_not_found_whatever_else_is_wrong(app: TestApp) {
    let alice = token(Role::Customer, ALICE);
    let bob = token(Role::Customer, BOB);
    let mut body = crate::app::customer_body(ALICE);
    body["customer_id"] = json!(ALICE);
    let placed = app
        .post("/v1/orders")
        .bearer_auth(&alice)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);
    let placed: Value = placed.json().await.unwrap();
    let id = placed["id"].as_str().unwrap();
    let unknown = "0193a1a0-0000-7000-8000-00000000dead";
    let probes: [(&str, Option<&str>, Value); 6] = [
        ("cancel", None, json!({ "reason": "mine now" })),
        ("cancel", Some("\"2\""), json!({ "reason": "" })),
        ("cancel", Some("W/garbage"), json!({ "reason": "mine now" })),
        ("cancel", Some("\"2\""), json!({ "colour": "red" })),
        ("transitions", None, json!({ "to": "processing" })),
        (
            "transitions",
            Some("nonsense"),
            json!({ "to": "processing" }),
        ),
    ];
    for (route, if_match, probe) in probes {
        for target in [id, unknown] {
            let mut request = app
                .post(&format!("/v1/orders/{target}/{route}"))
                .bearer_auth(&bob)
                .json(&probe);
            if let Some(etag) = if_match {
                request = request.header("if-match", etag);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                404,
                "{route} {if_match:?} {probe} on {target}"
            );
        }
    }
    let mut malformed = app
        .delete(&format!("/v1/orders/{id}"))
        .bearer_auth(&bob)
        .header("if-match", "x");
    malformed = malformed.header("x-probe", "1");
    assert_eq!(malformed.send().await.unwrap().status(), 404);
    let refund = app
        .post(&format!("/v1/orders/{id}/refunds"))
        .bearer_auth(&bob)
        .json(&json!({ "amount": "-1", "reason": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), 404);
    // Alice's own malformed requests are judged as before.
    let own = app
        .post(&format!("/v1/orders/{id}/cancel"))
        .bearer_auth(&alice)
        .json(&json!({ "reason": "x" }))
        .send()
        .await
        .unwrap();
    assert_problem(own, 428, "precondition-required").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_customers_order_is_not_found_whatever_else_is_wrong_on_postgres() {
    another_customers_order_is_not_found_whatever_else_is_wrong(
        crate::app::postgres_with(ServiceConfig::default(), crate::auth::secured()).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_customers_order_is_not_found_whatever_else_is_wrong_on_sqlite() {
    another_customers_order_is_not_found_whatever_else_is_wrong(
        crate::app::sqlite_with(ServiceConfig::default(), crate::auth::secured()).await,
    )
    .await;
}

/// A create cut by the request timeout answers 504 "retry with the same Idempotency-Key": the
/// retry runs at once (it does not meet 409 "in progress" for the claim's lease), resumes the
/// stored order, and never makes a second one.
async fn a_retry_after_a_timeout_runs_at_once(app: TestApp) {
    let send = || {
        app.post("/v1/orders")
            .header("idempotency-key", "cut-by-the-timeout")
            .json(&costing("10.00"))
            .send()
    };
    assert_problem(send().await.unwrap(), 504, "timeout").await;
    let retry = send().await.unwrap();
    assert_ne!(retry.status(), 409, "the cut request's claim was released");
    assert_problem(retry, 504, "timeout").await;
    let listed: Value = app
        .get(&format!("/v1/orders?customer_id={CUSTOMER}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        1,
        "one order, resumed"
    );
}

fn cut_quickly() -> ordo_http::HttpConfig {
    ordo_http::HttpConfig {
        request_timeout: Duration::from_millis(300),
        ..ordo_http::HttpConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_timeout_runs_at_once_on_postgres() {
    let (database, store) = TestPostgres::store().await.unwrap();
    let database = Database::Postgres(Box::new(database));
    let slow = Duration::from_millis(600);
    a_retry_after_a_timeout_runs_at_once(
        crate::app::serve_http(
            store,
            database,
            ServiceConfig::default(),
            slow,
            cut_quickly(),
        )
        .await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_timeout_runs_at_once_on_sqlite() {
    let (database, store) = TestSqlite::store().await.unwrap();
    let slow = Duration::from_millis(600);
    a_retry_after_a_timeout_runs_at_once(
        crate::app::serve_http(
            store,
            Database::Sqlite(database),
            ServiceConfig::default(),
            slow,
            cut_quickly(),
        )
        .await,
    )
    .await;
}

/// `GET /v1/orders/by-number/{number}`: the owner finds its order by the number it was given
/// (in lower case too), staff find any, another customer gets the 404 of a number never given;
/// a number with one character mistyped is the typo answer, not "not found".
async fn an_order_is_found_by_its_number_and_a_typo_says_so(app: TestApp) {
    let alice = token(Role::Customer, ALICE);
    let bob = token(Role::Customer, BOB);
    let staff = token(Role::Staff, "support");
    let mut body = crate::app::customer_body(ALICE);
    body["customer_id"] = json!(ALICE);
    let placed: Value = app
        .post("/v1/orders")
        .bearer_auth(&alice)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let number = placed["order_number"].as_str().unwrap().to_owned();
    for (who, as_typed) in [(&alice, number.clone()), (&staff, number.to_lowercase())] {
        let found = app
            .get(&format!("/v1/orders/by-number/{as_typed}"))
            .bearer_auth(who)
            .send()
            .await
            .unwrap();
        assert_eq!(found.status(), 200, "{as_typed}");
        assert_eq!(found.headers()["etag"], "\"2\"");
        let found: Value = found.json().await.unwrap();
        assert_eq!(found["id"], placed["id"]);
    }
    let theirs = app
        .get(&format!("/v1/orders/by-number/{number}"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_problem(theirs, 404, "not-found").await;
    // One character changed: the check character catches it.
    let mut typo = number.clone().into_bytes();
    let last_code = typo.len() - 2;
    typo[last_code] = if typo[last_code] == b'2' { b'3' } else { b'2' };
    let typo = String::from_utf8(typo).unwrap();
    let answer = app
        .get(&format!("/v1/orders/by-number/{typo}"))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(answer, 400, "invalid-parameter").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("typo"),
        "{problem}"
    );
    let not_a_number = app
        .get("/v1/orders/by-number/12345")
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(not_a_number, 400, "invalid-parameter").await;
    assert!(!problem["detail"].as_str().unwrap().contains("typo"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_found_by_its_number_and_a_typo_says_so_on_postgres() {
    an_order_is_found_by_its_number_and_a_typo_says_so(
        crate::app::postgres_with(ServiceConfig::default(), crate::auth::secured()).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_found_by_its_number_and_a_typo_says_so_on_sqlite() {
    an_order_is_found_by_its_number_and_a_typo_says_so(
        crate::app::sqlite_with(ServiceConfig::default(), crate::auth::secured()).await,
    )
    .await;
}
