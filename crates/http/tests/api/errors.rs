//! Every error the API sends is a problem body with the right status: never a 500, never a
//! dropped connection.

use reqwest::Method;
use serde_json::{Value, json};

use crate::app::{CUSTOMER, TestApp, assert_problem, on_both_databases, order_body};

on_both_databases!(
    malformed_json_is_400,
    an_array_where_an_object_belongs_is_422,
    a_body_that_is_not_json_is_415,
    an_unknown_field_is_422_naming_it,
    a_wrong_type_is_422_naming_its_path,
    broken_rules_are_422_listing_every_field,
    an_oversized_body_is_413,
    a_bad_uuid_in_the_path_is_400_and_a_foreign_one_404,
    a_bad_query_string_is_400_naming_the_parameter,
    a_limit_over_the_cap_is_400_not_a_clamp,
    unknown_routes_are_404_and_wrong_methods_405_with_allow,
    changes_need_if_match_and_a_current_one,
    transitions_only_go_where_the_machine_allows,
    a_cancel_needs_a_reason,
    error_texts_name_the_field_as_sent_in_plain_words,
    text_with_a_nul_character_is_422_naming_the_field_and_changes_nothing,
);

async fn malformed_json_is_400(app: TestApp) {
    for body in ["{", "not json", "{\"customer_id\": }", "{} trailing"] {
        let response = app
            .post("/v1/orders")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_problem(response, 400, "malformed-request").await;
    }
}

async fn a_body_that_is_not_json_is_415(app: TestApp) {
    let body = order_body(CUSTOMER).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app.post("/v1/orders").body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        assert_problem(request.send().await.unwrap(), 415, "unsupported-media-type").await;
    }
}

async fn an_unknown_field_is_422_naming_it(app: TestApp) {
    let mut body = order_body(CUSTOMER);
    body["items"][0]["colour"] = json!("red");
    let problem = assert_problem(
        app.post("/v1/orders").json(&body).send().await.unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "items[0].colour");
}

async fn a_wrong_type_is_422_naming_its_path(app: TestApp) {
    let mut body = order_body(CUSTOMER);
    body["items"][1]["quantity"] = json!("two");
    let problem = assert_problem(
        app.post("/v1/orders").json(&body).send().await.unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "items[1].quantity");
    let mut body = order_body(CUSTOMER);
    body["customer_id"] = json!("not-a-uuid");
    let problem = assert_problem(
        app.post("/v1/orders").json(&body).send().await.unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "customer_id");
}

async fn broken_rules_are_422_listing_every_field(app: TestApp) {
    let body = json!({
        "customer_id": CUSTOMER,
        "currency": "XYZ",
        "items": [
            { "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 0, "unit_price": "1.00" },
            { "product_id": "0193a1a0-0000-7000-8000-0000000000bb", "quantity": 1, "unit_price": "-3" }
        ],
        "tax_rate": "1.5"
    });
    for path in ["/v1/orders", "/v1/orders/preview"] {
        let problem = assert_problem(
            app.post(path).json(&body).send().await.unwrap(),
            422,
            "validation",
        )
        .await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            vec![
                "currency",
                "items[0].quantity",
                "items[1].unit_price",
                "tax_rate"
            ]
        );
    }
    // Nothing was stored.
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

async fn an_oversized_body_is_413(app: TestApp) {
    let mut body = order_body(CUSTOMER);
    body["padding"] = json!("x".repeat(300 * 1024));
    assert_problem(
        app.post("/v1/orders").json(&body).send().await.unwrap(),
        413,
        "body-too-large",
    )
    .await;
}

async fn a_bad_uuid_in_the_path_is_400_and_a_foreign_one_404(app: TestApp) {
    let problem = assert_problem(
        app.get("/v1/orders/123").send().await.unwrap(),
        400,
        "invalid-parameter",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "id");
    // A valid UUID that is not a v7 can never be an order id.
    let v4 = "/v1/orders/936da01f-9abd-4d9d-80c7-02af85c822a8";
    assert_problem(app.get(v4).send().await.unwrap(), 404, "not-found").await;
    let missing = "/v1/orders/0193a1a0-0000-7000-8000-000000000099";
    assert_problem(app.get(missing).send().await.unwrap(), 404, "not-found").await;
}

async fn a_bad_query_string_is_400_naming_the_parameter(app: TestApp) {
    let with = |query: &str| format!("/v1/orders?customer_id={CUSTOMER}&{query}");
    let cases = [
        ("/v1/orders?customer_id=nope".to_owned(), "customer_id"),
        (with("payment_status=settled"), "payment_status"),
        (with("email=not-an-email"), "email"),
        (with("tag=no%21"), "tag"),
        (with("sku=%20padded"), "sku"),
        (with("channel=Web%20Shop"), "channel"),
        (with("total_min=-1"), "total_min"),
        (with("total_max=1.23456"), "total_max"),
        (with("total_max=ten"), "total_max"),
        (with("total_min=%2B5"), "total_min"),
        (with("total_min=.5"), "total_min"),
        (with("total_min=1_000"), "total_min"),
        (with("total_min=1000000000000000"), "total_min"),
        (with("total_max=1.50000"), "total_max"),
        (with("q=ab"), "q"),
        (with("q=%20%20ab%20"), "q"),
        (with("status=shipped"), "status"),
        (with("created_after=yesterday"), "created_after"),
        (with("limit=ten"), "limit"),
        (with("cursor=garbage"), "cursor"),
        (with("sort=asc"), "sort"),
    ];
    for (path, field) in cases {
        let response = app.get(&path).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 400, "{path}: {body}");
        let named = body["detail"].as_str().unwrap().contains(field)
            || body["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["field"] == field));
        assert!(named, "{path} should name {field}: {body}");
    }
}

async fn a_limit_over_the_cap_is_400_not_a_clamp(app: TestApp) {
    for limit in ["0", "101", "100000"] {
        let path = format!("/v1/orders?customer_id={CUSTOMER}&limit={limit}");
        let problem = assert_problem(
            app.get(&path).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "limit");
    }
    let ok = app
        .get(&format!("/v1/orders?customer_id={CUSTOMER}&limit=100"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

async fn unknown_routes_are_404_and_wrong_methods_405_with_allow(app: TestApp) {
    assert_problem(
        app.get("/v2/orders").send().await.unwrap(),
        404,
        "not-found",
    )
    .await;
    // `/` points at the API reference.
    let root = app.get("/").send().await.unwrap();
    assert_eq!((root.status().as_u16(), root.url().path()), (200, "/docs"));
    for (method, path, allowed) in [
        (Method::PUT, "/v1/orders", "POST"),
        (
            Method::PUT,
            "/v1/orders/0193a1a0-0000-7000-8000-000000000099",
            "PATCH",
        ),
        (Method::GET, "/v1/orders/preview", "POST"),
    ] {
        let response = app.request(method.clone(), path).send().await.unwrap();
        let allow = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_problem(response, 405, "method-not-allowed").await;
        assert!(
            allow.is_some_and(|a| a.contains(allowed)),
            "{method} {path}"
        );
    }
}

async fn changes_need_if_match_and_a_current_one(app: TestApp) {
    let placed = app.place(&order_body(CUSTOMER)).await;
    let path = format!("/v1/orders/{}/transitions", placed["id"].as_str().unwrap());
    let body = json!({ "to": "processing" });
    assert_problem(
        app.post(&path).json(&body).send().await.unwrap(),
        428,
        "precondition-required",
    )
    .await;
    // A value that is not one of ordo's ETags matches none: stale, with the one to send.
    for not_ours in [
        "one",
        "2",
        "\"0\"",
        "W/\"2\"",
        "\"1\", \"2\"",
        "\"99999999999\"",
    ] {
        let response = app
            .post(&path)
            .header("if-match", not_ours)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 412, "stale-version").await;
        assert_eq!(problem["current_etag"], "\"2\"", "{not_ours}");
    }
    // `*` (any version) is no version to decide a change on.
    let any = app
        .post(&path)
        .header("if-match", "*")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(any, 428, "precondition-required").await;
    let stale = app
        .post(&path)
        .header("if-match", "\"7\"")
        .json(&body)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(stale, 412, "stale-version").await;
    assert_eq!(problem["current_etag"], "\"2\"");
    // The stale attempt changed nothing; the current ETag works.
    let ok = app
        .post(&path)
        .header("if-match", "\"2\"")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let again = app
        .post(&path)
        .header("if-match", "\"2\"")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(again, 412, "stale-version").await;
    let delete_stale = app
        .delete(&format!("/v1/orders/{}", placed["id"].as_str().unwrap()))
        .header("if-match", "\"2\"");
    assert_problem(delete_stale.send().await.unwrap(), 412, "stale-version").await;
}

async fn transitions_only_go_where_the_machine_allows(app: TestApp) {
    let placed = app.place(&order_body(CUSTOMER)).await;
    let path = format!("/v1/orders/{}/transitions", placed["id"].as_str().unwrap());
    let skip = app
        .post(&path)
        .header("if-match", "\"2\"")
        .json(&json!({ "to": "completed" }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(skip, 409, "illegal-transition").await;
    assert_eq!(problem["current_status"], "pending");
    assert_eq!(problem["allowed_next"], json!(["processing", "cancelled"]));
    for target in ["cancelled", "pending", "shipped"] {
        let response = app
            .post(&path)
            .header("if-match", "\"2\"")
            .json(&json!({ "to": target }))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], "to");
    }
}

async fn a_cancel_needs_a_reason(app: TestApp) {
    let placed = app.place(&order_body(CUSTOMER)).await;
    let path = format!("/v1/orders/{}/cancel", placed["id"].as_str().unwrap());
    for body in [
        json!({ "reason": "   " }),
        json!({ "reason": "x".repeat(501) }),
    ] {
        let response = app
            .post(&path)
            .header("if-match", "\"2\"")
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], "reason");
    }
    let missing = app
        .post(&path)
        .header("if-match", "\"2\"")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(missing, 422, "validation").await;
}

async fn error_texts_name_the_field_as_sent_in_plain_words(app: TestApp) {
    let customer = format!("\"customer_id\":\"{CUSTOMER}\",\"currency\":\"USD\"");
    let item = |quantity: &str, price: &str| {
        format!(
            "{{\"product_id\":\"0193a1a0-0000-7000-8000-0000000000aa\",\"quantity\":{quantity},\"unit_price\":{price}}}"
        )
    };
    let cases = [
        (
            format!("{{{customer},\"items\":[{}]}}", item("1", &"9".repeat(40))),
            "items[0].unit_price",
            ordo_domain::amount_serde::NOT_AN_AMOUNT,
        ),
        (
            format!("{{{customer},\"items\":[{}]}}", item("1", "1e400")),
            "items[0].unit_price",
            ordo_domain::amount_serde::NOT_AN_AMOUNT,
        ),
        (
            format!("{{{customer},\"items\":[{}]}}", item("1", "\"abc\"")),
            "items[0].unit_price",
            ordo_domain::amount_serde::NOT_AN_AMOUNT,
        ),
        (
            format!(
                "{{{customer},\"items\":[{}],\"tax_rate\":1e400}}",
                item("1", "1")
            ),
            "tax_rate",
            ordo_domain::amount_serde::NOT_AN_AMOUNT,
        ),
        (
            format!("{{{customer},\"items\":[{}]}}", item("\"two\"", "1")),
            "items[0].quantity",
            "must be a whole number",
        ),
        (
            format!("{{{customer},\"items\":[{}]}}", item("1.5", "1")),
            "items[0].quantity",
            "must be a whole number",
        ),
        (format!("{{{customer}}}"), "items", "is required"),
    ];
    for (body, field, message) in cases {
        let response = app
            .post("/v1/orders")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
        assert_eq!(
            problem["errors"][0]["message"], message,
            "{body}: {problem}"
        );
        assert_eq!(problem["detail"], format!("{field}: {message}"), "{body}");
        assert!(!problem.to_string().contains("serde"), "{problem}");
    }
    for limit in ["-1", "abc", "0", "101", "99999999999999999999", "1.5", ""] {
        let path = format!("/v1/orders?customer_id={CUSTOMER}&limit={limit}");
        let problem = assert_problem(
            app.get(&path).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "limit", "{limit}");
        assert_eq!(
            problem["errors"][0]["message"], "must be a whole number from 1 to 100",
            "{limit}"
        );
    }
    let problem = assert_problem(
        app.get("/v1/orders?customer_id=nope").send().await.unwrap(),
        400,
        "invalid-parameter",
    )
    .await;
    assert_eq!(problem["errors"][0]["message"], "must be a UUID");
}

/// PostgreSQL cannot store U+0000 in text and SQLite can: both refuse it at the edge alike.
async fn text_with_a_nul_character_is_422_naming_the_field_and_changes_nothing(app: TestApp) {
    let placed = app.place(&order_body(CUSTOMER)).await;
    let order = format!("/v1/orders/{}", placed["id"].as_str().unwrap());
    let nul = "\u{0}";
    let mut currency = order_body(CUSTOMER);
    currency["currency"] = json!(format!("US{nul}D"));
    let mut product = order_body(CUSTOMER);
    product["items"][1]["product_id"] = json!(format!("{nul}"));
    let cases = [
        (
            format!("{order}/cancel"),
            json!({ "reason": format!("changed my mind{nul}") }),
            "reason",
        ),
        (
            format!("{order}/refunds"),
            json!({ "amount": "1.00", "reason": format!("{nul}") }),
            "reason",
        ),
        ("/v1/orders".to_owned(), currency, "currency"),
        (
            "/v1/orders/preview".to_owned(),
            product,
            "items[1].product_id",
        ),
        (
            format!("{order}/transitions"),
            json!({ "to": format!("processing{nul}") }),
            "to",
        ),
    ];
    for (path, body, field) in cases {
        let response = app
            .post(&path)
            .header("if-match", "\"2\"")
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
        assert_eq!(
            problem["errors"][0]["message"],
            "must not contain the NUL character (U+0000)"
        );
    }
    // Nothing moved: the order, its payment and the list are as they were.
    let after = app.get(&order).send().await.unwrap();
    assert_eq!(after.headers()["etag"], "\"2\"");
    assert_eq!(after.json::<Value>().await.unwrap(), placed);
    let list: Value = app
        .get(&format!("/v1/orders?customer_id={CUSTOMER}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    // An escaped backslash before `u0000` is plain text, not NUL, and is accepted.
    let literal = app
        .post(&format!("{order}/cancel"))
        .header("if-match", "\"2\"")
        .json(&json!({ "reason": "see \\u0000 in the manual" }))
        .send()
        .await
        .unwrap();
    assert_eq!(literal.status(), 200);
}

async fn an_array_where_an_object_belongs_is_422(app: TestApp) {
    // serde reads a struct from an array of its fields in order; the API takes objects only.
    let cases = [
        (
            format!(
                r#"["{CUSTOMER}", "USD", [["0193a1a0-0000-7000-8000-0000000000aa", 1, "5.00"]]]"#
            ),
            ".",
        ),
        (
            format!(
                r#"{{"customer_id": "{CUSTOMER}", "currency": "USD", "items": [["0193a1a0-0000-7000-8000-0000000000aa", 1, "5.00"]]}}"#
            ),
            "items[0]",
        ),
    ];
    for (body, field) in cases {
        let response = app
            .post("/v1/orders")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let listed = app
        .get(&format!("/v1/orders?customer_id={CUSTOMER}"))
        .send()
        .await
        .unwrap();
    let page: Value = listed.json().await.unwrap();
    assert_eq!(
        page["data"].as_array().map(Vec::len),
        Some(0),
        "nothing was placed"
    );
}
