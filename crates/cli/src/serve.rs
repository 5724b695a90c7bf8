//! `ordo serve`: open the store, migrate it, and serve the API until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Args;
use ordo_domain::OrderNumberKey;
use ordo_http::HttpConfig;
use ordo_service::{KeyTimes, OrderService, RandomIds, ServiceConfig, SystemClock};
use tracing_subscriber::EnvFilter;

use crate::storage::{StorageArgs, Store};

/// Settings of `ordo serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ORDO_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    storage: StorageArgs,
    /// Secret (a 64-bit number) that scrambles order numbers so they do not reveal your order
    /// volume. Set your own in production; the default is public.
    #[arg(long, env = "ORDO_ORDER_NUMBER_KEY", hide_env_values = true)]
    order_number_key: Option<u64>,
    /// Hours an idempotency key is remembered; after that the same key runs afresh.
    #[arg(long, env = "ORDO_IDEMPOTENCY_TTL_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=8760))]
    idempotency_ttl_hours: u32,
    /// Seconds a retry waits (409) before taking over a request with its key that has not
    /// finished, as after a crash. Safety does not depend on it (every write checks the holder),
    /// only how soon a retry after a crash goes through.
    #[arg(long, env = "ORDO_IDEMPOTENCY_LEASE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3600))]
    idempotency_lease_seconds: u32,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "ORDO_BODY_LIMIT", default_value_t = 256 * 1024)]
    body_limit: usize,
}

pub(crate) async fn run(args: ServeArgs) -> Result<()> {
    init_logging();
    let store = Store::open(&args.storage).await?;
    let applied = store.migrate().await?;
    for migration in &applied {
        tracing::info!(migration, "applied migration");
    }
    let config = ServiceConfig {
        order_number_key: args
            .order_number_key
            .map_or(OrderNumberKey::DEFAULT, OrderNumberKey::new),
        key_times: KeyTimes {
            ttl: chrono::Duration::hours(i64::from(args.idempotency_ttl_hours)),
            lease: chrono::Duration::seconds(i64::from(args.idempotency_lease_seconds)),
        },
        ..ServiceConfig::default()
    };
    if args.order_number_key.is_none() {
        tracing::warn!("no ORDO_ORDER_NUMBER_KEY set: order numbers use the public default key");
    }
    let service = OrderService::new(
        store.repository(),
        store.keys(),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        config,
    );
    let purge = tokio::spawn(purge_expired_keys(service.clone()));
    let app = ordo_http::app(
        service,
        HttpConfig {
            body_limit: args.body_limit,
        },
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
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the server failed")?;
    purge.abort();
    store.close().await;
    tracing::info!("ordo stopped");
    Ok(())
}

fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
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

/// Every ten minutes, deletes idempotency keys past their time to live.
async fn purge_expired_keys(service: OrderService) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        match service.purge_expired_keys().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired idempotency keys"),
            Err(error) => {
                tracing::warn!(error = %error, "could not purge expired idempotency keys");
            }
        }
    }
}
