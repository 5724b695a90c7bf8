//! Order events: the record each change writes with itself, an order's history, the feed (with
//! long polling), and the audit of every order's hash chain.

use std::time::Duration;

use ordo_domain::{Actor, EventKind, EventRecord, Hash, Order, OrderId, link};
use ordo_repository::{BoxError, EventStore, FeedPage, FeedQuery, RepoError, StoredEvent};

use crate::access::Action;
use crate::ports::v7_parts;
use crate::{Caller, OrderService, ServiceError};

/// Turns an order into the payload its events carry: the order as the API shows it to staff.
/// Implemented by `ordo-http` (its order representation), so webhooks, the feed and the
/// history show exactly what `GET /v1/orders/{id}` does.
pub trait OrderRenderer: Send + Sync {
    /// The order as JSON text.
    ///
    /// # Errors
    /// Only on a bug: an order always renders.
    fn render(&self, order: &Order) -> Result<String, BoxError>;
}

/// Publishes events to a message bus, each acknowledged before the call returns.
#[async_trait::async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes `event`; the bus deduplicates on its id.
    ///
    /// # Errors
    /// When the bus did not acknowledge it.
    async fn publish(&self, event: &StoredEvent) -> Result<(), BoxError>;
}

/// How many events one relay pass publishes.
const RELAY_BATCH: u32 = 200;

/// Who caused a change and through which request: what its event records besides the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cause {
    actor: Actor,
    request_id: Option<String>,
    idempotency_key: Option<String>,
}

impl Cause {
    /// ordo itself, doing `job` (reconciliation, an operator command).
    pub(crate) fn system(job: &str) -> Self {
        Self {
            actor: Actor::system(job),
            request_id: None,
            idempotency_key: None,
        }
    }
}

impl From<&Caller> for Cause {
    fn from(caller: &Caller) -> Self {
        let (request_id, idempotency_key) = caller.request();
        Self {
            actor: caller.actor(),
            request_id,
            idempotency_key,
        }
    }
}

/// The longest a feed read may wait for an event.
pub const MAX_FEED_WAIT: Duration = Duration::from_secs(30);

/// How often a waiting feed read looks again.
const FEED_POLL: Duration = Duration::from_millis(100);

/// How many events one audit read takes.
const AUDIT_BATCH: u32 = 1_000;

/// The first broken link an audit found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The order whose chain breaks.
    pub order_id: OrderId,
    /// The event's position in that chain.
    pub chain: u32,
    /// The event.
    pub event_id: uuid::Uuid,
    /// What is wrong.
    pub reason: String,
}

/// What an audit of every chain found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Orders with at least one event.
    pub orders: u64,
    /// Events checked.
    pub events: u64,
    /// Events whose payload was erased (their digests still checked in the chain).
    pub erased: u64,
    /// The first broken link, if any (the audit stops there).
    pub broken: Option<BrokenLink>,
}

impl OrderService {
    /// The event of `kind` for `order` as it now is, caused by `cause`.
    pub(crate) fn event(
        &self,
        cause: &Cause,
        kind: EventKind,
        order: &Order,
    ) -> Result<EventRecord, ServiceError> {
        let payload = self
            .renderer
            .render(order)
            .map_err(ServiceError::Internal)?;
        let now = self.clock.now();
        let (millis, random) = v7_parts(now);
        let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        Ok(EventRecord::new(
            id,
            kind,
            order.id(),
            order.customer_id(),
            order.version(),
            cause.actor.clone(),
            now,
            payload,
        )
        .from_request(cause.request_id.clone(), cause.idempotency_key.clone()))
    }

    fn events(&self) -> Result<&dyn EventStore, ServiceError> {
        self.events.as_deref().ok_or(ServiceError::Forbidden(
            "this deployment keeps no event store",
        ))
    }

    /// An order's history, oldest first. The order is read as [`OrderService::get`] reads it
    /// and the caller checked against it, so whoever may read an order reads its history, which
    /// is empty for an order not changed since events were first kept (migration 18 recorded
    /// none for the orders already there). A deleted order's history stays readable to staff and
    /// admins (support, chargebacks), its events saying whose it was; to a customer a deleted
    /// order is gone, its history as much as the order.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] (no such order, another customer's, a customer's own deleted
    /// one, or a deleted order with no events);
    /// [`ServiceError::Forbidden`]; storage errors.
    pub async fn order_events(
        &self,
        caller: &Caller,
        order_id: OrderId,
    ) -> Result<Vec<StoredEvent>, ServiceError> {
        let store = self.events()?;
        match self.orders.get(order_id).await {
            Ok(order) => caller.check(Action::Read, order.customer_id())?,
            // Deleted, or never made: only its events say whose it was (an order deleted
            // before events were kept has none, and reads as no order).
            Err(RepoError::NotFound) => {
                caller.check_reads_deleted()?;
                let events = store.order_events(order_id).await?;
                let owner = events
                    .first()
                    .map(|event| event.record.customer_id)
                    .ok_or(ServiceError::NotFound)?;
                caller.check(Action::Read, owner)?;
                return Ok(events);
            }
            Err(error) => return Err(error.into()),
        }
        Ok(store.order_events(order_id).await?)
    }

    /// The feed after `query.after`: events in an order no reader can see change (an event
    /// never appears behind a position already read). With `wait`, an empty read waits up to
    /// that long (at most [`MAX_FEED_WAIT`]) for the next event. A customer reads only its own
    /// orders' events, whatever `query` says.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; storage errors.
    pub async fn feed(
        &self,
        caller: &Caller,
        mut query: FeedQuery,
        wait: Duration,
    ) -> Result<FeedPage, ServiceError> {
        caller.check_feed()?;
        if let Some(customer) = caller.events_scope() {
            query.customer_id = Some(customer);
        }
        let store = self.events()?;
        let start = tokio::time::Instant::now();
        let deadline = start.checked_add(wait.min(MAX_FEED_WAIT)).unwrap_or(start);
        loop {
            let page = store.feed(&query).await?;
            if !page.events.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(page);
            }
            let now = tokio::time::Instant::now();
            tokio::time::sleep_until(deadline.min(now.checked_add(FEED_POLL).unwrap_or(now))).await;
        }
    }

    /// Publishes the feed after where the relay `name` stands, in order, each event
    /// acknowledged by the bus, then moves the relay past them (compare-and-set). A failure
    /// leaves the relay where it was: the next pass publishes those events again, and the bus
    /// drops the copies by id. How many it published.
    ///
    /// # Errors
    /// The bus's error; storage errors.
    pub async fn relay(
        &self,
        name: &str,
        publisher: &dyn EventPublisher,
    ) -> Result<usize, ServiceError> {
        let store = self.events()?;
        let from = store.relay_position(name).await?;
        let page = store
            .feed(&FeedQuery {
                after: from,
                kinds: Vec::new(),
                customer_id: None,
                limit: RELAY_BATCH,
            })
            .await?;
        let Some(to) = page.next.filter(|_| !page.events.is_empty()) else {
            return Ok(0);
        };
        for event in &page.events {
            publisher
                .publish(event)
                .await
                .map_err(ServiceError::Unavailable)?;
        }
        store.move_relay(name, from, to).await?;
        Ok(page.events.len())
    }

    /// Checks that the caller may read the feed (before a stream of it starts).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`].
    pub fn may_read_feed(&self, caller: &Caller) -> Result<(), ServiceError> {
        caller.check_feed()
    }

    /// Walks every order's chain: each event must follow the one before it (position, previous
    /// hash), its hash must be the link of the previous hash and its digest, and its payload,
    /// unless erased, must match its digest. Stops at the first broken link.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for anyone but admins; storage errors.
    pub async fn audit_chains(&self, caller: &Caller) -> Result<AuditReport, ServiceError> {
        caller.check_may_audit()?;
        let store = self.events()?;
        let mut report = AuditReport::default();
        let mut last: Option<(OrderId, u32, Hash)> = None;
        loop {
            let batch = store
                .chains_after(last.map(|(order, chain, _)| (order, chain)), AUDIT_BATCH)
                .await?;
            let Some(end) = batch.last() else {
                return Ok(report);
            };
            let next = (end.record.order_id, end.chain, end.hash);
            for event in &batch {
                let previous = last
                    .filter(|(order, _, _)| *order == event.record.order_id)
                    .map(|(_, chain, hash)| (chain, hash));
                if previous.is_none() {
                    report.orders = report.orders.saturating_add(1);
                }
                report.events = report.events.saturating_add(1);
                if event.record.payload.is_none() {
                    report.erased = report.erased.saturating_add(1);
                }
                if let Some(reason) = broken(event, previous) {
                    report.broken = Some(BrokenLink {
                        order_id: event.record.order_id,
                        chain: event.chain,
                        event_id: event.record.id,
                        reason,
                    });
                    return Ok(report);
                }
                last = Some((event.record.order_id, event.chain, event.hash));
            }
            last = Some(next);
        }
    }
}

/// Why `event` does not follow `previous` (its order's event before it: chain position and
/// hash; `None` for the order's first), if it does not.
fn broken(event: &StoredEvent, previous: Option<(u32, Hash)>) -> Option<String> {
    let expected_chain = previous.map_or(1, |(chain, _)| chain.saturating_add(1));
    if event.chain != expected_chain {
        return Some(format!(
            "expected chain position {expected_chain}, found {} (an event is missing)",
            event.chain
        ));
    }
    let previous_hash = previous.map(|(_, hash)| hash);
    if event.prev_hash != previous_hash {
        return Some("its previous hash is not the hash of the event before it".to_owned());
    }
    if event.hash != link(previous_hash.as_ref(), &event.record.digest()) {
        return Some("its hash does not match its content (the event was altered)".to_owned());
    }
    if event.record.payload_intact() == Some(false) {
        return Some("its payload does not match its digest (the payload was altered)".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        reason = "test code"
    )]

    use std::sync::Arc;

    use chrono::DateTime;
    use ordo_domain::{CustomerId, Version, sha256};
    use ordo_repository::{
        FeedPosition, MockEventStore, MockGatewayLedger, MockIdempotencyStore, MockOrderRepository,
    };

    use super::*;
    use crate::{RandomIds, Role, ServiceConfig, SimulatedGateway, SystemClock};

    struct Plain;

    impl OrderRenderer for Plain {
        fn render(&self, order: &Order) -> Result<String, BoxError> {
            Ok(order.id().to_string())
        }
    }

    /// `count` events of order `n`, chained as storage chains them.
    fn chain(n: u128, count: u32) -> Vec<StoredEvent> {
        let order = OrderId::from_uuid(uuid::Uuid::from_u128(
            0x0190_0000_0000_7000_8000_0000_0000_0000 | n,
        ))
        .unwrap();
        let mut previous: Option<Hash> = None;
        (1..=count)
            .map(|position| {
                let mut record = EventRecord::new(
                    uuid::Uuid::from_u128(n * 1000 + u128::from(position)),
                    EventKind::OrderEdited,
                    order,
                    CustomerId::from_uuid(uuid::Uuid::from_u128(7)).unwrap(),
                    Version::new(position),
                    Actor::system("test"),
                    DateTime::from_timestamp_micros(i64::from(position)).unwrap(),
                    format!("{{\"n\":{position}}}"),
                );
                record.payload_digest = sha256(record.payload.as_deref().unwrap().as_bytes());
                let hash = link(previous.as_ref(), &record.digest());
                let event = StoredEvent {
                    record,
                    position: FeedPosition {
                        tx: 0,
                        seq: i64::from(position),
                    },
                    chain: position,
                    prev_hash: previous,
                    hash,
                };
                previous = Some(hash);
                event
            })
            .collect()
    }

    /// An audit over `events`, served in batches of at most three (as storage pages them).
    async fn audit(events: Vec<StoredEvent>) -> AuditReport {
        let mut store = MockEventStore::new();
        let all = Arc::new(events);
        store.expect_chains_after().returning(move |after, _| {
            let start = after.map_or(0, |(order, chain)| {
                all.iter()
                    .position(|e| e.record.order_id == order && e.chain == chain)
                    .map_or(all.len(), |i| i + 1)
            });
            Ok(all.iter().skip(start).take(3).cloned().collect())
        });
        let ledger = Arc::new(MockGatewayLedger::new());
        let service = OrderService::new(
            Arc::new(MockOrderRepository::new()),
            Arc::new(MockIdempotencyStore::new()),
            Arc::new(SimulatedGateway::new(
                ledger,
                Arc::new(SystemClock),
                Duration::ZERO,
            )),
            Arc::new(SystemClock),
            Arc::new(RandomIds),
            Arc::new(Plain),
            ServiceConfig::default(),
        )
        .with_events(Arc::new(store));
        let admin = Caller::operator(Role::Admin, "ops").unwrap();
        assert!(matches!(
            service
                .audit_chains(&Caller::operator(Role::Staff, "s").unwrap())
                .await,
            Err(ServiceError::Forbidden(_))
        ));
        service.audit_chains(&admin).await.unwrap()
    }

    fn concat(chains: Vec<Vec<StoredEvent>>) -> Vec<StoredEvent> {
        chains.into_iter().flatten().collect()
    }

    #[tokio::test]
    async fn intact_chains_verify_across_batches() {
        let report = audit(concat(vec![chain(1, 4), chain(2, 1), chain(3, 5)])).await;
        assert_eq!(
            report,
            AuditReport {
                orders: 3,
                events: 10,
                erased: 0,
                broken: None
            }
        );
    }

    #[tokio::test]
    async fn every_kind_of_tampering_is_found_and_named() {
        type Tamper = fn(&mut Vec<StoredEvent>);
        let cases: [(Tamper, u32, &str); 5] = [
            (|e| drop(e.remove(2)), 4, "an event is missing"),
            (
                |e| e[2].record.actor.subject = "x".into(),
                3,
                "the event was altered",
            ),
            (
                |e| e[1].record.payload = Some("{}".into()),
                2,
                "the payload was altered",
            ),
            (|e| e[3].prev_hash = Some([0; 32]), 4, "previous hash"),
            (
                |e| {
                    // A whole event rewritten and rehashed, but the next still names the old.
                    e[1].record.actor.subject = "x".into();
                    e[1].hash = link(e[1].prev_hash.as_ref(), &e[1].record.digest());
                },
                3,
                "previous hash",
            ),
        ];
        for (tamper, at, why) in cases {
            let mut events = concat(vec![chain(1, 2), chain(2, 5)]);
            let mut second: Vec<StoredEvent> = events.split_off(2);
            tamper(&mut second);
            events.extend(second);
            let report = audit(events).await;
            let broken = report.broken.unwrap();
            assert_eq!(broken.chain, at, "{why}: {broken:?}");
            assert!(broken.reason.contains(why), "{why}: {broken:?}");
            assert_eq!(broken.order_id, chain(2, 1)[0].record.order_id);
        }
    }

    #[tokio::test]
    async fn erased_payloads_are_counted_and_their_chain_still_verifies() {
        let mut events = chain(1, 3);
        events[0].record.payload = None;
        events[1].record.payload = None;
        let report = audit(events).await;
        assert_eq!((report.erased, report.broken), (2, None));
    }
}
