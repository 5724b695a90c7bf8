//! `cargo xtask bench --shapes`: how an order's lines are best stored, measured on
//! PostgreSQL before the order record grows (issue 16). The same seeded orders in two shapes,
//! read by the same pgbench harness side by side at each client count:
//!
//! - **table** (today): lines in `order_items`, gathered per order with `array_agg` in a
//!   lateral join (`bench/pgbench/get.sql`, `list.sql`);
//! - **document**: the lines as a JSONB array in the order's own row, amounts as strings, with
//!   only what is filtered on as columns (`bench/shapes/get_doc.sql`, `list_doc.sql`);
//! - and, for a list page, **no lines at all**: the floor any shape pays (`list_bare.sql`).
//!
//! pgbench runs pinned to CPU 1 as in the main bench, so at 8 and 32 clients PostgreSQL is the
//! limit and requests per second compare what each shape costs it. The server's own decoding
//! (arrays or JSON) is not in these figures.

use std::path::Path;

use anyhow::Result;
use xshell::Shell;

use super::pgbench::{find_pgbench, fresh_database, pgbench_run, psql};
use super::{CUSTOMERS, Figures, ORDERS, Timing, seed};
use crate::{postgres, say};

/// The document shape, built from the seeded tables: every column of `orders`, and the lines
/// as `[{product_id, quantity, unit_price, line_total}]` in position order.
const BUILD_DOCUMENTS: &str = "
CREATE TABLE orders_doc AS
SELECT o.*,
       (SELECT jsonb_agg(jsonb_build_object(
                   'product_id', i.product_id, 'quantity', i.quantity,
                   'unit_price', CAST(i.unit_price AS text),
                   'line_total', CAST(i.line_total AS text)) ORDER BY i.position)
        FROM order_items i WHERE i.order_id = o.id) AS lines
FROM orders o;
ALTER TABLE orders_doc ADD PRIMARY KEY (id);
CREATE INDEX orders_doc_customer_created_idx ON orders_doc (customer_id, created_at, id)
    WHERE deleted_at IS NULL;";

/// Client counts: one (latency), then PostgreSQL saturated.
const CLIENTS: [u32; 3] = [1, 8, 32];

/// The comparisons: (workload, [(shape, script)]).
const CELLS: [(&str, &[(&str, &str)]); 2] = [
    (
        "get",
        &[
            ("table", "pgbench/get.sql"),
            ("document", "shapes/get_doc.sql"),
        ],
    ),
    (
        "list",
        &[
            ("table", "pgbench/list.sql"),
            ("document", "shapes/list_doc.sql"),
            ("no lines", "shapes/list_bare.sql"),
        ],
    ),
];

pub(super) fn run(sh: &Shell, timing: Timing, binary: &Path) -> Result<()> {
    let pgbench = find_pgbench()?;
    let database = postgres::ensure(sh)?;
    let url = fresh_database(sh, database.url(), "ordo_shapes")?;
    let tables = postgres::tables_url(&url);
    let flags = ["--concurrency", "32", "--db-max-connections", "32"];
    seed(
        binary,
        ORDERS,
        CUSTOMERS,
        &[&flags[..], &["--database-url", &url]].concat(),
    )?;
    psql(sh, &tables, BUILD_DOCUMENTS)?;
    psql(sh, &tables, "VACUUM ANALYZE")?;
    let sizes = sh
        .cmd("psql")
        .arg(&tables)
        .arg("-Atc")
        .arg(
            "SELECT pg_size_pretty(pg_total_relation_size('orders') + \
             pg_total_relation_size('order_items')) || ' / ' || \
             pg_size_pretty(pg_total_relation_size('orders_doc'))",
        )
        .read()?;
    let dir = sh.current_dir().join("bench");
    let mut report = format!(
        "# Order shapes on PostgreSQL\n\n{ORDERS} seeded orders over {CUSTOMERS} customers; \
         tables and indexes: lines table {sizes} document.\n\n\
         | workload | clients | shape | req/s | p50 ms | p99 ms | vs table |\n\
         |---|---|---|---|---|---|---|\n"
    );
    for (workload, shapes) in CELLS {
        for clients in CLIENTS {
            let mut table_rps = None;
            for (shape, script) in shapes {
                let figures: Figures =
                    pgbench_run(&pgbench, &dir, &[(script, 1)], &tables, clients, timing)?;
                let base = *table_rps.get_or_insert(figures.rps);
                let line = format!(
                    "| {workload} | {clients} | {shape} | {:.0} | {:.2} | {:.2} | {:.2}× |",
                    figures.rps,
                    figures.p50_ms,
                    figures.p99_ms,
                    figures.rps / base
                );
                say(&line);
                report.push_str(&line);
                report.push('\n');
            }
        }
    }
    let out = crate::target_dir(sh).join("bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("shapes.md"), &report)?;
    say("wrote target/bench/shapes.md");
    let _ = psql(
        sh,
        database.url(),
        "DROP DATABASE IF EXISTS ordo_shapes WITH (FORCE)",
    );
    Ok(())
}
