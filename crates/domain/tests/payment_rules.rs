//! The payment rules of status changes: every payment state × every move, written out by hand
//! (the table in `docs/status.md`), and the claim that keeps two gateway calls apart.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use chrono::{DateTime, Utc};
use ordo_domain::{
    CancelReason, ChangeError, CustomerId, GatewayOutcome, LineItemDraft, NewOrder, Order,
    OrderDraft, OrderId, OrderNumber, OrderNumberKey, OrderStatus, PaymentError, PaymentOperation,
    PaymentStatus, PaymentStep, ProductId, RoundingPolicy, StatusChange, Version, price,
};
use rust_decimal::Decimal;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap()
}

/// A 10.00 USD order in `status` whose payment is `payment`, with amounts that fit it.
fn order(status: OrderStatus, payment: PaymentStatus) -> Order {
    let draft = OrderDraft {
        details: ordo_domain::OrderDetailsDraft::default(),
        customer_id: "0193a1a0-0000-7000-8000-000000000001"
            .parse::<CustomerId>()
            .unwrap(),
        currency: "USD".into(),
        items: vec![LineItemDraft {
            snapshot: ordo_domain::LineSnapshotDraft::default(),
            product_id: Some(
                "0193a1a0-0000-7000-8000-0000000000aa"
                    .parse::<ProductId>()
                    .unwrap(),
            ),
            quantity: 1,
            unit_price: Some(Decimal::new(1000, 2)),
        }],
        discount: None,
        discount_code: None,
        discount_code_optional: false,
        tax_rate: None,
        shipping: Vec::new(),
        shipping_method: None,
        discount_reason: None,
    };
    let new = NewOrder::parse(&draft).unwrap();
    let priced = price(&new, RoundingPolicy::default_for(new.currency())).unwrap();
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
    let (total, zero) = (Decimal::new(1000, 2), Decimal::new(0, 2));
    let (authorized, captured, refunded) = match payment {
        PaymentStatus::Unpaid | PaymentStatus::Failed | PaymentStatus::Unknown => {
            (zero, zero, zero)
        }
        PaymentStatus::Authorized => (total, zero, zero),
        // Through the gateway: captured in part as things shipped.
        PaymentStatus::PartiallyPaid => (total, Decimal::new(400, 2), zero),
        PaymentStatus::Paid => (total, total, zero),
        PaymentStatus::PartiallyRefunded => (total, total, Decimal::new(400, 2)),
        PaymentStatus::Refunded => (total, total, total),
    };
    record.payment.status = payment;
    record.payment.authorized = authorized;
    record.payment.captured = captured;
    record.payment.refunded = refunded;
    record.payment.pending = None;
    record.status = status;
    record.version = Version::new(3);
    Order::restore(record).unwrap()
}

fn cancel() -> StatusChange {
    StatusChange::Cancel(CancelReason::parse("customer asked").unwrap())
}

/// What a move should do: apply at once, claim a gateway call, or be refused.
#[derive(Debug, PartialEq)]
enum Expect {
    Applies,
    Calls(PaymentOperation),
    Refused,
}

#[test]
fn every_payment_state_decides_every_move_as_the_status_table_says() {
    use Expect::{Applies, Calls, Refused};
    use PaymentOperation::{Capture, Refund, Void};
    use PaymentStatus::{
        Authorized, Failed, Paid, PartiallyPaid, PartiallyRefunded, Refunded, Unknown, Unpaid,
    };
    // (payment, process from pending, complete from processing, cancel from pending)
    let table = [
        (Unpaid, Refused, Refused, Applies),
        (Authorized, Applies, Calls(Capture), Calls(Void)),
        // Captured in part as things shipped: completing takes the rest; what shipped is
        // never cancelled (a manual order's rules are below).
        (PartiallyPaid, Refused, Calls(Capture), Refused),
        (Paid, Applies, Applies, Calls(Refund)),
        (PartiallyRefunded, Applies, Applies, Calls(Refund)),
        (Refunded, Refused, Applies, Applies),
        (Failed, Refused, Refused, Applies),
        (Unknown, Refused, Refused, Refused),
    ];
    assert_eq!(
        table.len(),
        <PaymentStatus as strum::IntoEnumIterator>::iter().count()
    );
    for (payment, process, complete, cancelling) in table {
        for (from, change, expected) in [
            (OrderStatus::Pending, StatusChange::Process, process),
            (OrderStatus::Processing, StatusChange::Complete, complete),
            (OrderStatus::Pending, cancel(), cancelling),
        ] {
            let mut order = order(from, payment);
            let before = order.clone();
            let got = match order.begin_change(change.clone(), now()) {
                Ok(PaymentStep::Done) => Applies,
                Ok(PaymentStep::Call { operation, .. }) => Calls(operation),
                Err(ChangeError::Payment(PaymentError::WrongStatus { .. })) => Refused,
                Err(other) => panic!("{payment} / {change:?}: unexpected {other}"),
            };
            assert_eq!(got, expected, "{payment} × {change:?} from {from}");
            match got {
                Applies => {
                    assert_eq!(order.status(), change.target());
                    assert_eq!(order.version(), Version::new(4));
                }
                Calls(operation) => {
                    assert_eq!(order.status(), from, "the status waits for the gateway");
                    assert_eq!(
                        order.version(),
                        Version::new(4),
                        "the claim moves the version"
                    );
                    assert_eq!(
                        order.payment().pending.as_ref().unwrap().operation,
                        operation
                    );
                }
                Refused => assert_eq!(order, before, "a refused move changes nothing"),
            }
        }
    }
}

#[test]
fn a_claimed_change_refuses_every_other_move_until_it_settles() {
    let mut order = order(OrderStatus::Processing, PaymentStatus::Authorized);
    assert!(matches!(
        order.begin_change(StatusChange::Complete, now()),
        Ok(PaymentStep::Call { operation: PaymentOperation::Capture, amount }) if amount == Decimal::new(1000, 2)
    ));
    let claimed = order.clone();
    for change in [cancel(), StatusChange::Complete] {
        assert_eq!(
            order.begin_change(change, now()),
            Err(ChangeError::Payment(PaymentError::InFlight {
                operation: PaymentOperation::Capture
            }))
        );
    }
    assert!(matches!(
        order.check_refund(Decimal::ONE),
        Err(PaymentError::InFlight { .. })
    ));
    assert_eq!(order, claimed);
    assert!(
        order
            .settle_payment(
                GatewayOutcome::Approved {
                    reference: "c".into()
                },
                now()
            )
            .unwrap()
    );
    assert_eq!(order.status(), OrderStatus::Completed);
    assert_eq!(order.payment().status, PaymentStatus::Paid);
    assert_eq!(order.payment().captured, Decimal::new(1000, 2));
    assert_eq!(order.payment().pending, None);
    assert_eq!(
        order.version(),
        Version::new(5),
        "claim and settle: one step each"
    );
}

#[test]
fn a_declined_call_ends_the_claim_and_keeps_the_status() {
    let mut order = order(OrderStatus::Pending, PaymentStatus::Authorized);
    order.begin_change(cancel(), now()).unwrap();
    assert!(
        order
            .settle_payment(GatewayOutcome::Declined, now())
            .unwrap()
    );
    assert_eq!(order.status(), OrderStatus::Pending);
    assert_eq!(order.payment().status, PaymentStatus::Authorized);
    assert_eq!(order.payment().pending, None);
}

#[test]
fn an_unanswered_call_keeps_its_claim_for_reconciliation() {
    let mut order = order(OrderStatus::Pending, PaymentStatus::Authorized);
    order.begin_change(cancel(), now()).unwrap();
    let claimed = order.clone();
    assert!(
        !order
            .settle_payment(GatewayOutcome::Unknown, now())
            .unwrap()
    );
    assert_eq!(order, claimed);
    assert!(
        order
            .settle_payment(
                GatewayOutcome::Approved {
                    reference: "v".into()
                },
                now()
            )
            .unwrap()
    );
    assert_eq!(order.status(), OrderStatus::Cancelled);
    assert_eq!(order.payment().status, PaymentStatus::Unpaid);
    assert_eq!(order.payment().authorized, Decimal::new(0, 2));
}

#[test]
fn a_placed_order_is_claimed_for_its_authorization() {
    let placed = {
        let mut order = order(OrderStatus::Pending, PaymentStatus::Unpaid);
        order
            .begin_payment(PaymentOperation::Authorize, now())
            .unwrap();
        order
    };
    let mut unknown = placed.clone();
    assert!(
        unknown
            .settle_payment(GatewayOutcome::Unknown, now())
            .unwrap()
    );
    assert_eq!(unknown.payment().status, PaymentStatus::Unknown);
    assert!(unknown.payment().pending.is_some(), "still to be settled");
    let mut declined = unknown.clone();
    declined
        .settle_payment(GatewayOutcome::Declined, now())
        .unwrap();
    assert_eq!(declined.payment().status, PaymentStatus::Failed);
    assert_eq!(declined.payment().pending, None);
    let mut approved = unknown;
    approved
        .settle_payment(
            GatewayOutcome::Approved {
                reference: "a".into(),
            },
            now(),
        )
        .unwrap();
    assert_eq!(approved.payment().status, PaymentStatus::Authorized);
    assert_eq!(approved.payment().authorized, Decimal::new(1000, 2));
}

/// The same moves for an order paid manually (docs/status.md, "Payments outside a gateway"):
/// worked on before the money arrives, completed only once paid.
#[test]
fn a_manual_orders_payment_decides_every_move_as_its_table_says() {
    use Expect::{Applies, Calls, Refused};
    use PaymentStatus::{Paid, PartiallyPaid, Unpaid};
    let table = [
        (Unpaid, Applies, Refused, Applies),
        (
            PartiallyPaid,
            Applies,
            Refused,
            Calls(PaymentOperation::Refund),
        ),
        (Paid, Applies, Applies, Calls(PaymentOperation::Refund)),
    ];
    for (payment, process, complete, cancelling) in table {
        for (from, change, expected) in [
            (OrderStatus::Pending, StatusChange::Process, process),
            (OrderStatus::Processing, StatusChange::Complete, complete),
            (OrderStatus::Pending, cancel(), cancelling),
        ] {
            let mut record = order(from, payment).to_record();
            record.provider = ordo_domain::PaymentProvider::Manual;
            if !record.payment.captured.is_zero() {
                record.recorded_payments = vec![ordo_domain::RecordedPayment {
                    id: uuid::Uuid::from_u128(1),
                    amount: record.payment.captured,
                    method: ordo_domain::PaymentMethod::BankTransfer,
                    reference: None,
                    received_at: now(),
                    recorded_by: "staff:s".into(),
                    recorded_at: now(),
                }];
            }
            let mut order = Order::restore(record).unwrap();
            let got = match order.begin_change(change.clone(), now()) {
                Ok(PaymentStep::Done) => Applies,
                Ok(PaymentStep::Call { operation, .. }) => Calls(operation),
                Err(ChangeError::Payment(PaymentError::WrongStatus { .. })) => Refused,
                Err(other) => panic!("{payment} / {change:?}: unexpected {other}"),
            };
            assert_eq!(got, expected, "manual {payment} × {change:?} from {from}");
        }
    }
}
