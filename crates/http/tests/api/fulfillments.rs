//! Fulfilments through the real app, on both databases: shipping in parts, states, the order's
//! status moving with them, who may, each step's event, and never over-shipping however many
//! requests race for the units.

use ordo_service::Role;
use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem};
use crate::auth::{ALICE, token};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), crate::auth::secured();
    an_order_ships_in_two_parts_and_completes_with_the_last,
    fulfilments_move_through_their_states_each_with_its_event,
    thirty_two_racing_fulfilments_of_one_unit_each_ship_exactly_ten,
    refused_fulfilments_name_the_field_and_change_nothing,
    customers_see_their_fulfilments_but_do_not_make_them,
    an_order_with_a_shipped_part_cannot_be_cancelled,
    the_staff_list_filters_by_fulfilment_status,
    a_fulfilment_retried_with_its_key_is_made_once,
);

pub(crate) fn staff() -> String {
    token(Role::Staff, "staff-1")
}

fn alice() -> String {
    token(Role::Customer, ALICE)
}

/// A processing order of Alice's: 10 shirts (line 0) and 2 stickers (line 1), authorized.
async fn processing(app: &TestApp) -> String {
    let body = json!({
        "customer_id": ALICE,
        "currency": "USD",
        "items": [
            { "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 10, "unit_price": "19.99" },
            { "product_id": "0193a1a0-0000-7000-8000-0000000000bb", "quantity": 2, "unit_price": "5.00" }
        ]
    });
    processing_of(app, &body).await
}

/// The order `body`, placed by staff and moved to processing: its id.
pub(crate) async fn processing_of(app: &TestApp, body: &Value) -> String {
    let placed = app.place_as(&staff(), body).await;
    let id = placed["id"].as_str().unwrap().to_owned();
    let response = app
        .post(&format!("/v1/orders/{id}/transitions"))
        .bearer_auth(staff())
        .header("if-match", "\"2\"")
        .json(&json!({ "to": "processing" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    id
}

pub(crate) async fn fulfil(app: &TestApp, id: &str, body: &Value) -> reqwest::Response {
    app.post(&format!("/v1/orders/{id}/fulfillments"))
        .bearer_auth(staff())
        .json(body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn move_to(
    app: &TestApp,
    id: &str,
    fulfillment: &str,
    body: &Value,
) -> reqwest::Response {
    app.post(&format!(
        "/v1/orders/{id}/fulfillments/{fulfillment}/transitions"
    ))
    .bearer_auth(staff())
    .json(body)
    .send()
    .await
    .unwrap()
}

pub(crate) async fn order(app: &TestApp, id: &str) -> Value {
    let response = app
        .get(&format!("/v1/orders/{id}"))
        .bearer_auth(staff())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

pub(crate) async fn event_types(app: &TestApp, id: &str) -> Vec<String> {
    let body: Value = app
        .get(&format!("/v1/orders/{id}/events"))
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn counts(order: &Value) -> Vec<(u64, u64)> {
    order["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["fulfilled_quantity"].as_u64().unwrap(),
                item["shipped_quantity"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn an_order_ships_in_two_parts_and_completes_with_the_last(app: TestApp) {
    let id = processing(&app).await;
    let first = fulfil(
        &app,
        &id,
        &json!({
            "lines": [{ "line": 0, "quantity": 6 }],
            "location": "berlin-1",
            "carrier": "DHL",
            "tracking_number": "00340434161094042557",
            "tracking_url": "https://track.example/00340434161094042557"
        }),
    )
    .await;
    assert_eq!(first.status(), 201);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let first: Value = first.json().await.unwrap();
    assert_eq!(etag, format!("\"{}\"", first["order"]["version"]));
    assert_eq!(
        location,
        format!(
            "/v1/orders/{id}/fulfillments/{}",
            first["id"].as_str().unwrap()
        )
    );
    assert_eq!(
        (first["number"].as_u64(), first["status"].as_str()),
        (Some(1), Some("created"))
    );
    assert_eq!(first["tracking_number"], "00340434161094042557");
    assert_eq!(first["order"]["fulfillment_status"], "partially_fulfilled");
    assert_eq!(first["order"]["status"], "processing");
    assert_eq!(counts(&first["order"]), vec![(6, 0), (0, 0)]);

    let read: Value = app
        .get(&location)
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["id"], first["id"]);

    // The rest: the order completes and its authorization is captured.
    let second = fulfil(
        &app,
        &id,
        &json!({ "lines": [{ "line": 0, "quantity": 4 }, { "line": 1, "quantity": 2 }] }),
    )
    .await;
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.unwrap();
    let order = &second["order"];
    assert_eq!(second["number"], 2);
    assert_eq!(
        (
            order["status"].as_str(),
            order["fulfillment_status"].as_str(),
            order["payment_status"].as_str(),
            order["amount_captured"].as_str()
        ),
        (
            Some("completed"),
            Some("fulfilled"),
            Some("paid"),
            Some("209.90")
        )
    );
    assert_eq!(order["fulfillments"].as_array().unwrap().len(), 2);
    assert_eq!(
        event_types(&app, &id).await[2..],
        [
            "order.status_changed",
            "fulfillment.created",
            "fulfillment.created",
            "payment.captured"
        ]
    );
}

async fn fulfilments_move_through_their_states_each_with_its_event(app: TestApp) {
    let id = processing(&app).await;
    let made: Value = fulfil(
        &app,
        &id,
        &json!({ "lines": [{ "line": 0, "quantity": 2 }] }),
    )
    .await
    .json()
    .await
    .unwrap();
    let fid = made["id"].as_str().unwrap();
    let problem = assert_problem(
        move_to(&app, &id, fid, &json!({ "to": "delivered" })).await,
        409,
        "fulfillment-state",
    )
    .await;
    assert_eq!(problem["current_status"], "created");
    assert_eq!(problem["allowed_next"], json!(["shipped", "cancelled"]));

    let shipped = move_to(
        &app,
        &id,
        fid,
        &json!({ "to": "shipped", "carrier": "UPS", "tracking_number": "1Z999" }),
    )
    .await;
    assert_eq!(shipped.status(), 200);
    let shipped: Value = shipped.json().await.unwrap();
    assert_eq!(
        (
            shipped["status"].as_str(),
            shipped["carrier"].as_str(),
            shipped["tracking_number"].as_str()
        ),
        (Some("shipped"), Some("UPS"), Some("1Z999"))
    );
    assert!(shipped["shipped_at"].is_string());
    assert_eq!(counts(&shipped["order"]), vec![(2, 2), (0, 0)]);

    let patched = app
        .request(
            reqwest::Method::PATCH,
            &format!("/v1/orders/{id}/fulfillments/{fid}"),
        )
        .bearer_auth(staff())
        .json(&json!({ "tracking_url": "https://ups.example/1Z999" }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["tracking_url"], "https://ups.example/1Z999");
    assert_eq!(patched["tracking_number"], "1Z999", "parts not given stay");

    let delivered: Value = move_to(&app, &id, fid, &json!({ "to": "delivered" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(delivered["status"], "delivered");

    // A second one, cancelled: its units are unfulfilled again.
    let other: Value = fulfil(
        &app,
        &id,
        &json!({ "lines": [{ "line": 1, "quantity": 2 }] }),
    )
    .await
    .json()
    .await
    .unwrap();
    let cancelled: Value = move_to(
        &app,
        &id,
        other["id"].as_str().unwrap(),
        &json!({ "to": "cancelled" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(counts(&cancelled["order"]), vec![(2, 2), (0, 0)]);
    assert_eq!(
        event_types(&app, &id).await[3..],
        [
            "fulfillment.created",
            "fulfillment.shipped",
            "fulfillment.tracking_updated",
            "fulfillment.delivered",
            "fulfillment.created",
            "fulfillment.cancelled"
        ]
    );
    let missing = move_to(
        &app,
        &id,
        "0193a1a0-0000-7000-8000-0000000000ff",
        &json!({ "to": "shipped" }),
    )
    .await;
    assert_problem(missing, 404, "not-found").await;
}

async fn thirty_two_racing_fulfilments_of_one_unit_each_ship_exactly_ten(app: TestApp) {
    let id = processing(&app).await;
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (app, id) = (app.clone(), id.clone());
            tokio::spawn(async move {
                let body = json!({ "lines": [{ "line": 0, "quantity": 1 }] });
                fulfil(&app, &id, &body).await.status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let made = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(made, 10, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, 201 | 422)),
        "{statuses:?}"
    );
    let order = order(&app, &id).await;
    assert_eq!(counts(&order), vec![(10, 0), (0, 0)]);
    assert_eq!(order["fulfillments"].as_array().unwrap().len(), 10);
    let created = event_types(&app, &id)
        .await
        .iter()
        .filter(|t| *t == "fulfillment.created")
        .count();
    assert_eq!(created, 10, "one event per fulfilment made");
}

async fn refused_fulfilments_name_the_field_and_change_nothing(app: TestApp) {
    let id = processing(&app).await;
    let before = order(&app, &id).await;
    for (body, field) in [
        (
            json!({ "lines": [{ "line": 0, "quantity": 11 }] }),
            "lines[0].quantity",
        ),
        (
            json!({ "lines": [{ "line": 2, "quantity": 1 }] }),
            "lines[0].line",
        ),
        (json!({ "lines": [] }), "lines"),
        (
            json!({ "lines": [{ "line": 0, "quantity": 1 }], "tracking_url": "ftp://x" }),
            "tracking_url",
        ),
    ] {
        let problem = assert_problem(fulfil(&app, &id, &body).await, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let problem = assert_problem(
        fulfil(
            &app,
            &id,
            &json!({ "lines": [{ "line": 0, "quantity": 1 }], "price": "0" }),
        )
        .await,
        422,
        "validation",
    )
    .await;
    assert!(problem.to_string().contains("price"), "{problem}");
    assert_eq!(order(&app, &id).await, before);

    // A pending order is not fulfilled yet.
    let body = json!({
        "customer_id": ALICE, "currency": "USD",
        "items": [{ "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1, "unit_price": "1.00" }]
    });
    let pending = app.place_as(&staff(), &body).await;
    let problem = assert_problem(
        fulfil(
            &app,
            pending["id"].as_str().unwrap(),
            &json!({ "lines": [{ "line": 0, "quantity": 1 }] }),
        )
        .await,
        409,
        "fulfillment-state",
    )
    .await;
    assert_eq!(problem["current_status"], "pending");
    // A stale If-Match.
    let stale = app
        .post(&format!("/v1/orders/{id}/fulfillments"))
        .bearer_auth(staff())
        .header("if-match", "\"1\"")
        .json(&json!({ "lines": [{ "line": 0, "quantity": 1 }] }))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "stale-version").await;
}

async fn customers_see_their_fulfilments_but_do_not_make_them(app: TestApp) {
    let id = processing(&app).await;
    let made: Value = fulfil(
        &app,
        &id,
        &json!({ "lines": [{ "line": 1, "quantity": 1 }] }),
    )
    .await
    .json()
    .await
    .unwrap();
    let theirs = app
        .post(&format!("/v1/orders/{id}/fulfillments"))
        .bearer_auth(alice())
        .json(&json!({ "lines": [{ "line": 0, "quantity": 1 }] }))
        .send()
        .await
        .unwrap();
    assert_problem(theirs, 403, "forbidden").await;
    let other = token(Role::Customer, "0193a1a0-0000-7000-8000-00000000b0b0");
    let not_theirs = app
        .post(&format!("/v1/orders/{id}/fulfillments"))
        .bearer_auth(&other)
        .json(&json!({ "lines": "not even a list" }))
        .send()
        .await
        .unwrap();
    assert_problem(not_theirs, 404, "not-found").await;
    let path = format!(
        "/v1/orders/{id}/fulfillments/{}",
        made["id"].as_str().unwrap()
    );
    let seen = app.get(&path).bearer_auth(alice()).send().await.unwrap();
    assert_eq!(seen.status(), 200);
    let unseen = app.get(&path).bearer_auth(&other).send().await.unwrap();
    assert_problem(unseen, 404, "not-found").await;
    let own: Value = app
        .get(&format!("/v1/orders/{id}"))
        .bearer_auth(alice())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own["fulfillment_status"], "partially_fulfilled");
    assert_eq!(
        own["fulfillments"][0]["lines"],
        json!([{ "line": 1, "quantity": 1 }])
    );
}

async fn an_order_with_a_shipped_part_cannot_be_cancelled(app: TestApp) {
    let cancel = |id: String, etag: String| {
        let request = app
            .post(&format!("/v1/orders/{id}/cancel"))
            .bearer_auth(staff())
            .header("if-match", etag)
            .json(&json!({ "reason": "customer changed their mind" }));
        async move { request.send().await.unwrap() }
    };
    // Open fulfilments are cancelled with the order.
    let id = processing(&app).await;
    fulfil(
        &app,
        &id,
        &json!({ "lines": [{ "line": 0, "quantity": 1 }] }),
    )
    .await;
    let version = order(&app, &id).await["version"].to_string();
    let cancelled = cancel(id.clone(), format!("\"{version}\"")).await;
    assert_eq!(cancelled.status(), 200);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["fulfillments"][0]["status"], "cancelled");
    assert_eq!(cancelled["fulfillment_status"], "unfulfilled");

    let id = processing(&app).await;
    let made: Value = fulfil(
        &app,
        &id,
        &json!({ "lines": [{ "line": 0, "quantity": 1 }] }),
    )
    .await
    .json()
    .await
    .unwrap();
    move_to(
        &app,
        &id,
        made["id"].as_str().unwrap(),
        &json!({ "to": "shipped" }),
    )
    .await;
    let before = order(&app, &id).await;
    let version = before["version"].to_string();
    assert_problem(
        cancel(id.clone(), format!("\"{version}\"")).await,
        409,
        "order-shipped",
    )
    .await;
    assert_eq!(order(&app, &id).await, before);
}

async fn the_staff_list_filters_by_fulfilment_status(app: TestApp) {
    let untouched = processing(&app).await;
    let partial = processing(&app).await;
    fulfil(
        &app,
        &partial,
        &json!({ "lines": [{ "line": 0, "quantity": 1 }] }),
    )
    .await;
    let list = |status: &'static str| {
        let request = app
            .get(&format!("/v1/orders?fulfillment_status={status}"))
            .bearer_auth(staff());
        async move {
            let page: Value = request.send().await.unwrap().json().await.unwrap();
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("partially_fulfilled").await, vec![partial.clone()]);
    assert_eq!(list("unfulfilled").await, vec![untouched]);
    assert!(list("fulfilled").await.is_empty());
    let bad = app
        .get("/v1/orders?fulfillment_status=shipped")
        .bearer_auth(staff())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

async fn a_fulfilment_retried_with_its_key_is_made_once(app: TestApp) {
    use ordo_service::Caller;
    let id = processing(&app).await;
    let order_id = ordo_domain::OrderId::from_uuid(id.parse().unwrap()).unwrap();
    // The service itself, as a retry after a crash reaches it (the idempotency layer's kept
    // answer lost with the process): the same key finds the fulfilment its first run made.
    let caller = |key: &str| {
        Caller::operator(Role::Staff, "warehouse")
            .unwrap()
            .in_request(None, Some(key.to_owned()))
    };
    let draft = ordo_domain::FulfillmentDraft {
        lines: vec![ordo_domain::FulfillmentLineDraft {
            line: 0,
            quantity: 3,
        }],
        ..ordo_domain::FulfillmentDraft::default()
    };
    let (_, first) = app
        .service
        .fulfil(&caller("ship-once"), order_id, &draft, None)
        .await
        .unwrap();
    let (order, again) = app
        .service
        .fulfil(&caller("ship-once"), order_id, &draft, None)
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(order.fulfillments().len(), 1);
    assert_eq!(order.line_progress()[0].fulfilled, 3);
    let (order, other) = app
        .service
        .fulfil(&caller("ship-twice"), order_id, &draft, None)
        .await
        .unwrap();
    assert_ne!(other, first, "another key is another fulfilment");
    assert_eq!(order.line_progress()[0].fulfilled, 6);
}
