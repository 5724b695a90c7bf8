//! The order use cases.

use std::collections::HashMap;
use std::sync::Arc;

use ordo_domain::{
    CancelReason, EventKind, NewOrder, Order, OrderDraft, OrderId, OrderNumber, OrderNumberKey,
    OrderStatus, PaymentChoice, PaymentError, PaymentProvider, PaymentStatus, PaymentStep, Pricing,
    Product, Rates, RoundingMode, RoundingPolicy, Sku, StatusChange, TaxRounding, ValidationErrors,
    Version, Violation, price,
};
use ordo_repository::{Claim, EventStore, IdempotencyStore, ListQuery, OrderRepository, Page};

use crate::access::Action;
use crate::api_keys::{ApiKeys, Scope};
use crate::{Caller, CaptureMode, Clock, IdGenerator, KeyTimes, PaymentGateway, ServiceError};
use ordo_repository::{ApiKeyStore, DiscountCodeStore, ProductStore, RatesStore, RepoError};

use crate::catalog::{Catalog, PriceBook};
use crate::discounts::{DiscountCodes, OrderCode};
use crate::events::{Cause, OrderRenderer};
use crate::rates::ShopRates;
use crate::webhooks::Webhooks;

/// The book of a deployment that keeps none: every SKU is unknown.
struct EmptyBook;

#[async_trait::async_trait]
impl PriceBook for EmptyBook {
    async fn products_by_sku(&self, _skus: &[Sku]) -> Result<Vec<Product>, ServiceError> {
        Ok(Vec::new())
    }
}

/// Why a customer may not place (or price) an order for someone else.
const PLACE_FOR_ANOTHER: &str = "customers place orders only for themselves";

/// The checks placing and previewing share: the scope, whose order it is, which details and
/// which figures the caller may name.
fn may_place(caller: &Caller, draft: &OrderDraft) -> Result<(), ServiceError> {
    caller.require(Scope::OrdersWrite)?;
    caller.check_acting_for(draft.customer_id, PLACE_FOR_ANOTHER)?;
    caller.may_set_details(&draft.details)?;
    caller.may_name_prices(draft)
}

/// Settings the use cases follow.
#[derive(Debug, Clone, Copy)]
pub struct ServiceConfig {
    /// The secret that scrambles order numbers (see `ordo_domain::order_number`).
    pub order_number_key: OrderNumberKey,
    /// How half-way amounts round for new orders.
    pub rounding_mode: RoundingMode,
    /// Where tax is rounded for new orders.
    pub tax_rounding: TaxRounding,
    /// How long idempotency keys live and lease.
    pub key_times: KeyTimes,
    /// When money is captured.
    pub capture: CaptureMode,
    /// How long a gateway call claimed on an order is left to the request that claimed it
    /// before reconciliation finishes it (longer than any request may run).
    pub claim_grace: chrono::Duration,
    /// The payment terms of orders paid outside a gateway, in days, unless staff give others.
    pub payment_terms_days: u32,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            order_number_key: OrderNumberKey::DEFAULT,
            rounding_mode: RoundingMode::HalfUp,
            tax_rounding: TaxRounding::PerOrder,
            key_times: KeyTimes::default(),
            capture: CaptureMode::default(),
            claim_grace: chrono::Duration::seconds(120),
            payment_terms_days: 14,
        }
    }
}

/// Places, reads, lists and changes orders. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct OrderService {
    pub(crate) orders: Arc<dyn OrderRepository>,
    pub(crate) keys: Arc<dyn IdempotencyStore>,
    pub(crate) gateway: Arc<dyn PaymentGateway>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGenerator>,
    pub(crate) config: ServiceConfig,
    /// API keys, when the deployment accepts them.
    api_keys: Option<Arc<ApiKeys>>,
    /// Where book lines are priced from.
    book: Arc<dyn PriceBook>,
    /// The price book's use cases, when the deployment keeps one.
    catalog: Option<Catalog>,
    /// Discount codes, when the deployment keeps them.
    discounts: Option<DiscountCodes>,
    /// The shop's tax table and shipping methods, when the deployment keeps them.
    rates: Option<ShopRates>,
    /// What an order's events carry.
    pub(crate) renderer: Arc<dyn OrderRenderer>,
    /// Where events are read, when the deployment reads them.
    pub(crate) events: Option<Arc<dyn EventStore>>,
    /// Webhook endpoints and deliveries, when the deployment sends them.
    webhooks: Option<Webhooks>,
}

impl OrderService {
    /// A service over `orders`, idempotency `keys` and a payment `gateway`, reading time from
    /// `clock` and ids from `ids`; every change's event carries the order as `renderer` writes
    /// it.
    pub fn new(
        orders: Arc<dyn OrderRepository>,
        keys: Arc<dyn IdempotencyStore>,
        gateway: Arc<dyn PaymentGateway>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        renderer: Arc<dyn OrderRenderer>,
        config: ServiceConfig,
    ) -> Self {
        Self {
            orders,
            keys,
            gateway,
            clock,
            ids,
            config,
            api_keys: None,
            book: Arc::new(EmptyBook),
            catalog: None,
            discounts: None,
            rates: None,
            renderer,
            events: None,
            webhooks: None,
        }
    }

    /// The same service, keeping webhook endpoints in `store` and sending events (read from
    /// `events`) through `sender` as `options` say.
    #[must_use]
    pub fn with_webhooks(
        mut self,
        store: Arc<dyn ordo_repository::WebhookStore>,
        events: Arc<dyn EventStore>,
        sender: Arc<dyn crate::WebhookSender>,
        options: crate::WebhookOptions,
    ) -> Self {
        self.webhooks = Some(Webhooks::new(
            store,
            events,
            sender,
            self.clock.clone(),
            options,
        ));
        self
    }

    /// The webhooks' use cases, when the deployment sends them.
    pub fn webhooks(&self) -> Option<&Webhooks> {
        self.webhooks.as_ref()
    }

    /// The same service, reading events (history, feed, audit) from `store`.
    #[must_use]
    pub fn with_events(mut self, store: Arc<dyn EventStore>) -> Self {
        self.events = Some(store);
        self
    }

    /// The same service, settling orders against the tax table and shipping methods kept in
    /// `store` and managing them.
    #[must_use]
    pub fn with_rates(mut self, store: Arc<dyn RatesStore>) -> Self {
        self.rates = Some(ShopRates::new(store, self.clock.clone()));
        self
    }

    /// The rates' use cases, when the deployment keeps them.
    pub fn rates(&self) -> Option<&ShopRates> {
        self.rates.as_ref()
    }

    /// The shop's rates for one order: none at all when the deployment keeps none.
    async fn order_rates(&self) -> Result<Arc<Rates>, ServiceError> {
        match &self.rates {
            Some(rates) => rates.for_order().await,
            None => Ok(Arc::new(Rates::default())),
        }
    }

    /// The same service, with the discount codes kept in `store`.
    #[must_use]
    pub fn with_discount_codes(mut self, store: Arc<dyn DiscountCodeStore>) -> Self {
        self.discounts = Some(DiscountCodes::new(store, self.clock.clone()));
        self
    }

    /// The discount codes' use cases, when the deployment keeps them.
    pub fn discount_codes(&self) -> Option<&DiscountCodes> {
        self.discounts.as_ref()
    }

    /// The order with the discount of the code the draft names, and the use it takes.
    async fn apply_code(
        &self,
        draft: &OrderDraft,
        order: NewOrder,
        policy: RoundingPolicy,
    ) -> Result<(NewOrder, OrderCode), ServiceError> {
        let Some(code) = draft.discount_code.as_deref() else {
            return Ok((order, OrderCode::None));
        };
        if draft.discount.is_some() {
            return Err(ServiceError::Validation(ValidationErrors::single(
                "discount_code",
                Violation::TwoDiscounts,
            )));
        }
        match &self.discounts {
            Some(codes) => {
                codes
                    .apply(order, code, draft.discount_code_optional, policy)
                    .await
            }
            None if draft.discount_code_optional => Ok((order, OrderCode::Dropped)),
            None => Err(ServiceError::Validation(ValidationErrors::single(
                "discount_code",
                Violation::UnknownCode,
            ))),
        }
    }

    /// The same service, pricing book lines from the products in `store` and managing them
    /// (a book set by [`OrderService::with_price_book`] before is replaced: set that one after).
    #[must_use]
    pub fn with_catalog(mut self, store: Arc<dyn ProductStore>) -> Self {
        let (catalog, book) = Catalog::with_book(store, self.clock.clone());
        self.book = Arc::new(book);
        self.catalog = Some(catalog);
        self
    }

    /// The same service, pricing book lines from `book` (a catalogue service of the
    /// deployment's own, say) instead.
    #[must_use]
    pub fn with_price_book(mut self, book: Arc<dyn PriceBook>) -> Self {
        self.book = book;
        self
    }

    /// The price book's use cases, when the deployment keeps one.
    pub fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_ref()
    }

    /// The same service, also accepting API keys kept in `store`.
    #[must_use]
    pub fn with_api_keys(mut self, store: Arc<dyn ApiKeyStore>) -> Self {
        self.api_keys = Some(Arc::new(ApiKeys::new(store, self.clock.clone())));
        self
    }

    /// The API keys, when the deployment accepts them.
    pub fn api_keys(&self) -> Option<&Arc<ApiKeys>> {
        self.api_keys.as_ref()
    }

    /// The clock the service reads time from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Validates and prices an order exactly as [`OrderService::place`] would, storing nothing.
    /// A discount code's discount is shown, but its limits are not checked (no use is taken):
    /// placing may still find it used up.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for a customer naming another customer, or a key naming
    /// figures without `orders:price`; [`ServiceError::SetByShop`] for a customer naming
    /// figures; [`ServiceError::Detail`] for a detail the caller may not set;
    /// [`ServiceError::Validation`] or [`ServiceError::Pricing`].
    pub async fn preview(
        &self,
        caller: &Caller,
        draft: &OrderDraft,
    ) -> Result<Pricing, ServiceError> {
        may_place(caller, draft)?;
        let order = self.parse(draft).await?;
        let rates = self.order_rates().await?;
        let policy = self.policy_for(&order);
        let (order, _) = self.apply_code(draft, order, policy).await?;
        Ok(price(&order.settle(&rates, policy)?, policy)?)
    }

    /// The draft checked, its book lines filled from the price book (one lookup for all).
    async fn parse(&self, draft: &OrderDraft) -> Result<NewOrder, ServiceError> {
        let skus: Vec<Sku> = draft
            .items
            .iter()
            .filter(|item| item.is_book_line())
            .filter_map(|item| item.snapshot.sku.as_deref())
            .filter_map(|sku| Sku::parse(sku).ok())
            .collect();
        let book: HashMap<Sku, Product> = if skus.is_empty() {
            HashMap::new()
        } else {
            self.book
                .products_by_sku(&skus)
                .await?
                .into_iter()
                .map(|product| (product.spec().sku().clone(), product))
                .collect()
        };
        Ok(NewOrder::parse_with_book(draft, &book)?)
    }

    /// Validates, prices, numbers and stores a new order. Under an idempotency `claim`, the key
    /// is linked to the order in the same transaction; a claim taken over from a request that
    /// stopped after storing its order resumes with that order instead of placing another.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for a customer placing for another customer;
    /// [`ServiceError::Detail`] for a detail the caller may not set;
    /// [`ServiceError::Validation`], [`ServiceError::Pricing`], [`ServiceError::KeyInFlight`]
    /// (the claim was lost), [`ServiceError::Unavailable`] or [`ServiceError::Internal`].
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn place(
        &self,
        caller: &Caller,
        draft: &OrderDraft,
        claim: Option<&Claim>,
    ) -> Result<Order, ServiceError> {
        self.place_paying(caller, draft, &PaymentChoice::default(), claim)
            .await
    }

    /// Places an order paid as `payment` says: through the gateway (authorized at once, as
    /// [`OrderService::place`]), or manually (nothing held; due after the payment terms,
    /// the shop's `payment_terms_days` unless staff give the order its own).
    ///
    /// # Errors
    /// As [`OrderService::place`]; [`ServiceError::SetByShop`] for a customer naming payment
    /// terms.
    pub async fn place_paying(
        &self,
        caller: &Caller,
        draft: &OrderDraft,
        payment: &PaymentChoice,
        claim: Option<&Claim>,
    ) -> Result<Order, ServiceError> {
        may_place(caller, draft)?;
        if payment.terms_days.is_some() && caller.role() == crate::Role::Customer {
            return Err(ServiceError::SetByShop(vec![
                "payment_terms_days".to_owned(),
            ]));
        }
        if let Some(order_id) = claim.and_then(|claim| claim.order_id) {
            tracing::info!(order_id = %order_id, "resuming an idempotent create");
            let order = self.get(caller, order_id).await?;
            return self.authorize(order, &Cause::from(caller)).await;
        }
        let plain = self.parse(draft).await?;
        let rates = self.order_rates().await?;
        let policy = self.policy_for(&plain);
        let (new, code) = self.apply_code(draft, plain.clone(), policy).await?;
        // Shipping and tax last: free shipping depends on the discount.
        let new = new.settle(&rates, policy)?;
        let pricing = price(&new, policy)?;
        let now = self.clock.now();
        let sequence = self.orders.next_order_sequence().await?;
        let number =
            OrderNumber::from_sequence(sequence, now.date_naive(), self.config.order_number_key)
                .map_err(|error| ServiceError::Internal(Box::new(error)))?;
        let id = self.ids.order_id(now);
        let mut order = Order::place(
            id,
            number,
            new.customer_id(),
            pricing,
            new.details().clone(),
            now,
        );
        let due = payment.due_from(now, self.config.payment_terms_days);
        if payment.provider == PaymentProvider::Manual {
            order.pay_manually(due);
        }
        let cause = Cause::from(caller);
        let order = if let (OrderCode::Held(redemption), Some(codes)) = (code, &self.discounts) {
            let event = self.event(&cause, EventKind::OrderPlaced, &order)?;
            match codes
                .insert_redeeming(&order, claim, redemption, &event)
                .await
            {
                Ok(()) => order,
                // Used up meanwhile, and the order may go without it: placed at full price.
                Err(RepoError::LimitReached { .. }) if draft.discount_code_optional => {
                    let plain = plain.settle(&rates, policy)?;
                    let mut order = Order::place(
                        id,
                        number,
                        plain.customer_id(),
                        price(&plain, policy)?,
                        plain.details().clone(),
                        now,
                    );
                    if payment.provider == PaymentProvider::Manual {
                        order.pay_manually(due);
                    }
                    let event = self.event(&cause, EventKind::OrderPlaced, &order)?;
                    self.orders.insert(&order, claim, &event).await?;
                    order
                }
                Err(error) => return Err(error.into()),
            }
        } else {
            let event = self.event(&cause, EventKind::OrderPlaced, &order)?;
            self.orders.insert(&order, claim, &event).await?;
            order
        };
        tracing::info!(order_id = %order.id(), order_number = %order.number(), "order placed");
        metrics::counter!("ordo_orders_created_total").increment(1);
        // Stored first, then paid: no transaction is open during the gateway call.
        self.authorize(order, &cause).await
    }

    /// Whether the service can serve: its database answers and is fully migrated.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] or [`ServiceError::Internal`], saying why not.
    pub async fn ready(&self) -> Result<(), ServiceError> {
        Ok(self.orders.check_ready().await?)
    }

    /// The storage pool's figures, for metrics.
    pub fn pool_stats(&self) -> ordo_repository::PoolStats {
        self.orders.pool_stats()
    }

    /// One order.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] (also for another customer's order),
    /// [`ServiceError::Unavailable`] or [`ServiceError::Internal`].
    pub async fn get(&self, caller: &Caller, id: OrderId) -> Result<Order, ServiceError> {
        let order = self.orders.get(id).await?;
        caller.check(Action::Read, order.customer_id())?;
        Ok(order)
    }

    /// The order with this number: what support staff and customers read out on the phone.
    ///
    /// # Errors
    /// As [`OrderService::get`].
    pub async fn get_by_number(
        &self,
        caller: &Caller,
        number: &OrderNumber,
    ) -> Result<Order, ServiceError> {
        let order = self.orders.get_by_number(number).await?;
        caller.check(Action::Read, order.customer_id())?;
        Ok(order)
    }

    /// A page of the orders `query` filters, newest first. Staff and admins list every
    /// customer's; a customer's list is scoped to its own orders whatever else it filters on.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for a customer naming another customer;
    /// [`ServiceError::Unavailable`] or [`ServiceError::Internal`].
    pub async fn list(&self, caller: &Caller, query: &ListQuery) -> Result<Page, ServiceError> {
        let scoped = caller.scope_list(query)?;
        Ok(self.orders.list(scoped.as_ref().unwrap_or(query)).await?)
    }

    /// Moves an order to `processing` or `completed`, if its version is still `expected`.
    ///
    /// # Errors
    /// [`ServiceError::UnsupportedTarget`] for other targets; [`ServiceError::NotFound`];
    /// [`ServiceError::Stale`]; [`ServiceError::IllegalTransition`]; [`ServiceError::Unavailable`];
    /// [`ServiceError::Internal`].
    pub async fn transition(
        &self,
        caller: &Caller,
        id: OrderId,
        to: OrderStatus,
        expected: Version,
    ) -> Result<Order, ServiceError> {
        let change = match to {
            OrderStatus::Processing => StatusChange::Process,
            OrderStatus::Completed => StatusChange::Complete,
            other @ (OrderStatus::Pending | OrderStatus::Cancelled) => {
                return Err(ServiceError::UnsupportedTarget(other));
            }
        };
        self.change(caller, id, change, expected).await
    }

    /// Cancels an order with a reason, if its version is still `expected`.
    ///
    /// # Errors
    /// As [`OrderService::transition`].
    pub async fn cancel(
        &self,
        caller: &Caller,
        id: OrderId,
        reason: CancelReason,
        expected: Version,
    ) -> Result<Order, ServiceError> {
        self.change(caller, id, StatusChange::Cancel(reason), expected)
            .await
    }

    /// Soft-deletes an order; with `expected`, only if that is still its version. An order
    /// that holds money (an authorization, or a gateway call in flight) is not deleted: cancel
    /// it first, which releases the money.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], [`ServiceError::Forbidden`] (only admins delete),
    /// [`ServiceError::Stale`], [`ServiceError::Payment`], [`ServiceError::Unavailable`] or
    /// [`ServiceError::Internal`].
    #[tracing::instrument(skip_all, fields(order_id = %id), err(level = "debug"))]
    pub async fn delete(
        &self,
        caller: &Caller,
        id: OrderId,
        expected: Option<Version>,
    ) -> Result<(), ServiceError> {
        let order = self.orders.get(id).await?;
        caller.check(Action::Delete, order.customer_id())?;
        if let Some(expected) = expected
            && expected != order.version()
        {
            return Err(ServiceError::Stale {
                current: order.version(),
            });
        }
        if let Some(pending) = &order.payment().pending {
            return Err(ServiceError::Payment(PaymentError::InFlight {
                operation: pending.operation,
            }));
        }
        if order.payment().status == PaymentStatus::Authorized {
            return Err(ServiceError::Payment(PaymentError::WrongStatus {
                status: PaymentStatus::Authorized,
                action: "delete an order holding money: cancel it first, which voids the hold",
            }));
        }
        // Captured in part as things shipped: the rest is still held, and what shipped keeps
        // it from being cancelled.
        if order.owes_capture() {
            return Err(ServiceError::Payment(PaymentError::WrongStatus {
                status: order.payment().status,
                action: "delete an order still holding money: complete it first, which captures the rest",
            }));
        }
        // At the version read, so a payment that lands meanwhile is never deleted unseen. The
        // event shows the order as it was last, at the version the deletion gives it.
        let mut event = self.event(&Cause::from(caller), EventKind::OrderDeleted, &order)?;
        event.version = Version::new(order.version().get().saturating_add(1));
        self.orders
            .soft_delete(id, Some(order.version()), self.clock.now(), &event)
            .await?;
        tracing::info!(order_id = %id, "order deleted");
        Ok(())
    }

    /// A caller's status change. The caller's version gates all of it: the change is checked,
    /// then claimed by compare-and-set on that version before any money moves, so of two
    /// requests naming one version exactly one proceeds and the other gets
    /// [`ServiceError::Stale`] without reaching the gateway. A change that moves money then
    /// makes its gateway call and settles it (see [`OrderService::settle_claim`]).
    #[tracing::instrument(skip_all, fields(order_id = %id, to = %change.target()), err(level = "debug"))]
    async fn change(
        &self,
        caller: &Caller,
        id: OrderId,
        change: StatusChange,
        expected: Version,
    ) -> Result<Order, ServiceError> {
        let mut order = self.orders.get(id).await?;
        let action = match change {
            StatusChange::Cancel(_) => Action::Cancel,
            _ => Action::Transition,
        };
        caller.check(action, order.customer_id())?;
        // Money paid outside a gateway goes back by the shop's own hand: the shop cancels.
        if action == Action::Cancel
            && caller.role() == crate::Role::Customer
            && order.payment_provider() == PaymentProvider::Manual
            && !order.payment().captured.is_zero()
        {
            return Err(ServiceError::Forbidden(
                "an order paid outside a gateway is cancelled by the shop, which sends the money back",
            ));
        }
        // Check the version before the rules, so a stale caller learns that first: what it
        // saw is no longer true, whatever it asked for.
        if order.version() != expected {
            return Err(ServiceError::Stale {
                current: order.version(),
            });
        }
        let kind = match change {
            StatusChange::Cancel(_) => EventKind::OrderCancelled,
            _ => EventKind::StatusChanged,
        };
        let step = order.begin_change(change, self.clock.now())?;
        let cause = Cause::from(caller);
        let event = self.event(&cause, kind, &order)?;
        self.orders.update(&order, expected, &event).await?;
        if step == PaymentStep::Done {
            tracing::info!(order_id = %id, status = %order.status(), "order status changed");
            return Ok(order);
        }
        let order = self.settle_or_refuse(order, &cause).await?;
        tracing::info!(order_id = %id, status = %order.status(), "order status changed");
        Ok(order)
    }

    fn policy_for(&self, order: &NewOrder) -> RoundingPolicy {
        let default = RoundingPolicy::default_for(order.currency());
        RoundingPolicy::new(
            default.minor_units(),
            self.config.rounding_mode,
            self.config.tax_rounding,
        )
        .unwrap_or(default)
    }
}
