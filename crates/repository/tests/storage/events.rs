//! The events contract: every order write records its event in its own transaction, chained to
//! the order's last one; the history, the feed and the audit walk read them back; on both
//! databases. PostgreSQL's out-of-order commits are `the_feed_never_passes_a_transaction_still_running`.

use std::sync::Arc;

use ordo_domain::{
    Actor, ActorRole, EventKind, EventRecord, Hash, Order, StatusChange, Version, link,
};
use ordo_repository::testing::{TestPostgres, event_of};
use ordo_repository::{
    Claim, EventStore, FeedPosition, FeedQuery, KeyScope, OrderRepository, PaymentAttempt, Refund,
    RefundStatus, RepoError, StoredEvent,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::fixtures::{at, customer, sample, stored};

contract!(
    every_write_records_its_event_chained_to_the_last,
    a_write_that_misses_records_no_event,
    the_feed_pages_in_order_by_kind_and_customer,
    the_audit_walk_reads_every_chain_in_order,
    an_erasure_drops_earlier_payloads_and_keeps_their_digests,
    racing_events_of_one_order_never_fork_its_chain,
    a_relay_moves_only_from_where_it_stands,
    the_head_is_at_or_above_every_event_and_below_every_later_one,
);

trait Storage: OrderRepository + EventStore + ordo_repository::IdempotencyStore {}

impl<T: OrderRepository + EventStore + ordo_repository::IdempotencyStore> Storage for T {}

type Store = Arc<dyn Storage>;

/// An event of `kind` for `order`, by staff, from a request with a key.
fn event(order: &Order, kind: EventKind) -> EventRecord {
    let mut event = event_of(order);
    event.kind = kind;
    event.actor = Actor {
        role: ActorRole::Staff,
        subject: "ops@example.com".to_owned(),
    };
    event.from_request(Some("req-1".to_owned()), Some("key-1".to_owned()))
}

/// Checks that `events` form one chain from its start, each linked by `ordo_domain::link`.
fn assert_chained(events: &[StoredEvent]) {
    let mut previous: Option<Hash> = None;
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event.chain as usize, index + 1, "{event:?}");
        assert_eq!(event.prev_hash, previous, "{event:?}");
        assert_eq!(
            event.hash,
            link(previous.as_ref(), &event.record.digest()),
            "the stored hash is the domain's link: {event:?}"
        );
        assert_eq!(event.record.payload_intact(), Some(true));
        previous = Some(event.hash);
    }
}

fn attempt(order: &Order) -> PaymentAttempt {
    PaymentAttempt {
        id: Uuid::new_v4(),
        order_id: order.id(),
        operation: ordo_domain::PaymentOperation::Authorize,
        amount: order.pricing().total(),
        outcome: ordo_repository::AttemptOutcome::Approved,
        reference: Some("ref".to_owned()),
        at: at(2),
    }
}

fn refund(order: &Order, n: u128) -> Refund {
    Refund {
        id: Uuid::from_u128(n),
        order_id: order.id(),
        amount: Decimal::ONE,
        reason: "goodwill".to_owned(),
        status: RefundStatus::Pending,
        created_at: at(3),
    }
}

/// An order placed, authorized and captured (so refundable), each write with its event.
async fn paid(store: &Store) -> Vec<EventRecord> {
    let order = sample(&**store, customer(1), 2, at(0)).await;
    let placed = event(&order, EventKind::OrderPlaced);
    store.insert(&order, None, &placed).await.unwrap();
    // Placed with its authorization claimed; then settled, a capture claimed and settled.
    let mut events = vec![placed];
    let mut current = order;
    for operation in [
        ordo_domain::PaymentOperation::Authorize,
        ordo_domain::PaymentOperation::Capture,
    ] {
        let mut claimed = current.clone();
        if current.payment().pending.is_none() {
            claimed.begin_payment(operation, at(1)).unwrap();
            let requested = event(&claimed, EventKind::PaymentRequested);
            store
                .update(&claimed, current.version(), &requested)
                .await
                .unwrap();
            events.push(requested);
        }
        let mut settled = claimed.clone();
        settled
            .settle_payment(
                ordo_domain::GatewayOutcome::Approved {
                    reference: "ref".to_owned(),
                },
                at(2),
            )
            .unwrap();
        let kind = match operation {
            ordo_domain::PaymentOperation::Authorize => EventKind::PaymentAuthorized,
            _ => EventKind::PaymentCaptured,
        };
        let done = event(&settled, kind);
        store
            .update_with_attempt(&settled, claimed.version(), &attempt(&settled), &done)
            .await
            .unwrap();
        events.push(done);
        current = settled;
    }
    events
}

#[expect(
    clippy::too_many_lines,
    reason = "every kind of write, one after another"
)]
async fn every_write_records_its_event_chained_to_the_last(store: Store) {
    let mut written = paid(&store).await;
    let order_id = written[0].order_id;
    let order = store.get(order_id).await.unwrap();
    // A refund reserved, then succeeded (the order unchanged: the event rides the refund's
    // write), then one reserved and failed (released with the order).
    let mut reserved = order.clone();
    reserved.record_refund(Decimal::ONE, at(3)).unwrap();
    let requested = event(&reserved, EventKind::RefundRequested);
    store
        .reserve_refund(&reserved, order.version(), &refund(&order, 1), &requested)
        .await
        .unwrap();
    let succeeded = event(&reserved, EventKind::RefundSucceeded);
    store
        .settle_refund(
            Uuid::from_u128(1),
            RefundStatus::Succeeded,
            None,
            at(4),
            &succeeded,
        )
        .await
        .unwrap();
    let mut second = reserved.clone();
    second.record_refund(Decimal::ONE, at(5)).unwrap();
    let requested_again = event(&second, EventKind::RefundRequested);
    store
        .reserve_refund(
            &second,
            reserved.version(),
            &refund(&order, 2),
            &requested_again,
        )
        .await
        .unwrap();
    let mut released = second.clone();
    released.revert_refund(Decimal::ONE, at(6)).unwrap();
    let failed = event(&released, EventKind::RefundFailed);
    store
        .settle_refund(
            Uuid::from_u128(2),
            RefundStatus::Failed,
            Some((&released, second.version())),
            at(6),
            &failed,
        )
        .await
        .unwrap();
    let mut completed = released.clone();
    completed
        .begin_change(StatusChange::Process, at(7))
        .unwrap();
    let processing = event(&completed, EventKind::StatusChanged);
    store
        .update(&completed, released.version(), &processing)
        .await
        .unwrap();
    let mut deleted = event(&completed, EventKind::OrderDeleted);
    deleted.version = Version::new(completed.version().get() + 1);
    store
        .soft_delete(order_id, Some(completed.version()), at(8), &deleted)
        .await
        .unwrap();
    written.extend([
        requested,
        succeeded,
        requested_again,
        failed,
        processing,
        deleted,
    ]);

    // A deleted order keeps its history, oldest first, exactly as written.
    let history = store.order_events(order_id).await.unwrap();
    assert_eq!(
        history.iter().map(|e| e.record.clone()).collect::<Vec<_>>(),
        written
    );
    assert_chained(&history);
    // One event by its id (what a webhook sender reads).
    assert_eq!(store.event(history[2].record.id).await.unwrap(), history[2]);
    assert!(matches!(
        store.event(Uuid::from_u128(42)).await,
        Err(RepoError::NotFound)
    ));
    let kinds: Vec<_> = history.iter().map(|e| e.record.kind).collect();
    assert_eq!(kinds.first(), Some(&EventKind::OrderPlaced));
    assert_eq!(kinds.last(), Some(&EventKind::OrderDeleted));
    assert_eq!(history[0].record.request_id.as_deref(), Some("req-1"));
    assert_eq!(history[0].record.idempotency_key.as_deref(), Some("key-1"));
    // Versions never go down along the chain, and the feed holds the same events.
    assert!(
        history
            .windows(2)
            .all(|w| w[0].record.version <= w[1].record.version)
    );
    let feed = store
        .feed(&FeedQuery {
            after: None,
            kinds: Vec::new(),
            customer_id: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(feed.events, history);
    assert_eq!(feed.next, history.last().map(|e| e.position));
    // Another order has a chain of its own.
    let other = stored(&*store, customer(2), at(9)).await;
    let its = store.order_events(other.id()).await.unwrap();
    assert_eq!(its.len(), 1);
    assert_chained(&its);
}

async fn a_write_that_misses_records_no_event(store: Store) {
    let order = stored(&*store, customer(1), at(0)).await;
    let before = store.order_events(order.id()).await.unwrap();
    let mut changed = order.clone();
    changed.begin_change(StatusChange::Process, at(1)).ok();
    changed.change_details(order.details().clone(), at(1));
    // A stale version, a missing order, a stale delete, a refund not pending: nothing.
    let stale = Version::new(7);
    let mut far = order.clone();
    for _ in 0..7 {
        far.change_details(order.details().clone(), at(2));
    }
    assert!(matches!(
        store.update(&far, stale, &event_of(&far)).await,
        Err(RepoError::VersionConflict { .. })
    ));
    assert!(matches!(
        store
            .update_with_attempt(&far, stale, &attempt(&far), &event_of(&far))
            .await,
        Err(RepoError::VersionConflict { .. })
    ));
    assert!(matches!(
        store
            .soft_delete(order.id(), Some(stale), at(3), &event_of(&order))
            .await,
        Err(RepoError::VersionConflict { .. })
    ));
    assert!(matches!(
        store
            .settle_refund(
                Uuid::from_u128(9),
                RefundStatus::Succeeded,
                None,
                at(3),
                &event_of(&order)
            )
            .await,
        Err(RepoError::NotFound)
    ));
    assert_eq!(store.order_events(order.id()).await.unwrap(), before);
    // An insert whose idempotency claim is lost stores neither the order nor its event.
    let lost = sample(&*store, customer(1), 1, at(4)).await;
    let scope = KeyScope {
        caller: "customer:1".to_owned(),
        key: "k".to_owned(),
    };
    let claim = Claim {
        scope,
        token: Uuid::new_v4(),
        order_id: None,
    };
    assert!(matches!(
        store.insert(&lost, Some(&claim), &event_of(&lost)).await,
        Err(RepoError::ClaimLost)
    ));
    assert!(store.order_events(lost.id()).await.unwrap().is_empty());
    // A duplicate order records nothing either.
    assert!(store.insert(&order, None, &event_of(&order)).await.is_err());
    assert_eq!(store.order_events(order.id()).await.unwrap(), before);
}

async fn the_feed_pages_in_order_by_kind_and_customer(store: Store) {
    let mut all = Vec::new();
    for n in 0..7 {
        let order = stored(&*store, customer(n % 2 + 1), at(n as i64)).await;
        let mut edited = order.clone();
        edited.change_details(order.details().clone(), at(n as i64 + 1));
        let mut cancelled = event_of(&edited);
        cancelled.kind = EventKind::OrderCancelled;
        store
            .update(&edited, order.version(), &cancelled)
            .await
            .unwrap();
        all.extend(store.order_events(order.id()).await.unwrap());
    }
    let query = |after: Option<FeedPosition>, limit| FeedQuery {
        after,
        kinds: Vec::new(),
        customer_id: None,
        limit,
    };
    // Pages of three, from the start to the end, then an empty read that stays put.
    let mut read = Vec::new();
    let mut after = None;
    loop {
        let page = store.feed(&query(after, 3)).await.unwrap();
        if page.events.is_empty() {
            assert_eq!(page.next, after, "an empty read keeps the cursor");
            break;
        }
        assert!(page.events.len() <= 3);
        after = page.next;
        read.extend(page.events);
    }
    let mut by_position = all.clone();
    by_position.sort_by_key(|event| event.position);
    assert_eq!(read, by_position, "every event once, in feed order");
    assert!(read.windows(2).all(|w| w[0].position < w[1].position));
    // Only cancellations; only one customer's.
    let cancelled = store
        .feed(&FeedQuery {
            kinds: vec![EventKind::OrderCancelled],
            ..query(None, 100)
        })
        .await
        .unwrap();
    assert_eq!(cancelled.events.len(), 7);
    assert!(
        cancelled
            .events
            .iter()
            .all(|e| e.record.kind == EventKind::OrderCancelled)
    );
    let two = store
        .feed(&FeedQuery {
            customer_id: Some(customer(2)),
            kinds: vec![EventKind::OrderCancelled, EventKind::OrderEdited],
            ..query(None, 100)
        })
        .await
        .unwrap();
    assert_eq!(
        two.events.len(),
        3 * 2,
        "customer 2 has three orders of two events"
    );
    assert!(
        two.events
            .iter()
            .all(|e| e.record.customer_id == customer(2))
    );
    // After the last event, nothing; a position past everything is no error.
    let end = store
        .feed(&query(read.last().map(|e| e.position), 10))
        .await
        .unwrap();
    assert!(end.events.is_empty());
    let beyond = FeedPosition {
        tx: i64::MAX,
        seq: i64::MAX,
    };
    assert!(
        store
            .feed(&query(Some(beyond), 10))
            .await
            .unwrap()
            .events
            .is_empty()
    );
}

async fn the_audit_walk_reads_every_chain_in_order(store: Store) {
    let mut orders = Vec::new();
    for n in 0..4 {
        let order = stored(&*store, customer(1), at(n)).await;
        let mut edited = order.clone();
        edited.change_details(order.details().clone(), at(n + 1));
        store
            .update(&edited, order.version(), &event_of(&edited))
            .await
            .unwrap();
        orders.push(order.id());
    }
    // Pages of three cut chains in the middle; the walk still reads each once, by order id
    // then position.
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let batch = store.chains_after(after, 3).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = Some((last.record.order_id, last.chain));
        walked.extend(batch);
    }
    assert_eq!(walked.len(), 8);
    let keys: Vec<_> = walked
        .iter()
        .map(|e| (e.record.order_id.as_uuid(), e.chain))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    for id in orders {
        let chain: Vec<_> = walked
            .iter()
            .filter(|e| e.record.order_id == id)
            .cloned()
            .collect();
        assert_chained(&chain);
    }
}

async fn an_erasure_drops_earlier_payloads_and_keeps_their_digests(store: Store) {
    let order = stored(&*store, customer(1), at(0)).await;
    let mut erased = order.clone();
    assert!(!erased.erase_personal_data(at(1)) || erased.erased_at().is_some());
    let mut erasure_event = event_of(&erased);
    erasure_event.kind = EventKind::OrderErased;
    let erasure = ordo_repository::Erasure {
        id: Uuid::new_v4(),
        customer_id: customer(1),
        by: "admin:ops".into(),
        at: at(1),
        orders: 1,
    };
    store
        .erase_customer(
            &[(erased.clone(), order.version(), erasure_event)],
            &erasure,
        )
        .await
        .unwrap();
    let history = store.order_events(order.id()).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        history[0].record.payload, None,
        "the order as it was is gone"
    );
    assert_eq!(
        history[1].record.payload_intact(),
        Some(true),
        "the erasure's own event keeps the erased order"
    );
    // The chain still links: digests were kept.
    let mut previous: Option<Hash> = None;
    for event in &history {
        assert_eq!(event.hash, link(previous.as_ref(), &event.record.digest()));
        previous = Some(event.hash);
    }
}

async fn racing_events_of_one_order_never_fork_its_chain(store: Store) {
    let events = paid(&store).await;
    let order_id = events[0].order_id;
    // Ten refunds reserved one after another (each moves the version)...
    for n in 1..=10 {
        let current = store.get(order_id).await.unwrap();
        let mut reserved = current.clone();
        reserved.record_refund(Decimal::ONE, at(3)).unwrap();
        store
            .reserve_refund(
                &reserved,
                current.version(),
                &refund(&current, n),
                &event(&reserved, EventKind::RefundRequested),
            )
            .await
            .unwrap();
    }
    // ...then all ten settled at once, beside twenty writers of one version. A refund's
    // success changes no version but holds the order at the version its event shows: a
    // success whose order moved on meanwhile is refused, and shown the order as it now is, it
    // lands (as the service does). Every success lands, one writer of the version wins, the
    // chain stays one line, and no event shows an order older than one before it.
    let current = store.get(order_id).await.unwrap();
    let mut tasks = Vec::new();
    for n in 1..=10_u128 {
        let (store, mut current) = (store.clone(), current.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let succeeded = event(&current, EventKind::RefundSucceeded);
                match store
                    .settle_refund(
                        Uuid::from_u128(n),
                        RefundStatus::Succeeded,
                        None,
                        at(4),
                        &succeeded,
                    )
                    .await
                {
                    Err(RepoError::VersionConflict { .. }) => {
                        current = store.get(order_id).await.unwrap();
                    }
                    settled => return settled.map(|()| true),
                }
            }
        }));
    }
    for _ in 0..20 {
        let (store, current) = (store.clone(), current.clone());
        tasks.push(tokio::spawn(async move {
            let mut next = current.clone();
            next.change_details(current.details().clone(), at(5));
            store
                .update(&next, current.version(), &event_of(&next))
                .await
                .map(|()| false)
        }));
    }
    let (mut settled, mut won) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(true) => settled += 1,
            Ok(false) => won += 1,
            Err(RepoError::VersionConflict { .. }) => {}
            Err(error) => panic!("{error:?}"),
        }
    }
    assert_eq!((settled, won), (10, 1));
    let history = store.order_events(order_id).await.unwrap();
    assert_eq!(history.len(), events.len() + 10 + 10 + 1);
    assert_chained(&history);
    let versions: Vec<Version> = history.iter().map(|event| event.record.version).collect();
    assert!(versions.is_sorted(), "{versions:?}");
}

async fn a_relay_moves_only_from_where_it_stands(store: Store) {
    assert_eq!(store.relay_position("nats").await.unwrap(), None);
    let (one, two) = (
        FeedPosition { tx: 3, seq: 7 },
        FeedPosition { tx: 4, seq: 9 },
    );
    assert!(store.move_relay("nats", None, one).await.unwrap());
    // A second relay starting from scratch, or from a stale place, moves nothing.
    assert!(!store.move_relay("nats", None, two).await.unwrap());
    assert!(!store.move_relay("nats", Some(two), one).await.unwrap());
    assert_eq!(store.relay_position("nats").await.unwrap(), Some(one));
    assert!(store.move_relay("nats", Some(one), two).await.unwrap());
    assert_eq!(store.relay_position("nats").await.unwrap(), Some(two));
    // Relays are named apart.
    assert_eq!(store.relay_position("other").await.unwrap(), None);
}

async fn the_head_is_at_or_above_every_event_and_below_every_later_one(store: Store) {
    let empty = store.feed_head().await.unwrap();
    let first = stored(&*store, customer(1), at(0)).await;
    let head = store.feed_head().await.unwrap();
    assert!(head > empty);
    let everything = FeedQuery {
        after: None,
        kinds: Vec::new(),
        customer_id: None,
        limit: 100,
    };
    let so_far = store.feed(&everything).await.unwrap();
    assert!(!so_far.events.is_empty());
    assert!(so_far.events.iter().all(|event| event.position <= head));
    // (On PostgreSQL the head moves with every transaction of the cluster, events or not.)
    stored(&*store, customer(2), at(1)).await;
    let later = store
        .feed(&FeedQuery {
            after: so_far.next,
            ..everything
        })
        .await
        .unwrap();
    assert!(!later.events.is_empty());
    assert!(later.events.iter().all(|event| event.position > head));
    let _ = first;
}

/// PostgreSQL commits transactions out of the order they took their sequence numbers: a feed
/// reading `seq > N` would pass an event whose transaction is still running. A transaction
/// holding an event open while three orders commit after it: the feed shows none of the later
/// ones until it ends, then all four, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_never_passes_a_transaction_still_running() {
    use sqlx::{Connection as _, Executor as _};
    let (database, store) = TestPostgres::store().await.unwrap();
    let store: Store = Arc::new(store);
    let mut held = sqlx::PgConnection::connect(database.url()).await.unwrap();
    held.execute("SET search_path = ordo").await.unwrap();
    held.execute("BEGIN").await.unwrap();
    let early = sample(&*store, customer(9), 1, at(0)).await;
    held.execute(
        sqlx::query(
            "INSERT INTO order_events (id, order_id, customer_id, chain, kind, version, actor_role,
                 actor_subject, at, payload, payload_digest, hash)
             VALUES ($1, $2, $3, 1, 'order.placed', 1, 'system', 'held', now(), '{}',
                     sha256('{}'), sha256('x'))",
        )
        .bind(Uuid::new_v4())
        .bind(early.id().as_uuid())
        .bind(customer(9).as_uuid()),
    )
    .await
    .unwrap();
    for n in 0..3 {
        stored(&*store, customer(1), at(n)).await;
    }
    let everything = FeedQuery {
        after: None,
        kinds: Vec::new(),
        customer_id: None,
        limit: 100,
    };
    let before = store.feed(&everything).await.unwrap();
    // An endpoint made now starts at the head: the held event, which commits later, is its.
    let start = store.feed_head().await.unwrap();
    assert!(
        before.events.is_empty(),
        "three events committed behind a running transaction's: none is shown yet ({} were)",
        before.events.len()
    );
    // A second writer, started after the first, still open when the first commits: the feed
    // shows what the first held at once, and stops below the second.
    let mut later = sqlx::PgConnection::connect(database.url()).await.unwrap();
    later.execute("SET search_path = ordo").await.unwrap();
    later.execute("BEGIN").await.unwrap();
    let late = sample(&*store, customer(8), 1, at(0)).await;
    later
        .execute(
            sqlx::query(
                "INSERT INTO order_events (id, order_id, customer_id, chain, kind, version, actor_role,
                     actor_subject, at, payload, payload_digest, hash)
                 VALUES ($1, $2, $3, 1, 'order.placed', 1, 'system', 'later', now(), '{}',
                         sha256('{}'), sha256('x'))",
            )
            .bind(Uuid::new_v4())
            .bind(late.id().as_uuid())
            .bind(customer(8).as_uuid()),
        )
        .await
        .unwrap();
    held.execute("COMMIT").await.unwrap();
    let after = store.feed(&everything).await.unwrap();
    assert_eq!(after.events.len(), 4);
    let seqs: Vec<i64> = after.events.iter().map(|e| e.position.seq).collect();
    let held_event = &after.events[0];
    assert_eq!(
        held_event.record.actor.subject, "held",
        "the early transaction's event comes first"
    );
    assert!(
        after.events.iter().all(|event| event.position > start),
        "every event committed after the head was read is above it"
    );
    assert!(
        seqs[1..].iter().all(|seq| *seq > held_event.position.seq),
        "it took its number first, and committed last: {seqs:?}"
    );
    later.execute("COMMIT").await.unwrap();
    let last = store
        .feed(&FeedQuery {
            after: after.next,
            ..everything
        })
        .await
        .unwrap();
    assert_eq!(last.events.len(), 1);
    assert_eq!(last.events[0].record.actor.subject, "later");
}
