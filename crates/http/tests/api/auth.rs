//! Authentication and authorization through the real app: every route × every role × own or
//! another customer's order, on both databases; and every kind of bad token.

use std::sync::Arc;

use base64::Engine as _;
use ordo_http::{Authentication, HttpConfig, TokenSigner, TokenVerifier};
use ordo_service::{CaptureMode, Clock as _, Role, ServiceConfig, SystemClock};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem, customer_body};

pub(crate) const SECRET: &[u8] = b"a test secret that is long enough to sign";
pub(crate) const ALICE: &str = "0193a1a0-0000-7000-8000-00000000a11c";
pub(crate) const BOB: &str = "0193a1a0-0000-7000-8000-000000000b0b";

fn now() -> u64 {
    u64::try_from(SystemClock.now().timestamp()).unwrap()
}

pub(crate) fn token(role: Role, subject: &str) -> String {
    TokenSigner::hs256(SECRET, None, None)
        .unwrap()
        .mint(role, subject, now(), 3600)
        .unwrap()
}

fn http_with(verifier: TokenVerifier) -> HttpConfig {
    HttpConfig {
        authentication: Authentication::Required(Arc::new(verifier)),
        ..HttpConfig::default()
    }
}

pub(crate) fn secured() -> HttpConfig {
    http_with(TokenVerifier::hs256(SECRET, None, None).unwrap())
}

/// Orders are captured when placed, so refunds are possible in every cell.
fn captured() -> ServiceConfig {
    ServiceConfig {
        capture: CaptureMode::Immediately,
        ..ServiceConfig::default()
    }
}

/// Who sends a request in a cell of the matrix.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// No token.
    Nobody,
    /// Alice, on her own order.
    Owner,
    /// Bob, on Alice's order.
    Stranger,
    Staff,
    Admin,
}

impl Who {
    fn token(self) -> Option<String> {
        match self {
            Self::Nobody => None,
            Self::Owner => Some(token(Role::Customer, ALICE)),
            Self::Stranger => Some(token(Role::Customer, BOB)),
            Self::Staff => Some(token(Role::Staff, "staff-1")),
            Self::Admin => Some(token(Role::Admin, "admin-1")),
        }
    }
}

fn as_who(request: RequestBuilder, who: Who) -> RequestBuilder {
    match who.token() {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Alice's order, placed by an admin: its id and ETag.
async fn alices_order(app: &TestApp) -> (String, String) {
    let response = app
        .post("/v1/orders")
        .bearer_auth(token(Role::Admin, "seed"))
        .json(&customer_body(ALICE))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    (body["id"].as_str().unwrap().to_owned(), etag)
}

/// Every route, as (name, expected status for Nobody, Owner, Stranger, Staff, Admin).
const MATRIX: [(&str, [u16; 5]); 8] = [
    ("create", [401, 201, 403, 201, 201]),
    ("preview", [401, 200, 403, 200, 200]),
    ("get", [401, 200, 404, 200, 200]),
    ("list", [401, 200, 403, 200, 200]),
    ("process", [401, 403, 404, 200, 200]),
    ("cancel", [401, 200, 404, 200, 200]),
    ("refund", [401, 403, 404, 201, 201]),
    ("delete", [401, 403, 404, 403, 204]),
];

fn request_for(app: &TestApp, route: &str, id: &str, etag: &str) -> RequestBuilder {
    let order = format!("/v1/orders/{id}");
    match route {
        "create" => app.post("/v1/orders").json(&customer_body(ALICE)),
        "preview" => app.post("/v1/orders/preview").json(&customer_body(ALICE)),
        "get" => app.get(&order),
        "list" => app.get(&format!("/v1/orders?customer_id={ALICE}")),
        "process" => app
            .post(&format!("{order}/transitions"))
            .header("if-match", etag)
            .json(&json!({ "to": "processing" })),
        "cancel" => app
            .post(&format!("{order}/cancel"))
            .header("if-match", etag)
            .json(&json!({ "reason": "changed my mind" })),
        "refund" => app
            .post(&format!("{order}/refunds"))
            .json(&json!({ "amount": "1.00", "reason": "damaged" })),
        "delete" => app.request(Method::DELETE, &order),
        other => panic!("no route {other}"),
    }
}

async fn every_route_answers_every_role_as_the_policy_says(app: TestApp) {
    let everyone = [
        Who::Nobody,
        Who::Owner,
        Who::Stranger,
        Who::Staff,
        Who::Admin,
    ];
    let mut failures = Vec::new();
    for (route, expected) in MATRIX {
        for (who, expected) in everyone.into_iter().zip(expected) {
            let (id, etag) = alices_order(&app).await;
            let response = as_who(request_for(&app, route, &id, &etag), who)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            if status != expected {
                failures.push(format!(
                    "{route} as {who:?}: {status}, expected {expected}: {text}"
                ));
                continue;
            }
            if status >= 400 {
                // A refusal says nothing of the order and changes nothing.
                assert!(
                    !text.contains(&id),
                    "{route} as {who:?} leaks the order: {text}"
                );
                let after = app
                    .get(&format!("/v1/orders/{id}"))
                    .bearer_auth(token(Role::Admin, "check"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    after.headers()["etag"].to_str().unwrap(),
                    etag,
                    "{route} as {who:?}"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

crate::app::on_both_databases!(
    with super::captured(), super::secured();
    every_route_answers_every_role_as_the_policy_says,
    a_customer_never_sees_another_customers_data,
);

/// Bob tries Alice's data by id, by list filter, by cursor and by idempotency key.
async fn a_customer_never_sees_another_customers_data(app: TestApp) {
    let (alice, bob) = (Who::Owner, Who::Stranger);
    let mut alices = Vec::new();
    for _ in 0..3 {
        alices.push(alices_order(&app).await.0);
    }
    let bobs = as_who(app.post("/v1/orders"), bob)
        .json(&customer_body(BOB))
        .send()
        .await
        .unwrap();
    assert_eq!(bobs.status(), 201);
    let bobs: Value = bobs.json().await.unwrap();

    for id in &alices {
        let response = as_who(app.get(&format!("/v1/orders/{id}")), bob)
            .send()
            .await
            .unwrap();
        assert_problem(response, 404, "not-found").await;
    }
    for query in [
        format!("customer_id={ALICE}"),
        format!("customer_id={ALICE}&status=pending"),
        format!("customer_id={ALICE}&limit=100"),
    ] {
        let response = as_who(app.get(&format!("/v1/orders?{query}")), bob)
            .send()
            .await
            .unwrap();
        assert_problem(response, 403, "forbidden").await;
    }
    // A cursor from Alice's pages, replayed by Bob on his own list, still yields only his.
    let page: Value = as_who(
        app.get(&format!("/v1/orders?customer_id={ALICE}&limit=1")),
        alice,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let cursor = page["next_cursor"].as_str().unwrap();
    for path in [
        format!("/v1/orders?customer_id={BOB}&cursor={cursor}"),
        format!("/v1/orders?customer_id={BOB}"),
    ] {
        let listed: Value = as_who(app.get(&path), bob)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for order in listed["data"].as_array().unwrap() {
            assert_eq!(order["customer_id"], BOB, "{listed}");
        }
    }
    // The same Idempotency-Key is each caller's own: Bob's request is never answered with
    // Alice's stored response.
    let key = "checkout-shared-key";
    let first = as_who(app.post("/v1/orders"), alice)
        .header("idempotency-key", key)
        .json(&customer_body(ALICE))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let second = as_who(app.post("/v1/orders"), bob)
        .header("idempotency-key", key)
        .json(&customer_body(BOB))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 201);
    assert!(second.headers().get("idempotent-replayed").is_none());
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["customer_id"], BOB);
    assert_ne!(second["id"], bobs["id"]);
}

/// A token with these header and claims, signed with `key` (or unsigned for `alg: none`).
fn forged(header: &Value, claims: &Value, key: &[u8]) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    if header["alg"] == "none" {
        let encode = |value: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        return format!("{}.{}.", encode(header), encode(claims));
    }
    let mut jwt = Header::new(Algorithm::HS256);
    jwt.typ = header["typ"].as_str().map(str::to_owned);
    jsonwebtoken::encode(&jwt, claims, &EncodingKey::from_secret(key)).unwrap()
}

const UNACCEPTED: &str = "it is not signed with an accepted algorithm (this server accepts HS256)";
const MALFORMED: &str = "its claims are malformed (`sub`, `role` and `exp` are required)";
const SUBJECT: &str =
    "the `sub` claim must be 1 to 255 characters, none of them a control character";

/// Asserts a 401 problem with a bearer challenge; returns the problem.
async fn assert_unauthorized(app: &TestApp, authorization: Option<&str>, case: &str) -> Value {
    let mut request = app.get(&format!("/v1/orders?customer_id={ALICE}"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 401, "{case}");
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer realm=\"ordo\""),
        "{case}: {challenge}"
    );
    let problem = assert_problem(response, 401, "unauthorized").await;
    let token = authorization.map(|value| value.rsplit(' ').next().unwrap_or(value));
    if let Some(token) = token.filter(|token| token.len() > 12) {
        assert!(
            !problem.to_string().contains(token),
            "{case}: the token is echoed"
        );
    }
    problem
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::too_many_lines,
    reason = "one list of cases, read top to bottom"
)]
async fn forged_expired_unsigned_and_malformed_tokens_are_all_refused() {
    let app = crate::app::sqlite_with(ServiceConfig::default(), secured()).await;
    let valid = json!({ "sub": ALICE, "role": "customer", "exp": now() + 600 });
    let header = json!({ "alg": "HS256", "typ": "JWT" });
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = valid.clone();
        change(&mut claims);
        forged(&header, &claims, SECRET)
    };
    // The control: the same construction with nothing wrong is accepted.
    let good = forged(&header, &valid, SECRET);
    let accepted = app
        .get(&format!("/v1/orders?customer_id={ALICE}"))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);

    // Each case, and the words the client reads: what is wrong, never the token or the key.
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "another key",
            forged(&header, &valid, b"another secret that is long enough!!"),
            "its signature does not verify",
        ),
        (
            "alg none",
            forged(&json!({ "alg": "none", "typ": "JWT" }), &valid, b""),
            UNACCEPTED,
        ),
        (
            "expired",
            with(&|c| c["exp"] = json!(now() - 3600)),
            "it has expired",
        ),
        (
            // The default clock-skew allowance is 5 s, not the JWT library's 60 s.
            "expired 20 s ago",
            with(&|c| c["exp"] = json!(now() - 20)),
            "it has expired",
        ),
        (
            "not valid for another 30 minutes",
            with(&|c| c["nbf"] = json!(now() + 1800)),
            "it is not valid yet",
        ),
        (
            "no exp",
            with(&|c| drop(c.as_object_mut().unwrap().remove("exp"))),
            MALFORMED,
        ),
        (
            "no sub",
            with(&|c| drop(c.as_object_mut().unwrap().remove("sub"))),
            MALFORMED,
        ),
        (
            "no role",
            with(&|c| drop(c.as_object_mut().unwrap().remove("role"))),
            MALFORMED,
        ),
        (
            "unknown role",
            with(&|c| c["role"] = json!("root")),
            "unknown role \"root\": expected customer, staff or admin",
        ),
        (
            "customer without an id",
            with(&|c| c["sub"] = json!("alice")),
            "a customer's `sub` must be its customer id",
        ),
        (
            "staff with an empty sub",
            with(&|c| {
                c["sub"] = json!("");
                c["role"] = json!("staff");
            }),
            SUBJECT,
        ),
        (
            "admin with a blank sub",
            with(&|c| {
                c["sub"] = json!("   ");
                c["role"] = json!("admin");
            }),
            SUBJECT,
        ),
        (
            "staff with a NUL in its sub",
            with(&|c| {
                c["sub"] = json!("ops\u{0}");
                c["role"] = json!("staff");
            }),
            SUBJECT,
        ),
        (
            "tampered claims",
            {
                let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
                parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(json!({ "sub": BOB, "role": "admin", "exp": now() + 600 }).to_string());
                parts.join(".")
            },
            "its signature does not verify",
        ),
        ("garbage", "not.a.token".to_owned(), "it is malformed"),
        (
            "empty",
            String::new(),
            "the Authorization header must be `Bearer <token>`",
        ),
    ];
    for (case, token, reason) in &cases {
        let problem = assert_unauthorized(&app, Some(&format!("Bearer {token}")), case).await;
        assert_eq!(
            problem["detail"],
            format!("the token is invalid: {reason}"),
            "{case}"
        );
    }
    assert_unauthorized(&app, None, "no header").await;
    assert_unauthorized(&app, Some(&format!("Basic {good}")), "another scheme").await;
    assert_unauthorized(&app, Some(&good), "no scheme").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_keys_verify_rs256_and_eddsa_and_refuse_algorithm_confusion() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/keys/");
    let read = |name: &str| std::fs::read(format!("{keys}{name}")).unwrap();
    let claims = json!({ "sub": "ops", "role": "staff", "exp": now() + 600 });
    for (public, private, algorithm) in [
        ("rsa-public.pem", "rsa-private.pem", Algorithm::RS256),
        (
            "ed25519-public.pem",
            "ed25519-private.pem",
            Algorithm::EdDSA,
        ),
    ] {
        let public = read(public);
        let verifier = TokenVerifier::public_key(&public, None, None).unwrap();
        let app = crate::app::sqlite_with(ServiceConfig::default(), http_with(verifier)).await;
        let signing = match algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(&read(private)).unwrap(),
            _ => EncodingKey::from_ed_pem(&read(private)).unwrap(),
        };
        let good = jsonwebtoken::encode(&Header::new(algorithm), &claims, &signing).unwrap();
        let response = app
            .get(&format!("/v1/orders?customer_id={ALICE}"))
            .bearer_auth(&good)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{algorithm:?}");
        // The classic confusion: HS256 "signed" with the public key as the HMAC secret.
        let confused = forged(&json!({ "alg": "HS256", "typ": "JWT" }), &claims, &public);
        assert_unauthorized(
            &app,
            Some(&format!("Bearer {confused}")),
            "HS256 with the public key",
        )
        .await;
        let ours = token(Role::Admin, "x");
        assert_unauthorized(&app, Some(&format!("Bearer {ours}")), "an HS256 token").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_issuer_and_audience_are_required() {
    let verifier = TokenVerifier::hs256(SECRET, Some("https://id.shop"), Some("ordo")).unwrap();
    let app = crate::app::sqlite_with(ServiceConfig::default(), http_with(verifier)).await;
    let header = json!({ "alg": "HS256", "typ": "JWT" });
    let base = json!({ "sub": "ops", "role": "staff", "exp": now() + 600 });
    let with = |extra: Value| {
        let mut claims = base.clone();
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        forged(&header, &claims, SECRET)
    };
    let good = with(json!({ "iss": "https://id.shop", "aud": "ordo" }));
    let response = app
        .get(&format!("/v1/orders?customer_id={ALICE}"))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for (case, token) in [
        ("no iss or aud", with(json!({}))),
        (
            "wrong iss",
            with(json!({ "iss": "https://evil", "aud": "ordo" })),
        ),
        (
            "wrong aud",
            with(json!({ "iss": "https://id.shop", "aud": "other" })),
        ),
        ("no aud", with(json!({ "iss": "https://id.shop" }))),
    ] {
        assert_unauthorized(&app, Some(&format!("Bearer {token}")), case).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_docs_stay_public_and_metrics_need_a_token_unless_made_public() {
    let app = crate::app::sqlite_with(ServiceConfig::default(), secured()).await;
    for path in ["/healthz", "/readyz", "/openapi.json", "/docs"] {
        assert_eq!(app.get(path).send().await.unwrap().status(), 200, "{path}");
    }
    assert_unauthorized_at(&app, "/metrics").await;
    let customer = app
        .get("/metrics")
        .bearer_auth(token(Role::Customer, ALICE))
        .send()
        .await
        .unwrap();
    assert_problem(customer, 403, "forbidden").await;
    let staff = app
        .get("/metrics")
        .bearer_auth(token(Role::Staff, "prometheus"))
        .send()
        .await
        .unwrap();
    assert_eq!(staff.status(), 200);

    let public = HttpConfig {
        protect_metrics: false,
        ..secured()
    };
    let open = crate::app::sqlite_with(ServiceConfig::default(), public).await;
    assert_eq!(open.get("/metrics").send().await.unwrap().status(), 200);
}

async fn assert_unauthorized_at(app: &TestApp, path: &str) {
    let response = app.get(path).send().await.unwrap();
    assert!(response.headers().contains_key("www-authenticate"));
    assert_problem(response, 401, "unauthorized").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_count_per_caller_not_per_address() {
    use std::num::NonZeroU32;
    let http = HttpConfig {
        rate_limit: Some(ordo_http::RateLimit {
            per_second: NonZeroU32::MIN,
            burst: NonZeroU32::new(2).unwrap(),
        }),
        ..secured()
    };
    let app = crate::app::sqlite_with(ServiceConfig::default(), http).await;
    let list = |who: Who, customer: &str| {
        as_who(app.get(&format!("/v1/orders?customer_id={customer}")), who).send()
    };
    // Both callers share one address: each still has a budget of its own.
    for _ in 0..2 {
        assert_eq!(list(Who::Owner, ALICE).await.unwrap().status(), 200);
    }
    let limited = list(Who::Owner, ALICE).await.unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, 429, "rate-limited").await;
    assert_eq!(list(Who::Stranger, BOB).await.unwrap().status(), 200);
    assert_eq!(list(Who::Staff, ALICE).await.unwrap().status(), 200);
}
