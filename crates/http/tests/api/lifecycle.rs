//! The life of an order over HTTP, and pagination.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::app::{CUSTOMER, TestApp, assert_problem, on_both_databases, order_body};

on_both_databases!(
    an_order_lives_from_placement_to_completion,
    a_pending_order_is_cancelled_with_its_reason_then_deleted,
    a_preview_charges_exactly_what_placing_does,
    json_numbers_are_read_exactly,
    pages_cover_every_order_once_newest_first,
    lists_filter_by_status,
);

async fn an_order_lives_from_placement_to_completion(app: TestApp) {
    let response = app
        .post("/v1/orders")
        .json(&order_body(CUSTOMER))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    // Version 2: placed, then its payment authorized.
    assert_eq!(response.headers()["etag"], "\"2\"");
    let placed: Value = response.json().await.unwrap();
    let id = placed["id"].as_str().unwrap();
    assert_eq!(location, format!("/v1/orders/{id}"));
    assert_eq!(placed["status"], "pending");
    assert_eq!(
        (placed["subtotal"].as_str(), placed["discount"].as_str()),
        (Some("64.97"), Some("6.50"))
    );
    assert_eq!(
        (placed["tax"].as_str(), placed["total"].as_str()),
        (Some("4.82"), Some("63.29"))
    );
    assert!(placed["order_number"].as_str().unwrap().starts_with("ORD-"));

    let fetched = app.get(&location).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()["etag"], "\"2\"");
    assert_eq!(fetched.json::<Value>().await.unwrap(), placed);

    let moved = app
        .post(&format!("{location}/transitions"))
        .header("if-match", "\"2\"")
        .json(&json!({ "to": "processing" }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    assert_eq!(moved.headers()["etag"], "\"3\"");
    let completed = app
        .post(&format!("{location}/transitions"))
        .header("if-match", "\"3\"")
        .json(&json!({ "to": "completed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(completed.status(), 200);
    let completed: Value = completed.json().await.unwrap();
    assert_eq!(
        (completed["status"].as_str(), completed["version"].as_u64()),
        (Some("completed"), Some(5))
    );
    // Completing captured the payment (version 4), then moved the status (5).
    assert_eq!(completed["payment_status"], "paid");
    assert_eq!(completed["amount_captured"], "63.29");

    // Completed is terminal: cancelling is a conflict that says so.
    let late = app
        .post(&format!("{location}/cancel"))
        .header("if-match", "\"5\"")
        .json(&json!({ "reason": "too late" }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(late, 409, "illegal-transition").await;
    assert_eq!(problem["current_status"], "completed");
    assert_eq!(problem["allowed_next"], json!([]));
}

async fn a_pending_order_is_cancelled_with_its_reason_then_deleted(app: TestApp) {
    let placed = app.place(&order_body(CUSTOMER)).await;
    let path = format!("/v1/orders/{}", placed["id"].as_str().unwrap());
    let cancelled = app
        .post(&format!("{path}/cancel"))
        .header("if-match", "\"2\"")
        .json(&json!({ "reason": "  customer changed their mind " }))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancel_reason"], "customer changed their mind");
    // The authorization was voided first.
    assert_eq!(cancelled["payment_status"], "unpaid");
    assert_eq!(cancelled["version"], 4);

    let deleted = app
        .delete(&path)
        .header("if-match", "\"4\"")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_problem(app.get(&path).send().await.unwrap(), 404, "not-found").await;
    assert_problem(app.delete(&path).send().await.unwrap(), 404, "not-found").await;
    let list: Value = app
        .get(&format!("/v1/orders?customer_id={CUSTOMER}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]));
}

async fn a_preview_charges_exactly_what_placing_does(app: TestApp) {
    let body = order_body(CUSTOMER);
    let preview = app
        .post("/v1/orders/preview")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), 200);
    let preview: Value = preview.json().await.unwrap();
    let placed = app.place(&body).await;
    for key in [
        "currency",
        "items",
        "subtotal",
        "discount_rule",
        "discount",
        "tax_rate",
        "tax",
        "total",
        "rounding",
    ] {
        assert_eq!(preview[key], crate::app::as_priced(&placed)[key], "{key}");
    }
    // A preview stores nothing.
    let list: Value = app
        .get(&format!("/v1/orders?customer_id={CUSTOMER}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

async fn json_numbers_are_read_exactly(app: TestApp) {
    let body = json!({
        "customer_id": CUSTOMER,
        "currency": "EUR",
        "items": [
            { "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1, "unit_price": 0.1 },
            { "product_id": "0193a1a0-0000-7000-8000-0000000000bb", "quantity": 1, "unit_price": 0.2 }
        ]
    });
    let placed = app.place(&body).await;
    assert_eq!(placed["total"], "0.30");
    assert_eq!(placed["items"][0]["unit_price"], "0.10");
}

async fn pages_cover_every_order_once_newest_first(app: TestApp) {
    let mut placed = Vec::new();
    for _ in 0..23 {
        placed.push(
            app.place(&order_body(CUSTOMER)).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.place(&order_body("0193a1a0-0000-7000-8000-000000000002"))
        .await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/v1/orders?customer_id={CUSTOMER}&limit=5");
        if let Some(cursor) = &cursor {
            path = format!("{path}&cursor={cursor}");
        }
        let page: Value = app.get(&path).send().await.unwrap().json().await.unwrap();
        pages += 1;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 5);
        let times: Vec<&str> = data
            .iter()
            .map(|o| o["created_at"].as_str().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "newest first: {times:?}"
        );
        seen.extend(data.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        assert_eq!(page["has_more"], page["next_cursor"].is_string());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen.len(), 23, "no order repeated or missing");
    assert_eq!(
        seen.iter().collect::<HashSet<_>>(),
        placed.iter().collect::<HashSet<_>>()
    );
}

async fn lists_filter_by_status(app: TestApp) {
    let first = app.place(&order_body(CUSTOMER)).await;
    app.place(&order_body(CUSTOMER)).await;
    let id = first["id"].as_str().unwrap();
    app.post(&format!("/v1/orders/{id}/transitions"))
        .header("if-match", "\"2\"")
        .json(&json!({ "to": "processing" }))
        .send()
        .await
        .unwrap();
    let page: Value = app
        .get(&format!(
            "/v1/orders?customer_id={CUSTOMER}&status=processing"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![id]);
}
