//! Webhook endpoints and deliveries: the port, and the values it speaks in.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::{EventKind, Version};
use uuid::Uuid;

use crate::{FeedPosition, RepoError};

/// An endpoint that receives events, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries are posted.
    pub url: String,
    /// What it is for, as its owner wrote.
    pub description: Option<String>,
    /// The event types it receives; every type when empty.
    pub event_types: Vec<EventKind>,
    /// Whether deliveries are sent to it.
    pub enabled: bool,
    /// The `whsec_` secret that signs every delivery.
    pub secret: String,
    /// The secret before the last rotation, and until when it still signs.
    pub previous_secret: Option<(String, DateTime<Utc>)>,
    /// Why ordo disabled it, when ordo did (a 410, failing too long).
    pub disabled_reason: Option<String>,
    /// The first failed attempt since its last success.
    pub failing_since: Option<DateTime<Utc>>,
    /// Compare-and-set version.
    pub version: Version,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The feed's head when it was made: the events after it are its own (every event made
    /// before its making is at or below). `None` for endpoints made before this was kept.
    pub starts_after: Option<FeedPosition>,
}

impl WebhookEndpoint {
    /// Whether it receives events of `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.event_types.is_empty() || self.event_types.contains(&kind)
    }

    /// Whether the event at `position` came after its making.
    pub fn follows(&self, position: FeedPosition) -> bool {
        self.starts_after.is_none_or(|start| position > start)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet: due at `next_attempt_at`.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Given up: every retry failed, or the endpoint answered 410.
    Failed,
}

impl DeliveryStatus {
    /// The status as stored (`pending`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The status named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        <Self as strum::IntoEnumIterator>::iter().find(|status| status.as_str() == name)
    }
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: Uuid,
    /// To which endpoint.
    pub endpoint_id: Uuid,
    /// Which event (its id is the delivery's `webhook-id`).
    pub event_id: Uuid,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When it is due (pending), or was last tried.
    pub next_attempt_at: DateTime<Utc>,
    /// The endpoint's last HTTP status, if it answered.
    pub last_status: Option<u16>,
    /// What went wrong on the last attempt, if anything.
    pub last_error: Option<String>,
    /// When it was last tried.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

/// A delivery to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// Its id.
    pub id: Uuid,
    /// To which endpoint.
    pub endpoint_id: Uuid,
    /// Which event.
    pub event_id: Uuid,
    /// When it is queued, and first due.
    pub at: DateTime<Utc>,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The delivery.
    pub delivery_id: Uuid,
    /// The lease it was sent under: the record is written only while it is held.
    pub lease_token: Uuid,
    /// Attempts made, this one included.
    pub attempts: u32,
    /// Where the delivery now stands.
    pub status: DeliveryStatus,
    /// When it is next due (pending), or when this attempt was made.
    pub next_attempt_at: DateTime<Utc>,
    /// The endpoint's HTTP status, if it answered.
    pub http_status: Option<u16>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// When the attempt was made.
    pub at: DateTime<Utc>,
}

/// What an attempt says about its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointHealth {
    /// It answered 2xx: no longer failing.
    Healthy,
    /// It failed: failing since now, unless it already was.
    Failing,
    /// ordo disables it, saying why.
    Disable(String),
}

/// Where webhook endpoints and deliveries are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn insert_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), RepoError>;

    /// One endpoint.
    ///
    /// # Errors
    /// [`RepoError::NotFound`]; [`RepoError::Unavailable`]; [`RepoError::Other`].
    async fn webhook_endpoint(&self, id: Uuid) -> Result<WebhookEndpoint, RepoError>;

    /// Every endpoint, oldest first (a shop has a handful).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, RepoError>;

    /// Writes `endpoint` if its stored version is `expected` (`endpoint.version` is the next).
    ///
    /// # Errors
    /// [`RepoError::VersionConflict`]; [`RepoError::NotFound`]; [`RepoError::Unavailable`];
    /// [`RepoError::Other`].
    async fn update_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        expected: Version,
    ) -> Result<(), RepoError>;

    /// Deletes an endpoint and its deliveries.
    ///
    /// # Errors
    /// [`RepoError::NotFound`]; [`RepoError::Unavailable`]; [`RepoError::Other`].
    async fn delete_endpoint(&self, id: Uuid) -> Result<(), RepoError>;

    /// How far the fan-out has read the feed (`None`: from the start).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn fanout_position(&self) -> Result<Option<FeedPosition>, RepoError>;

    /// Queues `deliveries` (one already queued for the same endpoint and event is left as it
    /// is) and moves the fan-out from `from` to `to`, in one transaction, only if it still
    /// stands at `from`: `false` (nothing written) when another fan-out moved it first.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn enqueue_deliveries(
        &self,
        deliveries: &[NewDelivery],
        from: Option<FeedPosition>,
        to: FeedPosition,
    ) -> Result<bool, RepoError>;

    /// Leases up to `limit` pending deliveries due at `now` to enabled endpoints, oldest due
    /// first, until `until` under `token`: no other sender gets them while the lease holds.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        token: Uuid,
        limit: u32,
    ) -> Result<Vec<Delivery>, RepoError>;

    /// Records an attempt, and what it says about the endpoint, in one transaction, only while
    /// the lease is held: `false` (nothing written) when it was lost.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn finish_delivery(
        &self,
        endpoint_id: Uuid,
        record: &AttemptRecord,
        health: EndpointHealth,
    ) -> Result<bool, RepoError>;

    /// An endpoint's deliveries, newest first, before `(created_at, id)`, at most `limit`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn deliveries(
        &self,
        endpoint_id: Uuid,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: u32,
    ) -> Result<Vec<Delivery>, RepoError>;

    /// Makes a delivery of the endpoint pending again, due at `at`, with no attempts made (the
    /// whole retry schedule applies again); its last status, error and attempt time stay in
    /// the log. Refused while a sender holds its lease (not yet run out at `at`), so it is
    /// never sent twice at once nor its sender's outcome dropped.
    ///
    /// # Errors
    /// [`RepoError::Leased`] (nothing written); [`RepoError::NotFound`];
    /// [`RepoError::Unavailable`]; [`RepoError::Other`].
    async fn redeliver(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<Delivery, RepoError>;
}
