//! pgbench on the same database: PostgreSQL's own limit for the same SQL.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use xshell::{Shell, cmd};

use super::wrk::median;
use super::{CUSTOMERS, Figures, ORDERS, Timing};

/// pgbench with `scripts` (file, weight) at `concurrency` clients, one thread, prepared
/// statements: median round by rate, with latency percentiles from its per-transaction log.
pub(super) fn pgbench_run(
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

/// pgbench: on the PATH or beside the server's programs (it ships with PostgreSQL).
pub(super) fn find_pgbench() -> Result<PathBuf> {
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
pub(crate) fn fresh_database(sh: &Shell, url: &str, name: &str) -> Result<String> {
    psql(
        sh,
        url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )?;
    psql(sh, url, &format!("CREATE DATABASE {name}"))?;
    let (base, _) = url.rsplit_once('/').unwrap_or((url, ""));
    Ok(format!("{base}/{name}"))
}

pub(super) fn psql(sh: &Shell, url: &str, sql: &str) -> Result<()> {
    cmd!(sh, "psql {url} -v ON_ERROR_STOP=1 -qc {sql}")
        .quiet()
        .run()
        .with_context(|| format!("psql: {sql}"))
}
