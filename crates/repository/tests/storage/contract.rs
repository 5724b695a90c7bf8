//! The contract every store keeps, written once and run against each implementation.

use ordo_repository::testing::event_of;
use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ordo_domain::{CancelReason, OrderStatus, StatusChange, Version};
use ordo_repository::{
    ApiKeyStore, Begin, Claim, Coordination, GatewayLedger, IdempotencyStore, KeyRequest, KeyScope,
    LedgerEntry, ListQuery, OrderRepository, PageSize, PaymentOperation, ProductQuery,
    ProductStore, ProductWrite, RepoError, StoredKey, StoredResponse,
};
use uuid::Uuid;

use crate::fixtures::{at, customer, full_record, sample, stored, with_code};
use ordo_repository::{CodeWrite, DiscountCodeStore, Redemption};

contract!(
    an_inserted_order_reads_back_equal,
    an_order_with_every_part_of_its_record_reads_back_equal_everywhere,
    changed_details_are_stored_by_compare_and_set,
    an_erasure_reaches_every_order_of_the_customer_and_its_stored_responses_only,
    amounts_keep_their_decimals_even_when_zero,
    a_fifty_item_order_reads_back_whole_and_in_order,
    a_missing_order_is_not_found,
    an_order_is_found_by_its_number_until_it_is_deleted,
    a_duplicate_id_or_number_is_refused,
    sequence_values_are_never_handed_out_twice,
    pages_run_newest_first_with_no_order_missing_or_repeated,
    lists_filter_by_status_and_creation_time,
    a_cursor_from_either_edge_of_time_is_a_bound_not_a_failure,
    a_customer_lists_only_their_own_orders,
    an_update_with_the_current_version_succeeds,
    an_update_with_a_stale_version_is_a_conflict,
    an_update_of_a_missing_order_is_not_found,
    a_soft_deleted_order_is_neither_found_nor_listed_nor_changed,
    a_delete_with_a_stale_version_is_a_conflict,
    thirty_two_racing_updates_let_exactly_one_win,
    thirty_two_concurrent_inserts_all_land,
    a_write_that_fails_among_concurrent_writes_takes_none_of_them_with_it,
    a_new_key_is_claimed_then_its_response_replayed,
    a_key_used_for_another_request_is_a_mismatch,
    an_unfinished_key_is_in_flight_until_its_lease_ends_then_resumes_from_its_order,
    an_order_is_stored_only_with_a_held_claim,
    keys_of_different_callers_never_collide,
    an_expired_key_starts_afresh_and_is_purged,
    a_released_key_runs_again_unless_it_made_an_order,
    one_of_many_racing_requests_claims_a_key,
    the_gateway_ledger_keeps_the_first_entry_for_a_key,
    a_claimed_gateway_call_is_kept_found_by_reconciliation_and_cleared,
    a_claimed_shipment_capture_reads_back_with_its_shipment_and_amount,
    the_first_value_of_a_shared_fact_is_kept,
    a_job_lease_has_one_holder_until_it_ends,
    the_whole_ledger_reads_page_by_page_in_key_order,
    every_status_and_payment_status_reads_back_as_written,
    a_refund_is_reserved_with_its_order_then_settled_or_released,
    a_payment_write_carries_its_audit_and_only_for_its_own_order,
    the_store_says_it_is_ready_and_counts_its_pool,
    an_api_key_is_stored_listed_revoked_once_and_touched_forward,
    products_read_back_by_id_and_sku_and_list_in_byte_order_page_by_page,
    a_product_batch_is_all_or_nothing_and_updates_by_compare_and_set,
    discount_codes_are_written_read_by_id_and_name_and_paged,
    five_hundred_racing_orders_take_exactly_the_hundred_uses_a_code_has,
    a_customer_holds_no_more_uses_than_its_limit_and_a_cancel_gives_one_back,
);

/// The ports, as each store implements them.
trait Storage:
    OrderRepository
    + IdempotencyStore
    + GatewayLedger
    + Coordination
    + ApiKeyStore
    + ProductStore
    + DiscountCodeStore
{
}
impl<
    T: OrderRepository
        + IdempotencyStore
        + GatewayLedger
        + Coordination
        + ApiKeyStore
        + ProductStore
        + DiscountCodeStore,
> Storage for T
{
}

type Store = Arc<dyn Storage>;

async fn an_inserted_order_reads_back_equal(store: Store) {
    let order = stored(&*store, customer(1), at(0)).await;
    assert_eq!(store.get(order.id()).await.unwrap(), order);
}

async fn an_order_with_every_part_of_its_record_reads_back_equal_everywhere(store: Store) {
    let order = full_record(&*store, customer(1), at(0)).await;
    assert_eq!(order.pricing().shipping_lines().len(), 2);
    assert!(order.details().contact().is_some());
    store.insert(&order, None, &event_of(&order)).await.unwrap();
    assert_eq!(store.get(order.id()).await.unwrap(), order);
    assert_eq!(store.get_by_number(&order.number()).await.unwrap(), order);
    let page = store
        .list(&ListQuery::first_page(customer(1)))
        .await
        .unwrap();
    assert_eq!(page.orders, std::slice::from_ref(&order));
    // A payment write keeps the record as it was.
    let mut paid = order.clone();
    paid.change_status(StatusChange::Process, at(1)).unwrap();
    store
        .update(&paid, order.version(), &event_of(&paid))
        .await
        .unwrap();
    assert_eq!(store.get(order.id()).await.unwrap(), paid);
}

async fn changed_details_are_stored_by_compare_and_set(store: Store) {
    let order = full_record(&*store, customer(1), at(0)).await;
    store.insert(&order, None, &event_of(&order)).await.unwrap();
    let mut draft = order.details().to_draft();
    draft.staff_note = None;
    draft.tags = vec!["returned".into()];
    draft.contact = Some(ordo_domain::ContactDraft {
        email: "grace@example.org".into(),
        phone: None,
        name: Some("Grace Hopper".into()),
    });
    let details = ordo_domain::OrderDetails::parse(&draft).unwrap();
    let mut changed = order.clone();
    changed.change_details(details.clone(), at(5));
    store
        .update(&changed, order.version(), &event_of(&changed))
        .await
        .unwrap();
    let found = store.get(order.id()).await.unwrap();
    assert_eq!(found, changed);
    assert_eq!(*found.details(), details);
    assert_eq!(found.pricing(), order.pricing(), "money untouched");
    // A second change from the version the first replaced is refused and changes nothing.
    let mut stale = order.clone();
    stale.change_details(ordo_domain::OrderDetails::default(), at(6));
    assert!(matches!(
        store
            .update(&stale, order.version(), &event_of(&stale))
            .await,
        Err(RepoError::VersionConflict { .. })
    ));
    assert_eq!(store.get(order.id()).await.unwrap(), changed);
}

async fn an_erasure_reaches_every_order_of_the_customer_and_its_stored_responses_only(
    store: Store,
) {
    // Alice: one order placed under an idempotency key, one deleted; Bob: one order.
    let key = claim(&store, &key_request("alice", "k1", "f1", at(0))).await;
    let kept = full_record(&*store, customer(1), at(0)).await;
    store
        .insert(&kept, Some(&key), &event_of(&kept))
        .await
        .unwrap();
    store
        .complete(&key, &response("alice's address"))
        .await
        .unwrap();
    let deleted = full_record(&*store, customer(1), at(1)).await;
    store
        .insert(&deleted, None, &event_of(&deleted))
        .await
        .unwrap();
    store
        .soft_delete(deleted.id(), None, at(2), &event_of(&deleted))
        .await
        .unwrap();
    let other = full_record(&*store, customer(2), at(3)).await;
    store.insert(&other, None, &event_of(&other)).await.unwrap();

    let found = store.orders_of_customer(customer(1)).await.unwrap();
    assert_eq!(
        found.iter().map(ordo_domain::Order::id).collect::<Vec<_>>(),
        [kept.id(), deleted.id()],
        "deleted ones too, oldest first"
    );
    let erased: Vec<_> = found
        .into_iter()
        .map(|mut order| {
            let expected = order.version();
            assert!(order.erase_personal_data(at(10)));
            let event = event_of(&order);
            (order, expected, event)
        })
        .collect();
    let erasure = ordo_repository::Erasure {
        id: Uuid::new_v4(),
        customer_id: customer(1),
        by: "admin:ops".into(),
        at: at(10),
        orders: 2,
    };
    // A stale version writes nothing at all.
    let mut stale = erased.clone();
    stale[1].1 = Version::new(99);
    stale[1].0 = {
        let mut order = deleted.clone();
        for _ in 0..100 {
            order.change_details(order.details().clone(), at(10));
        }
        order
    };
    assert!(matches!(
        store.erase_customer(&stale, &erasure).await,
        Err(RepoError::VersionConflict { .. })
    ));
    assert_eq!(store.get(kept.id()).await.unwrap(), kept);
    assert_eq!(store.erasures_of(customer(1)).await.unwrap(), []);

    store.erase_customer(&erased, &erasure).await.unwrap();
    let now = store.get(kept.id()).await.unwrap();
    assert_eq!(now, erased[0].0);
    assert!(now.details().contact().is_none() && now.details().shipping_address().is_none());
    assert_eq!(now.erased_at(), Some(at(10)));
    assert_eq!(now.pricing(), kept.pricing(), "amounts and lines stay");
    assert_eq!(now.number(), kept.number());
    let deleted_now = store.orders_of_customer(customer(1)).await.unwrap();
    assert_eq!(
        deleted_now[1], erased[1].0,
        "the deleted order is erased too"
    );
    assert_eq!(
        store.get(other.id()).await.unwrap(),
        other,
        "Bob's untouched"
    );
    // The stored response that held the data now answers 410.
    match store
        .begin(&key_request("alice", "k1", "f1", at(11)))
        .await
        .unwrap()
    {
        Begin::Replay(replayed) => {
            assert_eq!(replayed.status, 410);
            assert!(!String::from_utf8_lossy(&replayed.body).contains("alice's address"));
        }
        other => panic!("expected a replay, got {other:?}"),
    }
    assert_eq!(store.erasures_of(customer(1)).await.unwrap(), [erasure]);
}

async fn amounts_keep_their_decimals_even_when_zero(store: Store) {
    let draft = ordo_domain::OrderDraft {
        details: ordo_domain::OrderDetailsDraft::default(),
        customer_id: customer(1),
        currency: "USD".into(),
        items: vec![ordo_domain::LineItemDraft {
            snapshot: ordo_domain::LineSnapshotDraft::default(),
            product_id: Some(ordo_domain::ProductId::from_uuid(Uuid::from_u128(1)).unwrap()),
            quantity: 1,
            unit_price: Some(rust_decimal::Decimal::ZERO),
        }],
        discount: Some(ordo_domain::Discount::Percentage {
            percent: rust_decimal::Decimal::ZERO,
        }),
        discount_code: None,
        discount_code_optional: false,
        tax_rate: Some(rust_decimal::Decimal::ZERO),
        shipping: Vec::new(),
        shipping_method: None,
        discount_reason: None,
    };
    let order = crate::fixtures::order_from(&*store, &draft, at(0)).await;
    store.insert(&order, None, &event_of(&order)).await.unwrap();
    let read = store.get(order.id()).await.unwrap();
    // Equal as numbers is not enough: "0" is not "0.00" on the wire.
    assert_eq!(
        serde_json::to_string(&read).unwrap(),
        serde_json::to_string(&order).unwrap()
    );
    assert_eq!(read.pricing().total().to_string(), "0.00");
}

async fn a_fifty_item_order_reads_back_whole_and_in_order(store: Store) {
    let order = sample(&*store, customer(1), 50, at(0)).await;
    store.insert(&order, None, &event_of(&order)).await.unwrap();
    let read = store.get(order.id()).await.unwrap();
    assert_eq!(read.pricing().lines().len(), 50);
    assert_eq!(read, order);
}

async fn a_missing_order_is_not_found(store: Store) {
    let order = sample(&*store, customer(1), 1, at(0)).await;
    assert!(matches!(
        store.get(order.id()).await,
        Err(RepoError::NotFound)
    ));
}

async fn an_order_is_found_by_its_number_until_it_is_deleted(store: Store) {
    let first = stored(&*store, customer(1), at(0)).await;
    let second = stored(&*store, customer(2), at(1)).await;
    for order in [&first, &second] {
        assert_eq!(&store.get_by_number(&order.number()).await.unwrap(), order);
    }
    let never = sample(&*store, customer(1), 1, at(2)).await;
    assert!(matches!(
        store.get_by_number(&never.number()).await,
        Err(RepoError::NotFound)
    ));
    store
        .soft_delete(first.id(), None, at(5), &event_of(&first))
        .await
        .unwrap();
    assert!(matches!(
        store.get_by_number(&first.number()).await,
        Err(RepoError::NotFound)
    ));
    assert_eq!(store.get_by_number(&second.number()).await.unwrap(), second);
}

async fn a_duplicate_id_or_number_is_refused(store: Store) {
    let order = stored(&*store, customer(1), at(0)).await;
    assert!(matches!(
        store.insert(&order, None, &event_of(&order)).await,
        Err(RepoError::Duplicate { .. })
    ));
    // Same number, new id: the unique index on order numbers refuses it too.
    let other = sample(&*store, customer(1), 1, at(1)).await;
    let mut record = other.to_record();
    record.number = order.number();
    let same_number = ordo_domain::Order::restore(record).unwrap();
    assert!(matches!(
        store
            .insert(&same_number, None, &event_of(&same_number))
            .await,
        Err(RepoError::Duplicate { .. })
    ));
    // Nothing of the refused orders was kept.
    assert!(matches!(
        store.get(same_number.id()).await,
        Err(RepoError::NotFound)
    ));
}

async fn sequence_values_are_never_handed_out_twice(store: Store) {
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.next_order_sequence().await.unwrap() })
        })
        .collect();
    let mut values = HashSet::new();
    for task in tasks {
        assert!(
            values.insert(task.await.unwrap()),
            "a sequence value came out twice"
        );
    }
    assert_eq!(values.len(), 64);
}

async fn pages_run_newest_first_with_no_order_missing_or_repeated(store: Store) {
    let mut expected = Vec::new();
    for i in 0..25 {
        // Pairs share a creation time, so the id must break ties.
        expected.push(stored(&*store, customer(1), at(i / 2)).await);
    }
    expected.sort_by_key(|order| std::cmp::Reverse((order.created_at(), order.id())));
    let mut query = ListQuery {
        limit: PageSize::new(7).unwrap(),
        ..ListQuery::first_page(customer(1))
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.list(&query).await.unwrap();
        pages += 1;
        assert!(page.orders.len() <= 7);
        seen.extend(page.orders);
        match page.next {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    let seen_ids: Vec<_> = seen.iter().map(ordo_domain::Order::id).collect();
    let expected_ids: Vec<_> = expected.iter().map(ordo_domain::Order::id).collect();
    assert_eq!(seen_ids, expected_ids);
}

async fn lists_filter_by_status_and_creation_time(store: Store) {
    let mut orders = Vec::new();
    for i in 0..6 {
        orders.push(stored(&*store, customer(1), at(i * 60)).await);
    }
    let mut processing = orders[4].clone();
    processing
        .change_status(StatusChange::Process, at(999))
        .unwrap();
    store
        .update(&processing, Version::FIRST, &event_of(&processing))
        .await
        .unwrap();

    let by_status = ListQuery {
        status: Some(OrderStatus::Processing),
        ..ListQuery::first_page(customer(1))
    };
    let page = store.list(&by_status).await.unwrap();
    assert_eq!(page.orders, vec![processing]);

    // [at(60), at(240)): orders 1, 2 and 3, newest first.
    let window = ListQuery {
        created_after: Some(at(60)),
        created_before: Some(at(240)),
        ..ListQuery::first_page(customer(1))
    };
    let ids: Vec<_> = store
        .list(&window)
        .await
        .unwrap()
        .orders
        .iter()
        .map(ordo_domain::Order::id)
        .collect();
    assert_eq!(ids, vec![orders[3].id(), orders[2].id(), orders[1].id()]);
}

async fn a_cursor_from_either_edge_of_time_is_a_bound_not_a_failure(store: Store) {
    // A cursor is opaque but only a bound: any well-formed one (clients may send anything of
    // its documented form) lists a page, even at times no database column can hold.
    let order = stored(&*store, customer(1), at(0)).await;
    for (micros, expected) in [(i64::MIN, 0), (i64::MAX, 1)] {
        let created_at = DateTime::from_timestamp_micros(micros).unwrap_or(if micros < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        });
        let query = ListQuery {
            after: Some(ordo_repository::Cursor {
                created_at,
                id: Uuid::max(),
            }),
            ..ListQuery::first_page(customer(1))
        };
        let page = store.list(&query).await.unwrap();
        assert_eq!(page.orders.len(), expected, "cursor at {created_at}");
    }
    assert_eq!(store.get(order.id()).await.unwrap().id(), order.id());
}

async fn a_customer_lists_only_their_own_orders(store: Store) {
    let mine = stored(&*store, customer(1), at(0)).await;
    stored(&*store, customer(2), at(1)).await;
    let page = store
        .list(&ListQuery::first_page(customer(1)))
        .await
        .unwrap();
    assert_eq!(page.orders, vec![mine]);
    assert_eq!(page.next, None);
    let nobody = store
        .list(&ListQuery::first_page(customer(3)))
        .await
        .unwrap();
    assert!(nobody.orders.is_empty());
}

async fn an_update_with_the_current_version_succeeds(store: Store) {
    let mut order = stored(&*store, customer(1), at(0)).await;
    order.change_status(StatusChange::Process, at(10)).unwrap();
    store
        .update(&order, Version::FIRST, &event_of(&order))
        .await
        .unwrap();
    order
        .change_status(
            StatusChange::Cancel(CancelReason::parse("out of stock").unwrap()),
            at(20),
        )
        .unwrap();
    store
        .update(&order, Version::new(2), &event_of(&order))
        .await
        .unwrap();
    let read = store.get(order.id()).await.unwrap();
    assert_eq!(read.version(), Version::new(3));
    assert_eq!(
        read.cancel_reason().map(CancelReason::as_str),
        Some("out of stock")
    );
    assert_eq!(read, order);
}

/// Capturing on shipment: the claim's fulfilment and amount are kept in the order's document,
/// beside the claim's columns, and read back with them; reconciliation finds the claim.
async fn a_claimed_shipment_capture_reads_back_with_its_shipment_and_amount(store: Store) {
    use ordo_domain::{
        CaptureMode, CaptureState, FulfillmentDraft, FulfillmentId, FulfillmentLineDraft,
        FulfillmentState, GatewayOutcome, NewFulfillment, PaymentStatus, PaymentStep, Tracking,
    };
    let mut order = stored(&*store, customer(1), at(0)).await;
    let write = async |order: &ordo_domain::Order, expected: Version| {
        store
            .update(order, expected, &event_of(order))
            .await
            .unwrap();
        let read = store.get(order.id()).await.unwrap();
        assert_eq!(&read, order);
        read
    };
    let approved = || GatewayOutcome::Approved {
        reference: "ref".into(),
    };
    let expected = order.version();
    order.settle_payment(approved(), at(1)).unwrap();
    order.change_status(StatusChange::Process, at(2)).unwrap();
    order = write(&order, expected).await;
    let id = FulfillmentId::from_parts(1, &[7; 10]);
    let draft = FulfillmentDraft {
        lines: vec![FulfillmentLineDraft {
            line: 0,
            quantity: 1,
        }],
        ..FulfillmentDraft::default()
    };
    let expected = order.version();
    let new = NewFulfillment::parse(&draft).unwrap();
    order
        .fulfil(id, new, CaptureMode::OnShipment, at(3))
        .unwrap();
    let step = order
        .move_fulfillment(
            id,
            FulfillmentState::Shipped,
            Tracking::default(),
            CaptureMode::OnShipment,
            at(4),
        )
        .unwrap();
    let PaymentStep::Call { amount, .. } = step else {
        panic!("shipping claims a capture");
    };
    order = write(&order, expected).await;
    assert_eq!(order.claimed_shipment().map(|f| f.id), Some(id));
    assert_eq!(
        order.pending_call(),
        step,
        "the amount is read back with the claim"
    );
    assert_eq!(
        store
            .orders_with_pending_payment(10, at(100))
            .await
            .unwrap(),
        vec![order.id()]
    );
    let expected = order.version();
    order.settle_payment(approved(), at(5)).unwrap();
    order = write(&order, expected).await;
    assert_eq!(order.payment().captured, amount);
    assert_eq!(order.payment().status, PaymentStatus::PartiallyPaid);
    assert_eq!(
        order
            .fulfillment(id)
            .and_then(|f| f.capture)
            .map(|c| c.state),
        Some(CaptureState::Captured)
    );
    assert!(
        store
            .orders_with_pending_payment(10, at(100))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_claimed_gateway_call_is_kept_found_by_reconciliation_and_cleared(store: Store) {
    use ordo_domain::{GatewayOutcome, PaymentOperation, PaymentStep};
    let approved = || GatewayOutcome::Approved {
        reference: "ref".into(),
    };
    // Placed: its authorization is claimed from the start.
    let mut order = stored(&*store, customer(1), at(0)).await;
    assert_eq!(store.get(order.id()).await.unwrap(), order);
    assert_eq!(
        store.orders_with_pending_payment(10, at(1)).await.unwrap(),
        vec![order.id()],
        "claimed before the cut-off"
    );
    assert!(
        store
            .orders_with_pending_payment(10, at(0))
            .await
            .unwrap()
            .is_empty(),
        "a claim younger than the cut-off is left to its request"
    );
    // An unknown authorization is found whatever its age.
    let mut unknown = stored(&*store, customer(2), at(5)).await;
    let expected = unknown.version();
    assert!(
        unknown
            .settle_payment(GatewayOutcome::Unknown, at(6))
            .unwrap()
    );
    store
        .update(&unknown, expected, &event_of(&unknown))
        .await
        .unwrap();
    assert_eq!(store.get(unknown.id()).await.unwrap(), unknown);
    assert_eq!(
        store.orders_with_pending_payment(10, at(1)).await.unwrap(),
        vec![order.id(), unknown.id()]
    );
    // Settled, then a cancellation claimed with its reason, then settled again.
    let expected = order.version();
    order.settle_payment(approved(), at(10)).unwrap();
    store
        .update(&order, expected, &event_of(&order))
        .await
        .unwrap();
    let expected = order.version();
    let reason = CancelReason::parse("no longer needed").unwrap();
    assert!(matches!(
        order
            .begin_change(StatusChange::Cancel(reason), at(11))
            .unwrap(),
        PaymentStep::Call {
            operation: PaymentOperation::Void,
            ..
        }
    ));
    store
        .update(&order, expected, &event_of(&order))
        .await
        .unwrap();
    assert_eq!(store.get(order.id()).await.unwrap(), order);
    let expected = order.version();
    order.settle_payment(approved(), at(12)).unwrap();
    store
        .update(&order, expected, &event_of(&order))
        .await
        .unwrap();
    let read = store.get(order.id()).await.unwrap();
    assert_eq!(read, order);
    assert_eq!(read.payment().pending, None);
    assert_eq!(read.status(), OrderStatus::Cancelled);
    assert_eq!(
        store
            .orders_with_pending_payment(10, at(100))
            .await
            .unwrap(),
        vec![unknown.id()]
    );
}

async fn the_first_value_of_a_shared_fact_is_kept(store: Store) {
    assert_eq!(store.pin_fact("key", "first").await.unwrap(), "first");
    assert_eq!(store.pin_fact("key", "second").await.unwrap(), "first");
    assert_eq!(store.pin_fact("other", "second").await.unwrap(), "second");
    let racing = (0..16).map(|n| {
        let store = store.clone();
        tokio::spawn(async move { store.pin_fact("raced", &n.to_string()).await.unwrap() })
    });
    let kept: std::collections::BTreeSet<String> = futures_join(racing).await;
    assert_eq!(
        kept.len(),
        1,
        "every racer is told the one value kept: {kept:?}"
    );
}

async fn futures_join<T: Ord>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> std::collections::BTreeSet<T> {
    let mut out = std::collections::BTreeSet::new();
    for handle in handles.collect::<Vec<_>>() {
        out.insert(handle.await.unwrap());
    }
    out
}

async fn the_whole_ledger_reads_page_by_page_in_key_order(store: Store) {
    let order = stored(&*store, customer(1), at(0)).await;
    let mut written = Vec::new();
    for n in [3, 1, 4, 5, 9, 2, 6] {
        let entry = LedgerEntry {
            key: format!("capture:{n}"),
            operation: PaymentOperation::Capture,
            order_id: order.id(),
            amount: rust_decimal::Decimal::new(n, 2),
            approved: n % 2 == 1,
            reference: format!("sim_{n}"),
            at: at(n),
        };
        store.remember(&entry).await.unwrap();
        written.push(entry);
    }
    written.sort_by(|a, b| a.key.cmp(&b.key));
    let mut read = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.entries(after.as_deref(), 3).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        read.extend(page);
    }
    assert_eq!(read, written);
}

/// An order walked through every order status and every payment status (and a claimed call of
/// each kind), each state written and read back equal: no name is stored that the store
/// cannot read.
/// A manually paid order, stored, with a payment of 1.00 recorded on it but not yet written:
/// the order and the version to write it at.
async fn partly_paid_manually(store: &Store) -> (ordo_domain::Order, Version) {
    let mut manual = sample(&**store, customer(4), 3, at(30)).await;
    manual.pay_manually(Some(at(30 + 14 * 86_400)));
    store
        .insert(&manual, None, &event_of(&manual))
        .await
        .unwrap();
    assert_eq!(store.get(manual.id()).await.unwrap(), manual);
    let expected = manual.version();
    let part = ordo_domain::PaymentDraft {
        amount: rust_decimal::Decimal::ONE,
        method: "bank_transfer".into(),
        reference: Some("TRX-1".into()),
        received_at: None,
    };
    manual
        .record_payment(Uuid::from_u128(1), &part, "staff:s", at(31))
        .unwrap();
    (manual, expected)
}

async fn every_status_and_payment_status_reads_back_as_written(store: Store) {
    use ordo_domain::{GatewayOutcome, PaymentOperation, PaymentStatus};
    let approved = || GatewayOutcome::Approved {
        reference: "ref".into(),
    };
    let mut seen = HashSet::new();
    let mut write = async |order: &mut ordo_domain::Order, expected: Version| {
        store
            .update(order, expected, &event_of(order))
            .await
            .unwrap();
        assert_eq!(&store.get(order.id()).await.unwrap(), &*order);
        seen.insert((order.status(), order.payment().status));
    };
    let mut order = stored(&*store, customer(1), at(0)).await;
    for (step, outcome) in [(0, GatewayOutcome::Unknown), (1, approved())] {
        let expected = order.version();
        order.settle_payment(outcome, at(step + 1)).unwrap();
        write(&mut order, expected).await;
    }
    let expected = order.version();
    order.begin_change(StatusChange::Process, at(3)).unwrap();
    write(&mut order, expected).await;
    let expected = order.version();
    order.begin_change(StatusChange::Complete, at(4)).unwrap();
    write(&mut order, expected).await;
    let expected = order.version();
    order.settle_payment(approved(), at(5)).unwrap();
    write(&mut order, expected).await;
    let expected = order.version();
    order
        .record_refund(rust_decimal::Decimal::ONE, at(6))
        .unwrap();
    write(&mut order, expected).await;
    let expected = order.version();
    order
        .record_refund(order.payment().refundable(), at(7))
        .unwrap();
    write(&mut order, expected).await;
    // Declined, then cancelled; and authorized, then cancelled with a void and a refund claimed.
    let mut failed = stored(&*store, customer(2), at(10)).await;
    let expected = failed.version();
    failed
        .settle_payment(GatewayOutcome::Declined, at(11))
        .unwrap();
    write(&mut failed, expected).await;
    let expected = failed.version();
    failed
        .begin_change(
            StatusChange::Cancel(CancelReason::parse("no").unwrap()),
            at(12),
        )
        .unwrap();
    write(&mut failed, expected).await;
    let mut voided = stored(&*store, customer(3), at(20)).await;
    let expected = voided.version();
    voided.settle_payment(approved(), at(21)).unwrap();
    write(&mut voided, expected).await;
    let expected = voided.version();
    voided
        .begin_change(
            StatusChange::Cancel(CancelReason::parse("no").unwrap()),
            at(22),
        )
        .unwrap();
    assert_eq!(
        voided.payment().pending.as_ref().map(|p| p.operation),
        Some(PaymentOperation::Void)
    );
    write(&mut voided, expected).await;
    let expected = voided.version();
    voided.settle_payment(approved(), at(23)).unwrap();
    write(&mut voided, expected).await;
    // Paid manually, in part: partially paid, due when its terms say.
    let (mut manual, expected) = partly_paid_manually(&store).await;
    write(&mut manual, expected).await;
    let mut statuses: Vec<_> = seen.iter().map(|(status, _)| *status).collect();
    statuses.sort();
    statuses.dedup();
    assert_eq!(
        statuses.len(),
        <OrderStatus as strum::IntoEnumIterator>::iter().count()
    );
    let payments: HashSet<PaymentStatus> = seen.iter().map(|(_, payment)| *payment).collect();
    assert_eq!(
        payments.len(),
        <PaymentStatus as strum::IntoEnumIterator>::iter().count()
    );
}

/// A captured order of the sample's total, as stored.
async fn paid(store: &Store, customer_no: u128, seconds: i64) -> ordo_domain::Order {
    use ordo_domain::{GatewayOutcome, PaymentOperation};
    let mut order = stored(&**store, customer(customer_no), at(seconds)).await;
    let approved = || GatewayOutcome::Approved {
        reference: "ref".into(),
    };
    let expected = order.version();
    order.settle_payment(approved(), at(seconds + 1)).unwrap();
    order
        .begin_payment(PaymentOperation::Capture, at(seconds + 1))
        .unwrap();
    order.settle_payment(approved(), at(seconds + 1)).unwrap();
    store
        .update(&order, expected, &event_of(&order))
        .await
        .unwrap();
    order
}

#[expect(
    clippy::too_many_lines,
    reason = "one refund's whole life, step by step"
)]
async fn a_refund_is_reserved_with_its_order_then_settled_or_released(store: Store) {
    use ordo_repository::{Refund, RefundStatus};
    use rust_decimal::Decimal;
    let order = paid(&store, 1, 0).await;
    let refund = |n: u128, amount: Decimal| Refund {
        id: Uuid::from_u128(n),
        order_id: order.id(),
        amount,
        reason: "dented".into(),
        status: RefundStatus::Pending,
        created_at: at(10 + n as i64),
    };
    let mut reserved = order.clone();
    reserved.record_refund(Decimal::ONE, at(10)).unwrap();
    store
        .reserve_refund(
            &reserved,
            order.version(),
            &refund(1, Decimal::ONE),
            &event_of(&reserved),
        )
        .await
        .unwrap();
    assert_eq!(store.get(order.id()).await.unwrap(), reserved);
    // A second reservation on the version the first one replaced is refused, and not stored.
    let stale = store
        .reserve_refund(
            &reserved,
            order.version(),
            &refund(2, Decimal::ONE),
            &event_of(&reserved),
        )
        .await;
    assert!(
        matches!(stale, Err(RepoError::VersionConflict { .. })),
        "{stale:?}"
    );
    assert_eq!(
        store.refund(Uuid::from_u128(1)).await.unwrap().status,
        RefundStatus::Pending
    );
    assert!(matches!(
        store.refund(Uuid::from_u128(999)).await,
        Err(RepoError::NotFound)
    ));
    // Made at 11: not yet for reconciliation at 11, which leaves it to its request.
    assert!(store.pending_refunds(10, at(11)).await.unwrap().is_empty());
    let pending = store.pending_refunds(10, at(12)).await.unwrap();
    assert_eq!(
        pending.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![Uuid::from_u128(1)]
    );
    assert_eq!(pending[0].amount, Decimal::ONE);
    // A success leaves the order as it is, and its event must show it as it is: one showing
    // the order before the reservation is refused, and nothing is settled.
    let stale = store
        .settle_refund(
            Uuid::from_u128(1),
            RefundStatus::Succeeded,
            None,
            at(20),
            &event_of(&order),
        )
        .await;
    assert!(
        matches!(stale, Err(RepoError::VersionConflict { current }) if current == reserved.version()),
        "{stale:?}"
    );
    assert_eq!(store.pending_refunds(10, at(1_000)).await.unwrap().len(), 1);
    store
        .settle_refund(
            Uuid::from_u128(1),
            RefundStatus::Succeeded,
            None,
            at(20),
            &event_of(&reserved),
        )
        .await
        .unwrap();
    assert_eq!(store.get(order.id()).await.unwrap(), reserved);
    assert_eq!(
        store.refund(Uuid::from_u128(1)).await.unwrap().status,
        RefundStatus::Succeeded
    );
    assert!(
        store
            .pending_refunds(10, at(1_000))
            .await
            .unwrap()
            .is_empty()
    );
    // Settled refunds are not settled again.
    let again = store
        .settle_refund(
            Uuid::from_u128(1),
            RefundStatus::Failed,
            None,
            at(21),
            &event_of(&reserved),
        )
        .await;
    assert!(matches!(again, Err(RepoError::NotFound)), "{again:?}");
    // A declined refund is released with its order, by compare-and-set.
    let mut second = reserved.clone();
    second.record_refund(Decimal::ONE, at(30)).unwrap();
    store
        .reserve_refund(
            &second,
            reserved.version(),
            &refund(3, Decimal::ONE),
            &event_of(&second),
        )
        .await
        .unwrap();
    let mut released = second.clone();
    released.revert_refund(Decimal::ONE, at(31)).unwrap();
    let stale = store
        .settle_refund(
            Uuid::from_u128(3),
            RefundStatus::Failed,
            Some((&released, reserved.version())),
            at(31),
            &event_of(&released),
        )
        .await;
    assert!(
        matches!(stale, Err(RepoError::VersionConflict { .. })),
        "{stale:?}"
    );
    assert_eq!(
        store.pending_refunds(10, at(1_000)).await.unwrap().len(),
        1,
        "still pending"
    );
    store
        .settle_refund(
            Uuid::from_u128(3),
            RefundStatus::Failed,
            Some((&released, second.version())),
            at(32),
            &event_of(&released),
        )
        .await
        .unwrap();
    assert_eq!(store.get(order.id()).await.unwrap(), released);
    assert!(
        store
            .pending_refunds(10, at(1_000))
            .await
            .unwrap()
            .is_empty()
    );
    // An order deleted while its refund was with the gateway changes no more: the success is
    // still recorded.
    let mut third = released.clone();
    third.record_refund(Decimal::ONE, at(40)).unwrap();
    store
        .reserve_refund(
            &third,
            released.version(),
            &refund(4, Decimal::ONE),
            &event_of(&third),
        )
        .await
        .unwrap();
    store
        .soft_delete(order.id(), Some(third.version()), at(41), &event_of(&third))
        .await
        .unwrap();
    store
        .settle_refund(
            Uuid::from_u128(4),
            RefundStatus::Succeeded,
            None,
            at(42),
            &event_of(&third),
        )
        .await
        .unwrap();
    assert!(
        store
            .pending_refunds(10, at(1_000))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_payment_write_carries_its_audit_and_only_for_its_own_order(store: Store) {
    use ordo_domain::GatewayOutcome;
    use ordo_repository::{AttemptOutcome, PaymentAttempt};
    let order = stored(&*store, customer(1), at(0)).await;
    let other = stored(&*store, customer(2), at(1)).await;
    let attempt = |order_id| PaymentAttempt {
        id: Uuid::new_v4(),
        order_id,
        operation: PaymentOperation::Authorize,
        amount: order.pricing().total(),
        outcome: AttemptOutcome::Approved,
        reference: Some("auth".into()),
        at: at(2),
    };
    store
        .record_payment_attempt(&attempt(order.id()))
        .await
        .unwrap();
    let mut authorized = order.clone();
    authorized
        .settle_payment(
            GatewayOutcome::Approved {
                reference: "auth".into(),
            },
            at(2),
        )
        .unwrap();
    let foreign = store
        .update_with_attempt(
            &authorized,
            order.version(),
            &attempt(other.id()),
            &event_of(&authorized),
        )
        .await;
    assert!(foreign.is_err(), "an attempt for another order is refused");
    assert_eq!(
        store.get(order.id()).await.unwrap(),
        order,
        "and nothing was written"
    );
    store
        .update_with_attempt(
            &authorized,
            order.version(),
            &attempt(order.id()),
            &event_of(&authorized),
        )
        .await
        .unwrap();
    assert_eq!(store.get(order.id()).await.unwrap(), authorized);
    let stale = store
        .update_with_attempt(
            &authorized,
            order.version(),
            &attempt(order.id()),
            &event_of(&authorized),
        )
        .await;
    assert!(
        matches!(stale, Err(RepoError::VersionConflict { current }) if current == authorized.version())
    );
}

async fn the_store_says_it_is_ready_and_counts_its_pool(store: Store) {
    store.check_ready().await.unwrap();
    let stats = store.pool_stats();
    assert!(stats.max >= 1, "{stats:?}");
    assert!(
        stats.size <= stats.max && stats.idle <= stats.size,
        "{stats:?}"
    );
    assert_eq!(stats.waiting, 0, "nobody waits on an idle store: {stats:?}");
}

/// Every method of the storage traits is exercised by this suite: a method added without a
/// contract case fails here.
#[test]
fn every_storage_method_has_a_contract_case() {
    let source = |file: &str| {
        std::fs::read_to_string(format!("{}/src/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    // Every file of the suite: the contract, and the files of its newer parts.
    let suite: String = ["contract.rs", "rates.rs", "events.rs", "webhooks.rs"]
        .iter()
        .map(|file| {
            std::fs::read_to_string(format!(
                "{}/tests/storage/{file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        })
        .collect();
    let mut methods = Vec::new();
    for file in [
        "orders.rs",
        "idempotency.rs",
        "payments.rs",
        "coordination.rs",
        "api_keys.rs",
        "products.rs",
        "discounts.rs",
        "rates.rs",
        "events.rs",
        "webhooks.rs",
    ] {
        let text = source(file);
        let mut in_trait = false;
        for line in text.lines() {
            if line.starts_with("pub trait ") {
                in_trait = true;
            } else if line == "}" {
                in_trait = false;
            } else if in_trait {
                let trimmed = line.trim_start();
                let signature = trimmed
                    .strip_prefix("async fn ")
                    .or_else(|| trimmed.strip_prefix("fn "));
                if let Some(name) = signature.and_then(|rest| rest.split(['(', '<']).next()) {
                    methods.push(name.to_owned());
                }
            }
        }
    }
    assert!(methods.len() >= 20, "the traits were read: {methods:?}");
    let missing: Vec<&String> = methods
        .iter()
        .filter(|method| !suite.contains(&format!(".{method}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "storage methods without a contract case: {missing:?}"
    );
}

async fn a_job_lease_has_one_holder_until_it_ends(store: Store) {
    let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
    assert!(
        store
            .take_lease("reconcile", a, at(0), at(30))
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_lease("reconcile", b, at(10), at(40))
            .await
            .unwrap(),
        "held by a"
    );
    assert!(
        store.take_lease("purge", b, at(10), at(40)).await.unwrap(),
        "another job"
    );
    assert!(
        store
            .take_lease("reconcile", a, at(29), at(59))
            .await
            .unwrap(),
        "a renews"
    );
    assert!(
        !store
            .take_lease("reconcile", b, at(40), at(70))
            .await
            .unwrap()
    );
    assert!(
        store
            .take_lease("reconcile", b, at(59), at(89))
            .await
            .unwrap(),
        "ended: b takes it"
    );
    assert!(
        !store
            .take_lease("reconcile", a, at(60), at(90))
            .await
            .unwrap()
    );
    let holders = (0..16_u128).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .take_lease("raced", Uuid::from_u128(100 + n), at(0), at(30))
                .await
                .unwrap()
        })
    });
    let mut won = 0;
    for handle in holders.collect::<Vec<_>>() {
        won += usize::from(handle.await.unwrap());
    }
    assert_eq!(
        won, 1,
        "exactly one of sixteen racing replicas takes a free lease"
    );
}

async fn an_update_with_a_stale_version_is_a_conflict(store: Store) {
    let placed = stored(&*store, customer(1), at(0)).await;
    let mut first = placed.clone();
    first.change_status(StatusChange::Process, at(10)).unwrap();
    store
        .update(&first, Version::FIRST, &event_of(&first))
        .await
        .unwrap();
    let mut second = placed.clone();
    second
        .change_status(
            StatusChange::Cancel(CancelReason::parse("late").unwrap()),
            at(11),
        )
        .unwrap();
    match store
        .update(&second, Version::FIRST, &event_of(&second))
        .await
    {
        Err(RepoError::VersionConflict { current }) => assert_eq!(current, Version::new(2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        store.get(placed.id()).await.unwrap(),
        first,
        "the stale write changed nothing"
    );
}

async fn an_update_of_a_missing_order_is_not_found(store: Store) {
    let mut order = sample(&*store, customer(1), 1, at(0)).await;
    order.change_status(StatusChange::Process, at(1)).unwrap();
    assert!(matches!(
        store
            .update(&order, Version::FIRST, &event_of(&order))
            .await,
        Err(RepoError::NotFound)
    ));
}

async fn a_soft_deleted_order_is_neither_found_nor_listed_nor_changed(store: Store) {
    let order = stored(&*store, customer(1), at(0)).await;
    store
        .soft_delete(order.id(), None, at(5), &event_of(&order))
        .await
        .unwrap();
    assert!(matches!(
        store.get(order.id()).await,
        Err(RepoError::NotFound)
    ));
    assert!(
        store
            .list(&ListQuery::first_page(customer(1)))
            .await
            .unwrap()
            .orders
            .is_empty()
    );
    let mut changed = order.clone();
    changed.change_status(StatusChange::Process, at(6)).unwrap();
    assert!(matches!(
        store
            .update(&changed, Version::FIRST, &event_of(&changed))
            .await,
        Err(RepoError::NotFound)
    ));
    assert!(matches!(
        store
            .soft_delete(order.id(), None, at(7), &event_of(&order))
            .await,
        Err(RepoError::NotFound)
    ));
}

async fn a_delete_with_a_stale_version_is_a_conflict(store: Store) {
    let mut order = stored(&*store, customer(1), at(0)).await;
    order.change_status(StatusChange::Process, at(1)).unwrap();
    store
        .update(&order, Version::FIRST, &event_of(&order))
        .await
        .unwrap();
    assert!(matches!(
        store.soft_delete(order.id(), Some(Version::FIRST), at(2), &event_of(&order)).await,
        Err(RepoError::VersionConflict { current }) if current == Version::new(2)
    ));
    store
        .soft_delete(order.id(), Some(Version::new(2)), at(3), &event_of(&order))
        .await
        .unwrap();
    assert!(matches!(
        store.get(order.id()).await,
        Err(RepoError::NotFound)
    ));
}

async fn thirty_two_racing_updates_let_exactly_one_win(store: Store) {
    let placed = stored(&*store, customer(1), at(0)).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            let mut order = placed.clone();
            tokio::spawn(async move {
                order
                    .change_status(StatusChange::Process, at(100 + i))
                    .unwrap();
                barrier.wait().await;
                store
                    .update(&order, Version::FIRST, &event_of(&order))
                    .await
            })
        })
        .collect();
    let (mut won, mut conflicts) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(RepoError::VersionConflict { current }) => {
                assert_eq!(current, Version::new(2));
                conflicts += 1;
            }
            Err(other) => panic!("a racing update failed otherwise: {other:?}"),
        }
    }
    assert_eq!((won, conflicts), (1, 31));
    let read = store.get(placed.id()).await.unwrap();
    assert_eq!(read.version(), Version::new(2));
    assert_eq!(read.status(), OrderStatus::Processing);
}

async fn thirty_two_concurrent_inserts_all_land(store: Store) {
    // On SQLite the writes queue for the one writer and share commits.
    let mut orders = Vec::new();
    for i in 0..32 {
        orders.push(sample(&*store, customer(1), 5, at(i)).await);
    }
    let tasks: Vec<_> = orders
        .iter()
        .cloned()
        .map(|order| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.insert(&order, None, &event_of(&order)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let query = ListQuery {
        limit: PageSize::new(100).unwrap(),
        ..ListQuery::first_page(customer(1))
    };
    assert_eq!(store.list(&query).await.unwrap().orders.len(), 32);
}

async fn a_write_that_fails_among_concurrent_writes_takes_none_of_them_with_it(store: Store) {
    // On SQLite writes that arrive together share one commit, each in its own savepoint: a
    // refused one (a duplicate) must roll back alone, and a claim lost must store nothing.
    let mut fresh = Vec::new();
    let mut kept = Vec::new();
    for i in 0..24 {
        fresh.push(sample(&*store, customer(1), 3, at(i)).await);
        kept.push(stored(&*store, customer(2), at(i)).await);
    }
    let lost = Claim {
        scope: KeyScope {
            caller: "nobody".into(),
            key: "never-claimed".into(),
        },
        token: Uuid::from_u128(7),
        order_id: None,
    };
    let unclaimed = sample(&*store, customer(3), 2, at(0)).await;
    let mut tasks = Vec::new();
    // Each duplicate comes under a held claim: linking the key is written before the order
    // is refused, so the refusal must undo the link too.
    let mut requests = Vec::new();
    for (i, (order, duplicate)) in fresh.iter().cloned().zip(kept.iter().cloned()).enumerate() {
        let request = key_request("racer", &format!("key-{i}"), "f", at(0));
        let held = claim(&store, &request).await;
        requests.push(request);
        let (one, other) = (Arc::clone(&store), Arc::clone(&store));
        tasks.push(tokio::spawn(async move {
            (true, one.insert(&order, None, &event_of(&order)).await)
        }));
        tasks.push(tokio::spawn(async move {
            (
                false,
                other
                    .insert(&duplicate, Some(&held), &event_of(&duplicate))
                    .await,
            )
        }));
    }
    let (lost_store, lost_order) = (Arc::clone(&store), unclaimed.clone());
    let lost_task = tokio::spawn(async move {
        lost_store
            .insert(&lost_order, Some(&lost), &event_of(&lost_order))
            .await
    });
    for task in tasks {
        match task.await.unwrap() {
            (true, landed) => landed.unwrap(),
            (false, refused) => assert!(matches!(refused, Err(RepoError::Duplicate { .. }))),
        }
    }
    assert!(matches!(
        lost_task.await.unwrap(),
        Err(RepoError::ClaimLost)
    ));
    for order in &fresh {
        assert_eq!(&store.get(order.id()).await.unwrap(), order);
    }
    for order in &kept {
        assert_eq!(&store.get(order.id()).await.unwrap(), order);
    }
    assert!(matches!(
        store.get(unclaimed.id()).await,
        Err(RepoError::NotFound)
    ));
    for mut request in requests {
        // Once its lease is over, the key resumes with no order: the link was rolled back.
        request.now = at(60);
        request.token = Uuid::new_v4();
        assert_eq!(claim(&store, &request).await.order_id, None);
    }
}

fn key_request(caller: &str, key: &str, fingerprint: &str, now: DateTime<Utc>) -> KeyRequest {
    KeyRequest {
        scope: KeyScope {
            caller: caller.into(),
            key: key.into(),
        },
        fingerprint: fingerprint.into(),
        now,
        lease_until: now + Duration::seconds(30),
        expires_at: now + Duration::hours(24),
        token: Uuid::new_v4(),
    }
}

fn response(body: &str) -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("etag".into(), "\"1\"".into()),
        ],
        body: body.as_bytes().to_vec(),
    }
}

async fn claim(store: &Store, request: &KeyRequest) -> Claim {
    match store.begin(request).await.unwrap() {
        Begin::Claimed(claim) => claim,
        other => panic!("expected a claim, got {other:?}"),
    }
}

async fn a_new_key_is_claimed_then_its_response_replayed(store: Store) {
    let first = key_request("alice", "k1", "f1", at(0));
    let claim = claim(&store, &first).await;
    assert_eq!((claim.token, claim.order_id), (first.token, None));
    store
        .complete(&claim, &response("{\"id\":1}"))
        .await
        .unwrap();
    let again = key_request("alice", "k1", "f1", at(1));
    assert_eq!(
        store.begin(&again).await.unwrap(),
        Begin::Replay(response("{\"id\":1}"))
    );
    // A finished key cannot be finished twice.
    assert!(matches!(
        store.complete(&claim, &response("other")).await,
        Err(RepoError::ClaimLost)
    ));
}

async fn a_key_used_for_another_request_is_a_mismatch(store: Store) {
    claim(&store, &key_request("alice", "k1", "f1", at(0))).await;
    assert_eq!(
        store
            .begin(&key_request("alice", "k1", "f2", at(1)))
            .await
            .unwrap(),
        Begin::Mismatch
    );
}

async fn an_unfinished_key_is_in_flight_until_its_lease_ends_then_resumes_from_its_order(
    store: Store,
) {
    let first = claim(&store, &key_request("alice", "k1", "f1", at(0))).await;
    let order = sample(&*store, customer(1), 2, at(0)).await;
    store
        .insert(&order, Some(&first), &event_of(&order))
        .await
        .unwrap();
    // The holder "crashes" here: the order is stored, the response never was.
    assert_eq!(
        store
            .begin(&key_request("alice", "k1", "f1", at(10)))
            .await
            .unwrap(),
        Begin::InFlight
    );
    let retry = key_request("alice", "k1", "f1", at(31));
    let resumed = claim(&store, &retry).await;
    assert_eq!(resumed.order_id, Some(order.id()));
    assert_ne!(resumed.token, first.token);
    // The old holder lost the key: it can no longer finish it.
    assert!(matches!(
        store.complete(&first, &response("old")).await,
        Err(RepoError::ClaimLost)
    ));
    store.complete(&resumed, &response("new")).await.unwrap();
}

async fn an_order_is_stored_only_with_a_held_claim(store: Store) {
    let first = claim(&store, &key_request("alice", "k1", "f1", at(0))).await;
    let taken_over = claim(&store, &key_request("alice", "k1", "f1", at(60))).await;
    let order = sample(&*store, customer(1), 3, at(0)).await;
    assert!(matches!(
        store.insert(&order, Some(&first), &event_of(&order)).await,
        Err(RepoError::ClaimLost)
    ));
    assert!(
        matches!(store.get(order.id()).await, Err(RepoError::NotFound)),
        "nothing was stored"
    );
    store
        .insert(&order, Some(&taken_over), &event_of(&order))
        .await
        .unwrap();
    assert_eq!(store.get(order.id()).await.unwrap(), order);
    // One claim links one order.
    let second = sample(&*store, customer(1), 1, at(1)).await;
    assert!(matches!(
        store
            .insert(&second, Some(&taken_over), &event_of(&second))
            .await,
        Err(RepoError::ClaimLost)
    ));
}

async fn keys_of_different_callers_never_collide(store: Store) {
    let alice = claim(&store, &key_request("alice", "same", "f1", at(0))).await;
    let bob = claim(&store, &key_request("bob", "same", "f2", at(0))).await;
    store.complete(&alice, &response("alice")).await.unwrap();
    store.complete(&bob, &response("bob")).await.unwrap();
    assert_eq!(
        store
            .begin(&key_request("bob", "same", "f2", at(1)))
            .await
            .unwrap(),
        Begin::Replay(response("bob"))
    );
}

async fn an_expired_key_starts_afresh_and_is_purged(store: Store) {
    let old = claim(&store, &key_request("alice", "k1", "f1", at(0))).await;
    store.complete(&old, &response("old")).await.unwrap();
    claim(&store, &key_request("alice", "k2", "f1", at(0))).await;
    let day_later = at(0) + Duration::hours(24);
    // Expired: the same key, even for another request, runs afresh.
    let fresh = claim(&store, &key_request("alice", "k1", "other", day_later)).await;
    assert_eq!(fresh.order_id, None);
    assert_eq!(
        store.purge_expired(day_later).await.unwrap(),
        1,
        "only k2 was still expired"
    );
    assert_eq!(
        store
            .begin(&key_request("alice", "k1", "other", day_later))
            .await
            .unwrap(),
        Begin::InFlight
    );
}

async fn a_released_key_runs_again_unless_it_made_an_order(store: Store) {
    let failed = claim(&store, &key_request("alice", "k1", "f1", at(0))).await;
    store.release(&failed, at(1)).await.unwrap();
    let retry = claim(&store, &key_request("alice", "k1", "f1", at(2))).await;
    assert_eq!(retry.order_id, None);

    let linked = claim(&store, &key_request("alice", "k2", "f1", at(0))).await;
    let order = sample(&*store, customer(1), 1, at(0)).await;
    store
        .insert(&order, Some(&linked), &event_of(&order))
        .await
        .unwrap();
    store.release(&linked, at(1)).await.unwrap();
    // Kept, with its lease ended: the retry resumes at once from the order.
    let resumed = claim(&store, &key_request("alice", "k2", "f1", at(2))).await;
    assert_eq!(resumed.order_id, Some(order.id()));
}

async fn one_of_many_racing_requests_claims_a_key(store: Store) {
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .begin(&key_request("alice", "race", "f1", at(0)))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut claimed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Begin::Claimed(_) => claimed += 1,
            Begin::InFlight => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(claimed, 1);
}

/// What a real gateway does with an idempotency key: the first call's outcome is the answer to
/// every later call with the key, however many race.
async fn the_gateway_ledger_keeps_the_first_entry_for_a_key(store: Store) {
    let order = stored(&*store, customer(1), at(0)).await;
    let entry = |reference: &str, approved: bool| LedgerEntry {
        key: format!("authorize:{}", order.id()),
        operation: PaymentOperation::Authorize,
        order_id: order.id(),
        amount: rust_decimal::Decimal::new(1999, 2),
        approved,
        reference: reference.to_owned(),
        at: at(1),
    };
    let first = entry("sim_first", true);
    assert_eq!(store.remember(&first).await.unwrap(), first);
    assert_eq!(
        store.remember(&entry("sim_second", false)).await.unwrap(),
        first
    );
    assert_eq!(store.find(&first.key).await.unwrap(), Some(first.clone()));
    assert_eq!(store.find("authorize:nothing").await.unwrap(), None);

    let racing = entry("unused", true);
    let racing = LedgerEntry {
        key: "capture:race".to_owned(),
        ..racing
    };
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            let mine = LedgerEntry {
                reference: format!("sim_{n}"),
                ..racing.clone()
            };
            tokio::spawn(async move {
                barrier.wait().await;
                store.remember(&mine).await.unwrap()
            })
        })
        .collect();
    let mut kept = HashSet::new();
    for task in tasks {
        kept.insert(task.await.unwrap().reference);
    }
    assert_eq!(
        kept.len(),
        1,
        "every racer sees the one entry kept: {kept:?}"
    );
}

async fn an_api_key_is_stored_listed_revoked_once_and_touched_forward(store: Store) {
    let key = |n: u8, seconds: i64| StoredKey {
        id: Uuid::from_u128(u128::from(n)),
        name: format!("backend {n}"),
        scopes: vec!["orders:read".to_owned(), "orders:write".to_owned()],
        secret_hash: [n; 32],
        created_at: at(seconds),
        created_by: "admin-1".to_owned(),
        revoked_at: None,
        last_used_at: None,
    };
    let (first, second) = (key(1, 0), key(2, 10));
    store.insert_key(&first).await.unwrap();
    store.insert_key(&second).await.unwrap();
    assert!(matches!(
        store.insert_key(&first).await,
        Err(RepoError::Duplicate { .. })
    ));
    let unknown = Uuid::from_u128(9);
    assert_eq!(store.key(first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.key(unknown).await.unwrap(), None);
    assert_eq!(
        store.keys().await.unwrap(),
        vec![second.clone(), first.clone()]
    );

    let revoked = store.revoke_key(first.id, at(20)).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at(20)));
    assert_eq!(revoked.secret_hash, first.secret_hash);
    let again = store.revoke_key(first.id, at(30)).await.unwrap().unwrap();
    assert_eq!(
        again.revoked_at,
        Some(at(20)),
        "the first revocation stands"
    );
    assert_eq!(store.revoke_key(unknown, at(30)).await.unwrap(), None);
    assert_eq!(
        store.key(second.id).await.unwrap().unwrap().revoked_at,
        None
    );

    store.touch_key(second.id, at(40)).await.unwrap();
    store.touch_key(second.id, at(35)).await.unwrap();
    store.touch_key(unknown, at(40)).await.unwrap();
    assert_eq!(
        store.key(second.id).await.unwrap().unwrap().last_used_at,
        Some(at(40)),
        "a last use never moves back"
    );
    assert_eq!(store.keys().await.unwrap().len(), 2);
}

/// A product with `sku`, priced 19.90 USD (and 2000 JPY when `yen`), made at `at(seconds)`.
fn product(n: u128, sku: &str, seconds: i64, yen: bool) -> ordo_domain::Product {
    let mut prices =
        std::collections::BTreeMap::from([("USD".to_owned(), "19.9".parse().unwrap())]);
    if yen {
        prices.insert("JPY".to_owned(), rust_decimal::Decimal::from(2000));
    }
    let draft = ordo_domain::ProductDraft {
        sku: sku.to_owned(),
        title: format!("Product {sku}"),
        options: std::collections::BTreeMap::from([("size".to_owned(), "L".to_owned())]),
        requires_shipping: n.is_multiple_of(2),
        tax_class: n.is_multiple_of(3).then(|| "reduced".to_owned()),
        status: ordo_domain::ProductStatus::Active,
        prices,
    };
    ordo_domain::Product::new(
        ordo_domain::ProductId::from_uuid(Uuid::from_u128(n)).unwrap(),
        ordo_domain::ProductSpec::parse(&draft).unwrap(),
        at(seconds),
    )
}

async fn products_read_back_by_id_and_sku_and_list_in_byte_order_page_by_page(store: Store) {
    // Byte order: upper case before lower case, ASCII before "é"; not a locale's order.
    let skus = ["é-1", "b-2", "B-3", "a-10", "a-9", "Z"];
    let products: Vec<_> = skus
        .iter()
        .zip(1..)
        .map(|(sku, n)| product(n, sku, i64::try_from(n).unwrap(), n == 1))
        .collect();
    let inserts: Vec<_> = products.iter().cloned().map(ProductWrite::Insert).collect();
    store.write_products(&inserts).await.unwrap();
    for product in &products {
        assert_eq!(&store.product(product.id()).await.unwrap(), product);
    }
    assert_eq!(products[0].spec().prices()["JPY"].to_string(), "2000");
    assert!(matches!(
        store
            .product(ordo_domain::ProductId::from_uuid(Uuid::from_u128(99)).unwrap())
            .await,
        Err(RepoError::NotFound)
    ));
    let wanted = [
        products[0].spec().sku().clone(),
        products[3].spec().sku().clone(),
        ordo_domain::Sku::parse("nobody").unwrap(),
    ];
    let mut found = store.products_by_sku(&wanted).await.unwrap();
    found.sort_by_key(ordo_domain::Product::id);
    assert_eq!(found, vec![products[0].clone(), products[3].clone()]);
    assert!(store.products_by_sku(&[]).await.unwrap().is_empty());

    let mut query = ProductQuery {
        limit: PageSize::new(4).unwrap(),
        ..ProductQuery::default()
    };
    let first = store.products(&query).await.unwrap();
    let sku_list = |page: &ordo_repository::ProductPage| {
        page.products
            .iter()
            .map(|p| p.spec().sku().as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(sku_list(&first), ["B-3", "Z", "a-10", "a-9"]);
    assert_eq!(
        first.next.as_ref().map(ordo_domain::Sku::as_str),
        Some("a-9")
    );
    query.after = first.next;
    let second = store.products(&query).await.unwrap();
    assert_eq!(sku_list(&second), ["b-2", "é-1"]);
    assert_eq!(second.next, None);
    // Filters: tax class (every third product is "reduced"), status.
    let reduced = store
        .products(&ProductQuery {
            tax_class: Some(ordo_domain::TaxClass::parse("reduced").unwrap()),
            ..ProductQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(sku_list(&reduced), ["B-3", "Z"]);
    let archived = store
        .products(&ProductQuery {
            status: Some(ordo_domain::ProductStatus::Archived),
            ..ProductQuery::default()
        })
        .await
        .unwrap();
    assert!(archived.products.is_empty());
}

async fn a_product_batch_is_all_or_nothing_and_updates_by_compare_and_set(store: Store) {
    let first = product(1, "TS-1", 0, false);
    store
        .write_products(&[ProductWrite::Insert(first.clone())])
        .await
        .unwrap();
    // A batch whose second write takes a SKU already held stores neither.
    let batch = [
        ProductWrite::Insert(product(2, "TS-2", 1, false)),
        ProductWrite::Insert(product(3, "TS-1", 1, false)),
    ];
    assert!(matches!(
        store.write_products(&batch).await,
        Err(RepoError::Duplicate { .. })
    ));
    let everything = store.products(&ProductQuery::default()).await.unwrap();
    assert_eq!(everything.products, vec![first.clone()]);

    // An update names the version it read; of racing updates from one version one wins.
    let revised = |n: usize| {
        let mut draft = first.spec().to_draft();
        draft.title = format!("Revised {n}");
        draft.status = ordo_domain::ProductStatus::Archived;
        let mut product = first.clone();
        assert!(product.revise(ordo_domain::ProductSpec::parse(&draft).unwrap(), at(5)));
        product
    };
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let racers: Vec<_> = (0..16)
        .map(|n| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            let product = revised(n);
            let expected = first.version();
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .write_products(&[ProductWrite::Update { product, expected }])
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for racer in racers {
        results.push(racer.await.unwrap());
    }
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().all(|r| match r {
        Ok(()) => true,
        Err(RepoError::VersionConflict { current }) => *current == Version::new(2),
        Err(_) => false,
    }));
    let stored = store.product(first.id()).await.unwrap();
    assert_eq!(stored.version(), Version::new(2));
    assert!(stored.spec().title().as_str().starts_with("Revised "));
    assert_eq!(stored.spec().status(), ordo_domain::ProductStatus::Archived);
    assert_eq!(stored.updated_at(), at(5));
    assert_eq!(stored.created_at(), at(0));

    // A batch with a stale update leaves its insert out too; a missing product is not found.
    let stale = [
        ProductWrite::Insert(product(4, "TS-4", 6, false)),
        ProductWrite::Update {
            product: revised(99),
            expected: first.version(),
        },
    ];
    assert!(matches!(
        store.write_products(&stale).await,
        Err(RepoError::VersionConflict { .. })
    ));
    assert!(
        store
            .products_by_sku(&[ordo_domain::Sku::parse("TS-4").unwrap()])
            .await
            .unwrap()
            .is_empty()
    );
    let mut never_stored = product(5, "TS-5", 0, false);
    let mut draft = never_stored.spec().to_draft();
    draft.title = "Renamed".into();
    assert!(never_stored.revise(ordo_domain::ProductSpec::parse(&draft).unwrap(), at(1)));
    let missing = [ProductWrite::Update {
        product: never_stored,
        expected: Version::FIRST,
    }];
    assert!(matches!(
        store.write_products(&missing).await,
        Err(RepoError::NotFound)
    ));
}

/// A 10 % code named `name` (from 10.50 USD), limited to `usage` uses and `per_customer` each.
fn code(
    n: u128,
    name: &str,
    usage: Option<i64>,
    per_customer: Option<i64>,
) -> ordo_domain::DiscountCode {
    let draft = ordo_domain::DiscountCodeDraft {
        code: name.to_owned(),
        value: ordo_domain::CodeValueDraft::Percentage(rust_decimal::Decimal::TEN),
        minimum_subtotal: std::collections::BTreeMap::from([(
            "USD".to_owned(),
            rust_decimal::Decimal::new(1050, 2),
        )]),
        starts_at: Some(at(0)),
        ends_at: None,
        usage_limit: usage,
        per_customer_limit: per_customer,
        status: ordo_domain::ProductStatus::Active,
    };
    ordo_domain::DiscountCode::new(
        Uuid::from_u128(n),
        ordo_domain::DiscountCodeSpec::parse(&draft).unwrap(),
        at(0),
    )
}

async fn discount_codes_are_written_read_by_id_and_name_and_paged(store: Store) {
    let codes: Vec<_> = ["WINTER", "AUTUMN-5", "SPRING_2"]
        .iter()
        .zip(1..)
        .map(|(name, n)| code(n, name, Some(10), None))
        .collect();
    for code in &codes {
        store
            .write_code(&CodeWrite::Insert(code.clone()))
            .await
            .unwrap();
    }
    assert_eq!(store.discount_code(codes[0].id()).await.unwrap(), codes[0]);
    let named = ordo_domain::CodeName::parse("autumn-5").unwrap();
    assert_eq!(
        store.code_named(&named).await.unwrap().as_ref(),
        Some(&codes[1])
    );
    let nobody = ordo_domain::CodeName::parse("NONE").unwrap();
    assert_eq!(store.code_named(&nobody).await.unwrap(), None);
    assert!(matches!(
        store.discount_code(Uuid::from_u128(99)).await,
        Err(RepoError::NotFound)
    ));
    assert!(matches!(
        store
            .write_code(&CodeWrite::Insert(code(9, "winter", None, None)))
            .await,
        Err(RepoError::Duplicate { .. })
    ));
    let two = PageSize::new(2).unwrap();
    let first = store.discount_codes(None, two).await.unwrap();
    let code_names = |page: &ordo_repository::CodePage| {
        page.codes
            .iter()
            .map(|c| c.spec().code().as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(code_names(&first), ["AUTUMN-5", "SPRING_2"]);
    let second = store
        .discount_codes(first.next.as_ref(), two)
        .await
        .unwrap();
    assert_eq!(code_names(&second), ["WINTER"]);
    assert_eq!(second.next, None);
    // A change by compare-and-set; a stale one is a conflict.
    let mut changed = codes[0].clone();
    let mut draft = changed.spec().to_draft();
    draft.usage_limit = None;
    draft.status = ordo_domain::ProductStatus::Archived;
    assert!(changed.revise(ordo_domain::DiscountCodeSpec::parse(&draft).unwrap(), at(3)));
    let update = CodeWrite::Update {
        code: changed.clone(),
        expected: codes[0].version(),
    };
    store.write_code(&update).await.unwrap();
    assert_eq!(store.discount_code(changed.id()).await.unwrap(), changed);
    assert!(matches!(
        store.write_code(&update).await,
        Err(RepoError::VersionConflict { .. })
    ));
    // The order keeps the code its discount came from.
    let order = with_code(&*store, customer(1), "autumn-5", at(5)).await;
    let redemption = Redemption {
        code_id: codes[1].id(),
    };
    store
        .insert_redeeming(&order, None, redemption, &event_of(&order))
        .await
        .unwrap();
    let read = store.get(order.id()).await.unwrap();
    assert_eq!(read, order);
    assert_eq!(
        read.pricing()
            .discount_code()
            .map(ordo_domain::CodeName::as_str),
        Some("AUTUMN-5")
    );
    assert_eq!(store.discount_code(codes[1].id()).await.unwrap().used(), 1);
}

async fn five_hundred_racing_orders_take_exactly_the_hundred_uses_a_code_has(store: Store) {
    let limited = code(1, "HUNDRED", Some(100), None);
    store
        .write_code(&CodeWrite::Insert(limited.clone()))
        .await
        .unwrap();
    let mut orders = Vec::new();
    for n in 0..500 {
        orders.push(with_code(&*store, customer(n % 50), "HUNDRED", at(1)).await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(orders.len()));
    let code_id = limited.id();
    let racers: Vec<_> = orders
        .into_iter()
        .map(|order| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let redemption = Redemption { code_id };
                (
                    store
                        .insert_redeeming(&order, None, redemption, &event_of(&order))
                        .await,
                    order.id(),
                )
            })
        })
        .collect();
    let (mut placed, mut refused) = (Vec::new(), 0);
    for racer in racers {
        match racer.await.unwrap() {
            (Ok(()), id) => placed.push(id),
            (
                Err(RepoError::LimitReached {
                    per_customer: false,
                }),
                id,
            ) => {
                refused += 1;
                assert!(
                    matches!(store.get(id).await, Err(RepoError::NotFound)),
                    "nothing stored"
                );
            }
            (Err(other), _) => panic!("a racing order failed otherwise: {other:?}"),
        }
    }
    assert_eq!((placed.len(), refused), (100, 400));
    assert_eq!(store.discount_code(limited.id()).await.unwrap().used(), 100);
    for id in &placed {
        assert!(store.get(*id).await.is_ok());
    }
}

async fn a_customer_holds_no_more_uses_than_its_limit_and_a_cancel_gives_one_back(store: Store) {
    let limited = code(1, "TWICE", Some(3), Some(2));
    store
        .write_code(&CodeWrite::Insert(limited.clone()))
        .await
        .unwrap();
    let redemption = Redemption {
        code_id: limited.id(),
    };
    // Twenty orders of one customer at once: two take a use.
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut racers = Vec::new();
    for _ in 0..20 {
        let order = with_code(&*store, customer(1), "TWICE", at(1)).await;
        let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
        racers.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .insert_redeeming(&order, None, redemption, &event_of(&order))
                .await
                .map(|()| order)
        }));
    }
    let mut placed = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            Ok(order) => placed.push(order),
            Err(RepoError::LimitReached { per_customer: true }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(placed.len(), 2);
    assert_eq!(store.discount_code(limited.id()).await.unwrap().used(), 2);
    // Another customer takes the last use; then the code is used up for everyone.
    let other = with_code(&*store, customer(2), "TWICE", at(2)).await;
    store
        .insert_redeeming(&other, None, redemption, &event_of(&other))
        .await
        .unwrap();
    let late = with_code(&*store, customer(3), "TWICE", at(2)).await;
    assert!(matches!(
        store
            .insert_redeeming(&late, None, redemption, &event_of(&late))
            .await,
        Err(RepoError::LimitReached {
            per_customer: false
        })
    ));
    // Cancelling one of the first customer's orders gives its use back, once.
    let mut cancelled = placed[0].clone();
    let reason = CancelReason::parse("changed my mind").unwrap();
    cancelled
        .change_status(StatusChange::Cancel(reason), at(3))
        .unwrap();
    store
        .update(&cancelled, placed[0].version(), &event_of(&cancelled))
        .await
        .unwrap();
    assert_eq!(store.discount_code(limited.id()).await.unwrap().used(), 2);
    let mut touched = cancelled.clone();
    touched.change_details(ordo_domain::OrderDetails::default(), at(4));
    store
        .update(&touched, cancelled.version(), &event_of(&touched))
        .await
        .unwrap();
    assert_eq!(
        store.discount_code(limited.id()).await.unwrap().used(),
        2,
        "given back once"
    );
    let again = with_code(&*store, customer(1), "TWICE", at(5)).await;
    store
        .insert_redeeming(&again, None, redemption, &event_of(&again))
        .await
        .unwrap();
    assert_eq!(store.discount_code(limited.id()).await.unwrap().used(), 3);
    a_limit_stays_at_the_uses_held_and_a_delete_gives_one_back(&store, &limited, &other).await;
}

/// After `limited` holds three uses, one of them `other`'s.
async fn a_limit_stays_at_the_uses_held_and_a_delete_gives_one_back(
    store: &Store,
    limited: &ordo_domain::DiscountCode,
    other: &ordo_domain::Order,
) {
    let redemption = Redemption {
        code_id: limited.id(),
    };
    // The limit cannot go below the uses held; archiving stops new ones.
    let mut lowered = limited.clone();
    let mut draft = lowered.spec().to_draft();
    draft.usage_limit = Some(2);
    assert!(lowered.revise(ordo_domain::DiscountCodeSpec::parse(&draft).unwrap(), at(6)));
    let lower = CodeWrite::Update {
        code: lowered,
        expected: limited.version(),
    };
    assert!(matches!(
        store.write_code(&lower).await,
        Err(RepoError::LimitBelowUses { used: 3 })
    ));
    // A deleted order gives its use back too, and then nothing more when it is touched.
    store
        .soft_delete(other.id(), None, at(7), &event_of(other))
        .await
        .unwrap();
    assert_eq!(store.discount_code(limited.id()).await.unwrap().used(), 2);
    store.write_code(&lower).await.unwrap();
    let mut archived = store.discount_code(limited.id()).await.unwrap();
    let mut draft = archived.spec().to_draft();
    // Archived with room to spare: no new use, however much is left.
    draft.status = ordo_domain::ProductStatus::Archived;
    draft.usage_limit = Some(10);
    let expected = archived.version();
    assert!(archived.revise(ordo_domain::DiscountCodeSpec::parse(&draft).unwrap(), at(8)));
    store
        .write_code(&CodeWrite::Update {
            code: archived,
            expected,
        })
        .await
        .unwrap();
    let cancelled_again = with_code(&**store, customer(4), "TWICE", at(9)).await;
    assert!(matches!(
        store
            .insert_redeeming(
                &cancelled_again,
                None,
                redemption,
                &event_of(&cancelled_again)
            )
            .await,
        Err(RepoError::LimitReached { .. })
    ));
}
