//! The use cases against mockall fakes of storage: no database, a fixed clock and fixed ids.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::ref_option_ref,
    reason = "test code; mockall matchers take `&Option<&T>`"
)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone as _, Utc};
use ordo_domain::{
    CancelReason, CustomerId, LineItemDraft, Money, NewOrder, Order, OrderDraft, OrderId,
    OrderNumber, OrderNumberKey, OrderStatus, PaymentError, PaymentStatus, ProductId,
    RoundingPolicy, Version, price,
};
use ordo_repository::{
    Claim, ListQuery, MockIdempotencyStore, MockOrderRepository, Page, RepoError,
};
use ordo_service::{
    Caller, Clock, GatewayReply, IdGenerator, OrderService, PaymentGateway, Role, ServiceConfig,
    ServiceError,
};
use rust_decimal::Decimal;
use uuid::Uuid;

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 5, 18, 14).unwrap()
    }
}

struct FixedIds;
impl IdGenerator for FixedIds {
    fn order_id(&self, now: DateTime<Utc>) -> OrderId {
        OrderId::from_parts(u64::try_from(now.timestamp_millis()).unwrap(), &[7; 10])
    }
}

/// The caller of most tests: may do everything, so the tests see the use case itself.
fn admin() -> Caller {
    Caller::operator(Role::Admin, "test").unwrap()
}

/// The customer that `draft()` and `pending_order()` belong to, and another one.
fn owner() -> Caller {
    Caller::customer(draft().customer_id)
}

fn stranger() -> Caller {
    Caller::customer(CustomerId::from_uuid(Uuid::from_u128(99)).unwrap())
}

fn service(repository: MockOrderRepository) -> OrderService {
    with_keys(repository, MockIdempotencyStore::new())
}

/// A gateway that always gives the same answer, and counts the calls.
#[derive(Default)]
struct FakeGateway {
    reply: Option<GatewayReply>,
    calls: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl PaymentGateway for FakeGateway {
    async fn authorize(&self, key: &str, _: OrderId, _: Money) -> GatewayReply {
        self.answer(key)
    }
    async fn capture(&self, key: &str, _: OrderId, _: Money) -> GatewayReply {
        self.answer(key)
    }
    async fn void(&self, key: &str, _: OrderId, _: Money) -> GatewayReply {
        self.answer(key)
    }
    async fn refund(&self, key: &str, _: OrderId, _: Money) -> GatewayReply {
        self.answer(key)
    }
}

impl FakeGateway {
    fn answering(reply: GatewayReply) -> Self {
        Self {
            reply: Some(reply),
            calls: std::sync::Mutex::default(),
        }
    }

    fn answer(&self, key: &str) -> GatewayReply {
        self.calls.lock().unwrap().push(key.to_owned());
        self.reply.clone().unwrap_or(GatewayReply::Approved {
            reference: "ref".into(),
        })
    }
}

/// Payment calls are audited and written back: let the fake storage accept both, together
/// or apart.
fn accepts_payment_writes(repository: &mut MockOrderRepository) {
    repository
        .expect_record_payment_attempt()
        .returning(|_| Ok(()));
    repository.expect_update().returning(|_, _, _| Ok(()));
    repository
        .expect_update_with_attempt()
        .returning(|_, _, _, _| Ok(()));
}

fn with_keys(repository: MockOrderRepository, keys: MockIdempotencyStore) -> OrderService {
    with_gateway(repository, keys, Arc::new(FakeGateway::default()))
}

fn with_gateway(
    repository: MockOrderRepository,
    keys: MockIdempotencyStore,
    gateway: Arc<FakeGateway>,
) -> OrderService {
    OrderService::new(
        Arc::new(repository),
        Arc::new(keys),
        gateway,
        Arc::new(FixedClock),
        Arc::new(FixedIds),
        Arc::new(IdRenderer),
        ServiceConfig::default(),
    )
}

fn draft() -> OrderDraft {
    OrderDraft {
        details: ordo_domain::OrderDetailsDraft::default(),
        customer_id: CustomerId::from_uuid(Uuid::from_u128(1)).unwrap(),
        currency: "USD".into(),
        items: vec![LineItemDraft {
            snapshot: ordo_domain::LineSnapshotDraft::default(),
            product_id: Some(ProductId::from_uuid(Uuid::from_u128(2)).unwrap()),
            quantity: 3,
            unit_price: Some(Decimal::new(1999, 2)),
        }],
        discount: None,
        discount_code: None,
        discount_code_optional: false,
        tax_rate: Some(Decimal::new(1, 1)),
        shipping: Vec::new(),
        shipping_method: None,
        discount_reason: None,
    }
}

/// A stored pending order, as the fake repository returns it.
fn pending_order() -> Order {
    let new = NewOrder::parse(&draft()).unwrap();
    let pricing = price(&new, RoundingPolicy::default_for(new.currency())).unwrap();
    let now = FixedClock.now();
    let number = OrderNumber::from_sequence(1, now.date_naive(), OrderNumberKey::DEFAULT).unwrap();
    Order::place(
        FixedIds.order_id(now),
        number,
        new.customer_id(),
        pricing,
        new.details().clone(),
        now,
    )
}

fn unavailable() -> RepoError {
    RepoError::Unavailable("connection refused".into())
}

#[tokio::test]
async fn placing_a_valid_order_prices_numbers_and_stores_it_once() {
    let mut repository = MockOrderRepository::new();
    repository
        .expect_next_order_sequence()
        .times(1)
        .returning(|| Ok(42));
    repository
        .expect_insert()
        .times(1)
        .withf(|order: &Order, claim: &Option<&Claim>, _| {
            order.pricing().total() == Decimal::new(6597, 2) && claim.is_none()
        })
        .returning(|_, _, _| Ok(()));
    accepts_payment_writes(&mut repository);
    let order = service(repository)
        .place(&admin(), &draft(), None)
        .await
        .unwrap();
    let now = FixedClock.now();
    assert_eq!(order.id(), FixedIds.order_id(now));
    assert_eq!(
        order.number(),
        OrderNumber::from_sequence(42, now.date_naive(), OrderNumberKey::DEFAULT).unwrap()
    );
    assert_eq!(
        (order.status(), order.version(), order.created_at()),
        (OrderStatus::Pending, Version::new(2), now)
    );
    assert_eq!(order.pricing().tax().to_string(), "6.00");
}

#[tokio::test]
async fn placing_an_invalid_order_touches_no_storage() {
    // A fake with no expectations fails the test on any call.
    let mut invalid = draft();
    invalid.items[0].quantity = 0;
    invalid.currency = "ZZZ".into();
    match service(MockOrderRepository::new())
        .place(&admin(), &invalid, None)
        .await
    {
        Err(ServiceError::Validation(errors)) => {
            let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, vec!["currency", "items[0].quantity"]);
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn placing_while_storage_is_down_is_unavailable() {
    let mut repository = MockOrderRepository::new();
    repository
        .expect_next_order_sequence()
        .returning(|| Err(unavailable()));
    assert!(matches!(
        service(repository).place(&admin(), &draft(), None).await,
        Err(ServiceError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_duplicate_at_insert_is_an_internal_error_not_a_client_error() {
    let mut repository = MockOrderRepository::new();
    repository.expect_next_order_sequence().returning(|| Ok(1));
    repository.expect_insert().returning(|_, _, _| {
        Err(RepoError::Duplicate {
            constraint: "orders_order_number_key".into(),
        })
    });
    assert!(matches!(
        service(repository).place(&admin(), &draft(), None).await,
        Err(ServiceError::Internal(_))
    ));
}

#[tokio::test]
async fn a_preview_charges_exactly_what_placing_would() {
    let preview = service(MockOrderRepository::new())
        .preview(&admin(), &draft())
        .await
        .unwrap();
    assert_eq!(&preview, pending_order().pricing());
}

#[tokio::test]
async fn getting_a_missing_order_is_not_found() {
    let mut repository = MockOrderRepository::new();
    repository
        .expect_get()
        .returning(|_| Err(RepoError::NotFound));
    let id = FixedIds.order_id(FixedClock.now());
    assert!(matches!(
        service(repository).get(&admin(), id).await,
        Err(ServiceError::NotFound)
    ));
}

/// An order found by its number is the owner's and staff's to read; another customer gets the
/// same 404 as for a number that was never given.
#[tokio::test]
async fn an_order_found_by_number_is_shown_only_to_who_may_read_it() {
    let order = authorized_order();
    let number = order.number();
    let mut repository = MockOrderRepository::new();
    let stored = order.clone();
    repository
        .expect_get_by_number()
        .withf(move |asked| *asked == number)
        .returning(move |_| Ok(stored.clone()));
    let service = service(repository);
    for caller in [admin(), owner()] {
        assert_eq!(
            service
                .get_by_number(&caller, &order.number())
                .await
                .unwrap(),
            order
        );
    }
    assert!(matches!(
        service.get_by_number(&stranger(), &order.number()).await,
        Err(ServiceError::NotFound)
    ));
}

#[tokio::test]
async fn listing_passes_the_query_through() {
    let query = ListQuery::first_page(draft().customer_id);
    let expected = query.clone();
    let mut repository = MockOrderRepository::new();
    repository
        .expect_list()
        .withf(move |q: &ListQuery| *q == expected)
        .returning(|_| {
            Ok(Page {
                orders: vec![],
                next: None,
            })
        });
    assert!(
        service(repository)
            .list(&admin(), &query)
            .await
            .unwrap()
            .orders
            .is_empty()
    );
}

#[tokio::test]
async fn listing_while_storage_is_down_is_unavailable() {
    let mut repository = MockOrderRepository::new();
    repository.expect_list().returning(|_| Err(unavailable()));
    let query = ListQuery::first_page(draft().customer_id);
    assert!(matches!(
        service(repository).list(&admin(), &query).await,
        Err(ServiceError::Unavailable(_))
    ));
}

#[tokio::test]
async fn moving_to_processing_with_the_current_version_writes_the_next_one() {
    let order = authorized_order();
    let mut repository = MockOrderRepository::new();
    let stored = order.clone();
    repository
        .expect_get()
        .returning(move |_| Ok(stored.clone()));
    repository
        .expect_update()
        .times(1)
        .withf(|order: &Order, expected: &Version, _| {
            order.status() == OrderStatus::Processing
                && order.version() == Version::new(3)
                && *expected == Version::new(2)
        })
        .returning(|_, _, _| Ok(()));
    let moved = service(repository)
        .transition(
            &admin(),
            order.id(),
            OrderStatus::Processing,
            Version::new(2),
        )
        .await
        .unwrap();
    assert_eq!(moved.status(), OrderStatus::Processing);
}

#[tokio::test]
async fn a_stale_version_is_refused_before_anything_is_written() {
    let order = pending_order();
    let mut repository = MockOrderRepository::new();
    let stored = order.clone();
    repository
        .expect_get()
        .returning(move |_| Ok(stored.clone()));
    let result = service(repository)
        .transition(
            &admin(),
            order.id(),
            OrderStatus::Processing,
            Version::new(7),
        )
        .await;
    assert!(matches!(result, Err(ServiceError::Stale { current }) if current == Version::FIRST));
}

#[tokio::test]
async fn losing_the_race_at_write_time_is_stale() {
    let order = authorized_order();
    let mut repository = MockOrderRepository::new();
    let stored = order.clone();
    repository
        .expect_get()
        .returning(move |_| Ok(stored.clone()));
    repository.expect_update().returning(|_, _, _| {
        Err(RepoError::VersionConflict {
            current: Version::new(3),
        })
    });
    let result = service(repository)
        .transition(
            &admin(),
            order.id(),
            OrderStatus::Processing,
            Version::new(2),
        )
        .await;
    assert!(matches!(result, Err(ServiceError::Stale { current }) if current == Version::new(3)));
}

#[tokio::test]
async fn completing_a_pending_order_is_illegal_and_lists_the_allowed_moves() {
    let order = pending_order();
    let mut repository = MockOrderRepository::new();
    let stored = order.clone();
    repository
        .expect_get()
        .returning(move |_| Ok(stored.clone()));
    match service(repository)
        .transition(&admin(), order.id(), OrderStatus::Completed, Version::FIRST)
        .await
    {
        Err(ServiceError::IllegalTransition(error)) => {
            assert_eq!(error.from, OrderStatus::Pending);
            assert_eq!(
                error.allowed,
                vec![OrderStatus::Processing, OrderStatus::Cancelled]
            );
        }
        other => panic!("expected an illegal transition, got {other:?}"),
    }
}

#[tokio::test]
async fn transitions_cannot_cancel_or_reopen() {
    let id = pending_order().id();
    for target in [OrderStatus::Cancelled, OrderStatus::Pending] {
        let result = service(MockOrderRepository::new())
            .transition(&admin(), id, target, Version::FIRST)
            .await;
        assert!(matches!(result, Err(ServiceError::UnsupportedTarget(t)) if t == target));
    }
}

#[tokio::test]
async fn cancelling_records_the_reason() {
    let order = failed_order();
    let mut repository = MockOrderRepository::new();
    let stored = order.clone();
    repository
        .expect_get()
        .returning(move |_| Ok(stored.clone()));
    repository
        .expect_update()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let reason = CancelReason::parse("customer changed their mind").unwrap();
    let cancelled = service(repository)
        .cancel(&admin(), order.id(), reason.clone(), Version::new(2))
        .await
        .unwrap();
    assert_eq!(
        (cancelled.status(), cancelled.cancel_reason()),
        (OrderStatus::Cancelled, Some(&reason))
    );
}

#[tokio::test]
async fn changing_a_missing_order_is_not_found() {
    let mut repository = MockOrderRepository::new();
    repository
        .expect_get()
        .returning(|_| Err(RepoError::NotFound));
    let id = pending_order().id();
    let result = service(repository)
        .transition(&admin(), id, OrderStatus::Processing, Version::FIRST)
        .await;
    assert!(matches!(result, Err(ServiceError::NotFound)));
}

#[tokio::test]
async fn deleting_passes_the_expected_version_and_maps_its_errors() {
    let order = failed_order();
    let id = order.id();
    let mut repository = reading(&order);
    repository
        .expect_soft_delete()
        .withf(|_, expected: &Option<Version>, _, _| *expected == Some(Version::new(2)))
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    service(repository)
        .delete(&admin(), id, Some(Version::new(2)))
        .await
        .unwrap();

    let mut repository = reading(&order);
    repository
        .expect_soft_delete()
        .returning(|_, _, _, _| Err(RepoError::NotFound));
    assert!(matches!(
        service(repository).delete(&admin(), id, None).await,
        Err(ServiceError::NotFound)
    ));

    let mut repository = reading(&order);
    repository
        .expect_soft_delete()
        .returning(|_, _, _, _| Err(unavailable()));
    assert!(matches!(
        service(repository).delete(&admin(), id, None).await,
        Err(ServiceError::Unavailable(_))
    ));
}

fn claim(order_id: Option<OrderId>) -> Claim {
    Claim {
        scope: ordo_repository::KeyScope {
            caller: "anonymous".into(),
            key: "k".into(),
        },
        token: Uuid::from_u128(9),
        order_id,
    }
}

#[tokio::test]
async fn placing_under_a_claim_links_the_key_in_the_same_insert() {
    let mut repository = MockOrderRepository::new();
    repository.expect_next_order_sequence().returning(|| Ok(5));
    repository
        .expect_insert()
        .times(1)
        .withf(|_: &Order, claim: &Option<&Claim>, _| {
            claim.is_some_and(|c| c.token == Uuid::from_u128(9))
        })
        .returning(|_, _, _| Ok(()));
    accepts_payment_writes(&mut repository);
    service(repository)
        .place(&admin(), &draft(), Some(&claim(None)))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_claim_taken_over_after_a_crash_resumes_with_its_order_instead_of_placing_another() {
    let order = pending_order();
    let mut repository = MockOrderRepository::new();
    let stored = order.clone();
    repository
        .expect_get()
        .times(1)
        .returning(move |_| Ok(stored.clone()));
    accepts_payment_writes(&mut repository);
    // No sequence value, no insert: nothing new is placed.
    let gateway = Arc::new(FakeGateway::default());
    let resumed = with_gateway(repository, MockIdempotencyStore::new(), gateway.clone())
        .place(&admin(), &draft(), Some(&claim(Some(order.id()))))
        .await
        .unwrap();
    assert_eq!(resumed.id(), order.id());
    // The authorization is asked again under the order's own key, which the gateway
    // deduplicates: a resumed create never authorizes twice.
    assert_eq!(
        *gateway.calls.lock().unwrap(),
        vec![format!("authorize:{}", order.id())]
    );
    assert_eq!(resumed.payment().status, PaymentStatus::Authorized);
}

#[tokio::test]
async fn a_claim_lost_while_placing_is_reported_as_in_flight() {
    let mut repository = MockOrderRepository::new();
    repository.expect_next_order_sequence().returning(|| Ok(5));
    repository
        .expect_insert()
        .returning(|_, _, _| Err(RepoError::ClaimLost));
    let result = service(repository)
        .place(&admin(), &draft(), Some(&claim(None)))
        .await;
    assert!(matches!(result, Err(ServiceError::KeyInFlight)));
}

#[tokio::test]
async fn begin_maps_what_the_key_store_found() {
    use ordo_repository::{Begin, StoredResponse};
    use ordo_service::{IdempotencyKey, Idempotent};
    let key = IdempotencyKey::parse("k").unwrap();
    let replay = StoredResponse {
        status: 201,
        headers: vec![],
        body: b"{}".to_vec(),
    };
    let cases = [
        (Begin::Claimed(claim(None)), "run"),
        (Begin::Replay(replay.clone()), "replay"),
        (Begin::InFlight, "in flight"),
        (Begin::Mismatch, "reused"),
    ];
    for (found, expected) in cases {
        let mut keys = MockIdempotencyStore::new();
        keys.expect_begin()
            .withf(|request: &ordo_repository::KeyRequest| {
                request.scope.key == "k"
                    && request.lease_until - request.now == chrono::Duration::seconds(30)
                    && request.expires_at - request.now == chrono::Duration::hours(24)
            })
            .return_once(move |_| Ok(found));
        let result = with_keys(MockOrderRepository::new(), keys)
            .begin_idempotent("anonymous", &key, "f".into())
            .await;
        let got = match result {
            Ok(Idempotent::Run(_)) => "run",
            Ok(Idempotent::Replay(response)) if response == replay => "replay",
            Err(ServiceError::KeyInFlight) => "in flight",
            Err(ServiceError::KeyReused) => "reused",
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(got, expected);
    }
}

async fn place_with(reply: GatewayReply) -> (Result<Order, ServiceError>, Vec<Order>) {
    let written = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut repository = MockOrderRepository::new();
    repository.expect_next_order_sequence().returning(|| Ok(1));
    repository.expect_insert().returning(|_, _, _| Ok(()));
    // The gateway call is audited once, in the same write as its outcome.
    let log = written.clone();
    repository
        .expect_update_with_attempt()
        .times(1)
        .withf(
            |order: &Order, _: &Version, attempt: &ordo_repository::PaymentAttempt, _| {
                attempt.order_id == order.id()
            },
        )
        .returning(move |order, _, _, _| {
            log.lock().unwrap().push(order.clone());
            Ok(())
        });
    let gateway = Arc::new(FakeGateway::answering(reply));
    let result = with_gateway(repository, MockIdempotencyStore::new(), gateway)
        .place(&admin(), &draft(), None)
        .await;
    let written = written.lock().unwrap().clone();
    (result, written)
}

#[tokio::test]
async fn an_approved_authorization_holds_the_total() {
    let (result, written) = place_with(GatewayReply::Approved {
        reference: "auth_1".into(),
    })
    .await;
    let order = result.unwrap();
    assert_eq!(order.payment().status, PaymentStatus::Authorized);
    assert_eq!(order.payment().authorized, order.pricing().total());
    assert_eq!(order.payment().reference.as_deref(), Some("auth_1"));
    assert_eq!(written, vec![order]);
}

#[tokio::test]
async fn a_declined_payment_is_reported_and_the_order_kept_as_failed() {
    let (result, written) = place_with(GatewayReply::Declined).await;
    assert!(matches!(result, Err(ServiceError::PaymentDeclined { .. })));
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].payment().status, PaymentStatus::Failed);
}

#[tokio::test]
async fn a_gateway_timeout_leaves_the_payment_unknown() {
    let (result, _) = place_with(GatewayReply::TimedOut).await;
    assert_eq!(result.unwrap().payment().status, PaymentStatus::Unknown);
}

/// A fake store that reads `order`.
fn reading(order: &Order) -> MockOrderRepository {
    let mut repository = MockOrderRepository::new();
    let stored = order.clone();
    repository
        .expect_get()
        .returning(move |_| Ok(stored.clone()));
    repository
}

/// A placed order whose authorization was declined: version 2, nothing held.
fn failed_order() -> Order {
    let mut order = pending_order();
    order
        .settle_payment(ordo_domain::GatewayOutcome::Declined, FixedClock.now())
        .unwrap();
    order
}

fn authorized_order() -> Order {
    let mut order = pending_order();
    order
        .settle_payment(
            ordo_domain::GatewayOutcome::Approved {
                reference: "auth".into(),
            },
            FixedClock.now(),
        )
        .unwrap();
    order
}

#[tokio::test]
async fn completing_captures_before_the_status_moves() {
    let mut order = authorized_order();
    order
        .change_status(ordo_domain::StatusChange::Process, FixedClock.now())
        .unwrap();
    let current = order.version();
    let mut repository = MockOrderRepository::new();
    let stored = order.clone();
    repository
        .expect_get()
        .returning(move |_| Ok(stored.clone()));
    accepts_payment_writes(&mut repository);
    let gateway = Arc::new(FakeGateway::default());
    let done = with_gateway(repository, MockIdempotencyStore::new(), gateway.clone())
        .transition(&admin(), order.id(), OrderStatus::Completed, current)
        .await
        .unwrap();
    assert_eq!(
        (done.status(), done.payment().status),
        (OrderStatus::Completed, PaymentStatus::Paid)
    );
    assert_eq!(done.payment().captured, done.pricing().total());
    assert_eq!(
        *gateway.calls.lock().unwrap(),
        vec![format!("capture:{}", order.id())]
    );
}

/// A fake store holding one order: every compare-and-set is checked against what it holds,
/// and each write is kept.
fn one_order_store(order: Order) -> (MockOrderRepository, Arc<std::sync::Mutex<Vec<Order>>>) {
    let held = Arc::new(std::sync::Mutex::new(order));
    let written = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut repository = MockOrderRepository::new();
    let read = held.clone();
    repository
        .expect_get()
        .returning(move |_| Ok(read.lock().unwrap().clone()));
    let write = move |held: &Arc<std::sync::Mutex<Order>>,
                      written: &Arc<std::sync::Mutex<Vec<Order>>>,
                      order: &Order,
                      expected: Version| {
        let mut current = held.lock().unwrap();
        if current.version() != expected {
            return Err(RepoError::VersionConflict {
                current: current.version(),
            });
        }
        *current = order.clone();
        written.lock().unwrap().push(order.clone());
        Ok(())
    };
    let (h, w) = (held.clone(), written.clone());
    repository
        .expect_update()
        .returning(move |order, expected, _| write(&h, &w, order, expected));
    let (h, w) = (held, written.clone());
    repository
        .expect_update_with_attempt()
        .returning(move |order, expected, _, _| write(&h, &w, order, expected));
    repository
        .expect_record_payment_attempt()
        .returning(|_| Ok(()));
    (repository, written)
}

fn processing_authorized_order() -> Order {
    let mut order = authorized_order();
    order
        .change_status(ordo_domain::StatusChange::Process, FixedClock.now())
        .unwrap();
    order
}

#[tokio::test]
async fn a_declined_capture_leaves_the_order_processing_and_unclaimed() {
    let order = processing_authorized_order();
    let current = order.version();
    let (repository, written) = one_order_store(order.clone());
    let gateway = Arc::new(FakeGateway::answering(GatewayReply::Declined));
    let result = with_gateway(repository, MockIdempotencyStore::new(), gateway)
        .transition(&admin(), order.id(), OrderStatus::Completed, current)
        .await;
    assert!(matches!(result, Err(ServiceError::PaymentDeclined { .. })));
    let written = written.lock().unwrap();
    assert_eq!(written.len(), 2, "the claim, then its end");
    assert!(written[0].payment().pending.is_some());
    let last = written.last().unwrap();
    assert_eq!(
        (
            last.status(),
            last.payment().status,
            last.payment().pending.clone()
        ),
        (OrderStatus::Processing, PaymentStatus::Authorized, None)
    );
}

#[tokio::test]
async fn a_change_naming_a_version_another_change_claimed_never_reaches_the_gateway() {
    let order = processing_authorized_order();
    let seen = order.version();
    let mut repository = MockOrderRepository::new();
    let stored = order.clone();
    repository
        .expect_get()
        .returning(move |_| Ok(stored.clone()));
    // Between this request's read and its claim, another request claimed the same version.
    repository.expect_update().returning(move |_, _, _| {
        Err(RepoError::VersionConflict {
            current: Version::new(seen.get() + 1),
        })
    });
    let gateway = Arc::new(FakeGateway::default());
    let reason = CancelReason::parse("changed my mind").unwrap();
    let result = with_gateway(repository, MockIdempotencyStore::new(), gateway.clone())
        .cancel(&admin(), order.id(), reason, seen)
        .await;
    assert!(matches!(result, Err(ServiceError::Stale { .. })));
    assert!(gateway.calls.lock().unwrap().is_empty(), "no money moved");
}

#[tokio::test]
async fn an_unanswered_capture_stays_claimed_and_reconciliation_finishes_it_with_the_same_key() {
    let order = processing_authorized_order();
    let current = order.version();
    let (repository, written) = one_order_store(order.clone());
    let repository = Arc::new(repository);
    let timing_out = Arc::new(FakeGateway::answering(GatewayReply::TimedOut));
    let result = OrderService::new(
        repository.clone(),
        Arc::new(MockIdempotencyStore::new()),
        timing_out.clone(),
        Arc::new(FixedClock),
        Arc::new(FixedIds),
        Arc::new(IdRenderer),
        ServiceConfig::default(),
    )
    .transition(&admin(), order.id(), OrderStatus::Completed, current)
    .await;
    assert!(matches!(result, Err(ServiceError::PaymentUnavailable)));
    let claimed = written.lock().unwrap().last().unwrap().clone();
    assert_eq!(claimed.status(), OrderStatus::Processing);
    assert_eq!(
        claimed
            .payment()
            .pending
            .as_ref()
            .map(|p| p.operation.as_str()),
        Some("capture")
    );
    // Later, the gateway answers again: reconciliation asks with the same key.
    let (mut later, _) = one_order_store(claimed.clone());
    later
        .expect_orders_with_pending_payment()
        .returning(move |_, _| Ok(vec![claimed.id()]));
    later.expect_pending_refunds().returning(|_, _| Ok(vec![]));
    let answering = Arc::new(FakeGateway::default());
    let report = with_gateway(later, MockIdempotencyStore::new(), answering.clone())
        .reconcile()
        .await
        .unwrap();
    assert_eq!((report.payments, report.still_unknown), (1, 0));
    let key = format!("capture:{}", order.id());
    assert_eq!(*timing_out.calls.lock().unwrap(), vec![key.clone()]);
    assert_eq!(*answering.calls.lock().unwrap(), vec![key]);
}

#[tokio::test]
async fn an_order_whose_payment_is_not_held_cannot_be_processed_or_completed() {
    for payment in [GatewayReply::Declined, GatewayReply::TimedOut] {
        let mut order = pending_order();
        order
            .settle_payment(
                match payment {
                    GatewayReply::Declined => ordo_domain::GatewayOutcome::Declined,
                    _ => ordo_domain::GatewayOutcome::Unknown,
                },
                FixedClock.now(),
            )
            .unwrap();
        let current = order.version();
        let (repository, written) = one_order_store(order.clone());
        let gateway = Arc::new(FakeGateway::default());
        let result = with_gateway(repository, MockIdempotencyStore::new(), gateway.clone())
            .transition(&admin(), order.id(), OrderStatus::Processing, current)
            .await;
        assert!(
            matches!(result, Err(ServiceError::Payment(_))),
            "{payment:?}: {result:?}"
        );
        assert!(written.lock().unwrap().is_empty());
        assert!(gateway.calls.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn deleting_an_order_that_holds_money_is_refused_until_it_is_cancelled() {
    let order = authorized_order();
    let mut repository = MockOrderRepository::new();
    let stored = order.clone();
    repository
        .expect_get()
        .returning(move |_| Ok(stored.clone()));
    // No soft delete may happen.
    let result = with_keys(repository, MockIdempotencyStore::new())
        .delete(&admin(), order.id(), None)
        .await;
    assert!(matches!(
        result,
        Err(ServiceError::Payment(PaymentError::WrongStatus { .. }))
    ));
}

#[tokio::test]
async fn cancelling_an_authorized_order_voids_the_hold() {
    let order = authorized_order();
    let current = order.version();
    let mut repository = MockOrderRepository::new();
    let stored = order.clone();
    repository
        .expect_get()
        .returning(move |_| Ok(stored.clone()));
    accepts_payment_writes(&mut repository);
    let gateway = Arc::new(FakeGateway::default());
    let reason = CancelReason::parse("no longer needed").unwrap();
    let cancelled = with_gateway(repository, MockIdempotencyStore::new(), gateway.clone())
        .cancel(&admin(), order.id(), reason, current)
        .await
        .unwrap();
    assert_eq!(
        (cancelled.status(), cancelled.payment().status),
        (OrderStatus::Cancelled, PaymentStatus::Unpaid)
    );
    assert_eq!(
        *gateway.calls.lock().unwrap(),
        vec![format!("void:{}", order.id())]
    );
}

#[tokio::test]
async fn a_customer_placing_for_another_customer_is_refused_before_anything_is_stored() {
    // No expectations: any storage call would fail the test.
    let service = service(MockOrderRepository::new());
    for result in [
        service.place(&stranger(), &draft(), None).await.map(|_| ()),
        service.preview(&stranger(), &draft()).await.map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(ServiceError::Forbidden(_))),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn another_customers_order_is_not_found_for_every_use_case() {
    let mut repository = MockOrderRepository::new();
    repository.expect_get().returning(|_| Ok(pending_order()));
    let service = service(repository);
    let id = pending_order().id();
    let reason = CancelReason::parse("no").unwrap();
    let results = [
        service.get(&stranger(), id).await.map(|_| ()),
        service
            .transition(&stranger(), id, OrderStatus::Processing, Version::FIRST)
            .await
            .map(|_| ()),
        service
            .cancel(&stranger(), id, reason, Version::FIRST)
            .await
            .map(|_| ()),
        service.delete(&stranger(), id, None).await,
        service
            .refund(
                &stranger(),
                id,
                Decimal::ONE,
                CancelReason::parse("r").unwrap(),
            )
            .await
            .map(|_| ()),
    ];
    for result in results {
        assert!(matches!(result, Err(ServiceError::NotFound)), "{result:?}");
    }
}

#[tokio::test]
async fn a_customer_may_read_its_own_order_but_not_move_refund_or_delete_it() {
    let mut repository = MockOrderRepository::new();
    repository.expect_get().returning(|_| Ok(pending_order()));
    let service = service(repository);
    let id = pending_order().id();
    assert_eq!(service.get(&owner(), id).await.unwrap().id(), id);
    let refused = [
        service
            .transition(&owner(), id, OrderStatus::Processing, Version::FIRST)
            .await
            .map(|_| ()),
        service.delete(&owner(), id, None).await,
        service
            .refund(
                &owner(),
                id,
                Decimal::ONE,
                CancelReason::parse("r").unwrap(),
            )
            .await
            .map(|_| ()),
    ];
    for result in refused {
        assert!(
            matches!(result, Err(ServiceError::Forbidden(_))),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_customer_lists_only_its_own_orders() {
    let mut repository = MockOrderRepository::new();
    repository.expect_list().times(1).returning(|_| {
        Ok(Page {
            orders: vec![],
            next: None,
        })
    });
    let service = service(repository);
    let own = ListQuery::first_page(draft().customer_id);
    assert!(service.list(&owner(), &own).await.is_ok());
    assert!(matches!(
        service.list(&stranger(), &own).await,
        Err(ServiceError::Forbidden(_))
    ));
}

/// An order whose total was authorized, then captured: version 4.
fn paid_order() -> Order {
    let mut order = authorized_order();
    order
        .begin_payment(ordo_domain::PaymentOperation::Capture, FixedClock.now())
        .unwrap();
    order
        .settle_payment(
            ordo_domain::GatewayOutcome::Approved {
                reference: "cap".into(),
            },
            FixedClock.now(),
        )
        .unwrap();
    order
}

#[tokio::test]
async fn a_refund_is_reserved_on_the_order_then_paid_under_a_key_of_its_own() {
    let order = paid_order();
    let mut repository = reading(&order);
    let reserved_at = order.version();
    repository
        .expect_reserve_refund()
        .times(1)
        .withf(
            move |reserved: &Order, expected: &Version, refund: &ordo_repository::Refund, _| {
                *expected == reserved_at
                    && reserved.payment().refunded == Decimal::new(500, 2)
                    && refund.amount == Decimal::new(500, 2)
                    && refund.status == ordo_repository::RefundStatus::Pending
            },
        )
        .returning(|_, _, _, _| Ok(()));
    repository
        .expect_record_payment_attempt()
        .times(1)
        .returning(|_| Ok(()));
    repository
        .expect_settle_refund()
        .times(1)
        .withf(
            |_, status: &ordo_repository::RefundStatus, order: &Option<(&Order, Version)>, _, _| {
                *status == ordo_repository::RefundStatus::Succeeded && order.is_none()
            },
        )
        .returning(|_, _, _, _, _| Ok(()));
    let gateway = Arc::new(FakeGateway::default());
    let (refunded, refund) = with_gateway(repository, MockIdempotencyStore::new(), gateway.clone())
        .refund(
            &admin(),
            order.id(),
            Decimal::new(5, 0),
            CancelReason::parse("dented").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(refund.amount.to_string(), "5.00", "kept in minor units");
    assert_eq!(refunded.payment().status, PaymentStatus::PartiallyRefunded);
    assert_eq!(
        *gateway.calls.lock().unwrap(),
        vec![format!("refund:{}", refund.id)]
    );
}

#[tokio::test]
async fn a_declined_refund_releases_its_reservation_with_the_refund() {
    let order = paid_order();
    let mut repository = reading(&order);
    repository
        .expect_reserve_refund()
        .returning(|_, _, _, _| Ok(()));
    repository
        .expect_record_payment_attempt()
        .returning(|_| Ok(()));
    repository
        .expect_settle_refund()
        .times(1)
        .withf(
            |_, status: &ordo_repository::RefundStatus, order: &Option<(&Order, Version)>, _, _| {
                *status == ordo_repository::RefundStatus::Failed
                    && order.is_some_and(|(released, _)| released.payment().refunded.is_zero())
            },
        )
        .returning(|_, _, _, _, _| Ok(()));
    let gateway = Arc::new(FakeGateway::answering(GatewayReply::Declined));
    let result = with_gateway(repository, MockIdempotencyStore::new(), gateway)
        .refund(
            &admin(),
            order.id(),
            Decimal::ONE,
            CancelReason::parse("dented").unwrap(),
        )
        .await;
    assert!(matches!(result, Err(ServiceError::PaymentDeclined { .. })));
}

#[tokio::test]
async fn a_refund_losing_a_race_reads_the_order_again_and_checks_the_amount_anew() {
    let order = paid_order();
    let mut later = order.clone();
    later
        .record_refund(order.payment().captured, FixedClock.now())
        .unwrap();
    let mut repository = MockOrderRepository::new();
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (first, second, counter) = (order.clone(), later, reads.clone());
    repository.expect_get().returning(move |_| {
        // The second read sees the refund that won the race: everything is refunded.
        if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Ok(first.clone())
        } else {
            Ok(second.clone())
        }
    });
    let current = order.version();
    repository
        .expect_reserve_refund()
        .times(1)
        .returning(move |_, _, _, _| {
            Err(RepoError::VersionConflict {
                current: Version::new(current.get() + 1),
            })
        });
    let gateway = Arc::new(FakeGateway::default());
    let result = with_gateway(repository, MockIdempotencyStore::new(), gateway.clone())
        .refund(
            &admin(),
            order.id(),
            Decimal::ONE,
            CancelReason::parse("dented").unwrap(),
        )
        .await;
    assert!(
        matches!(
            result,
            Err(ServiceError::Payment(PaymentError::WrongStatus { .. }))
        ),
        "{result:?}"
    );
    assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(gateway.calls.lock().unwrap().is_empty(), "no money moved");
}

/// The simulated gateway over a fake ledger that keeps the first entry per key.
fn simulated() -> ordo_service::SimulatedGateway {
    let kept = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
        String,
        ordo_repository::LedgerEntry,
    >::new()));
    let mut ledger = ordo_repository::MockGatewayLedger::new();
    ledger.expect_remember().returning(move |entry| {
        let mut kept = kept.lock().unwrap();
        Ok(kept
            .entry(entry.key.clone())
            .or_insert_with(|| entry.clone())
            .clone())
    });
    ordo_service::SimulatedGateway::new(
        Arc::new(ledger),
        Arc::new(FixedClock),
        std::time::Duration::ZERO,
    )
}

fn usd(amount: &str) -> Money {
    Money::new(
        amount.parse().unwrap(),
        ordo_domain::Currency::from_code("USD").unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_simulated_gateway_declines_02_loses_the_first_answer_to_05_and_keeps_its_word() {
    let gateway = simulated();
    let id = pending_order().id();
    assert_eq!(
        gateway.authorize("a:1", id, usd("10.02")).await,
        GatewayReply::Declined
    );
    assert_eq!(
        gateway.authorize("a:1", id, usd("10.00")).await,
        GatewayReply::Declined,
        "a key keeps its first outcome"
    );
    assert_eq!(
        gateway.authorize("a:2", id, usd("10.05")).await,
        GatewayReply::TimedOut
    );
    let GatewayReply::Approved { reference } = gateway.authorize("a:2", id, usd("10.05")).await
    else {
        panic!("asked again, the lost answer is an approval");
    };
    assert_eq!(
        gateway.authorize("a:2", id, usd("10.05")).await,
        GatewayReply::Approved { reference },
        "and the same one every time"
    );
    // Only authorizations follow the cents rules.
    assert!(matches!(
        gateway.capture("c:1", id, usd("10.02")).await,
        GatewayReply::Approved { .. }
    ));
}

#[tokio::test]
async fn an_erasure_waits_for_a_gateway_call_in_flight_and_writes_nothing() {
    // A just-placed order has its authorization claimed: its settlement expects that version.
    let in_flight = pending_order();
    assert!(in_flight.payment().pending.is_some());
    let mut repository = MockOrderRepository::new();
    repository
        .expect_orders_of_customer()
        .times(1)
        .returning(move |_| Ok(vec![in_flight.clone()]));
    // No expectation of erase_customer: calling it fails the test.
    assert!(matches!(
        service(repository)
            .erase_customer(&admin(), draft().customer_id)
            .await,
        Err(ServiceError::Payment(PaymentError::InFlight { .. }))
    ));
}

#[tokio::test]
async fn only_admins_erase_and_storage_is_not_touched_otherwise() {
    for caller in [owner(), Caller::operator(Role::Staff, "s").unwrap()] {
        assert!(matches!(
            service(MockOrderRepository::new())
                .erase_customer(&caller, draft().customer_id)
                .await,
            Err(ServiceError::Forbidden(_))
        ));
    }
}

/// Events in these tests carry the order's id and version: what they check is that the event
/// goes with its write.
struct IdRenderer;

impl ordo_service::OrderRenderer for IdRenderer {
    fn render(&self, order: &Order) -> Result<String, ordo_service::BoxError> {
        Ok(format!(
            r#"{{"id":"{}","version":{}}}"#,
            order.id(),
            order.version().get()
        ))
    }
}

/// Capturing on shipment, the gateway refusing or not answering the capture shipping claimed:
/// the shipment stands (written with the claim), the request is told (402, 503), and the
/// claim is ended as refused, or left for reconciliation, under the shipment's own key.
#[tokio::test]
async fn a_refused_or_unanswered_shipment_capture_leaves_the_shipment_and_says_so() {
    use ordo_domain::{
        CaptureMode, CaptureState, FulfillmentDraft, FulfillmentId, FulfillmentLineDraft,
        FulfillmentState, NewFulfillment, StatusChange, Tracking,
    };
    for reply in [GatewayReply::Declined, GatewayReply::TimedOut] {
        let mut order = authorized_order();
        order
            .change_status(StatusChange::Process, FixedClock.now())
            .unwrap();
        let fid = FulfillmentId::from_parts(1, &[3; 10]);
        let draft = FulfillmentDraft {
            lines: vec![FulfillmentLineDraft {
                line: 0,
                quantity: 1,
            }],
            ..FulfillmentDraft::default()
        };
        let new = NewFulfillment::parse(&draft).unwrap();
        order
            .fulfil(fid, new, CaptureMode::OnShipment, FixedClock.now())
            .unwrap();
        let claimed = Arc::new(std::sync::Mutex::new(Vec::<Order>::new()));
        let settled = Arc::new(std::sync::Mutex::new(Vec::<Order>::new()));
        let mut repository = reading(&order);
        let log = claimed.clone();
        repository.expect_update().returning(move |order, _, _| {
            log.lock().unwrap().push(order.clone());
            Ok(())
        });
        let log = settled.clone();
        repository
            .expect_update_with_attempt()
            .returning(move |order, _, _, _| {
                log.lock().unwrap().push(order.clone());
                Ok(())
            });
        repository
            .expect_record_payment_attempt()
            .returning(|_| Ok(()));
        let gateway = Arc::new(FakeGateway::answering(reply.clone()));
        let service = OrderService::new(
            Arc::new(repository),
            Arc::new(MockIdempotencyStore::new()),
            gateway.clone(),
            Arc::new(FixedClock),
            Arc::new(FixedIds),
            Arc::new(IdRenderer),
            ServiceConfig {
                capture: CaptureMode::OnShipment,
                ..ServiceConfig::default()
            },
        );
        let result = service
            .move_fulfillment(
                &admin(),
                order.id(),
                fid,
                FulfillmentState::Shipped,
                Tracking::default(),
                None,
            )
            .await;
        let claimed = claimed.lock().unwrap().clone();
        assert_eq!(
            claimed.len(),
            1,
            "{reply:?}: the shipment and its claim, one write"
        );
        let shipment = claimed[0].fulfillment(fid).unwrap();
        assert_eq!(shipment.state, FulfillmentState::Shipped);
        assert_eq!(shipment.capture.unwrap().state, CaptureState::Pending);
        assert_eq!(
            *gateway.calls.lock().unwrap(),
            vec![format!("capture:{}:{fid}", order.id())]
        );
        let settled = settled.lock().unwrap().clone();
        if reply == GatewayReply::Declined {
            assert!(matches!(result, Err(ServiceError::PaymentDeclined { .. })));
            let written = &settled[0];
            let capture = written.fulfillment(fid).unwrap().capture.unwrap();
            assert_eq!(capture.state, CaptureState::Failed);
            assert_eq!(written.payment().status, PaymentStatus::Authorized);
            assert!(written.payment().captured.is_zero());
            assert_eq!(written.payment().pending, None);
        } else {
            assert!(matches!(result, Err(ServiceError::PaymentUnavailable)));
            assert!(settled.is_empty(), "the claim stays for reconciliation");
        }
    }
}
