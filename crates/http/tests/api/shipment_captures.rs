//! Capturing on shipment through the real app, on both databases: each shipment captures its
//! lines' share under its own key, the last one the rest, the books agree with the gateway's
//! ledger, and shipments racing each other never capture twice nor lose a cent.

use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem};
use crate::fulfillments::{event_types, fulfil, move_to, order, processing_of, staff};
use crate::returns::shirts_and_stickers;

crate::app::on_both_databases!(
    with super::on_shipment(), crate::auth::secured();
    each_shipment_captures_its_share_and_the_last_the_rest,
    completing_after_a_partial_shipment_captures_the_rest,
    shipments_racing_each_other_capture_each_share_once,
);

/// The shop's settings: capture as things ship.
fn on_shipment() -> ordo_service::ServiceConfig {
    ordo_service::ServiceConfig {
        capture: ordo_service::CaptureMode::OnShipment,
        ..ordo_service::ServiceConfig::default()
    }
}

/// A processing order of Alice's, authorized: 3 shirts at 19.99 (line 0), 2 stickers at 5.00
/// (line 1), 10 % off, 8.25 % tax, 4.95 shipping.
async fn authorized(app: &TestApp) -> String {
    processing_of(app, &shirts_and_stickers(3)).await
}

/// Fulfils `lines` and answers the new fulfilment's id.
async fn made(app: &TestApp, id: &str, lines: Value) -> (String, Value) {
    let response = fulfil(app, id, &json!({ "lines": lines })).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    (body["id"].as_str().unwrap().to_owned(), body)
}

/// Ships fulfilment `fulfillment`: its answer.
async fn ship(app: &TestApp, id: &str, fulfillment: &str) -> Value {
    let response = move_to(app, id, fulfillment, &json!({ "to": "shipped" })).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn cents(amount: &Value) -> i64 {
    let text = amount.as_str().unwrap();
    let (whole, fraction) = text.split_once('.').unwrap();
    whole.parse::<i64>().unwrap() * 100 + fraction.parse::<i64>().unwrap()
}

/// The simulated gateway's approved calls for order `id`: `(key, operation, cents)`.
async fn ledger(app: &TestApp, id: &str) -> Vec<(String, String, i64)> {
    let entries = app.ledger.entries(None, 1000).await.unwrap();
    entries
        .into_iter()
        .filter(|entry| entry.order_id.to_string() == id && entry.approved)
        .map(|entry| {
            let amount = entry.amount.to_string();
            (
                entry.key,
                entry.operation.as_str().to_owned(),
                cents(&Value::String(amount)),
            )
        })
        .collect()
}

/// Every order's money agrees with the gateway's ledger.
async fn books_agree(app: &TestApp) {
    let books = app.service.check_books(&*app.ledger).await.unwrap();
    assert!(books.mismatches.is_empty(), "{:?}", books.mismatches);
    assert!(books.unsettled.is_empty(), "{:?}", books.unsettled);
}

async fn each_shipment_captures_its_share_and_the_last_the_rest(app: TestApp) {
    let id = authorized(&app).await;
    let (first, created) = made(&app, &id, json!([{ "line": 0, "quantity": 2 }])).await;
    assert_eq!(
        created["capture"],
        Value::Null,
        "nothing is captured before it ships"
    );
    assert_eq!(created["order"]["payment_status"], "authorized");

    // Two shirts: 2/3 of (59.97 less 6.00 discount) = 35.98, 2/3 of their 4.45 tax = 2.97;
    // and the shipping with the first shipment (untaxed): 4.95.
    let shipped = ship(&app, &id, &first).await;
    assert_eq!(shipped["status"], "shipped");
    assert_eq!(
        shipped["capture"],
        json!({ "status": "captured", "amount": "43.90" })
    );
    let order_now = &shipped["order"];
    assert_eq!(order_now["payment_status"], "partially_paid");
    assert_eq!(order_now["amount_captured"], "43.90");
    assert_eq!(order_now["status"], "processing");

    // The rest fulfilled: the order waits for its last shipment's capture to complete.
    let (second, created) = made(
        &app,
        &id,
        json!([{ "line": 0, "quantity": 1 }, { "line": 1, "quantity": 2 }]),
    )
    .await;
    assert_eq!(created["order"]["status"], "processing");
    assert_eq!(created["order"]["fulfillment_status"], "fulfilled");
    let shipped = ship(&app, &id, &second).await;
    let total = cents(&shipped["order"]["total"]);
    assert_eq!(
        cents(&shipped["capture"]["amount"]),
        total - 4390,
        "the last shipment takes the rest"
    );
    let order_now = order(&app, &id).await;
    assert_eq!(
        (
            order_now["status"].as_str(),
            order_now["payment_status"].as_str(),
            cents(&order_now["amount_captured"])
        ),
        (Some("completed"), Some("paid"), total)
    );
    assert_eq!(
        event_types(&app, &id).await[3..],
        [
            "fulfillment.created",
            "fulfillment.shipped",
            "payment.captured",
            "fulfillment.created",
            "fulfillment.shipped",
            "payment.captured"
        ]
    );
    // At the gateway: one authorization and a capture per shipment, each under its own key.
    let calls = ledger(&app, &id).await;
    let captures = calls
        .iter()
        .filter(|(_, operation, _)| operation == "capture")
        .collect::<Vec<_>>();
    let mut keys = captures
        .iter()
        .map(|(key, _, _)| key.clone())
        .collect::<Vec<_>>();
    keys.sort();
    let mut expected = vec![
        format!("capture:{id}:{first}"),
        format!("capture:{id}:{second}"),
    ];
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(captures.iter().map(|(_, _, c)| c).sum::<i64>(), total);
    books_agree(&app).await;
}

async fn completing_after_a_partial_shipment_captures_the_rest(app: TestApp) {
    let id = authorized(&app).await;
    let (first, _) = made(&app, &id, json!([{ "line": 1, "quantity": 1 }])).await;
    // What a shipment captures is ordo's to say: a caller's `capture` is refused, naming it.
    let before = order(&app, &id).await;
    for response in [
        fulfil(
            &app,
            &id,
            &json!({ "lines": [{ "line": 0, "quantity": 1 }], "capture": { "amount": "0.01" } }),
        )
        .await,
        move_to(
            &app,
            &id,
            &first,
            &json!({ "to": "shipped", "capture": { "amount": "0.01" } }),
        )
        .await,
    ] {
        let problem = assert_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], "capture", "{problem}");
    }
    assert_eq!(order(&app, &id).await, before, "nothing changed");
    let shipped = ship(&app, &id, &first).await;
    let taken = cents(&shipped["capture"]["amount"]);
    assert!(taken > 0);
    // A gateway order captured in part is not refunded until its money is all taken.
    let refund = app
        .post(&format!("/v1/orders/{id}/refunds"))
        .bearer_auth(staff())
        .json(&json!({ "amount": "1.00", "reason": "goodwill" }))
        .send()
        .await
        .unwrap();
    assert_problem(refund, 409, "payment-state").await;
    // Nor cancelled: something shipped.
    let cancel = app
        .post(&format!("/v1/orders/{id}/cancel"))
        .bearer_auth(staff())
        .header("if-match", format!("\"{}\"", shipped["order"]["version"]))
        .json(&json!({ "reason": "changed our mind" }))
        .send()
        .await
        .unwrap();
    assert_problem(cancel, 409, "order-shipped").await;
    // Nor deleted: the rest of its authorization is still held.
    let delete = app
        .delete(&format!("/v1/orders/{id}"))
        .bearer_auth(crate::auth::token(ordo_service::Role::Admin, "admin-1"))
        .send()
        .await
        .unwrap();
    assert_problem(delete, 409, "payment-state").await;
    // Shipping it again (a retry after a timeout) changes nothing and captures nothing more.
    let again = ship(&app, &id, &first).await;
    assert_eq!(again["order"], shipped["order"]);

    let response = app
        .post(&format!("/v1/orders/{id}/transitions"))
        .bearer_auth(staff())
        .header("if-match", format!("\"{}\"", shipped["order"]["version"]))
        .json(&json!({ "to": "completed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let done: Value = response.json().await.unwrap();
    let total = cents(&done["total"]);
    assert_eq!(
        (done["status"].as_str(), done["payment_status"].as_str()),
        (Some("completed"), Some("paid"))
    );
    assert_eq!(cents(&done["amount_captured"]), total);
    let calls = ledger(&app, &id).await;
    assert!(calls.contains(&(format!("capture:{id}:{first}"), "capture".into(), taken)));
    // Keyed by what was captured before: a completion after another shipment is a new call.
    let after = format!("{}.{:02}", taken / 100, taken % 100);
    assert!(calls.contains(&(
        format!("capture:{id}:after:{after}"),
        "capture".into(),
        total - taken
    )));
    books_agree(&app).await;
}

async fn shipments_racing_each_other_capture_each_share_once(app: TestApp) {
    let id = authorized(&app).await;
    let mut fulfillments = Vec::new();
    for lines in [
        json!([{ "line": 0, "quantity": 1 }]),
        json!([{ "line": 0, "quantity": 1 }]),
        json!([{ "line": 0, "quantity": 1 }]),
        json!([{ "line": 1, "quantity": 1 }]),
        json!([{ "line": 1, "quantity": 1 }]),
    ] {
        fulfillments.push(made(&app, &id, lines).await.0);
    }
    // Every shipment at once, each retried while another's capture is in flight.
    let ships = fulfillments.iter().map(|fulfillment| {
        let (app, id) = (&app, &id);
        async move {
            let mut in_flight = 0_u32;
            loop {
                let response = move_to(app, id, fulfillment, &json!({ "to": "shipped" })).await;
                match response.status().as_u16() {
                    200 => return in_flight,
                    409 => {
                        let problem: Value = response.json().await.unwrap();
                        assert_eq!(
                            problem["type"], "https://ordo.dev/problems/payment-in-progress",
                            "{problem}"
                        );
                        in_flight += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                    other => panic!("shipping answered {other}"),
                }
            }
        }
    });
    futures_util::future::join_all(ships).await;
    let done = order(&app, &id).await;
    let total = cents(&done["total"]);
    assert_eq!(
        (done["status"].as_str(), done["payment_status"].as_str()),
        (Some("completed"), Some("paid"))
    );
    assert_eq!(cents(&done["amount_captured"]), total);
    let captures = done["fulfillments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["capture"]["status"], "captured");
            cents(&f["capture"]["amount"])
        })
        .collect::<Vec<_>>();
    assert_eq!(captures.iter().sum::<i64>(), total);
    let calls = ledger(&app, &id).await;
    let keys = calls
        .iter()
        .filter(|(_, operation, _)| operation == "capture")
        .map(|(key, _, _)| key.clone())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(keys.len(), 5, "one key per shipment");
    books_agree(&app).await;
}
