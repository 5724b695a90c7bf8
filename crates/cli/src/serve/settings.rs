//! The settings of `ordo serve`, as flags, variables and `ordo.toml` names.
#![allow(
    clippy::disallowed_types,
    reason = "the code serde derives for `flatten` names floats; no setting is one"
)]

use std::net::SocketAddr;

use anyhow::Result;
use clap::Args;
use secrecy::{ExposeSecret as _, SecretBox};

use crate::auth::AuthArgs;
use crate::storage::StorageArgs;
use crate::telemetry::LogFormat;

/// Settings of `ordo serve`. Field names are the names in `ordo.toml`.
#[derive(Debug, Args, serde::Serialize, serde::Deserialize)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ORDO_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    #[command(flatten)]
    #[serde(flatten)]
    pub(crate) storage: StorageArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub(crate) auth: AuthArgs,
    /// Secret (a 64-bit number) that scrambles order numbers so they do not reveal your order
    /// volume. Set your own in production; the default is public.
    #[arg(long, env = "ORDO_ORDER_NUMBER_KEY", hide_env_values = true, value_parser = crate::config::secret_number)]
    #[serde(default, serialize_with = "crate::config::expose")]
    pub(crate) order_number_key: Option<SecretBox<u64>>,
    /// Hours an idempotency key is remembered; after that the same key runs afresh.
    #[arg(long, env = "ORDO_IDEMPOTENCY_TTL_HOURS", default_value_t = 24)]
    pub(crate) idempotency_ttl_hours: u32,
    /// Seconds a retry waits (409) before taking over a request with its key that has not
    /// finished, as after a crash. Safety does not depend on it (every write checks the holder),
    /// only how soon a retry after a crash goes through.
    #[arg(long, env = "ORDO_IDEMPOTENCY_LEASE_SECONDS", default_value_t = 30)]
    pub(crate) idempotency_lease_seconds: u32,
    /// The payment gateway. Only `simulated` exists today: amounts ending in .02 are declined,
    /// .05 time out; it keeps its ledger in the same database.
    #[arg(long, env = "ORDO_PAYMENT_GATEWAY", value_enum, default_value_t = Gateway::Simulated)]
    pub(crate) payment_gateway: Gateway,
    /// Milliseconds the simulated gateway takes per call.
    #[arg(long, env = "ORDO_GATEWAY_LATENCY_MS", default_value_t = 0)]
    pub(crate) gateway_latency_ms: u64,
    /// Seconds between reconciliation passes (one replica per database runs each).
    #[arg(long, env = "ORDO_RECONCILE_INTERVAL_SECONDS", default_value_t = 30)]
    pub(crate) reconcile_interval_seconds: u32,
    /// Seconds a payment call claimed on an order is left to the request that claimed it before
    /// reconciliation settles it (after a crash, say); must be longer than any request may
    /// run (`request_timeout_ms`).
    #[arg(long, env = "ORDO_PAYMENT_CLAIM_GRACE_SECONDS", default_value_t = 120)]
    pub(crate) payment_claim_grace_seconds: u32,
    /// Days until payment is due for orders paid manually (bank transfer, invoice), unless
    /// staff give an order its own terms; 0 to 365.
    #[arg(long, env = "ORDO_PAYMENT_TERMS_DAYS", default_value_t = 14, value_parser = clap::value_parser!(u32).range(0..=365))]
    pub(crate) payment_terms_days: u32,
    /// When money is captured: when the order completes, right after authorization, or as
    /// each fulfilment ships.
    #[arg(long, env = "ORDO_CAPTURE", value_enum, default_value_t = Capture::OnCompletion)]
    pub(crate) capture: Capture,
    /// Milliseconds an API request may take before it is answered 504.
    #[arg(long, env = "ORDO_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub(crate) request_timeout_ms: u64,
    /// Most API requests in flight at once; more are answered 503 at once.
    #[arg(long, env = "ORDO_MAX_IN_FLIGHT", default_value_t = 1024)]
    pub(crate) max_in_flight: usize,
    /// Most API requests one caller (role and subject; the client's IP with auth disabled) may
    /// have in flight at once, bodies still arriving included; more are answered 429 at once.
    #[arg(long, env = "ORDO_MAX_IN_FLIGHT_PER_CALLER", default_value_t = 64)]
    pub(crate) max_in_flight_per_caller: usize,
    /// Milliseconds a request body may take to arrive; past it, 408 and the connection closes.
    #[arg(long, env = "ORDO_BODY_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub(crate) body_read_timeout_ms: u64,
    /// Most connections open at once; more wait in the listen backlog until one closes.
    #[arg(long, env = "ORDO_MAX_CONNECTIONS", default_value_t = 512)]
    pub(crate) max_connections: usize,
    /// Milliseconds a client has to send a whole request head, from connecting or from the
    /// head's first byte; past it, the connection is closed.
    #[arg(long, env = "ORDO_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub(crate) header_read_timeout_ms: u64,
    /// Milliseconds a kept-alive connection may wait for its next request before it is closed.
    #[arg(long, env = "ORDO_IDLE_TIMEOUT_MS", default_value_t = 75_000)]
    pub(crate) idle_timeout_ms: u64,
    /// On SIGTERM, milliseconds to report not-ready (503 on /readyz) before no longer accepting
    /// connections, so load balancers move traffic away first.
    #[arg(long, env = "ORDO_DRAIN_DELAY_MS", default_value_t = 0)]
    pub(crate) drain_delay_ms: u64,
    /// Seconds requests in flight may take to finish after shutdown began.
    #[arg(long, env = "ORDO_SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub(crate) shutdown_grace_seconds: u64,
    /// Requests per second each caller (by IP with auth disabled) may make to the API on average;
    /// 0 for no limit.
    /// Past it, 429 with Retry-After.
    #[arg(long, env = "ORDO_RATE_LIMIT_PER_SECOND", default_value_t = 0)]
    pub(crate) rate_limit_per_second: u32,
    /// Requests a client may make at once after a quiet spell (with a rate limit).
    #[arg(long, env = "ORDO_RATE_LIMIT_BURST", default_value_t = 50)]
    pub(crate) rate_limit_burst: u32,
    /// Origins allowed to call the API from a browser (CORS), comma-separated; none by default.
    #[arg(long, env = "ORDO_CORS_ORIGINS", value_delimiter = ',')]
    #[serde(default)]
    pub(crate) cors_origins: Vec<String>,
    /// Networks webhook deliveries may reach although not public (`127.0.0.1/32`,
    /// `10.0.0.0/8`), comma-separated; none by default: loopback, private and link-local
    /// addresses are refused.
    #[arg(long, env = "ORDO_WEBHOOK_ALLOWED_NETWORKS", value_delimiter = ',')]
    #[serde(default)]
    pub(crate) webhook_allowed_networks: Vec<String>,
    /// Milliseconds a webhook endpoint has to answer a delivery before the attempt counts as
    /// failed (connecting takes at most 5,000 of them).
    #[arg(long, env = "ORDO_WEBHOOK_TIMEOUT_MS", default_value_t = 15_000)]
    pub(crate) webhook_timeout_ms: u64,
    /// Seconds to wait after each failed delivery attempt, comma-separated; after the last, a
    /// delivery has failed. Empty (the default): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
    /// 20 h, 24 h (ten attempts over about three days).
    #[arg(long, env = "ORDO_WEBHOOK_RETRY_SECONDS", value_delimiter = ',')]
    #[serde(default)]
    pub(crate) webhook_retry_seconds: Vec<u64>,
    /// Most webhook deliveries one replica sends at once.
    #[arg(long, env = "ORDO_WEBHOOK_CONCURRENCY", default_value_t = 64)]
    pub(crate) webhook_concurrency: usize,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "ORDO_BODY_LIMIT", default_value_t = 256 * 1024)]
    pub(crate) body_limit: usize,
    /// How log lines are written: `text` for people, `json` for collectors. The level comes
    /// from `RUST_LOG` (default `info`).
    #[arg(long, env = "ORDO_LOG_FORMAT", value_enum, ignore_case = true, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    /// OpenTelemetry collector to send traces to over OTLP/HTTP (`http://collector:4318`);
    /// none by default. Needs ordo built with `--features otel`.
    #[arg(long, env = "ORDO_OTLP_ENDPOINT")]
    #[serde(default)]
    pub(crate) otlp_endpoint: Option<String>,
    /// NATS server to publish every event to, on `JetStream` (`nats://127.0.0.1:4222`); none by
    /// default.
    #[arg(long, env = "ORDO_NATS_URL")]
    #[serde(default)]
    pub(crate) nats_url: Option<String>,
    /// The `JetStream` stream events go to (made if missing).
    #[arg(long, env = "ORDO_NATS_STREAM", default_value = "ORDO_EVENTS")]
    pub(crate) nats_stream: String,
    /// Events are published on `<prefix>.<type>` (`ordo.events.order.placed`).
    #[arg(long, env = "ORDO_NATS_SUBJECT_PREFIX", default_value = "ordo.events")]
    pub(crate) nats_subject_prefix: String,
}

impl ServeArgs {
    /// Checks what types alone do not: every layer's values pass through here.
    ///
    /// # Errors
    /// One line naming the first setting out of range.
    pub(crate) fn validate(&self) -> Result<()> {
        let ranges: [(&str, u64, u64, u64); 15] = [
            ("webhook_timeout_ms", self.webhook_timeout_ms, 100, 30_000),
            (
                "webhook_concurrency",
                u64::try_from(self.webhook_concurrency).unwrap_or(u64::MAX),
                1,
                1024,
            ),
            (
                "reconcile_interval_seconds",
                self.reconcile_interval_seconds.into(),
                1,
                3600,
            ),
            (
                "idempotency_ttl_hours",
                self.idempotency_ttl_hours.into(),
                1,
                8760,
            ),
            (
                "idempotency_lease_seconds",
                self.idempotency_lease_seconds.into(),
                1,
                3600,
            ),
            (
                "db_max_connections",
                self.storage.db_max_connections.into(),
                1,
                1000,
            ),
            ("request_timeout_ms", self.request_timeout_ms, 1, 3_600_000),
            (
                "max_in_flight",
                u64::try_from(self.max_in_flight).unwrap_or(u64::MAX),
                1,
                1_000_000,
            ),
            (
                "max_in_flight_per_caller",
                u64::try_from(self.max_in_flight_per_caller).unwrap_or(u64::MAX),
                1,
                1_000_000,
            ),
            (
                "body_read_timeout_ms",
                self.body_read_timeout_ms,
                1,
                3_600_000,
            ),
            (
                "max_connections",
                u64::try_from(self.max_connections).unwrap_or(u64::MAX),
                1,
                1_000_000,
            ),
            (
                "header_read_timeout_ms",
                self.header_read_timeout_ms,
                1,
                3_600_000,
            ),
            ("idle_timeout_ms", self.idle_timeout_ms, 1, 86_400_000),
            (
                "body_limit",
                u64::try_from(self.body_limit).unwrap_or(u64::MAX),
                1024,
                1 << 30,
            ),
            (
                "shutdown_grace_seconds",
                self.shutdown_grace_seconds,
                0,
                3600,
            ),
        ];
        if let Some(url) = &self.storage.database_url {
            crate::storage::check_url(url.expose_secret())?;
        }
        self.validate_background_work()?;
        for (name, value, low, high) in ranges {
            if !(low..=high).contains(&value) {
                anyhow::bail!(
                    "invalid configuration: `{name}` is {value}; it must be from {low} to {high}"
                );
            }
        }
        Ok(())
    }
}

/// Payment gateways ordo can use.
#[derive(Debug, Clone, Copy, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Gateway {
    /// Deterministic rules for tests and demos (see `--help`).
    Simulated,
}

/// When to capture.
#[derive(Debug, Clone, Copy, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Capture {
    /// When the order moves to completed.
    OnCompletion,
    /// Right after the authorization.
    Immediately,
    /// As each fulfilment ships, its lines' share.
    OnShipment,
}

impl ServeArgs {
    /// The settings of the work done beside requests: settling payments, retrying webhooks.
    fn validate_background_work(&self) -> Result<()> {
        if u64::from(self.payment_claim_grace_seconds).saturating_mul(1000)
            <= self.request_timeout_ms
            || self.payment_claim_grace_seconds > 86_400
        {
            anyhow::bail!(
                "invalid configuration: `payment_claim_grace_seconds` is {}; it must be longer than `request_timeout_ms` ({} ms) and at most 86400",
                self.payment_claim_grace_seconds,
                self.request_timeout_ms
            );
        }
        if self.webhook_retry_seconds.len() > 20
            || self
                .webhook_retry_seconds
                .iter()
                .any(|seconds| !(1..=7 * 86_400).contains(seconds))
        {
            anyhow::bail!(
                "invalid configuration: `webhook_retry_seconds` takes at most 20 waits, each from 1 to 604800 seconds"
            );
        }
        Ok(())
    }

    /// How webhooks are retried and how many go at once.
    pub(crate) fn webhook_options(&self) -> ordo_service::WebhookOptions {
        let mut options = ordo_service::WebhookOptions {
            concurrency: self.webhook_concurrency,
            // Longer than an attempt may take, with time to record its outcome.
            lease: std::time::Duration::from_millis(self.webhook_timeout_ms)
                .saturating_add(std::time::Duration::from_secs(15)),
            ..ordo_service::WebhookOptions::default()
        };
        if !self.webhook_retry_seconds.is_empty() {
            options.retry_schedule = self
                .webhook_retry_seconds
                .iter()
                .map(|seconds| std::time::Duration::from_secs(*seconds))
                .collect();
        }
        options
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use secrecy::ExposeSecret as _;

    use super::ServeArgs;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn the_settings_in_debug_output_show_no_secret() {
        let (jwt, key, password) = (
            "jwt-secret-of-at-least-32-bytes-xyz",
            "987654321",
            "pa55w0rd",
        );
        let url = format!("postgres://app:{password}@db:5432/ordo");
        let flags = ["--jwt-secret", jwt, "--order-number-key", key];
        let command = Command::try_parse_from(
            ["ordo"]
                .into_iter()
                .chain(flags)
                .chain(["--database-url", &url]),
        )
        .unwrap();
        let serve = &command.serve;
        // The values arrived, so their absence below is their hiding.
        let secret = serve.auth.jwt_secret.as_ref().unwrap().expose_secret();
        assert_eq!(secret, jwt);
        let number = serve.order_number_key.as_ref().unwrap().expose_secret();
        assert_eq!(number.to_string(), key);
        let given = serve.storage.database_url.as_ref().unwrap().expose_secret();
        assert_eq!(given, url);

        for debug in [format!("{serve:?}"), format!("{serve:#?}")] {
            for secret in [jwt, key, password] {
                assert!(!debug.contains(secret), "{secret:?} shows in {debug}");
            }
            assert!(debug.contains("jwt_secret"), "{debug}");
        }
    }
}
