//! `/v1/api-keys`: keys for trusted backends, managed by admins (tokens only, never a key).

use axum::Extension;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ordo_service::{ApiKey, ApiKeys, Caller, OrderService, Scope};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::responses::{Guarded, JsonBody, Unavailable};
use crate::error::ApiError;
use crate::extract::{Json, KeyPath};
use crate::problem::{Problem, ProblemDetails};

pub(crate) fn router() -> OpenApiRouter<OrderService> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(get_key, revoke_key))
}

/// A new key's name and scopes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateKey {
    /// What the key is for ("storefront", "erp"): 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, example = "storefront")]
    pub name: String,
    /// What it may do: `orders:read` (read, list, search), `orders:write` (place, preview;
    /// with `orders:read`, cancel, move along, change details), `orders:refund` (with
    /// `orders:read`), `orders:price` (with `orders:write`, name an order's figures: custom
    /// lines, a discount, a tax rate, shipping amounts), `catalog:read` (read the price
    /// book), `catalog:write` (change it). At least one.
    #[schema(min_items = 1, example = json!(["orders:read", "orders:write"]))]
    pub scopes: Vec<String>,
}

/// An API key as admins see it: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyBody {
    /// The key's id (also in the key).
    pub id: Uuid,
    /// What the admin called it.
    pub name: String,
    /// What it may do.
    #[schema(example = json!(["orders:read"]))]
    pub scopes: Vec<&'static str>,
    /// When it was made (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// The admin who made it (the token's subject).
    pub created_by: String,
    /// When it was revoked; it authenticates nothing since.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request, to the minute (each server writes it at most once
    /// a minute per key).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl KeyBody {
    fn new(key: &ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name.clone(),
            scopes: key.scopes.iter().map(|scope| scope.as_str()).collect(),
            created_at: key.created_at,
            created_by: key.created_by.clone(),
            revoked_at: key.revoked_at,
            last_used_at: key.last_used_at,
        }
    }
}

/// A key just made, with the key itself: shown this once, never again. No `Debug`, so the
/// secret cannot reach a log by accident.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedKeyBody {
    #[serde(flatten)]
    pub key: KeyBody,
    /// The key to send as `Authorization: Bearer <key>`. ordo keeps only a hash of it: store it
    /// now, it cannot be shown again.
    #[schema(example = "ordo_sk_019aa0f0c0de7000800000000000002a_3q2-…")]
    pub secret: String,
}

/// Every key, newest first, in one page (an admin makes few).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyPage {
    /// The keys.
    pub data: Vec<KeyBody>,
    /// Always null: every key is on the one page.
    #[schema(value_type = Option<String>)]
    pub next_cursor: Option<String>,
    /// Always false.
    pub has_more: bool,
}

/// The service's keys, or 404 when this server does not accept API keys.
fn keys(service: &OrderService) -> Result<&Arc<ApiKeys>, ApiError> {
    service
        .api_keys()
        .ok_or_else(|| Problem::not_found("this server does not accept API keys").into())
}

/// Create an API key.
///
/// The answer holds the key itself, once: ordo stores only its SHA-256. Admin tokens only
/// (an API key cannot make keys). An `Idempotency-Key` is refused here, since replaying the
/// answer would mean storing the key.
#[utoipa::path(
    post, path = "/v1/api-keys", tag = "api-keys",
    request_body = CreateKey,
    responses(
        (status = 201, description = "Created; the key is in `secret`, shown this once", body = CreatedKeyBody,
         headers(("Location" = String, description = "The key's URL"))),
        (status = 422, description = "A bad name or scope (`errors` names the field)", body = ProblemDetails, content_type = "application/problem+json"),
        JsonBody, Guarded, Unavailable,
    )
)]
async fn create_key(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<CreateKey>,
) -> Result<Response, ApiError> {
    let keys = keys(&service)?;
    let scopes = body
        .scopes
        .iter()
        .map(|scope| scope.parse::<Scope>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(ordo_service::ServiceError::from)?;
    let made = keys.create(&caller, &body.name, &scopes).await?;
    let location = format!("/v1/api-keys/{}", made.key.id);
    let body = CreatedKeyBody {
        key: KeyBody::new(&made.key),
        secret: made.secret,
    };
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::Json(body),
    )
        .into_response())
}

/// List API keys.
///
/// Every key, revoked ones too, newest first, without their secrets. Admin tokens only.
#[utoipa::path(
    get, path = "/v1/api-keys", tag = "api-keys",
    responses(
        (status = 200, description = "Every key", body = KeyPage),
        Guarded, Unavailable,
    )
)]
async fn list_keys(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
) -> Result<axum::Json<KeyPage>, ApiError> {
    let listed = keys(&service)?.list(&caller).await?;
    Ok(axum::Json(KeyPage {
        data: listed.iter().map(KeyBody::new).collect(),
        next_cursor: None,
        has_more: false,
    }))
}

/// Read an API key.
///
/// Its name, scopes, times and last use; never its secret. Admin tokens only.
#[utoipa::path(
    get, path = "/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 200, description = "The key", body = KeyBody),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn get_key(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    KeyPath(id): KeyPath,
) -> Result<axum::Json<KeyBody>, ApiError> {
    let key = keys(&service)?.get(&caller, id).await?;
    Ok(axum::Json(KeyBody::new(&key)))
}

/// Revoke an API key.
///
/// From now on the key authenticates nothing, on every server sharing the database (each
/// request reads the key). Revoking it again changes nothing: the first time stands. Admin
/// tokens only.
#[utoipa::path(
    delete, path = "/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 200, description = "Revoked (now or before)", body = KeyBody),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn revoke_key(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    KeyPath(id): KeyPath,
) -> Result<axum::Json<KeyBody>, ApiError> {
    let key = keys(&service)?.revoke(&caller, id).await?;
    Ok(axum::Json(KeyBody::new(&key)))
}
