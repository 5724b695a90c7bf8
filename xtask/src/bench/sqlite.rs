//! `cargo xtask bench --sqlite`: the embedded default. The release server on an SQLite file
//! with 20k seeded orders, driven by wrk, against SQLite's own limit: the statements the
//! SQLite store sends, run directly on a copy of the same file by one thread with ordo's
//! settings (`bench/sqlite/baseline.py`: WAL, `synchronous = FULL`, one transaction per
//! create). The ratio says how much of SQLite's speed ordo's HTTP, pricing, payment flow and
//! writer keep.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use serde_json::json;
use xshell::Shell;

use super::wrk::{Drive, ensure_wrk, median};
use super::{Figures, SECRET, Timing, round2, seed};
use crate::launch::Server;
use crate::{launch, say};

const ORDERS: u64 = 20_000;
const CUSTOMERS: u64 = 2_000;
const WORKLOADS: [&str; 3] = ["create", "get", "list"];
const CONCURRENCY: [u32; 3] = [1, 8, 32];

/// One cell: ordo's figures, SQLite's, and ordo ÷ SQLite.
type Cell = (&'static str, u32, Figures, Figures, f64);

pub(super) fn run(sh: &Shell, timing: Timing, binary: &Path) -> Result<()> {
    let started = Instant::now();
    let wrk = ensure_wrk(sh)?;
    let out = crate::target_dir(sh).join("bench/sqlite");
    let _ = std::fs::remove_dir_all(&out);
    let (data, copy) = (out.join("ordo"), out.join("baseline"));
    std::fs::create_dir_all(&copy)?;
    let data_dir = data.to_string_lossy().into_owned();
    seed(binary, ORDERS, CUSTOMERS, &["--data-dir", &data_dir])?;
    // The baseline starts from the same file; the seed's last connection has checkpointed it.
    for name in ["ordo.db", "ordo.db-wal"] {
        if data.join(name).exists() {
            std::fs::copy(data.join(name), copy.join(name))?;
        }
    }

    let mut server = Server::start(
        binary,
        SECRET,
        &["--data-dir", &data_dir],
        &out.join("server.log"),
    )?;
    let token = launch::mint_admin_token(binary, SECRET, "bench")?;
    let lua = sh.current_dir().join("bench/wrk");
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
    let mut measured = Vec::new();
    for workload in WORKLOADS {
        for concurrency in CONCURRENCY {
            measured.push((
                workload,
                concurrency,
                drive.wrk(workload, concurrency, None)?,
            ));
        }
    }
    server.stop();

    let script = sh.current_dir().join("bench/sqlite/baseline.py");
    let database = copy.join("ordo.db");
    let mut cells: Vec<Cell> = Vec::new();
    for workload in WORKLOADS {
        let base = baseline(&script, &database, workload, timing)?;
        for (_, concurrency, ordo) in measured.iter().filter(|(w, _, _)| *w == workload) {
            let ratio = ordo.rps / base.rps;
            say(&format!(
                "{workload:>6} c={concurrency:<3} ordo {:>7.0}/s p50 {:>7.2} ms p99 {:>7.2} ms | SQLite {:>7.0}/s | ratio {ratio:.2}",
                ordo.rps, ordo.p50_ms, ordo.p99_ms, base.rps
            ));
            cells.push((workload, *concurrency, ordo.clone(), base.clone(), ratio));
        }
    }
    let report = render(&cells, timing);
    #[allow(clippy::print_stdout, reason = "the table is the task's output")]
    {
        println!("{report}");
    }
    let rows: Vec<_> = cells
        .iter()
        .map(|(workload, concurrency, ordo, base, ratio)| {
            json!({
                "workload": workload,
                "concurrency": concurrency,
                "rps": round2(ordo.rps),
                "p50_ms": round2(ordo.p50_ms),
                "p99_ms": round2(ordo.p99_ms),
                "errors": ordo.errors,
                "sqlite_rps": round2(base.rps),
                "sqlite_p99_ms": round2(base.p99_ms),
                "ratio_vs_sqlite": round2(*ratio),
            })
        })
        .collect();
    let target = crate::target_dir(sh).join("bench");
    std::fs::write(
        target.join("sqlite.json"),
        serde_json::to_string_pretty(&rows)?,
    )?;
    std::fs::write(target.join("sqlite.md"), &report)?;
    say(&format!(
        "wrote target/bench/sqlite.json and target/bench/sqlite.md in {:.0?}",
        started.elapsed()
    ));
    Ok(())
}

/// The baseline's rounds for `workload`; the round with the median rate.
fn baseline(script: &Path, database: &Path, workload: &str, timing: Timing) -> Result<Figures> {
    let mut rounds = Vec::new();
    for _ in 0..timing.rounds {
        let output = Command::new("taskset")
            .args(["-c", "1", "python3"])
            .arg(script)
            .arg(database)
            .args([workload, &timing.round.to_string()])
            .args([ORDERS.to_string(), CUSTOMERS.to_string()])
            .output()
            .context("cannot run python3 bench/sqlite/baseline.py")?;
        if !output.status.success() {
            bail!(
                "the SQLite baseline failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let line: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        let figure = |name: &str| {
            line[name]
                .as_f64()
                .with_context(|| format!("the baseline printed no {name}"))
        };
        rounds.push(Figures {
            rps: figure("rps")?,
            p50_ms: figure("p50_ms")?,
            p99_ms: figure("p99_ms")?,
            ..Figures::default()
        });
    }
    Ok(median(rounds))
}

fn render(cells: &[Cell], timing: Timing) -> String {
    let mut out = String::from(
        "## ordo on SQLite against SQLite itself\n\n\
         SQLite: the same statements run directly by one thread (one transaction per create), \
         WAL, `synchronous = FULL`.\n\n\
         | workload | clients | ordo req/s | p50 ms | p99 ms | errors | SQLite ops/s | SQLite p99 ms | ordo ÷ SQLite |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for (workload, concurrency, ordo, base, ratio) in cells {
        let _ = writeln!(
            out,
            "| {workload} | {concurrency} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.2} | {ratio:.2} |",
            ordo.rps, ordo.p50_ms, ordo.p99_ms, ordo.errors, base.rps, base.p99_ms
        );
    }
    let _ = writeln!(
        out,
        "\n{} round(s) of {} s per cell, the median reported.",
        timing.rounds, timing.round
    );
    out
}
