//! The Markdown tables of a run.

use std::fmt::Write as _;

use super::{CUSTOMERS, Figures, ORDERS, Timing};

/// The Markdown table of the run.
pub(super) fn render(
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

/// Staff search's table: a mix of filters over every customer's orders (`bench/wrk/search.lua`;
/// `cargo xtask bench --search` runs it on a million orders).
pub(super) fn render_search(search: &[(u32, Figures)]) -> String {
    let mut out = String::from(
        "\nStaff search (`bench/wrk/search.lua`: email, `q`, tag, SKU, status, payment status, \
         channel and total filters mixed, a staff token over every customer's orders):\n\n\
         | clients | req/s | p50 ms | p99 ms | server CPU µs/req | PostgreSQL CPU µs/req | RSS MB | errors |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for (concurrency, figures) in search {
        let _ = writeln!(
            out,
            "| {concurrency} | {} | {} |",
            figures.speed_cells(),
            figures.cost_cells()
        );
    }
    out
}

/// Create by SKU beside create with its prices given, each pair measured back to back.
pub(super) fn render_by_sku(pairs: &[(u32, Figures, Figures)]) -> String {
    let mut out = String::from(
        "\nCreate by SKU (`bench/wrk/create-sku.lua`: the three lines of `create.lua` named by \
         SKU and priced from the book `ordo seed` stocks, so the same total) beside create with \
         the prices and the same line snapshots given (`create-given.lua`, so the same writes), \
         each pair run back to back; the cost of pricing from the book:\n\n\
         | clients | given req/s | by SKU req/s | by SKU p50 ms | by SKU p99 ms | by SKU server CPU µs/req | by SKU PostgreSQL CPU µs/req | RSS MB | by SKU errors | extra time per create |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (concurrency, given, by_sku) in pairs {
        let extra = (given.rps / by_sku.rps - 1.0) * 100.0;
        let _ = writeln!(
            out,
            "| {concurrency} | {:.0} | {} | {} | {extra:+.1} % |",
            given.rps,
            by_sku.speed_cells(),
            by_sku.cost_cells(),
        );
    }
    out
}

/// The peer's table: its figures and ordo ÷ peer.
pub(super) fn render_peer(table: &[(String, u32, Figures, f64)]) -> String {
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

#[cfg(test)]
mod tests {
    use super::super::{Figures, Timing};
    use super::{render, render_peer};

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
