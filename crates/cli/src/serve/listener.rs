//! The accept loop of `ordo serve`: at most `max_connections` open at once (past that, new
//! ones wait in the listen backlog), and a watchdog on each connection that closes it when it
//! sends no complete request head in time, idles too long between requests, or stops moving
//! bytes while a request is being answered.
//!
//! (Just over 400 lines: the loop, its limits and the watchdog belong together.)

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// Limits on the connections the server keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Connections open at once; more wait to be accepted.
    pub(crate) max_connections: usize,
    /// How long a client has to send a whole request head: from accepting the connection, or
    /// from the first byte of a head on a connection kept alive.
    pub(crate) header_read_timeout: Duration,
    /// How long a connection kept alive may wait for its next request.
    pub(crate) idle_timeout: Duration,
    /// How long a connection with a request in flight may go without moving a byte either
    /// way (a client that stops reading its response).
    pub(crate) stall_timeout: Duration,
}

/// HTTP/2 streams one connection may have open at once.
const MAX_STREAMS_PER_CONNECTION: u32 = 100;

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets every
/// connection finish its requests in flight, and returns once all are closed.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // At the cap, stop accepting: new connections wait in the kernel's backlog.
        let permit = tokio::select! {
            permit = Arc::clone(&open).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    on_accept_error(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let activity = Arc::new(Activity::default());
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: Arc::clone(&activity),
        });
        let service = service_for(app.clone(), peer, Arc::clone(&activity));
        // With upgrades: the event feed's WebSocket is one.
        let connection = graceful.watch(
            builder
                .serve_connection_with_upgrades(io, service)
                .into_owned(),
        );
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    // An upgraded connection lives on in its handler: it still counts against
                    // the cap until it closes.
                    activity.closed().await;
                }
                () = watchdog(&activity, limits) => {
                    tracing::debug!(%peer, "closed an idle or stalled connection");
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// An accept that failed: a connection reset before it was accepted is nothing; anything else
/// (out of file descriptors) is logged, and the loop pauses rather than spin.
async fn on_accept_error(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The app as hyper calls it for one connection: each request carries its peer's address
/// (for per-client limits when authentication is off) and counts as in flight until its
/// response body has been sent.
fn service_for(
    app: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = hyper::Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<hyper::Response<Body>, Infallible>> + Send + 'static,
> {
    hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let busy = Busy::begin(&activity);
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(Body::new)).await?;
            Ok(response.map(|inner| Body::new(Answering { inner, _busy: busy })))
        }
    })
}

/// What the watchdog knows of its connection.
#[derive(Debug, Default)]
struct Activity {
    /// Requests being answered, until their response body has been sent.
    busy: AtomicUsize,
    /// Requests begun so far: a request may begin and end between two looks at `busy`.
    begun: AtomicU64,
    /// Reads that brought bytes.
    reads: AtomicU64,
    /// Reads and writes that moved bytes.
    moved: AtomicU64,
    /// `reads` when the last request ended: reads past it bring the next request's head.
    reads_at_end: AtomicU64,
    /// Whether the socket has been dropped, and who waits for it.
    is_closed: std::sync::atomic::AtomicBool,
    on_close: tokio::sync::Notify,
}

impl Activity {
    /// Resolves once the connection's socket is dropped (by hyper, or by the handler an
    /// upgrade handed it to).
    async fn closed(&self) {
        let notified = self.on_close.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        if self.is_closed.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }

    fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire) > 0
    }
}

/// A request in flight on its connection.
struct Busy(Arc<Activity>);

impl Busy {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::AcqRel);
        activity.begun.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(activity))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let reads = self.0.reads.load(Ordering::Acquire);
        self.0.reads_at_end.store(reads, Ordering::Release);
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Resolves when the connection should be closed: no complete request head within the head
/// timeout, no next request within the idle timeout, or no byte moved within the stall
/// timeout while a request is in flight. Never resolves while the connection behaves.
///
/// It looks at the connection's counters a few times per shortest timeout instead of being
/// woken by every request: a request costs the connection a few atomic increments, no timer
/// and no wake-up (measured: waking per request cost ~15 µs of CPU per GET).
async fn watchdog(activity: &Activity, limits: ConnectionLimits) {
    let shortest = limits
        .header_read_timeout
        .min(limits.idle_timeout)
        .min(limits.stall_timeout);
    let tick = shortest
        .checked_div(4)
        .unwrap_or(shortest)
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut every = tokio::time::interval(tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    let mut last = (0_u64, 0_u64);
    let (mut progress_at, mut idle_since) = (started, started);
    let mut head_at: Option<Instant> = None;
    let mut was_busy = false;
    loop {
        every.tick().await;
        let now = Instant::now();
        let busy = activity.is_busy();
        let seen = (
            activity.begun.load(Ordering::Acquire),
            activity.moved.load(Ordering::Acquire),
        );
        let (begun, moved) = seen;
        let reads = activity.reads.load(Ordering::Acquire);
        if begun != last.0 || moved != last.1 {
            progress_at = now;
        }
        if busy {
            was_busy = true;
            if now.duration_since(progress_at) >= limits.stall_timeout {
                return;
            }
        } else {
            if was_busy || begun != last.0 {
                // A request ended since the last look: the next one may take its time.
                idle_since = now;
                head_at = None;
                was_busy = false;
            }
            if head_at.is_none() && reads > activity.reads_at_end.load(Ordering::Acquire) {
                // The next request's head has begun to arrive.
                head_at = Some(now);
            }
            let (waited, limit) = match (begun, head_at) {
                // A new connection owes its first head from the moment it was accepted.
                (0, _) => (now.duration_since(started), limits.header_read_timeout),
                (_, Some(head)) => (now.duration_since(head), limits.header_read_timeout),
                (_, None) => (now.duration_since(idle_since), limits.idle_timeout),
            };
            if waited >= limit {
                return;
            }
        }
        last = seen;
    }
}

/// A response body that keeps its request counted as in flight until it has been sent.
struct Answering {
    inner: Body,
    _busy: Busy,
}

impl HttpBody for Answering {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The connection's socket, telling the watchdog when bytes move.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.activity.is_closed.store(true, Ordering::Release);
        self.activity.on_close.notify_waiters();
    }
}

impl Watched {
    fn moved(&self) {
        self.activity.moved.fetch_add(1, Ordering::AcqRel);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buffer.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(context, buffer);
        if matches!(polled, Poll::Ready(Ok(()))) && buffer.filled().len() > before {
            this.moved();
            this.activity.reads.fetch_add(1, Ordering::AcqRel);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(context, bytes);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.moved();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(context, buffers);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.moved();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(context)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use super::{Activity, Busy, ConnectionLimits, watchdog};

    const LIMITS: ConnectionLimits = ConnectionLimits {
        max_connections: 1,
        header_read_timeout: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(400),
        stall_timeout: Duration::from_millis(250),
    };

    /// How long the watchdog lets a connection live, up to `most`.
    async fn lifetime(activity: &Arc<Activity>, most: Duration) -> Option<Duration> {
        let started = Instant::now();
        tokio::time::timeout(most, watchdog(activity, LIMITS))
            .await
            .ok()
            .map(|()| started.elapsed())
    }

    #[tokio::test]
    async fn a_connection_without_a_request_lives_for_the_head_timeout() {
        let activity = Arc::new(Activity::default());
        let lived = lifetime(&activity, Duration::from_secs(2)).await;
        assert!(
            lived.is_some_and(|lived| lived < Duration::from_millis(300)),
            "{lived:?}"
        );
    }

    #[tokio::test]
    async fn a_request_answered_before_the_watchdog_looks_counts_and_the_idle_timeout_follows() {
        let activity = Arc::new(Activity::default());
        drop(Busy::begin(&activity));
        let lived = lifetime(&activity, Duration::from_secs(2)).await;
        assert!(
            lived.is_some_and(|lived| lived >= Duration::from_millis(350)),
            "{lived:?}"
        );
    }

    #[tokio::test]
    async fn a_request_that_moves_no_byte_is_stalled_and_one_that_does_is_not() {
        let activity = Arc::new(Activity::default());
        let busy = Busy::begin(&activity);
        let lived = lifetime(&activity, Duration::from_secs(2)).await;
        assert!(
            lived.is_some_and(|lived| lived >= Duration::from_millis(200)),
            "{lived:?}"
        );
        drop(busy);

        let activity = Arc::new(Activity::default());
        let _busy = Busy::begin(&activity);
        let moving = Arc::clone(&activity);
        let mover = tokio::spawn(async move {
            loop {
                moving.moved.fetch_add(1, Ordering::AcqRel);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        assert_eq!(lifetime(&activity, Duration::from_secs(1)).await, None);
        mover.abort();
    }
}
