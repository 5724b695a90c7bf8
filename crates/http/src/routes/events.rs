//! `/v1/orders/{id}/events` (an order's history) and `/v1/events` (the feed, with long
//! polling).

use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use ordo_service::{Caller, FeedPosition, FeedQuery, OrderService};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::responses::{Guarded, OneOrder, Unavailable};
use crate::error::ApiError;
use crate::events::{EventBody, EventHistory, FeedBody, FeedParams, MAX_FEED_LIMIT, parse_types};
use crate::extract::{OrderPath, Query};
use crate::problem::{Problem, ProblemDetails};

pub(crate) fn router() -> OpenApiRouter<OrderService> {
    OpenApiRouter::new()
        .routes(routes!(order_events))
        .routes(routes!(feed))
}

/// How long a feed read may wait: the request's own time limit, less a margin for the answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeedWaitLimit(pub Duration);

/// An order's history.
///
/// Every change of the order, oldest first, each with who made it, the request that did, and
/// the order as it then was; deleted orders' too. Each event is chained to the one before it by
/// its hash. Customers read their own orders' history, without the shop's side (the staff note,
/// who on staff acted, their requests' keys).
#[utoipa::path(
    get, path = "/v1/orders/{id}/events", tag = "events",
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The history, oldest first", body = EventHistory),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, OneOrder, Unavailable,
    )
)]
async fn order_events(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    OrderPath(id): OrderPath,
) -> Result<axum::Json<EventHistory>, ApiError> {
    let events = service.order_events(&caller, id).await?;
    Ok(axum::Json(EventHistory {
        data: events
            .iter()
            .map(|event| EventBody::new(event, &caller))
            .collect(),
        next_cursor: None,
        has_more: false,
    }))
}

/// The event feed.
///
/// Every order's events in one order no reader sees change: a reader that has read up to an
/// event never later finds an event before it, however transactions commit. Read on from a
/// page's `next_cursor`; with `wait`, a read with nothing new waits for the next event (long
/// polling). Staff, admins and API keys with `orders:read` read every order's events; a
/// customer only its own orders'.
#[utoipa::path(
    get, path = "/v1/events", tag = "events",
    params(FeedParams),
    responses(
        (status = 200, description = "A page, possibly empty", body = FeedBody),
        (status = 400, description = "A parameter is invalid (a cursor no feed made, an unknown type, limit or wait out of range), named in the answer", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn feed(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    limit: Option<Extension<FeedWaitLimit>>,
    Query(params): Query<FeedParams>,
) -> Result<axum::Json<FeedBody>, ApiError> {
    let (query, wait) = feed_query(params)?;
    let most = limit.map_or(Duration::ZERO, |Extension(FeedWaitLimit(most))| most);
    let page_size = query.limit;
    let page = service.feed(&caller, query, wait.min(most)).await?;
    let has_more = u32::try_from(page.events.len()).is_ok_and(|n| n >= page_size);
    Ok(axum::Json(FeedBody {
        data: page
            .events
            .iter()
            .map(|event| EventBody::new(event, &caller))
            .collect(),
        next_cursor: page.next.map(|position| position.encode()),
        has_more,
    }))
}

/// The feed read and the wait a request's parameters ask for; 400 naming the first invalid.
fn feed_query(params: FeedParams) -> Result<(FeedQuery, Duration), Problem> {
    fn number(
        name: &str,
        raw: Option<String>,
        range: (u32, u32),
        default: u32,
    ) -> Result<u32, Problem> {
        match raw {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (range.0..=range.1).contains(n))
                .ok_or_else(|| {
                    Problem::bad_field(
                        name,
                        format!("must be a whole number from {} to {}", range.0, range.1),
                    )
                }),
        }
    }
    let after = params
        .after
        .map(|text| FeedPosition::decode(&text))
        .transpose()
        .map_err(|error| Problem::bad_field("after", error.to_string()))?;
    let kinds = params
        .types
        .map(|text| parse_types(&text))
        .transpose()
        .map_err(|error| Problem::bad_field("types", error.to_string()))?
        .unwrap_or_default();
    let limit = number("limit", params.limit, (1, MAX_FEED_LIMIT), 100)?;
    let wait = number("wait", params.wait, (0, 30), 0)?;
    Ok((
        FeedQuery {
            after,
            kinds,
            customer_id: None,
            limit,
        },
        Duration::from_secs(u64::from(wait)),
    ))
}
