//! `/v1/orders/{id}/payments`: payments taken outside a gateway, recorded by staff.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use ordo_domain::{PaymentDraft, amount_serde};
use ordo_service::{Caller, OrderService};
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::orders::visible_first;
use super::responses::{Guarded, JsonBody, OneOrder, Unavailable, Versioned};
use crate::dto::OrderBody;
use crate::error::ApiError;
use crate::extract::{IfMatch, Json, OrderPath};
use crate::problem::{Problem, ProblemDetails};

pub(crate) fn router() -> OpenApiRouter<OrderService> {
    OpenApiRouter::new().routes(routes!(record_payment))
}

/// A payment that arrived outside a gateway.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PaymentRequest {
    /// How much, in the order's currency: more than zero, at most what is still due.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "50.00", pattern = "^[0-9]{1,12}([.][0-9]{1,4})?$")]
    pub amount: Decimal,
    /// `bank_transfer`, `cash`, `cheque`, `card_terminal` or `other`.
    #[schema(
        example = "bank_transfer",
        pattern = "^(bank_transfer|cash|cheque|card_terminal|other)$"
    )]
    pub method: String,
    /// The bank's, the receipt's or the cheque's reference.
    #[schema(
        max_length = 200,
        example = "TRX-2026-11-0042",
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub reference: Option<String>,
    /// When the money arrived (RFC 3339); now when not given.
    pub received_at: Option<DateTime<Utc>>,
}

/// Record a payment of an order paid manually (a bank transfer arrived, cash was taken).
///
/// Several partial payments add up: the payment status moves `unpaid` → `partially_paid` →
/// `paid`. The payment that pays in full a processing order whose units are all fulfilled
/// completes it.
#[utoipa::path(
    post, path = "/v1/orders/{id}/payments", tag = "orders",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("If-Match" = Option<String>, Header, nullable = false, example = "\"3\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "Optional: record only at this ETag of the order"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes retries safe: a repeat with the same key and body gets the first response again; 1 to 255 printable ASCII characters"),
    ),
    request_body = PaymentRequest,
    responses(
        (status = 201, description = "Recorded: the order with its payments", body = OrderBody, headers(("ETag" = String, description = "The order's new version"))),
        (status = 409, description = "The order is paid through the gateway, paid already, cancelled, or holds 100 payments (`payment-state`); a payment call is in progress; or a request with this Idempotency-Key is in progress", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "An amount of zero, too precise, or more than is due; a method not on the list; `received_at` in the future; an Idempotency-Key that already recorded another payment", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, OneOrder, Versioned, Unavailable,
    )
)]
async fn record_payment(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    OrderPath(id): OrderPath,
    IfMatch(expected): IfMatch,
    body: Result<Json<PaymentRequest>, Problem>,
) -> Result<Response, ApiError> {
    let body = visible_first(&service, &caller, id, body).await?.0;
    let draft = PaymentDraft {
        amount: body.amount,
        method: body.method,
        reference: body.reference,
        received_at: body.received_at,
    };
    let order = service
        .record_payment(&caller, id, &draft, expected)
        .await?;
    let body = OrderBody::new(&order, &caller);
    Ok(super::fulfillments::part_response(
        StatusCode::CREATED,
        body,
        &order,
        None,
    ))
}
