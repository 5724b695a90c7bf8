//! What operators and orchestrators need around the API: health and readiness, a per-request
//! timeout, a cap on requests in flight and each caller's share of it, and a rate limit. Each
//! answers with a problem body, never a dropped connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ordo_service::{Caller, OrderService};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::problem::Problem;
use crate::problem::ProblemKind;

/// Set when the process is shutting down: `/readyz` answers 503 so load balancers stop
/// sending traffic while requests in flight finish.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// From now on, the instance reports itself not ready.
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// `GET /healthz`: the process is alive. Touches nothing else.
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers, migrations are current, and no shutdown has begun.
pub(crate) async fn readyz(
    State((service, draining)): State<(OrderService, Draining)>,
) -> Response {
    if draining.is_draining() {
        return not_ready("shutting down");
    }
    match service.ready().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(error) => not_ready(&error.to_string()),
    }
}

fn not_ready(why: &str) -> Response {
    Problem::new(ProblemKind::NotReady, why.to_owned())
        .retry_after(1)
        .into_response()
}

/// Ends a request that runs past `limit` with a 504 problem. The idempotency claim the cut
/// request held is released first, so the retry the answer advises runs at once instead of
/// meeting "in progress" until the claim's lease ends.
pub(crate) async fn timeout(
    State((limit, service)): State<(Duration, OrderService)>,
    mut request: Request,
    next: Next,
) -> Response {
    // Only a request that may claim a key (a POST with one) needs somewhere to leave it.
    let slot = request
        .headers()
        .contains_key(&crate::idempotency::IDEMPOTENCY_KEY)
        .then(crate::idempotency::ClaimSlot::default);
    if let Some(slot) = &slot {
        request.extensions_mut().insert(slot.clone());
    }
    if let Ok(response) = tokio::time::timeout(limit, next.run(request)).await {
        return response;
    }
    if let Some(claim) = slot.and_then(|slot| slot.take()) {
        service.abandon_idempotent(&claim).await;
    }
    Problem::new(
        ProblemKind::Timeout,
        format!("no answer within {limit:?}; retry with the same Idempotency-Key to be safe"),
    )
    .into_response()
}

/// Who a request counts against for fair shares: the caller (role and subject), or the peer's
/// IP address when authentication is off and every caller looks the same.
fn client_key(request: &Request) -> String {
    match request.extensions().get::<Caller>() {
        Some(caller) if !caller.is_unauthenticated() => caller.scope(),
        _ => {
            let ip = request
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
            format!("ip:{ip}")
        }
    }
}

/// Each caller's share of the requests in flight: at most `most` at once per caller, so one
/// caller (with slow bodies, slow requests or many connections) cannot take every slot of
/// the global cap. The table holds only callers with a request in flight, so it is never
/// larger than the number of requests being served.
#[derive(Debug)]
pub(crate) struct CallerShares {
    most: usize,
    holders: std::sync::Mutex<HashMap<String, usize>>,
}

impl CallerShares {
    pub(crate) fn new(most: usize) -> Arc<Self> {
        Arc::new(Self {
            most,
            holders: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// A slot of `client`'s share, held until the guard drops; `None` when all are taken.
    fn take(self: &Arc<Self>, client: String) -> Option<ShareGuard> {
        let mut holders = self.holders.lock().unwrap_or_else(PoisonError::into_inner);
        let held = holders.entry(client.clone()).or_insert(0);
        if *held >= self.most {
            return None;
        }
        *held = held.saturating_add(1);
        Some(ShareGuard {
            shares: Arc::clone(self),
            client,
        })
    }

    #[cfg(test)]
    fn callers(&self) -> usize {
        self.holders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// One request's slot in its caller's share.
struct ShareGuard {
    shares: Arc<CallerShares>,
    client: String,
}

impl Drop for ShareGuard {
    fn drop(&mut self) {
        let mut holders = self
            .shares
            .holders
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = holders.get_mut(&self.client) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                holders.remove(&self.client);
            }
        }
    }
}

/// What admits a request to the API.
pub(crate) struct Admission {
    /// Each caller's share of requests in flight.
    pub(crate) shares: Arc<CallerShares>,
    /// How bodies are read.
    pub(crate) body: crate::body::BodyLimits,
    /// The global cap on requests in flight.
    pub(crate) permits: Arc<Semaphore>,
}

/// Admits an API request, in one layer (each layer costs a clone of the routes and a boxed
/// future per request; measured with callgrind, three layers here cost ~25k instructions a
/// GET): a slot of the caller's share (429 past it), then its body, read within the body
/// timeout (408), then a slot of the global in-flight cap (503 past it). The share is taken
/// before the body, so stalled bodies only ever hold the caller's own slots; the body is read
/// before the cap, so a body that stalls never holds a slot of the cap.
pub(crate) async fn admit(
    State(admission): State<Arc<Admission>>,
    request: Request,
    next: Next,
) -> Response {
    let shares = &admission.shares;
    let Some(_share) = shares.take(client_key(&request)) else {
        return Problem::new(
            ProblemKind::TooManyInFlight,
            format!(
                "this caller already has {} requests in flight; retry when one has finished",
                shares.most
            ),
        )
        .retry_after(1)
        .into_response();
    };
    let request = match crate::body::read_body(admission.body, request).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let Ok(_permit) = Arc::clone(&admission.permits).try_acquire_owned() else {
        return Problem::new(
            ProblemKind::Overloaded,
            "the server is at its limit of requests in flight; retry shortly",
        )
        .retry_after(1)
        .into_response();
    };
    next.run(request).await
}

/// A per-client request rate: `per_second` on average, bursts up to `burst`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Requests per second allowed on average.
    pub per_second: std::num::NonZeroU32,
    /// Requests allowed at once after a quiet spell.
    pub burst: std::num::NonZeroU32,
}

/// The per-client limiter, keyed by the caller (by the peer's IP address when authentication
/// is off and every caller looks the same).
pub(crate) struct ClientLimiter {
    limiter: governor::DefaultKeyedRateLimiter<String>,
    checks: std::sync::atomic::AtomicU32,
}

/// How many checks between two prunings of clients whose budget is full again, so the table
/// stays as large as the set of recent clients, not of every client ever seen.
const PRUNE_EVERY: u32 = 4096;

pub(crate) fn limiter(limit: RateLimit) -> Arc<ClientLimiter> {
    let quota = governor::Quota::per_second(limit.per_second).allow_burst(limit.burst);
    Arc::new(ClientLimiter {
        limiter: governor::RateLimiter::keyed(quota),
        checks: std::sync::atomic::AtomicU32::new(0),
    })
}

impl ClientLimiter {
    fn check(
        &self,
        client: &String,
    ) -> Result<(), governor::NotUntil<governor::clock::QuantaInstant>> {
        let checks = self.checks.fetch_add(1, Ordering::Relaxed);
        if checks % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(client)
    }

    #[cfg(test)]
    fn clients(&self) -> usize {
        self.limiter.len()
    }
}

/// Answers a client past its rate with a 429 problem and the seconds to wait.
pub(crate) async fn rate_limit(
    State(limiter): State<Arc<ClientLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    use governor::clock::{Clock as _, DefaultClock};
    let client = client_key(&request);
    match limiter.check(&client) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = u32::try_from(wait.as_secs().saturating_add(1)).unwrap_or(u32::MAX);
            Problem::new(
                ProblemKind::RateLimited,
                format!("this client is over its request rate; retry in {seconds} s"),
            )
            .retry_after(seconds)
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::{CallerShares, PRUNE_EVERY, RateLimit, limiter};

    #[test]
    fn a_share_is_per_caller_and_its_slots_come_back() {
        let shares = CallerShares::new(2);
        let first = shares.take("customer:a".to_owned());
        let second = shares.take("customer:a".to_owned());
        assert!(first.is_some() && second.is_some());
        assert!(shares.take("customer:a".to_owned()).is_none());
        assert!(shares.take("customer:b".to_owned()).is_some());
        drop(first);
        let third = shares.take("customer:a".to_owned());
        assert!(third.is_some());
        drop((second, third));
        // Callers with nothing in flight leave the table.
        assert_eq!(shares.callers(), 0);
    }

    #[test]
    fn clients_with_a_full_budget_are_pruned_from_the_table() {
        let one = NonZeroU32::MIN;
        let limits = limiter(RateLimit {
            per_second: NonZeroU32::new(1000).unwrap_or(one),
            burst: one,
        });
        for client in 0..PRUNE_EVERY - 1 {
            let _ = limits.check(&format!("ip:{client}"));
        }
        assert_eq!(
            limits.clients(),
            usize::try_from(PRUNE_EVERY - 1).unwrap_or(0)
        );
        // A millisecond refills every budget of one request at 1000 per second.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let _ = limits.check(&"ip:last".to_owned());
        assert!(limits.clients() <= 1, "{}", limits.clients());
    }
}
