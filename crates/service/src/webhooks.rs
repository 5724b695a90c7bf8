//! Webhooks: endpoints that admins manage, every event fanned out to them, and deliveries sent,
//! retried on a schedule of about three days and logged. Sending itself (signing by Standard
//! Webhooks, refusing private addresses) is the [`WebhookSender`] port's.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ordo_domain::{EventKind, Version};
use ordo_repository::{
    AttemptRecord, Delivery, DeliveryStatus, EndpointHealth, EventStore, FeedQuery, NewDelivery,
    RepoError, StoredEvent, WebhookEndpoint, WebhookStore,
};

use crate::ports::v7_parts;
use crate::{Caller, Clock, ServiceError};

/// What one attempt to post a delivery came to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendOutcome {
    /// The endpoint's HTTP status, when it answered.
    pub status: Option<u16>,
    /// What went wrong before or instead of an answer (refused address, timeout...).
    pub error: Option<String>,
    /// The endpoint's `Retry-After`, when it gave one.
    pub retry_after: Option<Duration>,
}

impl SendOutcome {
    /// Whether the endpoint took it (2xx).
    pub fn succeeded(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

/// Posts one event to one endpoint, signed with its secrets (and the previous one while the
/// rotation window lasts).
#[async_trait::async_trait]
pub trait WebhookSender: Send + Sync {
    /// One attempt; never an error: what went wrong is in the outcome.
    async fn send(
        &self,
        endpoint: &WebhookEndpoint,
        event: &StoredEvent,
        now: DateTime<Utc>,
    ) -> SendOutcome;
}

/// How long to wait after each failed attempt (Standard Webhooks' example schedule): the
/// tenth failure, about three days and three hours after the first attempt, is final.
pub const RETRY_SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// An endpoint whose every delivery has failed this long is disabled, saying so.
pub const FAILING_LIMIT: Duration = Duration::from_secs(5 * 24 * 3600);

/// How long a rotated-out secret still signs beside the new one.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// How long a sender holds the deliveries it took, by default: the sender's default timeout
/// and time to record the outcome.
const LEASE: Duration = Duration::from_secs(60);

/// How many deliveries one sending pass takes (sent at once).
const SEND_BATCH: u32 = 32;

/// How a deployment sends its webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOptions {
    /// The wait after each failed attempt; after the last, a delivery has failed.
    pub retry_schedule: Vec<Duration>,
    /// How many deliveries one replica has in flight at most
    /// ([`Webhooks::send_continuously`]).
    pub concurrency: usize,
    /// How long a sender holds a delivery it took: longer than an attempt may take. A replica
    /// that stops leaves its deliveries to the others this long after it took them.
    pub lease: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            retry_schedule: RETRY_SCHEDULE.to_vec(),
            concurrency: 64,
            lease: LEASE,
        }
    }
}

/// How many events one fan-out pass reads.
const FANOUT_BATCH: u32 = 500;

/// The longest endpoint URL.
const MAX_URL: usize = 2000;

/// What an admin gives for an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointDraft {
    /// Where to post (`http` or `https`, with a host, no credentials).
    pub url: String,
    /// What it is for.
    pub description: Option<String>,
    /// The event types it wants; every type when empty.
    pub event_types: Vec<EventKind>,
    /// Whether deliveries go out (re-enabling clears why ordo disabled it).
    pub enabled: bool,
}

/// A draft that is no endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct EndpointInputError {
    /// The field.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn check_url(text: &str) -> Result<(), EndpointInputError> {
    let refuse = |message: &str| EndpointInputError {
        field: "url",
        message: message.to_owned(),
    };
    if text.len() > MAX_URL {
        return Err(refuse("at most 2000 characters"));
    }
    let url = url::Url::parse(text).map_err(|error| refuse(&format!("not a URL: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refuse("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(refuse("must not carry a fragment"));
    }
    Ok(())
}

fn check_draft(draft: &EndpointDraft) -> Result<(), EndpointInputError> {
    check_url(&draft.url)?;
    if draft
        .description
        .as_ref()
        .is_some_and(|text| text.chars().count() > 500)
    {
        return Err(EndpointInputError {
            field: "description",
            message: "at most 500 characters".to_owned(),
        });
    }
    Ok(())
}

/// A new `whsec_` secret: 32 random bytes, base64.
fn new_secret() -> Result<String, ServiceError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| ServiceError::Internal(Box::new(error)))?;
    Ok(format!("whsec_{}", STANDARD.encode(bytes)))
}

/// What a failed attempt leads to: the next attempt's time, or none (give up). `jitter` is in
/// thousandths (900 to 1100: ±10 %, so failing deliveries do not come back together).
fn next_attempt(
    schedule: &[Duration],
    attempts: u32,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
    jitter: u32,
) -> Option<DateTime<Utc>> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let base = *schedule.get(index)?;
    let jittered = base
        .checked_mul(jitter.clamp(900, 1100))?
        .checked_div(1000)?;
    let longest = schedule.iter().max().copied().unwrap_or(base);
    let wait = retry_after.map_or(jittered, |asked| jittered.max(asked.min(longest)));
    now.checked_add_signed(chrono::Duration::from_std(wait).ok()?)
}

/// A random jitter in thousandths, 900 to 1100.
fn jitter() -> u32 {
    let mut bytes = [0_u8; 2];
    let _ = getrandom::fill(&mut bytes);
    900_u32.saturating_add(u32::from(u16::from_be_bytes(bytes) % 201))
}

/// Webhook endpoints and deliveries. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    store: Arc<dyn WebhookStore>,
    events: Arc<dyn EventStore>,
    sender: Arc<dyn WebhookSender>,
    clock: Arc<dyn Clock>,
    schedule: Arc<[Duration]>,
    in_flight: Arc<tokio::sync::Semaphore>,
    lease: Duration,
}

impl Webhooks {
    /// Webhooks kept in `store`, events read from `events`, sent through `sender` as
    /// `options` say.
    pub fn new(
        store: Arc<dyn WebhookStore>,
        events: Arc<dyn EventStore>,
        sender: Arc<dyn WebhookSender>,
        clock: Arc<dyn Clock>,
        options: WebhookOptions,
    ) -> Self {
        Self {
            store,
            events,
            sender,
            clock,
            schedule: options.retry_schedule.into(),
            in_flight: Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1))),
            lease: options.lease,
        }
    }

    fn new_id(&self) -> uuid::Uuid {
        let (millis, random) = v7_parts(self.clock.now());
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
    }

    /// Makes an endpoint with a new secret (returned once, in it).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for anyone but admins; [`ServiceError::Endpoint`] naming
    /// the field; storage errors.
    pub async fn create(
        &self,
        caller: &Caller,
        draft: EndpointDraft,
    ) -> Result<WebhookEndpoint, ServiceError> {
        caller.check_may_manage_webhooks()?;
        check_draft(&draft)?;
        // Read before the endpoint exists: every event committing after its making is above.
        let starts_after = Some(self.events.feed_head().await?);
        let now = self.clock.now();
        let endpoint = WebhookEndpoint {
            id: self.new_id(),
            url: draft.url,
            description: draft.description,
            event_types: draft.event_types,
            enabled: draft.enabled,
            secret: new_secret()?,
            previous_secret: None,
            disabled_reason: None,
            failing_since: None,
            version: Version::FIRST,
            created_at: now,
            updated_at: now,
            starts_after,
        };
        self.store.insert_endpoint(&endpoint).await?;
        Ok(endpoint)
    }

    /// Every endpoint.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; storage errors.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<WebhookEndpoint>, ServiceError> {
        caller.check_may_manage_webhooks()?;
        Ok(self.store.webhook_endpoints().await?)
    }

    /// One endpoint.
    ///
    /// # Errors
    /// [`ServiceError::WebhookNotFound`]; [`ServiceError::Forbidden`]; storage errors.
    pub async fn get(
        &self,
        caller: &Caller,
        id: uuid::Uuid,
    ) -> Result<WebhookEndpoint, ServiceError> {
        caller.check_may_manage_webhooks()?;
        self.store.webhook_endpoint(id).await.map_err(not_found)
    }

    /// Changes an endpoint by compare-and-set: `change` gets the current draft and returns the
    /// new one. Re-enabling clears why ordo disabled it.
    ///
    /// # Errors
    /// As [`Webhooks::create`]; [`ServiceError::WebhookNotFound`]; [`ServiceError::Stale`].
    pub async fn update<E: From<ServiceError>>(
        &self,
        caller: &Caller,
        id: uuid::Uuid,
        expected: Version,
        change: impl FnOnce(EndpointDraft) -> Result<EndpointDraft, E>,
    ) -> Result<WebhookEndpoint, E> {
        let current = self.get(caller, id).await?;
        if current.version != expected {
            return Err(ServiceError::Stale {
                current: current.version,
            }
            .into());
        }
        let draft = change(EndpointDraft {
            url: current.url.clone(),
            description: current.description.clone(),
            event_types: current.event_types.clone(),
            enabled: current.enabled,
        })?;
        check_draft(&draft).map_err(ServiceError::from)?;
        let reenabled = draft.enabled && !current.enabled;
        let next = WebhookEndpoint {
            url: draft.url,
            description: draft.description,
            event_types: draft.event_types,
            enabled: draft.enabled,
            disabled_reason: if draft.enabled {
                None
            } else {
                current.disabled_reason.clone()
            },
            failing_since: if reenabled {
                None
            } else {
                current.failing_since
            },
            version: Version::new(expected.get().saturating_add(1)),
            updated_at: self.clock.now(),
            ..current
        };
        self.store
            .update_endpoint(&next, expected)
            .await
            .map_err(ServiceError::from)?;
        Ok(next)
    }

    /// Gives an endpoint a new secret; the old one still signs for [`ROTATION_OVERLAP`].
    ///
    /// # Errors
    /// As [`Webhooks::update`].
    pub async fn rotate_secret(
        &self,
        caller: &Caller,
        id: uuid::Uuid,
        expected: Version,
    ) -> Result<WebhookEndpoint, ServiceError> {
        let current = self.get(caller, id).await?;
        if current.version != expected {
            return Err(ServiceError::Stale {
                current: current.version,
            });
        }
        let now = self.clock.now();
        let until = now
            .checked_add_signed(
                chrono::Duration::from_std(ROTATION_OVERLAP).unwrap_or(chrono::Duration::zero()),
            )
            .unwrap_or(now);
        let next = WebhookEndpoint {
            secret: new_secret()?,
            previous_secret: Some((current.secret.clone(), until)),
            version: Version::new(expected.get().saturating_add(1)),
            updated_at: now,
            ..current
        };
        self.store.update_endpoint(&next, expected).await?;
        Ok(next)
    }

    /// Deletes an endpoint and its deliveries.
    ///
    /// # Errors
    /// [`ServiceError::WebhookNotFound`]; [`ServiceError::Forbidden`]; storage errors.
    pub async fn delete(&self, caller: &Caller, id: uuid::Uuid) -> Result<(), ServiceError> {
        caller.check_may_manage_webhooks()?;
        self.store.delete_endpoint(id).await.map_err(not_found)
    }

    /// An endpoint's deliveries, newest first.
    ///
    /// # Errors
    /// [`ServiceError::WebhookNotFound`]; [`ServiceError::Forbidden`]; storage errors.
    pub async fn deliveries(
        &self,
        caller: &Caller,
        id: uuid::Uuid,
        before: Option<(DateTime<Utc>, uuid::Uuid)>,
        limit: u32,
    ) -> Result<Vec<Delivery>, ServiceError> {
        self.get(caller, id).await?;
        Ok(self.store.deliveries(id, before, limit).await?)
    }

    /// Sends a delivery again now, whatever became of it, with the whole retry schedule ahead
    /// of it (its attempts start again from none; the log keeps its last status and error).
    /// Refused while a sender is delivering it: the attempt under way is recorded first.
    ///
    /// # Errors
    /// [`ServiceError::WebhookNotFound`]; [`ServiceError::DeliveryInProgress`];
    /// [`ServiceError::Forbidden`]; storage errors.
    pub async fn redeliver(
        &self,
        caller: &Caller,
        id: uuid::Uuid,
        delivery: uuid::Uuid,
    ) -> Result<Delivery, ServiceError> {
        caller.check_may_manage_webhooks()?;
        self.store
            .redeliver(id, delivery, self.clock.now())
            .await
            .map_err(|error| match error {
                RepoError::Leased { until } => ServiceError::DeliveryInProgress { until },
                error => not_found(error),
            })
    }

    /// Reads the feed after where the fan-out stands and queues a delivery for each enabled
    /// endpoint that wants each event recorded after the endpoint was made (by feed position,
    /// not by clock), moving the position in the same transaction (another replica doing the
    /// same at once writes nothing). How many deliveries it queued.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn fan_out(&self) -> Result<usize, ServiceError> {
        // A shop without endpoints reads no events.
        let before = self.store.webhook_endpoints().await?;
        if before.is_empty() {
            return Ok(0);
        }
        let from = self.store.fanout_position().await?;
        // Nothing below the earliest start is anyone's: skip to it (the first endpoint of a
        // shop with a long history starts at once).
        let earliest = before
            .iter()
            .filter(|endpoint| endpoint.enabled)
            .map(|endpoint| endpoint.starts_after)
            .min()
            .flatten();
        let read_from = from.max(earliest);
        let page = self
            .events
            .feed(&FeedQuery {
                after: read_from,
                kinds: Vec::new(),
                customer_id: None,
                limit: FANOUT_BATCH,
            })
            .await?;
        let Some(to) = page.next.filter(|_| !page.events.is_empty()) else {
            return Ok(0);
        };
        // Read after the page: an endpoint made since starts above every event in it.
        let endpoints: Vec<WebhookEndpoint> = self
            .store
            .webhook_endpoints()
            .await?
            .into_iter()
            .filter(|endpoint| endpoint.enabled)
            .collect();
        let now = self.clock.now();
        let deliveries: Vec<NewDelivery> = page
            .events
            .iter()
            .flat_map(|event| {
                endpoints
                    .iter()
                    .filter(|endpoint| {
                        endpoint.wants(event.record.kind) && endpoint.follows(event.position)
                    })
                    .map(|endpoint| NewDelivery {
                        id: self.new_id(),
                        endpoint_id: endpoint.id,
                        event_id: event.record.id,
                        at: now,
                    })
            })
            .collect();
        if self.store.enqueue_deliveries(&deliveries, from, to).await? {
            Ok(deliveries.len())
        } else {
            Ok(0)
        }
    }

    /// Takes the deliveries due now (a lease no other sender shares), sends them at once, and
    /// records each outcome: success; a retry on the schedule (later if the endpoint asked,
    /// within a day); failure after the last; and the endpoint disabled when it answered 410 or
    /// has failed everything for [`FAILING_LIMIT`]. How many it sent.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn deliver_due(&self) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let until = now
            .checked_add_signed(chrono::Duration::from_std(self.lease).unwrap_or_default())
            .unwrap_or(now);
        let token = self.new_id();
        let due = self
            .store
            .claim_deliveries(now, until, token, SEND_BATCH)
            .await?;
        let count = due.len();
        let mut sending = tokio::task::JoinSet::new();
        for delivery in due {
            let this = self.clone();
            sending.spawn(async move { this.attempt(delivery, token).await });
        }
        while let Some(done) = sending.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(error = %error, "could not record a delivery"),
                Err(error) => tracing::warn!(error = %error, "a delivery task failed"),
            }
        }
        Ok(count)
    }

    /// Sends due deliveries until the process stops, up to the configured number in flight:
    /// each slot is refilled as soon as its attempt is recorded, so a slow endpoint holds one
    /// slot, not a batch. Checks for due deliveries every `idle` when none are.
    pub async fn send_continuously(&self, idle: Duration) {
        loop {
            let Ok(first) = self.in_flight.clone().acquire_owned().await else {
                return;
            };
            let mut permits = vec![first];
            while u32::try_from(permits.len()).is_ok_and(|taken| taken < SEND_BATCH) {
                match self.in_flight.clone().try_acquire_owned() {
                    Ok(permit) => permits.push(permit),
                    Err(_) => break,
                }
            }
            let now = self.clock.now();
            let until = now
                .checked_add_signed(chrono::Duration::from_std(self.lease).unwrap_or_default())
                .unwrap_or(now);
            let token = self.new_id();
            let wanted = u32::try_from(permits.len()).unwrap_or(1);
            let due = match self.store.claim_deliveries(now, until, token, wanted).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(error = %error, "could not take webhook deliveries");
                    Vec::new()
                }
            };
            if due.is_empty() {
                drop(permits);
                tokio::time::sleep(idle).await;
                continue;
            }
            for (delivery, permit) in due.into_iter().zip(permits) {
                let this = self.clone();
                tokio::spawn(async move {
                    if let Err(error) = this.attempt(delivery, token).await {
                        tracing::warn!(error = %error, "could not record a delivery");
                    }
                    drop(permit);
                });
            }
        }
    }

    async fn attempt(&self, delivery: Delivery, token: uuid::Uuid) -> Result<(), ServiceError> {
        let endpoint = self.store.webhook_endpoint(delivery.endpoint_id).await?;
        let event = self.events.event(delivery.event_id).await?;
        let outcome = self.sender.send(&endpoint, &event, self.clock.now()).await;
        let at = self.clock.now();
        let attempts = delivery.attempts.saturating_add(1);
        let (status, next, health) = if outcome.succeeded() {
            (DeliveryStatus::Succeeded, at, EndpointHealth::Healthy)
        } else if outcome.status == Some(410) {
            (
                DeliveryStatus::Failed,
                at,
                EndpointHealth::Disable("the endpoint answered 410 Gone".to_owned()),
            )
        } else {
            let failing_too_long = endpoint.failing_since.is_some_and(|since| {
                chrono::Duration::from_std(FAILING_LIMIT)
                    .ok()
                    .and_then(|limit| since.checked_add_signed(limit))
                    .is_some_and(|deadline| deadline <= at)
            });
            let health = match endpoint.failing_since {
                Some(since) if failing_too_long => EndpointHealth::Disable(format!(
                    "every delivery since {} failed",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )),
                _ => EndpointHealth::Failing,
            };
            match next_attempt(&self.schedule, attempts, outcome.retry_after, at, jitter()) {
                Some(next) => (DeliveryStatus::Pending, next, health),
                None => (DeliveryStatus::Failed, at, health),
            }
        };
        let record = AttemptRecord {
            delivery_id: delivery.id,
            lease_token: token,
            attempts,
            status,
            next_attempt_at: next,
            http_status: outcome.status,
            error: outcome.error.clone(),
            at,
        };
        if !self
            .store
            .finish_delivery(endpoint.id, &record, health)
            .await?
        {
            tracing::warn!(delivery_id = %delivery.id, "a delivery's lease ran out before its outcome was recorded; it will be sent again");
        }
        metrics::counter!("ordo_webhook_attempts_total", "outcome" => if outcome.succeeded() { "succeeded" } else { "failed" })
            .increment(1);
        Ok(())
    }
}

/// A missing endpoint or delivery as the caller should read it.
fn not_found(error: RepoError) -> ServiceError {
    match error {
        RepoError::NotFound => ServiceError::WebhookNotFound,
        error => error.into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn the_schedule_spans_about_three_days_then_gives_up() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut at = start;
        for attempts in 1..=9 {
            at = next_attempt(&RETRY_SCHEDULE, attempts, None, at, 1000).unwrap();
        }
        assert_eq!((at - start).num_seconds(), 75 * 3600 + 35 * 60 + 5);
        assert_eq!(next_attempt(&RETRY_SCHEDULE, 10, None, at, 1000), None);
        // Jitter stays within a tenth; a Retry-After is honoured up to a day.
        let soon = next_attempt(&RETRY_SCHEDULE, 1, None, start, 1100).unwrap();
        assert_eq!((soon - start).num_milliseconds(), 5_500);
        let asked = next_attempt(
            &RETRY_SCHEDULE,
            1,
            Some(Duration::from_secs(120)),
            start,
            1000,
        )
        .unwrap();
        assert_eq!((asked - start).num_seconds(), 120);
        let capped = next_attempt(
            &RETRY_SCHEDULE,
            1,
            Some(Duration::from_secs(999_999)),
            start,
            1000,
        )
        .unwrap();
        assert!((900..=1100).contains(&jitter()));
        assert_eq!((capped - start).num_hours(), 24);
    }

    #[test]
    fn endpoint_urls_are_http_with_a_host_and_nothing_secret() {
        for good in [
            "https://erp.example.com/hooks/ordo",
            "http://127.0.0.1:9000/x?y=1",
        ] {
            assert_eq!(check_url(good), Ok(()), "{good}");
        }
        for bad in [
            "ftp://example.com/",
            "https://user:pass@example.com/",
            "https://example.com/#frag",
            "not a url",
            "mailto:ops@example.com",
        ] {
            assert_eq!(check_url(bad).unwrap_err().field, "url", "{bad}");
        }
        assert!(check_url(&format!("https://example.com/{}", "a".repeat(2000))).is_err());
    }

    #[test]
    fn secrets_are_whsec_and_32_bytes() {
        let secret = new_secret().unwrap();
        let bytes = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(bytes.len(), 32);
        assert_ne!(new_secret().unwrap(), secret);
    }
}
