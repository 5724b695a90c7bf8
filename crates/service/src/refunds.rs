//! Refunds of captured money: reserved on the order by compare-and-set, paid under a key of
//! their own, settled or released.

use ordo_domain::{EventKind, LinePart, Order, OrderId, PaymentOperation};
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
        let reserve = |order: &mut Order, _: uuid::Uuid, now| {
            order
                .record_refund(amount, now)
                .map_err(ServiceError::Payment)?;
            // Checked to have at most the currency's decimals: written with exactly them.
            let mut amount = amount;
            amount.rescale(u32::from(order.pricing().rounding().minor_units()));
            Ok(amount)
        };
        self.reserve_and_pay(
            caller,
            order_id,
            ("ordo refund v1", &reason),
            EventKind::RefundRequested,
            reserve,
        )
        .await
    }

    /// Refunds some units of an order's lines (and shipping lines, whole): each worth its exact
    /// share of what was charged for it, discount and tax included
    /// ([`ordo_domain::Pricing::units_amount`]), so refunding every line refunds exactly the
    /// total; at most what is left to refund. Reserved, paid and settled as
    /// [`OrderService::refund`].
    ///
    /// # Errors
    /// As [`OrderService::refund`]; [`ServiceError::Validation`] naming a line with fewer
    /// units left to refund.
    pub async fn refund_lines(
        &self,
        caller: &crate::Caller,
        order_id: OrderId,
        parts: &[(LinePart, u32)],
        reason: ordo_domain::CancelReason,
    ) -> Result<(Order, ordo_repository::Refund), ServiceError> {
        let reserve = |order: &mut Order, id, now| {
            Ok(order
                .refund_lines(id, parts, now)
                .map_err(ServiceError::from)?
                .amount)
        };
        self.reserve_and_pay(
            caller,
            order_id,
            ("ordo refund v1", &reason),
            EventKind::RefundRequested,
            reserve,
        )
        .await
    }

    /// Reserves a refund on the order with `reserve` (which changes the order and says the
    /// amount) and the event of `kind`, by compare-and-set, read again whenever another write
    /// lands first; then pays and settles it. With an Idempotency-Key, the refund's id comes
    /// from it: a retry after a crash (the key's lease ran out) finds the refund the first
    /// attempt reserved and finishes that one, rather than reserving and paying a second
    /// (`refund`: what the key's id is made for, and the refund's reason).
    pub(crate) async fn reserve_and_pay(
        &self,
        caller: &crate::Caller,
        order_id: OrderId,
        refund: (&str, &ordo_domain::CancelReason),
        kind: EventKind,
        reserve: impl Fn(
            &mut Order,
            uuid::Uuid,
            chrono::DateTime<chrono::Utc>,
        ) -> Result<Decimal, ServiceError>,
    ) -> Result<(Order, ordo_repository::Refund), ServiceError> {
        let (label, reason) = refund;
        let mut attempts = 0_u32;
        let cause = Cause::from(caller);
        let keyed = caller
            .request()
            .1
            .map(|key| crate::ports::keyed_id(label, &caller.scope(), order_id, &key));
        if let Some(id) = keyed {
            match self.orders.refund(id).await {
                Ok(existing) => return self.resume_refund(caller, existing, &cause).await,
                Err(RepoError::NotFound) => {}
                Err(error) => return Err(error.into()),
            }
        }
        let id = keyed.unwrap_or_else(uuid::Uuid::new_v4);
        let (order, refund) = loop {
            attempts = attempts.saturating_add(1);
            let current = self.orders.get(order_id).await?;
            caller.check(crate::access::Action::Refund, current.customer_id())?;
            let mut reserved = current.clone();
            let amount = reserve(&mut reserved, id, self.clock.now())?;
            let refund = ordo_repository::Refund {
                id,
                order_id,
                amount,
                reason: reason.as_str().to_owned(),
                status: ordo_repository::RefundStatus::Pending,
                created_at: self.clock.now(),
            };
            let event = self.event(&cause, kind, &reserved)?;
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

    /// The refund an earlier attempt with the same key reserved: settled if still pending
    /// (the gateway's key is the refund's, so it pays once), else its outcome.
    async fn resume_refund(
        &self,
        caller: &crate::Caller,
        refund: ordo_repository::Refund,
        cause: &Cause,
    ) -> Result<(Order, ordo_repository::Refund), ServiceError> {
        use ordo_repository::RefundStatus;
        let order = self.orders.get(refund.order_id).await?;
        caller.check(crate::access::Action::Refund, order.customer_id())?;
        match refund.status {
            RefundStatus::Pending => self.settle_refund(order, refund, cause).await,
            RefundStatus::Succeeded => Ok((order, refund)),
            RefundStatus::Failed => Err(ServiceError::PaymentDeclined {
                order_id: order.id(),
            }),
        }
    }

    /// Calls the gateway for a pending refund and records the outcome, with its event showing
    /// the order as it is then: storage refuses to record it on a version the order has left
    /// (another refund, an edit, a move landed while the gateway answered), and the order is
    /// read again. A success leaves the order as it is (the reservation already counted the
    /// money); a refusal releases the reservation on it, by compare-and-set.
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
        let status = match reply {
            GatewayReply::Approved { .. } => RefundStatus::Succeeded,
            GatewayReply::Declined => RefundStatus::Failed,
            GatewayReply::TimedOut => return Ok((order, refund)),
        };
        let mut order = order;
        for _ in 0..RACE_RETRIES {
            let released = match status {
                RefundStatus::Failed => {
                    let mut released = order.clone();
                    // Its lines, and the return it closed, are released with it.
                    released
                        .release_refund(refund.id, refund.amount, self.clock.now())
                        .map_err(ServiceError::Payment)?;
                    Some(released)
                }
                RefundStatus::Succeeded | RefundStatus::Pending => None,
            };
            let (kind, shown) = match &released {
                Some(released) => (EventKind::RefundFailed, released),
                None => (EventKind::RefundSucceeded, &order),
            };
            let event = self.event(cause, kind, shown)?;
            let write = released
                .as_ref()
                .map(|released| (released, order.version()));
            match self
                .orders
                .settle_refund(refund.id, status, write, self.clock.now(), &event)
                .await
            {
                Ok(()) => {
                    if let Some(released) = released {
                        return Err(ServiceError::PaymentDeclined {
                            order_id: released.id(),
                        });
                    }
                    refund.status = status;
                    return Ok((order, refund));
                }
                Err(RepoError::VersionConflict { .. }) => {
                    order = self.orders.get(order.id()).await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        // Still pending: reconciliation asks the gateway again (the same key, the same answer)
        // and records it then.
        Err(ServiceError::Stale {
            current: order.version(),
        })
    }
}
