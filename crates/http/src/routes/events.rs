//! `/v1/orders/{id}/events` (an order's history) and `/v1/events` (the feed, with long
//! polling).

use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
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
        .routes(routes!(feed_socket))
}

/// How long a feed read may wait: the request's own time limit, less a margin for the answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeedWaitLimit(pub Duration);

/// An order's history.
///
/// Every change of the order, oldest first, each with who made it, the request that did, and
/// the order as it then was. Each event is chained to the one before it by its hash. An order
/// not changed since events were first kept has an empty history. Whoever may read the order
/// reads its history, and the 404s are the order's: customers read their own orders' history,
/// without the shop's side (the staff note, who on staff acted, their requests' keys), and not
/// once the order is deleted; staff and admins read deleted orders' history too.
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

/// How long a socket client may take to take one event before it is cut off.
const SOCKET_SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a socket waits for the next event before it pings the client.
const SOCKET_IDLE: Duration = Duration::from_secs(20);

/// The close code that tells a client it fell behind: reconnect with `after` = the last
/// event's cursor.
pub(crate) const SLOW_CONSUMER: u16 = 4008;

/// The event feed, live, over a WebSocket.
///
/// The same events as `GET /v1/events`, in the same order, each as one text message (the
/// event's JSON), as they are recorded on any replica. Resume after a disconnect with `after`
/// = the last event's `cursor`. A browser, which cannot set `Authorization` on a WebSocket,
/// offers its token as a subprotocol: `new WebSocket(url, ["ordo.v1", "bearer." + token])`;
/// ordo answers with `ordo.v1`. A client that does not keep up (an event not taken within 10
/// seconds) is closed with code 4008: reconnect from the last cursor. Staff, admins and keys
/// with `orders:read` see every order's events; a customer its own orders'.
#[utoipa::path(
    get, path = "/v1/events/ws", tag = "events",
    params(FeedParams),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol (`ordo.v1`)"),
        (status = 400, description = "A parameter is invalid, or the request is no WebSocket upgrade", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn feed_socket(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<FeedParams>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (query, _) = feed_query(params)?;
    service.may_read_feed(&caller)?;
    let upgrade = upgrade.map_err(|rejection| {
        Problem::bad_request(format!("a WebSocket upgrade is expected: {rejection}"))
    })?;
    Ok(upgrade
        .protocols(["ordo.v1"])
        .on_upgrade(move |socket| stream(socket, service, caller, query)))
}

/// Sends `message`, unless the client takes longer than [`SOCKET_SEND_TIMEOUT`]: whether it
/// went.
async fn send(socket: &mut WebSocket, message: Message) -> Result<(), bool> {
    match tokio::time::timeout(SOCKET_SEND_TIMEOUT, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        // Gone: nothing more to say.
        Ok(Err(_)) => Err(false),
        // Too slow.
        Err(_) => Err(true),
    }
}

async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(frame)).await;
}

/// Streams the feed to `socket` from `query.after` until the client leaves or falls behind.
async fn stream(
    mut socket: WebSocket,
    service: OrderService,
    caller: Caller,
    mut query: FeedQuery,
) {
    loop {
        let page = tokio::select! {
            page = service.feed(&caller, query.clone(), SOCKET_IDLE) => page,
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                // Pongs and anything else the client says: keep streaming.
                Some(Ok(_)) => continue,
            },
        };
        let page = match page {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(error = %error, "a feed socket could not read events");
                close(
                    socket,
                    1011,
                    "events cannot be read now: reconnect with after=<last cursor>",
                )
                .await;
                return;
            }
        };
        if page.events.is_empty()
            && let Err(slow) = send(&mut socket, Message::Ping(Vec::new().into())).await
        {
            if slow {
                close(
                    socket,
                    SLOW_CONSUMER,
                    "too slow: reconnect with after=<last cursor>",
                )
                .await;
            }
            return;
        }
        for event in &page.events {
            let Ok(text) = serde_json::to_string(&EventBody::new(event, &caller)) else {
                close(socket, 1011, "an event could not be written").await;
                return;
            };
            if let Err(slow) = send(&mut socket, Message::Text(text.into())).await {
                if slow {
                    close(
                        socket,
                        SLOW_CONSUMER,
                        "too slow: reconnect with after=<last cursor>",
                    )
                    .await;
                }
                return;
            }
        }
        query.after = page.next;
    }
}
