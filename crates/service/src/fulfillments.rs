//! Fulfilments: made and moved on the order by compare-and-set, each with its event.

use std::sync::atomic::{AtomicBool, Ordering};

use ordo_domain::{
    EventKind, FulfillmentDraft, FulfillmentError, FulfillmentId, FulfillmentState, NewFulfillment,
    Order, OrderId, PaymentStep, Tracking, Version,
};
use ordo_repository::RepoError;

use crate::access::Action;
use crate::events::Cause;
use crate::ports::{keyed_id, v7_parts};
use crate::{Caller, OrderService, ServiceError};

/// How often a fulfilment re-reads its order after losing a compare-and-set race (each loss
/// means another write landed; of 32 racing for the units of one line, none loses more than
/// there are units).
const RACE_RETRIES: u32 = 50;

impl OrderService {
    /// Fulfils some units of an order's lines. With `expected`, only at that version (else
    /// [`ServiceError::Stale`]); without, the order is read again and the units checked again
    /// whenever another write lands first, so racing fulfilments never hold more units than
    /// were ordered. The fulfilment that leaves nothing to fulfil completes the order, and
    /// captures an authorization as completing does.
    ///
    /// With an Idempotency-Key the fulfilment's id comes from it: a retry after a crash finds
    /// the fulfilment the first attempt made instead of making a second.
    ///
    /// # Errors
    /// [`ServiceError::Validation`] naming the line that has not enough units left;
    /// [`ServiceError::Fulfillment`]; [`ServiceError::Forbidden`] for customers; storage errors.
    #[tracing::instrument(skip_all, fields(order_id = %order_id), err(level = "debug"))]
    pub async fn fulfil(
        &self,
        caller: &Caller,
        order_id: OrderId,
        draft: &FulfillmentDraft,
        expected: Option<Version>,
    ) -> Result<(Order, FulfillmentId), ServiceError> {
        let cause = Cause::from(caller);
        let id = if let Some(key) = caller.request().1 {
            FulfillmentId::from_uuid(keyed_id(
                "ordo fulfillment v1",
                &caller.scope(),
                order_id,
                &key,
            ))
        } else {
            let (millis, random) = v7_parts(self.clock.now());
            FulfillmentId::from_parts(millis, &random)
        };
        let mut attempts = 0_u32;
        let order = loop {
            attempts = attempts.saturating_add(1);
            let current = self.orders.get(order_id).await?;
            caller.check(Action::Fulfil, current.customer_id())?;
            if current.fulfillment(id).is_some() {
                // A retry of a keyed request that landed: finish the completion its first run
                // claimed, if that is still in flight, as reconciliation would (not another
                // request's claim).
                let completing = current.payment().pending.as_ref().is_some_and(|pending| {
                    pending.change == Some(ordo_domain::StatusChange::Complete)
                });
                if !completing {
                    return Ok((current, id));
                }
                break current;
            }
            if let Some(expected) = expected
                && expected != current.version()
            {
                return Err(ServiceError::Stale {
                    current: current.version(),
                });
            }
            let new = NewFulfillment::parse(draft)?;
            let mut changed = current.clone();
            let step = changed
                .fulfil(id, new, self.config.capture, self.clock.now())
                .map_err(ServiceError::from)?;
            let event = self.event(&cause, EventKind::FulfillmentCreated, &changed)?;
            match self
                .orders
                .update(&changed, current.version(), &event)
                .await
            {
                Ok(()) if step == PaymentStep::Done => return Ok((changed, id)),
                Ok(()) => break changed,
                Err(RepoError::VersionConflict { .. })
                    if expected.is_none() && attempts < RACE_RETRIES => {}
                Err(error) => return Err(error.into()),
            }
        };
        // The last units completed the order, claiming its capture: settled as completing is.
        let order = self.settle_or_refuse(order, &cause).await?;
        Ok((order, id))
    }

    /// Moves a fulfilment to shipped, delivered or cancelled, replacing the parts of its
    /// tracking that are given. With `expected`, only at that version; without, again on a
    /// newer version while the move still applies. Capturing on shipment, shipping captures
    /// what has now shipped (the shipment is recorded first: goods that left have left, and a
    /// refused capture is owed still, taken by the next shipment or by completing).
    ///
    /// # Errors
    /// [`ServiceError::Fulfillment`] (no such fulfilment, a move its state does not allow);
    /// [`ServiceError::Forbidden`]; [`ServiceError::Stale`]; storage errors.
    #[tracing::instrument(skip_all, fields(order_id = %order_id, to = %to), err(level = "debug"))]
    pub async fn move_fulfillment(
        &self,
        caller: &Caller,
        order_id: OrderId,
        id: FulfillmentId,
        to: FulfillmentState,
        tracking: Tracking,
        expected: Option<Version>,
    ) -> Result<Order, ServiceError> {
        let kind = match to {
            FulfillmentState::Shipped => EventKind::FulfillmentShipped,
            FulfillmentState::Delivered => EventKind::FulfillmentDelivered,
            FulfillmentState::Cancelled => EventKind::FulfillmentCancelled,
            FulfillmentState::Created => {
                return Err(FulfillmentError::IllegalMove {
                    from: FulfillmentState::Created,
                    to,
                    allowed: Vec::new(),
                }
                .into());
            }
        };
        // A repeat of a move that landed (a retry after a timeout) writes nothing: it answers
        // the order as it is, finishing its shipment's capture if that is still in flight.
        let repeated = AtomicBool::new(false);
        let order = self
            .write_part(
                caller,
                order_id,
                expected,
                (Action::Fulfil, kind),
                |order, now| {
                    let made = order.fulfillment_made(id, to, &tracking);
                    repeated.store(made, Ordering::Relaxed);
                    if made {
                        return Ok(false);
                    }
                    order
                        .move_fulfillment(id, to, tracking.clone(), self.config.capture, now)
                        .map(|_| true)
                },
            )
            .await?;
        let ours = !repeated.load(Ordering::Relaxed)
            || order.claimed_shipment().is_some_and(|f| f.id == id);
        if !ours {
            return Ok(order);
        }
        self.settle_or_refuse(order, &Cause::from(caller)).await
    }

    /// Replaces the given parts of a fulfilment's tracking (a carrier's number known later).
    /// The same tracking again writes nothing.
    ///
    /// # Errors
    /// As [`OrderService::move_fulfillment`].
    pub async fn change_tracking(
        &self,
        caller: &Caller,
        order_id: OrderId,
        id: FulfillmentId,
        tracking: Tracking,
        expected: Option<Version>,
    ) -> Result<Order, ServiceError> {
        self.write_part(
            caller,
            order_id,
            expected,
            (Action::Fulfil, EventKind::FulfillmentTrackingUpdated),
            |order, now| order.change_tracking(id, tracking.clone(), now),
        )
        .await
    }

    /// One change of an order's fulfilments or returns, read again and redone when another
    /// write lands first (unless the caller named a version). `change` says whether it changed
    /// anything.
    pub(crate) async fn write_part<E: Into<ServiceError>>(
        &self,
        caller: &Caller,
        order_id: OrderId,
        expected: Option<Version>,
        (action, kind): (Action, EventKind),
        change: impl Fn(&mut Order, chrono::DateTime<chrono::Utc>) -> Result<bool, E>,
    ) -> Result<Order, ServiceError> {
        let cause = Cause::from(caller);
        let mut attempts = 0_u32;
        loop {
            attempts = attempts.saturating_add(1);
            let current = self.orders.get(order_id).await?;
            caller.check(action, current.customer_id())?;
            if let Some(expected) = expected
                && expected != current.version()
            {
                return Err(ServiceError::Stale {
                    current: current.version(),
                });
            }
            let mut changed = current.clone();
            if !change(&mut changed, self.clock.now()).map_err(Into::into)? {
                return Ok(current);
            }
            let event = self.event(&cause, kind, &changed)?;
            match self
                .orders
                .update(&changed, current.version(), &event)
                .await
            {
                Ok(()) => return Ok(changed),
                Err(RepoError::VersionConflict { .. })
                    if expected.is_none() && attempts < RACE_RETRIES => {}
                Err(error) => return Err(error.into()),
            }
        }
    }
}
