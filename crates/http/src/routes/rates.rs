//! `/v1/tax-rates` and `/v1/shipping-rates`: the shop's tax table and shipping methods, each
//! read and replaced whole. Everyone authenticated reads them (a storefront shows shipping
//! options); staff, admins and keys with `catalog:write` replace them, with `If-Match`.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ordo_domain::{ShippingMethodDraft, TaxTableDraft, Version};
use ordo_service::{Caller, OrderService, ShopRates};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::responses::{Guarded, JsonBody, Unavailable, VersionRequired, Versioned};
use crate::dto::etag;
use crate::error::ApiError;
use crate::extract::{IfMatch, Json};
use crate::problem::{Problem, ProblemDetails};
use crate::rates::{ShippingRatesBody, ShippingRatesInput, TaxTableBody, TaxTableInput};

pub(crate) fn router() -> OpenApiRouter<OrderService> {
    OpenApiRouter::new()
        .routes(routes!(get_tax_rates, put_tax_rates))
        .routes(routes!(get_shipping_rates, put_shipping_rates))
}

/// The service's rates, or 404 when this server keeps none.
fn rates(service: &OrderService) -> Result<&ShopRates, ApiError> {
    service
        .rates()
        .ok_or_else(|| Problem::not_found("this server keeps no rates").into())
}

fn versioned(version: Version, body: impl Serialize) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        headers.insert(header::ETAG, value);
    }
    (headers, axum::Json(body)).into_response()
}

/// The shop's tax table.
///
/// Everyone authenticated (API keys: `catalog:read`).
#[utoipa::path(
    get, path = "/v1/tax-rates", tag = "rates",
    responses(
        (status = 200, description = "The tax table", body = TaxTableBody, headers(("ETag" = String, description = "Its version"))),
        Guarded, Unavailable,
    )
)]
async fn get_tax_rates(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let stored = rates(&service)?.get(&caller).await?;
    Ok(versioned(
        stored.taxes.version,
        TaxTableBody::from(&stored.taxes),
    ))
}

/// Replace the shop's tax table.
///
/// The whole table at once, against the version last read (`If-Match`): orders placed from
/// then on are taxed by it; orders already placed keep their figures. Staff and admins (API
/// keys: `catalog:write`).
#[utoipa::path(
    put, path = "/v1/tax-rates", tag = "rates",
    params(
        ("If-Match" = String, Header, example = "\"1\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "The table's ETag, as last read"),
    ),
    request_body = TaxTableInput,
    responses(
        (status = 200, description = "Replaced", body = TaxTableBody, headers(("ETag" = String, description = "Its version now"))),
        (status = 422, description = "A rate breaks a rule (`errors` names each field, such as `rates[3].rate`)", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, Versioned, VersionRequired, Unavailable,
    )
)]
async fn put_tax_rates(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    if_match: IfMatch,
    body: Result<Json<TaxTableInput>, Problem>,
) -> Result<Response, ApiError> {
    let rates = rates(&service)?;
    let expected = if_match.required()?;
    let draft = TaxTableDraft::from(body?.0);
    let stored = rates.replace_taxes(&caller, &draft, expected).await?;
    Ok(versioned(stored.version, TaxTableBody::from(&stored)))
}

/// The shop's shipping methods.
///
/// Everyone authenticated (API keys: `catalog:read`): a storefront shows them at checkout.
#[utoipa::path(
    get, path = "/v1/shipping-rates", tag = "rates",
    responses(
        (status = 200, description = "The shipping methods", body = ShippingRatesBody, headers(("ETag" = String, description = "Its version"))),
        Guarded, Unavailable,
    )
)]
async fn get_shipping_rates(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let stored = rates(&service)?.get(&caller).await?;
    Ok(versioned(
        stored.shipping.version,
        ShippingRatesBody::from(&stored.shipping),
    ))
}

/// Replace the shop's shipping methods.
///
/// All of them at once, against the version last read (`If-Match`). Staff and admins (API
/// keys: `catalog:write`).
#[utoipa::path(
    put, path = "/v1/shipping-rates", tag = "rates",
    params(
        ("If-Match" = String, Header, example = "\"1\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "The table's ETag, as last read"),
    ),
    request_body = ShippingRatesInput,
    responses(
        (status = 200, description = "Replaced", body = ShippingRatesBody, headers(("ETag" = String, description = "Its version now"))),
        (status = 422, description = "A method breaks a rule (`errors` names each field, such as `methods[0].prices.EUR`)", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, Versioned, VersionRequired, Unavailable,
    )
)]
async fn put_shipping_rates(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    if_match: IfMatch,
    body: Result<Json<ShippingRatesInput>, Problem>,
) -> Result<Response, ApiError> {
    let rates = rates(&service)?;
    let expected = if_match.required()?;
    let drafts: Vec<ShippingMethodDraft> = body?.0.methods.into_iter().map(Into::into).collect();
    let stored = rates.replace_shipping(&caller, &drafts, expected).await?;
    Ok(versioned(stored.version, ShippingRatesBody::from(&stored)))
}
