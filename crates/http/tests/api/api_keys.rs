//! API keys through the real app: an admin makes one, it acts as staff within its scopes and
//! nothing more, it is refused once revoked, and its secret is shown once. On both databases.

use ordo_service::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem, customer_body};
use crate::auth::{ALICE, token};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), crate::auth::secured();
    a_key_acts_within_its_scopes_and_nothing_more,
    a_read_only_key_is_refused_every_write_naming_the_scope,
    a_key_acting_on_an_order_needs_to_read_it_too,
    a_revoked_key_is_refused_from_the_next_request,
    only_an_admin_token_manages_keys_and_bad_requests_name_the_field,
    a_wrong_or_unknown_key_gets_one_answer,
);

fn admin() -> String {
    token(Role::Admin, "admin-1")
}

impl TestApp {
    /// `method path` as an admin; the JSON answer.
    async fn as_admin(&self, method: Method, path: &str) -> Value {
        self.request(method, path)
            .bearer_auth(admin())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Makes a key with `scopes` as an admin; its body (with `secret`).
    pub(crate) async fn make_key(&self, scopes: &[&str]) -> Value {
        let response = self
            .post("/v1/api-keys")
            .bearer_auth(admin())
            .json(&json!({"name": "storefront", "scopes": scopes}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let id_location = response.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            id_location,
            format!("/v1/api-keys/{}", body["id"].as_str().unwrap())
        );
        body
    }
}

async fn a_key_acts_within_its_scopes_and_nothing_more(app: TestApp) {
    let made = app.make_key(&["orders:read", "orders:write"]).await;
    let key = made["secret"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ordo_sk_"), "{key}");
    assert_eq!(made["scopes"], json!(["orders:read", "orders:write"]));
    assert_eq!(made["created_by"], "admin-1");
    assert_eq!(made["last_used_at"], Value::Null);

    // orders:write places for any customer; orders:read reads and searches.
    let placed = app.place_as(&key, &customer_body(ALICE)).await;
    let id = placed["id"].as_str().unwrap();
    let read = app
        .get(&format!("/v1/orders/{id}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    let listed: Value = app
        .get("/v1/orders?q=ord")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let moved = app
        .post(&format!("/v1/orders/{id}/transitions"))
        .bearer_auth(&key)
        .header("if-match", &etag)
        .json(&json!({"to": "processing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200, "{}", moved.text().await.unwrap());

    // Without orders:refund, no refund; staff never delete nor erase; a key manages no keys.
    let refund = app
        .post(&format!("/v1/orders/{id}/refunds"))
        .bearer_auth(&key)
        .json(&json!({"amount": "1.00", "reason": "goodwill"}))
        .send()
        .await
        .unwrap();
    let refused = assert_problem(refund, 403, "forbidden").await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("orders:refund"),
        "{refused}"
    );
    let delete = app
        .delete(&format!("/v1/orders/{id}"))
        .bearer_auth(&key)
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_problem(delete, 403, "forbidden").await;
    let erase = app
        .post(&format!("/v1/customers/{ALICE}/erasure"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_problem(erase, 403, "forbidden").await;
    let keys = app
        .get("/v1/api-keys")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_problem(keys, 403, "forbidden").await;

    // The admin sees when the key was last used, and never a secret.
    let listed: Value = app.as_admin(Method::GET, "/v1/api-keys").await;
    assert_eq!(listed["has_more"], false);
    let keys = listed["data"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].get("secret").is_none(), "{listed}");
    assert!(keys[0]["last_used_at"].is_string(), "{listed}");
    assert!(!listed.to_string().contains(&key[40..]));
}

async fn a_read_only_key_is_refused_every_write_naming_the_scope(app: TestApp) {
    let id = app.place_as(&admin(), &customer_body(ALICE)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reader = app.make_key(&["orders:read"]).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = app
        .get(&format!("/v1/orders/{id}"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    for (method, path, body) in [
        (Method::POST, "/v1/orders".to_owned(), customer_body(ALICE)),
        (
            Method::POST,
            "/v1/orders/preview".to_owned(),
            customer_body(ALICE),
        ),
        (
            Method::POST,
            format!("/v1/orders/{id}/cancel"),
            json!({"reason": "customer_request"}),
        ),
        (
            Method::PATCH,
            format!("/v1/orders/{id}"),
            json!({"tags": ["vip"]}),
        ),
    ] {
        let response = app
            .request(method.clone(), &path)
            .bearer_auth(&reader)
            .header("if-match", "\"2\"")
            .header(
                "content-type",
                if method == Method::PATCH {
                    "application/merge-patch+json"
                } else {
                    "application/json"
                },
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let refused = assert_problem(response, 403, "forbidden").await;
        assert!(
            refused["detail"].as_str().unwrap().contains("orders:write"),
            "{method} {path}: {refused}"
        );
    }
}

/// Cancelling, moving or refunding an order reads it: a key needs `orders:read` beside the
/// scope of the change, and with both the change goes through.
async fn a_key_acting_on_an_order_needs_to_read_it_too(app: TestApp) {
    let secret = |made: Value| made["secret"].as_str().unwrap().to_owned();
    let writer = secret(app.make_key(&["orders:write"]).await);
    let editor = secret(app.make_key(&["orders:read", "orders:write"]).await);
    let refunder = secret(app.make_key(&["orders:refund"]).await);
    let cashier = secret(app.make_key(&["orders:read", "orders:refund"]).await);
    let id = app.place_as(&writer, &customer_body(ALICE)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let send = |key: &str, path: String, etag: &str, body: Value| {
        app.post(&path)
            .bearer_auth(key)
            .header("if-match", etag)
            .json(&body)
            .send()
    };
    let cancel = send(
        &writer,
        format!("/v1/orders/{id}/cancel"),
        "\"2\"",
        json!({"reason": "customer_request"}),
    );
    let refused = assert_problem(cancel.await.unwrap(), 403, "forbidden").await;
    assert!(
        refused["detail"].as_str().unwrap().contains("orders:read"),
        "{refused}"
    );
    let mut etag = "\"2\"".to_owned();
    for to in ["processing", "completed"] {
        let moved = send(
            &editor,
            format!("/v1/orders/{id}/transitions"),
            &etag,
            json!({"to": to}),
        )
        .await
        .unwrap();
        assert_eq!(moved.status(), 200, "{to}");
        moved.headers()["etag"]
            .to_str()
            .unwrap()
            .clone_into(&mut etag);
    }
    let refund = json!({"amount": "1.00", "reason": "goodwill"});
    let path = format!("/v1/orders/{id}/refunds");
    let refused = send(&refunder, path.clone(), &etag, refund.clone())
        .await
        .unwrap();
    let refused = assert_problem(refused, 403, "forbidden").await;
    assert!(
        refused["detail"].as_str().unwrap().contains("orders:read"),
        "{refused}"
    );
    let paid_back = send(&cashier, path, &etag, refund).await.unwrap();
    assert!(
        paid_back.status().is_success(),
        "{}",
        paid_back.text().await.unwrap()
    );
}

async fn a_revoked_key_is_refused_from_the_next_request(app: TestApp) {
    let made = app.make_key(&["orders:read"]).await;
    let (id, key) = (
        made["id"].as_str().unwrap(),
        made["secret"].as_str().unwrap(),
    );
    let list = || app.get("/v1/orders").bearer_auth(key).send();
    assert_eq!(list().await.unwrap().status(), 200);
    let revoked: Value = app
        .as_admin(Method::DELETE, &format!("/v1/api-keys/{id}"))
        .await;
    let at = revoked["revoked_at"].as_str().unwrap().to_owned();
    let refused = assert_problem(list().await.unwrap(), 401, "unauthorized").await;
    assert_eq!(
        refused["detail"], "the API key has been revoked",
        "{refused}"
    );
    // Revoking again changes nothing; the key reads back revoked.
    let again: Value = app
        .as_admin(Method::DELETE, &format!("/v1/api-keys/{id}"))
        .await;
    assert_eq!(again["revoked_at"], at);
    let read: Value = app
        .as_admin(Method::GET, &format!("/v1/api-keys/{id}"))
        .await;
    assert_eq!(read["revoked_at"], at);
    assert!(read.get("secret").is_none());
}

async fn only_an_admin_token_manages_keys_and_bad_requests_name_the_field(app: TestApp) {
    let create = |bearer: String, body: Value| {
        app.post("/v1/api-keys")
            .bearer_auth(bearer)
            .json(&body)
            .send()
    };
    let good = json!({"name": "erp", "scopes": ["orders:read"]});
    for role in [Role::Staff, Role::Customer] {
        let subject = if role == Role::Customer {
            ALICE
        } else {
            "staff-1"
        };
        let response = create(token(role, subject), good.clone()).await.unwrap();
        assert_problem(response, 403, "forbidden").await;
    }
    let no_token = app.post("/v1/api-keys").json(&good).send().await.unwrap();
    assert_problem(no_token, 401, "unauthorized").await;
    for (body, field) in [
        (
            json!({"name": "erp", "scopes": ["orders:delete"]}),
            "scopes",
        ),
        (json!({"name": "erp", "scopes": []}), "scopes"),
        (json!({"name": "  ", "scopes": ["orders:read"]}), "name"),
        (
            json!({"name": "x".repeat(101), "scopes": ["orders:read"]}),
            "name",
        ),
        (
            json!({"name": "a\u{7}b", "scopes": ["orders:read"]}),
            "name",
        ),
    ] {
        let response = create(admin(), body.clone()).await.unwrap();
        let problem = assert_problem(response, 422, "validation").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let unknown = create(
        admin(),
        json!({"name": "erp", "scopes": ["orders:read"], "owner": "me"}),
    )
    .await
    .unwrap();
    assert!(
        unknown.status() == 400 || unknown.status() == 422,
        "{}",
        unknown.status()
    );
    assert!(unknown.text().await.unwrap().contains("owner"));
    // A key's answer is never stored for replay, so an Idempotency-Key is refused by name.
    let replayable = app
        .post("/v1/api-keys")
        .bearer_auth(admin())
        .header("idempotency-key", "make-erp-key")
        .json(&good)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(replayable, 400, "invalid-parameter").await;
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    // Nothing above made a key.
    let listed: Value = app.as_admin(Method::GET, "/v1/api-keys").await;
    assert_eq!(listed["data"], json!([]));
    let missing = app
        .get("/v1/api-keys/0193a1a0-0000-7000-8000-000000000999")
        .bearer_auth(admin())
        .send()
        .await
        .unwrap();
    assert_problem(missing, 404, "not-found").await;
    let not_uuid = app
        .get("/v1/api-keys/nope")
        .bearer_auth(admin())
        .send()
        .await
        .unwrap();
    assert_problem(not_uuid, 400, "invalid-parameter").await;
}

async fn a_wrong_or_unknown_key_gets_one_answer(app: TestApp) {
    let key = app.make_key(&["orders:read"]).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = if key.ends_with('A') { "B" } else { "A" };
    let wrong_secret = format!("{}{last}", &key[..key.len() - 1]);
    let unknown_id = format!("ordo_sk_{}{}", "0".repeat(32), &key[40..]);
    let mut details = Vec::new();
    for bad in [
        wrong_secret,
        unknown_id,
        format!("{key}x"),
        "ordo_sk_".to_owned(),
    ] {
        let response = app
            .get("/v1/orders")
            .bearer_auth(&bad)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 401, "unauthorized").await;
        details.push(problem["detail"].as_str().unwrap().to_owned());
    }
    assert!(
        details.iter().all(|detail| detail == &details[0]),
        "{details:?}"
    );
    assert!(!details[0].contains("ordo_sk_"));
}
