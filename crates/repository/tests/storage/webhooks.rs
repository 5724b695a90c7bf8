//! The webhooks contract: endpoints by compare-and-set, the fan-out's position moved with the
//! deliveries it queues, deliveries leased to one sender at a time, attempts recorded only
//! under the lease, the log and redelivery; on both databases.

use std::collections::HashSet;
use std::sync::Arc;

use ordo_domain::{EventKind, Version};
use ordo_repository::{
    AttemptRecord, DeliveryStatus, EndpointHealth, FeedPosition, NewDelivery, RepoError,
    WebhookEndpoint, WebhookStore,
};
use uuid::Uuid;

use crate::fixtures::at;

contract!(
    endpoints_are_stored_changed_by_compare_and_set_and_deleted,
    the_fan_out_moves_only_from_where_it_stands_with_its_deliveries,
    a_delivery_is_leased_to_one_sender_and_recorded_under_its_lease,
    the_log_pages_newest_first_and_a_delivery_can_be_sent_again,
    a_leased_delivery_is_not_sent_again_and_one_sent_again_starts_its_schedule_afresh,
);

type Store = Arc<dyn WebhookStore>;

fn endpoint(n: u128) -> WebhookEndpoint {
    WebhookEndpoint {
        id: Uuid::from_u128(n),
        url: format!("https://erp.example.com/hooks/{n}"),
        description: Some("the ERP".to_owned()),
        event_types: vec![EventKind::OrderPlaced, EventKind::PaymentCaptured],
        enabled: true,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        previous_secret: None,
        disabled_reason: None,
        failing_since: None,
        version: Version::FIRST,
        created_at: at(n as i64),
        updated_at: at(n as i64),
        starts_after: (n % 2 == 1).then_some(FeedPosition {
            tx: 7,
            seq: n as i64,
        }),
    }
}

fn delivery(n: u128, endpoint: u128, seconds: i64) -> NewDelivery {
    NewDelivery {
        id: Uuid::from_u128(1000 + n),
        endpoint_id: Uuid::from_u128(endpoint),
        event_id: Uuid::from_u128(5000 + n),
        at: at(seconds),
    }
}

async fn queue(store: &Store, deliveries: &[NewDelivery]) {
    let from = store.fanout_position().await.unwrap();
    let to = FeedPosition {
        tx: 0,
        seq: from.map_or(1, |p| p.seq + 1),
    };
    assert!(
        store
            .enqueue_deliveries(deliveries, from, to)
            .await
            .unwrap()
    );
}

async fn endpoints_are_stored_changed_by_compare_and_set_and_deleted(store: Store) {
    let first = endpoint(1);
    store.insert_endpoint(&first).await.unwrap();
    store.insert_endpoint(&endpoint(2)).await.unwrap();
    assert_eq!(store.webhook_endpoint(first.id).await.unwrap(), first);
    assert_eq!(store.webhook_endpoints().await.unwrap().len(), 2);
    let changed = WebhookEndpoint {
        url: "https://other.example.com/".to_owned(),
        event_types: Vec::new(),
        enabled: false,
        disabled_reason: Some("the endpoint answered 410 Gone".to_owned()),
        previous_secret: Some(("whsec_AAAA".to_owned(), at(100))),
        failing_since: Some(at(50)),
        version: Version::new(2),
        updated_at: at(60),
        ..first.clone()
    };
    store
        .update_endpoint(&changed, Version::FIRST)
        .await
        .unwrap();
    assert_eq!(store.webhook_endpoint(first.id).await.unwrap(), changed);
    assert!(
        changed.wants(EventKind::RefundFailed),
        "no types: every type"
    );
    assert!(matches!(
        store.update_endpoint(&changed, Version::FIRST).await,
        Err(RepoError::VersionConflict { .. })
    ));
    store.delete_endpoint(first.id).await.unwrap();
    assert!(matches!(
        store.webhook_endpoint(first.id).await,
        Err(RepoError::NotFound)
    ));
    assert!(matches!(
        store.delete_endpoint(first.id).await,
        Err(RepoError::NotFound)
    ));
    assert!(matches!(
        store.update_endpoint(&changed, Version::new(2)).await,
        Err(RepoError::NotFound)
    ));
}

async fn the_fan_out_moves_only_from_where_it_stands_with_its_deliveries(store: Store) {
    store.insert_endpoint(&endpoint(1)).await.unwrap();
    assert_eq!(store.fanout_position().await.unwrap(), None);
    let first = FeedPosition { tx: 5, seq: 9 };
    assert!(
        store
            .enqueue_deliveries(&[delivery(1, 1, 0)], None, first)
            .await
            .unwrap()
    );
    assert_eq!(store.fanout_position().await.unwrap(), Some(first));
    // A fan-out that read from the start again (another replica) writes nothing at all.
    assert!(
        !store
            .enqueue_deliveries(&[delivery(2, 1, 0)], None, FeedPosition { tx: 6, seq: 1 })
            .await
            .unwrap()
    );
    assert_eq!(store.fanout_position().await.unwrap(), Some(first));
    // The same event for the same endpoint is queued once.
    let next = FeedPosition { tx: 6, seq: 2 };
    let again = NewDelivery {
        id: Uuid::from_u128(77),
        ..delivery(1, 1, 1)
    };
    assert!(
        store
            .enqueue_deliveries(&[again, delivery(3, 1, 1)], Some(first), next)
            .await
            .unwrap()
    );
    let log = store
        .deliveries(Uuid::from_u128(1), None, 10)
        .await
        .unwrap();
    let ids: HashSet<_> = log.iter().map(|d| d.id).collect();
    assert_eq!(
        ids,
        HashSet::from([Uuid::from_u128(1001), Uuid::from_u128(1003)])
    );
    assert!(
        log.iter()
            .all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0)
    );
}

#[expect(
    clippy::too_many_lines,
    reason = "one delivery's leases and records, step by step"
)]
async fn a_delivery_is_leased_to_one_sender_and_recorded_under_its_lease(store: Store) {
    store.insert_endpoint(&endpoint(1)).await.unwrap();
    let mut off = endpoint(2);
    off.enabled = false;
    store.insert_endpoint(&off).await.unwrap();
    queue(
        &store,
        &[delivery(1, 1, 0), delivery(2, 1, 10), delivery(3, 2, 0)],
    )
    .await;
    let (a, b) = (Uuid::from_u128(0xa), Uuid::from_u128(0xb));
    // Due at 5: only the first (the second is due at 10; the third's endpoint is off).
    let taken = store.claim_deliveries(at(5), at(65), a, 10).await.unwrap();
    assert_eq!(
        taken.iter().map(|d| d.id).collect::<Vec<_>>(),
        [Uuid::from_u128(1001)]
    );
    // Leased: another sender gets nothing until the lease ends.
    assert!(
        store
            .claim_deliveries(at(6), at(66), b, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retaken = store
        .claim_deliveries(at(70), at(130), b, 10)
        .await
        .unwrap();
    assert_eq!(
        retaken.len(),
        2,
        "the lease ran out, and the second fell due"
    );
    // The first sender's lease is gone: its record is refused, the holder's is taken.
    let record = |token, status, attempts| AttemptRecord {
        delivery_id: Uuid::from_u128(1001),
        lease_token: token,
        attempts,
        status,
        next_attempt_at: at(200),
        http_status: Some(500),
        error: Some("boom".to_owned()),
        at: at(71),
    };
    assert!(
        !store
            .finish_delivery(
                Uuid::from_u128(1),
                &record(a, DeliveryStatus::Succeeded, 1),
                EndpointHealth::Healthy
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_delivery(
                Uuid::from_u128(1),
                &record(b, DeliveryStatus::Pending, 1),
                EndpointHealth::Failing
            )
            .await
            .unwrap()
    );
    let failing = store.webhook_endpoint(Uuid::from_u128(1)).await.unwrap();
    assert_eq!(failing.failing_since, Some(at(71)));
    let log = store
        .deliveries(Uuid::from_u128(1), None, 10)
        .await
        .unwrap();
    let first = log.iter().find(|d| d.id == Uuid::from_u128(1001)).unwrap();
    assert_eq!(
        (
            first.status,
            first.attempts,
            first.next_attempt_at,
            first.last_status
        ),
        (DeliveryStatus::Pending, 1, at(200), Some(500))
    );
    assert_eq!(first.last_error.as_deref(), Some("boom"));
    // Not due again before its time; then a success clears the endpoint's failing.
    assert!(
        store
            .claim_deliveries(at(199), at(259), a, 10)
            .await
            .unwrap()
            .iter()
            .all(|d| d.id != first.id)
    );
    let c = Uuid::from_u128(0xc);
    assert_eq!(
        store
            .claim_deliveries(at(200), at(260), c, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let mut done = record(c, DeliveryStatus::Succeeded, 2);
    done.http_status = Some(204);
    done.error = None;
    assert!(
        store
            .finish_delivery(Uuid::from_u128(1), &done, EndpointHealth::Healthy)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .webhook_endpoint(Uuid::from_u128(1))
            .await
            .unwrap()
            .failing_since,
        None
    );
    // Disabling says why, bumps the version, and stops its deliveries being taken.
    let mut gone = record(c, DeliveryStatus::Failed, 3);
    gone.delivery_id = Uuid::from_u128(1002);
    let d = Uuid::from_u128(0xd);
    store
        .claim_deliveries(at(300), at(360), d, 10)
        .await
        .unwrap();
    gone.lease_token = d;
    assert!(
        store
            .finish_delivery(
                Uuid::from_u128(1),
                &gone,
                EndpointHealth::Disable("the endpoint answered 410 Gone".to_owned())
            )
            .await
            .unwrap()
    );
    let disabled = store.webhook_endpoint(Uuid::from_u128(1)).await.unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.version, Version::new(2));
    assert_eq!(
        disabled.disabled_reason.as_deref(),
        Some("the endpoint answered 410 Gone")
    );
}

async fn the_log_pages_newest_first_and_a_delivery_can_be_sent_again(store: Store) {
    store.insert_endpoint(&endpoint(1)).await.unwrap();
    let queued: Vec<_> = (1..=5).map(|n| delivery(n, 1, n as i64)).collect();
    queue(&store, &queued).await;
    let page = store.deliveries(Uuid::from_u128(1), None, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|d| d.id.as_u128()).collect::<Vec<_>>(),
        [1005, 1004]
    );
    let last = page.last().unwrap();
    let next = store
        .deliveries(Uuid::from_u128(1), Some((last.created_at, last.id)), 10)
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|d| d.id.as_u128()).collect::<Vec<_>>(),
        [1003, 1002, 1001]
    );
    let again = store
        .redeliver(Uuid::from_u128(1), Uuid::from_u128(1001), at(500))
        .await
        .unwrap();
    assert_eq!(
        (again.status, again.next_attempt_at),
        (DeliveryStatus::Pending, at(500))
    );
    assert!(matches!(
        store
            .redeliver(Uuid::from_u128(2), Uuid::from_u128(1001), at(500))
            .await,
        Err(RepoError::NotFound)
    ));
}

async fn a_leased_delivery_is_not_sent_again_and_one_sent_again_starts_its_schedule_afresh(
    store: Store,
) {
    store.insert_endpoint(&endpoint(1)).await.unwrap();
    queue(&store, &[delivery(1, 1, 0)]).await;
    let (id, a, b) = (
        Uuid::from_u128(1001),
        Uuid::from_u128(0xa),
        Uuid::from_u128(0xb),
    );
    assert_eq!(
        store
            .claim_deliveries(at(5), at(65), a, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // While a sender holds it (to the lease's last instant), it is not sent again: nothing
    // is written, so its sender's outcome is still recorded.
    for now in [at(10), at(65)] {
        assert!(matches!(
            store.redeliver(Uuid::from_u128(1), id, now).await,
            Err(RepoError::Leased { until }) if until == at(65)
        ));
    }
    let last = AttemptRecord {
        delivery_id: id,
        lease_token: a,
        attempts: 10,
        status: DeliveryStatus::Failed,
        next_attempt_at: at(20),
        http_status: Some(500),
        error: Some("boom".to_owned()),
        at: at(20),
    };
    assert!(
        store
            .finish_delivery(Uuid::from_u128(1), &last, EndpointHealth::Failing)
            .await
            .unwrap()
    );
    // Failed after its last attempt, sent again: due now with no attempts made (the whole
    // schedule ahead), its last outcome still in the log.
    let again = store
        .redeliver(Uuid::from_u128(1), id, at(30))
        .await
        .unwrap();
    assert_eq!(
        (
            again.status,
            again.attempts,
            again.next_attempt_at,
            again.last_status,
            again.last_error.as_deref(),
            again.last_attempt_at,
        ),
        (
            DeliveryStatus::Pending,
            0,
            at(30),
            Some(500),
            Some("boom"),
            Some(at(20))
        )
    );
    let log = store
        .deliveries(Uuid::from_u128(1), None, 10)
        .await
        .unwrap();
    assert_eq!(log.as_slice(), std::slice::from_ref(&again));
    // Free: the next sender takes it at once. Once its lease has run out, it may be sent
    // again, and that sender's late record is refused.
    let taken = store.claim_deliveries(at(30), at(90), b, 10).await.unwrap();
    assert_eq!(taken, [again]);
    let renewed = store
        .redeliver(Uuid::from_u128(1), id, at(91))
        .await
        .unwrap();
    assert_eq!((renewed.attempts, renewed.next_attempt_at), (0, at(91)));
    let late = AttemptRecord {
        lease_token: b,
        attempts: 1,
        at: at(92),
        ..last
    };
    assert!(
        !store
            .finish_delivery(Uuid::from_u128(1), &late, EndpointHealth::Failing)
            .await
            .unwrap()
    );
}
