//! The payment gateway port, and the simulated gateway that implements it for tests and
//! demos.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ordo_domain::{Money, OrderId, PaymentOperation};
use ordo_repository::{GatewayLedger, LedgerEntry};
use rust_decimal::Decimal;

use crate::Clock;

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
    /// Takes `amount` of what was held. Capturing on shipment calls it once per shipment for
    /// one authorization, each under its own key: the gateway must keep the rest held.
    async fn capture(&self, key: &str, order: OrderId, amount: Money) -> GatewayReply;
    /// Releases what was held.
    async fn void(&self, key: &str, order: OrderId, amount: Money) -> GatewayReply;
    /// Gives back `amount` of what was taken.
    async fn refund(&self, key: &str, order: OrderId, amount: Money) -> GatewayReply;
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

/// The provider of orders paid outside a gateway (bank transfer, cash, an invoice): staff record
/// the money as it arrives, and give it back themselves. It holds nothing, so there is nothing
/// to authorize, capture or void (those calls are refused; ordo never makes them for a manual
/// order); a refund is approved at once, under a reference made from its key, so asking again
/// with the same key gives the same answer: the shop's people send the money back.
pub struct ManualGateway;

#[async_trait]
impl PaymentGateway for ManualGateway {
    async fn authorize(&self, _key: &str, order: OrderId, _amount: Money) -> GatewayReply {
        tracing::warn!(order_id = %order, "a manual order holds nothing to authorize");
        GatewayReply::Declined
    }

    async fn capture(&self, _key: &str, order: OrderId, _amount: Money) -> GatewayReply {
        tracing::warn!(order_id = %order, "a manual order holds nothing to capture");
        GatewayReply::Declined
    }

    async fn void(&self, _key: &str, order: OrderId, _amount: Money) -> GatewayReply {
        tracing::warn!(order_id = %order, "a manual order holds nothing to void");
        GatewayReply::Declined
    }

    async fn refund(&self, key: &str, _order: OrderId, _amount: Money) -> GatewayReply {
        GatewayReply::Approved {
            reference: format!("manual:{key}"),
        }
    }
}
