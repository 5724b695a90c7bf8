//! Storage for ordo: the [`OrderRepository`] trait, and its PostgreSQL ([`PgStore`]) and
//! SQLite ([`SqliteStore`]) implementations.
//!
//! The traits speak only in `ordo-domain` types; no sqlx type crosses them. The implementations
//! sit behind the `postgres` and `sqlite` cargo features (both on by default), so a crate that
//! only needs the traits (the service) builds without sqlx. The `mock` feature adds mockall
//! fakes (`MockOrderRepository`), and `test-util` adds fresh throwaway databases for tests.
//!
//! All of ordo's SQL lives in this crate, and its schema in `migrations/postgres` and
//! `migrations/sqlite`, applied by each store's `migrate()`.

mod api_keys;
mod coordination;
mod cursor;
mod discounts;
mod error;
mod events;
mod idempotency;
mod orders;
mod payments;
mod products;
mod rates;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod store;
#[cfg(feature = "test-util")]
pub mod testing;
mod webhooks;

#[cfg(feature = "mock")]
pub use api_keys::MockApiKeyStore;
pub use api_keys::{ApiKeyStore, StoredKey};
pub use coordination::Coordination;
#[cfg(feature = "mock")]
pub use coordination::MockCoordination;
pub use cursor::{Cursor, InvalidCursor};
#[cfg(feature = "mock")]
pub use discounts::MockDiscountCodeStore;
pub use discounts::{CodePage, CodeWrite, DiscountCodeStore, Redemption};
pub use error::{BoxError, RepoError};
#[cfg(feature = "mock")]
pub use events::MockEventStore;
pub use events::{
    EventStore, FeedPage, FeedPosition, FeedQuery, InvalidFeedCursor, MAX_FEED_PAGE, StoredEvent,
};
#[cfg(feature = "mock")]
pub use idempotency::MockIdempotencyStore;
pub use idempotency::{Begin, Claim, IdempotencyStore, KeyRequest, KeyScope, StoredResponse};
#[cfg(feature = "mock")]
pub use orders::MockOrderRepository;
pub use orders::{
    Erasure, InvalidPageSize, InvalidSearchText, InvalidTotalBound, ListQuery, MAX_PAGE_SIZE,
    MAX_SEARCH_CHARS, OrderRepository, Page, PageSize, PoolStats, SearchText, TotalBound,
};
/// Re-exported so storage callers need not name the domain for it.
pub use ordo_domain::PaymentOperation;
#[cfg(feature = "mock")]
pub use payments::MockGatewayLedger;
pub use payments::{
    AttemptOutcome, GatewayLedger, LedgerEntry, PaymentAttempt, Refund, RefundStatus,
};
#[cfg(feature = "mock")]
pub use products::MockProductStore;
pub use products::{ProductPage, ProductQuery, ProductStore, ProductWrite};
#[cfg(feature = "mock")]
pub use rates::MockRatesStore;
pub use rates::{RatesStore, StoredRates, Versioned};
#[cfg(feature = "postgres")]
pub use store::{InvalidSchema, PgDialect, PgOptions, PgSchema};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use store::{Refusal, Store};
#[cfg(feature = "sqlite")]
pub use store::{SqliteDialect, SqliteOptions};
#[cfg(feature = "mock")]
pub use webhooks::MockWebhookStore;
pub use webhooks::{
    AttemptRecord, Delivery, DeliveryStatus, EndpointHealth, NewDelivery, WebhookEndpoint,
    WebhookStore,
};

/// Orders in PostgreSQL: what production replicas share.
#[cfg(feature = "postgres")]
pub type PgStore = Store<PgDialect>;

/// Orders in an SQLite file: ordo with no setup.
#[cfg(feature = "sqlite")]
pub type SqliteStore = Store<SqliteDialect>;
