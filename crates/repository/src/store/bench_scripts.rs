//! `cargo xtask bench` compares ordo with pgbench running "the SQL ordo sends": these tests keep
//! `bench/pgbench/` from drifting away from PostgreSQL's statements.

use super::super::ledger::REMEMBER;
use super::super::orders::{UPDATE_ORDER, select_order};
use super::super::rates::RATES;
use super::{INSERT_ORDER, UPDATE_ORDER_AUDITED};

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn script(name: &str) -> String {
    let path = format!("{}/../../bench/pgbench/{name}", env!("CARGO_MANIFEST_DIR"));
    words(&std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}")))
}

#[test]
fn reads_run_the_select_the_store_sends() {
    let select = words(select_order!());
    for name in ["get.sql", "list.sql"] {
        assert!(
            script(name).contains(&select),
            "{name} differs from select_order!"
        );
    }
    assert!(script("get.sql").contains("WHERE o.id = "));
    let order_by = words("ORDER BY o.created_at DESC, o.id DESC LIMIT");
    assert!(script("list.sql").contains(&order_by));
}

#[test]
fn creates_insert_as_the_store_does() {
    let columns = words(concat!(
        "INSERT INTO orders (",
        super::super::rows::order_columns!(),
        ")"
    ));
    assert!(
        words(INSERT_ORDER).contains(&columns),
        "the check itself is stale"
    );
    for name in ["create.sql", "create_one.sql"] {
        assert!(
            script(name).contains(&columns),
            "{name} differs from INSERT_ORDER"
        );
    }
    let ledger = words(
        "ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
         RETURNING idempotency_key, operation, order_id, amount, outcome, reference, created_at",
    );
    assert!(
        words(REMEMBER).contains(&ledger),
        "the check itself is stale"
    );
    assert!(script("create.sql").contains(&ledger));
    let update = words("WHERE id = $5 AND version = $6 AND deleted_at IS NULL");
    assert!(
        words(UPDATE_ORDER).contains(&update),
        "the check itself is stale"
    );
    assert!(script("create.sql").contains("AND version = 1 AND deleted_at IS NULL"));
    let document = words("email_key = $15, channel = $16, document = $17");
    assert!(
        words(UPDATE_ORDER).contains(&document),
        "the check itself is stale"
    );
    assert!(
        script("create.sql")
            .contains("email_key = 'ada@example.com', channel = 'web', document = '")
    );
    let audited = words(
        "WITH attempt AS (
             INSERT INTO payment_attempts (id, order_id, operation, amount, outcome, reference, created_at)",
    );
    assert!(
        words(UPDATE_ORDER_AUDITED).contains(&audited),
        "the check itself is stale"
    );
    assert!(script("create.sql").contains(&audited));
    // Every create reads the shop's rates first, in one statement.
    assert!(script("create.sql").contains(&words(RATES)));
}

#[test]
fn creates_record_their_events_as_the_store_does() {
    let insert = words(concat!(
        "INSERT INTO order_events (",
        super::super::events::event_columns!(),
        ")"
    ));
    let chained = words(&super::chain_event(1));
    assert!(chained.contains(&insert), "the check itself is stale");
    let link = words("COALESCE(prev.chain, 0) + 1, prev.hash,");
    assert!(chained.contains(&link), "the check itself is stale");
    let create = script("create.sql");
    // Both writes of a create carry their event in the same statement, chained.
    assert_eq!(create.matches(&insert).count(), 2);
    assert_eq!(create.matches(&link).count(), 2);
    assert_eq!(
        create
            .matches("FROM changed LEFT JOIN prev ON true")
            .count(),
        2
    );
    assert!(script("create_one.sql").contains(&insert));
}
