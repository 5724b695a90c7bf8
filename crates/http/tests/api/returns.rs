//! Returns and refunds by line through the real app, on both databases: the walk-through (ship,
//! return one item, refund that line), refunding every line to exactly the total, and races:
//! returns racing for shipped units, refunds racing returns for the same units.

use ordo_service::Role;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem};
use crate::auth::{ALICE, token};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), crate::auth::secured();
    an_item_is_returned_received_and_its_line_refunded_in_one_step,
    refunding_every_line_and_the_shipping_refunds_exactly_the_total,
    thirty_two_racing_returns_of_one_unit_return_exactly_ten,
    refunds_racing_returns_never_refund_a_unit_twice,
    refused_returns_and_refunds_name_the_field_and_change_nothing,
    customers_see_their_returns_but_support_records_them,
);

fn staff() -> String {
    token(Role::Staff, "staff-1")
}

fn alice() -> String {
    token(Role::Customer, ALICE)
}

async fn post(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.post(path)
        .bearer_auth(staff())
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

/// Alice's order of `shirts` shirts at 19.99 (line 0) and 2 stickers at 5.00 (line 1), 10 %
/// off, 8.25 % tax, 4.95 shipping (untaxed).
pub(crate) fn shirts_and_stickers(shirts: u32) -> Value {
    json!({
        "customer_id": ALICE,
        "currency": "USD",
        "items": [
            { "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": shirts, "unit_price": "19.99" },
            { "product_id": "0193a1a0-0000-7000-8000-0000000000bb", "quantity": 2, "unit_price": "5.00" }
        ],
        "discount": { "type": "percentage", "percent": "10" },
        "tax_rate": "0.0825",
        "shipping": [{ "code": "ups", "title": "UPS Ground", "amount": "4.95" }]
    })
}

/// A completed, paid order of [`shirts_and_stickers`] with everything shipped.
async fn shipped(app: &TestApp, shirts: u32) -> String {
    let id = crate::fulfillments::processing_of(app, &shirts_and_stickers(shirts)).await;
    let lines = json!({ "lines": [
        { "line": 0, "quantity": shirts }, { "line": 1, "quantity": 2 }
    ] });
    let made = json_of(
        post(app, &format!("/v1/orders/{id}/fulfillments"), &lines).await,
        201,
    )
    .await;
    assert_eq!(made["order"]["status"], "completed");
    let ship = json!({ "to": "shipped", "carrier": "UPS", "tracking_number": "1Z1" });
    let path = format!(
        "/v1/orders/{id}/fulfillments/{}/transitions",
        made["id"].as_str().unwrap()
    );
    json_of(post(app, &path, &ship).await, 200).await;
    id
}

async fn ask_return(app: &TestApp, id: &str, line: u32, quantity: u32) -> reqwest::Response {
    let body = json!({
        "lines": [{ "line": line, "quantity": quantity }],
        "reason": "size_or_fit",
        "restock": true
    });
    post(app, &format!("/v1/orders/{id}/returns"), &body).await
}

async fn move_return(app: &TestApp, id: &str, ret: &str, body: &Value) -> reqwest::Response {
    post(
        app,
        &format!("/v1/orders/{id}/returns/{ret}/transitions"),
        body,
    )
    .await
}

async fn refund(app: &TestApp, id: &str, body: &Value) -> reqwest::Response {
    post(app, &format!("/v1/orders/{id}/refunds"), body).await
}

async fn order(app: &TestApp, id: &str) -> Value {
    let response = app
        .get(&format!("/v1/orders/{id}"))
        .bearer_auth(staff())
        .send()
        .await
        .unwrap();
    json_of(response, 200).await
}

fn amount(value: &Value) -> Decimal {
    value.as_str().unwrap().parse().unwrap()
}

async fn an_item_is_returned_received_and_its_line_refunded_in_one_step(app: TestApp) {
    let id = shipped(&app, 3).await;
    let asked = json_of(ask_return(&app, &id, 0, 1).await, 201).await;
    assert_eq!(
        (
            asked["number"].as_u64(),
            asked["status"].as_str(),
            asked["reason"].as_str()
        ),
        (Some(1), Some("requested"), Some("size_or_fit"))
    );
    assert_eq!(asked["order"]["items"][0]["returned_quantity"], 1);
    let ret = asked["id"].as_str().unwrap();
    let received = json_of(
        move_return(&app, &id, ret, &json!({ "to": "received" })).await,
        200,
    )
    .await;
    assert_eq!(received["status"], "received");
    assert_eq!(
        received["order"]["fulfillment_status"],
        "partially_returned"
    );

    let closed = json_of(
        move_return(
            &app,
            &id,
            ret,
            &json!({ "to": "closed", "outcome": "refunded" }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (closed["status"].as_str(), closed["outcome"].as_str()),
        (Some("closed"), Some("refunded"))
    );
    let refund = &closed["refund"];
    assert_eq!(refund["status"], "succeeded");
    assert_eq!(closed["refund_id"], refund["id"]);
    assert_eq!(
        refund["lines"],
        json!([{ "kind": "item", "line": 0, "quantity": 1, "amount": refund["amount"] }])
    );
    // One shirt's share: 19.99 less its share of the 10 % off, with its share of the tax.
    let one = amount(&refund["amount"]);
    assert!(
        one > Decimal::new(1900, 2) && one < Decimal::new(1999, 2),
        "{one}"
    );
    let after = &closed["order"];
    assert_eq!(after["amount_refunded"], refund["amount"]);
    assert_eq!(after["payment_status"], "partially_refunded");
    assert_eq!(after["items"][0]["refunded_quantity"], 1);
    assert_problem(
        move_return(
            &app,
            &id,
            ret,
            &json!({ "to": "closed", "outcome": "rejected" }),
        )
        .await,
        409,
        "return-state",
    )
    .await;

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
        types[types.len() - 4..],
        [
            "return.requested",
            "return.received",
            "return.closed",
            "refund.succeeded"
        ]
    );
}

async fn refunding_every_line_and_the_shipping_refunds_exactly_the_total(app: TestApp) {
    let id = shipped(&app, 3).await;
    let total = amount(&order(&app, &id).await["total"]);
    let mut refunded = Decimal::ZERO;
    for body in [
        json!({ "lines": [{ "line": 0, "quantity": 1 }], "reason": "damaged" }),
        json!({ "lines": [{ "line": 1, "quantity": 2 }], "shipping": [0], "reason": "late" }),
        json!({ "lines": [{ "line": 0, "quantity": 1 }], "reason": "damaged" }),
        json!({ "lines": [{ "line": 0, "quantity": 1 }], "reason": "damaged" }),
    ] {
        let made = json_of(refund(&app, &id, &body).await, 201).await;
        let lines: Decimal = made["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|line| amount(&line["amount"]))
            .sum();
        assert_eq!(amount(&made["amount"]), lines, "{made}");
        refunded += lines;
    }
    assert_eq!(refunded, total);
    let after = order(&app, &id).await;
    assert_eq!(amount(&after["amount_refunded"]), total);
    assert_eq!(after["payment_status"], "refunded");
}

async fn thirty_two_racing_returns_of_one_unit_return_exactly_ten(app: TestApp) {
    let id = shipped(&app, 10).await;
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (app, id) = (app.clone(), id.clone());
            tokio::spawn(async move { ask_return(&app, &id, 0, 1).await.status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        10,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| matches!(s, 201 | 422)),
        "{statuses:?}"
    );
    let after = order(&app, &id).await;
    assert_eq!(after["returns"].as_array().unwrap().len(), 10);
    assert_eq!(after["items"][0]["returned_quantity"], 10);
}

async fn refunds_racing_returns_never_refund_a_unit_twice(app: TestApp) {
    let id = shipped(&app, 10).await;
    let mut returns = Vec::new();
    for _ in 0..10 {
        let asked = json_of(ask_return(&app, &id, 0, 1).await, 201).await;
        returns.push(asked["id"].as_str().unwrap().to_owned());
    }
    // Ten returns closed refunded and ten refunds of one shirt each, all at once: ten units to
    // refund, so exactly ten of the twenty succeed.
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for ret in returns {
        let (closer, order_id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({ "to": "closed", "outcome": "refunded" });
            move_return(&closer, &order_id, &ret, &body)
                .await
                .status()
                .as_u16()
        }));
        let (app, id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({ "lines": [{ "line": 0, "quantity": 1 }], "reason": "race" });
            refund(&app, &id, &body).await.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let succeeded = statuses.iter().filter(|s| matches!(s, 200 | 201)).count();
    assert_eq!(succeeded, 10, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 201 | 422)),
        "{statuses:?}"
    );
    let after = order(&app, &id).await;
    assert_eq!(after["items"][0]["refunded_quantity"], 10);
    // Ten shirts refunded in any order and split: exactly the shirts' share.
    let all = json!({ "lines": [{ "line": 1, "quantity": 2 }], "shipping": [0], "reason": "rest" });
    json_of(refund(&app, &id, &all).await, 201).await;
    let after = order(&app, &id).await;
    assert_eq!(after["amount_refunded"], after["total"]);
}

async fn refused_returns_and_refunds_name_the_field_and_change_nothing(app: TestApp) {
    let id = shipped(&app, 3).await;
    let before = order(&app, &id).await;
    for (body, field) in [
        (
            json!({ "lines": [{ "line": 0, "quantity": 4 }], "reason": "damaged" }),
            "lines[0].quantity",
        ),
        (
            json!({ "lines": [{ "line": 5, "quantity": 1 }], "reason": "damaged" }),
            "lines[0].line",
        ),
        (
            json!({ "lines": [{ "line": 0, "quantity": 1 }], "reason": "meh" }),
            "reason",
        ),
        (
            json!({ "lines": [{ "line": 0, "quantity": 1 }], "reason": "other" }),
            "note",
        ),
    ] {
        let problem = assert_problem(
            post(&app, &format!("/v1/orders/{id}/returns"), &body).await,
            422,
            "validation",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    for (body, field) in [
        (
            json!({ "amount": "1.00", "lines": [{ "line": 0, "quantity": 1 }], "reason": "x" }),
            "amount",
        ),
        (json!({ "reason": "x" }), "amount"),
        (
            json!({ "lines": [{ "line": 0, "quantity": 4 }], "reason": "x" }),
            "lines[0].quantity",
        ),
        (json!({ "shipping": [1], "reason": "x" }), "shipping[0]"),
    ] {
        let problem = assert_problem(refund(&app, &id, &body).await, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let asked = json_of(ask_return(&app, &id, 0, 1).await, 201).await;
    let ret = asked["id"].as_str().unwrap();
    let problem = assert_problem(
        move_return(&app, &id, ret, &json!({ "to": "closed" })).await,
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "outcome");
    let rejected = json_of(
        move_return(
            &app,
            &id,
            ret,
            &json!({ "to": "closed", "outcome": "rejected" }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rejected["outcome"], "rejected");
    assert_eq!(rejected["order"]["items"][0]["returned_quantity"], 0);
    let after = order(&app, &id).await;
    assert_eq!(after["amount_refunded"], before["amount_refunded"]);
    assert_problem(
        move_return(
            &app,
            &id,
            "0193a1a0-0000-7000-8000-0000000000ff",
            &json!({ "to": "received" }),
        )
        .await,
        404,
        "not-found",
    )
    .await;
}

async fn customers_see_their_returns_but_support_records_them(app: TestApp) {
    let id = shipped(&app, 3).await;
    let asked = json_of(ask_return(&app, &id, 0, 1).await, 201).await;
    let body = json!({ "lines": [{ "line": 0, "quantity": 1 }], "reason": "damaged" });
    let theirs = app
        .post(&format!("/v1/orders/{id}/returns"))
        .bearer_auth(alice())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(theirs, 403, "forbidden").await;
    let other = token(Role::Customer, "0193a1a0-0000-7000-8000-00000000b0b0");
    let not_theirs = app
        .post(&format!("/v1/orders/{id}/returns"))
        .bearer_auth(&other)
        .json(&json!({ "lines": 1 }))
        .send()
        .await
        .unwrap();
    assert_problem(not_theirs, 404, "not-found").await;
    let path = format!("/v1/orders/{id}/returns/{}", asked["id"].as_str().unwrap());
    let seen = app.get(&path).bearer_auth(alice()).send().await.unwrap();
    assert_eq!(seen.status(), 200);
    let unseen = app.get(&path).bearer_auth(&other).send().await.unwrap();
    assert_problem(unseen, 404, "not-found").await;
}
