//! Changing what moves no money on an order: contact, addresses, notes, tags, metadata.

use ordo_domain::{
    CustomerId, EventKind, OrderDetails, OrderDetailsDraft, OrderId, PaymentError,
    ValidationErrors, Version, Violation,
};
use ordo_repository::{Erasure, RepoError};

use crate::access::Action;
use crate::api_keys::Scope;
use crate::events::Cause;
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
        caller.require(Scope::OrdersWrite)?;
        if order.version() != expected {
            return Err(ServiceError::Stale {
                current: order.version(),
            });
        }
        let details = OrderDetails::parse(details)?;
        // Its tax and shipping hold for where it goes: the customer may fix a street, not
        // move the order to a cheaper country or region.
        if order.pricing().depends_on_destination()
            && details.destination() != order.details().destination()
        {
            return Err(
                ValidationErrors::single("shipping_address", Violation::DestinationPriced).into(),
            );
        }
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
        let event = self.event(&Cause::from(caller), EventKind::OrderEdited, &order)?;
        self.orders.update(&order, expected, &event).await?;
        // Which fields, never their values: they are personal data.
        tracing::info!(order_id = %id, fields = ?changed, "order details changed");
        Ok(order)
    }
}

/// How many times an erasure reads the orders again when one changed meanwhile.
const ERASE_ATTEMPTS: u32 = 5;

impl OrderService {
    /// Erases `customer`'s personal data (contact, addresses, notes) from all its orders,
    /// deleted ones too, and from the stored responses that held it; amounts, lines and numbers
    /// stay. The erasure is recorded, with how many orders it changed; asking again changes
    /// nothing more and records again.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] unless the caller is an admin; [`ServiceError::Payment`]
    /// while a gateway call is in flight on one of its orders (retry once it settles);
    /// [`ServiceError::Stale`] when the orders kept changing under it; [`ServiceError::Unavailable`] or
    /// [`ServiceError::Internal`].
    #[tracing::instrument(skip_all, fields(customer_id = %customer), err(level = "debug"))]
    pub async fn erase_customer(
        &self,
        caller: &Caller,
        customer: CustomerId,
    ) -> Result<Erasure, ServiceError> {
        caller.check_may_erase()?;
        let mut attempts = 1..ERASE_ATTEMPTS;
        loop {
            let now = self.clock.now();
            let orders = self.orders.orders_of_customer(customer).await?;
            // A settlement expects the version it claimed: wait for it rather than break it.
            if let Some(pending) = orders
                .iter()
                .find_map(|order| order.payment().pending.as_ref())
            {
                return Err(PaymentError::InFlight {
                    operation: pending.operation,
                }
                .into());
            }
            let cause = Cause::from(caller);
            let erased = orders
                .into_iter()
                .filter_map(|mut order| {
                    let expected = order.version();
                    order.erase_personal_data(now).then_some((order, expected))
                })
                .map(|(order, expected)| {
                    let event = self.event(&cause, EventKind::OrderErased, &order)?;
                    Ok((order, expected, event))
                })
                .collect::<Result<Vec<_>, ServiceError>>()?;
            let erasure = Erasure {
                id: self.ids.order_id(now).as_uuid(),
                customer_id: customer,
                by: caller.scope(),
                at: now,
                orders: u32::try_from(erased.len()).unwrap_or(u32::MAX),
            };
            match self.orders.erase_customer(&erased, &erasure).await {
                Ok(()) => {
                    tracing::info!(
                        customer_id = %customer,
                        orders = erasure.orders,
                        "customer's personal data erased"
                    );
                    return Ok(erasure);
                }
                Err(RepoError::VersionConflict { .. }) if attempts.next().is_some() => {}
                Err(error) => return Err(error.into()),
            }
        }
    }
}
