//! Discount codes through the real app, on both databases: staff make them, customers type
//! them at checkout, and their limits hold under 500 racing orders.

use ordo_service::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem, customer_body};
use crate::auth::{ALICE, token};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), crate::auth::secured();
    a_customer_types_a_code_and_a_cancel_gives_its_use_back,
    a_code_that_cannot_be_used_is_refused_naming_it_or_dropped_when_optional,
    only_staff_manage_codes,
    five_hundred_racing_checkouts_get_exactly_the_hundred_uses,
    racing_optional_checkouts_are_placed_at_full_price_past_the_limit,
);

fn staff() -> String {
    token(Role::Staff, "staff-1")
}

fn customer(n: u32) -> (String, String) {
    let id = format!("0193a1a0-0000-7000-8000-{n:012x}");
    (id.clone(), token(Role::Customer, &id))
}

/// Makes a code as staff; its body.
async fn make(app: &TestApp, body: &Value) -> Value {
    let response = app
        .post("/v1/discount-codes")
        .bearer_auth(staff())
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn used(app: &TestApp, id: &str) -> u64 {
    let code: Value = app
        .get(&format!("/v1/discount-codes/{id}"))
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    code["used"].as_u64().unwrap()
}

fn with_code(customer: &str, code: &str) -> Value {
    let mut body = customer_body(customer);
    body["discount_code"] = json!(code);
    body
}

async fn a_customer_types_a_code_and_a_cancel_gives_its_use_back(app: TestApp) {
    let code = make(
        &app,
        &json!({"code": "save10", "percent": "10", "minimum_subtotal": {"USD": "50"},
                "usage_limit": 5, "per_customer_limit": 1}),
    )
    .await;
    assert_eq!(code["code"], "SAVE10");
    assert_eq!(code["used"], 0);
    assert_eq!(code["minimum_subtotal"], json!({"USD": "50.00"}));
    let id = code["id"].as_str().unwrap();
    let alice = token(Role::Customer, ALICE);
    // The preview shows the discount and takes no use.
    let preview: Value = app
        .post("/v1/orders/preview")
        .bearer_auth(&alice)
        .json(&with_code(ALICE, "Save10"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(preview["discount"], "6.50");
    assert_eq!(used(&app, id).await, 0);
    let placed = app.place_as(&alice, &with_code(ALICE, "Save10")).await;
    assert_eq!(placed["discount_code"], "SAVE10");
    assert_eq!(placed["discount"], "6.50");
    assert_eq!(placed["total"], "58.47");
    assert_eq!(used(&app, id).await, 1);
    // One use per customer.
    let again = app
        .post("/v1/orders")
        .bearer_auth(&alice)
        .json(&with_code(ALICE, "SAVE10"))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(again, 409, "discount-code-used-up").await;
    assert_eq!(problem["errors"][0]["field"], "discount_code");
    // Cancelling the order gives the use back.
    let order = placed["id"].as_str().unwrap();
    let cancelled = app
        .post(&format!("/v1/orders/{order}/cancel"))
        .bearer_auth(&alice)
        .header("if-match", "\"2\"")
        .json(&json!({"reason": "changed my mind"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        cancelled.status(),
        200,
        "{}",
        cancelled.text().await.unwrap()
    );
    assert_eq!(used(&app, id).await, 0);
    let read: Value = app
        .get(&format!("/v1/orders/{order}"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        read["discount_code"], "SAVE10",
        "the order keeps what it was sold with"
    );
    assert_eq!(
        app.place_as(&alice, &with_code(ALICE, "save10")).await["total"],
        "58.47"
    );
}

async fn a_code_that_cannot_be_used_is_refused_naming_it_or_dropped_when_optional(app: TestApp) {
    make(
        &app,
        &json!({"code": "BIG", "amounts": {"EUR": "5"}, "minimum_subtotal": {"USD": "100"}}),
    )
    .await;
    make(
        &app,
        &json!({"code": "OLD", "percent": "50", "ends_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    let alice = token(Role::Customer, ALICE);
    for (code, says) in [
        ("NOPE", "no discount code"),
        ("BIG", "at least 100.00 USD"),
        ("OLD", "cannot be used now"),
        ("not a code", "letters, digits"),
    ] {
        let response = app
            .post("/v1/orders")
            .bearer_auth(&alice)
            .json(&with_code(ALICE, code))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], "discount_code", "{problem}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(says),
            "{code}: {problem}"
        );
        let mut optional = with_code(ALICE, code);
        optional["discount_code_optional"] = json!(true);
        let placed = app.place_as(&alice, &optional).await;
        assert_eq!(placed["discount_code"], Value::Null);
        assert_eq!(placed["total"], "64.97");
    }
    // EUR: below no minimum, the fixed amount applies.
    let eur = json!({"customer_id": ALICE, "currency": "EUR", "discount_code": "big",
                     "items": [{"sku": "STICKER", "quantity": 2}]});
    assert_eq!(app.place_as(&alice, &eur).await["total"], "4.00");
    // A code beside a discount of the order's own.
    let mut both = crate::app::order_body(ALICE);
    both["discount_code"] = json!("BIG");
    let response = app
        .post("/v1/orders")
        .bearer_auth(staff())
        .json(&both)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "discount_code", "{problem}");
}

async fn only_staff_manage_codes(app: TestApp) {
    let alice = token(Role::Customer, ALICE);
    let listed = app
        .get("/v1/discount-codes")
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_problem(listed, 403, "forbidden").await;
    let made = app
        .post("/v1/discount-codes")
        .bearer_auth(&alice)
        .json(&json!({"code": "MINE", "percent": "100"}))
        .send()
        .await
        .unwrap();
    assert_problem(made, 403, "forbidden").await;
    let code = make(&app, &json!({"code": "A-1", "percent": "5"})).await;
    let taken = app
        .post("/v1/discount-codes")
        .bearer_auth(staff())
        .json(&json!({"code": "a-1", "percent": "5"}))
        .send()
        .await
        .unwrap();
    assert_problem(taken, 409, "code-taken").await;
    let both = app
        .post("/v1/discount-codes")
        .bearer_auth(staff())
        .json(&json!({"code": "B-1", "percent": "5", "amounts": {"USD": "1"}}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(both, 422, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "percent");
    // Archived by a merge patch naming the version read; then it is not usable.
    let id = code["id"].as_str().unwrap();
    let patch = |etag: &str, body: Value| {
        app.request(Method::PATCH, &format!("/v1/discount-codes/{id}"))
            .bearer_auth(staff())
            .header("if-match", etag)
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
    };
    let archived = patch("\"1\"", json!({"status": "archived", "usage_limit": 10}))
        .await
        .unwrap();
    assert_eq!(archived.status(), 200);
    let archived: Value = archived.json().await.unwrap();
    assert_eq!(
        (archived["status"].clone(), archived["version"].clone()),
        (json!("archived"), json!(2))
    );
    assert_problem(
        patch("\"1\"", json!({"percent": "6"})).await.unwrap(),
        412,
        "stale-version",
    )
    .await;
    let refused = app
        .post("/v1/orders")
        .bearer_auth(&alice)
        .json(&with_code(ALICE, "A-1"))
        .send()
        .await
        .unwrap();
    assert_problem(refused, 422, "validation").await;
    make(&app, &json!({"code": "B-2", "percent": "5"})).await;
    let page: Value = app
        .get("/v1/discount-codes?limit=1")
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"][0]["code"], "A-1");
    assert_eq!(page["has_more"], true);
    let cursor = page["next_cursor"].as_str().unwrap();
    assert!(!cursor.contains("A-1"), "opaque: {cursor}");
    let next: Value = app
        .get(&format!("/v1/discount-codes?limit=1&cursor={cursor}"))
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(next["data"][0]["code"], "B-2");
    assert_eq!(next["has_more"], false);
    let bad = app
        .get("/v1/discount-codes?cursor=A-1")
        .bearer_auth(staff())
        .send()
        .await
        .unwrap();
    assert_problem(bad, 400, "invalid-parameter").await;
}

async fn five_hundred_racing_checkouts_get_exactly_the_hundred_uses(app: TestApp) {
    let code = make(
        &app,
        &json!({"code": "HUNDRED", "percent": "20", "usage_limit": 100}),
    )
    .await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(500));
    let mut racers = Vec::new();
    for n in 1..=500 {
        let (id, bearer) = customer(n);
        let request = app
            .post("/v1/orders")
            .bearer_auth(bearer)
            .json(&with_code(&id, "HUNDRED"));
        let barrier = barrier.clone();
        racers.push(tokio::spawn(async move {
            barrier.wait().await;
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }));
    }
    let (mut placed, mut refused) = (0, 0);
    for racer in racers {
        let (status, body) = racer.await.unwrap();
        match status {
            201 => {
                assert_eq!(body["total"], "51.98", "{body}");
                placed += 1;
            }
            409 => {
                assert_eq!(
                    body["type"],
                    "https://ordo.dev/problems/discount-code-used-up"
                );
                refused += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!((placed, refused), (100, 400));
    assert_eq!(used(&app, code["id"].as_str().unwrap()).await, 100);
    let (id, bearer) = customer(501);
    let mut optional = with_code(&id, "HUNDRED");
    optional["discount_code_optional"] = json!(true);
    let full_price = app.place_as(&bearer, &optional).await;
    assert_eq!(full_price["total"], "64.97");
    assert_eq!(full_price["discount_code"], Value::Null);
}

/// Racing with `discount_code_optional`: exactly the limit's orders get the discount, every
/// other one is placed at full price; a limit may not go below the uses held.
async fn racing_optional_checkouts_are_placed_at_full_price_past_the_limit(app: TestApp) {
    let code = make(
        &app,
        &json!({"code": "TEN", "percent": "50", "usage_limit": 10}),
    )
    .await;
    let mut racers = Vec::new();
    for n in 1..=40 {
        let (id, bearer) = customer(n);
        let mut body = with_code(&id, "TEN");
        body["discount_code_optional"] = json!(true);
        let request = app.post("/v1/orders").bearer_auth(bearer).json(&body);
        racers.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.unwrap()
        }));
    }
    let mut totals = std::collections::BTreeMap::new();
    for racer in racers {
        let placed = racer.await.unwrap();
        *totals
            .entry(placed["total"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(
        totals,
        std::collections::BTreeMap::from([("32.48".to_owned(), 10), ("64.97".to_owned(), 30)])
    );
    let id = code["id"].as_str().unwrap();
    let lowered = app
        .request(Method::PATCH, &format!("/v1/discount-codes/{id}"))
        .bearer_auth(staff())
        .header("if-match", "\"1\"")
        .header("content-type", "application/merge-patch+json")
        .body(json!({"usage_limit": 5}).to_string())
        .send()
        .await
        .unwrap();
    let problem = assert_problem(lowered, 422, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "usage_limit", "{problem}");
    assert_eq!(used(&app, id).await, 10);
}
