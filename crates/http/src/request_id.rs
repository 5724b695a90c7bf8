//! The request id: taken from `x-request-id` or generated, echoed back, and available to
//! problem bodies while the request runs.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

/// The header carrying the request id.
pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being served, if any.
pub(crate) fn current_request_id() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Middleware: keeps a well-formed incoming id (1 to 128 visible ASCII characters), or makes
/// one; runs the request with it in scope; returns it in the response, with `Connection: close`
/// when the answer came before the body was read (see [`crate::body::track_unread`]).
pub(crate) async fn request_id(request: Request, next: Next) -> Response {
    let (mut request, unread) = crate::body::track_unread(request);
    let incoming = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned);
    let id = incoming.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let header = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    request
        .headers_mut()
        .insert(REQUEST_ID.clone(), header.clone());
    // Every log line of the request carries its id.
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = CURRENT.scope(id, next.run(request)).instrument(span).await;
    response.headers_mut().insert(REQUEST_ID.clone(), header);
    crate::body::close_if_unread(&mut response, unread.as_deref());
    response
}
