//! The live feed's caller, checked again while its socket streams, on both databases: a token
//! that expires closes it with 4001, a revoked API key with 4003; and a client that keeps
//! talking does not keep the feed from being read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use ordo_domain::OrderId;
use ordo_http::{Authentication, HttpConfig, TokenSigner, TokenVerifier};
use ordo_repository::testing::{TestPostgres, TestSqlite};
use ordo_repository::{
    EventStore, FeedPage, FeedPosition, FeedQuery, GatewayLedger, IdempotencyStore,
    OrderRepository, RepoError, StoredEvent,
};
use ordo_service::{
    Clock as _, OrderService, RandomIds, Role, ServiceConfig, SimulatedGateway, SystemClock,
};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::app::{TestApp, order_body};
use crate::auth::{ALICE, BOB, SECRET, token};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), super::exact_expiry();
    a_socket_is_closed_when_its_token_expires,
    a_socket_is_closed_before_the_next_event_once_its_key_is_revoked,
);

/// Tokens checked with no allowance for clock skew: one expires at its `exp`.
fn exact_expiry() -> HttpConfig {
    HttpConfig {
        authentication: Authentication::Required(Arc::new(
            TokenVerifier::hs256(SECRET, None, None)
                .unwrap()
                .with_leeway(0),
        )),
        ..HttpConfig::default()
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the live feed with `bearer` offered as a subprotocol, as a browser does.
async fn socket(app: &TestApp, bearer: &str) -> Socket {
    let url = format!("{}/v1/events/ws", app.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("ordo.v1, bearer.{bearer}").parse().unwrap(),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
}

/// What the socket says next, pings and pongs skipped: an event, or how it was closed.
#[derive(Debug)]
enum Next {
    Event(Value),
    Closed(u16, String),
}

async fn next<S>(socket: &mut S, within: Duration) -> Next
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("nothing within {within:?}"))
            .expect("the socket ended without a close frame")
            .unwrap();
        match message {
            Message::Text(text) => return Next::Event(serde_json::from_str(&text).unwrap()),
            Message::Close(frame) => {
                let frame = frame.expect("a close frame with a code");
                return Next::Closed(u16::from(frame.code), frame.reason.to_string());
            }
            _ => {}
        }
    }
}

fn event(next: Next) -> Value {
    match next {
        Next::Event(event) => event,
        Next::Closed(code, reason) => panic!("closed with {code} ({reason}), not an event"),
    }
}

fn staff() -> String {
    token(Role::Staff, "staff-1")
}

async fn a_socket_is_closed_when_its_token_expires(app: TestApp) {
    let now = u64::try_from(SystemClock.now().timestamp()).unwrap();
    // Valid for one to two seconds from now (`exp` counts whole seconds).
    let short = TokenSigner::hs256(SECRET, None, None)
        .unwrap()
        .mint(Role::Staff, "staff-1", now, 2)
        .unwrap();
    let expires = i64::try_from(now + 2).unwrap() * 1_000_000;
    let mut live = socket(&app, &short).await;
    let placed = app.place_as(&staff(), &order_body(ALICE)).await;
    let first = event(next(&mut live, Duration::from_secs(5)).await);
    assert_eq!(first["order_id"], placed["id"]);
    // Nothing is recorded after: it is closed at the token's expiry, not at the next event.
    loop {
        match next(&mut live, Duration::from_secs(10)).await {
            Next::Event(_) => {}
            Next::Closed(code, reason) => {
                assert_eq!(code, 4001, "{reason}");
                assert!(reason.starts_with("token expired"), "{reason}");
                break;
            }
        }
    }
    let closed = SystemClock.now().timestamp_micros();
    assert!(closed >= expires, "closed before the token expired");
    assert!(
        closed < expires + 2_000_000,
        "closed {} µs after the token expired",
        closed - expires
    );
}

async fn a_socket_is_closed_before_the_next_event_once_its_key_is_revoked(app: TestApp) {
    let made = app.make_key(&["orders:read"]).await;
    let (id, key) = (
        made["id"].as_str().unwrap(),
        made["secret"].as_str().unwrap(),
    );
    let mut live = socket(&app, key).await;
    let before = app.place_as(&staff(), &order_body(ALICE)).await;
    assert_eq!(
        event(next(&mut live, Duration::from_secs(5)).await)["order_id"],
        before["id"]
    );
    assert_eq!(
        event(next(&mut live, Duration::from_secs(5)).await)["type"],
        "payment.authorized"
    );
    let revoked = app
        .delete(&format!("/v1/api-keys/{id}"))
        .bearer_auth(token(Role::Admin, "admin-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let start = Instant::now();
    app.place_as(&staff(), &order_body(BOB)).await;
    match next(&mut live, Duration::from_secs(10)).await {
        Next::Closed(code, reason) => {
            assert_eq!((code, reason.as_str()), (4003, "API key revoked"));
        }
        Next::Event(event) => panic!("an event after the key was revoked: {event}"),
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

/// The app's events, each read of the feed counted.
struct CountedFeed {
    events: Arc<dyn EventStore>,
    reads: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl EventStore for CountedFeed {
    async fn order_events(&self, order_id: OrderId) -> Result<Vec<StoredEvent>, RepoError> {
        self.events.order_events(order_id).await
    }

    async fn event(&self, id: uuid::Uuid) -> Result<StoredEvent, RepoError> {
        self.events.event(id).await
    }

    async fn feed(&self, query: &FeedQuery) -> Result<FeedPage, RepoError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.events.feed(query).await
    }

    async fn feed_head(&self) -> Result<FeedPosition, RepoError> {
        self.events.feed_head().await
    }

    async fn relay_position(&self, name: &str) -> Result<Option<FeedPosition>, RepoError> {
        self.events.relay_position(name).await
    }

    async fn move_relay(
        &self,
        name: &str,
        from: Option<FeedPosition>,
        to: FeedPosition,
    ) -> Result<bool, RepoError> {
        self.events.move_relay(name, from, to).await
    }

    async fn chains_after(
        &self,
        after: Option<(OrderId, u32)>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, RepoError> {
        self.events.chains_after(after, limit).await
    }
}

/// The app over `store` without authentication, its feed's reads counted: its address and
/// the count.
async fn counted_app<S>(store: S) -> (String, Arc<AtomicUsize>)
where
    S: OrderRepository + IdempotencyStore + GatewayLedger + EventStore + Clone + 'static,
{
    let reads = Arc::new(AtomicUsize::new(0));
    let gateway = SimulatedGateway::new(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        Duration::ZERO,
    );
    let service = OrderService::new(
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        Arc::new(gateway),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        Arc::new(ordo_http::ApiRenderer),
        ServiceConfig::default(),
    )
    .with_events(Arc::new(CountedFeed {
        events: Arc::new(store),
        reads: reads.clone(),
    }));
    let app = ordo_http::app(service, HttpConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("{address}"), reads)
}

/// How many reads of the feed `reads` counts over a second.
async fn reads_in_a_second(reads: &AtomicUsize) -> usize {
    let before = reads.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    reads.load(Ordering::SeqCst) - before
}

/// A socket waiting for events reads the feed every 100 ms; a client sending frames all the
/// while must not make it read more (each frame used to drop the read under way and start
/// another), and an event still comes at once.
async fn a_client_talking_all_the_time_does_not_make_the_feed_read_again(
    address: String,
    reads: Arc<AtomicUsize>,
) {
    let url = format!("ws://{address}/v1/events/ws");
    let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let (mut write, mut read) = socket.split();
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = read.next().await {
            if let Message::Text(text) = message {
                let _ = events.send(serde_json::from_str::<Value>(&text).unwrap());
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let quiet = reads_in_a_second(&reads).await;
    // Pings back to back, far more often than a read of the feed takes.
    let chatter = tokio::spawn(async move {
        let mut sent = 0_usize;
        loop {
            for _ in 0..64 {
                if write.feed(Message::Ping(Vec::new().into())).await.is_err() {
                    return sent;
                }
                sent += 1;
            }
            if write.flush().await.is_err() || sent > 200_000 {
                return sent;
            }
            tokio::task::yield_now().await;
        }
    });
    let talking = reads_in_a_second(&reads).await;
    assert!(
        talking <= quiet + 5,
        "{talking} reads in a second while the client talks, {quiet} while it is quiet"
    );
    let start = Instant::now();
    let placed: Value = reqwest::Client::new()
        .post(format!("http://{address}/v1/orders"))
        .json(&order_body(ALICE))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), received.recv())
        .await
        .expect("the event within five seconds")
        .unwrap();
    assert_eq!(event["order_id"], placed["id"]);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    chatter.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_talking_all_the_time_does_not_make_the_feed_read_again_on_postgres() {
    let (_database, store) = TestPostgres::store().await.unwrap();
    let (address, reads) = counted_app(store).await;
    a_client_talking_all_the_time_does_not_make_the_feed_read_again(address, reads).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_talking_all_the_time_does_not_make_the_feed_read_again_on_sqlite() {
    let (_database, store) = TestSqlite::store().await.unwrap();
    let (address, reads) = counted_app(store).await;
    a_client_talking_all_the_time_does_not_make_the_feed_read_again(address, reads).await;
}
