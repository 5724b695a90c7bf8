//! Changing what moves no money on an order: contact, addresses, notes, tags, metadata.

use ordo_domain::{OrderDetails, OrderDetailsDraft, OrderId, PaymentError, Version};

use crate::access::Action;
use crate::{Caller, OrderService, ServiceError};

impl OrderService {
    /// Replaces the order's details with `details` (the whole set, as the caller wants it to
    /// be), if its version is still `expected` and the caller may change every field that
    /// differs in the order's status. A change that changes nothing writes nothing.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] (also for another customer's order); [`ServiceError::Stale`];
    /// [`ServiceError::Validation`] naming each broken field; [`ServiceError::Detail`] naming
    /// a field the caller may not change (now or ever); [`ServiceError::Payment`] while a
    /// gateway call is in flight (its settlement expects the version it claimed);
    /// [`ServiceError::Unavailable`] or [`ServiceError::Internal`].
    #[tracing::instrument(skip_all, fields(order_id = %id), err(level = "debug"))]
    pub async fn change_details(
        &self,
        caller: &Caller,
        id: OrderId,
        expected: Version,
        details: &OrderDetailsDraft,
    ) -> Result<ordo_domain::Order, ServiceError> {
        let mut order = self.orders.get(id).await?;
        caller.check(Action::Read, order.customer_id())?;
        if order.version() != expected {
            return Err(ServiceError::Stale {
                current: order.version(),
            });
        }
        let details = OrderDetails::parse(details)?;
        let changed = order.details().changed_fields(&details);
        for field in &changed {
            caller.may_change_detail(field, order.status())?;
        }
        if changed.is_empty() {
            return Ok(order);
        }
        if let Some(pending) = &order.payment().pending {
            return Err(PaymentError::InFlight {
                operation: pending.operation,
            }
            .into());
        }
        order.change_details(details, self.clock.now());
        self.orders.update(&order, expected).await?;
        // Which fields, never their values: they are personal data.
        tracing::info!(order_id = %id, fields = ?changed, "order details changed");
        Ok(order)
    }
}
