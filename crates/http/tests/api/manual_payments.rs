//! Payments taken outside a gateway, through the real app on both databases: an order paid by
//! bank transfer in two parts, worked on before the money arrives, completed by the payment
//! that pays it in full; payment terms and the overdue filter; who may; refunds through the
//! manual provider.

use ordo_service::Role;
use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem};
use crate::auth::{ALICE, token};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), crate::auth::secured();
    a_bank_transfer_order_is_paid_in_two_parts_and_completes_when_paid_and_fulfilled,
    payment_terms_set_the_due_date_and_overdue_orders_are_listed,
    refused_payments_name_the_field_and_change_nothing,
    a_manual_order_partly_paid_is_cancelled_with_a_refund_of_what_was_paid,
    a_payment_retried_with_its_key_is_recorded_once,
    a_partly_paid_order_is_refunded_only_by_cancelling_and_customers_see_no_staff_names,
);

fn staff() -> String {
    token(Role::Staff, "staff-1")
}

fn alice() -> String {
    token(Role::Customer, ALICE)
}

fn manual_order(terms: Option<i64>) -> Value {
    let mut body = json!({
        "customer_id": ALICE,
        "currency": "USD",
        "items": [
            { "sku": "TS-BLUE-L", "quantity": 2 }
        ],
        "payment_provider": "manual"
    });
    if let Some(days) = terms {
        body["payment_terms_days"] = json!(days);
    }
    body
}

async fn send(app: &TestApp, path: &str, bearer: &str, body: &Value) -> reqwest::Response {
    app.post(path)
        .bearer_auth(bearer)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let code = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(code, status, "{body}");
    body
}

async fn pay(app: &TestApp, id: &str, amount: &str) -> reqwest::Response {
    let body = json!({ "amount": amount, "method": "bank_transfer", "reference": "TRX-1" });
    send(app, &format!("/v1/orders/{id}/payments"), &staff(), &body).await
}

async fn a_bank_transfer_order_is_paid_in_two_parts_and_completes_when_paid_and_fulfilled(
    app: TestApp,
) {
    let placed = app.place_as(&alice(), &manual_order(None)).await;
    assert_eq!(
        (
            placed["payment_provider"].as_str(),
            placed["payment_status"].as_str(),
            placed["amount_authorized"].as_str(),
            placed["payment_in_progress"].as_str()
        ),
        (Some("manual"), Some("unpaid"), Some("0.00"), None),
        "nothing held at placement"
    );
    assert!(placed["payment_due_at"].is_string());
    let id = placed["id"].as_str().unwrap().to_owned();
    // Worked on before the money arrives, and shipped.
    let processing = app
        .post(&format!("/v1/orders/{id}/transitions"))
        .bearer_auth(staff())
        .header("if-match", "\"1\"")
        .json(&json!({ "to": "processing" }))
        .send()
        .await
        .unwrap();
    assert_eq!(processing.status(), 200);
    let fulfilled = json_of(
        send(
            &app,
            &format!("/v1/orders/{id}/fulfillments"),
            &staff(),
            &json!({ "lines": [{ "line": 0, "quantity": 2 }] }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (
            fulfilled["order"]["status"].as_str(),
            fulfilled["order"]["fulfillment_status"].as_str()
        ),
        (Some("processing"), Some("fulfilled")),
        "fulfilled, but not paid: it waits"
    );
    let first = json_of(pay(&app, &id, "30.00").await, 201).await;

    assert_eq!(
        (
            first["payment_status"].as_str(),
            first["amount_captured"].as_str(),
            first["status"].as_str()
        ),
        (Some("partially_paid"), Some("30.00"), Some("processing"))
    );
    let second = json_of(pay(&app, &id, "9.98").await, 201).await;
    assert_eq!(
        (
            second["payment_status"].as_str(),
            second["amount_captured"].as_str(),
            second["status"].as_str()
        ),
        (Some("paid"), Some("39.98"), Some("completed")),
        "paid in full and fulfilled: completed"
    );
    assert_eq!(second["payments"].as_array().unwrap().len(), 2);
    assert_eq!(second["payments"][0]["method"], "bank_transfer");
    assert_problem(pay(&app, &id, "1.00").await, 409, "payment-state").await;
    let history: Value = app
        .get(&format!("/v1/orders/{id}/events"))
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "order.placed",
            "order.status_changed",
            "fulfillment.created",
            "payment.recorded",
            "payment.recorded"
        ]
    );
}

async fn payment_terms_set_the_due_date_and_overdue_orders_are_listed(app: TestApp) {
    // Due at once (0 days): overdue from the next instant; 30 days: not yet.
    let due_now = app.place_as(&staff(), &manual_order(Some(0))).await;
    let later = app.place_as(&staff(), &manual_order(Some(30))).await;
    let gateway_body = json!({
        "customer_id": ALICE, "currency": "USD",
        "items": [{ "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1, "unit_price": "1.00" }]
    });
    app.place_as(&staff(), &gateway_body).await;
    let due = |order: &Value| {
        chrono::DateTime::parse_from_rfc3339(order["payment_due_at"].as_str().unwrap()).unwrap()
    };
    let placed = |order: &Value| {
        chrono::DateTime::parse_from_rfc3339(order["created_at"].as_str().unwrap()).unwrap()
    };
    assert_eq!(due(&later) - placed(&later), chrono::Duration::days(30));
    assert_eq!(due(&due_now), placed(&due_now));
    let overdue: Value = app
        .get("/v1/orders?overdue=true")
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = overdue["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [due_now["id"].as_str().unwrap()]);
    // Paid, it is no longer overdue.
    json_of(
        pay(&app, due_now["id"].as_str().unwrap(), "39.98").await,
        201,
    )
    .await;
    let overdue: Value = app
        .get("/v1/orders?overdue=true")
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overdue["data"], json!([]));
    // Cancelled, it is no longer chased either.
    let another = app.place_as(&staff(), &manual_order(Some(0))).await;
    let cancelled = app
        .post(&format!(
            "/v1/orders/{}/cancel",
            another["id"].as_str().unwrap()
        ))
        .bearer_auth(staff())
        .header("if-match", format!("\"{}\"", another["version"]))
        .json(&json!({ "reason": "never paid" }))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let overdue: Value = app
        .get("/v1/orders?overdue=true")
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overdue["data"], json!([]));
    // A customer names the provider, not the terms; the gateway takes no terms.
    let refused = send(&app, "/v1/orders", &alice(), &manual_order(Some(90))).await;
    let problem = assert_problem(refused, 422, "set-by-shop").await;
    assert!(
        problem.to_string().contains("payment_terms_days"),
        "{problem}"
    );
    let mut terms_on_gateway = gateway_body.clone();
    terms_on_gateway["payment_terms_days"] = json!(10);
    let problem = assert_problem(
        send(&app, "/v1/orders", &staff(), &terms_on_gateway).await,
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "payment_terms_days");
}

async fn refused_payments_name_the_field_and_change_nothing(app: TestApp) {
    let id = app.place_as(&staff(), &manual_order(None)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, field) in [
        (json!({ "amount": "39.99", "method": "cash" }), "amount"),
        (json!({ "amount": "0", "method": "cash" }), "amount"),
        (json!({ "amount": "1.001", "method": "cash" }), "amount"),
        (json!({ "amount": "1.00", "method": "bitcoin" }), "method"),
    ] {
        let problem = assert_problem(
            send(&app, &format!("/v1/orders/{id}/payments"), &staff(), &body).await,
            422,
            "validation",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let customer = send(
        &app,
        &format!("/v1/orders/{id}/payments"),
        &alice(),
        &json!({ "amount": "39.98", "method": "cash" }),
    )
    .await;
    assert_problem(customer, 403, "forbidden").await;
    let order: Value = app
        .get(&format!("/v1/orders/{id}"))
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            order["payment_status"].as_str(),
            order["payments"].as_array().map(Vec::len)
        ),
        (Some("unpaid"), Some(0))
    );
    // An order paid through the gateway takes no recorded payment.
    let gateway = app
        .place_as(
            &staff(),
            &json!({
                "customer_id": ALICE, "currency": "USD",
                "items": [{ "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1, "unit_price": "1.00" }]
            }),
        )
        .await;
    assert_problem(
        pay(&app, gateway["id"].as_str().unwrap(), "1.00").await,
        409,
        "payment-state",
    )
    .await;
}

async fn a_manual_order_partly_paid_is_cancelled_with_a_refund_of_what_was_paid(app: TestApp) {
    let id = app.place_as(&staff(), &manual_order(None)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paid = json_of(pay(&app, &id, "25.00").await, 201).await;
    let version = paid["version"].to_string();
    let cancelled = app
        .post(&format!("/v1/orders/{id}/cancel"))
        .bearer_auth(staff())
        .header("if-match", format!("\"{version}\""))
        .json(&json!({ "reason": "customer changed their mind" }))
        .send()
        .await
        .unwrap();
    let cancelled = json_of(cancelled, 200).await;
    assert_eq!(
        (
            cancelled["status"].as_str(),
            cancelled["payment_status"].as_str(),
            cancelled["amount_refunded"].as_str()
        ),
        (Some("cancelled"), Some("refunded"), Some("25.00")),
        "the manual provider gives back what was paid"
    );
}

async fn a_payment_retried_with_its_key_is_recorded_once(app: TestApp) {
    use ordo_service::Caller;
    let id = app.place_as(&staff(), &manual_order(None)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let order_id = ordo_domain::OrderId::from_uuid(id.parse().unwrap()).unwrap();
    let caller = Caller::operator(Role::Staff, "cashier")
        .unwrap()
        .in_request(None, Some("till-7".to_owned()));
    let draft = ordo_domain::PaymentDraft {
        amount: "20.00".parse().unwrap(),
        method: "cash".to_owned(),
        reference: None,
        received_at: None,
    };
    app.service
        .record_payment(&caller, order_id, &draft, None)
        .await
        .unwrap();
    let again = app
        .service
        .record_payment(&caller, order_id, &draft, None)
        .await
        .unwrap();
    assert_eq!(again.recorded_payments().len(), 1);
    assert_eq!(again.payment().captured.to_string(), "20.00");
    // The same key for another payment is another request: refused, nothing recorded.
    let other = ordo_domain::PaymentDraft {
        amount: "5.00".parse().unwrap(),
        ..draft
    };
    let refused = app
        .service
        .record_payment(&caller, order_id, &other, None)
        .await;
    assert!(
        matches!(refused, Err(ordo_service::ServiceError::KeyReused)),
        "{refused:?}"
    );
}

async fn a_partly_paid_order_is_refunded_only_by_cancelling_and_customers_see_no_staff_names(
    app: TestApp,
) {
    let id = app.place_as(&alice(), &manual_order(None)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    json_of(pay(&app, &id, "30.00").await, 201).await;
    // Partly paid: refunded only by cancelling (a refund would strand the rest).
    let refund = send(
        &app,
        &format!("/v1/orders/{id}/refunds"),
        &staff(),
        &json!({ "amount": "1.00", "reason": "goodwill" }),
    )
    .await;
    assert_problem(refund, 409, "payment-state").await;
    // The customer sees the payments, not who on staff recorded them, in the order and its
    // history alike.
    let own: Value = app
        .get(&format!("/v1/orders/{id}"))
        .bearer_auth(alice())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own["payments"][0]["recorded_by"], Value::Null);
    let history: Value = app
        .get(&format!("/v1/orders/{id}/events"))
        .bearer_auth(alice())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = history["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "payment.recorded");
    assert_eq!(last["order"]["payments"][0]["recorded_by"], Value::Null);
    assert_eq!(last["order"]["payments"][0]["amount"], "30.00");
    // Nor does the customer cancel it: the shop gives the money back.
    let version = own["version"].to_string();
    let cancel = app
        .post(&format!("/v1/orders/{id}/cancel"))
        .bearer_auth(alice())
        .header("if-match", format!("\"{version}\""))
        .json(&json!({ "reason": "changed my mind" }))
        .send()
        .await
        .unwrap();
    assert_problem(cancel, 403, "forbidden").await;
}
