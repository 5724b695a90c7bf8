//! `/v1/orders`: thin handlers that turn HTTP into one service call and back.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ordo_domain::{CancelReason, Channel, Email, Order, OrderDraft, PaymentChoice, Sku, Tag};
use ordo_service::{
    Caller, Claim, Cursor, InvalidTotalBound, ListQuery, OrderService, SearchText, TotalBound,
};
use rust_decimal::Decimal;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::responses::{Guarded, JsonBody, OneOrder, Unavailable, VersionRequired, Versioned};
use crate::dto::{
    CancelBody, CreateOrder, DetailsPatch, ListParams, OrderBody, OrderPage, PricingBody,
    RefundBody, RefundRequest, TransitionBody, etag,
};
use crate::error::ApiError;
use crate::extract::{IfMatch, Json, NumberPath, OrderPath, Query};
use crate::problem::{Problem, ProblemDetails};

pub(crate) fn router() -> OpenApiRouter<OrderService> {
    OpenApiRouter::new()
        .routes(routes!(create_order, list_orders))
        .routes(routes!(preview_order))
        .routes(routes!(get_order, delete_order, patch_order))
        .routes(routes!(get_order_by_number))
        .routes(routes!(transition_order))
        .routes(routes!(cancel_order))
        .routes(routes!(refund_order))
}

/// An order with its `ETag`.
/// A request about an order the caller may not see is answered 404, like an unknown id,
/// whatever else is wrong with it: a bad header or body is judged only once the caller may see
/// the order, so its answer never tells another customer's order apart from none.
pub(crate) async fn visible_first<T>(
    service: &OrderService,
    caller: &Caller,
    id: ordo_domain::OrderId,
    input: Result<T, Problem>,
) -> Result<T, ApiError> {
    match input {
        Ok(input) => Ok(input),
        Err(problem) => {
            service.get(caller, id).await?;
            Err(problem.into())
        }
    }
}

/// A cancellation or refund reason, or a 422 naming `reason`.
fn reason(text: &str) -> Result<CancelReason, Problem> {
    CancelReason::parse(text)
        .map_err(|violation| Problem::invalid_field("reason", violation.to_string()))
}

fn order_response(status: StatusCode, order: &Order, caller: &Caller) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&etag(order.version())) {
        headers.insert(header::ETAG, value);
    }
    let mut response = (status, headers, axum::Json(OrderBody::new(order, caller))).into_response();
    // For the idempotency layer: which order a kept copy of this answer holds.
    response.extensions_mut().insert(order.id());
    response
}

/// Place an order.
///
/// Validates and prices the order, gives it a number and stores it as `pending`.
#[utoipa::path(
    post, path = "/v1/orders", tag = "orders",
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes retries safe: a repeat with the same key and body gets the first response again; 1 to 255 printable ASCII characters"),),
    request_body = CreateOrder,
    responses(
        (status = 201, description = "Placed", body = OrderBody,
         headers(("Location" = String, description = "The order's URL"), ("ETag" = String, description = "The order's version")),
         links(
             ("ReadIt" = (operation_id = "get_order", parameters(("id" = "$response.body#/id")))),
             ("MoveIt" = (operation_id = "transition_order", parameters(("id" = "$response.body#/id"), ("header.If-Match" = "$response.header.ETag")))),
             ("CancelIt" = (operation_id = "cancel_order", parameters(("id" = "$response.body#/id"), ("header.If-Match" = "$response.header.ETag")))),
             ("RefundIt" = (operation_id = "refund_order", parameters(("id" = "$response.body#/id")))),
             ("DeleteIt" = (operation_id = "delete_order", parameters(("id" = "$response.body#/id"))))
         )),
        (status = 402, description = "The payment was declined; the order is stored with its payment failed (`order_id`); it keeps a discount code's use until it is cancelled", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is in progress (retry after `Retry-After`), or the discount code is used up (`discount-code-used-up`: do not retry; `discount_code_optional` places at full price)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "Breaks a rule (`errors` names each field), or the Idempotency-Key was used for another request", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, Unavailable,
    )
)]
async fn create_order(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    claim: Option<Extension<Claim>>,
    Json(body): Json<CreateOrder>,
) -> Result<Response, ApiError> {
    let claim = claim.map(|Extension(claim)| claim);
    let payment = PaymentChoice::parse(body.payment_provider.as_deref(), body.payment_terms_days)
        .map_err(Problem::from)?;
    let order = service
        .place_paying(&caller, &OrderDraft::from(body), &payment, claim.as_ref())
        .await?;
    let mut response = order_response(StatusCode::CREATED, &order, &caller);
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/orders/{}", order.id())) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Price an order without placing it.
///
/// Returns exactly the prices, tax and total that placing the same body would charge.
#[utoipa::path(
    post, path = "/v1/orders/preview", tag = "orders",
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes retries safe: a repeat with the same key and body gets the first response again; 1 to 255 printable ASCII characters"),),
    request_body = CreateOrder,
    responses(
        (status = 200, description = "Priced", body = PricingBody),
        (status = 409, description = "A request with this Idempotency-Key is in progress", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "Breaks a rule (`errors` names each field), or the Idempotency-Key was used for another request", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, Unavailable,
    )
)]
async fn preview_order(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<CreateOrder>,
) -> Result<axum::Json<PricingBody>, ApiError> {
    let pricing = service.preview(&caller, &OrderDraft::from(body)).await?;
    Ok(axum::Json(PricingBody::from(&pricing)))
}

/// Read an order.
#[utoipa::path(
    get, path = "/v1/orders/{id}", tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order", body = OrderBody, headers(("ETag" = String, description = "The order's version"))),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, OneOrder, Unavailable,
    )
)]
async fn get_order(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    OrderPath(id): OrderPath,
) -> Result<Response, ApiError> {
    let order = service.get(&caller, id).await?;
    Ok(order_response(StatusCode::OK, &order, &caller))
}

/// Find an order by its number, as support staff and customers read it out.
///
/// Lower case and the look-alikes `O`, `I` and `L` are read as `0`, `1` and `1`. A number
/// whose check character does not match is a typo (400), not an unknown order.
#[utoipa::path(
    get, path = "/v1/orders/by-number/{number}", tag = "orders",
    params(("number" = String, Path, pattern = "^[Oo][Rr][Dd]-[0-9]{6}-[0-9A-Za-z]{8}$", example = "ORD-261122-7KQ3M9AX", description = "The order's number")),
    responses(
        (status = 200, description = "The order", body = OrderBody, headers(("ETag" = String, description = "The order's version"))),
        (status = 400, description = "Not an order number, or one with a typo (its check character does not match)", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, OneOrder, Unavailable,
    )
)]
async fn get_order_by_number(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    NumberPath(number): NumberPath,
) -> Result<Response, ApiError> {
    let order = service.get_by_number(&caller, &number).await?;
    Ok(order_response(StatusCode::OK, &order, &caller))
}

/// List and search orders, newest first.
///
/// Staff and admins list every customer's orders, filtered by any mix of the parameters; a
/// customer lists its own. Keyset-paginated: pass `next_cursor` back as `cursor`, with the same
/// filters, until `has_more` is false; orders placed meanwhile never make a page skip or repeat
/// one.
#[utoipa::path(
    get, path = "/v1/orders", tag = "orders",
    params(ListParams),
    responses(
        (status = 200, description = "A page", body = OrderPage),
        (status = 400, description = "A parameter is invalid (limit over 100, bad cursor, `q` under 3 characters...), named in the answer", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn list_orders(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<OrderPage>, ApiError> {
    let query = list_query(params, service.clock().now())?;
    let page = service.list(&caller, &query).await?;
    Ok(axum::Json(OrderPage {
        data: page
            .orders
            .iter()
            .map(|order| OrderBody::new(order, &caller))
            .collect(),
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

/// The list a request's parameters ask for; 400 naming the first parameter that is invalid.
fn list_query(
    params: ListParams,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ListQuery, Problem> {
    fn field<T, E: std::fmt::Display>(
        name: &str,
        raw: Option<String>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, Problem> {
        raw.map(|raw| parse(&raw).map_err(|error| Problem::bad_field(name, error.to_string())))
            .transpose()
    }
    // Exactly the documented grammar, digits only: `from_str` would also take `+5`, `.5`,
    // `1_000` and round past 28 digits.
    let total = |raw: &str| {
        let (whole, fraction) = raw.split_once('.').unwrap_or((raw, "0"));
        let digits = |text: &str, most: usize| {
            (1..=most).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
        };
        if !(digits(whole, 15) && digits(fraction, 4)) {
            return Err(InvalidTotalBound);
        }
        Decimal::from_str_exact(raw)
            .map_err(|_| InvalidTotalBound)
            .and_then(TotalBound::new)
    };
    let limit = crate::extract::page_size(params.limit)?;
    Ok(ListQuery {
        customer_id: params.customer_id,
        status: params.status,
        payment_status: params.payment_status,
        fulfillment_status: params.fulfillment_status,
        due_before: params.overdue.filter(|overdue| *overdue).map(|_| now),
        created_after: params.created_after,
        created_before: params.created_before,
        email: field("email", params.email, Email::parse)?,
        tag: field("tag", params.tag, Tag::parse)?,
        sku: field("sku", params.sku, Sku::parse)?,
        channel: field("channel", params.channel, Channel::parse)?,
        total_min: field("total_min", params.total_min, total)?,
        total_max: field("total_max", params.total_max, total)?,
        text: field("q", params.q, SearchText::parse)?,
        limit,
        after: field("cursor", params.cursor, Cursor::decode)?,
    })
}

/// Move an order to `processing` or `completed`.
#[utoipa::path(
    post, path = "/v1/orders/{id}/transitions", tag = "orders",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("If-Match" = String, Header, example = "\"1\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "The order's ETag, as last read (`\"3\"`)"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes retries safe: a repeat with the same key and body gets the first response again; 1 to 255 printable ASCII characters"),
    ),
    request_body = TransitionBody,
    responses(
        (status = 200, description = "Moved", body = OrderBody, headers(("ETag" = String, description = "The new version")),
         links(
             ("MoveItOn" = (operation_id = "transition_order", parameters(("id" = "$response.body#/id"), ("header.If-Match" = "$response.header.ETag")))),
             ("RefundIt" = (operation_id = "refund_order", parameters(("id" = "$response.body#/id"))))
         )),
        (status = 402, description = "Completing captures the payment, and the capture was declined", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed from the current status (lists `allowed_next`), or a request with this Idempotency-Key is in progress", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "Unknown target", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, OneOrder, Versioned, VersionRequired, Unavailable,
    )
)]
async fn transition_order(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    OrderPath(id): OrderPath,
    if_match: IfMatch,
    body: Result<Json<TransitionBody>, Problem>,
) -> Result<Response, ApiError> {
    let input = if_match
        .required()
        .and_then(|expected| Ok((expected, body?.0)));
    let (expected, body) = visible_first(&service, &caller, id, input).await?;
    let order = service
        .transition(&caller, id, body.to.into(), expected)
        .await?;
    Ok(order_response(StatusCode::OK, &order, &caller))
}

/// Cancel an order, with a reason.
#[utoipa::path(
    post, path = "/v1/orders/{id}/cancel", tag = "orders",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("If-Match" = String, Header, example = "\"1\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "The order's ETag, as last read (`\"3\"`)"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes retries safe: a repeat with the same key and body gets the first response again; 1 to 255 printable ASCII characters"),
    ),
    request_body = CancelBody,
    responses(
        (status = 200, description = "Cancelled", body = OrderBody, headers(("ETag" = String, description = "The new version"))),
        (status = 402, description = "Giving the money back was declined by the gateway", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "Already completed or cancelled, part of it has shipped (`order-shipped`: return it instead), or a request with this Idempotency-Key is in progress", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "Empty or too long reason", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, OneOrder, Versioned, VersionRequired, Unavailable,
    )
)]
async fn cancel_order(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    OrderPath(id): OrderPath,
    if_match: IfMatch,
    body: Result<Json<CancelBody>, Problem>,
) -> Result<Response, ApiError> {
    let input = if_match
        .required()
        .and_then(|expected| Ok((expected, reason(&body?.0.reason)?)));
    let (expected, reason) = visible_first(&service, &caller, id, input).await?;
    let order = service.cancel(&caller, id, reason, expected).await?;
    Ok(order_response(StatusCode::OK, &order, &caller))
}

/// Change an order's details: contact, addresses, notes, tags, metadata.
///
/// A JSON Merge Patch (RFC 7396) of the details as the order shows them: a field given
/// replaces the field, `null` removes it, an object merges into the object (so
/// `{"shipping_address": {"line2": "Flat 4"}}` changes one line of the address), an array
/// (`tags`) replaces the array. Who may change which field, and until when, is in the docs'
/// access table; nothing that moves money changes this way. A refused patch changes nothing;
/// one that changes nothing writes nothing.
#[utoipa::path(
    patch, path = "/v1/orders/{id}", tag = "orders",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("If-Match" = String, Header, example = "\"1\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "The order's ETag, as last read (`\"3\"`)"),
    ),
    request_body(content = DetailsPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Changed (or nothing to change)", body = OrderBody, headers(("ETag" = String, description = "The version now"))),
        (status = 409, description = "The field can no longer be changed in the order's status (`detail` says which), or a payment call is in progress", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A value breaks a rule, the field is not the caller's to change, or it is not a detail (`errors` names each field)", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, OneOrder, Versioned, VersionRequired, Unavailable,
    )
)]
async fn patch_order(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    OrderPath(id): OrderPath,
    if_match: IfMatch,
    body: Result<Json<serde_json::Map<String, serde_json::Value>>, Problem>,
) -> Result<Response, ApiError> {
    let input = if_match.required().and_then(|expected| {
        let patch = body?.0;
        crate::patch::only_details(&patch)?;
        Ok((expected, patch))
    });
    let (expected, patch) = visible_first(&service, &caller, id, input).await?;
    for field in patch.keys() {
        caller
            .may_name_detail(field)
            .map_err(ordo_service::ServiceError::from)?;
    }
    let current = service.get(&caller, id).await?;
    let details = crate::patch::merged(current.details(), patch)?;
    let order = service
        .change_details(&caller, id, expected, &details)
        .await?;
    Ok(order_response(StatusCode::OK, &order, &caller))
}

/// Delete an order (soft: it is kept, but no longer found).
#[utoipa::path(
    delete, path = "/v1/orders/{id}", tag = "orders",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("If-Match" = Option<String>, Header, nullable = false, example = "\"1\"", pattern = "^(\\*|\"[1-9][0-9]{0,8}\")$", description = "Optional: delete only at this ETag (`*` or none: at any version)"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Money is held or a payment call is in progress: refund or cancel first", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, OneOrder, Versioned, Unavailable,
    )
)]
async fn delete_order(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    OrderPath(id): OrderPath,
    IfMatch(expected): IfMatch,
) -> Result<StatusCode, ApiError> {
    service.delete(&caller, id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Refund part or all of a paid order.
///
/// Several partial refunds are allowed; together they never pass what was captured, however
/// many run at once.
#[utoipa::path(
    post, path = "/v1/orders/{id}/refunds", tag = "orders",
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes retries safe: a repeat with the same key and body gets the first response again; 1 to 255 printable ASCII characters"),
    ),
    request_body = RefundRequest,
    responses(
        (status = 201, description = "Refunded (or pending the gateway's answer)", body = RefundBody),
        (status = 402, description = "The gateway refused the refund; nothing was refunded", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "The order is not paid, or a request with this Idempotency-Key is in progress", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "The amount is not refundable (zero, too precise, or more than is left); a line the order does not have or with fewer units left to refund (`lines[i].quantity`, `shipping[j]`); both an amount and lines, or neither; nothing left to refund", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, OneOrder, Unavailable,
    )
)]
async fn refund_order(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    OrderPath(id): OrderPath,
    body: Result<Json<RefundRequest>, Problem>,
) -> Result<Response, ApiError> {
    let input = body.and_then(|Json(body)| Ok((what_to_refund(&body)?, reason(&body.reason)?)));
    let (what, reason) = visible_first(&service, &caller, id, input).await?;
    let (order, refund) = match what {
        Refunding::Amount(amount) => service.refund(&caller, id, amount, reason).await?,
        Refunding::Lines(parts) => service.refund_lines(&caller, id, &parts, reason).await?,
    };
    let body = RefundBody {
        id: refund.id,
        amount: refund.amount,
        reason: refund.reason,
        status: refund.status.as_str().to_owned(),
        created_at: refund.created_at,
        lines: crate::dto::RefundLineView::of(&order, refund.id),
        order: OrderBody::new(&order, &caller),
    };
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    response.extensions_mut().insert(order.id());
    Ok(response)
}

/// What a refund request refunds.
enum Refunding {
    /// An amount (a goodwill refund).
    Amount(Decimal),
    /// Some units of some lines, and shipping lines whole.
    Lines(Vec<(ordo_domain::LinePart, u32)>),
}

/// An amount, or lines and shipping: one of the two, or a 422 naming the field.
fn what_to_refund(body: &RefundRequest) -> Result<Refunding, Problem> {
    let by_line = body.lines.is_some() || body.shipping.is_some();
    match (body.amount, by_line) {
        (Some(_), true) => Err(Problem::invalid_field(
            "amount",
            "give an amount, or lines and shipping to refund by line, not both",
        )),
        (Some(amount), false) => Ok(Refunding::Amount(amount)),
        (None, false) => Err(Problem::invalid_field(
            "amount",
            "is required: an amount, or lines and shipping to refund by line",
        )),
        (None, true) => {
            let lines = body.lines.as_deref().unwrap_or_default();
            let shipping = body.shipping.as_deref().unwrap_or_default();
            if lines.len() > ordo_domain::MAX_LINE_ITEMS {
                let most = ordo_domain::MAX_LINE_ITEMS;
                return Err(Problem::invalid_field(
                    "lines",
                    format!("must have at most {most} entries"),
                ));
            }
            if shipping.len() > ordo_domain::MAX_SHIPPING_LINES {
                let most = ordo_domain::MAX_SHIPPING_LINES;
                return Err(Problem::invalid_field(
                    "shipping",
                    format!("must have at most {most} entries"),
                ));
            }
            for (index, line) in lines.iter().enumerate() {
                if lines
                    .iter()
                    .take(index)
                    .any(|other| other.line == line.line)
                {
                    return Err(Problem::invalid_field(
                        &format!("lines[{index}].line"),
                        "appears more than once in this request",
                    ));
                }
            }
            for (index, line) in shipping.iter().enumerate() {
                if shipping.iter().take(index).any(|other| other == line) {
                    return Err(Problem::invalid_field(
                        &format!("shipping[{index}]"),
                        "appears more than once in this request",
                    ));
                }
            }
            let mut parts = Vec::new();
            for (index, line) in body.lines.iter().flatten().enumerate() {
                let at = usize::try_from(line.line).map_err(|_| {
                    Problem::invalid_field(&format!("lines[{index}].line"), "must be 0 or more")
                })?;
                let quantity = u32::try_from(line.quantity)
                    .ok()
                    .filter(|q| (1..=ordo_domain::MAX_QUANTITY).contains(q))
                    .ok_or_else(|| {
                        Problem::invalid_field(
                            &format!("lines[{index}].quantity"),
                            format!("must be between 1 and {}", ordo_domain::MAX_QUANTITY),
                        )
                    })?;
                parts.push((ordo_domain::LinePart::Item(at), quantity));
            }
            for (index, line) in body.shipping.iter().flatten().enumerate() {
                let at = usize::try_from(*line).map_err(|_| {
                    Problem::invalid_field(&format!("shipping[{index}]"), "must be 0 or more")
                })?;
                parts.push((ordo_domain::LinePart::Shipping(at), 1));
            }
            Ok(Refunding::Lines(parts))
        }
    }
}
