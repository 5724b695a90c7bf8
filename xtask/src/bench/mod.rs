//! `cargo xtask bench`: the release server on a fresh PostgreSQL database with 100k seeded
//! orders, driven over loopback by wrk, next to pgbench running the same SQL on the same
//! database, and `/healthz` as the HTTP stack's ceiling.
//!
//! Why wrk: it is the lightest closed-loop generator (one thread drives thousands of
//! requests a second, leaving the CPU to the server), scripts its requests in Lua, and reports
//! latency percentiles. It and pgbench are pinned to CPU 1 with `taskset`; the server and
//! PostgreSQL are not pinned, as in production, so they share both cores with the generator's
//! one. Absolute figures vary from machine to machine; the ratios are what to compare.
#![allow(
    clippy::disallowed_types,
    clippy::float_arithmetic,
    clippy::as_conversions,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a measuring tool: rates, latencies and CPU times are floats, never money"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::{Value, json};
use xshell::{Shell, cmd};

mod pgbench;
mod process;
mod report;
mod search;
mod sqlite;
mod wrk;

pub(crate) use self::pgbench::fresh_database;
use self::pgbench::{find_pgbench, pgbench_run, psql};
use self::report::{render, render_peer};
use self::wrk::{Drive, ensure_wrk};
use crate::launch::Server;
use crate::peer::Peer;
use crate::{chart, launch, postgres, say};

/// The seeded data set.
const ORDERS: u64 = 100_000;
const CUSTOMERS: u64 = 10_000;
const CONCURRENCY: [u32; 4] = [1, 8, 32, 64];
const SECRET: &str = "bench-run-secret-of-at-least-32-bytes!";
const WORKLOADS: [&str; 4] = ["create", "get", "list", "mix"];
/// Each workload runs this long against the peer once before its cells.
const PEER_WARM_UP_SECONDS: u32 = 3;

/// How long each measurement runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    warm_up: u32,
    round: u32,
    rounds: usize,
}

impl Timing {
    /// A warm-up, then three rounds whose median is reported.
    pub(crate) const FULL: Self = Self {
        warm_up: 1,
        round: 3,
        rounds: 3,
    };
    /// One short round, to try the harness.
    pub(crate) const QUICK: Self = Self {
        warm_up: 1,
        round: 1,
        rounds: 1,
    };
}

/// Which measurement `cargo xtask bench` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suite {
    /// ordo on PostgreSQL against pgbench on the same SQL (this file).
    Postgres,
    /// The embedded default: ordo on SQLite against SQLite's own limit (`sqlite.rs`).
    Sqlite,
    /// Staff search on a table of this many orders (`search.rs`).
    Search(u64),
}

/// What `cargo xtask bench` was asked for.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// What to measure.
    pub(crate) suite: Suite,
    /// Measure this server binary instead of building the workspace's (to compare two
    /// builds side by side).
    pub(crate) binary: Option<PathBuf>,
    /// How long each cell runs.
    pub(crate) timing: Timing,
    /// Also measure the peer (Platformatic DB) on the same database.
    pub(crate) peer: bool,
    /// Also draw `target/bench/latest.svg`.
    pub(crate) chart: bool,
}

/// What a Platformatic DB operator would add for its `GET /orders?where.customerId.eq=…
/// &orderby.createdAt=desc` to be an index scan.
const PEER_INDEX: &str = "CREATE INDEX IF NOT EXISTS peer_orders_customer_created_idx ON orders (customer_id, created_at)";

/// One measured cell.
#[derive(Debug, Clone, Default)]
pub(super) struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    server_cpu_us: Option<f64>,
    pg_cpu_us: Option<f64>,
    rss_mb: Option<f64>,
}

impl Figures {
    /// Table cells: requests/s, p50 and p99.
    fn speed_cells(&self) -> String {
        format!("{:.0} | {:.2} | {:.2}", self.rps, self.p50_ms, self.p99_ms)
    }

    /// Table cells: server and PostgreSQL CPU per request, peak RSS, errors.
    fn cost_cells(&self) -> String {
        format!(
            "{:.0} | {:.0} | {:.1} | {}",
            self.server_cpu_us.unwrap_or(0.0),
            self.pg_cpu_us.unwrap_or(0.0),
            self.rss_mb.unwrap_or(0.0),
            self.errors
        )
    }
}

pub(crate) fn run(sh: &Shell, options: Options) -> Result<()> {
    let Options {
        timing,
        peer,
        chart,
        suite,
        binary,
    } = options;
    let binary = server_binary(sh, binary)?;
    match suite {
        Suite::Sqlite => return sqlite::run(sh, timing, &binary),
        Suite::Search(orders) => return search::run(sh, timing, &binary, orders),
        Suite::Postgres => {}
    }
    let started = Instant::now();
    let wrk = ensure_wrk(sh)?;
    let pgbench = find_pgbench()?;
    let database = postgres::ensure(sh)?;
    let url = fresh_database(sh, database.url(), "ordo_bench")?;
    // pgbench and the peer read ordo's tables in its schema.
    let tables = postgres::tables_url(&url);
    let out = crate::target_dir(sh).join("bench");
    std::fs::create_dir_all(&out)?;

    // More inserts at once than the server's pool: commits share their WAL flushes.
    let flags = ["--concurrency", "32", "--db-max-connections", "32"];
    seed(
        &binary,
        ORDERS,
        CUSTOMERS,
        &[&flags[..], &["--database-url", &url]].concat(),
    )?;
    let _ = psql(sh, &url, "VACUUM ANALYZE");

    let mut server = Server::start(
        &binary,
        SECRET,
        &["--database-url", &url],
        &out.join("server.log"),
    )?;
    let token = launch::mint_admin_token(&binary, SECRET, "bench")?;
    let lua = sh.current_dir().join("bench/wrk");
    let scripts = sh.current_dir().join("bench/pgbench");
    let drive = Drive {
        wrk: &wrk,
        lua: &lua,
        token: &token,
        address: server.address,
        timing,
        orders: ORDERS,
        customers: CUSTOMERS,
        target: "ordo",
    };

    let Measured {
        mut rows,
        table,
        search,
        same_sql,
        ceiling,
        by_sku,
    } = measure(&drive, server.pid(), &pgbench, &scripts, &tables, timing)?;
    let peak_rss = peak_rss(&table, &ceiling);
    server.stop();

    let peer_table = if peer {
        // The index the peer's list query needs (ordo's is partial, on live orders, which the
        // peer's generated query cannot use). Made after ordo's cells, so they never pay for it.
        psql(sh, &tables, PEER_INDEX)?;
        // The peer finds ordo's schema through PGOPTIONS (peer.rs).
        let peer = Peer::start(sh, &out, &url)?;
        let drive = Drive {
            address: peer.address,
            target: "peer",
            ..drive
        };
        measure_peer(&drive, peer.pid(), &table, &mut rows)?
    } else {
        Vec::new()
    };

    let mut report = render(&table, &same_sql, &ceiling, peak_rss, timing);
    report.push_str(&report::render_search(&search));
    report.push_str(&report::render_by_sku(&by_sku));
    if !peer_table.is_empty() {
        report.push_str(&render_peer(&peer_table));
    }
    #[allow(clippy::print_stdout, reason = "the table is the task's output")]
    {
        println!("{report}");
    }
    std::fs::write(
        out.join("latest.json"),
        serde_json::to_string_pretty(&rows)?,
    )?;
    std::fs::write(out.join("latest.md"), &report)?;
    if chart {
        chart::write(&rows, &WORKLOADS, &out.join("latest.svg"))?;
        say("drew target/bench/latest.svg");
    }
    say(&format!(
        "wrote target/bench/latest.json and target/bench/latest.md in {:.0?}",
        started.elapsed()
    ));
    let _ = psql(
        sh,
        database.url(),
        "DROP DATABASE IF EXISTS ordo_bench WITH (FORCE)",
    );
    Ok(())
}

/// The server's largest RSS over every cell.
fn peak_rss(
    table: &[(String, u32, Figures, Figures, f64)],
    ceiling: &[(u32, Figures)],
) -> Option<f64> {
    table
        .iter()
        .filter_map(|(_, _, ordo, _, _)| ordo.rss_mb)
        .chain(ceiling.iter().filter_map(|(_, figures)| figures.rss_mb))
        .reduce(f64::max)
}

/// `ordo seed` of `orders` over `customers`, with `args` (where, and how).
fn seed(binary: &Path, orders: u64, customers: u64, args: &[&str]) -> Result<()> {
    say(&format!(
        "seeding {orders} orders over {customers} customers"
    ));
    let seeded = Command::new(binary)
        .args(["seed", "--orders", &orders.to_string()])
        .args(["--customers", &customers.to_string()])
        .args(args)
        .status()?;
    if !seeded.success() {
        bail!("ordo seed failed");
    }
    Ok(())
}

/// `binary`, or the workspace's release build.
fn server_binary(sh: &Shell, binary: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(binary) = binary {
        return Ok(binary);
    }
    cmd!(sh, "cargo build --release --locked --bin ordo").run()?;
    Ok(crate::target_dir(sh).join("release/ordo"))
}

/// Everything one run measured.
struct Measured {
    rows: Vec<Value>,
    table: Vec<(String, u32, Figures, Figures, f64)>,
    /// Staff search (`bench/wrk/search.lua`), which has no one statement to run beside it.
    search: Vec<(u32, Figures)>,
    same_sql: Vec<(u32, Figures)>,
    ceiling: Vec<(u32, Figures)>,
    /// Create with its prices given, then by SKU, back to back at each concurrency.
    by_sku: Vec<(u32, Figures, Figures)>,
}

/// Every workload at every concurrency against ordo and pgbench, then the create as ordo
/// sends it and the `/healthz` ceiling.
fn measure(
    drive: &Drive<'_>,
    pid: u32,
    pgbench: &Path,
    scripts: &Path,
    url: &str,
    timing: Timing,
) -> Result<Measured> {
    let mut rows = Vec::new();
    let mut table = Vec::new();
    // Staff search first, over the seeded orders only: the pgbench baselines below insert rows
    // that are not ordo's orders (ids that are not UUIDv7), which a search over every
    // customer's orders would read.
    let mut search = Vec::new();
    for concurrency in [8, 32] {
        let figures = drive.wrk("search", concurrency, Some(pid))?;
        say(&format!(
            "search c={concurrency:<3} ordo {:>8.0}/s p50 {:>6.2} ms p99 {:>6.2} ms",
            figures.rps, figures.p50_ms, figures.p99_ms
        ));
        rows.push(row("search", concurrency, &figures, None));
        search.push((concurrency, figures));
    }
    for workload in WORKLOADS {
        for concurrency in CONCURRENCY {
            let ordo = drive.wrk(workload, concurrency, Some(pid))?;
            let baseline_script = match workload {
                "create" => vec![("create_one.sql", 1)],
                "mix" => vec![("get.sql", 4), ("list.sql", 4), ("create.sql", 2)],
                other => vec![(
                    if other == "get" {
                        "get.sql"
                    } else {
                        "list.sql"
                    },
                    1,
                )],
            };
            let base = pgbench_run(pgbench, scripts, &baseline_script, url, concurrency, timing)?;
            let ratio = ordo.rps / base.rps;
            say(&format!(
                "{workload:>6} c={concurrency:<3} ordo {:>8.0}/s p50 {:>6.2} ms p99 {:>6.2} ms | pgbench {:>8.0}/s | ratio {ratio:.2}",
                ordo.rps, ordo.p50_ms, ordo.p99_ms, base.rps
            ));
            rows.push(row(workload, concurrency, &ordo, Some(ratio)));
            rows.push(row(
                &format!("pgbench:{workload}"),
                concurrency,
                &base,
                None,
            ));
            table.push((workload.to_owned(), concurrency, ordo, base, ratio));
        }
    }
    // Create by SKU, each beside a create with the prices (and the same line snapshots) given,
    // run just before it: the two write the same, so only where the prices come from differs.
    let mut by_sku = Vec::new();
    for concurrency in CONCURRENCY {
        let given = drive.wrk("create-given", concurrency, Some(pid))?;
        let sku = drive.wrk("create-sku", concurrency, Some(pid))?;
        say(&format!(
            "create c={concurrency:<3} given {:>8.0}/s | by SKU {:>8.0}/s p99 {:>6.2} ms | by SKU costs {:+.1} %",
            given.rps,
            sku.rps,
            sku.p99_ms,
            (given.rps / sku.rps - 1.0) * 100.0
        ));
        rows.push(row("create-sku", concurrency, &sku, None));
        by_sku.push((concurrency, given, sku));
    }
    // The create as ordo sends it today, statement for statement, for the record.
    let mut same_sql = Vec::new();
    for concurrency in CONCURRENCY {
        let figures = pgbench_run(
            pgbench,
            scripts,
            &[("create.sql", 1)],
            url,
            concurrency,
            timing,
        )?;
        rows.push(row("pgbench:create-as-sent", concurrency, &figures, None));
        same_sql.push((concurrency, figures));
    }
    let mut ceiling = Vec::new();
    for concurrency in CONCURRENCY {
        let figures = drive.wrk("healthz", concurrency, Some(pid))?;
        rows.push(row("healthz", concurrency, &figures, None));
        ceiling.push((concurrency, figures));
    }
    Ok(Measured {
        rows,
        table,
        search,
        same_sql,
        ceiling,
        by_sku,
    })
}

/// Every workload at every concurrency against the peer; adds its rows and each ordo row's
/// `ratio_vs_peer`. Returns (workload, clients, peer's figures, ordo ÷ peer).
fn measure_peer(
    drive: &Drive<'_>,
    pid: u32,
    table: &[(String, u32, Figures, Figures, f64)],
    rows: &mut Vec<Value>,
) -> Result<Vec<(String, u32, Figures, f64)>> {
    // Node's JIT needs longer than a cell's warm-up to reach its steady speed.
    for workload in WORKLOADS {
        let script = drive.lua.join(format!("{workload}.lua"));
        let _ = drive.once(&script, 8, PEER_WARM_UP_SECONDS)?;
    }
    let mut measured = Vec::new();
    for (workload, concurrency, ordo, _, _) in table {
        let peer = drive.wrk(workload, *concurrency, Some(pid))?;
        let ratio = ordo.rps / peer.rps;
        say(&format!(
            "{workload:>6} c={concurrency:<3} peer {:>8.0}/s p50 {:>6.2} ms p99 {:>6.2} ms | ordo ÷ peer {ratio:.2}",
            peer.rps, peer.p50_ms, peer.p99_ms
        ));
        for row in rows.iter_mut() {
            if row["workload"] == workload.as_str() && row["concurrency"] == *concurrency {
                row["ratio_vs_peer"] = json!(round2(ratio));
            }
        }
        rows.push(row(&format!("peer:{workload}"), *concurrency, &peer, None));
        measured.push((workload.clone(), *concurrency, peer, ratio));
    }
    Ok(measured)
}

fn row(workload: &str, concurrency: u32, figures: &Figures, ratio: Option<f64>) -> Value {
    json!({
        "workload": workload,
        "concurrency": concurrency,
        "rps": round2(figures.rps),
        "p50_ms": round2(figures.p50_ms),
        "p99_ms": round2(figures.p99_ms),
        "ratio_vs_pgbench": ratio.map(round2),
        "rss_mb": figures.rss_mb.map(round2),
        "server_cpu_us_per_request": figures.server_cpu_us.map(round2),
        "pg_cpu_us_per_request": figures.pg_cpu_us.map(round2),
        "errors": figures.errors,
    })
}

pub(super) fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
