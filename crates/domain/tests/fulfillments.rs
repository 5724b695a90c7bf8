//! Fulfilments: units never over-fulfilled, states moving only as the table says, the order's
//! fulfilment status counted from them, and the order's status moving with them
//! (docs/status.md, "Fulfilment").
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use chrono::{DateTime, Utc};
use ordo_domain::{
    CancelReason, ChangeError, CorruptOrder, CustomerId, FulfillmentDraft, FulfillmentError,
    FulfillmentId, FulfillmentLineDraft, FulfillmentState, FulfillmentStatus, LineItemDraft,
    LineSnapshotDraft, NewFulfillment, NewOrder, Order, OrderDraft, OrderId, OrderNumber,
    OrderNumberKey, OrderStatus, PaymentOperation, PaymentStatus, PaymentStep, RoundingPolicy,
    StatusChange, Tracking, TrackingDraft, Version, Violation, price,
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

fn tracking(number: &str) -> Tracking {
    Tracking {
        number: Some(number.to_owned()),
        ..Tracking::default()
    }
}

#[test]
fn partial_fulfilments_count_units_and_the_last_completes_a_paid_order() {
    let mut order = processing();
    let step = order.fulfil(id(1), units(&[(0, 4)]), now()).unwrap();
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
        .fulfil(id(2), units(&[(0, 6), (1, 2)]), now())
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
    let step = order.fulfil(id(1), units(&[(0, 2)]), now()).unwrap();
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
    order.fulfil(id(1), units(&[(0, 7)]), now()).unwrap();
    let before = order.clone();
    let error = order
        .fulfil(id(2), units(&[(1, 1), (0, 4)]), now())
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
    let error = order.fulfil(id(2), units(&[(2, 1)]), now()).unwrap_err();
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
            order.fulfil(id(1), units(&[(0, 1)]), now()),
            Err(FulfillmentError::OrderStatus { status })
        );
    }
}

#[test]
fn fulfilments_move_only_as_the_table_says() {
    let mut order = processing();
    order.fulfil(id(1), units(&[(0, 2)]), now()).unwrap();
    let error = order
        .move_fulfillment(
            id(1),
            FulfillmentState::Delivered,
            Tracking::default(),
            now(),
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
        .move_fulfillment(id(1), FulfillmentState::Shipped, tracking("1Z9"), now())
        .unwrap();
    let shipped = &order.fulfillments()[0];
    assert_eq!(shipped.state, FulfillmentState::Shipped);
    assert_eq!(shipped.shipped_at, Some(now()));
    assert_eq!(shipped.tracking.number.as_deref(), Some("1Z9"));
    assert_eq!(order.line_progress()[0].shipped, 2);
    assert!(
        order
            .move_fulfillment(
                id(1),
                FulfillmentState::Cancelled,
                Tracking::default(),
                now()
            )
            .is_err(),
        "shipped units are returned, not cancelled"
    );
    order
        .move_fulfillment(
            id(1),
            FulfillmentState::Delivered,
            Tracking::default(),
            now(),
        )
        .unwrap();
    assert_eq!(
        order.move_fulfillment(id(9), FulfillmentState::Shipped, Tracking::default(), now()),
        Err(FulfillmentError::NotFound)
    );
}

#[test]
fn a_cancelled_fulfilment_gives_its_units_back() {
    let mut order = processing();
    order.fulfil(id(1), units(&[(0, 10)]), now()).unwrap();
    assert!(order.fulfil(id(2), units(&[(0, 1)]), now()).is_err());
    order
        .move_fulfillment(
            id(1),
            FulfillmentState::Cancelled,
            Tracking::default(),
            now(),
        )
        .unwrap();
    assert_eq!(order.line_progress()[0].fulfilled, 0);
    assert_eq!(order.fulfillment_status(), FulfillmentStatus::Unfulfilled);
    order.fulfil(id(2), units(&[(0, 10)]), now()).unwrap();
    assert_eq!(order.fulfillments()[1].number, 2);
    assert!(
        order
            .move_fulfillment(
                id(1),
                FulfillmentState::Cancelled,
                Tracking::default(),
                now()
            )
            .is_err(),
        "cancelled once"
    );
}

#[test]
fn a_completed_orders_fulfilments_ship_but_are_not_cancelled() {
    let mut order = processing();
    order
        .fulfil(id(1), units(&[(0, 10), (1, 2)]), now())
        .unwrap();
    assert_eq!(order.status(), OrderStatus::Completed);
    assert_eq!(
        order.move_fulfillment(
            id(1),
            FulfillmentState::Cancelled,
            Tracking::default(),
            now()
        ),
        Err(FulfillmentError::OrderCompleted)
    );
    order
        .move_fulfillment(id(1), FulfillmentState::Shipped, Tracking::default(), now())
        .unwrap();
}

#[test]
fn an_order_with_anything_shipped_is_not_cancelled_and_cancelling_cancels_open_ones() {
    let reason = || StatusChange::Cancel(CancelReason::parse("out of stock").unwrap());
    let mut order = processing();
    order.fulfil(id(1), units(&[(0, 1)]), now()).unwrap();
    order.fulfil(id(2), units(&[(1, 1)]), now()).unwrap();
    let mut cancelled = order.clone();
    // Paid: cancelling claims the refund; the fulfilments are cancelled when it lands.
    let step = cancelled.begin_change(reason(), now()).unwrap();
    assert!(matches!(step, PaymentStep::Call { .. }));
    cancelled
        .settle_payment(
            ordo_domain::GatewayOutcome::Approved {
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

    order
        .move_fulfillment(id(2), FulfillmentState::Shipped, Tracking::default(), now())
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
    order.fulfil(id(1), units(&[(0, 3)]), now()).unwrap();
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
    order.fulfil(id(1), units(&[(0, 1)]), now()).unwrap();
    assert_eq!(order.fulfillment_status(), FulfillmentStatus::Fulfilled);
    assert_eq!(order.status(), OrderStatus::Completed);
    // Completing ships the e-book's unit too, so a completed order holds every unit.
    assert_eq!(order.line_progress()[1].fulfilled, 1);

    let mut digital = order_of(
        vec![line("EBOOK", 2, false)],
        OrderStatus::Processing,
        PaymentStatus::Paid,
    );
    digital.fulfil(id(1), units(&[(0, 1)]), now()).unwrap();
    assert_eq!(
        digital.fulfillment_status(),
        FulfillmentStatus::PartiallyFulfilled
    );
}

#[test]
fn stored_fulfilments_that_do_not_hold_together_are_corrupt() {
    let mut order = processing();
    order.fulfil(id(1), units(&[(0, 4)]), now()).unwrap();
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
                        Ok(new) => order.fulfil(fid, new, now()).map(|_| made.push(fid)),
                        Err(_) => Ok(()),
                    }
                }
                Step::Move(index, to) => match made.get(index) {
                    Some(fid) => order.move_fulfillment(*fid, to, Tracking::default(), now()),
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

/// A paid order, completed with everything shipped: 3 shirts at 19.99 and 2 mugs at 10.00,
/// 10 % off, 8.25 % tax, 4.95 shipping (taxed).
fn shipped_and_paid() -> Order {
    let mut order = order_with(
        vec![
            LineItemDraft {
                unit_price: Some(Decimal::new(1999, 2)),
                ..line("SHIRT", 3, true)
            },
            line("MUG", 2, true),
        ],
        OrderStatus::Processing,
        PaymentStatus::Paid,
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
    );
    order
        .fulfil(id(1), units(&[(0, 3), (1, 2)]), now())
        .unwrap();
    order
        .move_fulfillment(id(1), FulfillmentState::Shipped, Tracking::default(), now())
        .unwrap();
    assert_eq!(order.status(), OrderStatus::Completed);
    order
}

#[test]
fn only_shipped_units_not_yet_returned_are_returned() {
    let mut order = processing();
    order.fulfil(id(1), units(&[(0, 4)]), now()).unwrap();
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
    order
        .move_fulfillment(id(1), FulfillmentState::Shipped, Tracking::default(), now())
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
