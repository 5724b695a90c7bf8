//! Payment: the gateway port, the simulated gateway, and the flows that move an order's money.
//!
//! No database transaction stays open across a gateway call: the order is stored first, then
//! the gateway is called with an idempotency key derived from the order (so a retry, even after
//! a crash, never charges twice), the call is audited, and the order is updated by
//! compare-and-set.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ordo_domain::{
    GatewayOutcome, Money, Order, OrderId, PaymentOperation, PaymentStatus, PaymentStep,
};
use ordo_repository::{AttemptOutcome, GatewayLedger, LedgerEntry, PaymentAttempt, RepoError};
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
    /// Calls the gateway under `key` and audits the call in `payment_attempts`.
    async fn pay_with_key(
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
        let money = Money::new(amount, order.pricing().currency)
            .map_err(|error| ServiceError::Internal(Box::new(error)))?;
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
    ) -> Result<(Order, Option<GatewayReply>), ServiceError> {
        let PaymentStep::Call { operation, amount } = order.pending_call() else {
            return Ok((order, None));
        };
        let key = format!("{}:{}", operation.as_str(), order.id());
        let (reply, attempt) = self.call_gateway(&order, operation, amount, &key).await?;
        let outcome = match &reply {
            GatewayReply::Approved { reference } => GatewayOutcome::Approved {
                reference: reference.clone(),
            },
            GatewayReply::Declined => GatewayOutcome::Declined,
            GatewayReply::TimedOut => GatewayOutcome::Unknown,
        };
        let mut settled = order.clone();
        if !settled.settle_payment(outcome, self.clock.now())? {
            self.audit(&attempt).await;
            return Ok((order, Some(reply)));
        }
        match self
            .orders
            .update_with_attempt(&settled, order.version(), &attempt)
            .await
        {
            Ok(()) => Ok((settled, Some(reply))),
            Err(RepoError::VersionConflict { current }) => {
                // Reconciliation may have settled the same claim meanwhile: with the same key
                // the gateway gave it the same answer, so its write stands.
                let now = self.orders.get(order.id()).await?;
                if now.payment().pending == order.payment().pending {
                    return Err(ServiceError::Stale { current });
                }
                Ok((now, Some(reply)))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Authorizes a new (or resumed) order's total, and captures it at once when so configured.
    /// A declined payment leaves the order stored with its payment failed; an unanswered one
    /// leaves it `unknown`, claimed, for reconciliation.
    ///
    /// # Errors
    /// [`ServiceError::PaymentDeclined`]; storage errors.
    pub(crate) async fn authorize(&self, order: Order) -> Result<Order, ServiceError> {
        let (mut order, _) = self.settle_claim(order).await?;
        if self.config.capture == CaptureMode::Immediately
            && order.payment().status == PaymentStatus::Authorized
            && order.payment().pending.is_none()
        {
            let expected = order.version();
            order.begin_payment(PaymentOperation::Capture, self.clock.now())?;
            self.orders.update(&order, expected).await?;
            let (captured, reply) = self.settle_claim(order).await?;
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

/// How often a refund re-reads its order after losing a compare-and-set race to another
/// refund before giving up with a 412 (each loss means another refund landed).
const RACE_RETRIES: u32 = 50;

/// The most claimed calls, and the most pending refunds, one reconciliation pass settles.
pub(crate) const RECONCILE_BATCH: u32 = 100;

/// What one reconciliation pass settled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Claimed gateway calls (authorizations, captures, voids) now settled.
    pub payments: usize,
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
        reason: ordo_domain::CancelReason,
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
            // Checked to have at most the currency's decimals: written with exactly them.
            let mut amount = amount;
            amount.rescale(u32::from(current.pricing().rounding.minor_units()));
            let refund = ordo_repository::Refund {
                id: uuid::Uuid::new_v4(),
                order_id,
                amount,
                reason: reason.as_str().to_owned(),
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
                Err(RepoError::VersionConflict { .. }) if attempts < RACE_RETRIES => {}
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
            .await?;
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
                for _ in 0..RACE_RETRIES {
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
                // Still pending: reconciliation asks the gateway again and releases it then.
                Err(ServiceError::Stale {
                    current: order.version(),
                })
            }
        }
    }

    /// Settles what the gateway left unanswered or a stopped process left claimed: asks again,
    /// with the same keys (so nothing moves twice), for every gateway call claimed on an order
    /// more than the claim grace ago (or whose authorization is `unknown`), and for pending
    /// refunds. Bounded: at most [`RECONCILE_BATCH`] of each per pass.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn reconcile(&self) -> Result<Reconciled, ServiceError> {
        let mut report = Reconciled::default();
        let claimed_before = self
            .clock
            .now()
            .checked_sub_signed(self.config.claim_grace)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        for order_id in self
            .orders
            .orders_with_pending_payment(RECONCILE_BATCH, claimed_before)
            .await?
        {
            let order = self.orders.get(order_id).await?;
            match self.settle_claim(order).await? {
                (_, Some(GatewayReply::TimedOut)) => {
                    report.still_unknown = report.still_unknown.saturating_add(1);
                }
                _ => report.payments = report.payments.saturating_add(1),
            }
        }
        for refund in self.orders.pending_refunds(RECONCILE_BATCH).await? {
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
