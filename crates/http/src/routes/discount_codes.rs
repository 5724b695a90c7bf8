//! `/v1/discount-codes`: the codes customers may type at checkout, managed by staff, admins and
//! keys with `catalog:write` (read with `catalog:read`). Customers never list them.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ordo_domain::{CodeName, DiscountCode, DiscountCodeDraft};
use ordo_service::{Caller, DiscountCodes, OrderService};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::responses::{Guarded, JsonBody, Unavailable, VersionRequired, Versioned};
use crate::catalog::{DiscountCodeBody, DiscountCodeInput, DiscountCodePage, DiscountCodeParams};
use crate::dto::etag;
use crate::error::ApiError;
use crate::extract::{IfMatch, Json, KeyPath, Query, read_tagged_cursor, tagged_cursor};
use crate::problem::{Problem, ProblemDetails};

pub(crate) fn router() -> OpenApiRouter<OrderService> {
    OpenApiRouter::new()
        .routes(routes!(create_code, list_codes))
        .routes(routes!(get_code, patch_code))
}

/// The service's codes, or 404 when this server keeps none.
fn codes(service: &OrderService) -> Result<&DiscountCodes, ApiError> {
    service
        .discount_codes()
        .ok_or_else(|| Problem::not_found("this server keeps no discount codes").into())
}

fn code_response(status: StatusCode, code: &DiscountCode) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&etag(code.version())) {
        headers.insert(header::ETAG, value);
    }
    if status == StatusCode::CREATED
        && let Ok(value) = HeaderValue::from_str(&format!("/v1/discount-codes/{}", code.id()))
    {
        headers.insert(header::LOCATION, value);
    }
    (status, headers, axum::Json(DiscountCodeBody::from(code))).into_response()
}

/// Make a discount code.
///
/// Staff and admins (API keys: `catalog:write`).
#[utoipa::path(
    post, path = "/v1/discount-codes", tag = "discount-codes",
    request_body = DiscountCodeInput,
    responses(
        (status = 201, description = "Made", body = DiscountCodeBody,
         headers(("Location" = String, description = "The code's URL"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "Another code has this name", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A value breaks a rule (`errors` names each field)", body = ProblemDetails, content_type = "application/problem+json"),
        JsonBody, Guarded, Unavailable,
    )
)]
async fn create_code(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<DiscountCodeInput>,
) -> Result<Response, ApiError> {
    let codes = codes(&service)?;
    let code = codes.create(&caller, &body.into_draft()?).await?;
    Ok(code_response(StatusCode::CREATED, &code))
}

/// One discount code, with how many orders hold a use of it.
#[utoipa::path(
    get, path = "/v1/discount-codes/{id}", tag = "discount-codes",
    params(("id" = Uuid, Path, description = "The code's id")),
    responses(
        (status = 200, description = "The code", body = DiscountCodeBody, headers(("ETag" = String, description = "Its version"))),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such code", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn get_code(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    KeyPath(id): KeyPath,
) -> Result<Response, ApiError> {
    let code = codes(&service)?.get(&caller, id).await?;
    Ok(code_response(StatusCode::OK, &code))
}

/// List the discount codes, in code order.
#[utoipa::path(
    get, path = "/v1/discount-codes", tag = "discount-codes",
    params(DiscountCodeParams),
    responses(
        (status = 200, description = "A page", body = DiscountCodePage),
        (status = 400, description = "A parameter is invalid, named in the answer", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn list_codes(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<DiscountCodeParams>,
) -> Result<axum::Json<DiscountCodePage>, ApiError> {
    let limit = crate::extract::page_size(params.limit)?;
    // Opaque, as every list's cursor: the last code read, behind a tag.
    let after = params
        .cursor
        .map(|raw| read_tagged_cursor('c', &raw, CodeName::parse))
        .transpose()?;
    let page = codes(&service)?
        .list(&caller, after.as_ref(), limit)
        .await?;
    Ok(axum::Json(DiscountCodePage {
        data: page.codes.iter().map(DiscountCodeBody::from).collect(),
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|code| tagged_cursor('c', code.as_str())),
    }))
}

/// Change a discount code: its value, minimums, window, limits, status (`archived` stops it).
///
/// A JSON Merge Patch (RFC 7396) of the code as it reads (`null` removes a field, such as a
/// limit or an end). Its use count changes only as orders take and give back uses.
#[utoipa::path(
    patch, path = "/v1/discount-codes/{id}", tag = "discount-codes",
    params(
        ("id" = Uuid, Path, description = "The code's id"),
        ("If-Match" = String, Header, example = "\"1\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "The code's ETag, as last read"),
    ),
    request_body(content = Object, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Changed (or nothing to change)", body = DiscountCodeBody, headers(("ETag" = String, description = "Its version now"))),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such code", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "Another code has this name", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A value breaks a rule (`errors` names each field; a `usage_limit` below the uses orders hold now is one)", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, Versioned, VersionRequired, Unavailable,
    )
)]
async fn patch_code(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    KeyPath(id): KeyPath,
    if_match: IfMatch,
    body: Result<Json<serde_json::Map<String, serde_json::Value>>, Problem>,
) -> Result<Response, ApiError> {
    let codes = codes(&service)?;
    let expected = if_match.required()?;
    let patch = body?.0;
    let code = codes
        .update(&caller, id, expected, |current: DiscountCodeDraft| {
            let input = crate::patch::merged_into(&DiscountCodeInput::from(current), patch)?;
            Ok::<_, ApiError>(input.into_draft()?)
        })
        .await?;
    Ok(code_response(StatusCode::OK, &code))
}
