//! RFC 9457 problem details: every error ordo sends has this shape.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::request_id::current_request_id;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Declares [`ProblemKind`] from one table: each kind's `type` slug, status and title are
/// written once, here.
macro_rules! problem_kinds {
    ($($kind:ident => ($slug:literal, $status:ident, $title:literal)),* $(,)?) => {
        /// Every kind of problem ordo answers with. Its `type` URI, status and title come from
        /// the kind alone, so one kind never answers two ways.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemKind {
            $(#[doc = $title] $kind,)*
        }

        impl ProblemKind {
            /// Every kind.
            pub const ALL: &[Self] = &[$(Self::$kind,)*];

            /// The last segment of its `type` URI (`validation`).
            pub const fn slug(self) -> &'static str {
                match self { $(Self::$kind => $slug,)* }
            }

            /// Its HTTP status.
            pub const fn status(self) -> StatusCode {
                match self { $(Self::$kind => StatusCode::$status,)* }
            }

            /// Its short summary.
            pub const fn title(self) -> &'static str {
                match self { $(Self::$kind => $title,)* }
            }
        }
    };
}

problem_kinds! {
    MalformedRequest => ("malformed-request", BAD_REQUEST, "The request is malformed"),
    InvalidParameter => ("invalid-parameter", BAD_REQUEST, "A parameter is invalid"),
    Unauthorized => ("unauthorized", UNAUTHORIZED, "Authentication required"),
    PaymentDeclined => ("payment-declined", PAYMENT_REQUIRED, "The payment was declined"),
    Forbidden => ("forbidden", FORBIDDEN, "Forbidden"),
    NotFound => ("not-found", NOT_FOUND, "Not found"),
    MethodNotAllowed => ("method-not-allowed", METHOD_NOT_ALLOWED, "Method not allowed"),
    BodyTimeout => ("body-timeout", REQUEST_TIMEOUT, "The body took too long"),
    IllegalTransition => ("illegal-transition", CONFLICT, "The order cannot make that move"),
    PaymentState => ("payment-state", CONFLICT, "The payment does not allow this"),
    PaymentInProgress => ("payment-in-progress", CONFLICT, "A payment call is in progress"),
    DetailLocked => ("detail-locked", CONFLICT, "The detail can no longer be changed"),
    IdempotencyKeyInUse => ("idempotency-key-in-use", CONFLICT, "A request with this key is in progress"),
    StaleVersion => ("stale-version", PRECONDITION_FAILED, "It has changed since it was read"),
    BodyTooLarge => ("body-too-large", PAYLOAD_TOO_LARGE, "The body is too large"),
    UnsupportedMediaType => ("unsupported-media-type", UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"),
    SkuTaken => ("sku-taken", CONFLICT, "Another product has this SKU"),
    CatalogChanged => ("catalog-changed", CONFLICT, "The price book changed meanwhile"),
    CodeTaken => ("code-taken", CONFLICT, "Another discount code has this name"),
    CodeUsedUp => ("discount-code-used-up", CONFLICT, "The discount code is used up"),
    DeliveryInProgress => ("delivery-in-progress", CONFLICT, "The delivery is being sent"),
    FulfillmentState => ("fulfillment-state", CONFLICT, "The order or fulfillment does not allow this"),
    OrderShipped => ("order-shipped", CONFLICT, "Part of the order has shipped"),
    ReturnState => ("return-state", CONFLICT, "The order or return does not allow this"),
    Validation => ("validation", UNPROCESSABLE_ENTITY, "The request breaks a rule"),
    SetByShop => ("set-by-shop", UNPROCESSABLE_ENTITY, "Set by the shop"),
    TooManyProducts => ("too-many-products", UNPROCESSABLE_ENTITY, "Too many products in one request"),
    AmountTooLarge => ("amount-too-large", UNPROCESSABLE_ENTITY, "The order's amounts are too large"),
    UnsupportedTransition => ("unsupported-transition", UNPROCESSABLE_ENTITY, "That status is not reached this way"),
    IdempotencyKeyReused => ("idempotency-key-reused", UNPROCESSABLE_ENTITY, "This key was used for another request"),
    PreconditionRequired => ("precondition-required", PRECONDITION_REQUIRED, "If-Match is required"),
    RateLimited => ("rate-limited", TOO_MANY_REQUESTS, "Too many requests"),
    TooManyInFlight => ("too-many-in-flight", TOO_MANY_REQUESTS, "Too many requests in flight for this caller"),
    Internal => ("internal", INTERNAL_SERVER_ERROR, "Internal server error"),
    Unavailable => ("unavailable", SERVICE_UNAVAILABLE, "Temporarily unavailable"),
    PaymentUnavailable => ("payment-unavailable", SERVICE_UNAVAILABLE, "The payment gateway did not answer"),
    Overloaded => ("overloaded", SERVICE_UNAVAILABLE, "Too many requests in flight"),
    NotReady => ("not-ready", SERVICE_UNAVAILABLE, "Not ready"),
    Timeout => ("timeout", GATEWAY_TIMEOUT, "The request took too long"),
}

/// An error response. Boxed, so results carrying one stay small.
#[derive(Debug, Clone)]
pub struct Problem(Box<ProblemDetails>);

impl std::ops::Deref for Problem {
    type Target = ProblemDetails;

    fn deref(&self) -> &ProblemDetails {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemDetails {
        &mut self.0
    }
}

/// An error, as the client sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Problem)]
#[schema(example = json!({
    "type": "https://ordo.dev/problems/validation",
    "title": "The request breaks a rule",
    "status": 422,
    "detail": "2 fields are invalid",
    "instance": "urn:request:0193a1a0-0000-7000-8000-000000000001",
    "errors": [{ "field": "items[0].quantity", "message": "must be between 1 and 10000" }]
}))]
pub struct ProblemDetails {
    /// A stable URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// The request id, as `urn:request:<id>`: quote it when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// For validation problems: each field that is wrong, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// For conflicts with the order's state: its current status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    /// For conflicts with the order's state: the statuses it may move to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_next: Option<Vec<String>>,
    /// For payment problems: the order concerned (a declined order is stored, payment failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// For stale versions: the current ETag (of the order or product).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_etag: Option<String>,
    #[serde(skip)]
    retry_after_seconds: Option<u32>,
}

/// One invalid field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field's path in the request, such as `items[3].quantity`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl Problem {
    /// A problem of `kind`, saying what went wrong this time in `detail`.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self(Box::new(ProblemDetails {
            kind: format!("https://ordo.dev/problems/{}", kind.slug()),
            title: kind.title().to_owned(),
            status: kind.status().as_u16(),
            detail: detail.into(),
            instance: current_request_id().map(|id| format!("urn:request:{id}")),
            errors: Vec::new(),
            current_status: None,
            allowed_next: None,
            current_etag: None,
            order_id: None,
            retry_after_seconds: None,
        }))
    }

    /// Adds invalid fields.
    #[must_use]
    pub fn with_errors(mut self, errors: Vec<FieldProblem>) -> Self {
        self.errors = errors;
        self
    }

    /// The same problem about a part of a larger request: each field becomes `{prefix}.{field}`
    /// (`{prefix}` alone for the whole part), and the detail names the part.
    #[must_use]
    pub fn prefixed(mut self, prefix: &str) -> Self {
        // A problem about the part as a whole (its root, `.`) is about the prefix alone.
        self.errors
            .retain(|error| !error.field.is_empty() && error.field != ".");
        if self.errors.is_empty() {
            let message = self.detail.clone();
            self.errors.push(FieldProblem {
                field: prefix.to_owned(),
                message,
            });
        } else {
            for error in &mut self.errors {
                error.field = format!("{prefix}.{}", error.field);
            }
        }
        self.detail = format!("{prefix}: {}", self.detail);
        self
    }

    /// Asks the client to wait before retrying (`Retry-After`).
    #[must_use]
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ProblemKind::MalformedRequest, detail)
    }

    /// 400 naming one field of the query string or path.
    pub fn bad_field(field: &str, message: impl Into<String>) -> Self {
        Self::one_field(ProblemKind::InvalidParameter, field, message)
    }

    /// 422 naming one field of the body that breaks a rule.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::one_field(ProblemKind::Validation, field, message)
    }

    /// A problem of `kind` about one field: its path and message, in `errors` and the detail.
    fn one_field(kind: ProblemKind, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(kind, format!("{field}: {message}")).with_errors(vec![FieldProblem {
            field: field.to_owned(),
            message,
        }])
    }

    /// 404: no such resource (or not the caller's).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ProblemKind::NotFound, detail)
    }

    /// 500: a bug. Says nothing of the cause; the caller logs it.
    pub fn internal() -> Self {
        Self::new(
            ProblemKind::Internal,
            "something went wrong on our side; it has been logged",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&*self.0).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{Problem, ProblemKind};

    #[test]
    fn every_kind_has_its_own_type_an_error_status_and_a_title() {
        let mut slugs = HashSet::new();
        for kind in ProblemKind::ALL {
            assert!(slugs.insert(kind.slug()), "{kind:?} shares its type");
            assert!(kind.status().is_client_error() || kind.status().is_server_error());
            assert!(!kind.title().is_empty());
            let problem = Problem::new(*kind, "why");
            assert_eq!(
                problem.kind,
                format!("https://ordo.dev/problems/{}", kind.slug())
            );
            assert_eq!(problem.status, kind.status().as_u16());
        }
    }

    #[test]
    fn a_problem_about_one_field_names_it_in_errors_and_detail() {
        let problem = Problem::invalid_field("reason", "must not be empty");
        assert_eq!(problem.status, 422);
        assert_eq!(problem.detail, "reason: must not be empty");
        assert_eq!(problem.errors.len(), 1);
        assert_eq!(problem.errors[0].field, "reason");
    }
}
