//! The NATS `JetStream` relay: every event published after it commits, on
//! `<prefix>.<type>` (`ordo.events.order.placed`), with `Nats-Msg-Id` = the event's id, so the
//! stream keeps one message per event even when a relay publishes a page again after a crash.

use std::time::Duration;

use anyhow::{Context as _, Result};
use async_nats::jetstream;
use ordo_service::{BoxError, EventPublisher, OrderService, Replica, StoredEvent};

/// How long the stream remembers a message id: longer than a relay takes to come back.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);

/// Publishes to one `JetStream` stream.
pub(crate) struct NatsPublisher {
    jetstream: jetstream::Context,
    prefix: String,
}

impl NatsPublisher {
    /// Connects to `url` and makes sure the stream `stream` takes `<prefix>.>`, with a
    /// deduplication window of ten minutes (longer than a relay takes to come back). A stream
    /// made beforehand with a shorter window, or not taking the subjects, is refused: the
    /// stream could then keep an event twice.
    pub(crate) async fn connect(url: &str, stream: &str, prefix: &str) -> Result<Self> {
        let client = async_nats::connect(url)
            .await
            .with_context(|| format!("cannot reach NATS at {url}"))?;
        let jetstream = jetstream::new(client);
        let subjects = format!("{prefix}.>");
        let mut opened = jetstream
            .get_or_create_stream(jetstream::stream::Config {
                name: stream.to_owned(),
                subjects: vec![subjects.clone()],
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map_err(|error| {
                anyhow::anyhow!("cannot open the JetStream stream {stream}: {error}")
            })?;
        let config = &opened
            .info()
            .await
            .map_err(|error| anyhow::anyhow!("cannot read the JetStream stream {stream}: {error}"))?
            .config;
        if config.duplicate_window < DUPLICATE_WINDOW {
            anyhow::bail!(
                "the JetStream stream {stream} keeps message ids for {:?}, less than the ten minutes ordo needs to publish each event once: raise it (`nats stream edit {stream} --dupe-window 10m`) or name another stream with nats_stream",
                config.duplicate_window
            );
        }
        if !config.subjects.contains(&subjects) {
            anyhow::bail!(
                "the JetStream stream {stream} does not take {subjects} (it takes {:?}): add the subject or name another stream with nats_stream",
                config.subjects
            );
        }
        Ok(Self {
            jetstream,
            prefix: prefix.to_owned(),
        })
    }
}

#[async_trait::async_trait]
impl EventPublisher for NatsPublisher {
    async fn publish(&self, event: &StoredEvent) -> Result<(), BoxError> {
        let body = ordo_http::event_json(event)?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.record.id.to_string().as_str());
        let subject = format!("{}.{}", self.prefix, event.record.kind.as_str());
        // The first await sends; the second waits for the stream's acknowledgement.
        self.jetstream
            .publish_with_headers(subject, headers, body.into())
            .await?
            .await?;
        Ok(())
    }
}

/// Relays the feed to NATS a few times a second, on one replica at a time (a lease): a replica
/// that stops hands over within a few seconds, and the next resumes where the last move left.
pub(crate) async fn relay(service: OrderService, replica: Replica, publisher: NatsPublisher) {
    let period = Duration::from_secs(2);
    let mut every = tokio::time::interval(Duration::from_millis(200));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match replica.lead("nats_relay", period).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::warn!(error = %error, "could not take the NATS relay's lease");
                continue;
            }
        }
        // Page by page, renewing the lease before each, so a long backlog does not outlast it
        // (another replica would publish the same pages meanwhile).
        loop {
            match service.relay("nats", &publisher).await {
                Ok(0) => break,
                Ok(_) => {
                    if !matches!(replica.lead("nats_relay", period).await, Ok(true)) {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, "could not relay events to NATS");
                    break;
                }
            }
        }
    }
}
