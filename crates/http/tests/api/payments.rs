//! Payment over HTTP with the simulated gateway: approvals, declines (402), timeouts.

use serde_json::{Value, json};

use crate::app::{CUSTOMER, TestApp, assert_problem, on_both_databases};

on_both_databases!(
    an_approved_order_is_authorized_then_paid_on_completion,
    a_declined_payment_is_402_and_the_order_shows_it_failed,
    a_gateway_timeout_leaves_the_payment_unknown,
);

/// One line whose total (no tax, no discount) is `price`: the simulated gateway decides by
/// its cents.
fn order_costing(price: &str) -> Value {
    json!({
        "customer_id": CUSTOMER,
        "currency": "USD",
        "items": [{ "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1, "unit_price": price }]
    })
}

async fn an_approved_order_is_authorized_then_paid_on_completion(app: TestApp) {
    let placed = app.place(&order_costing("10.00")).await;
    assert_eq!(placed["payment_status"], "authorized");
    assert_eq!(
        (
            placed["amount_authorized"].as_str(),
            placed["amount_captured"].as_str()
        ),
        (Some("10.00"), Some("0.00"))
    );
    let path = format!("/v1/orders/{}/transitions", placed["id"].as_str().unwrap());
    for (to, etag) in [("processing", "\"2\""), ("completed", "\"3\"")] {
        let response = app
            .post(&path)
            .header("if-match", etag)
            .json(&json!({ "to": to }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{to}");
    }
    let order: Value = app
        .get(&format!("/v1/orders/{}", placed["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (order["status"].as_str(), order["payment_status"].as_str()),
        (Some("completed"), Some("paid"))
    );
    assert_eq!(order["amount_captured"], "10.00");
}

async fn a_declined_payment_is_402_and_the_order_shows_it_failed(app: TestApp) {
    let send = || {
        app.post("/v1/orders")
            .header("idempotency-key", "declined-1")
            .json(&order_costing("10.02"))
            .send()
    };
    let problem = assert_problem(send().await.unwrap(), 402, "payment-declined").await;
    let id = problem["order_id"].as_str().unwrap().to_owned();
    let order: Value = app
        .get(&format!("/v1/orders/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (order["status"].as_str(), order["payment_status"].as_str()),
        (Some("pending"), Some("failed"))
    );
    // The retry gets the same 402, and nothing new is placed or charged.
    let again = send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = assert_problem(again, 402, "payment-declined").await;
    assert_eq!(again["order_id"], id.as_str());
}

async fn a_gateway_timeout_leaves_the_payment_unknown(app: TestApp) {
    let placed = app.place(&order_costing("10.05")).await;
    assert_eq!(placed["payment_status"], "unknown");
    assert_eq!(placed["amount_authorized"], "0.00");
}
