//! ordo's project tasks, run as `cargo xtask <task>`.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    reason = "a developer tool counting requests and reading JSON answers (serde_json's \
              indexing yields null, never panics), not a request path"
)]
//!
//! `cargo xtask ci` is the one gate: the same command a newcomer runs, `.ci/run` runs, and the
//! GitHub workflow runs. It stops at the first failure and says which step failed.

mod advisories;
mod bench;
mod browser;
mod chart;
mod contract;
mod events;
mod invariants;
mod launch;
mod nats;
mod outage;
mod peer;
mod postgres;
mod reliability;

use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use xshell::{Shell, cmd};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "ordo's project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Everything CI checks, in order: fmt, clippy, unused dependencies, tests, the short crash
    /// tests (orders, then events), /docs in a browser, the wasm build, cargo-deny.
    Ci,
    /// Check formatting (`cargo fmt --check`).
    Fmt,
    /// Lint with clippy, warnings as errors, and build the API docs with warnings as errors.
    Lint,
    /// Run the whole test suite (nextest when installed, plus doc tests) with a database.
    Test,
    /// Build the domain crate for the browser (`wasm32-unknown-unknown`).
    Wasm,
    /// Check dependencies' licenses, bans, sources and advisories with cargo-deny.
    Deny,
    /// Fail on dependencies no code uses (cargo-machete).
    Machete,
    /// Load /docs in headless Chromium with every other origin blocked (installs Chromium and
    /// playwright-core when missing).
    Browser,
    /// Check the server against its OpenAPI document with schemathesis (every check, with and
    /// without a token, on SQLite and PostgreSQL).
    Contract {
        /// The bounded form (debug server, 10 examples, 40 seconds a run, fixed seed).
        #[arg(long)]
        quick: bool,
    },
    /// Measure the release server against pgbench on the same database (see bench/).
    Bench {
        /// One short round per cell, to try the harness (figures are not comparable).
        #[arg(long)]
        quick: bool,
        /// Also measure the peer, Platformatic DB 2.61 (installed from npm; needs Node.js 20).
        #[arg(long)]
        peer: bool,
        /// Also draw throughput against concurrency to target/bench/latest.svg.
        #[arg(long)]
        chart: bool,
        /// The embedded default: ordo on SQLite against the same statements run directly on
        /// SQLite by one thread (target/bench/sqlite.md).
        #[arg(long)]
        sqlite: bool,
        /// Staff search on a big table: the filters and `q` mixed, at 8 and 32 clients, on
        /// `--orders` seeded orders (target/bench/search.md).
        #[arg(long, conflicts_with_all = ["sqlite", "peer"])]
        search: bool,
        /// How many orders `--search` seeds.
        #[arg(long, default_value_t = 1_000_000, requires = "search")]
        orders: u64,
        /// Measure this `ordo` binary instead of building one (compare two builds).
        #[arg(long)]
        binary: Option<std::path::PathBuf>,
    },
    /// Crash the server under load (kill -9) and prove no order is lost or duplicated.
    Reliability {
        /// The short run that `cargo xtask ci` does (300 creates, 8 clients, 1 crash, debug build;
        /// with `--events`, 150 orders, 8 clients, 2 crashes).
        #[arg(long)]
        short: bool,
        /// Prove the events instead: two replicas killed 12 times while 32 clients move 2,000
        /// orders through their changes; every event reaches a webhook receiver failing 20 % of
        /// the time (signatures checked by the official verifier), a reconnecting WebSocket
        /// client and NATS exactly once, and the audit chains verify.
        #[arg(long)]
        events: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let sh = Shell::new()?;
    sh.change_dir(workspace_root());
    match cli.task {
        Task::Ci => ci(&sh),
        Task::Fmt => fmt(&sh),
        Task::Lint => lint(&sh),
        Task::Test => test(&sh),
        Task::Wasm => wasm(&sh),
        Task::Deny => deny(&sh),
        Task::Machete => machete(&sh),
        Task::Browser => browser::run(&sh),
        Task::Contract { quick } => contract::run(
            &sh,
            if quick {
                contract::Bounds::CI
            } else {
                contract::Bounds::FULL
            },
        ),
        Task::Bench {
            quick,
            peer,
            chart,
            sqlite,
            search,
            orders,
            binary,
        } => bench::run(
            &sh,
            bench::Options {
                timing: if quick {
                    bench::Timing::QUICK
                } else {
                    bench::Timing::FULL
                },
                peer,
                chart,
                suite: if sqlite {
                    bench::Suite::Sqlite
                } else if search {
                    bench::Suite::Search(orders)
                } else {
                    bench::Suite::Postgres
                },
                binary,
            },
        ),
        Task::Reliability {
            short,
            events: true,
        } => events::run(
            &sh,
            if short {
                events::Load::SHORT
            } else {
                events::Load::FULL
            },
        ),
        Task::Reliability {
            short,
            events: false,
        } => reliability::run(
            &sh,
            if short {
                reliability::Load::SHORT
            } else {
                reliability::Load::FULL
            },
        ),
    }
}

fn workspace_root() -> std::path::PathBuf {
    let xtask_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().unwrap_or(xtask_dir).to_path_buf()
}

/// Where cargo puts what it builds: `CARGO_TARGET_DIR`, or `target/` in the workspace.
pub(crate) fn target_dir(sh: &Shell) -> std::path::PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => sh.current_dir().join(dir),
        None => sh.current_dir().join("target"),
    }
}

/// One step of the gate.
type Step = fn(&Shell) -> Result<()>;

fn ci(sh: &Shell) -> Result<()> {
    let steps: [(&str, Step); 10] = [
        ("fmt", fmt),
        ("clippy and rustdoc", lint),
        ("unused dependencies", machete),
        ("tests", test),
        ("reliability (short)", |sh| {
            reliability::run(sh, reliability::Load::SHORT)
        }),
        ("events under kills (short)", |sh| {
            events::run(sh, events::Load::SHORT)
        }),
        ("/docs in a browser", browser::run),
        ("OpenAPI contract (schemathesis, bounded)", |sh| {
            contract::run(sh, contract::Bounds::CI)
        }),
        ("wasm build", wasm),
        ("cargo deny", deny),
    ];
    let started = Instant::now();
    for (name, step) in steps {
        say(&format!("==> {name}"));
        let step_started = Instant::now();
        step(sh).with_context(|| format!("cargo xtask ci: the {name} step failed"))?;
        say(&format!("<== {name} ok ({:.0?})", step_started.elapsed()));
    }
    say(&format!(
        "cargo xtask ci: all steps passed in {:.0?}",
        started.elapsed()
    ));
    Ok(())
}

fn fmt(sh: &Shell) -> Result<()> {
    cmd!(sh, "cargo fmt --all --check")
        .run()
        .context("formatting differs: run `cargo fmt --all` and commit the result")
}

fn lint(sh: &Shell) -> Result<()> {
    cmd!(
        sh,
        "cargo clippy --workspace --all-targets --all-features --locked -- -D warnings"
    )
    .run()?;
    // The API documentation builds without a broken or private link.
    cmd!(
        sh,
        "cargo doc --workspace --no-deps --all-features --locked"
    )
    .env("RUSTDOCFLAGS", "-D warnings")
    .run()
    .context("the API documentation has warnings (above): fix the links it names")?;
    Ok(())
}

fn test(sh: &Shell) -> Result<()> {
    let database = postgres::ensure(sh)?;
    let _env = sh.push_env("DATABASE_URL", database.url());
    // The event relay's test publishes to JetStream on loopback.
    let _nats = nats::ensure(sh)?;
    if cmd!(sh, "cargo nextest --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
    {
        // All features, so the OpenTelemetry export (a cargo feature) is tested too, in the
        // same build as everything else.
        cmd!(
            sh,
            "cargo nextest run --workspace --all-features --locked --no-fail-fast"
        )
        .run()?;
        // nextest does not run doc tests.
        cmd!(sh, "cargo test --workspace --all-features --locked --doc").run()?;
    } else {
        say("cargo-nextest not found: running `cargo test` instead");
        cmd!(sh, "cargo test --workspace --all-features --locked").run()?;
    }
    Ok(())
}

fn wasm(sh: &Shell) -> Result<()> {
    let installed = cmd!(sh, "rustup target list --installed")
        .read()
        .unwrap_or_default();
    if !installed
        .lines()
        .any(|line| line.trim() == "wasm32-unknown-unknown")
    {
        say("installing the wasm32-unknown-unknown target (rustup target add)");
        cmd!(sh, "rustup target add wasm32-unknown-unknown")
            .run()
            .context("could not add the wasm32 target: is rustup installed?")?;
    }
    cmd!(
        sh,
        "cargo build -p ordo-domain --target wasm32-unknown-unknown --locked"
    )
    .run()?;
    Ok(())
}

fn deny(sh: &Shell) -> Result<()> {
    install_when_missing(sh, "deny", &["cargo-deny"])?;
    cmd!(sh, "cargo deny --all-features check bans licenses sources").run()?;
    advisories::check(sh)
}

fn machete(sh: &Shell) -> Result<()> {
    install_when_missing(sh, "machete", &["cargo-machete", "--version", "^0.9"])?;
    let advice = "cargo-machete found unused dependencies (above): remove them, or list a false \
                  positive under [package.metadata.cargo-machete] ignored, with a comment saying why";
    cmd!(sh, "cargo machete --skip-target-dir")
        .env_remove(NOT_UNDER_CARGO_RUN)
        .run()
        .context(advice)
}

/// Set by `cargo run` (so in the xtask) but not by `cargo <subcommand>`: cargo-machete reads
/// its arguments as paths when it sees it.
const NOT_UNDER_CARGO_RUN: &str = "CARGO_PKG_NAME";

/// Runs `cargo install --locked <package>` when `cargo <subcommand>` is not there.
fn install_when_missing(sh: &Shell, subcommand: &str, package: &[&str]) -> Result<()> {
    if cmd!(sh, "cargo {subcommand} --version")
        .env_remove(NOT_UNDER_CARGO_RUN)
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
    {
        return Ok(());
    }
    let line = package.join(" ");
    say(&format!(
        "installing cargo-{subcommand} (cargo install --locked {line}); this takes a minute or more, once"
    ));
    cmd!(sh, "cargo install --locked {package...}")
        .run()
        .with_context(|| format!("could not install cargo-{subcommand}"))
}

/// Progress for the person at the terminal.
fn say(message: &str) {
    #[allow(clippy::print_stderr, reason = "xtask reports progress on stderr")]
    {
        eprintln!("{message}");
    }
}

/// Fails with `message` unless `condition` holds.
fn ensure_that(condition: bool, message: &str) -> Result<()> {
    if condition {
        Ok(())
    } else {
        bail!("{message}")
    }
}
