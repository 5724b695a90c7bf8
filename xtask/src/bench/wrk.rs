//! wrk drives the server: one run, its figures, the median of rounds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use xshell::{Shell, cmd};

use super::process::{cpu_seconds, peak_rss_mb, postgres_cpu, postgres_cpu_since};
use super::{Figures, Timing};
use crate::say;

/// What drives the server.
#[derive(Clone, Copy)]
pub(super) struct Drive<'a> {
    pub(super) wrk: &'a Path,
    pub(super) lua: &'a Path,
    pub(super) token: &'a str,
    pub(super) address: SocketAddr,
    pub(super) timing: Timing,
    /// The seeded data set: how many orders and customers.
    pub(super) orders: u64,
    pub(super) customers: u64,
    /// `ordo` or `peer`: which routes the Lua scripts use.
    pub(super) target: &'a str,
}

impl Drive<'_> {
    /// A warm-up, then the rounds; the round with the median rate, with the CPU the server
    /// and PostgreSQL spent per request over all rounds, and the server's peak RSS.
    pub(super) fn wrk(
        &self,
        workload: &str,
        concurrency: u32,
        pid: Option<u32>,
    ) -> Result<Figures> {
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
    pub(super) fn once(
        &self,
        script: &Path,
        concurrency: u32,
        seconds: u32,
    ) -> Result<(Figures, f64)> {
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
            .env("ORDO_BENCH_ORDERS", self.orders.to_string())
            .env("ORDO_BENCH_CUSTOMERS", self.customers.to_string())
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
pub(super) fn median(mut rounds: Vec<Figures>) -> Figures {
    rounds.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    let middle = rounds.len() / 2;
    rounds.swap_remove(middle)
}

/// wrk, installed from Debian's packages when missing.
pub(super) fn ensure_wrk(sh: &Shell) -> Result<PathBuf> {
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
