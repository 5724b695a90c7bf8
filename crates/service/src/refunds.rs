//! Refunds of captured money: reserved on the order by compare-and-set, paid under a key of
//! their own, settled or released.

use ordo_domain::{EventKind, Order, OrderId, PaymentOperation};
use ordo_repository::RepoError;
use rust_decimal::Decimal;

use crate::events::Cause;
use crate::{GatewayReply, OrderService, ServiceError};

/// How often a refund re-reads its order after losing a compare-and-set race to another
/// refund before giving up with a 412 (each loss means another refund landed).
const RACE_RETRIES: u32 = 50;

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
        let cause = Cause::from(caller);
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
            amount.rescale(u32::from(current.pricing().rounding().minor_units()));
            let refund = ordo_repository::Refund {
                id: uuid::Uuid::new_v4(),
                order_id,
                amount,
                reason: reason.as_str().to_owned(),
                status: ordo_repository::RefundStatus::Pending,
                created_at: self.clock.now(),
            };
            let event = self.event(&cause, EventKind::RefundRequested, &reserved)?;
            match self
                .orders
                .reserve_refund(&reserved, current.version(), &refund, &event)
                .await
            {
                Ok(()) => break (reserved, refund),
                // Another refund (or change) won the race: read again and re-check the amount.
                Err(RepoError::VersionConflict { .. }) if attempts < RACE_RETRIES => {}
                Err(error) => return Err(error.into()),
            }
        };
        self.settle_refund(order, refund, &cause).await
    }

    /// Calls the gateway for a pending refund and records the outcome.
    pub(crate) async fn settle_refund(
        &self,
        order: Order,
        mut refund: ordo_repository::Refund,
        cause: &Cause,
    ) -> Result<(Order, ordo_repository::Refund), ServiceError> {
        use ordo_repository::RefundStatus;
        // One key per refund: a refund retried by reconciliation never pays out twice.
        let key = format!("refund:{}", refund.id);
        let reply = self
            .pay_with_key(&order, PaymentOperation::Refund, refund.amount, &key)
            .await?;
        match reply {
            GatewayReply::Approved { .. } => {
                let event = self.event(cause, EventKind::RefundSucceeded, &order)?;
                self.orders
                    .settle_refund(
                        refund.id,
                        RefundStatus::Succeeded,
                        None,
                        self.clock.now(),
                        &event,
                    )
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
                    let event = self.event(cause, EventKind::RefundFailed, &released)?;
                    match self
                        .orders
                        .settle_refund(
                            refund.id,
                            RefundStatus::Failed,
                            Some((&released, order.version())),
                            self.clock.now(),
                            &event,
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
}
