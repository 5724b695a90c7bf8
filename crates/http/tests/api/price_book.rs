//! The price book through the real app, on both databases: a customer's order is priced from
//! the book and never names a figure; staff and keys with `orders:price` may place custom
//! lines; `/v1/products` is managed by staff and keys with `catalog:write`, one product or
//! many (NDJSON) at a time.

use ordo_service::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem, customer_body, order_body};
use crate::auth::{ALICE, token};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), crate::auth::secured();
    a_customer_cannot_name_any_figure_of_its_order,
    an_order_by_sku_is_priced_from_the_book_in_its_currency,
    a_line_by_sku_that_the_book_cannot_price_is_refused_naming_it,
    staff_and_keys_with_orders_price_may_place_custom_lines,
    a_preview_prices_exactly_as_placing_does,
    products_are_added_read_and_listed_in_sku_order,
    a_product_changes_by_compare_and_set_and_an_archived_one_is_not_sold,
    who_may_read_and_change_the_book,
    a_bulk_upsert_stores_all_or_nothing,
    where_a_lines_price_came_from_is_stored_with_the_order,
);

fn alice() -> String {
    token(Role::Customer, ALICE)
}

fn staff() -> String {
    token(Role::Staff, "staff-1")
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &str,
    body: &Value,
) -> reqwest::Response {
    app.request(method, path)
        .bearer_auth(who)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Alice's orders, as staff list them.
async fn alices_orders(app: &TestApp) -> Vec<Value> {
    let listed: Value = app
        .get(&format!("/v1/orders?customer_id={ALICE}"))
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed["data"].as_array().unwrap().clone()
}

/// A change made to an order body.
type Change = Box<dyn Fn(&mut Value)>;

async fn a_customer_cannot_name_any_figure_of_its_order(app: TestApp) {
    let custom_line = json!({"product_id": "0193a1a0-0000-7000-8000-0000000000cc",
        "quantity": 1, "unit_price": "0.00", "sku": "FREE", "title": "Anything", "requires_shipping": false});
    let cases: [(&str, Change); 6] = [
        (
            "items[0].unit_price",
            Box::new(|b| b["items"][0]["unit_price"] = json!("0.01")),
        ),
        (
            "items[2].unit_price",
            Box::new(move |b| b["items"].as_array_mut().unwrap().push(custom_line.clone())),
        ),
        (
            "discount",
            Box::new(|b| b["discount"] = json!({"type": "percentage", "percent": "100"})),
        ),
        (
            "discount",
            Box::new(|b| b["discount"] = json!({"type": "fixed", "amount": "64.97"})),
        ),
        ("tax_rate", Box::new(|b| b["tax_rate"] = json!("0"))),
        (
            "shipping[0].amount",
            Box::new(|b| b["shipping"] = json!([{"code": "dhl", "title": "DHL", "amount": "0"}])),
        ),
    ];
    for (field, change) in cases {
        let mut body = customer_body(ALICE);
        change(&mut body);
        for route in ["/v1/orders", "/v1/orders/preview"] {
            let response = send(&app, Method::POST, route, &alice(), &body).await;
            let problem = assert_problem(response, 422, "set-by-shop").await;
            assert_eq!(problem["errors"][0]["field"], field, "{route}: {problem}");
            assert!(
                problem["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("set by the shop"),
                "{problem}"
            );
        }
    }
    // Every such field at once: each is named.
    let mut body = order_body(ALICE);
    body["shipping"] = json!([{"code": "dhl", "title": "DHL", "amount": "4.95"}]);
    let problem = assert_problem(
        send(&app, Method::POST, "/v1/orders", &alice(), &body).await,
        422,
        "set-by-shop",
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
        [
            "items[0].unit_price",
            "items[1].unit_price",
            "discount",
            "tax_rate",
            "shipping[0].amount"
        ]
    );
    assert!(alices_orders(&app).await.is_empty(), "nothing was stored");
    // The same order by SKU is placed, at the book's prices.
    let placed = app.place_as(&alice(), &customer_body(ALICE)).await;
    assert_eq!(placed["subtotal"], "64.97");
    assert_eq!(placed["total"], "64.97");
}

async fn an_order_by_sku_is_priced_from_the_book_in_its_currency(app: TestApp) {
    let placed = app.place_as(&alice(), &customer_body(ALICE)).await;
    let line = &placed["items"][0];
    assert_eq!(line["sku"], "TS-BLUE-L");
    assert_eq!(line["title"], "T-shirt, blue, L");
    assert_eq!(line["unit_price"], "19.99");
    assert_eq!(line["line_total"], "59.97");
    assert_eq!(line["requires_shipping"], true);
    assert_eq!(line["price_source"], "book");
    assert_eq!(line["product_id"], "0193a1a0-0000-7000-8000-0000000000aa");
    assert_eq!(
        placed["items"][1]["unit_price"], "5.00",
        "the currency's minor units"
    );
    for (currency, subtotal, first) in [("EUR", "60.00", "18.50"), ("JPY", "4000", "2000")] {
        let mut body = json!({"customer_id": ALICE, "currency": currency,
            "items": [{"sku": "TS-BLUE-L", "quantity": 2}]});
        if currency == "EUR" {
            body["items"]
                .as_array_mut()
                .unwrap()
                .push(json!({"sku": "STICKER", "quantity": 5}));
        }
        let placed = app.place_as(&alice(), &body).await;
        assert_eq!(placed["items"][0]["unit_price"], first, "{currency}");
        let expected = if currency == "EUR" { "59.50" } else { subtotal };
        assert_eq!(placed["subtotal"], expected, "{currency}: {placed}");
    }
    // The order keeps what it was sold at when the book changes later.
    let id = placed["id"].as_str().unwrap();
    let product = app
        .get("/v1/products/0193a1a0-0000-7000-8000-0000000000aa")
        .bearer_auth(staff())
        .send()
        .await
        .unwrap();
    let etag = product.headers()["etag"].to_str().unwrap().to_owned();
    let changed = app
        .request(
            Method::PATCH,
            "/v1/products/0193a1a0-0000-7000-8000-0000000000aa",
        )
        .bearer_auth(staff())
        .header("if-match", etag)
        .header("content-type", "application/merge-patch+json")
        .body(json!({"title": "Renamed", "prices": {"USD": "99.00"}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "{}", changed.text().await.unwrap());
    let read: Value = app
        .get(&format!("/v1/orders/{id}"))
        .bearer_auth(alice())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["items"][0]["unit_price"], "19.99");
    assert_eq!(read["items"][0]["title"], "T-shirt, blue, L");
    let again = app.place_as(&alice(), &customer_body(ALICE)).await;
    assert_eq!(again["items"][0]["unit_price"], "99.00");
    assert_eq!(again["items"][0]["title"], "Renamed");
}

async fn a_line_by_sku_that_the_book_cannot_price_is_refused_naming_it(app: TestApp) {
    // Archive the sticker.
    let sticker = "/v1/products/0193a1a0-0000-7000-8000-0000000000bb";
    let archived = app
        .request(Method::PATCH, sticker)
        .bearer_auth(staff())
        .header("if-match", "\"1\"")
        .header("content-type", "application/merge-patch+json")
        .body(json!({"status": "archived"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(archived.status(), 200);
    let cases = [
        (
            json!([{"sku": "NOPE", "quantity": 1}]),
            "USD",
            "items[0].sku",
            "no product",
        ),
        (
            json!([{"sku": "TS-BLUE-L", "quantity": 1}, {"sku": "STICKER", "quantity": 1}]),
            "USD",
            "items[1].sku",
            "archived",
        ),
        (
            json!([{"sku": "TS-BLUE-L", "quantity": 1}]),
            "GBP",
            "items[0].sku",
            "no price in GBP",
        ),
        (json!([{"quantity": 1}]), "USD", "items[0].sku", "required"),
        (
            json!([{"sku": "TS-BLUE-L", "quantity": 1, "title": "Gold watch"}]),
            "USD",
            "items[0].title",
            "set by the shop",
        ),
        (
            json!([{"sku": "TS-BLUE-L", "quantity": 0}]),
            "USD",
            "items[0].quantity",
            "between 1",
        ),
    ];
    for (items, currency, field, says) in cases {
        let body = json!({"customer_id": ALICE, "currency": currency, "items": items});
        let response = send(&app, Method::POST, "/v1/orders", &alice(), &body).await;
        let problem = assert_problem(response, 422, "validation").await;
        let error = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == field)
            .unwrap_or_else(|| panic!("{field} not named: {problem}"));
        assert!(
            error["message"].as_str().unwrap().contains(says),
            "{problem}"
        );
    }
    assert!(alices_orders(&app).await.is_empty());
}

async fn staff_and_keys_with_orders_price_may_place_custom_lines(app: TestApp) {
    // Staff: a phone order with a custom line beside a book line, a manual discount and tax.
    let body = json!({"customer_id": ALICE, "currency": "USD",
        "items": [
            {"sku": "TS-BLUE-L", "quantity": 1},
            {"product_id": "0193a1a0-0000-7000-8000-0000000000cc", "quantity": 1, "unit_price": "12.00",
             "sku": "ENGRAVING", "title": "Engraving", "requires_shipping": false}
        ],
        "discount": {"type": "fixed", "amount": "2.00"},
        "tax_rate": "0.1"});
    let placed = app.place_as(&staff(), &body).await;
    assert_eq!(placed["items"][0]["price_source"], "book");
    assert_eq!(placed["items"][1]["price_source"], "custom");
    assert_eq!(placed["subtotal"], "31.99");
    assert_eq!(placed["total"], "32.99");
    // A key that may place orders but not name prices is refused, naming the scope it lacks.
    let writer = app.make_key(&["orders:read", "orders:write"]).await;
    let writer = writer["secret"].as_str().unwrap().to_owned();
    let refused = send(&app, Method::POST, "/v1/orders", &writer, &body).await;
    let problem = assert_problem(refused, 403, "forbidden").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("orders:price"),
        "{problem}"
    );
    // By SKU alone it may.
    assert_eq!(
        app.place_as(&writer, &customer_body(ALICE)).await["total"],
        "64.97"
    );
    let pricer = app.make_key(&["orders:write", "orders:price"]).await;
    let pricer = pricer["secret"].as_str().unwrap().to_owned();
    assert_eq!(app.place_as(&pricer, &body).await["total"], "32.99");
}

async fn a_preview_prices_exactly_as_placing_does(app: TestApp) {
    let body = json!({"customer_id": ALICE, "currency": "EUR",
        "items": [{"sku": "TS-BLUE-L", "quantity": 3}, {"sku": "STICKER", "quantity": 2}]});
    let preview: Value = send(&app, Method::POST, "/v1/orders/preview", &alice(), &body)
        .await
        .json()
        .await
        .unwrap();
    let placed = app.place_as(&alice(), &body).await;
    for figure in ["subtotal", "discount", "tax", "total", "items"] {
        assert_eq!(
            preview[figure],
            crate::app::as_priced(&placed)[figure],
            "{figure}"
        );
    }
    assert_eq!(preview["total"], "64.50");
}

/// A product body for `sku`.
fn product(sku: &str, usd: &str) -> Value {
    json!({"sku": sku, "title": format!("Product {sku}"), "options": {"size": "M"},
           "tax_class": "reduced", "prices": {"USD": usd, "KWD": "1.250"}})
}

async fn products_are_added_read_and_listed_in_sku_order(app: TestApp) {
    let created = send(
        &app,
        Method::POST,
        "/v1/products",
        &staff(),
        &product("MUG-1", "9.5"),
    )
    .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(created.headers()["etag"], "\"1\"");
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/products/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["prices"], json!({"KWD": "1.250", "USD": "9.50"}));
    assert_eq!(created["requires_shipping"], true);
    assert_eq!(created["status"], "active");
    let read: Value = app
        .get(&location)
        .bearer_auth(alice())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, created, "customers read the book");

    // A taken SKU, a bad price, an unknown field: each refused, naming it.
    let taken = send(
        &app,
        Method::POST,
        "/v1/products",
        &staff(),
        &product("MUG-1", "1"),
    )
    .await;
    assert_problem(taken, 409, "sku-taken").await;
    let bad = send(
        &app,
        Method::POST,
        "/v1/products",
        &staff(),
        &product("MUG-2", "1.001"),
    )
    .await;
    let problem = assert_problem(bad, 422, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "prices.USD", "{problem}");
    let mut unknown = product("MUG-3", "1");
    unknown["cost"] = json!("0.10");
    let problem = assert_problem(
        send(&app, Method::POST, "/v1/products", &staff(), &unknown).await,
        422,
        "validation",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "cost", "{problem}");

    lists_page_in_sku_order(&app).await;
}

/// Pages in SKU order, after four more products (a page ends on a non-ASCII SKU); filters.
async fn lists_page_in_sku_order(app: &TestApp) {
    for sku in ["A-1", "Ü-2", "Ü-3", "Ü-4"] {
        let response = send(
            app,
            Method::POST,
            "/v1/products",
            &staff(),
            &product(sku, "1"),
        )
        .await;
        assert_eq!(response.status(), 201);
    }
    let mut skus = Vec::new();
    let mut path = "/v1/products?limit=2".to_owned();
    loop {
        let page: Value = app
            .get(&path)
            .bearer_auth(staff())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        skus.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["sku"].as_str().unwrap().to_owned()),
        );
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        path = format!(
            "/v1/products?limit=2&cursor={}",
            page["next_cursor"].as_str().unwrap()
        );
    }
    assert_eq!(
        skus,
        ["A-1", "MUG-1", "STICKER", "TS-BLUE-L", "Ü-2", "Ü-3", "Ü-4"]
    );
    let reduced: Value = app
        .get("/v1/products?tax_class=reduced&status=active")
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reduced["data"].as_array().unwrap().len(), 5);
    let bad_cursor = app
        .get("/v1/products?cursor=zz")
        .bearer_auth(staff())
        .send()
        .await
        .unwrap();
    assert_problem(bad_cursor, 400, "invalid-parameter").await;
}

async fn a_product_changes_by_compare_and_set_and_an_archived_one_is_not_sold(app: TestApp) {
    let created = send(
        &app,
        Method::POST,
        "/v1/products",
        &staff(),
        &product("MUG-1", "9.5"),
    )
    .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    // A change names the version it read; a merge patch removes a price with null.
    let change = |etag: Option<&str>, body: Value| {
        let mut request = app
            .request(Method::PATCH, &location)
            .bearer_auth(staff())
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string());
        if let Some(etag) = etag {
            request = request.header("if-match", etag);
        }
        request.send()
    };
    assert_problem(
        change(None, json!({"title": "x"})).await.unwrap(),
        428,
        "precondition-required",
    )
    .await;
    let changed = change(
        Some("\"1\""),
        json!({"prices": {"KWD": null, "EUR": "8"}, "status": "archived"}),
    )
    .await
    .unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(changed.headers()["etag"], "\"2\"");
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["prices"], json!({"EUR": "8.00", "USD": "9.50"}));
    assert_eq!(changed["status"], "archived");
    let stale = change(Some("\"1\""), json!({"title": "y"})).await.unwrap();
    let problem = assert_problem(stale, 412, "stale-version").await;
    assert_eq!(problem["current_etag"], "\"2\"");
    let unchanged = change(Some("\"2\""), json!({"title": changed["title"]}))
        .await
        .unwrap();
    assert_eq!(
        unchanged.headers()["etag"],
        "\"2\"",
        "nothing to change writes nothing"
    );
    let no_price = change(Some("\"2\""), json!({"prices": {"EUR": null, "USD": null}}))
        .await
        .unwrap();
    let problem = assert_problem(no_price, 422, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "prices");
    let archived = json!({"customer_id": ALICE, "currency": "USD", "items": [{"sku": "MUG-1", "quantity": 1}]});
    let refused = send(&app, Method::POST, "/v1/orders", &alice(), &archived).await;
    let problem = assert_problem(refused, 422, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "items[0].sku");
    let missing = app
        .get("/v1/products/0193a1a0-0000-7000-8000-00000000dead")
        .bearer_auth(staff())
        .send()
        .await
        .unwrap();
    assert_problem(missing, 404, "not-found").await;
}

async fn who_may_read_and_change_the_book(app: TestApp) {
    let refused = send(
        &app,
        Method::POST,
        "/v1/products",
        &alice(),
        &product("X-1", "1"),
    )
    .await;
    assert_problem(refused, 403, "forbidden").await;
    let reader = app.make_key(&["catalog:read"]).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let writer = app.make_key(&["catalog:write"]).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let orders = app.make_key(&["orders:read", "orders:write"]).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = app
        .get("/v1/products")
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let refused = send(
        &app,
        Method::POST,
        "/v1/products",
        &reader,
        &product("X-1", "1"),
    )
    .await;
    let problem = assert_problem(refused, 403, "forbidden").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("catalog:write"),
        "{problem}"
    );
    let created = send(
        &app,
        Method::POST,
        "/v1/products",
        &writer,
        &product("X-1", "1"),
    )
    .await;
    assert_eq!(created.status(), 201);
    let refused = app
        .get("/v1/products")
        .bearer_auth(&orders)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(refused, 403, "forbidden").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("catalog:read"),
        "{problem}"
    );
    let bulk = app
        .post("/v1/products/bulk")
        .bearer_auth(alice())
        .header("content-type", "application/x-ndjson")
        .body(product("X-2", "1").to_string())
        .send()
        .await
        .unwrap();
    assert_problem(bulk, 403, "forbidden").await;
}

async fn bulk(app: &TestApp, lines: &[Value]) -> reqwest::Response {
    let body = lines
        .iter()
        .fold(String::new(), |body, line| body + &line.to_string() + "\n");
    app.post("/v1/products/bulk")
        .bearer_auth(staff())
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn a_bulk_upsert_stores_all_or_nothing(app: TestApp) {
    let lines = [
        product("B-1", "1"),
        product("B-2", "2"),
        product("TS-BLUE-L", "19.99"),
    ];
    let first = bulk(&app, &lines).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        (
            first["created"].clone(),
            first["updated"].clone(),
            first["unchanged"].clone()
        ),
        (json!(2), json!(1), json!(0)),
        "{first}"
    );
    assert_eq!(first["data"][2]["result"], "updated");
    assert_eq!(
        first["data"][2]["id"], "0193a1a0-0000-7000-8000-0000000000aa",
        "found by SKU"
    );
    let again: Value = bulk(&app, &lines).await.json().await.unwrap();
    assert_eq!(again["unchanged"], 3, "{again}");
    assert_eq!(again["data"][0]["version"], 1);

    // One bad product, anywhere: nothing is stored, and the product is named by its place.
    let bad = [product("B-3", "3"), product("B-1", "1.001")];
    let problem = assert_problem(bulk(&app, &bad).await, 422, "validation").await;
    assert_eq!(
        problem["errors"][0]["field"], "products[1].prices.USD",
        "{problem}"
    );
    let twice = [product("B-4", "3"), product("B-4", "4")];
    let problem = assert_problem(bulk(&app, &twice).await, 422, "validation").await;
    assert_eq!(
        problem["errors"][0]["field"], "products[1].sku",
        "{problem}"
    );
    let mut unknown = product("B-5", "3");
    unknown["colour"] = json!("red");
    let problem = assert_problem(
        bulk(&app, &[product("B-6", "1"), unknown]).await,
        422,
        "validation",
    )
    .await;
    assert_eq!(
        problem["errors"][0]["field"], "products[1].colour",
        "{problem}"
    );
    let listed: Value = app
        .get("/v1/products?limit=100")
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let skus: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["B-1", "B-2", "STICKER", "TS-BLUE-L"]);

    let not_json = app
        .post("/v1/products/bulk")
        .bearer_auth(staff())
        .header("content-type", "application/x-ndjson")
        .body(format!("{}\n{{\"sku\": \n", product("B-8", "1")))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(not_json, 400, "malformed-request").await;
    assert_eq!(problem["errors"][0]["field"], "products[1]", "{problem}");
    let many: Vec<Value> = (0..1001)
        .map(|n| json!({"sku": format!("M-{n}"), "title": "M", "prices": {"USD": "1"}}))
        .collect();
    let problem = assert_problem(bulk(&app, &many).await, 422, "too-many-products").await;
    assert_eq!(problem["errors"][0]["field"], "products", "{problem}");
    let not_ndjson = app
        .post("/v1/products/bulk")
        .bearer_auth(staff())
        .json(&product("B-7", "1"))
        .send()
        .await
        .unwrap();
    assert_problem(not_ndjson, 415, "unsupported-media-type").await;
    let empty = app
        .post("/v1/products/bulk")
        .bearer_auth(staff())
        .header("content-type", "application/x-ndjson")
        .body("\n\n")
        .send()
        .await
        .unwrap();
    assert_problem(empty, 422, "validation").await;
}

async fn where_a_lines_price_came_from_is_stored_with_the_order(app: TestApp) {
    let body = json!({"customer_id": ALICE, "currency": "USD", "items": [
        {"sku": "STICKER", "quantity": 2},
        {"product_id": "0193a1a0-0000-7000-8000-0000000000cc", "quantity": 1, "unit_price": "3.00"}]});
    let placed = app.place_as(&staff(), &body).await;
    let id = placed["id"].as_str().unwrap();
    for path in [
        format!("/v1/orders/{id}"),
        format!("/v1/orders?customer_id={ALICE}"),
    ] {
        let read: Value = app
            .get(&path)
            .bearer_auth(staff())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let order = if read["data"].is_array() {
            &read["data"][0]
        } else {
            &read
        };
        let sources: Vec<&str> = order["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["price_source"].as_str().unwrap())
            .collect();
        assert_eq!(sources, ["book", "custom"], "{path}");
        assert_eq!(order["total"], "13.00");
    }
}
