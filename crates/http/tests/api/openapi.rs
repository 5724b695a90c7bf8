//! The OpenAPI document describes every route the router serves, and the router serves every
//! route the document describes.

use std::collections::BTreeSet;

use ordo_repository::testing::TestPostgres;
use serde_json::Value;

use crate::app::{CUSTOMER, Database, TestApp, assert_problem, order_body};

/// Every API route, by hand: adding a route without documenting it fails here.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/orders"),
    ("post", "/v1/orders"),
    ("post", "/v1/orders/preview"),
    ("get", "/v1/orders/{id}"),
    ("get", "/v1/orders/by-number/{number}"),
    ("delete", "/v1/orders/{id}"),
    ("patch", "/v1/orders/{id}"),
    ("post", "/v1/customers/{id}/erasure"),
    ("post", "/v1/orders/{id}/transitions"),
    ("post", "/v1/orders/{id}/cancel"),
    ("post", "/v1/orders/{id}/refunds"),
    ("post", "/v1/orders/{id}/fulfillments"),
    ("get", "/v1/orders/{id}/fulfillments/{fulfillment_id}"),
    ("patch", "/v1/orders/{id}/fulfillments/{fulfillment_id}"),
    (
        "post",
        "/v1/orders/{id}/fulfillments/{fulfillment_id}/transitions",
    ),
    ("post", "/v1/orders/{id}/returns"),
    ("post", "/v1/orders/{id}/payments"),
    ("get", "/v1/orders/{id}/returns/{return_id}"),
    ("post", "/v1/orders/{id}/returns/{return_id}/transitions"),
    ("get", "/v1/api-keys"),
    ("post", "/v1/api-keys"),
    ("get", "/v1/api-keys/{id}"),
    ("delete", "/v1/api-keys/{id}"),
    ("get", "/v1/products"),
    ("post", "/v1/products"),
    ("get", "/v1/products/{id}"),
    ("patch", "/v1/products/{id}"),
    ("post", "/v1/products/bulk"),
    ("get", "/v1/discount-codes"),
    ("post", "/v1/discount-codes"),
    ("get", "/v1/discount-codes/{id}"),
    ("patch", "/v1/discount-codes/{id}"),
    ("get", "/v1/tax-rates"),
    ("put", "/v1/tax-rates"),
    ("get", "/v1/shipping-rates"),
    ("put", "/v1/shipping-rates"),
    ("get", "/v1/orders/{id}/events"),
    ("get", "/v1/events"),
    ("get", "/v1/events/ws"),
    ("get", "/v1/webhook-endpoints"),
    ("post", "/v1/webhook-endpoints"),
    ("get", "/v1/webhook-endpoints/{id}"),
    ("patch", "/v1/webhook-endpoints/{id}"),
    ("delete", "/v1/webhook-endpoints/{id}"),
    ("post", "/v1/webhook-endpoints/{id}/rotate-secret"),
    ("get", "/v1/webhook-endpoints/{id}/deliveries"),
    (
        "post",
        "/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/redeliver",
    ),
];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect()
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_router_serves() {
    let app = crate::app::sqlite().await;
    let response = app.get("/openapi.json").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let expected: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented(&doc), expected);
    assert_eq!(doc, serde_json::to_value(ordo_http::openapi()).unwrap());

    // And each documented route is really served: neither an unknown route nor method.
    let id = "0193a1a0-0000-7000-8000-000000000099";
    for (method, path) in documented(&doc) {
        let url = path.replace("{id}", id);
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app.request(method.clone(), &url).send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let unknown = status == 405 || (status == 404 && body["detail"] == "no such route");
        assert!(
            !unknown,
            "{method} {url} is documented but not served: {status} {body}"
        );
    }
}

#[tokio::test]
async fn every_documented_error_body_is_a_problem() {
    let doc = serde_json::to_value(ordo_http::openapi()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = &response["content"]["application/problem+json"];
                    assert!(
                        content.is_object(),
                        "{method} {path} {status} must document a problem body"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_docs_page_is_served() {
    let app = crate::app::sqlite().await;
    let response = app.get("/docs").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'self'") && policy.contains("script-src 'self'"));
    let page = response.text().await.unwrap();
    // Everything the page loads is ordo's own, and it finds the document at /openapi.json.
    for script in ["/docs/scalar-1.76.0.js", "/docs/docs.js"] {
        assert!(page.contains(&format!("src=\"{script}\"")), "{script}");
        let asset = app.get(script).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{script}");
        assert!(
            asset.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
    }
    let start = app
        .get("/docs/docs.js")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(start.contains("url: '/openapi.json'"));
    assert!(!page.contains("https://") && !start.contains("https://"));
}

/// With the database gone, requests get 503 with Retry-After, not a 500 or a hang.
#[tokio::test]
async fn storage_unavailable_is_503_with_retry_after() {
    let (database, store) = TestPostgres::store().await.unwrap();
    store.close().await;
    let app: TestApp = crate::app::serve(store, Database::Postgres(Box::new(database))).await;
    let response = app
        .post("/v1/orders")
        .json(&order_body(CUSTOMER))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let problem = assert_problem(response, 503, "unavailable").await;
    assert!(
        !problem["detail"].as_str().unwrap().contains("pool"),
        "no internals in the body"
    );
    let list = app
        .get(&format!("/v1/orders?customer_id={CUSTOMER}"))
        .send()
        .await
        .unwrap();
    assert_problem(list, 503, "unavailable").await;
}
