//! `/v1/orders/{id}/returns`: asking for, receiving and closing returns of shipped units.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use ordo_domain::{CancelReason, FulfillmentLineDraft, Order, OrderId, ReturnDraft, ReturnId};
use ordo_service::{Caller, OrderService, ReturnClose, ServiceError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::fulfillments::FulfillmentLineRequest;
use super::orders::visible_first;
use super::responses::{Guarded, JsonBody, OneOrder, Unavailable};
use crate::dto::{OrderBody, RefundLineView, ReturnView};
use crate::error::ApiError;
use crate::extract::{Json, OrderPath, order_in_path};
use crate::problem::{Problem, ProblemDetails};

pub(crate) fn router() -> OpenApiRouter<OrderService> {
    OpenApiRouter::new()
        .routes(routes!(create_return))
        .routes(routes!(get_return))
        .routes(routes!(move_return))
}

/// A return to ask for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReturnRequest {
    /// Which shipped units of which lines, each line once.
    #[schema(min_items = 1, max_items = 100)]
    pub lines: Vec<FulfillmentLineRequest>,
    /// Why: `damaged`, `defective`, `wrong_item`, `not_as_described`, `size_or_fit`,
    /// `unwanted`, `arrived_late` or `other` (with a `note`).
    #[schema(
        example = "size_or_fit",
        pattern = "^(damaged|defective|wrong_item|not_as_described|size_or_fit|unwanted|arrived_late|other)$"
    )]
    pub reason: String,
    /// In the customer's or the shop's words (required with `other`).
    #[schema(
        max_length = 1000,
        example = "Too small",
        pattern = "^[^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub note: Option<String>,
    /// Whether the units go back into stock when received (false when not given).
    #[serde(default)]
    pub restock: bool,
}

/// Where to move a return.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReturnMove {
    /// `received` (the units are back), or `closed` with an `outcome`.
    pub to: ReturnTarget,
    /// With `closed`: `refunded` (its units are refunded, each worth its exact share of what
    /// was charged, in the same step) or `rejected`.
    pub outcome: Option<OutcomeRequest>,
    /// With `refunded`: refund the shipping too (every shipping line not yet refunded).
    #[serde(default)]
    pub refund_shipping: bool,
}

/// A state a return may be moved to.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReturnTarget {
    /// The units are back.
    Received,
    /// Done.
    Closed,
}

/// How a return is closed.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OutcomeRequest {
    /// Refund its units.
    Refunded,
    /// Refuse it.
    Rejected,
}

/// The refund that closed a return.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReturnRefund {
    /// The refund's id.
    pub id: Uuid,
    /// How much.
    #[serde(with = "ordo_domain::amount_serde")]
    #[schema(value_type = String, example = "18.18")]
    pub amount: rust_decimal::Decimal,
    /// `succeeded`, or `pending` while the gateway's answer is awaited.
    pub status: String,
    /// The units it paid back and what each line's were worth.
    pub lines: Vec<RefundLineView>,
}

/// A return, with its order as it now is.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReturnBody {
    /// The return.
    #[serde(flatten)]
    pub ret: ReturnView,
    /// The refund that closed it, in the answer that closed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub refund: Option<ReturnRefund>,
    /// The order after the change.
    pub order: OrderBody,
}

fn ids(order: &str, ret: &str) -> Result<(OrderId, ReturnId), Problem> {
    let order = order_in_path(order)?;
    let ret = Uuid::try_parse(ret).map_err(|_| Problem::bad_field("return_id", "not a UUID"))?;
    Ok((order, ReturnId::from_uuid(ret)))
}

fn answer(
    status: StatusCode,
    order: &Order,
    id: ReturnId,
    refund: Option<&ordo_service::Refund>,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let ret = order
        .return_of(id)
        .map(ReturnView::from)
        .ok_or(ServiceError::Return(ordo_domain::ReturnError::NotFound))?;
    let body = ReturnBody {
        ret,
        refund: refund.map(|refund| ReturnRefund {
            id: refund.id,
            amount: refund.amount,
            status: refund.status.as_str().to_owned(),
            lines: RefundLineView::of(order, refund.id),
        }),
        order: OrderBody::new(order, caller),
    };
    let made = (status == StatusCode::CREATED).then(|| format!("returns/{id}"));
    Ok(super::fulfillments::part_response(
        status,
        body,
        order,
        made.as_deref(),
    ))
}

/// Ask to return some shipped units.
///
/// At most what each line has shipped and not yet returned, however many requests race.
/// Support records it for the customer (staff, admins, keys with `orders:write`).
#[utoipa::path(
    post, path = "/v1/orders/{id}/returns", tag = "returns",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes retries safe: a repeat with the same key and body gets the first response again; 1 to 255 printable ASCII characters"),
    ),
    request_body = ReturnRequest,
    responses(
        (status = 201, description = "Asked for", body = ReturnBody,
         headers(("Location" = String, description = "The return's URL"), ("ETag" = String, description = "The order's new version")),
         links(("CloseIt" = (operation_id = "move_return", parameters(("id" = "$response.body#/order/id"), ("return_id" = "$response.body#/id")))))),
        (status = 409, description = "The order is neither processing nor completed, or holds 100 returns (`return-state`); a payment call is in progress (`payment-in-progress`); or a request with this Idempotency-Key is in progress", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A line the order does not have, more units than shipped and not yet returned (`errors` names the line and says how many may be), a reason not on the list, `other` without a note", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, OneOrder, Unavailable,
    )
)]
async fn create_return(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    OrderPath(id): OrderPath,
    body: Result<Json<ReturnRequest>, Problem>,
) -> Result<Response, ApiError> {
    let body = visible_first(&service, &caller, id, body).await?.0;
    let draft = ReturnDraft {
        lines: body
            .lines
            .iter()
            .map(|line| FulfillmentLineDraft {
                line: line.line,
                quantity: line.quantity,
            })
            .collect(),
        reason: body.reason,
        note: body.note,
        restock: body.restock,
    };
    let (order, ret) = service.request_return(&caller, id, &draft).await?;
    answer(StatusCode::CREATED, &order, ret, None, &caller)
}

/// Read one return of an order.
#[utoipa::path(
    get, path = "/v1/orders/{id}/returns/{return_id}", tag = "returns",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("return_id" = Uuid, Path, description = "The return's id"),
    ),
    responses(
        (status = 200, description = "The return and its order", body = ReturnBody, headers(("ETag" = String, description = "The order's version"))),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such order or return (or one the caller may not see)", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn get_return(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Path((order, ret)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (id, ret) = ids(&order, &ret)?;
    let order = service.get(&caller, id).await?;
    answer(StatusCode::OK, &order, ret, None, &caller)
}

/// Receive a return, or close it: refunded (its units refunded in the same step, each worth
/// its exact share of what was charged) or rejected.
#[utoipa::path(
    post, path = "/v1/orders/{id}/returns/{return_id}/transitions", tag = "returns",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("return_id" = Uuid, Path, description = "The return's id"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes retries safe: a repeat with the same key and body gets the first response again; 1 to 255 printable ASCII characters"),
    ),
    request_body = ReturnMove,
    responses(
        (status = 200, description = "Moved (closing refunded: with its `refund`)", body = ReturnBody, headers(("ETag" = String, description = "The order's new version"))),
        (status = 402, description = "The gateway refused the refund; the return is open again, nothing was refunded", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such order or return (or one the caller may not see)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "The return cannot make that move (`return-state`), the order is not paid (`payment-state`), a payment call is in progress (`payment-in-progress`), or a request with this Idempotency-Key is in progress", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`closed` without an outcome, an outcome or `refund_shipping` with `received`, `refund_shipping` with `rejected`, or nothing to refund (`lines`: units worth nothing, or nothing left)", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, Unavailable,
    )
)]
async fn move_return(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Path((order, ret)): Path<(String, String)>,
    body: Result<Json<ReturnMove>, Problem>,
) -> Result<Response, ApiError> {
    let (id, ret) = ids(&order, &ret)?;
    let input = body.and_then(|Json(body)| close_of(&body));
    let close = visible_first(&service, &caller, id, input).await?;
    let (order, refund) = match close {
        None => (service.receive_return(&caller, id, ret).await?, None),
        Some(close) => service.close_return(&caller, id, ret, close).await?,
    };
    answer(StatusCode::OK, &order, ret, refund.as_ref(), &caller)
}

/// What a move asks: receiving (`None`), or a close; 422 naming what does not fit.
fn close_of(body: &ReturnMove) -> Result<Option<ReturnClose>, Problem> {
    match (body.to, body.outcome) {
        (ReturnTarget::Received, None) if !body.refund_shipping => Ok(None),
        (ReturnTarget::Received, None) => Err(Problem::invalid_field(
            "refund_shipping",
            "is for a return closed refunded",
        )),
        (ReturnTarget::Received, Some(_)) => Err(Problem::invalid_field(
            "outcome",
            "is given when closing (to: closed), not when receiving",
        )),
        (ReturnTarget::Closed, None) => Err(Problem::invalid_field(
            "outcome",
            "is required when closing: refunded or rejected",
        )),
        (ReturnTarget::Closed, Some(OutcomeRequest::Rejected)) if body.refund_shipping => Err(
            Problem::invalid_field("refund_shipping", "is for a return closed refunded"),
        ),
        (ReturnTarget::Closed, Some(OutcomeRequest::Rejected)) => Ok(Some(ReturnClose::Rejected)),
        (ReturnTarget::Closed, Some(OutcomeRequest::Refunded)) => {
            let reason = CancelReason::parse("return refunded")
                .map_err(|violation| Problem::invalid_field("outcome", violation.to_string()))?;
            Ok(Some(ReturnClose::Refunded {
                shipping: body.refund_shipping,
                reason,
            }))
        }
    }
}
