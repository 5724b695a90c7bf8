//! `/v1/webhook-endpoints`: where events are posted (Standard Webhooks), managed by admins,
//! with each endpoint's delivery log and manual redelivery.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ordo_domain::EventKind;
use ordo_service::{Caller, Delivery, EndpointDraft, OrderService, WebhookEndpoint, Webhooks};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::responses::{Guarded, JsonBody, Unavailable, VersionRequired, Versioned};
use crate::dto::etag;
use crate::error::ApiError;
use crate::extract::{IfMatch, Json, KeyPath, Query, read_tagged_cursor, tagged_cursor};
use crate::problem::{Problem, ProblemDetails};

pub(crate) fn router() -> OpenApiRouter<OrderService> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, patch_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(redeliver))
}

fn webhooks(service: &OrderService) -> Result<&Webhooks, ApiError> {
    service
        .webhooks()
        .ok_or_else(|| Problem::not_found("this server sends no webhooks").into())
}

/// An endpoint as an admin writes it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndpointInput {
    /// Where to post: `http` or `https`, with a host, without credentials.
    #[schema(
        example = "https://erp.example.com/hooks/ordo",
        max_length = 2000,
        min_length = 8,
        pattern = "^[hH][tT][tT][pP][sS]?://[^\\s/@#]+(/[^\\s#]*)?$"
    )]
    pub url: String,
    /// What it is for.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// The event types it receives; every type when empty or left out.
    #[serde(default)]
    #[schema(value_type = Vec<crate::events::EventTypeSchema>, example = json!(["order.placed", "payment.captured"]))]
    pub event_types: Vec<EventKind>,
    /// Whether deliveries go out (default true). Turning it back on clears why ordo turned it
    /// off.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl EndpointInput {
    fn into_draft(self) -> EndpointDraft {
        EndpointDraft {
            url: self.url,
            description: self.description,
            event_types: self.event_types,
            enabled: self.enabled,
        }
    }
}

impl From<EndpointDraft> for EndpointInput {
    fn from(draft: EndpointDraft) -> Self {
        Self {
            url: draft.url,
            description: draft.description,
            event_types: draft.event_types,
            enabled: draft.enabled,
        }
    }
}

/// An endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EndpointBody {
    /// Its id.
    id: Uuid,
    /// Where deliveries are posted.
    url: String,
    /// What it is for.
    description: Option<String>,
    /// The event types it receives; every type when empty.
    #[schema(value_type = Vec<crate::events::EventTypeSchema>)]
    event_types: Vec<EventKind>,
    /// Whether deliveries go out.
    enabled: bool,
    /// Why ordo turned it off (it answered 410 Gone, or every delivery failed for five days).
    disabled_reason: Option<String>,
    /// The first failed delivery since its last success.
    failing_since: Option<DateTime<Utc>>,
    /// The `whsec_` secret that signs deliveries: only in the answers that make it (creating,
    /// rotating). Keep it: it is not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// Until when the secret before the last rotation still signs too.
    previous_secret_until: Option<DateTime<Utc>>,
    /// The concurrency version (the ETag is it, quoted).
    version: u32,
    /// When it was made.
    created_at: DateTime<Utc>,
    /// When it last changed.
    updated_at: DateTime<Utc>,
}

impl EndpointBody {
    fn new(endpoint: &WebhookEndpoint, with_secret: bool) -> Self {
        Self {
            id: endpoint.id,
            url: endpoint.url.clone(),
            description: endpoint.description.clone(),
            event_types: endpoint.event_types.clone(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            failing_since: endpoint.failing_since,
            secret: with_secret.then(|| endpoint.secret.clone()),
            previous_secret_until: endpoint.previous_secret.as_ref().map(|(_, until)| *until),
            version: endpoint.version.get(),
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

/// Every endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EndpointPage {
    /// The endpoints, oldest first.
    data: Vec<EndpointBody>,
    /// Always null: the list comes whole.
    next_cursor: Option<String>,
    /// Always false.
    has_more: bool,
}

/// One event's delivery to the endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryBody {
    /// Its id.
    id: Uuid,
    /// The event delivered (its id is the `webhook-id` header).
    event_id: Uuid,
    /// `pending`, `succeeded` or `failed` (every retry failed, or the endpoint answered 410).
    #[schema(example = "succeeded")]
    status: &'static str,
    /// Attempts made.
    attempts: u32,
    /// When it is next tried (pending), or was last.
    next_attempt_at: DateTime<Utc>,
    /// The endpoint's HTTP status on the last attempt, when it answered.
    last_status: Option<u16>,
    /// What went wrong on the last attempt.
    last_error: Option<String>,
    /// When it was last tried.
    last_attempt_at: Option<DateTime<Utc>>,
    /// When it was queued.
    created_at: DateTime<Utc>,
}

impl From<&Delivery> for DeliveryBody {
    fn from(delivery: &Delivery) -> Self {
        Self {
            id: delivery.id,
            event_id: delivery.event_id,
            status: delivery.status.as_str(),
            attempts: delivery.attempts,
            next_attempt_at: delivery.next_attempt_at,
            last_status: delivery.last_status,
            last_error: delivery.last_error.clone(),
            last_attempt_at: delivery.last_attempt_at,
            created_at: delivery.created_at,
        }
    }
}

/// A page of an endpoint's deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryPage {
    /// The deliveries.
    data: Vec<DeliveryBody>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
    /// Whether another page exists.
    has_more: bool,
}

/// The delivery log's parameters (a module of their own, as utoipa names them by path).
mod params {
    use serde::Deserialize;
    use utoipa::IntoParams;

    /// Which deliveries to list.
    #[derive(Debug, Deserialize, IntoParams)]
    #[serde(deny_unknown_fields)]
    #[into_params(parameter_in = Query)]
    pub(crate) struct DeliveryParams {
        /// Page size, 1 to 100 (default 20).
        #[param(minimum = 1, maximum = 100)]
        pub limit: Option<u64>,
        /// The `next_cursor` of the previous page, unchanged.
        #[param(max_length = 200, pattern = "^[A-Za-z0-9_-]+$")]
        pub cursor: Option<String>,
    }
}

fn endpoint_response(
    status: StatusCode,
    endpoint: &WebhookEndpoint,
    with_secret: bool,
) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&etag(endpoint.version)) {
        headers.insert(header::ETAG, value);
    }
    if status == StatusCode::CREATED
        && let Ok(value) = HeaderValue::from_str(&format!("/v1/webhook-endpoints/{}", endpoint.id))
    {
        headers.insert(header::LOCATION, value);
    }
    // A secret is shown once: no cache may keep it.
    if with_secret {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    (
        status,
        headers,
        axum::Json(EndpointBody::new(endpoint, with_secret)),
    )
        .into_response()
}

/// Add a webhook endpoint.
///
/// Admins only. Every event of the types it names (all when none) is posted to it, signed by
/// Standard Webhooks with the `secret` this answer carries, once. An `Idempotency-Key` is
/// refused here (400 naming it), since keeping the answer for a replay would store the secret
/// a second time. A client that lost the answer lists the endpoints to see whether it was
/// made, and rotates its secret to learn one.
#[utoipa::path(
    post, path = "/v1/webhook-endpoints", tag = "webhooks",
    request_body = EndpointInput,
    responses(
        (status = 201, description = "Made, with its secret", body = EndpointBody,
         headers(("Location" = String, description = "Its URL"), ("ETag" = String, description = "Its version"))),
        (status = 422, description = "A value breaks a rule (`errors` names the field)", body = ProblemDetails, content_type = "application/problem+json"),
        JsonBody, Guarded, Unavailable,
    )
)]
async fn create_endpoint(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<EndpointInput>,
) -> Result<Response, ApiError> {
    let endpoint = webhooks(&service)?
        .create(&caller, body.into_draft())
        .await?;
    Ok(endpoint_response(StatusCode::CREATED, &endpoint, true))
}

/// List the webhook endpoints.
#[utoipa::path(
    get, path = "/v1/webhook-endpoints", tag = "webhooks",
    responses((status = 200, description = "Every endpoint", body = EndpointPage), Guarded, Unavailable)
)]
async fn list_endpoints(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
) -> Result<axum::Json<EndpointPage>, ApiError> {
    let endpoints = webhooks(&service)?.list(&caller).await?;
    Ok(axum::Json(EndpointPage {
        data: endpoints
            .iter()
            .map(|endpoint| EndpointBody::new(endpoint, false))
            .collect(),
        next_cursor: None,
        has_more: false,
    }))
}

/// One webhook endpoint.
#[utoipa::path(
    get, path = "/v1/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointBody, headers(("ETag" = String, description = "Its version"))),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn get_endpoint(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    KeyPath(id): KeyPath,
) -> Result<Response, ApiError> {
    let endpoint = webhooks(&service)?.get(&caller, id).await?;
    Ok(endpoint_response(StatusCode::OK, &endpoint, false))
}

/// Change a webhook endpoint: its URL, types, description, or whether it is on.
///
/// A JSON Merge Patch (RFC 7396) of the endpoint as `EndpointInput` reads it.
#[utoipa::path(
    patch, path = "/v1/webhook-endpoints/{id}", tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        ("If-Match" = String, Header, example = "\"1\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "Its ETag, as last read"),
    ),
    request_body(content = Object, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Changed", body = EndpointBody, headers(("ETag" = String, description = "Its version now"))),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A value breaks a rule (`errors` names the field)", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, Versioned, VersionRequired, Unavailable,
    )
)]
async fn patch_endpoint(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    KeyPath(id): KeyPath,
    if_match: IfMatch,
    body: Result<Json<serde_json::Map<String, serde_json::Value>>, Problem>,
) -> Result<Response, ApiError> {
    let webhooks = webhooks(&service)?;
    let expected = if_match.required()?;
    let patch = body?.0;
    let endpoint = webhooks
        .update(&caller, id, expected, |current: EndpointDraft| {
            let input = crate::patch::merged_into(&EndpointInput::from(current), patch)?;
            Ok::<_, ApiError>(input.into_draft())
        })
        .await?;
    Ok(endpoint_response(StatusCode::OK, &endpoint, false))
}

/// Remove a webhook endpoint and its delivery log.
#[utoipa::path(
    delete, path = "/v1/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn delete_endpoint(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    KeyPath(id): KeyPath,
) -> Result<StatusCode, ApiError> {
    webhooks(&service)?.delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a webhook endpoint a new secret.
///
/// The answer carries the new secret, once. For a day the old one signs too (the
/// `webhook-signature` header carries both), so receivers can switch without losing a
/// delivery. An `Idempotency-Key` is refused here (400 naming it), since keeping the answer
/// for a replay would store the secret a second time; `If-Match` already makes a retry safe
/// (a rotation that went through moved the version, so the retry gets 412 and rotates nothing).
#[utoipa::path(
    post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        ("If-Match" = String, Header, example = "\"1\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "Its ETag, as last read"),
    ),
    responses(
        (status = 200, description = "Rotated, with the new secret", body = EndpointBody, headers(("ETag" = String, description = "Its version now"))),
        (status = 400, description = "Not a UUID, or an `Idempotency-Key` was sent (the answer holds the secret, which is never kept for a replay)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Versioned, VersionRequired, Unavailable,
    )
)]
async fn rotate_secret(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    KeyPath(id): KeyPath,
    if_match: IfMatch,
) -> Result<Response, ApiError> {
    let webhooks = webhooks(&service)?;
    let expected = if_match.required()?;
    let endpoint = webhooks.rotate_secret(&caller, id, expected).await?;
    Ok(endpoint_response(StatusCode::OK, &endpoint, true))
}

/// A webhook endpoint's deliveries, newest first.
#[utoipa::path(
    get, path = "/v1/webhook-endpoints/{id}/deliveries", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id"), params::DeliveryParams),
    responses(
        (status = 200, description = "A page", body = DeliveryPage),
        (status = 400, description = "Not a UUID, or a parameter is invalid", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn list_deliveries(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    KeyPath(id): KeyPath,
    Query(params): Query<params::DeliveryParams>,
) -> Result<axum::Json<DeliveryPage>, ApiError> {
    let limit = crate::extract::page_size(params.limit)?.get();
    let before = params
        .cursor
        .map(|raw| read_tagged_cursor('d', &raw, parse_delivery_cursor))
        .transpose()?;
    // One more than asked tells whether another page exists.
    let mut deliveries = webhooks(&service)?
        .deliveries(&caller, id, before, limit.saturating_add(1))
        .await?;
    let has_more = deliveries.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    deliveries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = has_more.then(|| deliveries.last()).flatten().map(|last| {
        tagged_cursor(
            'd',
            &format!("{} {}", last.created_at.timestamp_micros(), last.id),
        )
    });
    Ok(axum::Json(DeliveryPage {
        data: deliveries.iter().map(DeliveryBody::from).collect(),
        next_cursor,
        has_more,
    }))
}

fn parse_delivery_cursor(text: &str) -> Result<(DateTime<Utc>, Uuid), &'static str> {
    let (micros, id) = text.split_once(' ').ok_or("not a delivery cursor")?;
    // Only times both databases hold (years 1 to 9999).
    let at = micros
        .parse::<i64>()
        .ok()
        .filter(|micros| (-62_135_596_800_000_000..=253_402_300_799_000_000).contains(micros))
        .and_then(DateTime::from_timestamp_micros)
        .ok_or("not a delivery cursor")?;
    Ok((at, id.parse().map_err(|_| "not a delivery cursor")?))
}

/// Send a delivery again now, whatever became of it (a receiver that was down, a bug fixed).
///
/// Its attempts start again from none, so the whole retry schedule applies; the log keeps its
/// last status and error until the next attempt. Refused with 409 `delivery-in-progress`
/// while a sender is delivering it (that attempt is recorded first).
#[utoipa::path(
    post, path = "/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        ("delivery_id" = Uuid, Path, description = "The delivery's id"),
    ),
    responses(
        (status = 200, description = "Pending again, due now, no attempts made", body = DeliveryBody),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint or delivery", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "A sender is delivering it right now (`delivery-in-progress`): retry once the attempt is in the log (`Retry-After`)", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn redeliver(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<axum::Json<DeliveryBody>, ApiError> {
    let parse = |name: &str, text: &str| {
        text.parse::<Uuid>()
            .map_err(|_| Problem::bad_field(name, "must be a UUID"))
    };
    let (id, delivery) = (parse("id", &id)?, parse("delivery_id", &delivery)?);
    let delivery = webhooks(&service)?.redeliver(&caller, id, delivery).await?;
    Ok(axum::Json(DeliveryBody::from(&delivery)))
}
