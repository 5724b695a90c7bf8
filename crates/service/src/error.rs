//! What a use case can fail with, by what the caller should do.

use ordo_domain::{
    IllegalTransition, OrderId, OrderStatus, PricingError, ValidationErrors, Version,
};
use ordo_repository::{BoxError, RepoError};

/// A use case's failure. Only `ordo-http` decides which status code each one is.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input breaks a rule; every broken rule is listed with its field.
    #[error("invalid order: {0}")]
    Validation(#[from] ValidationErrors),
    /// The order is valid but cannot be priced (an amount would overflow).
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// The caller may not set or change this detail of an order (now, or ever); names it.
    #[error(transparent)]
    Detail(#[from] crate::DetailRefusal),
    /// The caller's role may not do this (see `access`); says why.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No such order (or it was deleted, or it is another customer's).
    #[error("order not found")]
    NotFound,
    /// No product with this id.
    #[error("product not found")]
    ProductNotFound,
    /// Another product has this SKU.
    #[error("another product has the SKU {sku}")]
    SkuTaken {
        /// The SKU.
        sku: ordo_domain::Sku,
    },
    /// Another write added or changed one of a bulk upsert's products while it ran; nothing
    /// was stored, and sending the batch again works it out afresh.
    #[error("another write changed the price book meanwhile: send the batch again")]
    CatalogChanged,
    /// The discount code's limit is reached (all orders', or this customer's): the order was
    /// not placed.
    #[error("the discount code has been used as often as it may be{}", if *per_customer { " by this customer" } else { "" })]
    CodeUsedUp {
        /// Whether it is the customer's own limit.
        per_customer: bool,
    },
    /// No discount code with this id.
    #[error("discount code not found")]
    CodeNotFound,
    /// Another code has this name.
    #[error("another discount code is named {code}")]
    CodeTaken {
        /// The name.
        code: ordo_domain::CodeName,
    },
    /// A bulk upsert with more products than one request may carry.
    #[error("a bulk upsert carries at most {max} products")]
    TooManyProducts {
        /// The most one request may carry.
        max: usize,
    },
    /// Fields only the shop sets (prices, a discount, a tax rate, shipping amounts), named
    /// by a caller that may not name them: each field's path.
    #[error("set by the shop: {}", .0.join(", "))]
    SetByShop(Vec<String>),
    /// No webhook endpoint (or delivery of it) with this id.
    #[error("webhook endpoint not found")]
    WebhookNotFound,
    /// A webhook endpoint cannot be made or changed as asked; names the field.
    #[error(transparent)]
    Endpoint(#[from] crate::EndpointInputError),
    /// No API key with this id.
    #[error("API key not found")]
    KeyNotFound,
    /// A sender is delivering this webhook delivery right now (it holds the delivery's lease
    /// until `until`): it is not sent again until that attempt is recorded.
    #[error("the delivery is being sent (leased until {until})")]
    DeliveryInProgress {
        /// When the sender's lease ends, unless its attempt is recorded first.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// An API key cannot be made as asked; names what is wrong.
    #[error(transparent)]
    KeyInput(#[from] crate::KeyInputError),
    /// The caller's version is not the current one.
    #[error("the order has changed: its current version is {}", current.get())]
    Stale {
        /// The version now stored.
        current: Version,
    },
    /// The status machine does not allow the move.
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// A status that cannot be asked for on this route (cancelling has its own, with a reason).
    #[error("cannot move an order to {0} this way")]
    UnsupportedTarget(OrderStatus),
    /// The payment gateway declined; the order is stored with its payment failed.
    #[error("the payment was declined")]
    PaymentDeclined {
        /// The order whose payment was declined.
        order_id: OrderId,
    },
    /// The payment is not in a state that allows this (not paid yet, more than is refundable...).
    #[error(transparent)]
    Payment(ordo_domain::PaymentError),
    /// The payment gateway did not answer: the call stays claimed on the order and
    /// reconciliation settles it with the same key (never moving money twice).
    #[error("the payment gateway did not answer")]
    PaymentUnavailable,
    /// Another request with the same idempotency key is running; retry shortly.
    #[error("a request with this idempotency key is in progress")]
    KeyInFlight,
    /// The idempotency key was already used for a different request.
    #[error("this idempotency key was used for a different request")]
    KeyReused,
    /// The deployment is set up wrongly (replicas that disagree); says how.
    #[error(transparent)]
    Misconfigured(BoxError),
    /// Storage cannot be reached right now; retrying later may work.
    #[error("storage unavailable")]
    Unavailable(#[source] BoxError),
    /// A fulfilment that cannot be made or moved so (the order's status, its state, none such).
    #[error(transparent)]
    Fulfillment(ordo_domain::FulfillmentError),
    /// A return that cannot be made or moved so (the order's status, its state, none such).
    #[error(transparent)]
    Return(ordo_domain::ReturnError),
    /// The order records as many payments as it may.
    #[error("an order records at most {max} payments")]
    TooManyPayments {
        /// The limit.
        max: usize,
    },
    /// Part of the order has shipped, so it cannot be cancelled.
    #[error(
        "part of the order has shipped, so it cannot be cancelled: return what shipped instead"
    )]
    Shipped,
    /// A bug or an unexpected failure; the cause is for the logs, not the client.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl From<ordo_domain::ChangeError> for ServiceError {
    fn from(error: ordo_domain::ChangeError) -> Self {
        match error {
            ordo_domain::ChangeError::Illegal(error) => Self::IllegalTransition(error),
            ordo_domain::ChangeError::Payment(error) => Self::Payment(error),
            ordo_domain::ChangeError::Shipped => Self::Shipped,
        }
    }
}

impl From<ordo_domain::RecordError> for ServiceError {
    fn from(error: ordo_domain::RecordError) -> Self {
        match error {
            ordo_domain::RecordError::Invalid(errors) => Self::Validation(errors),
            ordo_domain::RecordError::Payment(error) => Self::Payment(error),
            ordo_domain::RecordError::TooMany { max } => Self::TooManyPayments { max },
        }
    }
}

impl From<ordo_domain::ReturnError> for ServiceError {
    fn from(error: ordo_domain::ReturnError) -> Self {
        match error {
            ordo_domain::ReturnError::Invalid(errors) => Self::Validation(errors),
            ordo_domain::ReturnError::Payment(error) => Self::Payment(error),
            ordo_domain::ReturnError::Money(_) => Self::Internal(Box::new(error)),
            other => Self::Return(other),
        }
    }
}

impl From<ordo_domain::FulfillmentError> for ServiceError {
    fn from(error: ordo_domain::FulfillmentError) -> Self {
        match error {
            ordo_domain::FulfillmentError::Invalid(errors) => Self::Validation(errors),
            ordo_domain::FulfillmentError::Payment(error) => Self::Payment(error),
            ordo_domain::FulfillmentError::Money(_) => Self::Internal(Box::new(error)),
            other => Self::Fulfillment(other),
        }
    }
}

impl From<ordo_domain::PaymentError> for ServiceError {
    fn from(error: ordo_domain::PaymentError) -> Self {
        Self::Payment(error)
    }
}

impl From<RepoError> for ServiceError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::NotFound => Self::NotFound,
            RepoError::VersionConflict { current } => Self::Stale { current },
            RepoError::Unavailable(cause) => Self::Unavailable(cause),
            RepoError::ClaimLost => Self::KeyInFlight,
            RepoError::LimitReached { per_customer } => Self::CodeUsedUp { per_customer },
            // A limit below its uses and a lease mean something only to the use cases that
            // meet them (discount codes, redelivery), which map them first.
            error @ (RepoError::LimitBelowUses { .. }
            | RepoError::Leased { .. }
            | RepoError::Duplicate { .. }
            | RepoError::Corrupt(_)
            | RepoError::Other(_)) => Self::Internal(Box::new(error)),
        }
    }
}
