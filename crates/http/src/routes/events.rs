//! `/v1/orders/{id}/events` (an order's history) and `/v1/events` (the feed, with long
//! polling).

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use ordo_service::{ApiKeys, Caller, Clock, FeedPosition, FeedQuery, KeyRefusal, OrderService};
use tokio::time::Instant;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::responses::{Guarded, OneOrder, Unavailable};
use crate::auth::Credential;
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

/// The close code that tells a client its token expired: reconnect with a fresh one.
pub(crate) const TOKEN_EXPIRED: u16 = 4001;

/// The close code that tells a client its API key was revoked (or is no longer valid).
pub(crate) const KEY_REVOKED: u16 = 4003;

/// How often, at the longest, a socket opened with an API key checks it again while it waits
/// (it also checks before each page it sends).
const KEY_RECHECK: Duration = Duration::from_secs(30);

/// The event feed, live, over a WebSocket.
///
/// The same events as `GET /v1/events`, in the same order, each as one text message (the
/// event's JSON), as they are recorded on any replica. Resume after a disconnect with `after`
/// = the last event's `cursor`. A browser, which cannot set `Authorization` on a WebSocket,
/// offers its token as a subprotocol: `new WebSocket(url, ["ordo.v1", "bearer." + token])`;
/// ordo answers with `ordo.v1`. A client that does not keep up (an event not taken within 10
/// seconds) is closed with code 4008: reconnect from the last cursor. The caller is checked
/// again before each page sent and while the socket waits: a token that expires closes it with
/// code 4001 (at its expiry; reconnect with a fresh token), an API key revoked with 4003
/// (checked at least every 30 seconds). Staff, admins and keys with `orders:read` see every
/// order's events; a customer its own orders'.
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
    credential: Option<Extension<Credential>>,
    Query(params): Query<FeedParams>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (query, _) = feed_query(params)?;
    service.may_read_feed(&caller)?;
    let upgrade = upgrade.map_err(|rejection| {
        Problem::bad_request(format!("a WebSocket upgrade is expected: {rejection}"))
    })?;
    // The middleware always says; without it, there is nothing to check again.
    let credential = credential.map_or(Credential::Open, |Extension(credential)| credential);
    let watch = Watch::new(
        credential,
        service.api_keys().cloned(),
        service.clock().as_ref(),
    );
    Ok(upgrade
        .protocols(["ordo.v1"])
        .on_upgrade(move |socket| stream(socket, service, caller, query, watch)))
}

/// A socket's caller, checked again while it streams: a token until it expires, an API key
/// against storage.
struct Watch {
    credential: Credential,
    keys: Option<Arc<ApiKeys>>,
    /// When a token's socket closes: its expiry, as read on the service's clock when the socket
    /// opened, kept on the monotonic clock; `None` for a token that never expires in practice.
    token_expires: Option<Instant>,
    /// When a key is next checked while the socket waits.
    key_due: Instant,
}

/// Why a socket is closed: its code and reason.
type Closing = (u16, &'static str);

impl Watch {
    fn new(credential: Credential, keys: Option<Arc<ApiKeys>>, clock: &dyn Clock) -> Self {
        let now = Instant::now();
        let token_expires = match &credential {
            Credential::Token { refused_from } => {
                // Already past: at once.
                let left = refused_from
                    .signed_duration_since(clock.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO);
                now.checked_add(left)
            }
            Credential::Open | Credential::Key(_) => None,
        };
        Self {
            credential,
            keys,
            token_expires,
            key_due: later(now, KEY_RECHECK),
        }
    }

    /// When the caller must next be checked while the socket waits; `None`: never.
    fn due(&self) -> Option<Instant> {
        match &self.credential {
            Credential::Open => None,
            Credential::Token { .. } => self.token_expires,
            Credential::Key(_) => Some(self.key_due),
        }
    }

    /// Checks the caller again: whether the socket may go on.
    async fn check(&mut self) -> Result<(), Closing> {
        match &self.credential {
            Credential::Open => Ok(()),
            Credential::Token { .. } => match self.token_expires {
                Some(expires) if Instant::now() >= expires => Err((
                    TOKEN_EXPIRED,
                    "token expired: reconnect with a fresh one and after=<last cursor>",
                )),
                _ => Ok(()),
            },
            Credential::Key(key) => {
                let Some(keys) = &self.keys else {
                    return Err((KEY_REVOKED, "API keys are no longer accepted"));
                };
                let checked = keys.authenticate(key).await;
                self.key_due = later(Instant::now(), KEY_RECHECK);
                match checked {
                    Ok(_) => Ok(()),
                    Err(KeyRefusal::Revoked) => Err((KEY_REVOKED, "API key revoked")),
                    Err(KeyRefusal::Invalid) => Err((KEY_REVOKED, "API key no longer valid")),
                    Err(KeyRefusal::Unavailable(error)) => {
                        tracing::warn!(error = %error, "a feed socket could not check its API key");
                        Err((
                            1011,
                            "the API key cannot be checked now: reconnect with after=<last cursor>",
                        ))
                    }
                }
            }
        }
    }
}

/// `wait` after `at` (`at` itself past the monotonic clock's end, which no process reaches).
fn later(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait).unwrap_or(at)
}

/// Waits until `at`; forever without it.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
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
    // A client that stalled may read again: the frame waits behind what is already on its
    // way for as long as one event may (a client that never reads just loses the connection).
    let _ = tokio::time::timeout(SOCKET_SEND_TIMEOUT, socket.send(frame)).await;
}

/// Streams the feed to `socket` from `query.after` until the client leaves or falls behind, or
/// its caller may no longer read it.
async fn stream(
    mut socket: WebSocket,
    service: OrderService,
    caller: Caller,
    mut query: FeedQuery,
    mut watch: Watch,
) {
    loop {
        // One read per page: what the client says meanwhile does not start it over.
        let mut reading = std::pin::pin!(service.feed(&caller, query.clone(), SOCKET_IDLE));
        let page = loop {
            tokio::select! {
                page = &mut reading => break page,
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    // Pongs and anything else the client says: keep streaming.
                    Some(Ok(_)) => {}
                },
                () = until(watch.due()) => {
                    if let Err((code, reason)) = watch.check().await {
                        close(socket, code, reason).await;
                        return;
                    }
                }
            }
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
        // Nothing more for a caller that may no longer read it.
        if !page.events.is_empty()
            && let Err((code, reason)) = watch.check().await
        {
            close(socket, code, reason).await;
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
