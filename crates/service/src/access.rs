//! Who may do what. The HTTP edge establishes the [`Caller`] from a verified token; every use
//! case checks it here, so no route can forget to.
//!
//! | action | customer | staff | admin |
//! |---|---|---|---|
//! | place, preview | for itself | for anyone | for anyone |
//! | read, list, search (every filter and `q`) | its own only, whatever it filters on | any | any |
//! | cancel | its own | any | any |
//! | process, complete | no | any | any |
//! | refund | no | any | any |
//! | fulfil; ship, deliver, cancel a fulfilment; change its tracking | no | any | any |
//! | record a return; receive it; close it refunded or rejected | no (support records it) | any | any |
//! | refund by line (`lines`, `shipping`) | no | any | any |
//! | record a payment of an order paid manually | no | any | any |
//! | delete | no | no | any |
//! | erase a customer's personal data | no | no | any |
//! | make, list, revoke API keys | no | no | any, with a token (never with a key) |
//! | name an order's figures when placing or previewing (a custom line's `unit_price`, `discount`, `tax_rate`, a shipping `amount`) | no: 422 naming each field, "set by the shop" | yes | yes |
//! | read the price book (`/v1/products`) and the shop's rates (`/v1/tax-rates`, `/v1/shipping-rates`) | yes | yes | yes |
//! | change the price book (add, change, archive, bulk upsert), replace the rates | no | yes | yes |
//! | use a discount code when placing (`discount_code`) | yes | yes | yes |
//! | read, make, change discount codes (`/v1/discount-codes`) | no | yes | yes |
//! | read an order's history (`/v1/orders/{id}/events`) | its own orders' while they are not deleted (404, as for the order), without the shop's side | any, deleted orders' too | any, deleted orders' too |
//! | read the event feed (`/v1/events`, live at `/v1/events/ws`) | its own orders' events only | every order's | every order's |
//! | audit every event chain (`ordo audit verify`) | no | no | the operator, on the database |
//! | manage webhook endpoints, read their delivery logs, redeliver (`/v1/webhook-endpoints`) | no | no | any, with a token (never with a key) |
//!
//! An API key (`/v1/api-keys`, for trusted backends) acts as staff limited to its scopes: it
//! is never a customer nor an admin. A key without the scope an action needs gets a 403 naming
//! the scope.
//!
//! | action | scope an API key needs |
//! |---|---|
//! | read, list, search | `orders:read` |
//! | read an order's history, the event feed (and its WebSocket) | `orders:read` |
//! | place, preview | `orders:write` |
//! | cancel, process, complete, change details (`PATCH`) | `orders:write` and `orders:read` (it reads the order it changes) |
//! | refund | `orders:refund` and `orders:read` |
//! | fulfil; move a fulfilment; change its tracking | `orders:write` and `orders:read` |
//! | record, receive, reject a return | `orders:write` and `orders:read` |
//! | close a return refunded; refund by line | `orders:refund` and `orders:read` |
//! | record a manual payment | `orders:write` and `orders:read` |
//! | place, preview naming figures (a custom line's `unit_price`, `discount`, `tax_rate`, a shipping `amount`) | `orders:write` and `orders:price` |
//! | read the price book, the rates | `catalog:read` |
//! | change the price book, replace the rates | `catalog:write` |
//! | read discount codes | `catalog:read` |
//! | make, change discount codes | `catalog:write` |
//! | delete, erase personal data, manage API keys or webhook endpoints, read `/metrics` when protected | none allows it |
//!
//! A customer asking about another customer's order gets [`ServiceError::NotFound`], never
//! [`ServiceError::Forbidden`], so the answer does not confirm the order exists.
//!
//! Fields of an order, who may set them and who sees them (everyone who may read the order sees
//! every field listed; an unknown field in a request is refused, naming it):
//!
//! | field | set by | seen by |
//! |---|---|---|
//! | `customer_id`, `currency`, `items[].sku`, `items[].quantity` | the placer (a customer only for itself) | readers |
//! | a custom line (`items[].unit_price` with its `product_id`), `discount` (and its `reason`), `tax_rate`, `shipping` | staff, admins, keys with `orders:price`; a customer's is refused (422 "set by the shop") | readers |
//! | a book line's `product_id`, `unit_price`, `title`, `options`, `requires_shipping` | ordo, from the price book when placed (naming one beside a `sku` is refused, 422; a line with its own `unit_price` is a custom line) | readers |
//! | `items[].price_source` | ordo: `book`, or `custom` for a line with its own price | readers |
//! | `discount_code`, `discount_code_optional` | the placer (a customer too); the discount then comes from the code | readers (`discount_code`) |
//! | `shipping_method` | the placer (a customer too); the shipping line then comes from the shop's method | readers (the shipping line's `code`) |
//! | `items[].tax_rate`, `shipping[].tax_rate`, `tax_lines`, `prices_include_tax` | ordo: from the shop's tax table for where the order goes (or the order's own `tax_rate`) | readers |
//! | `id`, `order_number`, totals, `version`, times | ordo | readers |
//! | `status`, `cancel_reason` | ordo, through the moves above (the reason in a cancel) | readers |
//! | `payment_status`, `amount_authorized`, `amount_captured`, `amount_refunded` | ordo, from the gateway's answers and refunds | readers |
//! | `payment_in_progress` | ordo only: the gateway call claimed and not yet answered | readers |
//! | a custom line's `sku`, `title`, `options`, `requires_shipping` | its placer: what the line was when bought | readers |
//! | `shipping_total` | ordo: Σ shipping amounts | readers |
//! | `contact`, `shipping_address`, `billing_address`, `customer_note` | the placer; later by `PATCH`, as below | readers |
//! | `staff_note` | staff and admins (placing or `PATCH`) | staff and admins, never a customer |
//! | `tags`, `metadata` | staff and admins (placing or `PATCH`) | readers |
//! | `channel` | staff and admins when placing (`api` when not given) | readers |
//! | a refund's `amount`, `reason` | staff and admins | readers of the order's refund answer |
//! | a fulfilment's `lines` (`line`, `quantity`), `location`, `carrier`, `tracking_number`, `tracking_url` | staff, admins, keys with `orders:write` (a customer's request is 403) | readers (its customer too: where its parcel is) |
//! | a fulfilment's `id`, `number`, `status`, times; an order's `fulfillment_status`, `fulfillments`, `items[].fulfilled_quantity`, `items[].shipped_quantity` | ordo, from the fulfilments and their moves | readers |
//! | a fulfilment's `capture` (`status`, `amount`) | ordo, when the shop captures on shipment (docs/status.md) | readers (its customer too: what each parcel charged) |
//! | a return's `lines`, `reason`, `note`, `restock`; its move (`to`, `outcome`, `refund_shipping`) | staff, admins, keys with `orders:write` (closing refunded: `orders:refund`); a customer's request is 403 | readers (its customer too) |
//! | a return's `id`, `number`, `status`, `outcome`, `refund_id`, times; an order's `returns`, `items[].returned_quantity`, `items[].refunded_quantity` | ordo | readers |
//! | a refund's `lines` (`line`, `quantity`), `shipping` | staff, admins, keys with `orders:refund` | readers of the order's refund answer |
//! | a refund line's `amount` | ordo: the units' exact share of what was charged (never the caller's) | readers of the refund answer |
//! | `payment_provider` (`gateway` or `manual`) | the placer (a customer too) | readers |
//! | `payment_terms_days` | staff, admins, keys with `orders:write`; a customer's is refused (422 "set by the shop") | readers (as `payment_due_at`) |
//! | `payment_due_at` | ordo: placed + the terms (the shop's `payment_terms_days` when none given) | readers |
//! | a recorded payment's `amount`, `method`, `reference`, `received_at` | staff, admins, keys with `orders:write` | readers |
//! | a recorded payment's `id`, `recorded_at`; `recorded_by` | ordo | readers; `recorded_by` staff and admins only |
//! | an API key's `name`, `scopes` | admins, when making it | admins |
//! | an API key's `id`, `created_at`, `created_by`, `revoked_at`, `last_used_at` | ordo | admins |
//! | an API key's `secret` | ordo, once: in the answer that made it, stored only as its SHA-256 | the admin who made it, that once |
//! | a product's `sku`, `title`, `options`, `requires_shipping`, `tax_class`, `status`, `prices` | staff, admins, keys with `catalog:write` | everyone authenticated (keys: `catalog:read`) |
//! | a product's `id`, `version`, `created_at`, `updated_at` | ordo | everyone authenticated (keys: `catalog:read`) |
//! | a discount code's `code`, `percent` or `amounts`, `minimum_subtotal`, `starts_at`, `ends_at`, `usage_limit`, `per_customer_limit`, `status` | staff, admins, keys with `catalog:write` | staff, admins, keys with `catalog:read`; never a customer |
//! | a discount code's `id`, `used`, `version`, `created_at`, `updated_at` | ordo (`used`: the orders holding a use) | the same |
//! | the tax table's `prices_include_tax`; a rate's `country`, `region`, `tax_class`, `rate`, `name` | staff, admins, keys with `catalog:write` (the whole table at once) | everyone authenticated (keys: `catalog:read`) |
//! | a shipping method's `code`, `title`, `prices`, `free_above`, `taxed`, `countries` | staff, admins, keys with `catalog:write` (all methods at once) | everyone authenticated (keys: `catalog:read`) |
//! | a rates table's `version`, `updated_at` | ordo | the same |
//! | an event's `id`, `type`, `order_id`, `customer_id`, `version`, `created_at`, `cursor`, `chain`, `hash`, `prev_hash` | ordo, with the change it records | readers of the order's history or the feed |
//! | an event's `actor` (`role`, `subject`), `request_id` | ordo: who made the change (from the token or key) and through which request | staff, admins, keys; a customer sees the `role`, and the rest only for its own changes |
//! | an event's `idempotency_key` | ordo: the key the request carried | staff, admins, keys; never a customer |
//! | a webhook endpoint's `url`, `description`, `event_types`, `enabled` | admins | admins |
//! | a webhook endpoint's `secret` | ordo, when it is made or rotated | the admin who made or rotated it, in that answer only |
//! | a webhook endpoint's `id`, `disabled_reason`, `failing_since`, `previous_secret_until`, `version`, times; a delivery's every field | ordo | admins |
//! | an event's `order` | ordo: the order as `GET /v1/orders/{id}` showed staff after the change; removed from earlier events when the customer's personal data is erased | as the order itself (a customer never sees `staff_note`) |
//!
//! Details of an order that move no money, and who may change each after placing it (the
//! order-record issue's `PATCH`; [`Caller::may_change_detail`]). A financial field is not a
//! detail: nobody changes it this way.
//!
//! | detail | customer, on its own order | staff, admin |
//! |---|---|---|
//! | `contact`, `shipping_address`, `billing_address`, `customer_note` | while pending | while pending or processing |
//! | `staff_note`, `tags`, `metadata` | never (nor sees `staff_note`) | in any status |
//! | `channel` | never: set when placed | never: set when placed |
//!
//! When placing an order, a customer may set the details it may later change (`contact`,
//! addresses, `customer_note`); `staff_note`, `tags`, `metadata` and `channel` are refused,
//! naming the field ([`Caller::may_set_details`]). Staff and admins may set every detail. A
//! customer never sees `staff_note` ([`Caller::sees_staff_note`]).

use std::fmt;
use std::str::FromStr;

use std::collections::BTreeSet;

use ordo_domain::{
    Actor, ActorRole, CustomerId, DETAIL_FIELDS, OrderDetailsDraft, OrderDraft, OrderStatus,
};

use crate::ServiceError;
use crate::api_keys::Scope;

/// A caller's role, as its token's `role` claim says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// A shopper: its own orders only.
    Customer,
    /// The shop's staff: every order, and moving orders along.
    Staff,
    /// Everything, including deleting.
    Admin,
}

impl Role {
    /// The role's name in tokens: `customer`, `staff` or `admin`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of ordo's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected customer, staff or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        <Self as strum::IntoEnumIterator>::iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

/// Who is calling a use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    role: Role,
    subject: String,
    customer: Option<CustomerId>,
    /// An API key's id and scopes; `None` for a token.
    key: Option<(uuid::Uuid, BTreeSet<Scope>)>,
    /// The request being served and its idempotency key, recorded with the events it causes.
    request: (Option<String>, Option<String>),
}

impl Caller {
    /// A customer, acting for itself.
    pub fn customer(id: CustomerId) -> Self {
        Self {
            role: Role::Customer,
            subject: id.to_string(),
            customer: Some(id),
            key: None,
            request: (None, None),
        }
    }

    /// A trusted backend's API key: staff limited to `scopes`, named `key:<id>`.
    pub fn key(id: uuid::Uuid, scopes: BTreeSet<Scope>) -> Self {
        Self {
            role: Role::Staff,
            subject: format!("key:{}", id.hyphenated()),
            customer: None,
            key: Some((id, scopes)),
            request: (None, None),
        }
    }

    /// The same caller, serving the request `request_id` with `idempotency_key` if it sent
    /// one: both are recorded with the events the request causes.
    #[must_use]
    pub fn in_request(
        mut self,
        request_id: Option<String>,
        idempotency_key: Option<String>,
    ) -> Self {
        self.request = (request_id, idempotency_key);
        self
    }

    /// Who the caller is in an order's history.
    pub(crate) fn actor(&self) -> Actor {
        let role = match (&self.key, self.role) {
            (Some(_), _) => ActorRole::Key,
            (None, Role::Customer) => ActorRole::Customer,
            (None, Role::Staff) => ActorRole::Staff,
            (None, Role::Admin) => ActorRole::Admin,
        };
        Actor {
            role,
            subject: self.subject.clone(),
        }
    }

    /// The request being served and its idempotency key, if any.
    pub(crate) fn request(&self) -> (Option<String>, Option<String>) {
        self.request.clone()
    }

    /// Checks that the caller may read the event feed: anyone authenticated (a customer only
    /// its own orders' events, which the service sees to), a key with `orders:read`.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`].
    pub(crate) fn check_feed(&self) -> Result<(), ServiceError> {
        self.require(Scope::OrdersRead)
    }

    /// The customer whose events alone this caller may read; `None` for staff, admins, keys.
    pub(crate) fn events_scope(&self) -> Option<CustomerId> {
        match self.role {
            // A customer always has its id; failing that, it sees no one's.
            Role::Customer => self
                .customer
                .or_else(|| CustomerId::from_uuid(uuid::Uuid::nil()).ok()),
            Role::Staff | Role::Admin => None,
        }
    }

    /// The API key's id, when the caller is one.
    pub fn key_id(&self) -> Option<uuid::Uuid> {
        self.key.as_ref().map(|(id, _)| *id)
    }

    /// Checks that an API key holds `scope` (a token's role decides alone).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] naming the missing scope.
    pub(crate) fn require(&self, scope: Scope) -> Result<(), ServiceError> {
        match &self.key {
            Some((_, scopes)) if !scopes.contains(&scope) => {
                Err(ServiceError::Forbidden(scope.missing()))
            }
            _ => Ok(()),
        }
    }

    /// A member of staff or an admin, named by its token's subject.
    ///
    /// # Errors
    /// [`Role::Customer`] is refused: a customer is named by its customer id
    /// ([`Caller::customer`]).
    pub fn operator(role: Role, subject: impl Into<String>) -> Result<Self, UnknownRole> {
        if role == Role::Customer {
            return Err(UnknownRole("customer without a customer id".to_owned()));
        }
        Ok(Self {
            role,
            subject: subject.into(),
            customer: None,
            key: None,
            request: (None, None),
        })
    }

    /// Every request when authentication is switched off: full access, one scope.
    pub fn unauthenticated() -> Self {
        Self {
            role: Role::Admin,
            subject: "anonymous".to_owned(),
            customer: None,
            key: None,
            request: (None, None),
        }
    }

    /// Whether this is [`Caller::unauthenticated`], whatever request it serves.
    pub fn is_unauthenticated(&self) -> bool {
        Self {
            request: (None, None),
            ..self.clone()
        } == Self::unauthenticated()
    }

    /// The caller's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The token's subject (a customer's id for customers).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// What idempotency keys and rate limits are scoped to: one caller never sees or spends
    /// another's.
    pub fn scope(&self) -> String {
        match &self.key {
            // Not `staff:key:…`, which a staff token with that subject would share.
            Some((id, _)) => format!("api-key:{}", id.hyphenated()),
            None => format!("{}:{}", self.role, self.subject),
        }
    }

    /// Whether the caller may see `owner`'s orders at all.
    fn sees(&self, owner: CustomerId) -> bool {
        self.role != Role::Customer || self.customer == Some(owner)
    }

    /// Checks `action` on an order of `owner`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the order is another customer's;
    /// [`ServiceError::Forbidden`] when the role may not do this.
    pub(crate) fn check(&self, action: Action, owner: CustomerId) -> Result<(), ServiceError> {
        if !self.sees(owner) {
            return Err(ServiceError::NotFound);
        }
        let allowed = match (self.role, action) {
            (Role::Admin, _)
            | (
                Role::Staff,
                Action::Read
                | Action::Cancel
                | Action::Transition
                | Action::Refund
                | Action::Fulfil
                | Action::RecordPayment,
            )
            | (Role::Customer, Action::Read | Action::Cancel) => true,
            (Role::Staff, Action::Delete)
            | (
                Role::Customer,
                Action::Transition
                | Action::Refund
                | Action::Delete
                | Action::Fulfil
                | Action::RecordPayment,
            ) => false,
        };
        if !allowed {
            return Err(ServiceError::Forbidden(action.refusal()));
        }
        // Acting on an order reads it (and answers with it): a key needs `orders:read` too.
        self.require(action.scope())?;
        self.require(Scope::OrdersRead)
    }

    /// Checks that the caller may use the price book as `scope` says: anyone authenticated
    /// reads it ([`Scope::CatalogRead`] for a key); staff and admins change it
    /// ([`Scope::CatalogWrite`] for a key).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`].
    pub(crate) fn check_catalog(&self, scope: Scope) -> Result<(), ServiceError> {
        if scope == Scope::CatalogWrite && self.role == Role::Customer {
            return Err(ServiceError::Forbidden(
                "only staff and admins change the price book",
            ));
        }
        self.require(scope)
    }

    /// Checks that the caller may manage discount codes as `scope` says: staff and admins
    /// ([`Scope::CatalogRead`] to read, [`Scope::CatalogWrite`] to change, for a key). A
    /// customer types a code at checkout but never reads the shop's list.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`].
    pub(crate) fn check_discount_codes(&self, scope: Scope) -> Result<(), ServiceError> {
        if self.role == Role::Customer {
            return Err(ServiceError::Forbidden(
                "only staff and admins manage discount codes",
            ));
        }
        self.require(scope)
    }

    /// Checks that the caller may name the figures of an order it places: a custom line's
    /// `unit_price`, a `discount`, a `tax_rate`, a shipping line's `amount`. Staff and admins
    /// may (a key with [`Scope::OrdersPrice`]); a customer's order is priced by the shop.
    ///
    /// # Errors
    /// [`ServiceError::SetByShop`] naming every such field a customer gave;
    /// [`ServiceError::Forbidden`] naming the scope for a key without it.
    pub(crate) fn may_name_prices(&self, draft: &OrderDraft) -> Result<(), ServiceError> {
        let mut named = Vec::new();
        for (index, item) in draft.items.iter().enumerate() {
            if item.unit_price.is_some() {
                named.push(format!("items[{index}].unit_price"));
            }
        }
        if draft.discount.is_some() {
            named.push("discount".to_owned());
        }
        if draft.tax_rate.is_some() {
            named.push("tax_rate".to_owned());
        }
        for index in 0..draft.shipping.len() {
            named.push(format!("shipping[{index}].amount"));
        }
        if named.is_empty() {
            return Ok(());
        }
        match self.role {
            Role::Customer => Err(ServiceError::SetByShop(named)),
            Role::Staff | Role::Admin => self.require(Scope::OrdersPrice),
        }
    }

    /// Checks that the caller may erase a customer's personal data (admins only).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for anyone else.
    pub(crate) fn check_may_erase(&self) -> Result<(), ServiceError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "only admins erase a customer's personal data",
            ))
        }
    }

    /// Checks that the caller may manage webhook endpoints (admins' tokens only: an endpoint
    /// receives every order's data).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for anyone else.
    pub(crate) fn check_may_manage_webhooks(&self) -> Result<(), ServiceError> {
        if self.role == Role::Admin && self.key.is_none() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "only admins manage webhook endpoints",
            ))
        }
    }

    /// Checks that the caller may read what is left of a deleted order, its history: staff and
    /// admins (support, chargebacks; a key with `orders:read`, which [`Caller::check`] then
    /// asks for). To a customer a deleted order is gone, as `GET /v1/orders/{id}` answers.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a customer, never [`ServiceError::Forbidden`], so the
    /// answer does not tell a deleted order from none.
    pub(crate) fn check_reads_deleted(&self) -> Result<(), ServiceError> {
        match self.role {
            Role::Customer => Err(ServiceError::NotFound),
            Role::Staff | Role::Admin => Ok(()),
        }
    }

    /// Checks that the caller may audit every order's event chain (admins only).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for anyone else.
    pub(crate) fn check_may_audit(&self) -> Result<(), ServiceError> {
        if self.role == Role::Admin && self.key.is_none() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "only admins audit the event chains",
            ))
        }
    }

    /// The list a customer's `query` really asks for: its own orders only (`None`: the query
    /// stands as it is, for staff and admins, or a customer already naming itself).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for a customer naming another customer.
    pub(crate) fn scope_list(
        &self,
        query: &ordo_repository::ListQuery,
    ) -> Result<Option<ordo_repository::ListQuery>, ServiceError> {
        const OWN_ONLY: &str = "customers list only their own orders";
        match (self.role, query.customer_id, self.customer) {
            (Role::Customer, Some(named), _) => {
                self.check_acting_for(named, OWN_ONLY).map(|()| None)
            }
            (Role::Customer, None, Some(own)) => Ok(Some(ordo_repository::ListQuery {
                customer_id: Some(own),
                ..query.clone()
            })),
            (Role::Customer, None, None) => Err(ServiceError::Forbidden(OWN_ONLY)),
            (Role::Staff | Role::Admin, _, _) => self.require(Scope::OrdersRead).map(|()| None),
        }
    }

    /// Checks that the caller may place or list orders of `customer`.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for a customer naming another customer.
    pub(crate) fn check_acting_for(
        &self,
        customer: CustomerId,
        what: &'static str,
    ) -> Result<(), ServiceError> {
        if self.sees(customer) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(what))
        }
    }
}

/// Why a caller may not change a detail of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DetailRefusal {
    /// The field is not the caller's to change in any status (a customer and `tags`), or it
    /// is not a detail at all.
    #[error("{field} cannot be changed by this caller")]
    NotTheirs {
        /// The field.
        field: &'static str,
    },
    /// The caller could change it earlier, but not with the order in `status`.
    #[error("{field} can no longer be changed: the order is {status}")]
    NoLonger {
        /// The field.
        field: &'static str,
        /// Where the order is.
        status: OrderStatus,
    },
}

/// How long a detail stays changeable, for a customer and for staff.
#[derive(Debug, Clone, Copy)]
enum Until {
    Never,
    /// Before anyone starts on the order.
    Pending,
    /// Until it is completed (shipped, when fulfilments land) or cancelled.
    Fulfilled,
    Always,
}

impl Until {
    fn allows(self, status: OrderStatus) -> bool {
        match self {
            Self::Never => false,
            Self::Pending => status == OrderStatus::Pending,
            Self::Fulfilled => matches!(status, OrderStatus::Pending | OrderStatus::Processing),
            Self::Always => true,
        }
    }
}

/// The details table of the module's documentation: (field, customer, staff and admin).
const DETAIL_RULES: [(&str, Until, Until); 8] = [
    ("contact", Until::Pending, Until::Fulfilled),
    ("shipping_address", Until::Pending, Until::Fulfilled),
    ("billing_address", Until::Pending, Until::Fulfilled),
    ("customer_note", Until::Pending, Until::Fulfilled),
    ("staff_note", Until::Never, Until::Always),
    ("tags", Until::Never, Until::Always),
    ("metadata", Until::Never, Until::Always),
    ("channel", Until::Never, Until::Never),
];

impl Caller {
    /// Whether the caller may change `field` (one of [`DETAIL_FIELDS`]) of an order it may
    /// see, with the order in `status`. Whether it may see the order is `Caller::check`'s.
    ///
    /// # Errors
    /// [`DetailRefusal`], naming the field.
    pub fn may_change_detail(&self, field: &str, status: OrderStatus) -> Result<(), DetailRefusal> {
        let Some(&(field, customer, operator)) =
            DETAIL_RULES.iter().find(|(name, _, _)| *name == field)
        else {
            return Err(DetailRefusal::NotTheirs { field: "(unknown)" });
        };
        let until = if self.role == Role::Customer {
            customer
        } else {
            operator
        };
        if until.allows(status) {
            Ok(())
        } else if matches!(until, Until::Never) {
            Err(DetailRefusal::NotTheirs { field })
        } else {
            Err(DetailRefusal::NoLonger { field, status })
        }
    }
}

impl Caller {
    /// Whether the caller may set the details of `draft` when placing an order: each detail
    /// given must be one the caller may ever change (so a customer sets no `staff_note`,
    /// `tags`, `metadata` or `channel`); staff and admins also set the `channel`.
    ///
    /// # Errors
    /// [`DetailRefusal::NotTheirs`], naming the first such field.
    pub fn may_set_details(&self, draft: &OrderDetailsDraft) -> Result<(), DetailRefusal> {
        if self.role != Role::Customer {
            return Ok(());
        }
        let given = [
            draft.contact.is_some(),
            draft.shipping_address.is_some(),
            draft.billing_address.is_some(),
            draft.customer_note.is_some(),
            draft.staff_note.is_some(),
            !draft.tags.is_empty(),
            !draft.metadata.is_empty(),
            draft.channel.is_some(),
        ];
        match DETAIL_RULES
            .iter()
            .zip(given)
            .find(|((_, customer, _), given)| *given && matches!(customer, Until::Never))
        {
            Some(((field, _, _), _)) => Err(DetailRefusal::NotTheirs { field }),
            None => Ok(()),
        }
    }

    /// Whether the caller may name `field` in a change at all: a field it never sees (a
    /// customer and `staff_note`) is refused whatever the value, since any other answer would
    /// tell whether the field is set, or confirm a guess of it.
    ///
    /// # Errors
    /// [`DetailRefusal::NotTheirs`].
    pub fn may_name_detail(&self, field: &str) -> Result<(), DetailRefusal> {
        if field == "staff_note" && !self.sees_staff_note() {
            Err(DetailRefusal::NotTheirs {
                field: "staff_note",
            })
        } else {
            Ok(())
        }
    }

    /// Whether the caller sees the shop's own note on an order (customers do not).
    pub fn sees_staff_note(&self) -> bool {
        self.role != Role::Customer
    }
}

/// Every detail has a rule, and every rule a detail.
const _: () = assert!(DETAIL_RULES.len() == DETAIL_FIELDS.len());

/// What a caller asks to do to an existing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Read,
    Cancel,
    Transition,
    Refund,
    Delete,
    Fulfil,
    RecordPayment,
}

impl Action {
    /// The scope an API key needs for the action.
    fn scope(self) -> Scope {
        match self {
            Self::Read => Scope::OrdersRead,
            Self::Cancel | Self::Transition | Self::Delete | Self::Fulfil | Self::RecordPayment => {
                Scope::OrdersWrite
            }
            Self::Refund => Scope::OrdersRefund,
        }
    }

    fn refusal(self) -> &'static str {
        match self {
            Self::Read | Self::Cancel => "this role may not do that",
            Self::Transition => "only staff and admins move orders to processing or completed",
            Self::Refund => "only staff and admins refund orders",
            Self::Delete => "only admins delete orders",
            Self::Fulfil => "only staff and admins fulfil orders",
            Self::RecordPayment => "only staff and admins record payments",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Action, Caller, Role};

    #[test]
    fn docs_access_md_holds_the_same_tables() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/access.md");
        let page = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path}: {error}"));
        let rows: Vec<&str> = include_str!("access.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("//! |"))
            .collect();
        assert!(rows.len() > 10, "the check found no tables in access.rs");
        let page_rows: Vec<&str> = page
            .lines()
            .filter_map(|line| line.strip_prefix('|'))
            .collect();
        assert_eq!(
            rows, page_rows,
            "docs/access.md and access.rs list different tables"
        );
    }
    use crate::ServiceError;
    use ordo_domain::CustomerId;

    fn customer(n: u128) -> CustomerId {
        CustomerId::from_uuid(uuid::Uuid::from_u128(n)).unwrap_or_else(|_| unreachable!())
    }

    /// An order naming a figure of every kind: a custom line, a discount, a tax rate, a
    /// shipping amount.
    fn priced_draft() -> ordo_domain::OrderDraft {
        serde_json::from_value(serde_json::json!({
            "customer_id": "0193a1a0-0000-7000-8000-000000000001",
            "currency": "USD",
            "items": [
                {"quantity": 1, "snapshot": {"sku": "A"}},
                {"product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1, "unit_price": "1"}
            ],
            "discount": {"type": "fixed", "amount": "1"},
            "tax_rate": "0.1",
            "shipping": [{"code": "dhl", "title": "DHL", "amount": "1"}]
        }))
        .unwrap_or_else(|error| panic!("{error}"))
    }

    /// The actions table's price and book rows, for every role: a customer naming figures is
    /// told each field; reading the book is anyone's, changing it staff's and admins'.
    #[test]
    fn figures_and_the_book_answer_each_role_as_documented() {
        let customer = Caller::customer(customer(1));
        let staff = Caller::operator(Role::Staff, "s").unwrap_or_else(|_| unreachable!());
        let admin = Caller::operator(Role::Admin, "a").unwrap_or_else(|_| unreachable!());
        match customer.may_name_prices(&priced_draft()) {
            Err(ServiceError::SetByShop(fields)) => assert_eq!(
                fields,
                [
                    "items[1].unit_price",
                    "discount",
                    "tax_rate",
                    "shipping[0].amount"
                ]
            ),
            other => panic!("{other:?}"),
        }
        let mut by_sku = priced_draft();
        by_sku.items.truncate(1);
        (by_sku.discount, by_sku.tax_rate) = (None, None);
        by_sku.shipping.clear();
        assert!(customer.may_name_prices(&by_sku).is_ok());
        assert!(
            customer
                .check_catalog(crate::api_keys::Scope::CatalogRead)
                .is_ok()
        );
        assert!(matches!(
            customer.check_catalog(crate::api_keys::Scope::CatalogWrite),
            Err(ServiceError::Forbidden(_))
        ));
        for scope in [
            crate::api_keys::Scope::CatalogRead,
            crate::api_keys::Scope::CatalogWrite,
        ] {
            assert!(matches!(
                customer.check_discount_codes(scope),
                Err(ServiceError::Forbidden(_))
            ));
            assert!(staff.check_discount_codes(scope).is_ok());
            assert!(admin.check_discount_codes(scope).is_ok());
        }
        for operator in [staff, admin] {
            assert!(operator.may_name_prices(&priced_draft()).is_ok());
            assert!(
                operator
                    .check_catalog(crate::api_keys::Scope::CatalogRead)
                    .is_ok()
            );
            assert!(
                operator
                    .check_catalog(crate::api_keys::Scope::CatalogWrite)
                    .is_ok()
            );
        }
    }

    /// The API key table in the module's documentation, cell by cell: every set of scopes a
    /// key can hold, against every action on any customer's order, placing, listing and
    /// managing keys.
    #[test]
    fn an_api_key_may_do_exactly_what_its_scopes_say() {
        use crate::api_keys::Scope;
        use std::collections::BTreeSet;
        let all: Vec<Scope> = Scope::all().collect();
        // (what, the scopes it needs; `None` when no scope allows it)
        let (read, write, refund) = (Scope::OrdersRead, Scope::OrdersWrite, Scope::OrdersRefund);
        let (price, book, catalog) = (Scope::OrdersPrice, Scope::CatalogRead, Scope::CatalogWrite);
        let table: [(&str, Option<&[Scope]>); 13] = [
            ("read", Some(&[read])),
            ("list", Some(&[read])),
            ("place", Some(&[write])),
            ("place naming figures", Some(&[write, price])),
            ("read the book", Some(&[book])),
            ("change the book", Some(&[catalog])),
            ("read discount codes", Some(&[book])),
            ("change discount codes", Some(&[catalog])),
            ("cancel", Some(&[write, read])),
            ("transition", Some(&[write, read])),
            ("refund", Some(&[refund, read])),
            ("delete", None),
            ("manage keys", None),
        ];
        for held in 0..(1_u32 << all.len()) {
            let scopes: BTreeSet<Scope> = all
                .iter()
                .enumerate()
                .filter(|(bit, _)| held & (1 << bit) != 0)
                .map(|(_, scope)| *scope)
                .collect();
            let key = Caller::key(uuid::Uuid::from_u128(9), scopes.clone());
            for (what, needs) in table {
                let result = match what {
                    "read" => key.check(Action::Read, customer(1)),
                    "list" => key
                        .scope_list(&ordo_repository::ListQuery::all())
                        .map(|_| ()),
                    "place" => key.require(Scope::OrdersWrite),
                    "place naming figures" => key
                        .require(Scope::OrdersWrite)
                        .and_then(|()| key.may_name_prices(&priced_draft())),
                    "read the book" => key.check_catalog(Scope::CatalogRead),
                    "change the book" => key.check_catalog(Scope::CatalogWrite),
                    "read discount codes" => key.check_discount_codes(Scope::CatalogRead),
                    "change discount codes" => key.check_discount_codes(Scope::CatalogWrite),
                    "cancel" => key.check(Action::Cancel, customer(2)),
                    "transition" => key.check(Action::Transition, customer(1)),
                    "refund" => key.check(Action::Refund, customer(1)),
                    "delete" => key.check(Action::Delete, customer(1)),
                    _ => key.check_manages_keys(),
                };
                let allowed =
                    needs.is_some_and(|needs| needs.iter().all(|scope| scopes.contains(scope)));
                match result {
                    Ok(()) => assert!(allowed, "{what} with {scopes:?}"),
                    Err(ServiceError::Forbidden(why)) => {
                        assert!(!allowed, "{what} with {scopes:?}: {why}");
                        // The refusal names the first scope the key lacks.
                        if let Some(lacking) = needs
                            .and_then(|needs| needs.iter().find(|scope| !scopes.contains(scope)))
                        {
                            assert!(why.contains(lacking.as_str()), "{what}: {why}");
                        }
                    }
                    Err(error) => panic!("{what} with {scopes:?}: {error}"),
                }
            }
        }
    }

    /// The table in the module's documentation, cell by cell.
    #[test]
    fn every_role_and_owner_gets_the_documented_answer() {
        let own = customer(1);
        let other = customer(2);
        let callers = [
            ("customer", Caller::customer(own)),
            (
                "staff",
                Caller::operator(Role::Staff, "s").unwrap_or_else(|_| unreachable!()),
            ),
            (
                "admin",
                Caller::operator(Role::Admin, "a").unwrap_or_else(|_| unreachable!()),
            ),
        ];
        // (action, customer on own, customer on other's, staff, admin): "ok", "403" or "404".
        let table = [
            (Action::Read, "ok", "404", "ok", "ok"),
            (Action::Cancel, "ok", "404", "ok", "ok"),
            (Action::Transition, "403", "404", "ok", "ok"),
            (Action::Refund, "403", "404", "ok", "ok"),
            (Action::Delete, "403", "404", "403", "ok"),
        ];
        let answer = |result: Result<(), ServiceError>| match result {
            Ok(()) => "ok",
            Err(ServiceError::Forbidden(_)) => "403",
            Err(ServiceError::NotFound) => "404",
            Err(_) => "other",
        };
        for (action, own_cell, other_cell, staff_cell, admin_cell) in table {
            let [(_, customer), (_, staff), (_, admin)] = &callers;
            assert_eq!(answer(customer.check(action, own)), own_cell, "{action:?}");
            assert_eq!(
                answer(customer.check(action, other)),
                other_cell,
                "{action:?}"
            );
            for owner in [own, other] {
                assert_eq!(answer(staff.check(action, owner)), staff_cell, "{action:?}");
                assert_eq!(answer(admin.check(action, owner)), admin_cell, "{action:?}");
            }
        }
        for (name, caller) in &callers {
            let expected = if *name == "customer" { "403" } else { "ok" };
            assert_eq!(
                answer(caller.check_acting_for(other, "x")),
                expected,
                "{name}"
            );
            assert_eq!(answer(caller.check_acting_for(own, "x")), "ok", "{name}");
        }
    }

    #[test]
    fn only_staff_and_admins_read_what_is_left_of_a_deleted_order() {
        let key = Caller::key(
            uuid::Uuid::from_u128(1),
            [crate::api_keys::Scope::OrdersRead].into(),
        );
        assert!(matches!(
            Caller::customer(customer(1)).check_reads_deleted(),
            Err(ServiceError::NotFound)
        ));
        for role in [Role::Staff, Role::Admin] {
            let caller = Caller::operator(role, "s").unwrap_or_else(|_| unreachable!());
            assert!(caller.check_reads_deleted().is_ok(), "{role}");
        }
        assert!(key.check_reads_deleted().is_ok());
    }

    /// The details table, cell by cell: every field, role and status.
    #[test]
    fn every_detail_field_role_and_status_gets_the_documented_answer() {
        use super::DetailRefusal;
        use ordo_domain::{DETAIL_FIELDS, OrderStatus};
        let customer = Caller::customer(customer(1));
        let staff = Caller::operator(Role::Staff, "s").unwrap_or_else(|_| unreachable!());
        let admin = Caller::operator(Role::Admin, "a").unwrap_or_else(|_| unreachable!());
        let statuses = [
            OrderStatus::Pending,
            OrderStatus::Processing,
            OrderStatus::Completed,
            OrderStatus::Cancelled,
        ];
        // Per field: the customer's answers, then staff's (admin's are staff's), per status
        // above: "ok", "never" (not theirs) or "late" (no longer).
        let table: [(&str, [&str; 4], [&str; 4]); 8] = [
            (
                "contact",
                ["ok", "late", "late", "late"],
                ["ok", "ok", "late", "late"],
            ),
            (
                "shipping_address",
                ["ok", "late", "late", "late"],
                ["ok", "ok", "late", "late"],
            ),
            (
                "billing_address",
                ["ok", "late", "late", "late"],
                ["ok", "ok", "late", "late"],
            ),
            (
                "customer_note",
                ["ok", "late", "late", "late"],
                ["ok", "ok", "late", "late"],
            ),
            ("staff_note", ["never"; 4], ["ok"; 4]),
            ("tags", ["never"; 4], ["ok"; 4]),
            ("metadata", ["never"; 4], ["ok"; 4]),
            ("channel", ["never"; 4], ["never"; 4]),
        ];
        let answer = |result: Result<(), DetailRefusal>| match result {
            Ok(()) => "ok",
            Err(DetailRefusal::NotTheirs { .. }) => "never",
            Err(DetailRefusal::NoLonger { .. }) => "late",
        };
        assert_eq!(
            table.map(|(field, _, _)| field),
            DETAIL_FIELDS,
            "the table covers every detail"
        );
        for (field, customer_row, staff_row) in table {
            for (i, status) in statuses.into_iter().enumerate() {
                let cell = |caller: &Caller| answer(caller.may_change_detail(field, status));
                assert_eq!(
                    cell(&customer),
                    customer_row[i],
                    "customer {field} {status}"
                );
                assert_eq!(cell(&staff), staff_row[i], "staff {field} {status}");
                assert_eq!(cell(&admin), staff_row[i], "admin {field} {status}");
            }
        }
        // A financial field is no detail: nobody changes it this way.
        for field in ["total", "items", "tax_rate", "customer_id"] {
            assert!(
                admin
                    .may_change_detail(field, OrderStatus::Pending)
                    .is_err()
            );
        }
    }

    #[test]
    fn a_customer_places_with_only_the_details_it_may_change() {
        use super::DetailRefusal;
        use ordo_domain::{ContactDraft, OrderDetailsDraft};
        let customer = Caller::customer(customer(1));
        let staff = Caller::operator(Role::Staff, "s").unwrap_or_else(|_| unreachable!());
        let own = OrderDetailsDraft {
            contact: Some(ContactDraft {
                email: "ada@example.com".into(),
                phone: None,
                name: None,
            }),
            customer_note: Some("hi".into()),
            ..OrderDetailsDraft::default()
        };
        assert_eq!(customer.may_set_details(&own), Ok(()));
        let shops: [(&str, OrderDetailsDraft); 4] = [
            (
                "staff_note",
                OrderDetailsDraft {
                    staff_note: Some("x".into()),
                    ..own.clone()
                },
            ),
            (
                "tags",
                OrderDetailsDraft {
                    tags: vec!["x".into()],
                    ..own.clone()
                },
            ),
            (
                "metadata",
                OrderDetailsDraft {
                    metadata: [("k".into(), "v".into())].into(),
                    ..own.clone()
                },
            ),
            (
                "channel",
                OrderDetailsDraft {
                    channel: Some("web".into()),
                    ..own.clone()
                },
            ),
        ];
        for (field, draft) in shops {
            assert_eq!(
                customer.may_set_details(&draft),
                Err(DetailRefusal::NotTheirs { field }),
                "{field}"
            );
            assert_eq!(staff.may_set_details(&draft), Ok(()), "{field}");
        }
        assert!(!customer.sees_staff_note() && staff.sees_staff_note());
        assert!(customer.may_name_detail("staff_note").is_err());
        assert!(customer.may_name_detail("contact").is_ok());
        assert!(staff.may_name_detail("staff_note").is_ok());
        assert!(customer.check_may_erase().is_err() && staff.check_may_erase().is_err());
        assert!(Caller::unauthenticated().check_may_erase().is_ok());
    }

    #[test]
    fn scopes_differ_between_callers_and_roles() {
        let a = Caller::customer(customer(1)).scope();
        let b = Caller::customer(customer(2)).scope();
        let staff = Caller::operator(Role::Staff, customer(1).to_string())
            .unwrap_or_else(|_| unreachable!())
            .scope();
        assert!(a != b && a != staff && b != staff);
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        for role in [Role::Customer, Role::Staff, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
        assert!("root".parse::<Role>().is_err());
        assert!(Caller::operator(Role::Customer, "x").is_err());
    }
}
