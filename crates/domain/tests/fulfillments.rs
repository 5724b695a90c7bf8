//! Fulfilments: units never over-fulfilled, states moving only as the table says, the order's
//! fulfilment status counted from them, and the order's status moving with them
//! (docs/status.md, "Fulfilment").
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "tests"
)]

use chrono::{DateTime, Utc};
use ordo_domain::{
    CancelReason, CaptureMode, ChangeError, CorruptOrder, CustomerId, FulfillmentDraft,
    FulfillmentError, FulfillmentId, FulfillmentLineDraft, FulfillmentState, FulfillmentStatus,
    LineItemDraft, LineSnapshotDraft, NewFulfillment, NewOrder, Order, OrderDraft, OrderId,
    OrderNumber, OrderNumberKey, OrderStatus, PaymentOperation, PaymentStatus, PaymentStep,
    RoundingPolicy, StatusChange, Tracking, TrackingDraft, Version, Violation, price,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap()
}

/// A line of `quantity` at 10.00; `ships` says whether it requires shipping.
fn line(sku: &str, quantity: i64, ships: bool) -> LineItemDraft {
    LineItemDraft {
        snapshot: LineSnapshotDraft {
            sku: Some(sku.to_owned()),
            title: Some(sku.to_owned()),
            requires_shipping: Some(ships),
            ..LineSnapshotDraft::default()
        },
        product_id: None,
        quantity,
        unit_price: Some(Decimal::new(1000, 2)),
    }
}

/// An order of `lines` in `status`, its payment `payment` (amounts to fit).
fn order_of(lines: Vec<LineItemDraft>, status: OrderStatus, payment: PaymentStatus) -> Order {
    order_with(lines, status, payment, |_| {})
}

/// As [`order_of`], the draft changed by `change` first (a discount, tax, shipping).
fn order_with(
    lines: Vec<LineItemDraft>,
    status: OrderStatus,
    payment: PaymentStatus,
    change: impl FnOnce(&mut OrderDraft),
) -> Order {
    let mut draft = OrderDraft {
        details: ordo_domain::OrderDetailsDraft::default(),
        customer_id: "0193a1a0-0000-7000-8000-000000000001"
            .parse::<CustomerId>()
            .unwrap(),
        currency: "USD".into(),
        items: lines,
        discount: None,
        discount_code: None,
        discount_code_optional: false,
        tax_rate: None,
        shipping: Vec::new(),
        shipping_method: None,
        discount_reason: None,
    };
    change(&mut draft);
    let new = NewOrder::parse(&draft).unwrap();
    let priced = price(&new, RoundingPolicy::default_for(new.currency())).unwrap();
    let total = priced.total();
    let number =
        OrderNumber::from_sequence(1, now().date_naive(), OrderNumberKey::DEFAULT).unwrap();
    let placed = Order::place(
        OrderId::from_parts(1, &[1; 10]),
        number,
        draft.customer_id,
        priced,
        ordo_domain::OrderDetails::default(),
        now(),
    );
    let mut record = placed.to_record();
    let zero = Decimal::new(0, 2);
    let (authorized, captured) = match payment {
        PaymentStatus::Authorized => (total, zero),
        PaymentStatus::Paid => (total, total),
        _ => (zero, zero),
    };
    record.payment.status = payment;
    record.payment.authorized = authorized;
    record.payment.captured = captured;
    record.payment.pending = None;
    record.status = status;
    if status == OrderStatus::Cancelled {
        record.cancel_reason = Some(CancelReason::parse("customer asked").unwrap());
    }
    record.version = Version::new(3);
    Order::restore(record).unwrap()
}

/// A paid, processing order: 10 shirts (line 0), 2 mugs (line 1).
fn processing() -> Order {
    order_of(
        vec![line("SHIRT", 10, true), line("MUG", 2, true)],
        OrderStatus::Processing,
        PaymentStatus::Paid,
    )
}

fn id(n: u8) -> FulfillmentId {
    FulfillmentId::from_parts(1_790_000_000_000, &[n; 10])
}

fn units(lines: &[(i64, i64)]) -> NewFulfillment {
    NewFulfillment::parse(&FulfillmentDraft {
        lines: lines
            .iter()
            .map(|&(line, quantity)| FulfillmentLineDraft { line, quantity })
            .collect(),
        ..FulfillmentDraft::default()
    })
    .unwrap()
}

/// Moves fulfilment `n` to `to` with no tracking, under the shop's `capture` setting.
fn move_to(
    order: &mut Order,
    n: u8,
    to: FulfillmentState,
    capture: CaptureMode,
) -> Result<PaymentStep, FulfillmentError> {
    order.move_fulfillment(id(n), to, Tracking::default(), capture, now())
}

fn tracking(number: &str) -> Tracking {
    Tracking {
        number: Some(number.to_owned()),
        ..Tracking::default()
    }
}

#[test]
fn partial_fulfilments_count_units_and_the_last_completes_a_paid_order() {
    let mut order = processing();
    let step = order
        .fulfil(id(1), units(&[(0, 4)]), CaptureMode::OnCompletion, now())
        .unwrap();
    assert_eq!(step, PaymentStep::Done);
    assert_eq!(order.version(), Version::new(4));
    assert_eq!(order.status(), OrderStatus::Processing);
    assert_eq!(
        order.fulfillment_status(),
        FulfillmentStatus::PartiallyFulfilled
    );
    assert_eq!(order.line_progress()[0].fulfilled, 4);
    assert_eq!(order.line_progress()[1].fulfilled, 0);
    assert_eq!(order.fulfillments()[0].number, 1);

    order
        .fulfil(
            id(2),
            units(&[(0, 6), (1, 2)]),
            CaptureMode::OnCompletion,
            now(),
        )
        .unwrap();
    assert_eq!(order.fulfillment_status(), FulfillmentStatus::Fulfilled);
    assert_eq!(
        order.status(),
        OrderStatus::Completed,
        "paid: completes at once"
    );
    assert_eq!(
        order.version(),
        Version::new(5),
        "one change, one version step"
    );
    assert_eq!(
        order.fulfillments().len(),
        2,
        "nothing left for a fulfilment of its own"
    );
}

#[test]
fn the_last_units_of_an_authorized_order_claim_its_capture() {
    let mut order = order_of(
        vec![line("SHIRT", 2, true)],
        OrderStatus::Processing,
        PaymentStatus::Authorized,
    );
    let step = order
        .fulfil(id(1), units(&[(0, 2)]), CaptureMode::OnCompletion, now())
        .unwrap();
    assert_eq!(
        step,
        PaymentStep::Call {
            operation: PaymentOperation::Capture,
            amount: Decimal::new(2000, 2)
        }
    );
    assert_eq!(
        order.status(),
        OrderStatus::Processing,
        "completes when captured"
    );
    assert_eq!(order.version(), Version::new(4));
    assert_eq!(order.fulfillment_status(), FulfillmentStatus::Fulfilled);
}

#[test]
fn more_units_than_are_left_are_refused_naming_the_line_and_what_is_left() {
    let mut order = processing();
    order
        .fulfil(id(1), units(&[(0, 7)]), CaptureMode::OnCompletion, now())
        .unwrap();
    let before = order.clone();
    let error = order
        .fulfil(
            id(2),
            units(&[(1, 1), (0, 4)]),
            CaptureMode::OnCompletion,
            now(),
        )
        .unwrap_err();
    let FulfillmentError::Invalid(errors) = error else {
        panic!("{error:?}")
    };
    assert_eq!(
        errors.for_field("lines[1].quantity"),
        Some(&Violation::OverFulfilment { left: 3 })
    );
    assert_eq!(errors.errors().len(), 1);
    assert_eq!(order, before, "a refused fulfilment changes nothing");
    let error = order
        .fulfil(id(2), units(&[(2, 1)]), CaptureMode::OnCompletion, now())
        .unwrap_err();
    let FulfillmentError::Invalid(errors) = error else {
        panic!("{error:?}")
    };
    assert_eq!(
        errors.for_field("lines[0].line"),
        Some(&Violation::NoSuchLine)
    );
}

#[test]
fn a_draft_is_checked_on_its_own_first() {
    let errors = NewFulfillment::parse(&FulfillmentDraft::default()).unwrap_err();
    assert_eq!(errors.for_field("lines"), Some(&Violation::NoLines));
    let errors = NewFulfillment::parse(&FulfillmentDraft {
        lines: vec![
            FulfillmentLineDraft {
                line: 0,
                quantity: 1,
            },
            FulfillmentLineDraft {
                line: 0,
                quantity: 0,
            },
            FulfillmentLineDraft {
                line: -1,
                quantity: 1,
            },
        ],
        location: Some(" ".into()),
        tracking: TrackingDraft {
            carrier: Some("DHL\u{7}".into()),
            number: Some("x".repeat(129)),
            url: Some("ftp://track.example/1".into()),
        },
    })
    .unwrap_err();
    for (field, violation) in [
        ("lines[1].line", Violation::Duplicate),
        (
            "lines[1].quantity",
            Violation::QuantityOutOfRange { max: 10_000 },
        ),
        ("lines[2].line", Violation::NoSuchLine),
        ("location", Violation::Empty),
        ("carrier", Violation::ControlCharacter),
        ("tracking_number", Violation::TooLong { max: 128 }),
        ("tracking_url", Violation::InvalidUrl),
    ] {
        assert_eq!(errors.for_field(field), Some(&violation), "{field}");
    }
    for url in ["https://track.example/1Z?x=1", "http://t.example"] {
        let tracking = TrackingDraft {
            url: Some(url.into()),
            ..TrackingDraft::default()
        };
        assert!(tracking.check().is_ok(), "{url}");
    }
    for url in [
        "https://",
        "https:// x",
        "track.example/1",
        "javascript:alert(1)",
    ] {
        let tracking = TrackingDraft {
            url: Some(url.into()),
            ..TrackingDraft::default()
        };
        assert!(tracking.check().is_err(), "{url}");
    }
}

#[test]
fn only_a_processing_order_is_fulfilled() {
    for status in [OrderStatus::Pending, OrderStatus::Cancelled] {
        let payment = if status == OrderStatus::Pending {
            PaymentStatus::Authorized
        } else {
            PaymentStatus::Unpaid
        };
        let mut order = order_of(vec![line("SHIRT", 2, true)], status, payment);
        assert_eq!(
            order.fulfil(id(1), units(&[(0, 1)]), CaptureMode::OnCompletion, now()),
            Err(FulfillmentError::OrderStatus { status })
        );
    }
}

#[test]
fn fulfilments_move_only_as_the_table_says() {
    let mut order = processing();
    order
        .fulfil(id(1), units(&[(0, 2)]), CaptureMode::OnCompletion, now())
        .unwrap();
    let error = move_to(
        &mut order,
        1,
        FulfillmentState::Delivered,
        CaptureMode::OnCompletion,
    )
    .unwrap_err();
    assert_eq!(
        error,
        FulfillmentError::IllegalMove {
            from: FulfillmentState::Created,
            to: FulfillmentState::Delivered,
            allowed: vec![FulfillmentState::Shipped, FulfillmentState::Cancelled],
        }
    );
    order
        .move_fulfillment(
            id(1),
            FulfillmentState::Shipped,
            tracking("1Z9"),
            CaptureMode::OnCompletion,
            now(),
        )
        .unwrap();
    let shipped = &order.fulfillments()[0];
    assert_eq!(shipped.state, FulfillmentState::Shipped);
    assert_eq!(shipped.shipped_at, Some(now()));
    assert_eq!(shipped.tracking.number.as_deref(), Some("1Z9"));
    assert_eq!(order.line_progress()[0].shipped, 2);
    assert!(
        move_to(
            &mut order,
            1,
            FulfillmentState::Cancelled,
            CaptureMode::OnCompletion
        )
        .is_err(),
        "shipped units are returned, not cancelled"
    );
    move_to(
        &mut order,
        1,
        FulfillmentState::Delivered,
        CaptureMode::OnCompletion,
    )
    .unwrap();
    assert_eq!(
        move_to(
            &mut order,
            9,
            FulfillmentState::Shipped,
            CaptureMode::OnCompletion
        ),
        Err(FulfillmentError::NotFound)
    );
}

#[test]
fn a_cancelled_fulfilment_gives_its_units_back() {
    let mut order = processing();
    order
        .fulfil(id(1), units(&[(0, 10)]), CaptureMode::OnCompletion, now())
        .unwrap();
    assert!(
        order
            .fulfil(id(2), units(&[(0, 1)]), CaptureMode::OnCompletion, now())
            .is_err()
    );
    move_to(
        &mut order,
        1,
        FulfillmentState::Cancelled,
        CaptureMode::OnCompletion,
    )
    .unwrap();
    assert_eq!(order.line_progress()[0].fulfilled, 0);
    assert_eq!(order.fulfillment_status(), FulfillmentStatus::Unfulfilled);
    order
        .fulfil(id(2), units(&[(0, 10)]), CaptureMode::OnCompletion, now())
        .unwrap();
    assert_eq!(order.fulfillments()[1].number, 2);
    assert!(
        move_to(
            &mut order,
            1,
            FulfillmentState::Cancelled,
            CaptureMode::OnCompletion
        )
        .is_err(),
        "cancelled once"
    );
}

#[test]
fn a_completed_orders_fulfilments_ship_but_are_not_cancelled() {
    let mut order = processing();
    order
        .fulfil(
            id(1),
            units(&[(0, 10), (1, 2)]),
            CaptureMode::OnCompletion,
            now(),
        )
        .unwrap();
    assert_eq!(order.status(), OrderStatus::Completed);
    assert_eq!(
        move_to(
            &mut order,
            1,
            FulfillmentState::Cancelled,
            CaptureMode::OnCompletion
        ),
        Err(FulfillmentError::OrderCompleted)
    );
    move_to(
        &mut order,
        1,
        FulfillmentState::Shipped,
        CaptureMode::OnCompletion,
    )
    .unwrap();
}

#[test]
fn an_order_with_anything_shipped_is_not_cancelled_and_cancelling_cancels_open_ones() {
    let reason = || StatusChange::Cancel(CancelReason::parse("out of stock").unwrap());
    let mut order = processing();
    order
        .fulfil(id(1), units(&[(0, 1)]), CaptureMode::OnCompletion, now())
        .unwrap();
    order
        .fulfil(id(2), units(&[(1, 1)]), CaptureMode::OnCompletion, now())
        .unwrap();
    let mut cancelled = order.clone();
    // Paid: cancelling claims the refund; the fulfilments are cancelled when it lands.
    let step = cancelled.begin_change(reason(), now()).unwrap();
    assert!(matches!(step, PaymentStep::Call { .. }));
    cancelled
        .settle_payment(
            GatewayOutcome::Approved {
                reference: "r".into(),
            },
            now(),
        )
        .unwrap();
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
    assert!(
        cancelled
            .fulfillments()
            .iter()
            .all(|f| f.state == FulfillmentState::Cancelled && f.cancelled_at.is_some())
    );
    assert_eq!(
        cancelled.fulfillment_status(),
        FulfillmentStatus::Unfulfilled
    );

    move_to(
        &mut order,
        2,
        FulfillmentState::Shipped,
        CaptureMode::OnCompletion,
    )
    .unwrap();
    let before = order.clone();
    assert_eq!(
        order.begin_change(reason(), now()),
        Err(ChangeError::Shipped)
    );
    assert_eq!(order, before);
}

#[test]
fn completing_ships_what_is_left_in_one_fulfilment() {
    let mut order = processing();
    order
        .fulfil(id(1), units(&[(0, 3)]), CaptureMode::OnCompletion, now())
        .unwrap();
    order.begin_change(StatusChange::Complete, now()).unwrap();
    assert_eq!(order.status(), OrderStatus::Completed);
    let last = &order.fulfillments()[1];
    assert_eq!(last.number, 2);
    assert_eq!(last.state, FulfillmentState::Shipped);
    assert_eq!(
        last.lines
            .iter()
            .map(|l| (l.line, l.quantity.get()))
            .collect::<Vec<_>>(),
        vec![(0, 7), (1, 2)]
    );
    assert_eq!(order.fulfillment_status(), FulfillmentStatus::Fulfilled);
}

#[test]
fn an_order_completed_before_fulfilments_existed_reads_as_shipped_the_same_way_each_time() {
    let first = order_of(
        vec![line("SHIRT", 3, true)],
        OrderStatus::Completed,
        PaymentStatus::Paid,
    );
    let again = order_of(
        vec![line("SHIRT", 3, true)],
        OrderStatus::Completed,
        PaymentStatus::Paid,
    );
    assert_eq!(first.fulfillments().len(), 1);
    assert_eq!(first.fulfillments()[0].state, FulfillmentState::Shipped);
    assert_eq!(first.fulfillments()[0].id, again.fulfillments()[0].id);
    assert_eq!(first.line_progress()[0].shipped, 3);
    assert_eq!(
        first.version(),
        Version::new(3),
        "reading changes no version"
    );
}

#[test]
fn lines_that_do_not_ship_count_only_when_nothing_ships() {
    let mut order = order_of(
        vec![line("SHIRT", 1, true), line("EBOOK", 1, false)],
        OrderStatus::Processing,
        PaymentStatus::Paid,
    );
    order
        .fulfil(id(1), units(&[(0, 1)]), CaptureMode::OnCompletion, now())
        .unwrap();
    assert_eq!(order.fulfillment_status(), FulfillmentStatus::Fulfilled);
    assert_eq!(order.status(), OrderStatus::Completed);
    // Completing ships the e-book's unit too, so a completed order holds every unit.
    assert_eq!(order.line_progress()[1].fulfilled, 1);

    let mut digital = order_of(
        vec![line("EBOOK", 2, false)],
        OrderStatus::Processing,
        PaymentStatus::Paid,
    );
    digital
        .fulfil(id(1), units(&[(0, 1)]), CaptureMode::OnCompletion, now())
        .unwrap();
    assert_eq!(
        digital.fulfillment_status(),
        FulfillmentStatus::PartiallyFulfilled
    );
}

#[test]
fn stored_fulfilments_that_do_not_hold_together_are_corrupt() {
    let mut order = processing();
    order
        .fulfil(id(1), units(&[(0, 4)]), CaptureMode::OnCompletion, now())
        .unwrap();
    let good = order.to_record();
    let corrupt = |change: &dyn Fn(&mut ordo_domain::OrderRecord)| {
        let mut record = good.clone();
        change(&mut record);
        Order::restore(record)
    };
    assert!(corrupt(&|_| {}).is_ok());
    let cases: [&dyn Fn(&mut ordo_domain::OrderRecord); 5] = [
        &|r| r.fulfillments[0].lines[0].line = 5,
        &|r| {
            let copy = r.fulfillments[0].clone();
            r.fulfillments
                .push(ordo_domain::Fulfillment { number: 2, ..copy });
        },
        &|r| r.fulfillments[0].number = 2,
        &|r| r.fulfillments[0].shipped_at = Some(now()),
        &|r| r.status = OrderStatus::Pending,
    ];
    for (index, case) in cases.iter().enumerate() {
        assert_eq!(
            corrupt(case),
            Err(CorruptOrder::FulfillmentMismatch),
            "case {index}"
        );
    }
}

#[derive(Debug, Clone)]
enum Step {
    Fulfil(Vec<(i64, i64)>),
    Move(usize, FulfillmentState),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => prop::collection::vec((0_i64..3, 1_i64..6), 1..3).prop_map(Step::Fulfil),
        2 => (0_usize..8, prop_oneof![
            Just(FulfillmentState::Shipped),
            Just(FulfillmentState::Delivered),
            Just(FulfillmentState::Cancelled),
        ])
            .prop_map(|(index, to)| Step::Move(index, to)),
    ]
}

proptest! {
    /// Whatever is asked, in whatever order: no line is ever fulfilled past what was ordered,
    /// shipped never passes fulfilled, every refused step changes nothing, the status is the one
    /// the counts give, and the order still restores from its record.
    #[test]
    fn no_sequence_of_fulfilments_holds_more_than_was_ordered(
        steps in prop::collection::vec(step(), 1..25)
    ) {
        let mut order = order_of(
            vec![line("A", 5, true), line("B", 3, true), line("C", 4, false)],
            OrderStatus::Processing,
            PaymentStatus::Paid,
        );
        let mut made = Vec::new();
        for (n, step) in steps.into_iter().enumerate() {
            let before = order.clone();
            let result = match step {
                Step::Fulfil(lines) => {
                    let new = NewFulfillment::parse(&FulfillmentDraft {
                        lines: lines.iter().map(|&(line, quantity)| FulfillmentLineDraft { line, quantity }).collect(),
                        ..FulfillmentDraft::default()
                    });
                    let fid = id(u8::try_from(n).unwrap());
                    match new {
                        Ok(new) => order.fulfil(fid, new, CaptureMode::OnCompletion, now()).map(|_| made.push(fid)),
                        Err(_) => Ok(()),
                    }
                }
                Step::Move(index, to) => match made.get(index) {
                    Some(fid) => order.move_fulfillment(*fid, to, Tracking::default(), CaptureMode::OnCompletion, now()).map(|_| ()),
                    None => Ok(()),
                },
            };
            if result.is_err() {
                prop_assert_eq!(&order, &before);
            }
            for (progress, ordered) in order.line_progress().iter().zip([5, 3, 4]) {
                prop_assert!(progress.fulfilled <= ordered);
                prop_assert!(progress.shipped <= progress.fulfilled);
            }
            let shipping_done = order.line_progress()[..2].iter().zip([5, 3]).all(|(p, q)| p.fulfilled == q);
            prop_assert_eq!(shipping_done, order.fulfillment_status() == FulfillmentStatus::Fulfilled);
            prop_assert_eq!(shipping_done, order.status() == OrderStatus::Completed);
            let restored = Order::restore(order.to_record());
            prop_assert_eq!(restored, Ok(order.clone()));
        }
    }
}

// Returns and refunds by line.

use ordo_domain::{
    Discount, LinePart, NewReturn, ReturnDraft, ReturnError, ReturnId, ReturnOutcome, ReturnState,
    ShippingLineDraft,
};

fn return_id(n: u8) -> ReturnId {
    ReturnId::from_parts(1_790_000_000_000, &[n; 10])
}

fn refund_id(n: u8) -> uuid::Uuid {
    uuid::Uuid::from_u128(u128::from(n))
}

fn returning(lines: &[(i64, i64)], reason: &str) -> NewReturn {
    NewReturn::parse(&ReturnDraft {
        lines: lines
            .iter()
            .map(|&(line, quantity)| FulfillmentLineDraft { line, quantity })
            .collect(),
        reason: reason.to_owned(),
        note: None,
        restock: true,
    })
    .unwrap()
}

/// A processing order of 3 shirts at 19.99 and 2 mugs at 10.00, 10 % off, 8.25 % tax, 4.95
/// shipping (taxed), its payment `payment`.
fn shirts_and_mugs(payment: PaymentStatus) -> Order {
    order_with(
        vec![
            LineItemDraft {
                unit_price: Some(Decimal::new(1999, 2)),
                ..line("SHIRT", 3, true)
            },
            line("MUG", 2, true),
        ],
        OrderStatus::Processing,
        payment,
        |draft| {
            draft.discount = Some(Discount::Percentage {
                percent: Decimal::new(10, 0),
            });
            draft.tax_rate = Some(Decimal::new(825, 4));
            draft.shipping = vec![ShippingLineDraft {
                code: "ups".into(),
                title: "UPS".into(),
                amount: Decimal::new(495, 2),
                taxed: true,
            }];
        },
    )
}

/// A paid order, completed with everything shipped: 3 shirts at 19.99 and 2 mugs at 10.00,
/// 10 % off, 8.25 % tax, 4.95 shipping (taxed).
fn shipped_and_paid() -> Order {
    let mut order = shirts_and_mugs(PaymentStatus::Paid);
    order
        .fulfil(
            id(1),
            units(&[(0, 3), (1, 2)]),
            CaptureMode::OnCompletion,
            now(),
        )
        .unwrap();
    move_to(
        &mut order,
        1,
        FulfillmentState::Shipped,
        CaptureMode::OnCompletion,
    )
    .unwrap();
    assert_eq!(order.status(), OrderStatus::Completed);
    order
}

#[test]
fn only_shipped_units_not_yet_returned_are_returned() {
    let mut order = processing();
    order
        .fulfil(id(1), units(&[(0, 4)]), CaptureMode::OnCompletion, now())
        .unwrap();
    let error = order
        .request_return(return_id(1), returning(&[(0, 1)], "damaged"), now())
        .unwrap_err();
    let ReturnError::Invalid(errors) = error else {
        panic!("{error:?}")
    };
    assert_eq!(
        errors.for_field("lines[0].quantity"),
        Some(&Violation::OverReturn { left: 0 }),
        "created, not shipped: nothing to return yet"
    );
    move_to(
        &mut order,
        1,
        FulfillmentState::Shipped,
        CaptureMode::OnCompletion,
    )
    .unwrap();
    order
        .request_return(return_id(1), returning(&[(0, 3)], "size_or_fit"), now())
        .unwrap();
    let before = order.clone();
    let error = order
        .request_return(return_id(2), returning(&[(0, 2)], "unwanted"), now())
        .unwrap_err();
    let ReturnError::Invalid(errors) = error else {
        panic!("{error:?}")
    };
    assert_eq!(
        errors.for_field("lines[0].quantity"),
        Some(&Violation::OverReturn { left: 1 })
    );
    assert_eq!(order, before);
    // A rejected return gives its units back to what may be returned.
    order.reject_return(return_id(1), now()).unwrap();
    order
        .request_return(return_id(2), returning(&[(0, 4)], "unwanted"), now())
        .unwrap();
    assert_eq!(order.returns()[1].number, 2);
}

#[test]
fn a_draft_return_names_a_listed_reason_and_a_note_with_other() {
    let errors = NewReturn::parse(&ReturnDraft {
        lines: vec![],
        reason: "changed_mind".into(),
        note: None,
        restock: false,
    })
    .unwrap_err();
    assert_eq!(errors.for_field("lines"), Some(&Violation::NoLines));
    assert_eq!(
        errors.for_field("reason"),
        Some(&Violation::UnknownReturnReason)
    );
    let errors = NewReturn::parse(&ReturnDraft {
        lines: vec![FulfillmentLineDraft {
            line: 0,
            quantity: 1,
        }],
        reason: "other".into(),
        note: None,
        restock: false,
    })
    .unwrap_err();
    assert_eq!(errors.for_field("note"), Some(&Violation::Required));
}

#[test]
fn returns_move_requested_received_closed_and_the_status_follows_them() {
    let mut order = shipped_and_paid();
    assert_eq!(order.fulfillment_status(), FulfillmentStatus::Fulfilled);
    order
        .request_return(return_id(1), returning(&[(1, 1)], "damaged"), now())
        .unwrap();
    assert_eq!(
        order.fulfillment_status(),
        FulfillmentStatus::Fulfilled,
        "asked for, not back yet"
    );
    order.receive_return(return_id(1), now()).unwrap();
    assert_eq!(
        order.fulfillment_status(),
        FulfillmentStatus::PartiallyReturned
    );
    assert_eq!(
        order.receive_return(return_id(1), now()),
        Err(ReturnError::IllegalMove {
            from: ReturnState::Received,
            to: "received"
        })
    );
    order
        .refund_return(return_id(1), refund_id(1), false, now())
        .unwrap();
    let closed = &order.returns()[0];
    assert_eq!(
        (closed.state, closed.outcome, closed.refund),
        (
            ReturnState::Closed,
            Some(ReturnOutcome::Refunded),
            Some(refund_id(1))
        )
    );
    assert!(order.reject_return(return_id(1), now()).is_err());
    // Everything else back: returned.
    order
        .request_return(
            return_id(2),
            returning(&[(0, 3), (1, 1)], "unwanted"),
            now(),
        )
        .unwrap();
    order.receive_return(return_id(2), now()).unwrap();
    assert_eq!(order.fulfillment_status(), FulfillmentStatus::Returned);
    assert_eq!(Order::restore(order.to_record()), Ok(order.clone()));
}

#[test]
fn refunding_every_line_and_the_shipping_refunds_exactly_the_total() {
    let mut order = shipped_and_paid();
    let total = order.pricing().total();
    // One shirt, then the mugs with the shipping, then the last two shirts one at a time.
    let steps: [&[(LinePart, u32)]; 4] = [
        &[(LinePart::Item(0), 1)],
        &[(LinePart::Item(1), 2), (LinePart::Shipping(0), 1)],
        &[(LinePart::Item(0), 1)],
        &[(LinePart::Item(0), 1)],
    ];
    let mut paid = Decimal::ZERO;
    for (n, parts) in steps.iter().enumerate() {
        let refund = order
            .refund_lines(refund_id(u8::try_from(n).unwrap()), parts, now())
            .unwrap();
        assert!(!refund.clamped);
        paid += refund.amount;
    }
    assert_eq!(paid, total);
    assert_eq!(order.payment().refunded, total);
    assert_eq!(order.payment().status, PaymentStatus::Refunded);
    assert_eq!(order.refunded_units(), vec![3, 2]);
    let error = order
        .refund_lines(refund_id(9), &[(LinePart::Item(0), 1)], now())
        .unwrap_err();
    assert!(matches!(error, ReturnError::Payment(_)), "{error:?}");
}

#[test]
fn a_line_refund_after_a_goodwill_refund_pays_what_is_left() {
    let mut order = shipped_and_paid();
    let total = order.pricing().total();
    order
        .record_refund(total - Decimal::new(100, 2), now())
        .unwrap();
    let refund = order
        .refund_lines(refund_id(1), &[(LinePart::Item(1), 2)], now())
        .unwrap();
    assert!(refund.clamped);
    assert_eq!(refund.amount, Decimal::new(100, 2));
    assert_eq!(order.payment().refunded, total);
}

#[test]
fn more_units_than_are_left_to_refund_are_refused_naming_the_line() {
    let mut order = shipped_and_paid();
    order
        .refund_lines(refund_id(1), &[(LinePart::Item(0), 2)], now())
        .unwrap();
    let before = order.clone();
    let error = order
        .refund_lines(
            refund_id(2),
            &[
                (LinePart::Item(1), 1),
                (LinePart::Item(0), 2),
                (LinePart::Shipping(3), 1),
            ],
            now(),
        )
        .unwrap_err();
    let ReturnError::Invalid(errors) = error else {
        panic!("{error:?}")
    };
    assert_eq!(
        errors.for_field("lines[1].quantity"),
        Some(&Violation::OverRefund { left: 1 })
    );
    assert_eq!(
        errors.for_field("shipping[0]"),
        Some(&Violation::NoSuchLine)
    );
    assert_eq!(order, before);
}

#[test]
fn a_refused_refund_reopens_its_return_and_gives_its_units_back() {
    let mut order = shipped_and_paid();
    order
        .request_return(return_id(1), returning(&[(0, 1)], "defective"), now())
        .unwrap();
    order.receive_return(return_id(1), now()).unwrap();
    let open = order.clone();
    let refund = order
        .refund_return(return_id(1), refund_id(1), true, now())
        .unwrap();
    assert_eq!(
        order.refunded_lines().len(),
        2,
        "the shirt and the shipping"
    );
    order
        .release_refund(refund_id(1), refund.amount, now())
        .unwrap();
    assert_eq!(order.returns(), open.returns());
    assert_eq!(order.refunded_lines(), open.refunded_lines());
    assert_eq!(order.payment().refunded, open.payment().refunded);
    assert_eq!(order.payment().status, PaymentStatus::Paid);
}

#[test]
fn a_released_refund_in_between_leaves_the_line_refunding_exactly_its_share() {
    let mut order = shipped_and_paid();
    let share = order
        .pricing()
        .units_amount(LinePart::Item(0), 0, 3)
        .unwrap()
        .amount;
    let one = [(LinePart::Item(0), 1)];
    let first = order.refund_lines(refund_id(1), &one, now()).unwrap();
    let middle = order.refund_lines(refund_id(2), &one, now()).unwrap();
    let third = order.refund_lines(refund_id(3), &one, now()).unwrap();
    order
        .release_refund(refund_id(2), middle.amount, now())
        .unwrap();
    let last = order.refund_lines(refund_id(4), &one, now()).unwrap();
    assert_eq!(first.amount + third.amount + last.amount, share);
}

proptest! {
    /// Any sequence of refunds by line, in any split, with refunds released (refused by the
    /// gateway) in between: the order never refunds more than was captured nor a unit twice,
    /// and once every unit and the shipping are refunded, it has refunded exactly its total.
    #[test]
    fn any_sequence_of_line_refunds_sums_to_at_most_the_total_and_all_of_them_to_exactly_it(
        steps in prop::collection::vec((0_usize..4, 1_u32..4, 0_usize..8), 1..20)
    ) {
        let mut order = shipped_and_paid();
        let total = order.pricing().total();
        let mut made: Vec<(uuid::Uuid, Decimal)> = Vec::new();
        for (n, (part, quantity, pick)) in steps.into_iter().enumerate() {
            if part == 3 {
                // The gateway refuses one of the refunds made so far.
                if !made.is_empty() {
                    let (id, amount) = made.remove(pick.checked_rem(made.len()).unwrap());
                    order.release_refund(id, amount, now()).unwrap();
                }
                continue;
            }
            let part = match part {
                0 => LinePart::Item(0),
                1 => LinePart::Item(1),
                _ => LinePart::Shipping(0),
            };
            let quantity = if matches!(part, LinePart::Shipping(_)) { 1 } else { quantity };
            let before = order.clone();
            let id = uuid::Uuid::from_u128(u128::try_from(n).unwrap().saturating_add(100));
            if let Ok(refund) = order.refund_lines(id, &[(part, quantity)], now()) {
                made.push((id, refund.amount));
            } else {
                prop_assert_eq!(&order, &before);
            }
            prop_assert!(order.payment().refunded <= total);
            let units = order.refunded_units();
            prop_assert!(units[0] <= 3 && units[1] <= 2);
        }
        // Whatever is left, refunded now: exactly the total in all.
        let units = order.refunded_units();
        let mut rest = Vec::new();
        for (line, (done, ordered)) in units.iter().zip([3_u32, 2]).enumerate() {
            if *done < ordered {
                rest.push((LinePart::Item(line), ordered.saturating_sub(*done)));
            }
        }
        if !order.refunded_lines().iter().any(|l| l.part == LinePart::Shipping(0)) {
            rest.push((LinePart::Shipping(0), 1));
        }
        if !rest.is_empty() {
            order.refund_lines(uuid::Uuid::from_u128(999), &rest, now()).unwrap();
        }
        prop_assert_eq!(order.payment().refunded, total);
        prop_assert_eq!(Order::restore(order.to_record()), Ok(order.clone()));
    }
}

// Capture on shipment (docs/status.md, "Capture on shipment").

use ordo_domain::{CaptureState, GatewayOutcome, PaymentError};

fn approved() -> GatewayOutcome {
    GatewayOutcome::Approved {
        reference: "cap".into(),
    }
}

/// The shirts-and-mugs order, authorized and nothing fulfilled.
fn authorized_with_shipping() -> Order {
    shirts_and_mugs(PaymentStatus::Authorized)
}

/// Fulfils `lines` as fulfilment `n` and ships it, capturing on shipment: the step shipping
/// named.
fn ship(order: &mut Order, n: u8, lines: &[(i64, i64)]) -> PaymentStep {
    order
        .fulfil(id(n), units(lines), CaptureMode::OnShipment, now())
        .unwrap();
    move_to(order, n, FulfillmentState::Shipped, CaptureMode::OnShipment).unwrap()
}

fn capture_of(order: &Order, n: u8) -> ordo_domain::ShipmentCapture {
    order.fulfillment(id(n)).unwrap().capture.unwrap()
}

#[test]
fn each_shipment_captures_its_share_and_the_last_the_rest_completing_the_order() {
    let mut order = authorized_with_shipping();
    let pricing = order.pricing().clone();
    let two_shirts = pricing
        .units_amount(LinePart::Item(0), 0, 2)
        .unwrap()
        .amount;
    let shipping = pricing
        .units_amount(LinePart::Shipping(0), 0, 1)
        .unwrap()
        .amount;

    let first = ship(&mut order, 1, &[(0, 2)]);
    assert_eq!(
        first,
        PaymentStep::Call {
            operation: PaymentOperation::Capture,
            amount: two_shirts + shipping,
        },
        "two shirts' share and the shipping"
    );
    assert_eq!(order.claimed_shipment().unwrap().id, id(1));
    assert_eq!(
        order.line_progress()[0].shipped,
        2,
        "shipped before the answer"
    );
    assert!(order.settle_payment(approved(), now()).unwrap());
    assert_eq!(order.payment().status, PaymentStatus::PartiallyPaid);
    assert_eq!(order.payment().captured, two_shirts + shipping);
    assert_eq!(capture_of(&order, 1).state, CaptureState::Captured);

    // Everything fulfilled, not all shipped: the order waits for its last capture.
    order
        .fulfil(
            id(2),
            units(&[(0, 1), (1, 2)]),
            CaptureMode::OnShipment,
            now(),
        )
        .unwrap();
    assert_eq!(order.status(), OrderStatus::Processing);
    assert_eq!(order.payment().pending, None);
    let last = move_to(
        &mut order,
        2,
        FulfillmentState::Shipped,
        CaptureMode::OnShipment,
    )
    .unwrap();
    let rest = order.pricing().total() - two_shirts - shipping;
    assert_eq!(
        last,
        PaymentStep::Call {
            operation: PaymentOperation::Capture,
            amount: rest,
        }
    );
    assert!(order.settle_payment(approved(), now()).unwrap());
    assert_eq!(order.payment().status, PaymentStatus::Paid);
    assert_eq!(order.payment().captured, order.pricing().total());
    assert_eq!(
        order.status(),
        OrderStatus::Completed,
        "the last capture completes it"
    );
    assert_eq!(
        capture_of(&order, 1).amount + capture_of(&order, 2).amount,
        order.pricing().total()
    );
    // A restored order reads the same.
    assert_eq!(Order::restore(order.to_record()).unwrap(), order);
}

#[test]
fn a_refused_capture_is_owed_and_the_next_shipment_takes_it() {
    let mut order = authorized_with_shipping();
    let one_shirt = |before| {
        order
            .pricing()
            .units_amount(LinePart::Item(0), before, 1)
            .unwrap()
            .amount
    };
    let (first_shirt, second_shirt) = (one_shirt(0), one_shirt(1));
    let shipping = order
        .pricing()
        .units_amount(LinePart::Shipping(0), 0, 1)
        .unwrap()
        .amount;
    ship(&mut order, 1, &[(0, 1)]);
    assert!(
        order
            .settle_payment(GatewayOutcome::Declined, now())
            .unwrap()
    );
    assert_eq!(capture_of(&order, 1).state, CaptureState::Failed);
    assert_eq!(order.payment().status, PaymentStatus::Authorized);
    assert!(order.payment().captured.is_zero());
    assert_eq!(
        order.fulfillment(id(1)).unwrap().state,
        FulfillmentState::Shipped,
        "the parcel left whatever the gateway said"
    );
    // Unanswered: the claim stays for reconciliation, and nothing else moves meanwhile.
    let step = ship(&mut order, 2, &[(0, 1)]);
    assert_eq!(
        step,
        PaymentStep::Call {
            operation: PaymentOperation::Capture,
            amount: first_shirt + second_shirt + shipping,
        }
    );
    assert!(
        !order
            .settle_payment(GatewayOutcome::Unknown, now())
            .unwrap()
    );
    assert!(matches!(
        order.fulfil(id(3), units(&[(0, 1)]), CaptureMode::OnShipment, now()),
        Err(FulfillmentError::Payment(PaymentError::InFlight { .. }))
    ));
    assert!(order.settle_payment(approved(), now()).unwrap());
    assert_eq!(
        order.payment().captured,
        first_shirt + second_shirt + shipping
    );
    // Staff completing takes whatever is left, shipping the rest.
    let step = order.begin_change(StatusChange::Complete, now()).unwrap();
    let rest = order.pricing().total() - order.payment().captured;
    assert_eq!(
        step,
        PaymentStep::Call {
            operation: PaymentOperation::Capture,
            amount: rest,
        }
    );
    assert!(order.settle_payment(approved(), now()).unwrap());
    assert_eq!(order.payment().captured, order.pricing().total());
    assert_eq!(order.status(), OrderStatus::Completed);
}

#[test]
fn an_order_left_waiting_by_capturing_on_shipment_completes_when_it_ships_under_another_setting() {
    let mut order = authorized_with_shipping();
    ship(&mut order, 1, &[(0, 1)]);
    order.settle_payment(approved(), now()).unwrap();
    order
        .fulfil(
            id(2),
            units(&[(0, 2), (1, 2)]),
            CaptureMode::OnShipment,
            now(),
        )
        .unwrap();
    assert_eq!(
        order.status(),
        OrderStatus::Processing,
        "waiting for its last shipment"
    );
    let before = order.version();
    let step = move_to(
        &mut order,
        2,
        FulfillmentState::Shipped,
        CaptureMode::OnCompletion,
    )
    .unwrap();
    assert_eq!(order.version(), Version::new(before.get() + 1), "one write");
    assert_eq!(
        step,
        PaymentStep::Call {
            operation: PaymentOperation::Capture,
            amount: order.pricing().total() - order.payment().captured,
        }
    );
    assert_eq!(
        order.claimed_shipment(),
        None,
        "the completion's capture, not the shipment's"
    );
    assert!(order.settle_payment(approved(), now()).unwrap());
    assert_eq!(order.status(), OrderStatus::Completed);
    assert_eq!(order.payment().captured, order.pricing().total());
    // The same move again is a repeat that landed.
    assert!(order.fulfillment_made(id(2), FulfillmentState::Shipped, &Tracking::default()));
    assert!(!order.fulfillment_made(id(2), FulfillmentState::Shipped, &tracking("1Z")));
    assert!(!order.fulfillment_made(id(2), FulfillmentState::Delivered, &Tracking::default()));
}

#[test]
fn shipping_never_asks_again_for_a_declined_completion_capture() {
    let mut order = authorized_with_shipping();
    let step = order
        .fulfil(
            id(1),
            units(&[(0, 3), (1, 2)]),
            CaptureMode::OnCompletion,
            now(),
        )
        .unwrap();
    assert!(
        matches!(step, PaymentStep::Call { .. }),
        "the last units complete it"
    );
    assert!(
        order
            .settle_payment(GatewayOutcome::Declined, now())
            .unwrap()
    );
    assert_eq!(
        order.status(),
        OrderStatus::Processing,
        "fulfilled, for staff later"
    );
    let step = move_to(
        &mut order,
        1,
        FulfillmentState::Shipped,
        CaptureMode::OnCompletion,
    )
    .unwrap();
    assert_eq!(step, PaymentStep::Done);
    assert_eq!(order.payment().pending, None);
    assert_eq!(order.payment().status, PaymentStatus::Authorized);
}

#[test]
fn capturing_on_shipment_leaves_other_orders_and_modes_as_they_were() {
    // Paid already: shipping claims nothing.
    let mut paid = processing();
    assert_eq!(ship(&mut paid, 1, &[(0, 1)]), PaymentStep::Done);
    assert_eq!(paid.fulfillment(id(1)).unwrap().capture, None);
    // Capturing on completion: shipping claims nothing, the last units complete.
    let mut order = authorized_with_shipping();
    order
        .fulfil(id(1), units(&[(0, 1)]), CaptureMode::OnCompletion, now())
        .unwrap();
    let step = move_to(
        &mut order,
        1,
        FulfillmentState::Shipped,
        CaptureMode::OnCompletion,
    )
    .unwrap();
    assert_eq!(step, PaymentStep::Done);
    assert_eq!(order.payment().status, PaymentStatus::Authorized);
}

/// A stored record to start from, and what breaks it.
type Case<'a> = (
    &'a ordo_domain::OrderRecord,
    &'a dyn Fn(&mut ordo_domain::OrderRecord),
);

#[test]
fn stored_shipment_captures_that_do_not_hold_together_are_corrupt() {
    let mut order = authorized_with_shipping();
    ship(&mut order, 1, &[(0, 1)]);
    let claimed = order.to_record();
    assert!(Order::restore(claimed.clone()).is_ok());
    order.settle_payment(approved(), now()).unwrap();
    let good = order.to_record();
    let corrupt = |from: &ordo_domain::OrderRecord,
                   change: &dyn Fn(&mut ordo_domain::OrderRecord)| {
        let mut record = from.clone();
        change(&mut record);
        Order::restore(record)
    };
    // A claim with no payment call in flight; a capture of more than was captured; a capture
    // on a fulfilment that has not shipped; a capture of nothing.
    let cases: [Case<'_>; 4] = [
        (&claimed, &|r| r.payment.pending = None),
        (&good, &|r| r.payment.captured = Decimal::new(1, 2)),
        (&good, &|r| {
            r.fulfillments[0].state = FulfillmentState::Created;
            r.fulfillments[0].shipped_at = None;
        }),
        (&good, &|r| {
            if let Some(capture) = r.fulfillments[0].capture.as_mut() {
                capture.amount = Decimal::ZERO;
            }
        }),
    ];
    for (index, (from, case)) in cases.iter().enumerate() {
        assert_eq!(
            corrupt(from, case),
            Err(CorruptOrder::FulfillmentMismatch),
            "case {index}"
        );
    }
}

/// An authorized order of random lines, discount, tax and shipping.
fn random_order(lines: &[(i64, i64)], percent: i64, rate: i64, shipping: Option<i64>) -> Order {
    order_with(
        lines
            .iter()
            .enumerate()
            .map(|(n, &(quantity, cents))| LineItemDraft {
                unit_price: Some(Decimal::new(cents, 2)),
                ..line(&format!("SKU-{n}"), quantity, true)
            })
            .collect(),
        OrderStatus::Processing,
        PaymentStatus::Authorized,
        |draft| {
            if percent > 0 {
                draft.discount = Some(Discount::Percentage {
                    percent: Decimal::new(percent, 0),
                });
            }
            if rate > 0 {
                draft.tax_rate = Some(Decimal::new(rate, 4));
            }
            draft.shipping = shipping
                .map(|cents| ShippingLineDraft {
                    code: "post".into(),
                    title: "Post".into(),
                    amount: Decimal::new(cents, 2),
                    taxed: true,
                })
                .into_iter()
                .collect();
        },
    )
}

proptest! {
    /// Any order shipped in any split, some captures refused on the way: each capture is more
    /// than zero; after each approved one the order has captured exactly what has shipped is
    /// worth (the cumulative rule, the shipping with the first) unless something was refused;
    /// and once the last units ship, the captures sum to exactly the total and the order is
    /// paid and completed.
    #[test]
    fn shipments_capture_exactly_the_total_in_any_split(
        lines in prop::collection::vec((1_i64..6, 1_i64..100_000), 1..4),
        percent in 0_i64..60,
        rate in 0_i64..2500,
        shipping in prop::option::of(1_i64..3000),
        picks in prop::collection::vec((0_usize..4, 1_i64..4, prop::bool::weighted(0.15)), 1..12),
    ) {
        let mut order = random_order(&lines, percent, rate, shipping);
        let total = order.pricing().total();
        let mut refused_any = false;
        let mut n = 0_u8;
        let ship_step = |order: &mut Order, lines: &[(i64, i64)], refuse: bool, n: u8| -> Result<bool, TestCaseError> {
            let step = ship(order, n, lines);
            let PaymentStep::Call { amount, .. } = step else {
                return Ok(false);
            };
            prop_assert!(amount > Decimal::ZERO);
            prop_assert_eq!(capture_of(order, n).amount, amount);
            let outcome = if refuse { GatewayOutcome::Declined } else { approved() };
            prop_assert!(order.settle_payment(outcome, now()).unwrap());
            Ok(refuse)
        };
        for (line, quantity, refuse) in picks {
            let progress = order.line_progress();
            let Some(done) = progress.get(line % lines.len()) else { continue };
            let left = i64::from(order.pricing().lines()[line % lines.len()].quantity.get() - done.fulfilled);
            if left == 0 {
                continue;
            }
            n += 1;
            let index = i64::try_from(line % lines.len()).unwrap();
            refused_any |= ship_step(&mut order, &[(index, quantity.min(left))], refuse, n)?;
            if !refused_any {
                let worth = order
                    .line_progress()
                    .iter()
                    .enumerate()
                    .filter(|(_, done)| done.shipped > 0)
                    .map(|(i, done)| order.pricing().units_amount(LinePart::Item(i), 0, done.shipped).unwrap().amount)
                    .sum::<Decimal>()
                    + (0..order.pricing().shipping_lines().len())
                        .map(|i| order.pricing().units_amount(LinePart::Shipping(i), 0, 1).unwrap().amount)
                        .sum::<Decimal>();
                let all_shipped = order.fulfillment_status() == FulfillmentStatus::Fulfilled;
                prop_assert_eq!(order.payment().captured, if all_shipped { total } else { worth.min(total) });
            }
        }
        // The rest ships in one more fulfilment, its capture approved.
        let rest = order
            .line_progress()
            .iter()
            .zip(order.pricing().lines())
            .enumerate()
            .filter(|(_, (done, line))| line.quantity.get() > done.fulfilled)
            .map(|(i, (done, line))| (i64::try_from(i).unwrap(), i64::from(line.quantity.get() - done.fulfilled)))
            .collect::<Vec<_>>();
        if !rest.is_empty() {
            ship_step(&mut order, &rest, false, n + 1)?;
        }
        // The last shipment's capture refused: staff completing takes what is owed.
        if order.status() == OrderStatus::Processing {
            prop_assert!(refused_any);
            let step = order.begin_change(StatusChange::Complete, now()).unwrap();
            prop_assert!(step != PaymentStep::Done);
            prop_assert!(order.settle_payment(approved(), now()).unwrap());
        }
        prop_assert_eq!(order.payment().captured, total);
        prop_assert_eq!(order.payment().status, PaymentStatus::Paid);
        prop_assert_eq!(order.status(), OrderStatus::Completed);
        let taken = order
            .fulfillments()
            .iter()
            .filter_map(|f| f.capture)
            .filter(|c| c.state == CaptureState::Captured)
            .map(|c| c.amount)
            .sum::<Decimal>();
        if refused_any {
            prop_assert!(taken <= total);
        } else {
            prop_assert_eq!(taken, total);
        }
    }
}
