//! Returns: asked for, received and closed on the order by compare-and-set, each with its event;
//! closing with a refund reserves the refund of the returned units in the same write.

use ordo_domain::{
    EventKind, NewReturn, Order, OrderId, PaymentDraft, ReturnDraft, ReturnError, ReturnId,
};

use crate::access::Action;
use crate::ports::{keyed_id, v7_parts};
use crate::{Caller, OrderService, ServiceError};

/// How a return is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnClose {
    /// Refused: its units count as the customer's again.
    Rejected,
    /// Refunded: its units, and with `shipping` every shipping line not yet refunded.
    Refunded {
        /// Whether shipping is refunded too.
        shipping: bool,
        /// Why, for the refund's record.
        reason: ordo_domain::CancelReason,
    },
}

impl OrderService {
    /// Asks to return some shipped units of an order: at most what each line has shipped and
    /// not yet returned, however many requests race. Staff, admins and keys with
    /// `orders:write` (support records the customer's request).
    ///
    /// # Errors
    /// [`ServiceError::Validation`]; [`ServiceError::Return`]; [`ServiceError::Forbidden`];
    /// storage errors.
    pub async fn request_return(
        &self,
        caller: &Caller,
        order_id: OrderId,
        draft: &ReturnDraft,
    ) -> Result<(Order, ReturnId), ServiceError> {
        let id = if let Some(key) = caller.request().1 {
            ReturnId::from_uuid(keyed_id("ordo return v1", &caller.scope(), order_id, &key))
        } else {
            let (millis, random) = v7_parts(self.clock.now());
            ReturnId::from_parts(millis, &random)
        };
        let order = self
            .write_part::<ReturnError>(
                caller,
                order_id,
                None,
                (Action::Fulfil, EventKind::ReturnRequested),
                |order, now| {
                    if order.return_of(id).is_some() {
                        // A retry of a keyed request that landed: nothing more to write.
                        return Ok(false);
                    }
                    // Checked once the caller may act on the order (a stranger gets 404).
                    let new = NewReturn::parse(draft)?;
                    order.request_return(id, new, now)?;
                    Ok(true)
                },
            )
            .await?;
        Ok((order, id))
    }

    /// The shop has a return's units back.
    ///
    /// # Errors
    /// As [`OrderService::request_return`].
    pub async fn receive_return(
        &self,
        caller: &Caller,
        order_id: OrderId,
        id: ReturnId,
    ) -> Result<Order, ServiceError> {
        self.write_part(
            caller,
            order_id,
            None,
            (Action::Fulfil, EventKind::ReturnReceived),
            |order, now| order.receive_return(id, now).map(|()| true),
        )
        .await
    }

    /// Closes a return: rejected, or refunded (the refund of its units reserved in the same
    /// write, then paid and settled as [`OrderService::refund_lines`]).
    ///
    /// # Errors
    /// As [`OrderService::request_return`], and for a refund as [`OrderService::refund`].
    pub async fn close_return(
        &self,
        caller: &Caller,
        order_id: OrderId,
        id: ReturnId,
        close: ReturnClose,
    ) -> Result<(Order, Option<ordo_repository::Refund>), ServiceError> {
        match close {
            ReturnClose::Rejected => {
                let order = self
                    .write_part(
                        caller,
                        order_id,
                        None,
                        (Action::Fulfil, EventKind::ReturnClosed),
                        |order, now| order.reject_return(id, now).map(|()| true),
                    )
                    .await?;
                Ok((order, None))
            }
            ReturnClose::Refunded { shipping, reason } => {
                let reserve = |order: &mut Order, refund, now| {
                    let refunded = order
                        .refund_return(id, refund, shipping, now)
                        .map_err(ServiceError::from)?;
                    Ok(refunded.amount)
                };
                let (order, refund) = self
                    .reserve_and_pay(
                        caller,
                        order_id,
                        (&format!("ordo return refund v1 {id}"), &reason),
                        EventKind::ReturnClosed,
                        reserve,
                    )
                    .await?;
                Ok((order, Some(refund)))
            }
        }
    }

    /// Records a payment of an order paid manually (a bank transfer arrived, cash was taken):
    /// the amounts add up and the payment status follows; the payment that pays in full a
    /// processing order with everything fulfilled completes it. With an Idempotency-Key a
    /// retry after a crash finds the payment its first run recorded instead of recording it
    /// twice.
    ///
    /// # Errors
    /// [`ServiceError::Validation`] (amount, method, reference); [`ServiceError::Payment`]
    /// when the order is not paid manually, is paid already or cancelled;
    /// [`ServiceError::Forbidden`]; storage errors.
    pub async fn record_payment(
        &self,
        caller: &Caller,
        order_id: OrderId,
        draft: &PaymentDraft,
        expected: Option<ordo_domain::Version>,
    ) -> Result<Order, ServiceError> {
        let id = match caller.request().1 {
            Some(key) => keyed_id("ordo payment v1", &caller.scope(), order_id, &key),
            None => uuid::Uuid::new_v4(),
        };
        let by = caller.scope();
        self.write_part::<ServiceError>(
            caller,
            order_id,
            expected,
            (Action::RecordPayment, EventKind::PaymentRecorded),
            |order, now| {
                if let Some(recorded) = order.recorded_payments().iter().find(|p| p.id == id) {
                    // A retry of a keyed request that landed: the same payment, or another
                    // request under a key already used.
                    let same = recorded.amount == draft.amount
                        && recorded.method.as_str() == draft.method
                        && recorded.reference.as_deref()
                            == draft.reference.as_deref().map(str::trim);
                    return if same {
                        Ok(false)
                    } else {
                        Err(ServiceError::KeyReused)
                    };
                }
                order
                    .record_payment(id, draft, &by, now)
                    .map_err(ServiceError::from)?;
                Ok(true)
            },
        )
        .await
    }
}
