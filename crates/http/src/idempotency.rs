//! `Idempotency-Key` on every POST (Stripe's semantics): the first request with a key runs and
//! its final response is kept; a repeat gets that response again, byte for byte, with
//! `Idempotent-Replayed: true`, and runs nothing.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ordo_domain::OrderId;
use ordo_service::{Caller, Claim, IdempotencyKey, Idempotent, OrderService, StoredResponse};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::error::ApiError;
use crate::problem::Problem;
use crate::problem::ProblemKind;

/// The request header carrying the key.
pub(crate) static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The response header marking a replay.
pub(crate) static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The response headers kept with a finished request (the request id is per request).
const KEPT_HEADERS: [HeaderName; 5] = [
    header::CONTENT_TYPE,
    header::LOCATION,
    header::ETAG,
    header::RETRY_AFTER,
    header::ALLOW,
];

/// Where this middleware leaves the claim its request holds, for the timeout around it to
/// release if it cuts the request (dropping it, and with it this middleware's own release).
#[derive(Debug, Clone, Default)]
pub(crate) struct ClaimSlot(std::sync::Arc<std::sync::Mutex<Option<Claim>>>);

impl ClaimSlot {
    fn hold(&self, claim: Claim) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(claim);
        }
    }

    /// The claim still held, if any; taking it means its request will not finish it.
    pub(crate) fn take(&self) -> Option<Claim> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// What the middleware needs.
#[derive(Clone)]
pub(crate) struct KeyState {
    pub(crate) service: OrderService,
    pub(crate) body_limit: usize,
}

/// Middleware over the API routes.
pub(crate) async fn idempotency(
    State(state): State<KeyState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(header) = request.headers().get(&IDEMPOTENCY_KEY) else {
        return next.run(request).await;
    };
    if let Some(refusal) = answer_holds_a_secret(request.uri().path()) {
        return Problem::bad_field("Idempotency-Key", refusal).into_response();
    }
    let Some(key) = header
        .to_str()
        .ok()
        .and_then(|text| IdempotencyKey::parse(text).ok())
    else {
        return Problem::bad_field(
            "Idempotency-Key",
            "must be 1 to 255 printable ASCII characters",
        )
        .into_response();
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, state.body_limit).await else {
        return Problem::new(
            ProblemKind::BodyTooLarge,
            format!("the body may be at most {} bytes", state.body_limit),
        )
        .into_response();
    };
    // Keys are the caller's own: another caller's identical key is another request.
    let Some(caller) = parts.extensions.get::<Caller>() else {
        return Problem::internal().into_response();
    };
    let scope = caller.scope();
    let path = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let fingerprint = fingerprint(parts.method.as_str(), path, &scope, &bytes);
    let claim = match state
        .service
        .begin_idempotent(&scope, &key, fingerprint)
        .await
    {
        Ok(Idempotent::Run(claim)) => claim,
        Ok(Idempotent::Replay(stored)) => {
            ::metrics::counter!("ordo_idempotent_replays_total").increment(1);
            return replay(stored);
        }
        Err(error) => return ApiError::from(error).into_response(),
    };
    let slot = parts.extensions.get::<ClaimSlot>().cloned();
    if let Some(slot) = &slot {
        slot.hold(claim.clone());
    }
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(claim.clone());
    let response = next.run(request).await;
    let response = finish(&state.service, &claim, response).await;
    // Finished: the timeout has nothing left to release.
    if let Some(slot) = slot {
        slot.take();
    }
    response
}

/// Why a POST to `path` takes no key, if it does not: its answer holds a secret, shown once,
/// that keeping the answer for a replay would store in the idempotency table. A new API key is
/// stored nowhere else but as a hash; a webhook endpoint's secret is kept with the endpoint
/// alone (where rotating it replaces it), never in a copy that outlives it.
fn answer_holds_a_secret(path: &str) -> Option<&'static str> {
    if path.starts_with("/v1/api-keys") {
        return Some(
            "not accepted when making an API key: its answer holds the key, which ordo never stores",
        );
    }
    let endpoint = path.strip_prefix("/v1/webhook-endpoints")?;
    let rotation = endpoint
        .strip_prefix('/')
        .and_then(|rest| rest.strip_suffix("/rotate-secret"))
        .is_some_and(|id| !id.contains('/'));
    (endpoint.is_empty() || rotation).then_some(
        "not accepted when adding a webhook endpoint or rotating its secret: the answer holds the secret, which ordo keeps with the endpoint only",
    )
}

/// Keeps a final response under the claim and returns it. 5xx answers and those asking to come
/// back later (`Retry-After`: a payment call in flight, a rate limit) are not final: the claim
/// is released so a retry with the same key runs again rather than replaying "try later".
async fn finish(service: &OrderService, claim: &Claim, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        service.abandon_idempotent(claim).await;
        return Problem::internal().into_response();
    };
    if parts.status.is_server_error() || parts.headers.contains_key(header::RETRY_AFTER) {
        service.abandon_idempotent(claim).await;
    } else {
        let headers = KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let value = parts.headers.get(name)?.to_str().ok()?;
                Some((name.as_str().to_owned(), value.to_owned()))
            })
            .collect();
        let stored = StoredResponse {
            status: parts.status.as_u16(),
            headers,
            body: bytes.to_vec(),
        };
        // The order the answer is about (its handler says so), so an erasure finds this copy.
        let claim = Claim {
            order_id: claim
                .order_id
                .or_else(|| parts.extensions.get::<OrderId>().copied()),
            ..claim.clone()
        };
        if let Err(error) = service.finish_idempotent(&claim, &stored).await {
            // The work is done and answered; a retry after the lease resumes or re-runs safely.
            tracing::warn!(error = %error, "could not keep an idempotent response");
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The kept response, as it was first sent. A stored status or header that does not parse is
/// corrupt storage: a 500 (logged), never a made-up answer the first request did not get.
fn replay(stored: StoredResponse) -> Response {
    let Ok(status) = StatusCode::from_u16(stored.status) else {
        tracing::error!(
            status = stored.status,
            "a kept idempotent response has an invalid status"
        );
        return Problem::internal().into_response();
    };
    let mut response = (status, Bytes::from(stored.body)).into_response();
    let headers = response.headers_mut();
    for (name, value) in stored.headers {
        let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value))
        else {
            tracing::error!("a kept idempotent response has an invalid header");
            return Problem::internal().into_response();
        };
        headers.insert(name, value);
    }
    headers.insert(
        IDEMPOTENT_REPLAYED.clone(),
        HeaderValue::from_static("true"),
    );
    response
}

/// SHA-256 of the method, path and query, caller, and body, with JSON bodies in a canonical
/// form (keys sorted, no insignificant white space) so formatting does not count. Not
/// `serde_json::to_vec` of the parsed value alone: its key order is whatever `serde_json::Map`
/// is, sorted today but insertion order as soon as any crate in the tree turns on `serde_json`'s
/// `preserve_order` feature, which would silently make reordered bodies other requests.
fn fingerprint(method: &str, path: &str, caller: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [method.as_bytes(), path.as_bytes(), caller.as_bytes()] {
        hasher.update(part);
        hasher.update([0]);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => {
            let mut canonical = String::with_capacity(body.len());
            write_canonical(&value, &mut canonical);
            hasher.update(canonical.as_bytes());
        }
        Err(_) => hasher.update(body),
    }
    hex::encode(hasher.finalize())
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::{answer_holds_a_secret, fingerprint, replay};
    use ordo_service::StoredResponse;

    #[test]
    fn only_the_posts_whose_answer_holds_a_secret_refuse_a_key() {
        for path in [
            "/v1/api-keys",
            "/v1/webhook-endpoints",
            "/v1/webhook-endpoints/0193a1a0-0000-7000-8000-000000000001/rotate-secret",
        ] {
            assert!(answer_holds_a_secret(path).is_some(), "{path}");
        }
        for path in [
            "/v1/orders",
            "/v1/webhook-endpoints/0193a1a0-0000-7000-8000-000000000001/deliveries/0193a1a0-0000-7000-8000-000000000002/redeliver",
            "/v1/webhook-endpoints/a/b/rotate-secret",
            "/v1/webhook-endpoints-x",
        ] {
            assert!(answer_holds_a_secret(path).is_none(), "{path}");
        }
    }

    #[test]
    fn a_kept_response_with_a_corrupt_status_or_header_is_a_500_not_a_replay() {
        let kept = |status: u16, headers: Vec<(String, String)>| StoredResponse {
            status,
            headers,
            body: b"{}".to_vec(),
        };
        let good = replay(kept(201, vec![("etag".into(), "\"2\"".into())]));
        assert_eq!(good.status(), 201);
        assert_eq!(good.headers()["idempotent-replayed"], "true");
        for corrupt in [
            kept(99, vec![]),
            kept(1000, vec![]),
            kept(201, vec![("bad header".into(), "x".into())]),
            kept(201, vec![("etag".into(), "a\nb".into())]),
        ] {
            let answer = replay(corrupt);
            assert_eq!(answer.status(), 500);
            assert!(answer.headers().get("idempotent-replayed").is_none());
        }
    }

    #[test]
    fn formatting_and_key_order_do_not_change_the_fingerprint() {
        let a = fingerprint(
            "POST",
            "/v1/orders",
            "c",
            br#"{"a":1,"b":[1,{"y":2,"x":"3"}]}"#,
        );
        let b = fingerprint(
            "POST",
            "/v1/orders",
            "c",
            b"{ \"b\": [1, {\"x\": \"3\", \"y\": 2}],\n \"a\": 1 }",
        );
        assert_eq!(a, b);
    }

    #[test]
    fn anything_else_does() {
        let base = fingerprint("POST", "/v1/orders", "c", br#"{"a":1}"#);
        for other in [
            fingerprint("POST", "/v1/orders", "c", br#"{"a":2}"#),
            fingerprint("POST", "/v1/orders", "c", br#"{"a":"1"}"#),
            fingerprint("POST", "/v1/orders/preview", "c", br#"{"a":1}"#),
            fingerprint("POST", "/v1/orders", "d", br#"{"a":1}"#),
        ] {
            assert_ne!(base, other);
        }
    }
}
