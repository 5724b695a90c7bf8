//! Payment: the gateway port, the simulated gateway, and the flows that move an order's money.
//!
//! No database transaction stays open across a gateway call: the order is stored first, then
//! the gateway is called with an idempotency key derived from the order (so a retry, even after
//! a crash, never charges twice), the call is audited, and the order is updated by
//! compare-and-set.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ordo_domain::{AuthorizationOutcome, Money, Order, OrderId, PaymentError, PaymentStatus};
use ordo_repository::{
    AttemptOutcome, GatewayLedger, LedgerEntry, PaymentAttempt, PaymentOperation, RepoError,
};
use rust_decimal::Decimal;

use crate::{Clock, OrderService, ServiceError};

/// What a payment gateway answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayReply {
    /// Done, under this reference.
    Approved {
        /// The gateway's id for the operation.
        reference: String,
    },
    /// Refused.
    Declined,
    /// No answer in time: it may or may not have happened. Ask again with the same key.
    TimedOut,
}

/// A payment gateway. Every call carries an idempotency key: the gateway answers a repeated key
/// with the first outcome and moves no money twice.
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Holds `amount` for `order`.
    async fn authorize(&self, key: &str, order: OrderId, amount: Money) -> GatewayReply;
    /// Takes `amount` of what was held.
    async fn capture(&self, key: &str, order: OrderId, amount: Money) -> GatewayReply;
    /// Releases what was held.
    async fn void(&self, key: &str, order: OrderId, amount: Money) -> GatewayReply;
    /// Gives back `amount` of what was taken.
    async fn refund(&self, key: &str, order: OrderId, amount: Money) -> GatewayReply;
}

/// When captured money is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaptureMode {
    /// When the order moves to completed (the default: charge for what ships).
    #[default]
    OnCompletion,
    /// Right after the authorization.
    Immediately,
}

/// A gateway for tests and demos, with rules chosen by the amount's cents on authorization:
/// `.02` is declined; `.05` is approved but the answer "times out" (so reconciliation has work);
/// anything else is approved. It keeps a durable ledger in its own table, deduplicates by
/// idempotency key like a real gateway, and waits `latency` per call.
pub struct SimulatedGateway {
    ledger: Arc<dyn GatewayLedger>,
    clock: Arc<dyn Clock>,
    latency: Duration,
}

impl SimulatedGateway {
    /// A simulated gateway keeping its books in `ledger`.
    pub fn new(ledger: Arc<dyn GatewayLedger>, clock: Arc<dyn Clock>, latency: Duration) -> Self {
        Self {
            ledger,
            clock,
            latency,
        }
    }

    async fn call(
        &self,
        operation: PaymentOperation,
        key: &str,
        order: OrderId,
        amount: Money,
    ) -> GatewayReply {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let cents = amount
            .amount()
            .fract()
            .checked_mul(Decimal::ONE_HUNDRED)
            .map(|c| c.trunc());
        let rule = if operation == PaymentOperation::Authorize {
            cents
        } else {
            None
        };
        let entry = LedgerEntry {
            key: key.to_owned(),
            operation,
            order_id: order,
            amount: amount.amount(),
            approved: rule != Some(Decimal::TWO),
            reference: format!(
                "sim_{}_{}",
                operation.as_str(),
                uuid::Uuid::new_v4().simple()
            ),
            at: self.clock.now(),
        };
        match self.ledger.remember(&entry).await {
            // The first time a ".05" authorization is seen, the answer is "lost".
            Ok(kept) if kept == entry && rule == Some(Decimal::new(5, 0)) => GatewayReply::TimedOut,
            Ok(kept) if kept.approved => GatewayReply::Approved {
                reference: kept.reference,
            },
            Ok(_) => GatewayReply::Declined,
            Err(error) => {
                tracing::warn!(error = %error, "simulated gateway could not reach its ledger");
                GatewayReply::TimedOut
            }
        }
    }
}

#[async_trait]
impl PaymentGateway for SimulatedGateway {
    async fn authorize(&self, key: &str, order: OrderId, amount: Money) -> GatewayReply {
        self.call(PaymentOperation::Authorize, key, order, amount)
            .await
    }
    async fn capture(&self, key: &str, order: OrderId, amount: Money) -> GatewayReply {
        self.call(PaymentOperation::Capture, key, order, amount)
            .await
    }
    async fn void(&self, key: &str, order: OrderId, amount: Money) -> GatewayReply {
        self.call(PaymentOperation::Void, key, order, amount).await
    }
    async fn refund(&self, key: &str, order: OrderId, amount: Money) -> GatewayReply {
        self.call(PaymentOperation::Refund, key, order, amount)
            .await
    }
}

impl OrderService {
    /// Calls the gateway for `operation` on `order`. The key is one per order and operation,
    /// so retries and resumed requests reuse it. The call's audit record is returned, not yet
    /// written: [`OrderService::write_payment`] writes it with the order, or
    /// [`OrderService::audit`] alone.
    pub(crate) async fn pay(
        &self,
        order: &Order,
        operation: PaymentOperation,
        amount: Decimal,
    ) -> (GatewayReply, PaymentAttempt) {
        let key = format!("{}:{}", operation.as_str(), order.id());
        self.call_gateway(order, operation, amount, &key).await
    }

    /// Calls the gateway under `key` and audits the call in `payment_attempts`.
    async fn pay_with_key(
        &self,
        order: &Order,
        operation: PaymentOperation,
        amount: Decimal,
        key: &str,
    ) -> GatewayReply {
        let (reply, attempt) = self.call_gateway(order, operation, amount, key).await;
        self.audit(&attempt).await;
        reply
    }

    /// Audits a gateway call on its own; a failure is logged, not returned: the call happened.
    pub(crate) async fn audit(&self, attempt: &PaymentAttempt) {
        if let Err(error) = self.orders.record_payment_attempt(attempt).await {
            tracing::warn!(error = %error, order_id = %attempt.order_id, "could not audit a payment attempt");
        }
    }

    /// Audits a capture, void or refund the gateway did not approve, and says why it failed.
    async fn refused(&self, attempt: &PaymentAttempt, reply: &GatewayReply) -> ServiceError {
        self.audit(attempt).await;
        match reply {
            GatewayReply::TimedOut => ServiceError::PaymentUnavailable,
            _ => ServiceError::PaymentDeclined {
                order_id: attempt.order_id,
            },
        }
    }

    /// Calls the gateway under `key`: its reply, and the audit record of the call.
    async fn call_gateway(
        &self,
        order: &Order,
        operation: PaymentOperation,
        amount: Decimal,
        key: &str,
    ) -> (GatewayReply, PaymentAttempt) {
        let money = Money::new(amount, order.pricing().currency)
            .unwrap_or_else(|_| Money::zero(order.pricing().currency));
        let reply = match operation {
            PaymentOperation::Authorize => self.gateway.authorize(key, order.id(), money).await,
            PaymentOperation::Capture => self.gateway.capture(key, order.id(), money).await,
            PaymentOperation::Void => self.gateway.void(key, order.id(), money).await,
            PaymentOperation::Refund => self.gateway.refund(key, order.id(), money).await,
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
        (reply, attempt)
    }

    /// Authorizes a new (or resumed) order's total, and captures it at once when so configured.
    /// A declined payment leaves the order stored with its payment failed.
    ///
    /// # Errors
    /// [`ServiceError::PaymentDeclined`]; storage errors.
    pub(crate) async fn authorize(&self, mut order: Order) -> Result<Order, ServiceError> {
        if matches!(
            order.payment().status,
            PaymentStatus::Unpaid | PaymentStatus::Unknown
        ) {
            let (reply, attempt) = self
                .pay(&order, PaymentOperation::Authorize, order.pricing().total)
                .await;
            let outcome = match reply {
                GatewayReply::Approved { reference } => {
                    AuthorizationOutcome::Approved { reference }
                }
                GatewayReply::Declined => AuthorizationOutcome::Declined,
                GatewayReply::TimedOut => AuthorizationOutcome::Unknown,
            };
            order = self
                .write_payment(order, Some(attempt), |order, now| {
                    order.record_authorization(outcome.clone(), now)
                })
                .await?;
        }
        if self.config.capture == CaptureMode::Immediately
            && order.payment().status == PaymentStatus::Authorized
        {
            order = self.capture(order).await?;
        }
        if order.payment().status == PaymentStatus::Failed {
            return Err(ServiceError::PaymentDeclined {
                order_id: order.id(),
            });
        }
        Ok(order)
    }

    /// Captures an authorized order's money.
    pub(crate) async fn capture(&self, order: Order) -> Result<Order, ServiceError> {
        let (reply, attempt) = self
            .pay(
                &order,
                PaymentOperation::Capture,
                order.payment().authorized,
            )
            .await;
        match reply {
            GatewayReply::Approved { .. } => {
                self.write_payment(order, Some(attempt), Order::record_capture)
                    .await
            }
            refused => Err(self.refused(&attempt, &refused).await),
        }
    }

    /// Gives the money back before a cancellation: voids an authorization, refunds a capture.
    pub(crate) async fn release_payment(&self, order: Order) -> Result<Order, ServiceError> {
        let (operation, amount) = match order.payment().status {
            PaymentStatus::Authorized => (PaymentOperation::Void, order.payment().authorized),
            PaymentStatus::Paid | PaymentStatus::PartiallyRefunded => {
                (PaymentOperation::Refund, order.payment().refundable())
            }
            _ => return Ok(order),
        };
        let (reply, attempt) = self.pay(&order, operation, amount).await;
        match reply {
            GatewayReply::Approved { .. } if operation == PaymentOperation::Void => {
                self.write_payment(order, Some(attempt), Order::record_void)
                    .await
            }
            GatewayReply::Approved { .. } => {
                self.write_payment(order, Some(attempt), move |order, now| {
                    order.record_refund(amount, now)
                })
                .await
            }
            refused => Err(self.refused(&attempt, &refused).await),
        }
    }

    /// Applies a payment change and writes it by compare-and-set, re-reading the order when
    /// someone else changed it meanwhile. The gateway call's `attempt` is audited with the
    /// first write (in the same statement where the store can), or alone if none is made.
    async fn write_payment(
        &self,
        mut order: Order,
        mut attempt: Option<PaymentAttempt>,
        change: impl Fn(&mut Order, chrono::DateTime<chrono::Utc>) -> Result<(), PaymentError>,
    ) -> Result<Order, ServiceError> {
        for _ in 0..5 {
            let expected = order.version();
            let mut changed = order.clone();
            if let Err(error) = change(&mut changed, self.clock.now()) {
                // Someone settled it first (a reconciliation, a concurrent request): keep theirs.
                tracing::info!(order_id = %order.id(), error = %error, "payment already moved on");
                if let Some(attempt) = attempt.take() {
                    self.audit(&attempt).await;
                }
                return Ok(order);
            }
            // The audit goes with the first try only: it is written whether or not that try's
            // compare-and-set matches.
            let written = match attempt.take() {
                Some(attempt) => {
                    self.orders
                        .update_with_attempt(&changed, expected, &attempt)
                        .await
                }
                None => self.orders.update(&changed, expected).await,
            };
            match written {
                Ok(()) => return Ok(changed),
                Err(RepoError::VersionConflict { .. }) => {
                    order = self.orders.get(order.id()).await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(ServiceError::Stale {
            current: order.version(),
        })
    }
}

/// What one reconciliation pass settled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Orders whose unknown authorization is now known.
    pub authorizations: usize,
    /// Pending refunds now succeeded or failed.
    pub refunds: usize,
    /// Items still unsettled (the gateway still did not answer).
    pub still_unknown: usize,
}

impl OrderService {
    /// Refunds `amount` of an order's captured money. The refund is reserved on the order by
    /// compare-and-set first (so concurrent refunds never pass what was captured), then the
    /// gateway is called with a key derived from the refund, then the refund is settled; a
    /// refusal releases the reservation, a timeout leaves the refund pending for
    /// reconciliation.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Forbidden`] for customers;
    /// [`ServiceError::Payment`] when the order is not paid or the amount is not refundable;
    /// [`ServiceError::PaymentDeclined`]; storage errors.
    pub async fn refund(
        &self,
        caller: &crate::Caller,
        order_id: OrderId,
        amount: Decimal,
        reason: String,
    ) -> Result<(Order, ordo_repository::Refund), ServiceError> {
        let mut attempts = 0_u32;
        let (order, refund) = loop {
            attempts = attempts.saturating_add(1);
            let current = self.orders.get(order_id).await?;
            caller.check(crate::access::Action::Refund, current.customer_id())?;
            let mut reserved = current.clone();
            reserved
                .record_refund(amount, self.clock.now())
                .map_err(ServiceError::Payment)?;
            let refund = ordo_repository::Refund {
                id: uuid::Uuid::new_v4(),
                order_id,
                amount,
                reason: reason.clone(),
                status: ordo_repository::RefundStatus::Pending,
                created_at: self.clock.now(),
            };
            match self
                .orders
                .reserve_refund(&reserved, current.version(), &refund)
                .await
            {
                Ok(()) => break (reserved, refund),
                // Another refund (or change) won the race: read again and re-check the amount.
                Err(RepoError::VersionConflict { .. }) if attempts < 50 => {}
                Err(error) => return Err(error.into()),
            }
        };
        self.settle_refund(order, refund).await
    }

    /// Calls the gateway for a pending refund and records the outcome.
    async fn settle_refund(
        &self,
        order: Order,
        mut refund: ordo_repository::Refund,
    ) -> Result<(Order, ordo_repository::Refund), ServiceError> {
        use ordo_repository::RefundStatus;
        // One key per refund: a refund retried by reconciliation never pays out twice.
        let key = format!("refund:{}", refund.id);
        let reply = self
            .pay_with_key(&order, PaymentOperation::Refund, refund.amount, &key)
            .await;
        match reply {
            GatewayReply::Approved { .. } => {
                self.orders
                    .settle_refund(refund.id, RefundStatus::Succeeded, None, self.clock.now())
                    .await?;
                refund.status = RefundStatus::Succeeded;
                Ok((order, refund))
            }
            GatewayReply::TimedOut => Ok((order, refund)),
            GatewayReply::Declined => {
                // Release the reservation on the order, by compare-and-set, with the refund.
                let mut order = order;
                loop {
                    let mut released = order.clone();
                    released
                        .revert_refund(refund.amount, self.clock.now())
                        .map_err(ServiceError::Payment)?;
                    match self
                        .orders
                        .settle_refund(
                            refund.id,
                            RefundStatus::Failed,
                            Some((&released, order.version())),
                            self.clock.now(),
                        )
                        .await
                    {
                        Ok(()) => {
                            return Err(ServiceError::PaymentDeclined {
                                order_id: released.id(),
                            });
                        }
                        Err(RepoError::VersionConflict { .. }) => {
                            order = self.orders.get(order.id()).await?;
                        }
                        Err(error) => return Err(error.into()),
                    }
                }
            }
        }
    }

    /// Settles what the gateway left unanswered: asks again, with the same keys (so nothing
    /// moves twice), for orders whose payment is unknown and for pending refunds.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn reconcile(&self) -> Result<Reconciled, ServiceError> {
        let mut report = Reconciled::default();
        for order_id in self.orders.orders_with_unknown_payment(100).await? {
            let order = self.orders.get(order_id).await?;
            let settled = match self.authorize(order).await {
                Ok(order) => order.payment().status != PaymentStatus::Unknown,
                Err(ServiceError::PaymentDeclined { .. }) => true,
                Err(error) => return Err(error),
            };
            if settled {
                report.authorizations = report.authorizations.saturating_add(1);
            } else {
                report.still_unknown = report.still_unknown.saturating_add(1);
            }
        }
        for refund in self.orders.pending_refunds(100).await? {
            let order = self.orders.get(refund.order_id).await?;
            match self.settle_refund(order, refund).await {
                Ok((_, refund)) if refund.status == ordo_repository::RefundStatus::Pending => {
                    report.still_unknown = report.still_unknown.saturating_add(1);
                }
                Ok(_) | Err(ServiceError::PaymentDeclined { .. }) => {
                    report.refunds = report.refunds.saturating_add(1);
                }
                Err(error) => return Err(error),
            }
        }
        Ok(report)
    }
}
