//! Payment over HTTP with the simulated gateway: approvals, declines (402), timeouts.

use serde_json::{Value, json};

use crate::app::{CUSTOMER, TestApp, assert_problem, on_both_databases};

on_both_databases!(
    an_approved_order_is_authorized_then_paid_on_completion,
    a_declined_payment_is_402_and_the_order_shows_it_failed,
    a_gateway_timeout_leaves_the_payment_unknown,
    partial_refunds_add_up_to_at_most_what_was_captured,
    twenty_parallel_refunds_of_ten_percent_never_refund_more_than_all,
    reconciliation_settles_an_unknown_payment,
    a_refund_run_again_with_its_key_pays_once,
);

/// A paid order of `price`, captured at completion.
async fn paid(app: &TestApp, price: &str) -> String {
    let placed = app.place(&order_costing(price)).await;
    let id = placed["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/orders/{id}/transitions");
    for (to, etag) in [("processing", "\"2\""), ("completed", "\"3\"")] {
        let response = app
            .post(&path)
            .header("if-match", etag)
            .json(&json!({ "to": to }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    id
}

async fn refund(app: &TestApp, id: &str, amount: &str) -> reqwest::Response {
    app.post(&format!("/v1/orders/{id}/refunds"))
        .json(&json!({ "amount": amount, "reason": "test" }))
        .send()
        .await
        .unwrap()
}

async fn partial_refunds_add_up_to_at_most_what_was_captured(app: TestApp) {
    let unpaid = app.place(&order_costing("10.00")).await;
    let problem = assert_problem(
        refund(&app, unpaid["id"].as_str().unwrap(), "1.00").await,
        409,
        "payment-state",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("authorized"));

    let id = paid(&app, "10.00").await;
    let first = refund(&app, &id, "4.00").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["status"], "succeeded");
    assert_eq!(
        (
            first["order"]["payment_status"].as_str(),
            first["order"]["amount_refunded"].as_str()
        ),
        (Some("partially_refunded"), Some("4.00"))
    );
    for (amount, kind) in [
        ("6.01", "validation"),
        ("0", "validation"),
        ("0.001", "validation"),
    ] {
        let problem = assert_problem(refund(&app, &id, amount).await, 422, kind).await;
        assert_eq!(problem["errors"][0]["field"], "amount");
    }
    let last: Value = refund(&app, &id, "6.00").await.json().await.unwrap();
    assert_eq!(
        (
            last["order"]["payment_status"].as_str(),
            last["order"]["amount_refunded"].as_str()
        ),
        (Some("refunded"), Some("10.00"))
    );
    assert_problem(refund(&app, &id, "0.01").await, 409, "payment-state").await;
}

async fn twenty_parallel_refunds_of_ten_percent_never_refund_more_than_all(app: TestApp) {
    let id = paid(&app, "50.00").await;
    let app = std::sync::Arc::new(app);
    // 25 requests of 10 % each, all at once: exactly 10 may succeed.
    let tasks: Vec<_> = (0..25)
        .map(|_| {
            let (app, id) = (app.clone(), id.clone());
            tokio::spawn(async move { refund(&app, &id, "5.00").await.status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let succeeded = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(succeeded, 10, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, 201 | 409 | 422)),
        "{statuses:?}"
    );
    let order: Value = app
        .get(&format!("/v1/orders/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            order["amount_refunded"].as_str(),
            order["payment_status"].as_str()
        ),
        (Some("50.00"), Some("refunded"))
    );
}

async fn reconciliation_settles_an_unknown_payment(app: TestApp) {
    let placed = app.place(&order_costing("10.05")).await;
    assert_eq!(placed["payment_status"], "unknown");
    let report = app.service.reconcile().await.unwrap();
    assert_eq!((report.payments, report.still_unknown), (1, 0));
    let order: Value = app
        .get(&format!("/v1/orders/{}", placed["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(order["payment_status"], "authorized");
    // Nothing left to settle, and asking again changes nothing.
    assert_eq!(
        app.service.reconcile().await.unwrap(),
        ordo_service::Reconciled::default()
    );
}

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

/// A refund whose request ran again with the same key (the key's lease ran out after a crash,
/// say) finishes the refund the first run reserved: one refund, paid once.
async fn a_refund_run_again_with_its_key_pays_once(app: TestApp) {
    use ordo_service::{Caller, Role};
    let id = paid(&app, "10.00").await;
    let order_id = ordo_domain::OrderId::from_uuid(id.parse().unwrap()).unwrap();
    let reason = ordo_domain::CancelReason::try_from("damaged in transit".to_owned()).unwrap();
    let caller = || {
        Caller::operator(Role::Staff, "support")
            .unwrap()
            .in_request(None, Some("refund-once".to_owned()))
    };
    let (_, first) = app
        .service
        .refund(
            &caller(),
            order_id,
            rust_decimal::Decimal::ONE,
            reason.clone(),
        )
        .await
        .unwrap();
    let (order, again) = app
        .service
        .refund(
            &caller(),
            order_id,
            rust_decimal::Decimal::ONE,
            reason.clone(),
        )
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(order.payment().refunded.to_string(), "1.00");
    // Another key is another refund.
    let other = Caller::operator(Role::Staff, "support")
        .unwrap()
        .in_request(None, Some("refund-twice".to_owned()));
    let (order, second) = app
        .service
        .refund(&other, order_id, rust_decimal::Decimal::ONE, reason)
        .await
        .unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(order.payment().refunded.to_string(), "2.00");
}
