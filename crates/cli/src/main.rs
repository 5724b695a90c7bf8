//! The `ordo` command line: run the server, migrate its database, and work with orders on a
//! running server.

mod auth;
mod client;
mod config;
mod nats;
mod seed;
mod serve;
mod storage;
mod telemetry;

use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc: fewer cycles per request than the system allocator (measured in #8).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context as _;
use clap::{ArgMatches, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// ordo: an order-management service with exact money and safe retries.
#[derive(Debug, Parser)]
#[command(name = "ordo", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    config: config::ConfigFileArgs,
}

/// `ordo config`: the settings in force, and with `--check` whether `serve` would take them.
#[derive(Debug, clap::Args)]
struct ConfigArgs {
    /// Also run every check `ordo serve` makes before it starts (ranges, keys and secrets, the
    /// database URL, the OTLP feature), starting and writing nothing; exit 1 on the first
    /// refusal.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    serve: serve::ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API (SQLite in ./ordo-data unless a PostgreSQL URL is given).
    Serve(serve::ServeArgs),
    /// Print the settings in force (defaults < ordo.toml < ORDO_* variables < flags), each
    /// with where it came from; secrets are never shown.
    Config(ConfigArgs),
    /// Apply pending database migrations and report what was applied.
    Migrate(storage::StorageArgs),
    /// Mint a bearer token with the configured secret (or the one `ordo serve` generated in
    /// the data directory), for development and operations. Prints only the token.
    Token(auth::TokenArgs),
    /// Fill an empty database with realistic orders (deterministic ids, for demos and
    /// `cargo xtask bench`).
    Seed(seed::SeedArgs),
    /// Work with orders on a running server.
    #[command(subcommand)]
    Orders(client::OrdersCommand),
    /// Work with the price book on a running server.
    #[command(subcommand)]
    Products(client::ProductsCommand),
    /// Payment operations on the database.
    #[command(subcommand)]
    Payments(PaymentsCommand),
    /// Customer operations on the database.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// API keys for trusted backends, on the database.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The orders' event history, on the database.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk every order's event chain and report the first broken link (exit status 1).
    Verify(storage::StorageArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a key and print it, once: ordo stores only its hash. Send it as
    /// `Authorization: Bearer <key>`.
    Create(KeyCreateArgs),
    /// List every key, newest first (never a secret).
    List(storage::StorageArgs),
    /// Revoke a key: every server on the database refuses it from its next request.
    Revoke(KeyRevokeArgs),
}

#[derive(Debug, clap::Args)]
struct KeyCreateArgs {
    /// What the key is for ("storefront", "erp").
    #[arg(long)]
    name: String,
    /// A scope it holds: orders:read, orders:write, orders:refund, orders:price, catalog:read
    /// or catalog:write (repeat for more).
    #[arg(long = "scope", required = true)]
    scopes: Vec<String>,
    #[command(flatten)]
    storage: storage::StorageArgs,
}

#[derive(Debug, clap::Args)]
struct KeyRevokeArgs {
    /// The key's id.
    id: uuid::Uuid,
    #[command(flatten)]
    storage: storage::StorageArgs,
}

#[derive(Debug, Subcommand)]
enum CustomersCommand {
    /// Erase a customer's personal data (contact, addresses, notes) from all its orders,
    /// deleted ones too, and from the stored responses that held it; amounts, lines and
    /// numbers stay. Recorded; running it twice changes nothing more.
    Erase(EraseArgs),
}

#[derive(Debug, clap::Args)]
struct EraseArgs {
    /// The customer's id.
    customer: uuid::Uuid,
    #[command(flatten)]
    storage: storage::StorageArgs,
}

#[derive(Debug, Subcommand)]
enum PaymentsCommand {
    /// Settle payments the gateway left unanswered (unknown authorizations, pending refunds)
    /// or a stopped process left claimed, asking again with the same idempotency keys so
    /// nothing moves twice. `ordo serve` also does this every 30 seconds.
    Reconcile(ReconcileArgs),
    /// Check the books: every approval in the simulated gateway's ledger is on its order, and
    /// no order shows money the ledger does not. Exits non-zero on any difference.
    Check(storage::StorageArgs),
}

#[derive(Debug, clap::Args)]
struct ReconcileArgs {
    #[command(flatten)]
    storage: storage::StorageArgs,
    /// Settle calls claimed at least this many seconds ago (a running server's requests may
    /// still be making younger ones). 0 when no server runs on the database.
    #[arg(long, default_value_t = 120)]
    grace_seconds: u32,
}

fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return usage_error(&error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(&anyhow::Error::new(error).context("cannot start the async runtime"));
        }
    };
    let file = cli.config;
    // `ordo orders … --json` fails in JSON too.
    let json = match &cli.command {
        Command::Orders(command) => command.client().json,
        Command::Products(command) => command.client().json,
        _ => false,
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(settings(&args, &matches, &file)?.settings).await,
            Command::Config(ConfigArgs { check, serve }) => {
                let resolved = settings(&serve, &matches, &file)?;
                resolved.settings.validate()?;
                if check {
                    serve::check(&resolved.settings)?;
                }
                show_config(&resolved)
            }
            Command::Migrate(args) => {
                storage::migrate(&settings(&args, &matches, &file)?.settings).await
            }
            Command::Token(args) => auth::mint(&settings(&args, &matches, &file)?.settings),
            Command::Seed(args) => seed::run(&settings(&args, &matches, &file)?.settings).await,
            Command::Orders(command) => orders(command, &matches, &file).await,
            Command::Products(command) => products(command, &matches, &file).await,
            Command::Payments(PaymentsCommand::Reconcile(args)) => {
                let storage = settings(&args.storage, &matches, &file)?.settings;
                reconcile(&storage, args.grace_seconds).await
            }
            Command::Audit(AuditCommand::Verify(args)) => {
                verify_chains(&settings(&args, &matches, &file)?.settings).await
            }
            Command::Payments(PaymentsCommand::Check(args)) => {
                check_books(&settings(&args, &matches, &file)?.settings).await
            }
            Command::Customers(CustomersCommand::Erase(args)) => {
                let storage = settings(&args.storage, &matches, &file)?.settings;
                erase(&storage, args.customer).await
            }
            Command::Keys(command) => keys(command, &matches, &file).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if json => fail_as_json(&error),
        Err(error) => fail(&error),
    }
}

/// A command's settings from every layer: its own flags and variables, the configuration
/// file, and the defaults. The file may name any setting of `ordo serve`.
fn settings<T: Serialize + DeserializeOwned>(
    parsed: &T,
    matches: &ArgMatches,
    file: &config::ConfigFileArgs,
) -> anyhow::Result<config::Resolved<T>> {
    let mut cli = Cli::command();
    cli.build();
    let mut known = cli
        .find_subcommand("serve")
        .map(config::setting_names)
        .context("the serve command is missing")?;
    // The client's own setting (`ordo orders …`); its default is `listen`.
    known.insert("server".to_owned());
    let (mut command, mut matches) = (&cli, matches);
    while let Some((name, sub)) = matches.subcommand() {
        command = command
            .find_subcommand(name)
            .context("a subcommand is missing")?;
        matches = sub;
    }
    config::resolve(parsed, (command, matches), file, &known)
}

/// `ordo orders …`, with the client's settings from every layer.
async fn orders(
    command: client::OrdersCommand,
    matches: &ArgMatches,
    file: &config::ConfigFileArgs,
) -> anyhow::Result<()> {
    let resolved = settings(command.client(), matches, file)?;
    let server = client::Server::from_settings(&resolved.settings, &resolved.sources)?;
    client::run(command, &resolved.settings, &server).await
}

async fn products(
    command: client::ProductsCommand,
    matches: &ArgMatches,
    file: &config::ConfigFileArgs,
) -> anyhow::Result<()> {
    let resolved = settings(command.client(), matches, file)?;
    let server = client::Server::from_settings(&resolved.settings, &resolved.sources)?;
    client::run_products(command, &resolved.settings, &server).await
}

/// `ordo config`.
#[allow(clippy::unnecessary_wraps, reason = "one signature for every command")]
fn show_config<T>(resolved: &config::Resolved<T>) -> anyhow::Result<()> {
    #[allow(clippy::print_stdout, reason = "the CLI reports to its user")]
    {
        print!("{}", resolved.report);
    }
    Ok(())
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

/// clap's answer to what it could not parse (or to `--help`); for `ordo orders … --json`, a
/// usage error is `{"error": "…"}` on stderr like the command's other failures.
fn usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let json = args.iter().any(|arg| arg == "--json") && args.iter().any(|arg| arg == "orders");
    let informative = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !json && let Some(line) = setting_from_environment(error) {
        #[allow(
            clippy::print_stderr,
            reason = "the CLI reports its failure to its user"
        )]
        {
            eprintln!("ordo: error: {line}");
        }
        return ExitCode::from(2);
    }
    if !json || informative {
        error.exit()
    }
    let text = error.to_string();
    let line = text.lines().next().unwrap_or_default();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    #[allow(
        clippy::print_stderr,
        reason = "the CLI reports its failure to its user"
    )]
    {
        eprintln!("{}", serde_json::json!({ "error": line }));
    }
    ExitCode::from(2)
}

/// A bad value clap read from an `ORDO_*` variable rather than a flag, said as a setting and
/// the variable it came from: clap names the flag, which the user never typed.
fn setting_from_environment(error: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg.strip_prefix("--")?.split([' ', '=']).next()?.to_owned();
    let typed = std::env::args_os().any(|given| {
        given.to_str().is_some_and(|given| {
            given == format!("--{long}") || given.starts_with(&format!("--{long}="))
        })
    });
    if typed {
        return None;
    }
    let command = Cli::command();
    let variable = std::iter::once(&command)
        .chain(command.get_subcommands())
        .flat_map(clap::Command::get_arguments)
        .find(|argument| argument.get_long() == Some(long.as_str()))?
        .get_env()?
        .to_str()?
        .to_owned();
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => format!(" {value:?}"),
        _ => String::new(),
    };
    let why = std::error::Error::source(error)
        .map(|source| format!(": {source}"))
        .unwrap_or_default();
    Some(format!(
        "invalid configuration: `{}` from {variable}: invalid value{value}{why}",
        long.replace('-', "_")
    ))
}

/// With `--json`, the failure as one JSON object on stderr: the server's problem as it sent
/// it, or `{"error": "…"}` for what went wrong on this side.
fn fail_as_json(error: &anyhow::Error) -> ExitCode {
    let body = match error.downcast_ref::<client::ServerProblem>() {
        Some(problem) => problem.body.clone(),
        None => serde_json::json!({ "error": format!("{error:#}") }),
    };
    #[allow(
        clippy::print_stderr,
        reason = "the CLI reports its failure to its user"
    )]
    {
        eprintln!("{body}");
    }
    ExitCode::FAILURE
}

/// `ordo payments reconcile`.
async fn reconcile(args: &storage::StorageArgs, grace_seconds: u32) -> anyhow::Result<()> {
    let store = storage::Store::open(args).await?;
    store.migrate().await?;
    let service = serve::service_for(
        &store,
        std::time::Duration::ZERO,
        ordo_service::ServiceConfig {
            claim_grace: chrono::Duration::seconds(i64::from(grace_seconds)),
            ..ordo_service::ServiceConfig::default()
        },
    );
    let report = service
        .reconcile()
        .await
        .map_err(|error| anyhow::anyhow!("reconciliation failed: {error}"))?;
    #[allow(clippy::print_stdout, reason = "the CLI reports to its user")]
    {
        println!(
            "reconciled {} payment call(s) and {} refund(s); {} still awaiting the gateway",
            report.payments, report.refunds, report.still_unknown
        );
    }
    store.close().await;
    Ok(())
}

/// `ordo customers erase`: as an admin would through the API, recorded as the operator.
async fn erase(args: &storage::StorageArgs, customer: uuid::Uuid) -> anyhow::Result<()> {
    let customer = ordo_domain::CustomerId::from_uuid(customer)
        .map_err(|error| anyhow::anyhow!("{customer}: {error}"))?;
    let (store, service) = operator_service(args).await?;
    let operator = ordo_service::Caller::operator(ordo_service::Role::Admin, "ordo-cli")
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let erasure = service
        .erase_customer(&operator, customer)
        .await
        .map_err(|error| anyhow::anyhow!("the erasure failed: {error}"))?;
    #[allow(clippy::print_stdout, reason = "the CLI reports to its user")]
    {
        println!(
            "erased the personal data of customer {customer} from {} order(s) (erasure {})",
            erasure.orders, erasure.id
        );
    }
    store.close().await;
    Ok(())
}

/// `ordo keys …`, on the database, as an admin named `ordo-cli`.
async fn keys(
    command: KeysCommand,
    matches: &ArgMatches,
    file: &config::ConfigFileArgs,
) -> anyhow::Result<()> {
    let storage = match &command {
        KeysCommand::Create(args) => &args.storage,
        KeysCommand::List(storage) => storage,
        KeysCommand::Revoke(args) => &args.storage,
    };
    let store = storage::Store::open(&settings(storage, matches, file)?.settings).await?;
    store.migrate().await?;
    let keys = ordo_service::ApiKeys::new(store.api_keys(), Arc::new(ordo_service::SystemClock));
    let admin = ordo_service::Caller::operator(ordo_service::Role::Admin, "ordo-cli")
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let done = match command {
        KeysCommand::Create(args) => {
            let scopes = args
                .scopes
                .iter()
                .map(|scope| scope.parse::<ordo_service::Scope>())
                .collect::<Result<Vec<_>, _>>()?;
            let made = keys.create(&admin, &args.name, &scopes).await?;
            #[allow(
                clippy::print_stdout,
                clippy::print_stderr,
                reason = "the CLI reports to its user"
            )]
            {
                eprintln!(
                    "made API key {} ({}; {}): shown once, store it now",
                    made.key.id,
                    made.key.name,
                    scope_names(&made.key)
                );
                println!("{}", made.secret);
            }
            Ok(())
        }
        KeysCommand::List(_) => {
            #[allow(clippy::print_stdout, reason = "the CLI reports to its user")]
            for key in keys.list(&admin).await? {
                let state = match key.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "active".to_owned(),
                };
                let used = key.last_used_at.map_or_else(
                    || "never used".to_owned(),
                    |at| format!("last used {}", at.to_rfc3339()),
                );
                println!(
                    "{}  {}  {}  {state}, {used}, made {} by {}",
                    key.id,
                    key.name,
                    scope_names(&key),
                    key.created_at.to_rfc3339(),
                    key.created_by
                );
            }
            Ok(())
        }
        KeysCommand::Revoke(args) => {
            let key = keys.revoke(&admin, args.id).await?;
            #[allow(clippy::print_stdout, reason = "the CLI reports to its user")]
            {
                println!(
                    "revoked API key {} ({}) at {}",
                    key.id,
                    key.name,
                    key.revoked_at.map(|at| at.to_rfc3339()).unwrap_or_default()
                );
            }
            Ok(())
        }
    };
    store.close().await;
    done
}

/// A key's scopes as `orders:read orders:write`.
fn scope_names(key: &ordo_service::ApiKey) -> String {
    key.scopes
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The database the operator names, migrated, and the service over it with default settings:
/// what one-off operator commands run on.
async fn operator_service(
    args: &storage::StorageArgs,
) -> anyhow::Result<(storage::Store, ordo_service::OrderService)> {
    let store = storage::Store::open(args).await?;
    store.migrate().await?;
    let service = serve::service_for(
        &store,
        std::time::Duration::ZERO,
        ordo_service::ServiceConfig::default(),
    );
    Ok((store, service))
}

/// `ordo audit verify`.
async fn verify_chains(args: &storage::StorageArgs) -> anyhow::Result<()> {
    let (store, service) = operator_service(args).await?;
    let operator = ordo_service::Caller::operator(ordo_service::Role::Admin, "ordo audit verify")
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let report = service
        .audit_chains(&operator)
        .await
        .map_err(|error| anyhow::anyhow!("auditing the event chains failed: {error}"))?;
    store.close().await;
    #[allow(clippy::print_stdout, reason = "the CLI reports to its user")]
    {
        if let Some(broken) = &report.broken {
            println!(
                "broken: order {} event {} (chain position {}): {}",
                broken.order_id, broken.event_id, broken.chain, broken.reason
            );
        }
        println!(
            "audit: {} orders, {} events checked, {} payloads erased, {}",
            report.orders,
            report.events,
            report.erased,
            if report.broken.is_some() {
                "BROKEN"
            } else {
                "every chain verifies"
            }
        );
    }
    match report.broken {
        None => Ok(()),
        Some(_) => anyhow::bail!("an event chain is broken"),
    }
}

/// `ordo payments check`.
async fn check_books(args: &storage::StorageArgs) -> anyhow::Result<()> {
    let (store, service) = operator_service(args).await?;
    let books = service
        .check_books(&*store.ledger())
        .await
        .map_err(|error| anyhow::anyhow!("checking the books failed: {error}"))?;
    store.close().await;
    #[allow(clippy::print_stdout, reason = "the CLI reports to its user")]
    {
        for (order, how) in &books.mismatches {
            println!("order {order}: {how}");
        }
        println!(
            "books: {} orders, {} gateway approvals, {} mismatches, {} still claimed",
            books.orders,
            books.approvals,
            books.mismatches.len(),
            books.unsettled.len()
        );
    }
    if books.mismatches.is_empty() && books.unsettled.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("the books do not balance")
    }
}
