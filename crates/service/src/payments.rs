//! The flows that move an order's money: a gateway call claimed on the order, made, audited and
//! settled (the port and the simulated gateway are in `gateway.rs`, refunds in `refunds.rs`,
//! reconciliation in `reconcile.rs`).
//!
//! No database transaction stays open across a gateway call: the call is claimed on the order
//! by compare-and-set first, then made with an idempotency key derived from the order (so a
//! retry, even after a crash, never charges twice), then its outcome is written by
//! compare-and-set on the claimed version with its audit row.

use ordo_domain::{
    EventKind, GatewayOutcome, Money, Order, PaymentOperation, PaymentProvider, PaymentStatus,
    PaymentStep,
};
use ordo_repository::{AttemptOutcome, PaymentAttempt, RepoError};
use rust_decimal::Decimal;

use crate::events::Cause;
use crate::{CaptureMode, GatewayReply, OrderService, PaymentGateway, ServiceError};

/// The event a settled gateway call records.
fn settled_kind(operation: PaymentOperation, outcome: &GatewayOutcome) -> EventKind {
    match (outcome, operation) {
        (GatewayOutcome::Declined, _) => EventKind::PaymentFailed,
        (GatewayOutcome::Unknown, _) => EventKind::PaymentUnknown,
        (GatewayOutcome::Approved { .. }, PaymentOperation::Authorize) => {
            EventKind::PaymentAuthorized
        }
        (GatewayOutcome::Approved { .. }, PaymentOperation::Capture) => EventKind::PaymentCaptured,
        (GatewayOutcome::Approved { .. }, PaymentOperation::Void) => EventKind::PaymentVoided,
        (GatewayOutcome::Approved { .. }, PaymentOperation::Refund) => EventKind::RefundSucceeded,
    }
}

/// The idempotency key of the call claimed on `order`: one per order and operation, so asking
/// again never moves money twice. A shipment's capture is one of several: keyed by the
/// shipment too. Completing an order captured in part is keyed by what was captured before,
/// so a completion after another shipment's capture is a new call, not a repeat of a refused
/// one.
fn claim_key(order: &Order, operation: PaymentOperation) -> String {
    let (name, id) = (operation.as_str(), order.id());
    match order.claimed_shipment() {
        Some(shipment) => format!("{name}:{id}:{}", shipment.id),
        None if operation == PaymentOperation::Capture && !order.payment().captured.is_zero() => {
            format!("{name}:{id}:after:{}", order.payment().captured)
        }
        None => format!("{name}:{id}"),
    }
}

impl OrderService {
    /// Calls the gateway under `key` and audits the call in `payment_attempts`.
    pub(crate) async fn pay_with_key(
        &self,
        order: &Order,
        operation: PaymentOperation,
        amount: Decimal,
        key: &str,
    ) -> Result<GatewayReply, ServiceError> {
        let (reply, attempt) = self.call_gateway(order, operation, amount, key).await?;
        self.audit(&attempt).await;
        Ok(reply)
    }

    /// Audits a gateway call on its own; a failure is logged, not returned: the call happened.
    pub(crate) async fn audit(&self, attempt: &PaymentAttempt) {
        if let Err(error) = self.orders.record_payment_attempt(attempt).await {
            tracing::warn!(error = %error, order_id = %attempt.order_id, "could not audit a payment attempt");
        }
    }

    /// Calls the gateway under `key`: its reply, and the audit record of the call.
    async fn call_gateway(
        &self,
        order: &Order,
        operation: PaymentOperation,
        amount: Decimal,
        key: &str,
    ) -> Result<(GatewayReply, PaymentAttempt), ServiceError> {
        // Every amount an order holds is a valid amount of its currency: a failure is a bug,
        // and no money moves on it.
        let money = Money::new(amount, order.pricing().currency())
            .map_err(|error| ServiceError::Internal(Box::new(error)))?;
        // Each order's money goes through its own provider's port.
        let gateway: &dyn PaymentGateway = match order.payment_provider() {
            PaymentProvider::Gateway => &*self.gateway,
            PaymentProvider::Manual => &crate::gateway::ManualGateway,
        };
        let reply = match operation {
            PaymentOperation::Authorize => gateway.authorize(key, order.id(), money).await,
            PaymentOperation::Capture => gateway.capture(key, order.id(), money).await,
            PaymentOperation::Void => gateway.void(key, order.id(), money).await,
            PaymentOperation::Refund => gateway.refund(key, order.id(), money).await,
        };
        let (outcome, reference) = match &reply {
            GatewayReply::Approved { reference } => {
                (AttemptOutcome::Approved, Some(reference.clone()))
            }
            GatewayReply::Declined => (AttemptOutcome::Declined, None),
            GatewayReply::TimedOut => (AttemptOutcome::TimedOut, None),
        };
        let attempt = PaymentAttempt {
            id: uuid::Uuid::new_v4(),
            order_id: order.id(),
            operation,
            amount,
            outcome,
            reference,
            at: self.clock.now(),
        };
        tracing::info!(order_id = %order.id(), operation = operation.as_str(), outcome = outcome.as_str(), "payment call");
        metrics::counter!("ordo_payment_calls_total", "operation" => operation.as_str(), "outcome" => outcome.as_str())
            .increment(1);
        Ok((reply, attempt))
    }

    /// Makes the gateway call claimed on `order`, if any, and writes its outcome by
    /// compare-and-set on the claimed version, with the call's audit. The key is one per order
    /// and operation, so a retry, a resumed request or reconciliation asking again never moves
    /// money twice. Returns the order as it now is, and the gateway's reply when a call was
    /// made.
    ///
    /// A write that cannot land (the database is down, the process dies) leaves the claim in
    /// place for reconciliation, which asks again with the same key.
    ///
    /// # Errors
    /// Storage errors; [`ServiceError::Stale`] when another writer changed the order without
    /// settling this claim (which only a bug could do).
    pub(crate) async fn settle_claim(
        &self,
        order: Order,
        cause: &Cause,
    ) -> Result<(Order, Option<GatewayReply>), ServiceError> {
        let PaymentStep::Call { operation, amount } = order.pending_call() else {
            return Ok((order, None));
        };
        let key = claim_key(&order, operation);
        let (reply, attempt) = self.call_gateway(&order, operation, amount, &key).await?;
        let outcome = match &reply {
            GatewayReply::Approved { reference } => GatewayOutcome::Approved {
                reference: reference.clone(),
            },
            GatewayReply::Declined => GatewayOutcome::Declined,
            GatewayReply::TimedOut => GatewayOutcome::Unknown,
        };
        let kind = settled_kind(operation, &outcome);
        let mut settled = order.clone();
        if !settled.settle_payment(outcome, self.clock.now())? {
            self.audit(&attempt).await;
            return Ok((order, Some(reply)));
        }
        let event = self.event(cause, kind, &settled)?;
        match self
            .orders
            .update_with_attempt(&settled, order.version(), &attempt, &event)
            .await
        {
            Ok(()) => Ok((settled, Some(reply))),
            Err(RepoError::VersionConflict { current }) => {
                // Reconciliation may have settled the same claim meanwhile: with the same key
                // the gateway gave it the same answer, so its write stands.
                let now = self.orders.get(order.id()).await?;
                let shipment = |order: &Order| order.claimed_shipment().map(|f| f.id);
                if now.payment().pending == order.payment().pending
                    && shipment(&now) == shipment(&order)
                {
                    return Err(ServiceError::Stale { current });
                }
                Ok((now, Some(reply)))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// As [`OrderService::settle_claim`], for a request that claimed the call: the order as it
    /// then is, or the gateway's refusal ([`ServiceError::PaymentDeclined`]) or silence
    /// ([`ServiceError::PaymentUnavailable`]) as an error. What the claiming write recorded
    /// stands; a claim left unanswered is reconciliation's.
    ///
    /// # Errors
    /// Those two, and as [`OrderService::settle_claim`].
    pub(crate) async fn settle_or_refuse(
        &self,
        order: Order,
        cause: &Cause,
    ) -> Result<Order, ServiceError> {
        let order_id = order.id();
        let (order, reply) = self.settle_claim(order, cause).await?;
        match reply {
            Some(GatewayReply::Declined) => Err(ServiceError::PaymentDeclined { order_id }),
            Some(GatewayReply::TimedOut) => Err(ServiceError::PaymentUnavailable),
            Some(GatewayReply::Approved { .. }) | None => Ok(order),
        }
    }

    /// Authorizes a new (or resumed) order's total, and captures it at once when so configured.
    /// A declined payment leaves the order stored with its payment failed; an unanswered one
    /// leaves it `unknown`, claimed, for reconciliation.
    ///
    /// # Errors
    /// [`ServiceError::PaymentDeclined`]; storage errors.
    pub(crate) async fn authorize(
        &self,
        order: Order,
        cause: &Cause,
    ) -> Result<Order, ServiceError> {
        let (mut order, _) = self.settle_claim(order, cause).await?;
        if self.config.capture == CaptureMode::Immediately
            && order.payment().status == PaymentStatus::Authorized
            && order.payment().pending.is_none()
        {
            let expected = order.version();
            order.begin_payment(PaymentOperation::Capture, self.clock.now())?;
            let event = self.event(cause, EventKind::PaymentRequested, &order)?;
            self.orders.update(&order, expected, &event).await?;
            let (captured, reply) = self.settle_claim(order, cause).await?;
            if reply == Some(GatewayReply::Declined) {
                return Err(ServiceError::PaymentDeclined {
                    order_id: captured.id(),
                });
            }
            order = captured;
        }
        if order.payment().status == PaymentStatus::Failed {
            return Err(ServiceError::PaymentDeclined {
                order_id: order.id(),
            });
        }
        Ok(order)
    }
}
