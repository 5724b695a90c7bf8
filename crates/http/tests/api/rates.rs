//! The shop's tax table and shipping methods through the real app, on both databases: staff
//! replace them whole with `If-Match`; a customer's order by SKU names a shipping method and an
//! address, and ordo fills its shipping and tax from them, tax-exclusive or inclusive.

use ordo_service::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem};
use crate::auth::{ALICE, token};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), crate::auth::secured();
    the_tables_are_read_by_everyone_and_replaced_by_staff_against_their_version,
    a_customers_order_is_shipped_and_taxed_from_the_shops_tables,
    prices_that_include_tax_contain_it_and_the_total_does_not_add_it,
    an_order_the_tables_cannot_settle_is_refused_naming_the_field,
    a_preview_settles_exactly_as_placing_does,
    keys_read_the_rates_with_catalog_read_and_replace_them_with_catalog_write,
    an_order_priced_for_where_it_goes_keeps_its_destination,
    staff_give_a_manual_discount_a_reason_and_a_custom_line_without_a_product,
);

fn alice() -> String {
    token(Role::Customer, ALICE)
}

fn staff() -> String {
    token(Role::Staff, "staff-1")
}

/// The fields a 422 names, in its order.
fn named_fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

async fn put(app: &TestApp, path: &str, version: &str, body: &Value) -> reqwest::Response {
    app.request(Method::PUT, path)
        .bearer_auth(staff())
        .header("If-Match", version)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Germany and Austria at their standard and reduced VAT, a Californian sales tax, and two
/// shipping methods; a reduced-rate product (a book).
async fn stock(app: &TestApp, included: bool) {
    let taxes = json!({
        "prices_include_tax": included,
        "rates": [
            {"country": "DE", "rate": "0.19", "name": "MwSt."},
            {"country": "DE", "tax_class": "reduced", "rate": "0.07", "name": "MwSt. (ermäßigt)"},
            {"country": "AT", "rate": "0.2"},
            {"country": "US", "rate": "0"},
            {"country": "US", "region": "CA", "rate": "0.0725", "name": "CA sales tax"}
        ]
    });
    let response = put(app, "/v1/tax-rates", "\"1\"", &taxes).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let shipping = json!({"methods": [
        {"code": "standard", "title": "Standard (3–5 days)", "prices": {"EUR": "4.90", "USD": "5.00"},
         "free_above": {"EUR": "50.00"}, "taxed": true, "countries": ["DE", "AT", "US"]},
        {"code": "express", "title": "Express", "prices": {"EUR": "12.00"}, "countries": ["DE"]}
    ]});
    let response = put(app, "/v1/shipping-rates", "\"1\"", &shipping).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let book = json!({"sku": "BOOK-1", "title": "A book", "tax_class": "reduced",
        "prices": {"EUR": "20.00", "USD": "22.00"}});
    let response = app
        .post("/v1/products")
        .bearer_auth(staff())
        .json(&book)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

fn order(currency: &str, method: &str, country: &str, region: Option<&str>) -> Value {
    json!({
        "customer_id": ALICE,
        "currency": currency,
        "items": [{"sku": "TS-BLUE-L", "quantity": 1}, {"sku": "BOOK-1", "quantity": 1}],
        "shipping_method": method,
        "shipping_address": {"line1": "Hauptstraße 1", "city": "Berlin", "country": country, "region": region}
    })
}

async fn place(app: &TestApp, body: &Value) -> reqwest::Response {
    app.post("/v1/orders")
        .bearer_auth(alice())
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn the_tables_are_read_by_everyone_and_replaced_by_staff_against_their_version(app: TestApp) {
    let read = app
        .get("/v1/tax-rates")
        .bearer_auth(alice())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["etag"], "\"1\"");
    let body: Value = read.json().await.unwrap();
    assert_eq!(
        body,
        json!({"prices_include_tax": false, "rates": [], "version": 1, "updated_at": null})
    );
    let table = json!({"rates": [{"country": "DE", "rate": "0.19"}]});
    // A customer reads but never changes; no If-Match is 428; a stale one 412.
    let refused = app
        .request(Method::PUT, "/v1/tax-rates")
        .bearer_auth(alice())
        .header("If-Match", "\"1\"")
        .json(&table)
        .send()
        .await
        .unwrap();
    assert_problem(refused, 403, "forbidden").await;
    let unversioned = app
        .request(Method::PUT, "/v1/tax-rates")
        .bearer_auth(staff())
        .json(&table)
        .send()
        .await
        .unwrap();
    assert_problem(unversioned, 428, "precondition-required").await;
    let replaced = put(&app, "/v1/tax-rates", "\"1\"", &table).await;
    assert_eq!(replaced.status(), 200);
    assert_eq!(replaced.headers()["etag"], "\"2\"");
    let body: Value = replaced.json().await.unwrap();
    assert_eq!(body["rates"][0]["tax_class"], "standard");
    assert_eq!(body["version"], 2);
    assert_problem(
        put(&app, "/v1/tax-rates", "\"1\"", &table).await,
        412,
        "stale-version",
    )
    .await;
    // Every broken rate is named; nothing changes.
    let broken = json!({"rates": [
        {"country": "XX", "rate": "0.2"},
        {"country": "DE", "rate": "1.5"},
        {"country": "DE", "region": "by", "rate": "0.1"},
        {"country": "DE", "region": "BY", "rate": "0.1"}
    ]});
    let problem = assert_problem(
        put(&app, "/v1/tax-rates", "\"2\"", &broken).await,
        422,
        "validation",
    )
    .await;
    let fields = named_fields(&problem);
    assert_eq!(fields, ["rates[0].country", "rates[1].rate", "rates[3]"]);
    let methods = json!({"methods": [
        {"code": "standard", "title": "Standard", "prices": {"EUR": "4.999"}},
        {"code": "standard", "title": "Again", "prices": {}}
    ]});
    let problem = assert_problem(
        put(&app, "/v1/shipping-rates", "\"1\"", &methods).await,
        422,
        "validation",
    )
    .await;
    let fields = named_fields(&problem);
    assert_eq!(
        fields,
        [
            "methods[0].prices.EUR",
            "methods[1].code",
            "methods[1].prices"
        ]
    );
    let shipping: Value = app
        .get("/v1/shipping-rates")
        .bearer_auth(alice())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shipping["methods"], json!([]));
    assert_eq!(shipping["version"], 1);
}

async fn a_customers_order_is_shipped_and_taxed_from_the_shops_tables(app: TestApp) {
    stock(&app, false).await;
    // A T-shirt (standard, 19 %) and a book (reduced, 7 %) to Berlin, standard shipping.
    let placed = place(&app, &order("EUR", "standard", "DE", None)).await;
    assert_eq!(placed.status(), 201);
    let body: Value = placed.json().await.unwrap();
    assert_eq!(body["subtotal"], "38.50");
    assert_eq!(body["shipping"][0]["code"], "standard");
    assert_eq!(body["shipping"][0]["amount"], "4.90");
    assert_eq!(body["shipping"][0]["tax_rate"], "0.19");
    assert_eq!(body["items"][0]["tax_rate"], "0.19");
    assert_eq!(body["items"][1]["tax_rate"], "0.07");
    assert_eq!(body["tax_rate"], Value::Null);
    // 19 % of 18.50 + 4.90 = 4.446 → 4.45; 7 % of 20.00 = 1.40.
    assert_eq!(
        body["tax_lines"],
        json!([{"rate": "0.07", "base": "20.00", "tax": "1.40"}, {"rate": "0.19", "base": "23.40", "tax": "4.45"}])
    );
    assert_eq!(body["tax"], "5.85");
    assert_eq!(body["total"], "49.25");
    assert_eq!(body["prices_include_tax"], false);
    // Read back as placed.
    let id = body["id"].as_str().unwrap();
    let read: Value = app
        .get(&format!("/v1/orders/{id}"))
        .bearer_auth(alice())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["tax_lines"], body["tax_lines"]);
    assert_eq!(read["items"], body["items"]);
    // Three T-shirts pass the 50.00 threshold: shipping is free (and so untaxed).
    let mut big = order("EUR", "standard", "DE", None);
    big["items"][0]["quantity"] = json!(3);
    let body: Value = place(&app, &big).await.json().await.unwrap();
    assert_eq!(body["shipping"][0]["amount"], "0.00");
    assert_eq!(body["shipping_total"], "0.00");
    // California's own rate beats the country's 0 (the shop keeps no reduced US rate, so
    // the T-shirt goes alone).
    let mut californian = order("USD", "standard", "US", Some("ca"));
    californian["items"] = json!([{"sku": "TS-BLUE-L", "quantity": 1}]);
    let body: Value = place(&app, &californian).await.json().await.unwrap();
    assert_eq!(body["tax_lines"][0]["rate"], "0.0725", "{body}");
    assert_eq!(body["shipping"][0]["amount"], "5.00");
    // 0.0725 × (19.99 + 5.00) = 1.811775 → 1.81.
    assert_eq!(body["tax"], "1.81");
    assert_eq!(body["total"], "26.80");
}

async fn prices_that_include_tax_contain_it_and_the_total_does_not_add_it(app: TestApp) {
    stock(&app, true).await;
    let placed = place(&app, &order("EUR", "express", "DE", None)).await;
    assert_eq!(placed.status(), 201);
    let body: Value = placed.json().await.unwrap();
    // The total is what the shelf said: 18.50 + 20.00 + 12.00 express (untaxed).
    assert_eq!(body["total"], "50.50");
    assert_eq!(body["prices_include_tax"], true);
    // 18.50 × 0.19 / 1.19 = 2.9537… → 2.95; 20.00 × 0.07 / 1.07 = 1.3084… → 1.31.
    assert_eq!(
        body["tax_lines"],
        json!([{"rate": "0.07", "base": "20.00", "tax": "1.31"}, {"rate": "0.19", "base": "18.50", "tax": "2.95"}])
    );
    assert_eq!(body["tax"], "4.26");
}

async fn an_order_the_tables_cannot_settle_is_refused_naming_the_field(app: TestApp) {
    stock(&app, false).await;
    let refused = |body: Value, field: &'static str| {
        let app = &app;
        async move {
            let problem = assert_problem(place(app, &body).await, 422, "validation").await;
            let named = problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|error| error["field"] == field);
            assert!(named, "{field} not in {problem}");
        }
    };
    // France: no rate at all (nor shipping); each line is named.
    refused(order("EUR", "standard", "FR", None), "items[0].sku").await;
    refused(order("EUR", "standard", "FR", None), "items[1].sku").await;
    // Austria has no reduced rate: the book is named.
    refused(order("EUR", "standard", "AT", None), "items[1].sku").await;
    refused(order("EUR", "overnight", "DE", None), "shipping_method").await;
    refused(order("EUR", "express", "AT", None), "shipping_method").await;
    refused(order("USD", "express", "DE", None), "shipping_method").await;
    let mut unshipped = order("EUR", "standard", "DE", None);
    unshipped.as_object_mut().unwrap().remove("shipping_method");
    refused(unshipped, "shipping_method").await;
    let mut nowhere = order("EUR", "standard", "DE", None);
    nowhere.as_object_mut().unwrap().remove("shipping_address");
    refused(nowhere, "shipping_address").await;
    // A customer still never names a shipping amount, with or without a method.
    let mut priced = order("EUR", "standard", "DE", None);
    priced["shipping"] = json!([{"code": "mine", "title": "Mine", "amount": "0"}]);
    let problem = assert_problem(place(&app, &priced).await, 422, "set-by-shop").await;
    assert_eq!(
        problem["errors"][0]["field"], "shipping[0].amount",
        "{problem}"
    );
    // Nothing was stored.
    let listed: Value = app
        .get(&format!("/v1/orders?customer_id={ALICE}"))
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]));
}

async fn a_preview_settles_exactly_as_placing_does(app: TestApp) {
    stock(&app, true).await;
    let mut body = order("EUR", "standard", "AT", None);
    body["items"] = json!([{"sku": "TS-BLUE-L", "quantity": 2}]);
    let preview: Value = app
        .post("/v1/orders/preview")
        .bearer_auth(alice())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let placed: Value = place(&app, &body).await.json().await.unwrap();
    for field in [
        "items",
        "subtotal",
        "shipping",
        "shipping_total",
        "tax",
        "tax_lines",
        "total",
        "prices_include_tax",
    ] {
        assert_eq!(
            preview[field],
            crate::app::as_priced(&placed)[field],
            "{field}"
        );
    }
    assert_eq!(placed["tax_lines"][0]["rate"], "0.2");
}

async fn keys_read_the_rates_with_catalog_read_and_replace_them_with_catalog_write(app: TestApp) {
    let secret = |key: Value| key["secret"].as_str().unwrap().to_owned();
    let reader = secret(app.make_key(&["catalog:read"]).await);
    let writer = secret(app.make_key(&["catalog:write"]).await);
    let orders = secret(app.make_key(&["orders:read", "orders:write"]).await);
    let admin = token(Role::Admin, "admin-1");
    let table = json!({"rates": [{"country": "DE", "rate": "0.19"}]});
    let methods =
        json!({"methods": [{"code": "standard", "title": "Standard", "prices": {"EUR": "4.90"}}]});
    for path in ["/v1/tax-rates", "/v1/shipping-rates"] {
        for (who, status) in [(&reader, 200), (&admin, 200), (&orders, 403)] {
            let read = app.get(path).bearer_auth(who).send().await.unwrap();
            assert_eq!(read.status(), status, "{path}");
        }
        let body = if path == "/v1/tax-rates" {
            &table
        } else {
            &methods
        };
        let by = |who: &str| {
            app.request(Method::PUT, path)
                .bearer_auth(who)
                .header("If-Match", "\"1\"")
                .json(body)
                .send()
        };
        for who in [&reader, &orders] {
            let problem = assert_problem(by(who).await.unwrap(), 403, "forbidden").await;
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("catalog:write"),
                "{problem}"
            );
        }
        assert_eq!(by(&writer).await.unwrap().status(), 200, "{path}");
        // Replaced once: version 1 is stale now, even for an admin.
        assert_problem(by(&admin).await.unwrap(), 412, "stale-version").await;
    }
}

async fn an_order_priced_for_where_it_goes_keeps_its_destination(app: TestApp) {
    stock(&app, false).await;
    let placed: Value = place(&app, &order("EUR", "standard", "DE", None))
        .await
        .json()
        .await
        .unwrap();
    let id = placed["id"].as_str().unwrap();
    let patch = |body: Value| {
        app.request(Method::PATCH, &format!("/v1/orders/{id}"))
            .bearer_auth(alice())
            .header("If-Match", "\"2\"")
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
    };
    // Moving the order to Austria (20 %) after it was taxed for Germany is refused...
    let problem = assert_problem(
        patch(json!({"shipping_address": {"country": "AT"}}))
            .await
            .unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(
        problem["errors"][0]["field"], "shipping_address",
        "{problem}"
    );
    // ...and so is dropping the address; fixing the street is not.
    let problem = assert_problem(
        patch(json!({"shipping_address": null})).await.unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(
        problem["errors"][0]["field"], "shipping_address",
        "{problem}"
    );
    let fixed = patch(json!({"shipping_address": {"line1": "Hauptstraße 2"}}))
        .await
        .unwrap();
    assert_eq!(fixed.status(), 200, "{}", fixed.text().await.unwrap());
}

async fn staff_give_a_manual_discount_a_reason_and_a_custom_line_without_a_product(app: TestApp) {
    stock(&app, false).await;
    let body = json!({
        "customer_id": ALICE,
        "currency": "EUR",
        "items": [
            {"sku": "TS-BLUE-L", "quantity": 1},
            {"quantity": 1, "unit_price": "3.00", "sku": "GIFT-WRAP", "title": "Gift wrapping", "requires_shipping": false}
        ],
        "discount": {"type": "fixed", "amount": "2.00", "reason": "Late delivery last time"},
        "shipping_method": "express",
        "shipping_address": {"line1": "Hauptstraße 1", "city": "Berlin", "country": "DE"}
    });
    let placed = app
        .post("/v1/orders")
        .bearer_auth(staff())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201, "{}", placed.text().await.unwrap());
    let placed: Value = placed.json().await.unwrap();
    assert_eq!(placed["discount_rule"]["reason"], "Late delivery last time");
    assert_eq!(placed["items"][1]["product_id"], Value::Null);
    assert_eq!(placed["items"][1]["price_source"], "custom");
    // A custom line pays the standard rate: 19 % of 18.50 + 3.00 − 2.00 = 3.705 → 3.71.
    assert_eq!(placed["tax"], "3.71");
    let id = placed["id"].as_str().unwrap();
    let read: Value = app
        .get(&format!("/v1/orders/{id}"))
        .bearer_auth(staff())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["discount_rule"], placed["discount_rule"]);
    assert_eq!(read["items"], placed["items"]);
    // A custom line needs a product or what it is; a customer still may not give either.
    let mut bare = body.clone();
    bare["items"][1] = json!({"quantity": 1, "unit_price": "3.00"});
    let refused = app
        .post("/v1/orders")
        .bearer_auth(staff())
        .json(&bare)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(refused, 422, "validation").await;
    assert_eq!(
        problem["errors"][0]["field"], "items[1].product_id",
        "{problem}"
    );
    let refused = place(&app, &body).await;
    let problem = assert_problem(refused, 422, "set-by-shop").await;
    let fields = named_fields(&problem);
    assert_eq!(fields, ["items[1].unit_price", "discount"]);
}
