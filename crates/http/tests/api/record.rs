//! The order record through the real app: every field placed comes back the same through
//! every read; each bad value is refused naming its field, storing nothing; who may set or
//! change which detail; and `PATCH` as a JSON Merge Patch under `If-Match`. On both databases.

use ordo_service::Role;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem};
use crate::auth::{ALICE, BOB, token};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), crate::auth::secured();
    an_order_with_every_field_reads_back_the_same_through_every_read,
    a_bad_value_of_each_field_is_refused_naming_it_and_nothing_is_stored,
    a_customer_may_not_set_the_shops_own_fields,
    a_patch_changes_details_as_the_access_table_says,
    a_patch_is_refused_for_money_stale_versions_and_bad_values,
    a_customer_may_not_name_the_staff_note_in_a_patch,
    an_erasure_removes_the_customers_personal_data_and_nothing_else,
);

fn staff() -> String {
    token(Role::Staff, "staff-1")
}

fn alice() -> String {
    token(Role::Customer, ALICE)
}

/// An order with every field of the record.
fn full_body() -> Value {
    json!({
        "customer_id": ALICE,
        "currency": "EUR",
        "items": [
            {"product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 2,
             "unit_price": "19.99", "sku": "TS-BLUE-L", "title": "T-shirt «Ærø»",
             "options": {"colour": "midnight blue", "size": "L"}, "requires_shipping": true},
            {"product_id": "0193a1a0-0000-7000-8000-0000000000bb", "quantity": 1,
             "unit_price": "25.00", "sku": "GIFT-25", "title": "Gift card",
             "requires_shipping": false}
        ],
        "discount": {"type": "fixed", "amount": "5.00"},
        "tax_rate": "0.19",
        "shipping": [
            {"code": "dhl-express", "title": "DHL Express (1–2 days)", "amount": "7.90", "taxed": true},
            {"code": "gift-wrap", "title": "Gift wrap", "amount": "2.50"}
        ],
        "contact": {"email": "Ada@Example.com", "phone": "+4915112345678", "name": "Ada Lovelace"},
        "shipping_address": {"name": "Ada Lovelace", "company": "Engines GmbH",
                             "line1": "Hauptstraße 1", "line2": "3. OG", "city": "Berlin",
                             "region": "Berlin", "postal_code": "10115", "country": "DE",
                             "phone": "+493012345678"},
        "billing_address": "same_as_shipping",
        "customer_note": "Please ring twice.\nThanks!",
        "staff_note": "Check the engraving",
        "tags": ["vip", "gift wrap"],
        "metadata": {"erp_id": "SO-1001", "cart": "c_42"},
        "channel": "web"
    })
}

async fn send(app: &TestApp, method: Method, path: &str, who: &str) -> Response {
    app.request(method, path)
        .bearer_auth(who)
        .send()
        .await
        .unwrap()
}

async fn json_of(response: Response) -> Value {
    assert_eq!(response.status(), 200, "{}", response.url());
    response.json().await.unwrap()
}

async fn patch(app: &TestApp, who: &str, order: &Value, etag: &str, body: &Value) -> Response {
    let path = format!("/v1/orders/{}", order["id"].as_str().unwrap());
    app.request(Method::PATCH, &path)
        .bearer_auth(who)
        .header("if-match", etag)
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Cancels the order (as staff) under the idempotency key `cancel-1`, at its version in `at`.
async fn cancel_keyed(app: &TestApp, at: &Value) -> Response {
    app.post(&format!("/v1/orders/{}/cancel", at["id"].as_str().unwrap()))
        .bearer_auth(staff())
        .header("idempotency-key", "cancel-1")
        .header("if-match", etag(at))
        .json(&json!({"reason": "changed my mind"}))
        .send()
        .await
        .unwrap()
}

/// The order as placed: version 2 (stored, then authorized).
fn first_version(order: &Value) -> Value {
    json!({"id": order["id"], "version": 2})
}

/// The fields a problem names.
fn named(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap().to_owned())
        .collect()
}

/// Moves the order (as staff) from its version in `at`.
async fn transition(app: &TestApp, at: &Value, to: &str) -> Value {
    let path = format!("/v1/orders/{}/transitions", at["id"].as_str().unwrap());
    let response = app
        .post(&path)
        .bearer_auth(staff())
        .header("if-match", etag(at))
        .json(&json!({ "to": to }))
        .send()
        .await
        .unwrap();
    json_of(response).await
}

fn etag(order: &Value) -> String {
    format!("\"{}\"", order["version"])
}

async fn an_order_with_every_field_reads_back_the_same_through_every_read(app: TestApp) {
    let sent = full_body();
    let placed = app.place_as(&staff(), &sent).await;
    // Every field sent comes back as sent (tags sorted, each once).
    for field in [
        "contact",
        "shipping_address",
        "billing_address",
        "customer_note",
        "staff_note",
        "metadata",
        "channel",
    ] {
        assert_eq!(placed[field], sent[field], "{field}");
    }
    assert_eq!(placed["tags"], json!(["gift wrap", "vip"]));
    for (line, item) in placed["items"]
        .as_array()
        .unwrap()
        .iter()
        .zip(sent["items"].as_array().unwrap())
    {
        for field in ["sku", "title", "requires_shipping"] {
            assert_eq!(line[field], item[field], "{field}");
        }
        assert_eq!(
            line["options"],
            item.get("options").cloned().unwrap_or(json!({}))
        );
    }
    // As sent, with the rate it is taxed at (the order's).
    let mut shipped = placed["shipping"][0].clone();
    let rate = shipped.as_object_mut().unwrap().remove("tax_rate");
    assert_eq!(rate, Some(json!("0.19")));
    assert_eq!(shipped, sent["shipping"][0]);
    assert_eq!(placed["shipping"][1]["tax_rate"], Value::Null);
    assert_eq!(placed["shipping"][1]["taxed"], false);
    // 39.98 + 25.00 − 5.00 + 10.40 shipping; tax 19 % of 59.98 + 7.90 = 12.90 (12.8972).
    assert_eq!(placed["subtotal"], "64.98");
    assert_eq!(placed["shipping_total"], "10.40");
    assert_eq!(placed["tax"], "12.90");
    assert_eq!(placed["total"], "83.28");
    let id = placed["id"].as_str().unwrap();
    let number = placed["order_number"].as_str().unwrap();
    let by_id = json_of(send(&app, Method::GET, &format!("/v1/orders/{id}"), &staff()).await).await;
    let by_number = json_of(
        send(
            &app,
            Method::GET,
            &format!("/v1/orders/by-number/{number}"),
            &staff(),
        )
        .await,
    )
    .await;
    let listed = json_of(
        send(
            &app,
            Method::GET,
            &format!("/v1/orders?customer_id={ALICE}"),
            &staff(),
        )
        .await,
    )
    .await;
    assert_eq!(by_id, placed);
    assert_eq!(by_number, placed);
    assert_eq!(listed["data"], json!([placed.clone()]));
    // The customer reads the same order without the shop's own note.
    let mine = json_of(send(&app, Method::GET, &format!("/v1/orders/{id}"), &alice()).await).await;
    assert!(mine.get("staff_note").is_none(), "{mine}");
    let mut expected = placed;
    expected.as_object_mut().unwrap().remove("staff_note");
    assert_eq!(mine, expected);
}

async fn a_bad_value_of_each_field_is_refused_naming_it_and_nothing_is_stored(app: TestApp) {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/contact/email", json!("ada@"), "contact.email"),
        ("/contact/phone", json!("030 1234"), "contact.phone"),
        ("/contact/name", json!("Ada\u{7}"), "contact.name"),
        (
            "/shipping_address/country",
            json!("XX"),
            "shipping_address.country",
        ),
        (
            "/shipping_address/line1",
            json!("   "),
            "shipping_address.line1",
        ),
        (
            "/shipping_address/postal_code",
            json!("1".repeat(21)),
            "shipping_address.postal_code",
        ),
        (
            "/billing_address",
            json!({"line1": "x", "city": "y", "country": "ZZ"}),
            "billing_address.country",
        ),
        ("/items/0/sku", json!(" TS"), "items[0].sku"),
        ("/items/0/title", json!("t".repeat(201)), "items[0].title"),
        (
            "/items/0/requires_shipping",
            Value::Null,
            "items[0].requires_shipping",
        ),
        (
            "/items/0/options",
            json!({" size": "L"}),
            "items[0].options. size",
        ),
        ("/shipping/0/code", json!("dhl express"), "shipping[0].code"),
        ("/shipping/0/amount", json!("7.901"), "shipping[0].amount"),
        ("/shipping/0/title", json!(""), "shipping[0].title"),
        ("/customer_note", json!("a\tb"), "customer_note"),
        ("/staff_note", json!("x".repeat(2001)), "staff_note"),
        ("/tags", json!(["vip!"]), "tags[0]"),
        (
            "/metadata",
            json!({"erp_id": "v".repeat(501)}),
            "metadata.erp_id",
        ),
        ("/channel", json!("Web Shop"), "channel"),
    ];
    for (pointer, value, field) in cases {
        let mut body = full_body();
        *body
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer}")) = value;
        let response = app
            .post("/v1/orders")
            .bearer_auth(staff())
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "validation").await;
        assert!(
            named(&problem).contains(&field.to_owned()),
            "{pointer}: {problem}"
        );
    }
    // Too many metadata keys, and same-as-shipping without a shipping address.
    let mut body = full_body();
    body["metadata"] = (0..51)
        .map(|n| (format!("k{n}"), json!("v")))
        .collect::<serde_json::Map<_, _>>()
        .into();
    body.as_object_mut().unwrap().remove("shipping_address");
    let response = app
        .post("/v1/orders")
        .bearer_auth(staff())
        .json(&body)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation").await;
    assert!(
        named(&problem) == ["billing_address", "metadata"],
        "{problem}"
    );
    let listed = json_of(
        send(
            &app,
            Method::GET,
            &format!("/v1/orders?customer_id={ALICE}"),
            &staff(),
        )
        .await,
    )
    .await;
    assert_eq!(listed["data"], json!([]), "nothing stored");
}

async fn a_customer_may_not_set_the_shops_own_fields(app: TestApp) {
    for field in ["staff_note", "tags", "metadata", "channel"] {
        let mut body = full_body();
        for other in ["staff_note", "tags", "metadata", "channel"] {
            if other != field {
                body.as_object_mut().unwrap().remove(other);
            }
        }
        let response = app
            .post("/v1/orders")
            .bearer_auth(alice())
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    // What a customer may send: its details, lines by SKU, no figure.
    let mut body = full_body();
    for field in [
        "staff_note",
        "tags",
        "metadata",
        "channel",
        "discount",
        "tax_rate",
        "shipping",
    ] {
        body.as_object_mut().unwrap().remove(field);
    }
    body["items"] = json!([{"sku": "TS-BLUE-L", "quantity": 2}]);
    let listed = json_of(
        send(
            &app,
            Method::GET,
            &format!("/v1/orders?customer_id={ALICE}"),
            &alice(),
        )
        .await,
    )
    .await;
    assert_eq!(listed["data"], json!([]), "nothing stored");
    let placed = app.place_as(&alice(), &body).await;
    assert_eq!(placed["channel"], "api");
    assert_eq!(placed["contact"], body["contact"]);
}

async fn a_patch_changes_details_as_the_access_table_says(app: TestApp) {
    let placed = app.place_as(&staff(), &full_body()).await;
    // A customer corrects one line of its address while the order is pending.
    let response = patch(
        &app,
        &alice(),
        &placed,
        &etag(&placed),
        &json!({"shipping_address": {"line2": "4. OG"}}),
    )
    .await;
    let changed = json_of(response).await;
    assert_eq!(changed["shipping_address"]["line2"], "4. OG");
    assert_eq!(changed["shipping_address"]["line1"], "Hauptstraße 1");
    assert_eq!(changed["version"], placed["version"].as_u64().unwrap() + 1);
    assert_eq!(changed["total"], placed["total"]);
    assert!(
        changed.get("staff_note").is_none(),
        "a customer never sees it"
    );
    // …but never the shop's tags.
    let response = patch(
        &app,
        &alice(),
        &placed,
        &etag(&changed),
        &json!({"tags": ["mine"]}),
    )
    .await;
    let problem = assert_problem(response, 422, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "tags");
    // Removing a field with null; a patch that changes nothing writes nothing.
    let response = patch(
        &app,
        &staff(),
        &placed,
        &etag(&changed),
        &json!({"customer_note": null, "tags": ["vip", "gift wrap"]}),
    )
    .await;
    let noted = json_of(response).await;
    assert!(noted["customer_note"].is_null(), "{noted}");
    let same = json_of(
        patch(
            &app,
            &staff(),
            &placed,
            &etag(&noted),
            &json!({"tags": ["VIP", "gift wrap"]}),
        )
        .await,
    )
    .await;
    assert_eq!(same["version"], noted["version"]);
    // Once the order is processing, the customer may no longer change its contact; staff may.
    let processing = transition(&app, &noted, "processing").await;
    let email = json!({"contact": {"email": "ada@example.org"}});
    let response = patch(&app, &alice(), &placed, &etag(&processing), &email).await;
    let problem = assert_problem(response, 409, "detail-locked").await;
    assert_eq!(problem["errors"][0]["field"], "contact");
    assert_eq!(problem["current_status"], "processing");
    let moved = json_of(patch(&app, &staff(), &placed, &etag(&processing), &email).await).await;
    assert_eq!(moved["contact"]["email"], "ada@example.org");
    assert_eq!(
        moved["contact"]["name"], "Ada Lovelace",
        "merged, not replaced"
    );
    // Completed: staff may still tag it, not readdress it.
    let completed = transition(&app, &moved, "completed").await;
    let response = patch(
        &app,
        &staff(),
        &placed,
        &etag(&completed),
        &json!({"shipping_address": {"line2": "5. OG"}}),
    )
    .await;
    assert_problem(response, 409, "detail-locked").await;
    let tagged = json_of(
        patch(
            &app,
            &staff(),
            &placed,
            &etag(&completed),
            &json!({"tags": ["returned"], "staff_note": "came back"}),
        )
        .await,
    )
    .await;
    assert_eq!(tagged["tags"], json!(["returned"]));
    assert_eq!(tagged["staff_note"], "came back");
    // Another customer does not learn the order exists.
    let response = patch(
        &app,
        &token(Role::Customer, BOB),
        &placed,
        &etag(&tagged),
        &json!({"customer_note": "hi"}),
    )
    .await;
    assert_problem(response, 404, "not-found").await;
}

async fn a_patch_is_refused_for_money_stale_versions_and_bad_values(app: TestApp) {
    let placed = app.place_as(&staff(), &full_body()).await;
    let current = etag(&placed);
    for (body, field) in [
        (json!({"total": "1.00"}), "total"),
        (json!({"items": []}), "items"),
        (json!({"discount": null}), "discount"),
        (json!({"status": "completed"}), "status"),
        (
            json!({"contact": {"email": "not-an-email"}}),
            "contact.email",
        ),
        (
            json!({"shipping_address": {"country": "XX"}}),
            "shipping_address.country",
        ),
        (json!({"channel": "pos"}), "channel"),
        (json!({"contact": {"fax": "+4930"}}), "contact.fax"),
    ] {
        let response = patch(&app, &staff(), &placed, &current, &body).await;
        let problem = assert_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let response = patch(
        &app,
        &staff(),
        &placed,
        "\"99\"",
        &json!({"customer_note": "x"}),
    )
    .await;
    let problem = assert_problem(response, 412, "stale-version").await;
    assert_eq!(problem["current_etag"], current);
    let path = format!("/v1/orders/{}", placed["id"].as_str().unwrap());
    let response = app
        .request(Method::PATCH, &path)
        .bearer_auth(staff())
        .json(&json!({"customer_note": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 428, "precondition-required").await;
    // Nothing of it changed the order.
    let now = json_of(send(&app, Method::GET, &path, &staff()).await).await;
    assert_eq!(now, placed);
}

async fn an_erasure_removes_the_customers_personal_data_and_nothing_else(app: TestApp) {
    let admin = token(Role::Admin, "admin-1");
    let keyed = app
        .post("/v1/orders")
        .bearer_auth(staff())
        .header("idempotency-key", "checkout-1")
        .json(&full_body())
        .send()
        .await
        .unwrap();
    let first: Value = keyed.json().await.unwrap();
    let second = app.place_as(&staff(), &full_body()).await;
    // A kept answer of another route about the order holds its data too.
    let second: Value = json_of(cancel_keyed(&app, &second).await).await;
    let mut bobs = full_body();
    bobs["customer_id"] = json!(BOB);
    let bobs = app.place_as(&staff(), &bobs).await;
    let path = format!("/v1/customers/{ALICE}/erasure");
    for who in [alice(), staff()] {
        assert_problem(
            send(&app, Method::POST, &path, &who).await,
            403,
            "forbidden",
        )
        .await;
    }
    let erased = json_of(send(&app, Method::POST, &path, &admin).await).await;
    assert_eq!(erased["orders_erased"], 2, "{erased}");
    assert_eq!(erased["customer_id"], ALICE);
    for before in [&first, &second] {
        let id = before["id"].as_str().unwrap();
        let after =
            json_of(send(&app, Method::GET, &format!("/v1/orders/{id}"), &admin).await).await;
        for field in [
            "contact",
            "shipping_address",
            "billing_address",
            "customer_note",
        ] {
            assert!(after[field].is_null(), "{field}: {after}");
        }
        assert!(after.get("staff_note").is_none(), "{after}");
        assert_eq!(after["personal_data_erased_at"], erased["erased_at"]);
        for kept in [
            "order_number",
            "items",
            "total",
            "tax",
            "shipping",
            "tags",
            "metadata",
            "channel",
            "status",
        ] {
            assert_eq!(after[kept], before[kept], "{kept}");
        }
        let text = after.to_string();
        assert!(
            !text.contains("Lovelace") && !text.contains("Hauptstra"),
            "{text}"
        );
    }
    let id = bobs["id"].as_str().unwrap();
    let untouched =
        json_of(send(&app, Method::GET, &format!("/v1/orders/{id}"), &admin).await).await;
    assert_eq!(untouched, bobs);
    // The stored response of the keyed create held the address: its replay is gone too.
    let replay = app
        .post("/v1/orders")
        .bearer_auth(staff())
        .header("idempotency-key", "checkout-1")
        .json(&full_body())
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 410);
    assert!(!replay.text().await.unwrap().contains("Lovelace"));
    let replay = cancel_keyed(&app, &first_version(&second)).await;
    assert_eq!(replay.status(), 410);
    assert!(!replay.text().await.unwrap().contains("Lovelace"));
    // Twice is harmless: nothing more to erase.
    let again = json_of(send(&app, Method::POST, &path, &admin).await).await;
    assert_eq!(again["orders_erased"], 0);
}

async fn a_customer_may_not_name_the_staff_note_in_a_patch(app: TestApp) {
    // With a note and without one, the answer is the same: it must not tell which.
    let with = app.place_as(&staff(), &full_body()).await;
    let mut body = full_body();
    body.as_object_mut().unwrap().remove("staff_note");
    let without = app.place_as(&staff(), &body).await;
    for placed in [&with, &without] {
        for guess in [json!(null), json!("Check the engraving"), json!("x")] {
            let response = patch(
                &app,
                &alice(),
                placed,
                &etag(placed),
                &json!({"staff_note": guess}),
            )
            .await;
            let problem = assert_problem(response, 422, "validation").await;
            assert_eq!(problem["errors"][0]["field"], "staff_note");
        }
    }
}
