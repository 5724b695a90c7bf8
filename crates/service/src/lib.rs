//! ordo's use cases: place, preview, read, list, move through the status machine, cancel and
//! delete orders. Policies live here; storage is reached only through the repository traits,
//! and time and ids through the [`Clock`] and [`IdGenerator`] ports, so tests are deterministic.

mod access;
mod api_keys;
mod books;
mod catalog;
mod details;
mod discounts;
mod error;
mod events;
mod fulfillments;
mod gateway;
mod idempotency;
mod orders;
mod payments;
mod ports;
mod rates;
mod reconcile;
mod refunds;
mod replicas;
mod returns;
mod webhooks;

pub use access::{Caller, DetailRefusal, Role, UnknownRole};
pub use api_keys::{ApiKey, ApiKeys, KEY_PREFIX, KeyInputError, KeyRefusal, NewKey, Scope};
pub use books::Books;
pub use catalog::{
    BulkOutcome, Catalog, MAX_BULK_PRODUCTS, PRODUCT_TTL, PriceBook, StoredBook, Upserted,
};
pub use discounts::DiscountCodes;
pub use error::ServiceError;
pub use events::{AuditReport, BrokenLink, EventPublisher, MAX_FEED_WAIT, OrderRenderer};
pub use gateway::{GatewayReply, ManualGateway, PaymentGateway, SimulatedGateway};
pub use idempotency::{IdempotencyKey, Idempotent, InvalidIdempotencyKey, KeyTimes};
pub use orders::{OrderService, ServiceConfig};
pub use ordo_domain::CaptureMode;
pub use ports::{Clock, IdGenerator, RandomIds, SystemClock};
pub use rates::{RATES_TTL, ShopRates};
pub use reconcile::Reconciled;
pub use replicas::{KeyMismatch, Replica};
pub use returns::ReturnClose;
pub use webhooks::{
    EndpointDraft, EndpointInputError, FAILING_LIMIT, RETRY_SCHEDULE, ROTATION_OVERLAP,
    SendOutcome, WebhookOptions, WebhookSender, Webhooks,
};
// The list types callers build queries with, so callers need not depend on storage.
pub use ordo_repository::{
    BoxError, Claim, Coordination, Cursor, Delivery, DeliveryStatus, FeedPage, FeedPosition,
    FeedQuery, InvalidCursor, InvalidFeedCursor, InvalidPageSize, InvalidSearchText,
    InvalidTotalBound, ListQuery, MAX_PAGE_SIZE, Page, PageSize, ProductPage, ProductQuery, Refund,
    RefundStatus, SearchText, StoredEvent, StoredRates, StoredResponse, TotalBound, Versioned,
    WebhookEndpoint,
};
