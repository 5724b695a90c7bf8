//! `ordo serve`: open the store, migrate it, and serve the API until SIGTERM or Ctrl-C.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::http::HeaderValue;
use ordo_domain::OrderNumberKey;
use ordo_http::{Draining, HttpConfig, RateLimit};
use ordo_service::{
    CaptureMode, KeyTimes, OrderService, RandomIds, Replica, ServiceConfig, SimulatedGateway,
    SystemClock,
};
use secrecy::ExposeSecret as _;

use crate::storage::Store;

mod listener;
mod settings;

pub(crate) use settings::ServeArgs;
use settings::{Capture, Gateway};

/// Every check `run` makes of its settings before it starts, with nothing started or written:
/// `ordo config --check`.
///
/// # Errors
/// The first setting `serve` would refuse, in one line.
pub(crate) fn check(args: &ServeArgs) -> Result<()> {
    args.validate()?;
    crate::telemetry::check(args.otlp_endpoint.as_deref())?;
    crate::auth::check(&args.auth, &args.storage)?;
    if let Some(url) = &args.storage.database_url {
        crate::storage::check_url(url.expose_secret())?;
    }
    Ok(())
}

pub(crate) async fn run(args: ServeArgs) -> Result<()> {
    args.validate()?;
    let _telemetry = crate::telemetry::init(args.log_format, args.otlp_endpoint.as_deref())?;
    let authentication = crate::auth::authentication(&args.auth, &args.storage)?;
    let store = Store::open(&args.storage).await?;
    let applied = store.migrate().await?;
    for migration in &applied {
        tracing::info!(migration, "applied migration");
    }
    let config = service_config(&args);
    if args.order_number_key.is_none() {
        tracing::warn!("no ORDO_ORDER_NUMBER_KEY set: order numbers use the public default key");
    }
    let replica = Replica::new(store.coordination(), Arc::new(SystemClock));
    replica
        .check_order_number_key(config.order_number_key)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let Gateway::Simulated = args.payment_gateway;
    let service = service_for(
        &store,
        Duration::from_millis(args.gateway_latency_ms),
        config,
    )
    .with_webhooks(
        store.webhooks(),
        store.events(),
        webhook_sender(&args)?,
        args.webhook_options(),
    );
    let webhooks = tokio::spawn(send_webhooks(service.clone()));
    let nats = relay_to_nats(&args, &service, &replica).await?;
    let purge = tokio::spawn(purge_expired_keys(service.clone(), replica.clone()));
    let reconcile = tokio::spawn(reconcile_payments(
        service.clone(),
        replica,
        Duration::from_secs(u64::from(args.reconcile_interval_seconds)),
    ));
    let draining = Draining::default();
    let app = ordo_http::app(
        service,
        http_config(&args, draining.clone(), authentication)?,
    );
    let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|error| {
        if error.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("{} is already in use: stop what holds it or pick another address with --listen", args.listen)
        } else {
            anyhow::Error::new(error).context(format!("cannot listen on {}", args.listen))
        }
    })?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;
    tracing::info!(storage = %store.describe(&args.storage), "ordo {} listening on http://{address}", env!("CARGO_PKG_VERSION"));
    let (shutdown_began, on_shutdown) = tokio::sync::oneshot::channel::<()>();
    let drain_delay = Duration::from_millis(args.drain_delay_ms);
    let server = listener::serve(listener, app, connection_limits(&args), async move {
        shutdown_signal().await;
        // Report not-ready first, so load balancers stop sending new requests, then stop
        // accepting; requests in flight run to their end.
        draining.start();
        tokio::time::sleep(drain_delay).await;
        let _ = shutdown_began.send(());
    });
    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    let run_until_drained = async {
        // Past the grace period after shutdown began, stop waiting for requests in flight.
        let deadline = async {
            let _ = on_shutdown.await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = server => {}
            () = deadline => {
                tracing::warn!(?grace, "requests still in flight after the grace period: stopping anyway");
            }
        }
    };
    run_until_drained.await;
    purge.abort();
    reconcile.abort();
    webhooks.abort();
    if let Some(nats) = nats {
        nats.abort();
    }
    store.close().await;
    tracing::info!("ordo stopped");
    Ok(())
}

/// With `nats_url`, the relay publishing every event to NATS, started.
async fn relay_to_nats(
    args: &ServeArgs,
    service: &OrderService,
    replica: &Replica,
) -> Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(url) = &args.nats_url else {
        return Ok(None);
    };
    let publisher =
        crate::nats::NatsPublisher::connect(url, &args.nats_stream, &args.nats_subject_prefix)
            .await?;
    Ok(Some(tokio::spawn(crate::nats::relay(
        service.clone(),
        replica.clone(),
        publisher,
    ))))
}

/// The HTTP client webhooks go out through, as the settings say.
fn webhook_sender(args: &ServeArgs) -> Result<Arc<ordo_http::webhooks::HttpSender>> {
    let allowed = ordo_http::webhooks::AllowList::parse(&args.webhook_allowed_networks)
        .map_err(|error| anyhow::anyhow!("webhook_allowed_networks: {error}"))?;
    let sender = ordo_http::webhooks::HttpSender::with_timeout(
        allowed,
        Duration::from_millis(args.webhook_timeout_ms),
    )
    .context("cannot build the webhook sender")?;
    Ok(Arc::new(sender))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Every ten minutes, deletes idempotency keys past their time to live: on one replica per
/// database at a time.
async fn purge_expired_keys(service: OrderService, replica: Replica) {
    let period = Duration::from_secs(600);
    let mut every = tokio::time::interval(period);
    loop {
        every.tick().await;
        if !leads(&replica, "purge_expired_keys", period).await {
            continue;
        }
        match service.purge_expired_keys().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired idempotency keys"),
            Err(error) => {
                tracing::warn!(error = %error, "could not purge expired idempotency keys");
            }
        }
    }
}

/// Every `period`, settles payments the gateway left unanswered or a stopped process left
/// claimed: on one replica per database at a time.
async fn reconcile_payments(service: OrderService, replica: Replica, period: Duration) {
    let mut every = tokio::time::interval(period);
    loop {
        every.tick().await;
        if !leads(&replica, "reconcile_payments", period).await {
            continue;
        }
        tracing::debug!("reconciliation pass");
        match service.reconcile().await {
            Ok(report) if report == ordo_service::Reconciled::default() => {}
            Ok(report) => tracing::info!(?report, "reconciled payments"),
            Err(error) => tracing::warn!(error = %error, "could not reconcile payments"),
        }
    }
}

/// Fans every event out to the webhook endpoints and sends what is due, a few times a second
/// on every replica: the fan-out moves by compare-and-set and senders lease what they send, so
/// replicas share the work without sending one delivery twice at once.
async fn send_webhooks(service: OrderService) {
    let Some(webhooks) = service.webhooks().cloned() else {
        return;
    };
    let tick = Duration::from_millis(200);
    let mut every = tokio::time::interval(tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let fanning = async {
        loop {
            every.tick().await;
            // Fans out until caught up, a page at a time.
            loop {
                match webhooks.fan_out().await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(error = %error, "could not fan events out to webhook endpoints");
                        break;
                    }
                }
            }
        }
    };
    // Fanning out and sending run side by side; neither ends before the process does.
    tokio::select! {
        () = fanning => {}
        () = webhooks.send_continuously(tick) => {}
    }
}

/// Whether this replica runs `job` this period; a database that cannot say means no.
async fn leads(replica: &Replica, job: &'static str, period: Duration) -> bool {
    match replica.lead(job, period).await {
        Ok(leads) => leads,
        Err(error) => {
            tracing::warn!(error = %error, job, "could not take the job's lease: skipping a run");
            false
        }
    }
}

/// The service over `store` with the simulated gateway: what `serve` runs, and what one-off
/// operator commands use.
pub(crate) fn service_for(
    store: &Store,
    gateway_latency: Duration,
    config: ServiceConfig,
) -> OrderService {
    let gateway = SimulatedGateway::new(store.ledger(), Arc::new(SystemClock), gateway_latency);
    OrderService::new(
        store.repository(),
        store.keys(),
        Arc::new(gateway),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        Arc::new(ordo_http::ApiRenderer),
        config,
    )
    .with_events(store.events())
    .with_api_keys(store.api_keys())
    .with_catalog(store.products())
    .with_discount_codes(store.discounts())
    .with_rates(store.rates())
}

/// The service's settings from the command line.
fn service_config(args: &ServeArgs) -> ServiceConfig {
    ServiceConfig {
        order_number_key: args
            .order_number_key
            .as_ref()
            .map_or(OrderNumberKey::DEFAULT, |key| {
                OrderNumberKey::new(*key.expose_secret())
            }),
        key_times: KeyTimes {
            ttl: chrono::Duration::hours(i64::from(args.idempotency_ttl_hours)),
            lease: chrono::Duration::seconds(i64::from(args.idempotency_lease_seconds)),
        },
        capture: match args.capture {
            Capture::OnCompletion => CaptureMode::OnCompletion,
            Capture::Immediately => CaptureMode::Immediately,
            Capture::OnShipment => CaptureMode::OnShipment,
        },
        claim_grace: chrono::Duration::seconds(i64::from(args.payment_claim_grace_seconds)),
        payment_terms_days: args.payment_terms_days,
        ..ServiceConfig::default()
    }
}

/// The limits on connections from the command line.
fn connection_limits(args: &ServeArgs) -> listener::ConnectionLimits {
    let idle_timeout = Duration::from_millis(args.idle_timeout_ms);
    let request_timeout = Duration::from_millis(args.request_timeout_ms);
    listener::ConnectionLimits {
        max_connections: args.max_connections,
        header_read_timeout: Duration::from_millis(args.header_read_timeout_ms),
        idle_timeout,
        // Longer than the request timeout, so a slow request is answered 504 before its
        // connection is taken for stalled.
        stall_timeout: idle_timeout.max(request_timeout.saturating_add(Duration::from_secs(1))),
    }
}

/// The HTTP layer's settings from the command line; installs the metrics recorder.
fn http_config(
    args: &ServeArgs,
    draining: Draining,
    authentication: ordo_http::Authentication,
) -> Result<HttpConfig> {
    let cors_origins = args
        .cors_origins
        .iter()
        .map(|origin| {
            HeaderValue::from_str(origin).map_err(|_| {
                anyhow::anyhow!(
                    "invalid configuration: `cors_origins`: {origin:?} is not a valid origin"
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let metrics = ordo_http::install_recorder().context("cannot set up metrics")?;
    Ok(HttpConfig {
        body_limit: args.body_limit,
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        max_in_flight: args.max_in_flight,
        max_in_flight_per_caller: args.max_in_flight_per_caller,
        body_read_timeout: Duration::from_millis(args.body_read_timeout_ms),
        draining,
        metrics: Some(metrics),
        rate_limit: NonZeroU32::new(args.rate_limit_per_second).map(|per_second| RateLimit {
            per_second,
            burst: NonZeroU32::new(args.rate_limit_burst).unwrap_or(per_second),
        }),
        cors_origins,
        authentication,
        protect_metrics: args.auth.metrics_access == crate::auth::MetricsAccess::Token,
    })
}
