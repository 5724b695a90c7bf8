//! `/v1/orders/{id}/fulfillments`: making, moving and reading an order's fulfilments.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ordo_domain::{
    FulfillmentDraft, FulfillmentId, FulfillmentLineDraft, FulfillmentState, Order, OrderId,
    TrackingDraft,
};
use ordo_service::{Caller, OrderService, ServiceError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::orders::visible_first;
use super::responses::{Guarded, JsonBody, OneOrder, Unavailable, Versioned};
use crate::dto::{FulfillmentView, OrderBody, etag};
use crate::error::ApiError;
use crate::extract::{IfMatch, Json, OrderPath, order_in_path};
use crate::problem::{Problem, ProblemDetails};

pub(crate) fn router() -> OpenApiRouter<OrderService> {
    OpenApiRouter::new()
        .routes(routes!(create_fulfillment))
        .routes(routes!(get_fulfillment, patch_fulfillment))
        .routes(routes!(move_fulfillment))
}

/// One line of a fulfilment to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FulfillmentLineRequest {
    /// The line's 0-based place in the order's `items`.
    #[schema(minimum = 0, maximum = 99, example = 0)]
    pub line: i64,
    /// How many of its units (at most what is left to fulfil).
    #[schema(minimum = 1, maximum = 10000, example = 1)]
    pub quantity: i64,
}

/// A fulfilment to make: which units of which lines, from where, with what tracking.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FulfillmentRequest {
    /// Which units of which lines, each line once.
    #[schema(min_items = 1, max_items = 100)]
    pub lines: Vec<FulfillmentLineRequest>,
    /// Where it ships from (a warehouse or shop code).
    #[schema(
        max_length = 64,
        example = "berlin-1",
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub location: Option<String>,
    /// Who carries it.
    #[schema(
        max_length = 64,
        example = "DHL",
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub carrier: Option<String>,
    /// The carrier's number for it.
    #[schema(
        max_length = 128,
        example = "00340434161094042557",
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub tracking_number: Option<String>,
    /// Where to follow it: an absolute http or https URL.
    #[schema(
        max_length = 2048,
        example = "https://track.example/00340434161094042557",
        pattern = "^https?://[^\\s/?#\\x00-\\x1F\\x7F-\\x9F]+[^\\s\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub tracking_url: Option<String>,
}

/// Tracking given with a move or a patch: the parts given replace the fulfilment's.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrackingRequest {
    /// Who carries it.
    #[schema(
        max_length = 64,
        example = "DHL",
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub carrier: Option<String>,
    /// The carrier's number for it.
    #[schema(
        max_length = 128,
        example = "00340434161094042557",
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub tracking_number: Option<String>,
    /// Where to follow it: an absolute http or https URL.
    #[schema(
        max_length = 2048,
        example = "https://track.example/00340434161094042557",
        pattern = "^https?://[^\\s/?#\\x00-\\x1F\\x7F-\\x9F]+[^\\s\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub tracking_url: Option<String>,
}

impl TrackingRequest {
    fn draft(self) -> TrackingDraft {
        TrackingDraft {
            carrier: self.carrier,
            number: self.tracking_number,
            url: self.tracking_url,
        }
    }
}

/// Where to move a fulfilment, and tracking known by then.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FulfillmentMove {
    /// `shipped` (from created), `delivered` (from shipped) or `cancelled` (from created: its
    /// units are unfulfilled again).
    pub to: FulfillmentTarget,
    /// Who carries it (set as it moves, most often with `shipped`).
    #[schema(
        max_length = 64,
        example = "DHL",
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub carrier: Option<String>,
    /// The carrier's number for it.
    #[schema(
        max_length = 128,
        example = "00340434161094042557",
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub tracking_number: Option<String>,
    /// Where to follow it: an absolute http or https URL.
    #[schema(
        max_length = 2048,
        example = "https://track.example/00340434161094042557",
        pattern = "^https?://[^\\s/?#\\x00-\\x1F\\x7F-\\x9F]+[^\\s\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub tracking_url: Option<String>,
}

/// A state a fulfilment may be moved to.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FulfillmentTarget {
    /// Handed to the carrier.
    Shipped,
    /// Delivered.
    Delivered,
    /// Called off before it shipped.
    Cancelled,
}

impl From<FulfillmentTarget> for FulfillmentState {
    fn from(target: FulfillmentTarget) -> Self {
        match target {
            FulfillmentTarget::Shipped => Self::Shipped,
            FulfillmentTarget::Delivered => Self::Delivered,
            FulfillmentTarget::Cancelled => Self::Cancelled,
        }
    }
}

/// A fulfilment, with its order as it now is.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FulfillmentBody {
    /// The fulfilment.
    #[serde(flatten)]
    pub fulfillment: FulfillmentView,
    /// The order after the change (its status, `fulfillment_status` and line counts).
    pub order: OrderBody,
}

/// The order and fulfilment ids of a path; a fulfilment id that is no UUID is 400, an order
/// id that can never name an order 404.
fn ids(order: &str, fulfillment: &str) -> Result<(OrderId, FulfillmentId), Problem> {
    let order = order_in_path(order)?;
    let fulfillment = Uuid::try_parse(fulfillment)
        .map_err(|_| Problem::bad_field("fulfillment_id", "not a UUID"))?;
    Ok((order, FulfillmentId::from_uuid(fulfillment)))
}

/// The answer: the fulfilment and its order, with the order's ETag.
fn answer(
    status: StatusCode,
    order: &Order,
    id: FulfillmentId,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let fulfillment =
        order
            .fulfillment(id)
            .map(FulfillmentView::from)
            .ok_or(ServiceError::Fulfillment(
                ordo_domain::FulfillmentError::NotFound,
            ))?;
    let body = FulfillmentBody {
        fulfillment,
        order: OrderBody::new(order, caller),
    };
    let made = (status == StatusCode::CREATED).then(|| format!("fulfillments/{id}"));
    Ok(part_response(status, body, order, made.as_deref()))
}

/// An answer about a part of `order` (a fulfilment, a return, a payment): `body`, the order's
/// ETag, the part's `Location` under the order when one was made, and the order's id for the
/// idempotency layer (which order a kept copy of this answer holds).
pub(crate) fn part_response(
    status: StatusCode,
    body: impl Serialize,
    order: &Order,
    made: Option<&str>,
) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag(order.version())) {
        response.headers_mut().insert(header::ETAG, value);
    }
    if let Some(Ok(location)) =
        made.map(|part| HeaderValue::from_str(&format!("/v1/orders/{}/{part}", order.id())))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response.extensions_mut().insert(order.id());
    response
}

/// Fulfil some units of a processing order's lines.
///
/// Partial and split shipments: each fulfilment names lines (by their place in `items`) and
/// how many units of each, at most what is left unfulfilled, however many requests race for
/// them. The fulfilment that leaves nothing to fulfil (over the lines that require shipping)
/// completes the order, capturing an authorization as completing does. Without If-Match the
/// units are checked against the order as it is when the fulfilment is written.
#[utoipa::path(
    post, path = "/v1/orders/{id}/fulfillments", tag = "fulfillments",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("If-Match" = Option<String>, Header, nullable = false, example = "\"3\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "Optional: fulfil only at this ETag"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes retries safe: a repeat with the same key and body gets the first response again; 1 to 255 printable ASCII characters"),
    ),
    request_body = FulfillmentRequest,
    responses(
        (status = 201, description = "Made (and, if it was the last, the order completed)", body = FulfillmentBody,
         headers(("Location" = String, description = "The fulfilment's URL"), ("ETag" = String, description = "The order's new version")),
         links(("ShipIt" = (operation_id = "move_fulfillment", parameters(("id" = "$response.body#/order/id"), ("fulfillment_id" = "$response.body#/id")))))),
        (status = 402, description = "It completed the order, and the capture was declined; the fulfilment stands", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "The order is not processing (`fulfillment-state`; also when racing requests for its last units find it completed), it holds 100 fulfilments, a payment call is in progress (`payment-in-progress`), or a request with this Idempotency-Key is in progress", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A line the order does not have, more units than are left (`errors` names the line and says how many are left), or a text that breaks a rule", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, OneOrder, Versioned, Unavailable,
    )
)]
async fn create_fulfillment(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    OrderPath(id): OrderPath,
    IfMatch(expected): IfMatch,
    body: Result<Json<FulfillmentRequest>, Problem>,
) -> Result<Response, ApiError> {
    let body = visible_first(&service, &caller, id, body).await?.0;
    let draft = FulfillmentDraft {
        lines: body
            .lines
            .iter()
            .map(|line| FulfillmentLineDraft {
                line: line.line,
                quantity: line.quantity,
            })
            .collect(),
        location: body.location,
        tracking: TrackingDraft {
            carrier: body.carrier,
            number: body.tracking_number,
            url: body.tracking_url,
        },
    };
    let (order, fulfillment) = service.fulfil(&caller, id, &draft, expected).await?;
    answer(StatusCode::CREATED, &order, fulfillment, &caller)
}

/// Read one fulfilment of an order.
#[utoipa::path(
    get, path = "/v1/orders/{id}/fulfillments/{fulfillment_id}", tag = "fulfillments",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("fulfillment_id" = Uuid, Path, description = "The fulfilment's id"),
    ),
    responses(
        (status = 200, description = "The fulfilment and its order", body = FulfillmentBody, headers(("ETag" = String, description = "The order's version"))),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such order or fulfilment (or one the caller may not see)", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn get_fulfillment(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Path((order, fulfillment)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (id, fulfillment) = ids(&order, &fulfillment)?;
    let order = service.get(&caller, id).await?;
    answer(StatusCode::OK, &order, fulfillment, &caller)
}

/// Move a fulfilment: ship it, mark it delivered, or cancel it before it ships.
///
/// Tracking given with the move replaces the fulfilment's. A completed order's fulfilments
/// ship and are delivered but are not cancelled. When the shop captures on shipment, shipping
/// captures what has shipped is worth, less what was captured before (the last shipment: all
/// that is left).
#[utoipa::path(
    post, path = "/v1/orders/{id}/fulfillments/{fulfillment_id}/transitions", tag = "fulfillments",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("fulfillment_id" = Uuid, Path, description = "The fulfilment's id"),
        ("If-Match" = Option<String>, Header, nullable = false, example = "\"3\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "Optional: only at this ETag of the order"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes retries safe: a repeat with the same key and body gets the first response again; 1 to 255 printable ASCII characters"),
    ),
    request_body = FulfillmentMove,
    responses(
        (status = 200, description = "Moved (capturing on shipment, shipping captured its share: the fulfilment's `capture`)", body = FulfillmentBody, headers(("ETag" = String, description = "The order's new version"))),
        (status = 402, description = "Capturing on shipment, it shipped and the capture was declined; the shipment stands, its capture `failed` and owed", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such order or fulfilment (or one the caller may not see)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "The fulfilment cannot make that move (`fulfillment-state`, with `allowed_next`), a payment call is in progress on the order (`payment-in-progress`), or a request with this Idempotency-Key is in progress", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "Tracking that breaks a rule, or an unknown target", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, Versioned, Unavailable,
    )
)]
async fn move_fulfillment(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Path((order, fulfillment)): Path<(String, String)>,
    IfMatch(expected): IfMatch,
    body: Result<Json<FulfillmentMove>, Problem>,
) -> Result<Response, ApiError> {
    let (id, fulfillment) = ids(&order, &fulfillment)?;
    let input = body.and_then(|Json(body)| {
        let tracking = TrackingRequest {
            carrier: body.carrier,
            tracking_number: body.tracking_number,
            tracking_url: body.tracking_url,
        };
        Ok((body.to, tracking.draft().check().map_err(Problem::from)?))
    });
    let (to, tracking) = visible_first(&service, &caller, id, input).await?;
    let order = service
        .move_fulfillment(&caller, id, fulfillment, to.into(), tracking, expected)
        .await?;
    answer(StatusCode::OK, &order, fulfillment, &caller)
}

/// Change a fulfilment's tracking (a carrier's number known after it shipped).
///
/// The parts given replace the fulfilment's; the same tracking again changes nothing.
#[utoipa::path(
    patch, path = "/v1/orders/{id}/fulfillments/{fulfillment_id}", tag = "fulfillments",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("fulfillment_id" = Uuid, Path, description = "The fulfilment's id"),
        ("If-Match" = Option<String>, Header, nullable = false, example = "\"3\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "Optional: only at this ETag of the order"),
    ),
    request_body = TrackingRequest,
    responses(
        (status = 200, description = "Changed (or nothing to change)", body = FulfillmentBody, headers(("ETag" = String, description = "The order's version now"))),
        (status = 404, description = "No such order or fulfilment (or one the caller may not see)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "The fulfilment was cancelled, or a payment call is in progress on the order", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "Tracking that breaks a rule", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, Versioned, Unavailable,
    )
)]
async fn patch_fulfillment(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Path((order, fulfillment)): Path<(String, String)>,
    IfMatch(expected): IfMatch,
    body: Result<Json<TrackingRequest>, Problem>,
) -> Result<Response, ApiError> {
    let (id, fulfillment) = ids(&order, &fulfillment)?;
    let input = body.and_then(|Json(body)| body.draft().check().map_err(Problem::from));
    let tracking = visible_first(&service, &caller, id, input).await?;
    let order = service
        .change_tracking(&caller, id, fulfillment, tracking, expected)
        .await?;
    answer(StatusCode::OK, &order, fulfillment, &caller)
}
