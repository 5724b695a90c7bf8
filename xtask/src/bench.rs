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

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use xshell::{Shell, cmd};

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

/// What `cargo xtask bench` was asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
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
struct Figures {
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
    } = options;
    let started = Instant::now();
    let wrk = ensure_wrk(sh)?;
    let pgbench = find_pgbench()?;
    let database = postgres::ensure(sh)?;
    let url = fresh_database(sh, database.url(), "ordo_bench")?;
    cmd!(sh, "cargo build --release --locked --bin ordo").run()?;
    let binary = crate::target_dir(sh).join("release/ordo");
    let out = crate::target_dir(sh).join("bench");
    std::fs::create_dir_all(&out)?;

    say(&format!(
        "seeding {ORDERS} orders over {CUSTOMERS} customers"
    ));
    let seeded = Command::new(&binary)
        .args(["seed", "--orders", &ORDERS.to_string(), "--customers"])
        .arg(CUSTOMERS.to_string())
        // More inserts at once than the server's pool: commits share their WAL flushes.
        .args(["--concurrency", "32", "--db-max-connections", "32"])
        .args(["--database-url", &url])
        .status()?;
    if !seeded.success() {
        bail!("ordo seed failed");
    }
    let _ = psql(sh, &url, "VACUUM ANALYZE");

    let mut server = Server::start(&binary, &url, &out.join("server.log"))?;
    let token = launch::mint_admin_token(&binary, SECRET, "bench")?;
    let lua = sh.current_dir().join("bench/wrk");
    let scripts = sh.current_dir().join("bench/pgbench");
    let drive = Drive {
        wrk: &wrk,
        lua: &lua,
        token: &token,
        address: server.address,
        timing,
        target: "ordo",
    };

    let Measured {
        mut rows,
        table,
        same_sql,
        ceiling,
    } = measure(&drive, server.pid(), &pgbench, &scripts, &url, timing)?;
    let peak_rss = table
        .iter()
        .filter_map(|(_, _, ordo, _, _)| ordo.rss_mb)
        .chain(ceiling.iter().filter_map(|(_, figures)| figures.rss_mb))
        .reduce(f64::max);
    server.stop();

    let peer_table = if peer {
        // The index the peer's list query needs (ordo's is partial, on live orders, which the
        // peer's generated query cannot use). Made after ordo's cells, so they never pay for it.
        psql(sh, &url, PEER_INDEX)?;
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

/// Everything one run measured.
struct Measured {
    rows: Vec<Value>,
    table: Vec<(String, u32, Figures, Figures, f64)>,
    same_sql: Vec<(u32, Figures)>,
    ceiling: Vec<(u32, Figures)>,
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
        same_sql,
        ceiling,
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

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The Markdown table of the run.
fn render(
    table: &[(String, u32, Figures, Figures, f64)],
    same_sql: &[(u32, Figures)],
    ceiling: &[(u32, Figures)],
    peak_rss: Option<f64>,
    timing: Timing,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ordo vs pgbench on the same PostgreSQL database ({ORDERS} orders, {CUSTOMERS} customers); \
         median of {} round(s) of {} s after a {} s warm-up.\n\
         wrk and pgbench -j1 pinned to CPU 1; server and PostgreSQL unpinned. Absolute figures \
         vary from machine to machine: compare the ratios.\n",
        timing.rounds, timing.round, timing.warm_up
    );
    let _ = writeln!(
        out,
        "| workload | clients | ordo req/s | p50 ms | p99 ms | pgbench tx/s | ordo ÷ pgbench | server CPU µs/req | PostgreSQL CPU µs/req | RSS MB | errors |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for (workload, concurrency, ordo, base, ratio) in table {
        let _ = writeln!(
            out,
            "| {workload} | {concurrency} | {} | {:.0} | {ratio:.2} | {} |",
            ordo.speed_cells(),
            base.rps,
            ordo.cost_cells(),
        );
    }
    let _ = writeln!(
        out,
        "\nBaselines: create ÷ `create_one.sql` (the order and its items in one statement); get, list ÷ the same statement ordo sends; mix ÷ pgbench with the same 40/40/20 weights over the SQL ordo sends.\n"
    );
    let _ = writeln!(
        out,
        "| clients | pgbench create as ordo sends it (tx/s) | p99 ms | /healthz req/s | p99 ms |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for ((concurrency, sent), (_, health)) in same_sql.iter().zip(ceiling) {
        let _ = writeln!(
            out,
            "| {concurrency} | {:.0} | {:.2} | {:.0} | {:.2} |",
            sent.rps, sent.p99_ms, health.rps, health.p99_ms
        );
    }
    if let Some(peak) = peak_rss {
        let _ = writeln!(out, "\nServer peak RSS over the whole run: {peak:.1} MB");
    }
    out
}

/// The peer's table: its figures and ordo ÷ peer.
fn render_peer(table: &[(String, u32, Figures, f64)]) -> String {
    let mut out = String::from(
        "\nThe peer, Platformatic DB 2.61 on the same database (generated routes for get and \
         list, which return the order row without its items, list with an index on \
         (customer_id, created_at) made for it; `bench/peer/plugin.js` for create, the order and \
         its items in one transaction, no payment; no authentication; each workload run 3 s to \
         warm Node's JIT first):\n\n\
         | workload | clients | peer req/s | p50 ms | p99 ms | peer CPU µs/req | PostgreSQL CPU µs/req | peer RSS MB | errors | ordo ÷ peer |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (workload, concurrency, peer, ratio) in table {
        let _ = writeln!(
            out,
            "| {workload} | {concurrency} | {} | {} | {ratio:.2} |",
            peer.speed_cells(),
            peer.cost_cells(),
        );
    }
    out
}

/// What drives the server.
#[derive(Clone, Copy)]
struct Drive<'a> {
    wrk: &'a Path,
    lua: &'a Path,
    token: &'a str,
    address: SocketAddr,
    timing: Timing,
    /// `ordo` or `peer`: which routes the Lua scripts use.
    target: &'a str,
}

impl Drive<'_> {
    /// A warm-up, then the rounds; the round with the median rate, with the CPU the server
    /// and PostgreSQL spent per request over all rounds, and the server's peak RSS.
    fn wrk(&self, workload: &str, concurrency: u32, pid: Option<u32>) -> Result<Figures> {
        let script = self.lua.join(format!("{workload}.lua"));
        let _ = self.once(&script, concurrency, self.timing.warm_up)?;
        if let Some(pid) = pid {
            // Resets the peak RSS, so each cell reports its own.
            let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        }
        let (server_before, pg_before) = (pid.map(cpu_seconds), postgres_cpu());
        let mut rounds = Vec::new();
        for _ in 0..self.timing.rounds {
            rounds.push(self.once(&script, concurrency, self.timing.round)?);
        }
        let requests: f64 = rounds.iter().map(|(_, count)| *count).sum();
        let mut figures = median(rounds.into_iter().map(|(figures, _)| figures).collect());
        figures.pg_cpu_us = Some(postgres_cpu_since(&pg_before) * 1e6 / requests.max(1.0));
        if let (Some(pid), Some(before)) = (pid, server_before) {
            figures.server_cpu_us = Some((cpu_seconds(pid) - before) * 1e6 / requests.max(1.0));
            figures.rss_mb = peak_rss_mb(pid);
        }
        Ok(figures)
    }

    /// One wrk run: its figures and how many requests it made.
    fn once(&self, script: &Path, concurrency: u32, seconds: u32) -> Result<(Figures, f64)> {
        let output = Command::new("taskset")
            .args(["-c", "1"])
            .arg(self.wrk)
            .args(["-t1", "--latency", "--timeout", "10s"])
            .arg(format!("-c{concurrency}"))
            .arg(format!("-d{seconds}s"))
            .arg("-s")
            .arg(script)
            .arg(format!("http://{}", self.address))
            .env("ORDO_BENCH_TOKEN", self.token)
            .env("ORDO_BENCH_ORDERS", ORDERS.to_string())
            .env("ORDO_BENCH_CUSTOMERS", CUSTOMERS.to_string())
            .env("ORDO_BENCH_LUA", self.lua)
            .env("ORDO_BENCH_TARGET", self.target)
            .output()
            .context("cannot run wrk")?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "wrk failed: {}{}",
                text,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        parse_wrk(&text)
    }
}

/// Requests/sec, the 50th and 99th percentiles, and non-2xx answers from wrk's report.
fn parse_wrk(text: &str) -> Result<(Figures, f64)> {
    let mut figures = Figures::default();
    let mut requests = 0.0;
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("50%"), Some(value)) => figures.p50_ms = millis(value)?,
            (Some("99%"), Some(value)) => figures.p99_ms = millis(value)?,
            (Some("Requests/sec:"), Some(value)) => figures.rps = value.parse()?,
            (Some(count), Some("requests")) => requests = count.parse()?,
            _ => {}
        }
        if let Some(count) = line.strip_prefix("Non-2xx or 3xx responses:") {
            figures.errors = count.trim().parse()?;
        }
        if let Some(rest) = line.strip_prefix("Socket errors:") {
            figures.errors += rest
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    if figures.rps == 0.0 {
        bail!("wrk reported no requests:\n{text}");
    }
    Ok((figures, requests))
}

fn millis(value: &str) -> Result<f64> {
    let (number, factor) = if let Some(n) = value.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000.0)
    } else {
        bail!("unknown latency unit in {value:?}");
    };
    Ok(number.parse::<f64>()? * factor)
}

/// The round with the median rate.
fn median(mut rounds: Vec<Figures>) -> Figures {
    rounds.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    let middle = rounds.len() / 2;
    rounds.swap_remove(middle)
}

/// pgbench with `scripts` (file, weight) at `concurrency` clients, one thread, prepared
/// statements: median round by rate, with latency percentiles from its per-transaction log.
fn pgbench_run(
    pgbench: &Path,
    dir: &Path,
    scripts: &[(&str, u32)],
    url: &str,
    concurrency: u32,
    timing: Timing,
) -> Result<Figures> {
    let logs = std::env::temp_dir().join(format!("ordo-pgbench-{}", std::process::id()));
    let once = |seconds: u32, log: bool| -> Result<Figures> {
        let _ = std::fs::remove_dir_all(&logs);
        std::fs::create_dir_all(&logs)?;
        let mut command = Command::new("taskset");
        command
            .args(["-c", "1"])
            .arg(pgbench)
            .args(["-n", "-M", "prepared", "-j", "1"])
            .arg(format!("-c{concurrency}"))
            .arg(format!("-T{seconds}"))
            .arg(format!("-Dorders={ORDERS}"))
            .arg(format!("-Dcustomers={CUSTOMERS}"));
        for (script, weight) in scripts {
            command
                .arg("-f")
                .arg(format!("{}@{weight}", dir.join(script).display()));
        }
        if log {
            command
                .arg("--log")
                .arg(format!("--log-prefix={}", logs.join("tx").display()));
        }
        let output = command.arg(url).output().context("cannot run pgbench")?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            bail!(
                "pgbench failed: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let mut figures = Figures::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("tps = ") {
                figures.rps = rest.split_whitespace().next().unwrap_or("0").parse()?;
            }
            if let Some(rest) = line.strip_prefix("number of failed transactions: ") {
                figures.errors = rest.split_whitespace().next().unwrap_or("0").parse()?;
            }
        }
        if log {
            let mut latencies = Vec::new();
            for entry in std::fs::read_dir(&logs)? {
                for line in std::fs::read_to_string(entry?.path())?.lines() {
                    if let Some(micros) = line.split_whitespace().nth(2) {
                        latencies.push(micros.parse::<f64>()? / 1000.0);
                    }
                }
            }
            latencies.sort_by(f64::total_cmp);
            figures.p50_ms = percentile(&latencies, 0.50);
            figures.p99_ms = percentile(&latencies, 0.99);
        }
        Ok(figures)
    };
    let _ = once(timing.warm_up, false)?;
    let mut rounds = Vec::new();
    for _ in 0..timing.rounds {
        rounds.push(once(timing.round, true)?);
    }
    let _ = std::fs::remove_dir_all(&logs);
    Ok(median(rounds))
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (fraction * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// CPU seconds (user and system) a process has used, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
            let ticks =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some(ticks / clock_ticks())
        })
        .unwrap_or(0.0)
}

/// CPU seconds of every PostgreSQL process (backends, WAL writer, checkpointer...), by pid.
fn postgres_cpu() -> std::collections::HashMap<u32, f64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return std::collections::HashMap::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .map(|pid| (pid, cpu_seconds(pid)))
        .collect()
}

/// CPU seconds PostgreSQL spent between two snapshots, counting only processes alive at
/// both (a backend that exits takes its figures with it).
fn postgres_cpu_since(before: &std::collections::HashMap<u32, f64>) -> f64 {
    postgres_cpu()
        .iter()
        .filter_map(|(pid, now)| Some(now - before.get(pid)?))
        .sum()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The peak resident set (`VmHWM`) of a process, in MB.
fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes / 1024.0)
}

/// The release server under test.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    fn start(binary: &Path, url: &str, log_path: &Path) -> Result<Self> {
        let address = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::fs::File::create(log_path)?;
        let child = Command::new(binary)
            .args([
                "serve",
                "--listen",
                &address.to_string(),
                "--database-url",
                url,
            ])
            .env("ORDO_JWT_SECRET", SECRET)
            .env_remove("DATABASE_URL")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start ordo serve")?;
        let mut server = Self { child, address };
        launch::wait_until_listening(
            &mut server.child,
            address,
            Duration::from_secs(30),
            log_path,
        )?;
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// wrk, installed from Debian's packages when missing.
fn ensure_wrk(sh: &Shell) -> Result<PathBuf> {
    if let Ok(path) = cmd!(sh, "which wrk").quiet().read() {
        return Ok(PathBuf::from(path.trim()));
    }
    say("installing wrk (apt-get install wrk)");
    cmd!(sh, "apt-get update -qq").run()?;
    cmd!(sh, "apt-get install -y -qq wrk")
        .run()
        .context("could not install wrk: install it from your distribution's packages")?;
    Ok(PathBuf::from("/usr/bin/wrk"))
}

/// pgbench: on the PATH or beside the server's programs (it ships with PostgreSQL).
fn find_pgbench() -> Result<PathBuf> {
    if let Ok(output) = Command::new("which").arg("pgbench").output()
        && output.status.success()
    {
        return Ok(PathBuf::from(
            String::from_utf8_lossy(&output.stdout).trim(),
        ));
    }
    let installed = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| Some(entry.ok()?.path().join("bin/pgbench")))
        .find(|path| path.exists());
    installed.context("pgbench not found: it ships with PostgreSQL's server package")
}

/// Drops and creates `name` on the server at `url`; its URL.
fn fresh_database(sh: &Shell, url: &str, name: &str) -> Result<String> {
    psql(
        sh,
        url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )?;
    psql(sh, url, &format!("CREATE DATABASE {name}"))?;
    let (base, _) = url.rsplit_once('/').unwrap_or((url, ""));
    Ok(format!("{base}/{name}"))
}

fn psql(sh: &Shell, url: &str, sql: &str) -> Result<()> {
    cmd!(sh, "psql {url} -v ON_ERROR_STOP=1 -qc {sql}")
        .quiet()
        .run()
        .with_context(|| format!("psql: {sql}"))
}

#[cfg(test)]
mod tests {
    use super::{Figures, Timing, render, render_peer};

    #[test]
    fn rows_carry_their_figures_and_ratios() {
        let peer = Figures {
            rps: 4139.4,
            p50_ms: 1.684,
            p99_ms: 4.68,
            errors: 0,
            server_cpu_us: Some(212.2),
            pg_cpu_us: Some(153.0),
            rss_mb: Some(169.71),
        };
        let table = render_peer(&[("get".to_owned(), 8, peer.clone(), 1.414)]);
        assert!(
            table.contains("| get | 8 | 4139 | 1.68 | 4.68 | 212 | 153 | 169.7 | 0 | 1.41 |\n"),
            "{table}"
        );
        let base = Figures {
            rps: 14818.0,
            ..Figures::default()
        };
        let ordo = render(
            &[("get".to_owned(), 8, peer, base, 0.279)],
            &[],
            &[],
            Some(39.4),
            Timing::FULL,
        );
        assert!(
            ordo.contains(
                "| get | 8 | 4139 | 1.68 | 4.68 | 14818 | 0.28 | 212 | 153 | 169.7 | 0 |\n"
            ),
            "{ordo}"
        );
        assert!(ordo.contains("compare the ratios"));
    }
}
