//! `/v1/customers`: what concerns a customer rather than one order.

use axum::Extension;
use axum::extract::State;
use chrono::{DateTime, Utc};
use ordo_service::{Caller, OrderService};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::responses::{Guarded, Unavailable};
use crate::error::ApiError;
use crate::extract::CustomerPath;
use crate::problem::ProblemDetails;

pub(crate) fn router() -> OpenApiRouter<OrderService> {
    OpenApiRouter::new().routes(routes!(erase_customer))
}

/// One erasure, as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErasureBody {
    /// The erasure's id.
    pub id: Uuid,
    /// Whose personal data.
    pub customer_id: Uuid,
    /// How many orders it changed (0 when they were erased already).
    pub orders_erased: u32,
    /// When (RFC 3339, UTC).
    pub erased_at: DateTime<Utc>,
}

/// Erase a customer's personal data.
///
/// Replaces the contact, addresses and notes on every order of the customer (deleted ones too)
/// by the `personal_data_erased_at` marker, and the responses kept for idempotency keys about
/// those orders by `410 Gone`; amounts, lines, numbers and statuses stay. Each call is
/// recorded; a second changes nothing more. Admins only; 409 while a payment call is in flight
/// on one of the orders.
#[utoipa::path(
    post, path = "/v1/customers/{id}/erasure", tag = "customers",
    params(("id" = Uuid, Path, description = "The customer's id")),
    responses(
        (status = 200, description = "Erased (or nothing left to erase)", body = ErasureBody),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "A payment call is in flight on one of the orders: retry once it settles", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "The customer's orders kept changing during the erasure: try again", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn erase_customer(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    CustomerPath(customer): CustomerPath,
) -> Result<axum::Json<ErasureBody>, ApiError> {
    let erasure = service.erase_customer(&caller, customer).await?;
    Ok(axum::Json(ErasureBody {
        id: erasure.id,
        customer_id: erasure.customer_id.as_uuid(),
        orders_erased: erasure.orders,
        erased_at: erasure.at,
    }))
}
