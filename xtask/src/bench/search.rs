//! `cargo xtask bench --search`: staff search on a big table. The release server on a fresh
//! PostgreSQL database seeded by `ordo seed` (realistic contacts, addresses, lines and tags),
//! driven by wrk with `bench/wrk/search.lua`, a mix of the list's filters and `q` as support
//! staff send them, at 8 and 32 clients; the customer list and a get alongside, for scale.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use xshell::Shell;

use super::pgbench::{fresh_database, psql};
use super::wrk::{Drive, ensure_wrk};
use super::{Figures, SECRET, Timing, seed};
use crate::launch::{self, Server};
use crate::{postgres, say};

/// One customer for every ten orders, as in the main bench.
const ORDERS_PER_CUSTOMER: u64 = 10;

/// (workload, clients) measured.
const CELLS: [(&str, u32); 6] = [
    ("search", 8),
    ("search", 32),
    ("list", 8),
    ("list", 32),
    ("get", 8),
    ("get", 32),
];

pub(super) fn run(sh: &Shell, timing: Timing, binary: &Path, orders: u64) -> Result<()> {
    let started = Instant::now();
    let wrk = ensure_wrk(sh)?;
    let database = postgres::ensure(sh)?;
    let url = fresh_database(sh, database.url(), "ordo_search")?;
    let customers = (orders / ORDERS_PER_CUSTOMER).max(1);
    let flags = ["--concurrency", "32", "--db-max-connections", "32"];
    let seeding = Instant::now();
    seed(
        binary,
        orders,
        customers,
        &[&flags[..], &["--database-url", &url]].concat(),
    )?;
    let seeded = seeding.elapsed();
    let _ = psql(sh, &url, "VACUUM ANALYZE");
    let out = crate::target_dir(sh).join("bench");
    std::fs::create_dir_all(&out)?;
    let mut server = Server::start(
        binary,
        SECRET,
        &["--database-url", &url],
        &out.join("search-server.log"),
    )?;
    let token = launch::mint_admin_token(binary, SECRET, "bench")?;
    let lua = sh.current_dir().join("bench/wrk");
    let drive = Drive {
        wrk: &wrk,
        lua: &lua,
        token: &token,
        address: server.address,
        timing,
        orders,
        customers,
        target: "ordo",
    };
    let mut report = format!(
        "# Staff search on PostgreSQL\n\n{orders} orders over {customers} customers, seeded by \
         `ordo seed` in {seeded:.0?}; median of {} round(s) of {} s after a {} s warm-up; wrk \
         pinned to CPU 1, server and PostgreSQL unpinned. `search` is the mix of \
         `bench/wrk/search.lua` (email, `q` by name, by part of an email and by a whole \
         email, tag, SKU with status, payment status, channel with tag, total range), as a \
         staff token over every customer's orders; `list` a customer's first page; `get` one order.\n\n\
         | workload | clients | req/s | p50 ms | p99 ms | server CPU µs/req | PostgreSQL CPU µs/req | RSS MB | errors |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        timing.rounds, timing.round, timing.warm_up
    );
    for (workload, clients) in CELLS {
        let figures: Figures = drive.wrk(workload, clients, Some(server.pid()))?;
        let line = format!(
            "| {workload} | {clients} | {} | {} |",
            figures.speed_cells(),
            figures.cost_cells()
        );
        say(&line);
        report.push_str(&line);
        report.push('\n');
    }
    server.stop();
    std::fs::write(out.join("search.md"), &report)?;
    say(&format!(
        "wrote target/bench/search.md in {:.0?}",
        started.elapsed()
    ));
    let _ = psql(
        sh,
        database.url(),
        "DROP DATABASE IF EXISTS ordo_search WITH (FORCE)",
    );
    Ok(())
}
