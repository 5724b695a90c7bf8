//! `ordo serve`: open the store, migrate it, and serve the API until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Args;
use ordo_domain::OrderNumberKey;
use ordo_http::HttpConfig;
use ordo_service::{OrderService, RandomIds, ServiceConfig, SystemClock};
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
        ..ServiceConfig::default()
    };
    if args.order_number_key.is_none() {
        tracing::warn!("no ORDO_ORDER_NUMBER_KEY set: order numbers use the public default key");
    }
    let service = OrderService::new(
        store.repository(),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        config,
    );
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
