//! Reconciliation: settles what the gateway left unanswered or a stopped process left
//! claimed, asking again with the same keys.

use crate::events::Cause;
use crate::{GatewayReply, OrderService, ServiceError};

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
    /// Settles what the gateway left unanswered or a stopped process left claimed: asks again,
    /// with the same keys (so nothing moves twice), for every gateway call claimed on an order
    /// more than the claim grace ago (or whose authorization is `unknown`), and for pending
    /// refunds. Bounded: at most `RECONCILE_BATCH` of each per pass.
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
            match self
                .settle_claim(order, &Cause::system("reconciler"))
                .await?
            {
                (_, Some(GatewayReply::TimedOut)) => {
                    report.still_unknown = report.still_unknown.saturating_add(1);
                }
                _ => report.payments = report.payments.saturating_add(1),
            }
        }
        // Refunds as claims: younger ones may still be in their request's hands.
        for refund in self
            .orders
            .pending_refunds(RECONCILE_BATCH, claimed_before)
            .await?
        {
            // One refund that cannot be settled now (its order deleted meanwhile, another
            // replica settling it first) must not hold back the ones after it.
            let id = refund.id;
            let settled = match self.orders.get(refund.order_id).await {
                Ok(order) => {
                    self.settle_refund(order, refund, &Cause::system("reconciler"))
                        .await
                }
                Err(error) => Err(error.into()),
            };
            match settled {
                Ok((_, refund)) if refund.status == ordo_repository::RefundStatus::Pending => {
                    report.still_unknown = report.still_unknown.saturating_add(1);
                }
                Ok(_) | Err(ServiceError::PaymentDeclined { .. }) => {
                    report.refunds = report.refunds.saturating_add(1);
                }
                Err(error) => {
                    tracing::warn!(refund_id = %id, error = %error, "could not settle a pending refund: left for the next pass");
                    report.still_unknown = report.still_unknown.saturating_add(1);
                }
            }
        }
        Ok(report)
    }
}
