//! The error answers routes share, declared once for the OpenAPI document. A route lists the
//! sets that apply to it, and writes inline only the answers whose meaning is its own (a
//! declined payment, a status the order cannot move from...).
#![allow(
    dead_code,
    reason = "never built: each variant is one documented answer, and errors are ApiErrors"
)]

use utoipa::IntoResponses;

use crate::problem::ProblemDetails;

/// Every route under `/v1`: who is calling, whether they may, and the server's own limits.
#[derive(IntoResponses)]
pub(crate) enum Guarded {
    /// No valid bearer token: missing, expired, forged or malformed (the detail says which)
    #[response(
        status = 401,
        content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "`Bearer`, with the error when a token was sent"))
    )]
    Unauthorized(ProblemDetails),
    /// The caller's role may not do this
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(ProblemDetails),
    /// Over the rate limit, or the caller's share of requests in flight; retry after `Retry-After`
    #[response(status = 429, content_type = "application/problem+json")]
    TooMany(ProblemDetails),
    /// The request took longer than the server allows; nothing changed unless the order says so
    #[response(status = 504, content_type = "application/problem+json")]
    Timeout(ProblemDetails),
}

/// A route that reads a JSON body.
#[derive(IntoResponses)]
pub(crate) enum JsonBody {
    /// Malformed request: the JSON, a path id, a query parameter or a header (`errors` names it)
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(ProblemDetails),
    /// Body too large
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(ProblemDetails),
    /// Not JSON
    #[response(status = 415, content_type = "application/problem+json")]
    NotJson(ProblemDetails),
    /// The body did not arrive within the server's body timeout
    #[response(status = 408, content_type = "application/problem+json")]
    SlowBody(ProblemDetails),
}

/// A route about one order, named in its path.
#[derive(IntoResponses)]
pub(crate) enum OneOrder {
    /// No such order (or one the caller may not see), or deleted
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(ProblemDetails),
}

/// A change that may name the version it expects (`If-Match`).
#[derive(IntoResponses)]
pub(crate) enum Versioned {
    /// If-Match names no current ETag: the order (or product) changed since it was read, or the value is
    /// not an ETag of ours (`current_etag` has the one to send)
    #[response(status = 412, content_type = "application/problem+json")]
    Stale(ProblemDetails),
}

/// A change that must name the version it expects.
#[derive(IntoResponses)]
pub(crate) enum VersionRequired {
    /// If-Match missing, or `*`
    #[response(status = 428, content_type = "application/problem+json")]
    Unversioned(ProblemDetails),
}

/// Every route that reaches storage.
#[derive(IntoResponses)]
pub(crate) enum Unavailable {
    /// Storage (or the payment gateway) unavailable; nothing changed; retry after `Retry-After`
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(ProblemDetails),
}
