//! The order storage port.
#![cfg_attr(
    feature = "mock",
    allow(clippy::ref_option_ref, reason = "in mockall's generated code")
)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::{
    Channel, CustomerId, Email, EventRecord, FulfillmentStatus, Order, OrderId, OrderNumber,
    OrderStatus, PaymentStatus, Sku, Tag, Version,
};
use rust_decimal::Decimal;

use uuid::Uuid;

use crate::{Claim, Cursor, PaymentAttempt, Refund, RefundStatus, RepoError};

/// The largest page a list may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// A page size in `1..=MAX_PAGE_SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

/// A page size of zero or over [`MAX_PAGE_SIZE`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("page size must be between 1 and {MAX_PAGE_SIZE}, got {0}")]
pub struct InvalidPageSize(pub u64);

impl PageSize {
    /// The page size used when a caller gives none.
    pub const DEFAULT: Self = Self(20);

    /// A page size, if it is in range: over the cap is an error, never a silent clamp.
    ///
    /// # Errors
    /// [`InvalidPageSize`].
    pub fn new(size: u64) -> Result<Self, InvalidPageSize> {
        u32::try_from(size)
            .ok()
            .filter(|s| (1..=MAX_PAGE_SIZE).contains(s))
            .map(Self)
            .ok_or(InvalidPageSize(size))
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Which orders to list, and where to start: every filter given must hold. Any combination
/// pages by the same keyset, `(created_at, id)` descending, so orders placed while a client
/// pages through appear on no later page and none is skipped or repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only this customer's orders; every customer's when `None` (staff and admins only: the
    /// service scopes a customer's list to its own).
    pub customer_id: Option<CustomerId>,
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Only orders whose payment is in this status.
    pub payment_status: Option<PaymentStatus>,
    /// Only orders this far fulfilled.
    pub fulfillment_status: Option<FulfillmentStatus>,
    /// Only manually paid orders still unpaid (or partly) whose payment was due before this.
    pub due_before: Option<DateTime<Utc>>,
    /// Only orders created at or after this instant.
    pub created_after: Option<DateTime<Utc>>,
    /// Only orders created strictly before this instant.
    pub created_before: Option<DateTime<Utc>>,
    /// Only orders whose contact has this email, matched case-insensitively.
    pub email: Option<Email>,
    /// Only orders carrying this tag.
    pub tag: Option<Tag>,
    /// Only orders with a line of this SKU.
    pub sku: Option<Sku>,
    /// Only orders from this channel.
    pub channel: Option<Channel>,
    /// Only orders whose total is at least this.
    pub total_min: Option<TotalBound>,
    /// Only orders whose total is at most this.
    pub total_max: Option<TotalBound>,
    /// Only orders whose number, email or a name (the contact's, the shipping or billing
    /// address's) contains this text, case-insensitively.
    pub text: Option<SearchText>,
    /// At most this many orders.
    pub limit: PageSize,
    /// Continue after this position (from a previous [`Page::next`]).
    pub after: Option<Cursor>,
}

impl ListQuery {
    /// The first page of every order, newest first, with no filter.
    pub fn all() -> Self {
        Self {
            customer_id: None,
            status: None,
            payment_status: None,
            fulfillment_status: None,
            due_before: None,
            created_after: None,
            created_before: None,
            email: None,
            tag: None,
            sku: None,
            channel: None,
            total_min: None,
            total_max: None,
            text: None,
            limit: PageSize::DEFAULT,
            after: None,
        }
    }

    /// The first page of a customer's orders, newest first, with no other filter.
    pub fn first_page(customer_id: CustomerId) -> Self {
        Self {
            customer_id: Some(customer_id),
            ..Self::all()
        }
    }
}

/// Free text to search orders by: 3 to [`MAX_SEARCH_CHARS`] characters once trimmed (fewer
/// would match most orders and no index helps), no control characters. Kept as typed: each
/// database folds its case as it folds the text searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(String);

/// The longest search text.
pub const MAX_SEARCH_CHARS: usize = 100;

/// Search text that is too short, too long or holds a control character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 3 to {MAX_SEARCH_CHARS} characters, without control characters")]
pub struct InvalidSearchText;

impl SearchText {
    /// The text, trimmed.
    ///
    /// # Errors
    /// [`InvalidSearchText`].
    pub fn parse(raw: &str) -> Result<Self, InvalidSearchText> {
        let text = raw.trim();
        let chars = text.chars().count();
        if (3..=MAX_SEARCH_CHARS).contains(&chars) && !text.chars().any(char::is_control) {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidSearchText)
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A bound of a total range: 0 to [`ordo_domain::MAX_AMOUNT`], at most 4 decimals (no
/// currency has more minor units, so a bound means exactly what it says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotalBound(Decimal);

/// A total bound out of range or with more than 4 decimals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an amount from 0 to 999999999999999.9999, digits with at most 4 decimals")]
pub struct InvalidTotalBound;

impl TotalBound {
    /// The bound, if it is one.
    ///
    /// # Errors
    /// [`InvalidTotalBound`].
    pub fn new(amount: Decimal) -> Result<Self, InvalidTotalBound> {
        if (amount.is_sign_negative() && !amount.is_zero()) || amount > ordo_domain::MAX_AMOUNT {
            return Err(InvalidTotalBound);
        }
        if amount.scale() > 4 {
            return Err(InvalidTotalBound);
        }
        Ok(Self(amount.normalize()))
    }

    /// The amount.
    pub fn get(self) -> Decimal {
        self.0
    }
}

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The orders, newest first.
    pub orders: Vec<Order>,
    /// Where the next page starts; `None` when this is the last page.
    pub next: Option<Cursor>,
}

/// A connection pool's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool may open.
    pub max: u32,
    /// Callers waiting for a connection now.
    pub waiting: u32,
}

/// One erasure of a customer's personal data, as recorded (no personal data in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// The record's id.
    pub id: Uuid,
    /// Whose data.
    pub customer_id: CustomerId,
    /// Who asked (the caller's scope).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// How many orders it changed.
    pub orders: u32,
}

/// Where orders are kept. Implemented by [`crate::PgStore`] and [`crate::SqliteStore`].
///
/// Timestamps are kept to the microsecond: callers pass times already truncated to it, so what
/// is read back equals what was written.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OrderRepository: Send + Sync {
    /// Draws the next value of the order-number sequence, unique across every replica sharing
    /// the database. Values are never handed out twice, even across restarts; gaps may occur.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn next_order_sequence(&self) -> Result<u64, RepoError>;

    /// Stores a new order with all its line items and its first event, atomically, in a
    /// constant number of statements whatever the item count.
    ///
    /// Every write of an order here records its `event` in the same transaction, chained to the
    /// order's last one (`ordo_domain::link`), and only when the write happens: no change
    /// without its event, no event without its change. With a `claim`, the idempotency key is linked to the
    /// order in the same transaction, so no crash can leave one without the other.
    ///
    /// # Errors
    /// [`RepoError::ClaimLost`] when the claim is no longer held (nothing is stored);
    /// [`RepoError::Duplicate`] when its id or number exists; [`RepoError::Unavailable`];
    /// [`RepoError::Other`].
    async fn insert<'a>(
        &self,
        order: &Order,
        claim: Option<&'a Claim>,
        event: &EventRecord,
    ) -> Result<(), RepoError>;

    /// One order with its items.
    ///
    /// # Errors
    /// [`RepoError::NotFound`] when it does not exist or was deleted; [`RepoError::Corrupt`]
    /// when the stored figures fail re-pricing; [`RepoError::Unavailable`]; [`RepoError::Other`].
    async fn get(&self, id: OrderId) -> Result<Order, RepoError>;

    /// The order with this number (numbers are unique), unless it was deleted.
    ///
    /// # Errors
    /// As [`OrderRepository::get`].
    async fn get_by_number(&self, number: &OrderNumber) -> Result<Order, RepoError>;

    /// The orders matching `query`, newest first, by keyset pagination on `(created_at, id)`.
    ///
    /// # Errors
    /// [`RepoError::Corrupt`], [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn list(&self, query: &ListQuery) -> Result<Page, RepoError>;

    /// Writes the order's mutable fields (status, cancellation reason, version, updated time)
    /// if and only if the stored version is `expected`; `order.version()` must be above it.
    ///
    /// # Errors
    /// [`RepoError::VersionConflict`] with the stored version when `expected` is stale;
    /// [`RepoError::NotFound`] when it does not exist or was deleted; [`RepoError::Unavailable`];
    /// [`RepoError::Other`].
    async fn update(
        &self,
        order: &Order,
        expected: Version,
        event: &EventRecord,
    ) -> Result<(), RepoError>;

    /// Audits one call to the payment gateway. Recorded before the order is updated, so a call
    /// whose result could not be written to the order is still on record.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn record_payment_attempt(&self, attempt: &PaymentAttempt) -> Result<(), RepoError>;

    /// Audits `attempt` and writes `order` by compare-and-set, as
    /// [`OrderRepository::record_payment_attempt`] then [`OrderRepository::update`] would, as
    /// one write: the audit row is written whether or not the compare-and-set matches.
    ///
    /// # Errors
    /// As [`OrderRepository::update`]; an audit that cannot be written fails the call too, and
    /// so does an attempt made for another order ([`RepoError::Other`], nothing written).
    async fn update_with_attempt(
        &self,
        order: &Order,
        expected: Version,
        attempt: &PaymentAttempt,
        event: &EventRecord,
    ) -> Result<(), RepoError>;

    /// Reserves a refund: writes `order` (with the refund recorded) by compare-and-set on
    /// `expected`, and stores `refund` as pending, in one transaction. Concurrent refunds of
    /// one order serialize on the version, so they never add up to more than was captured.
    ///
    /// # Errors
    /// [`RepoError::VersionConflict`]; [`RepoError::NotFound`]; [`RepoError::Unavailable`];
    /// [`RepoError::Other`].
    async fn reserve_refund(
        &self,
        order: &Order,
        expected: Version,
        refund: &Refund,
        event: &EventRecord,
    ) -> Result<(), RepoError>;

    /// Settles a pending refund: marks it `status`, and with `order`, writes the order (the
    /// reservation released, for a failed refund) by compare-and-set, in one transaction.
    /// Without `order`, the order is left as it is, but only while it still stands at the
    /// version `event` shows (or was deleted): an event never shows an order older than the
    /// one stored when it is recorded.
    ///
    /// # Errors
    /// [`RepoError::VersionConflict`] (nothing written) when the order is not at the version
    /// expected (`order`'s, or `event`'s); [`RepoError::NotFound`] when the refund is not
    /// pending; [`RepoError::Unavailable`]; [`RepoError::Other`].
    async fn settle_refund<'a>(
        &self,
        refund_id: Uuid,
        status: RefundStatus,
        order: Option<(&'a Order, Version)>,
        at: DateTime<Utc>,
        event: &EventRecord,
    ) -> Result<(), RepoError>;

    /// One refund, by its id.
    ///
    /// # Errors
    /// [`RepoError::NotFound`]; [`RepoError::Corrupt`]; [`RepoError::Unavailable`];
    /// [`RepoError::Other`].
    async fn refund(&self, id: Uuid) -> Result<Refund, RepoError>;

    /// Refunds made before `created_before` still waiting for the gateway's answer, oldest
    /// first (younger ones may still be in their request's hands).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn pending_refunds(
        &self,
        limit: u32,
        created_before: DateTime<Utc>,
    ) -> Result<Vec<Refund>, RepoError>;

    /// Orders with a gateway call claimed and not settled, oldest first: those whose
    /// authorization answer never came (payment `unknown`), and those claimed before
    /// `claimed_before` (a request still running is left alone until then).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn orders_with_pending_payment(
        &self,
        limit: u32,
        claimed_before: DateTime<Utc>,
    ) -> Result<Vec<OrderId>, RepoError>;

    /// Every order of `customer`, deleted ones too, oldest first: what an erasure must reach.
    ///
    /// # Errors
    /// [`RepoError::Corrupt`], [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn orders_of_customer(&self, customer: CustomerId) -> Result<Vec<Order>, RepoError>;

    /// Erases a customer's personal data in one transaction: writes each order (already
    /// erased, see `Order::erase_personal_data`) by compare-and-set on its expected version,
    /// deleted or not, with its event; removes the payloads (the order as it was) of the
    /// order's earlier events, keeping their digests, so the chain still verifies; replaces the stored responses of idempotency keys that made those
    /// orders with `410 Gone` (they held the data too); records `erasure`.
    ///
    /// # Errors
    /// [`RepoError::VersionConflict`] when an order changed meanwhile (nothing is written:
    /// read them again and retry); [`RepoError::Unavailable`]; [`RepoError::Other`].
    async fn erase_customer<'a>(
        &self,
        orders: &'a [(Order, Version, EventRecord)],
        erasure: &'a Erasure,
    ) -> Result<(), RepoError>;

    /// The erasures recorded for `customer`, oldest first.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn erasures_of(&self, customer: CustomerId) -> Result<Vec<Erasure>, RepoError>;

    /// The connection pool's figures right now, for metrics.
    fn pool_stats(&self) -> PoolStats;

    /// Checks that the database answers and that every migration this build knows is applied.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the database does not answer; [`RepoError::Other`] when
    /// migrations are pending.
    async fn check_ready(&self) -> Result<(), RepoError>;

    /// Soft-deletes an order (it is kept, but no longer found), bumping its version. With
    /// `expected`, only if the stored version is that one.
    ///
    /// # Errors
    /// [`RepoError::NotFound`] when it does not exist or was already deleted;
    /// [`RepoError::VersionConflict`]; [`RepoError::Unavailable`]; [`RepoError::Other`].
    async fn soft_delete(
        &self,
        id: OrderId,
        expected: Option<Version>,
        at: DateTime<Utc>,
        event: &EventRecord,
    ) -> Result<(), RepoError>;
}
