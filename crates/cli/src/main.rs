//! The `ordo` command line: run the server, migrate its database, and work with orders on a
//! running server.

mod client;
mod serve;
mod storage;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ordo: an order-management service with exact money and safe retries.
#[derive(Debug, Parser)]
#[command(name = "ordo", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API (SQLite in ./ordo-data unless a PostgreSQL URL is given).
    Serve(serve::ServeArgs),
    /// Apply pending database migrations and report what was applied.
    Migrate(storage::StorageArgs),
    /// Work with orders on a running server.
    #[command(subcommand)]
    Orders(client::OrdersCommand),
    /// Payment operations on the database.
    #[command(subcommand)]
    Payments(PaymentsCommand),
}

#[derive(Debug, Subcommand)]
enum PaymentsCommand {
    /// Settle payments the gateway left unanswered (unknown authorizations, pending refunds),
    /// asking again with the same idempotency keys so nothing moves twice. `ordo serve` also
    /// does this every 30 seconds.
    Reconcile(storage::StorageArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(&anyhow::Error::new(error).context("cannot start the async runtime"));
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Migrate(args) => storage::migrate(&args).await,
            Command::Orders(command) => client::run(command).await,
            Command::Payments(PaymentsCommand::Reconcile(args)) => reconcile(&args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// One clear line on stderr, and a non-zero exit.
fn fail(error: &anyhow::Error) -> ExitCode {
    #[allow(
        clippy::print_stderr,
        reason = "the CLI reports its failure to its user"
    )]
    {
        eprintln!("ordo: error: {error:#}");
    }
    ExitCode::FAILURE
}

/// `ordo payments reconcile`.
async fn reconcile(args: &storage::StorageArgs) -> anyhow::Result<()> {
    let store = storage::Store::open(args).await?;
    store.migrate().await?;
    let service = serve::service_for(
        &store,
        std::time::Duration::ZERO,
        ordo_service::ServiceConfig::default(),
    );
    let report = service
        .reconcile()
        .await
        .map_err(|error| anyhow::anyhow!("reconciliation failed: {error}"))?;
    #[allow(clippy::print_stdout, reason = "the CLI reports to its user")]
    {
        println!(
            "reconciled {} authorization(s) and {} refund(s); {} still awaiting the gateway",
            report.authorizations, report.refunds, report.still_unknown
        );
    }
    store.close().await;
    Ok(())
}
