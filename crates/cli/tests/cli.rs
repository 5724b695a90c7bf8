//! The `ordo` binary as a user runs it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test code"
)]

use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn ordo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("ORDO_DATA_DIR")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_every_command() {
    let help = stdout(&ordo(&["--help"]));
    for command in ["serve", "migrate", "orders", "payments"] {
        assert!(help.contains(command), "{help}");
    }
    let orders = stdout(&ordo(&["orders", "--help"]));
    for command in [
        "create",
        "preview",
        "get",
        "list",
        "transition",
        "cancel",
        "refund",
        "delete",
    ] {
        assert!(orders.contains(command), "{orders}");
    }
    let serve = stdout(&ordo(&["serve", "--help"]));
    for setting in [
        "--listen",
        "ORDO_LISTEN",
        "--data-dir",
        "ORDO_DATA_DIR",
        "--database-url",
        "DATABASE_URL",
    ] {
        assert!(serve.contains(setting), "{serve}");
    }
}

#[test]
fn migrate_reports_what_it_applied_then_that_nothing_was_left() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let first = ordo(&["migrate", "--data-dir", dir]);
    assert!(first.status.success(), "{}", stderr(&first));
    let report = stdout(&first);
    let sources = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite");
    let migrations = std::fs::read_dir(sources).unwrap().count();
    assert!(
        report.contains(&format!("applied {migrations} migration(s)")),
        "{report}"
    );
    assert!(
        report.contains("orders") && report.contains("idempotency keys"),
        "{report}"
    );
    let second = ordo(&["migrate", "--data-dir", dir]);
    assert!(
        stdout(&second).contains("nothing applied"),
        "{}",
        stdout(&second)
    );
}

#[test]
fn bad_settings_fail_with_one_clear_line() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let cases: [(&[&str], &str); 4] = [
        (
            &["serve", "--data-dir", dir, "--listen", &address],
            "already in use",
        ),
        (
            &[
                "serve",
                "--auth",
                "disabled",
                "--database-url",
                "postgres://nobody:secret@127.0.0.1:1/none",
            ],
            "cannot reach PostgreSQL",
        ),
        (
            &["serve", "--database-url", "mysql://localhost/db"],
            "unsupported database URL",
        ),
        (&["serve", "--listen", "not-an-address"], "invalid value"),
    ];
    for (args, expected) in cases {
        let output = ordo(args);
        let message = stderr(&output);
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(
            !message.contains("secret"),
            "passwords are never printed: {message}"
        );
    }
}

/// A server started by the test, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (up to 20 s) until a server accepts connections on `port`.
fn wait_until_listening(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn products_are_imported_from_ndjson_and_listed_then_ordered_by_sku() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_server(data.path(), port, &[]);
    let url = format!("http://127.0.0.1:{port}");
    let token = |role: &str, extra: &[&str]| {
        let mut args = vec![
            "token",
            "--role",
            role,
            "--data-dir",
            data.path().to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let minted = ordo(&args);
        assert!(minted.status.success(), "{}", stderr(&minted));
        stdout(&minted).trim().to_owned()
    };
    let admin = token("admin", &[]);
    let file = data.path().join("book.ndjson");
    std::fs::write(
        &file,
        "{\"sku\": \"MUG-01\", \"title\": \"Mug\", \"prices\": {\"USD\": \"12.00\"}}\n\
         {\"sku\": \"CAP-RED\", \"title\": \"Cap\", \"prices\": {\"USD\": \"8\", \"JPY\": \"1200\"}}\n",
    )
    .unwrap();
    let products = |args: &[&str]| {
        let mut all = vec!["products"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--server", &url, "--token", &admin]);
        ordo(&all)
    };
    let imported = products(&["import", file.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert_eq!(
        stdout(&imported).trim(),
        "2 created, 0 updated, 0 unchanged"
    );
    let again = products(&["import", file.to_str().unwrap(), "--json"]);
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["unchanged"], 2);
    let table = stdout(&products(&["list"]));
    assert!(
        table.contains("CAP-RED")
            && table.contains("1200 JPY, 8.00 USD")
            && table.contains("MUG-01"),
        "{table}"
    );
    // A bad line stores nothing and says which product, as the server does.
    std::fs::write(
        &file,
        "{\"sku\": \"X\", \"title\": \"X\", \"prices\": {\"USD\": \"1.001\"}}\n",
    )
    .unwrap();
    let refused = products(&["import", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("products[0].prices.USD"),
        "{}",
        stderr(&refused)
    );
    // A customer orders by SKU from the book.
    let customer = token(
        "customer",
        &["--customer", "0193a1a0-0000-7000-8000-000000000001"],
    );
    let order = data.path().join("order.json");
    std::fs::write(
        &order,
        r#"{"customer_id":"0193a1a0-0000-7000-8000-000000000001","currency":"USD",
            "items":[{"sku":"MUG-01","quantity":2},{"sku":"CAP-RED","quantity":1}]}"#,
    )
    .unwrap();
    let placed = ordo(&[
        "orders",
        "create",
        order.to_str().unwrap(),
        "--json",
        "--server",
        &url,
        "--token",
        &customer,
    ]);
    assert!(placed.status.success(), "{}", stderr(&placed));
    let placed: Value = serde_json::from_slice(&placed.stdout).unwrap();
    assert_eq!(placed["total"], "32.00");
}

#[test]
fn the_client_commands_drive_a_running_server() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(data.path(), port, &[]);
    let url = format!("http://127.0.0.1:{port}");
    let order = data.path().join("order.json");
    std::fs::write(
        &order,
        r#"{"customer_id":"0193a1a0-0000-7000-8000-000000000001","currency":"USD",
            "items":[{"product_id":"0193a1a0-0000-7000-8000-0000000000aa","quantity":2,"unit_price":"10.00",
                      "sku":"MUG-01","title":"Mug","requires_shipping":true}],
            "shipping":[{"code":"ups","title":"UPS Ground","amount":"4.95"}],
            "contact":{"email":"ada@example.com","name":"Ada Lovelace"},
            "shipping_address":{"line1":"1 Main St","city":"Springfield","country":"US"},
            "billing_address":"same_as_shipping","tags":["vip"],"metadata":{"erp_id":"SO-1"}}"#,
    )
    .unwrap();
    let patch = data.path().join("patch.json");
    std::fs::write(&patch, r#"{"customer_note":"Leave it at the door"}"#).unwrap();
    // Authentication is on by default: the server generated a secret in the data directory,
    // and `ordo token` mints with it.
    let minted = ordo(&[
        "token",
        "--role",
        "admin",
        "--data-dir",
        data.path().to_str().unwrap(),
    ]);
    assert!(minted.status.success(), "{}", stderr(&minted));
    let token = stdout(&minted).trim().to_owned();
    let unauthenticated = ordo(&[
        "orders",
        "list",
        "--customer",
        "0193a1a0-0000-7000-8000-000000000001",
        "--server",
        &url,
    ]);
    assert!(
        stderr(&unauthenticated).contains("401"),
        "{}",
        stderr(&unauthenticated)
    );
    let client = |args: &[&str]| {
        let mut all = vec!["orders"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--server", &url, "--token", &token]);
        ordo(&all)
    };

    let created = client(&["create", order.to_str().unwrap(), "--json"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let created: Value = serde_json::from_slice(&created.stdout).unwrap();
    let id = created["id"].as_str().unwrap();
    let number = created["order_number"].as_str().unwrap();
    assert_eq!(created["total"], "24.95");

    let table = stdout(&client(&["get", id]));
    assert!(
        table.contains("order_number")
            && table.contains("24.95")
            && table.contains("ada@example.com")
            && table.contains("MUG-01"),
        "{table}"
    );
    // A number works wherever an id does, and reads the same order, every field of it.
    let by_number = client(&["get", number, "--json"]);
    assert!(by_number.status.success(), "{}", stderr(&by_number));
    let by_number: Value = serde_json::from_slice(&by_number.stdout).unwrap();
    assert_eq!(by_number, created);
    let mut typo = number.to_owned();
    let last = if typo.ends_with('A') { "B" } else { "A" };
    typo.replace_range(typo.len() - 1.., last);
    let mistyped = client(&["get", &typo]);
    assert!(stderr(&mistyped).contains("typo"), "{}", stderr(&mistyped));
    let patched = client(&["patch", number, patch.to_str().unwrap(), "--json"]);
    assert!(patched.status.success(), "{}", stderr(&patched));
    let patched: Value = serde_json::from_slice(&patched.stdout).unwrap();
    assert_eq!(patched["customer_note"], "Leave it at the door");
    assert_eq!(patched["contact"], created["contact"]);
    let listed = client(&[
        "list",
        "--customer",
        "0193a1a0-0000-7000-8000-000000000001",
        "--json",
    ]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["data"][0]["id"], id);

    let cancelled = client(&["cancel", number, "--reason", "test", "--json"]);
    let cancelled: Value = serde_json::from_slice(&cancelled.stdout).unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert!(client(&["delete", id]).status.success());

    let gone = client(&["get", id]);
    assert!(!gone.status.success());
    assert!(stderr(&gone).contains("404"), "{}", stderr(&gone));
    drop(server);
}

/// Runs `check` against an `ordo serve --auth disabled <flags>` on the embedded SQLite file,
/// then on a fresh PostgreSQL database: with the server's URL, its data directory and the
/// database URL (none for SQLite).
fn on_both_databases(flags: &[&str], check: impl Fn(&str, &std::path::Path, Option<&str>)) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let postgres = runtime
        .block_on(ordo_repository::testing::TestPostgres::create())
        .unwrap();
    for database in [None, Some(postgres.url())] {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut extra = vec!["--auth", "disabled"];
        extra.extend_from_slice(flags);
        extra.extend(database.iter().flat_map(|url| ["--database-url", *url]));
        let server = start_server(data.path(), port, &extra);
        check(&format!("http://127.0.0.1:{port}"), data.path(), database);
        drop(server);
    }
}

/// An order file in `dir`: 3 shirts at 10.00 (line 0) and a mug at 4.00 (line 1).
fn three_shirts_and_a_mug(dir: &std::path::Path) -> std::path::PathBuf {
    let order = dir.join("order.json");
    std::fs::write(
        &order,
        r#"{"customer_id":"0193a1a0-0000-7000-8000-000000000001","currency":"USD",
            "items":[{"product_id":"0193a1a0-0000-7000-8000-0000000000aa","quantity":3,"unit_price":"10.00"},
                     {"product_id":"0193a1a0-0000-7000-8000-0000000000bb","quantity":1,"unit_price":"4.00"}]}"#,
    )
    .unwrap();
    order
}

/// `ordo orders <args> --server <url>`, which must succeed.
fn orders_at(url: &str, args: &[&str]) -> Output {
    let mut all = vec!["orders"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--server", url]);
    let output = ordo(&all);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    output
}

/// `ordo orders fulfil` and `ordo orders fulfillment` ship an order in two parts through a
/// running server, on SQLite and on PostgreSQL: the second part completes it.
#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one walk-through: ship, return, refund, on each database"
)]
fn the_client_ships_an_order_in_two_parts_on_both_databases() {
    on_both_databases(&[], |url, data, database| {
        let order = three_shirts_and_a_mug(data);
        let client = |args: &[&str]| orders_at(url, args);
        let json = |args: &[&str]| -> Value {
            let mut all = args.to_vec();
            all.push("--json");
            serde_json::from_slice(&client(&all).stdout).unwrap()
        };
        let created = json(&["create", order.to_str().unwrap()]);
        let number = created["order_number"].as_str().unwrap().to_owned();
        json(&["transition", &number, "--to", "processing"]);
        let first = json(&[
            "fulfil",
            &number,
            "--line",
            "0:2",
            "--carrier",
            "DHL",
            "--tracking-number",
            "JD01",
        ]);
        assert_eq!(first["status"], "created", "{database:?}");
        assert_eq!(first["order"]["fulfillment_status"], "partially_fulfilled");
        let fid = first["id"].as_str().unwrap().to_owned();
        let shipped = json(&["fulfillment", &number, &fid, "--to", "shipped"]);
        assert_eq!(
            (
                shipped["status"].as_str(),
                shipped["tracking_number"].as_str()
            ),
            (Some("shipped"), Some("JD01"))
        );
        let table = stdout(&client(&[
            "fulfil", &number, "--line", "0:1", "--line", "1:1",
        ]));
        assert!(
            table.contains("fulfillment") && table.contains("completed, fulfilled, paid"),
            "{table}"
        );
        let listed = json(&["list", "--fulfillment-status", "fulfilled"]);
        assert_eq!(listed["data"][0]["id"], created["id"], "{database:?}");
        // Return one shipped shirt and refund it in the same step; refund the other line by line.
        let returned = json(&[
            "return",
            &number,
            "--line",
            "0:1",
            "--reason",
            "damaged",
            "--restock",
        ]);
        assert_eq!(returned["status"], "requested");
        let ret = returned["id"].as_str().unwrap().to_owned();
        let closed = json(&["return-move", &number, &ret, "--to", "refunded"]);
        assert_eq!(
            (
                closed["outcome"].as_str(),
                closed["refund"]["amount"].as_str()
            ),
            (Some("refunded"), Some("10.00"))
        );
        let refunded = json(&["refund", &number, "--line", "1:1", "--reason", "broken"]);
        assert_eq!(refunded["lines"][0]["amount"], "4.00");
        assert_eq!(refunded["order"]["amount_refunded"], "14.00");
        let both = ordo(&[
            "orders", "refund", &number, "--amount", "1", "--line", "0:1", "--reason", "x",
            "--server", url,
        ]);
        assert!(!both.status.success());
        let refused = ordo(&[
            "orders", "fulfil", &number, "--line", "0:1", "--server", url,
        ]);
        assert!(!refused.status.success());
        assert!(stderr(&refused).contains("409"), "{}", stderr(&refused));
        let malformed = ordo(&[
            "orders", "fulfil", &number, "--line", "zero", "--server", url,
        ]);
        assert!(
            stderr(&malformed).contains("LINE:QUANTITY"),
            "{}",
            stderr(&malformed)
        );
    });
}

/// `ordo serve --capture on-shipment`: each shipment captures its share, the last the rest, on
/// SQLite and on PostgreSQL, as `ordo orders fulfillment` shows.
#[test]
fn a_server_capturing_on_shipment_captures_each_shipment_on_both_databases() {
    on_both_databases(&["--capture", "on-shipment"], |url, data, database| {
        let order = three_shirts_and_a_mug(data);
        let client = |args: &[&str]| stdout(&orders_at(url, args));
        let created: Value =
            serde_json::from_str(&client(&["create", order.to_str().unwrap(), "--json"])).unwrap();
        let number = created["order_number"].as_str().unwrap().to_owned();
        client(&["transition", &number, "--to", "processing"]);
        let ship = |line: &[&str]| {
            let mut args = vec!["fulfil", number.as_str()];
            args.extend_from_slice(line);
            args.push("--json");
            let made: Value = serde_json::from_str(&client(&args)).unwrap();
            let fid = made["id"].as_str().unwrap().to_owned();
            client(&["fulfillment", &number, &fid, "--to", "shipped"])
        };
        let first = ship(&["--line", "0:2"]);
        assert!(
            first.contains("capture 20.00: captured")
                && first.contains("processing, partially_fulfilled, partially_paid"),
            "{database:?}: {first}"
        );
        let last = ship(&["--line", "0:1", "--line", "1:1"]);
        assert!(
            last.contains("capture 14.00: captured") && last.contains("completed, fulfilled, paid"),
            "{database:?}: {last}"
        );
    });
}

#[test]
fn payments_reconcile_reports_what_it_settled() {
    let data = tempfile::tempdir().unwrap();
    let output = ordo(&[
        "payments",
        "reconcile",
        "--data-dir",
        data.path().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("reconciled 0 payment call(s) and 0 refund(s)"),
        "{}",
        stdout(&output)
    );
}

/// A minimal HTTP/1.1 POST over a plain socket: the status code.
fn post_order(port: u16) -> u16 {
    use std::io::{Read as _, Write as _};
    let body = r#"{"customer_id":"0193a1a0-0000-7000-8000-000000000001","currency":"USD","items":[{"product_id":"0193a1a0-0000-7000-8000-0000000000aa","quantity":1,"unit_price":"3.00"}]}"#;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /v1/orders HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A minimal HTTP/1.1 GET over a plain socket, with a bearer token if given: the status code.
fn get_status(port: u16, path: &str, token: Option<&str>) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let authorization = token.map_or_else(String::new, |token| {
        format!("Authorization: Bearer {token}\r\n")
    });
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{authorization}\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn metrics_need_a_staff_or_admin_token_by_default_on_both_databases() {
    for database in [
        &[][..],
        &["--database-url", "postgres://postgres@127.0.0.1:5432/ordo"][..],
    ] {
        let mut args = vec!["config"];
        args.extend_from_slice(database);
        let report = stdout(&ordo(&args));
        assert_eq!(
            setting_line(&report, "metrics_access"),
            "metrics_access = \"token\"  # default",
            "{database:?}"
        );
    }
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_server(data.path(), port, &[]);
    assert_eq!(get_status(port, "/metrics", None), 401);
    let mint = |role: &str| {
        let minted = ordo(&[
            "token",
            "--role",
            role,
            "--subject",
            "prometheus",
            "--data-dir",
            data.path().to_str().unwrap(),
        ]);
        stdout(&minted).trim().to_owned()
    };
    assert_eq!(get_status(port, "/metrics", Some(&mint("staff"))), 200);
    assert_eq!(get_status(port, "/healthz", None), 200);
    terminate(&mut server);
    // Public only when said explicitly.
    let mut public = start_server(data.path(), port, &["--metrics-access", "public"]);
    assert_eq!(get_status(port, "/metrics", None), 200);
    terminate(&mut public);
}

#[test]
fn sigterm_lets_requests_in_flight_finish_then_exits_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_server(
        data.path(),
        port,
        &["--auth", "disabled", "--gateway-latency-ms", "3000"],
    );
    // A request that takes 3 s at the gateway, cut across by SIGTERM.
    let in_flight = std::thread::spawn(move || post_order(port));
    std::thread::sleep(Duration::from_secs(1));
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        in_flight.join().unwrap(),
        201,
        "the request in flight was answered, not cut off"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "no longer listening"
    );
}

#[test]
fn every_serve_setting_is_in_the_configuration_document() {
    let help = stdout(&ordo(&["serve", "--help"]));
    let document = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    let flags: Vec<&str> = help
        .split_whitespace()
        .filter(|word| word.starts_with("--") && !matches!(*word, "--help" | "--version"))
        .collect();
    assert!(flags.len() >= 15, "{flags:?}");
    for flag in flags {
        assert!(
            document.contains(&format!("`{flag}`")),
            "{flag} is not in docs/configuration.md"
        );
    }
    let report = stdout(&ordo(&["config"]));
    for line in report.lines() {
        let name = line
            .trim_start_matches("# ")
            .split([' ', '='])
            .next()
            .unwrap();
        assert!(
            document.contains(&format!("| `{name}` |")),
            "the file setting {name} is not in docs/configuration.md"
        );
    }
}

fn ordo_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ordo"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("ORDO_DATA_DIR")
        .env_remove("ORDO_CONFIG");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// Asserts the command failed with exactly one line on stderr, and returns it.
fn one_line_failure(output: &Output) -> String {
    let message = stderr(output);
    assert!(!output.status.success(), "should fail: {message}");
    assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
    message
}

/// The line of `ordo config` for one setting.
fn setting_line<'a>(report: &'a str, name: &str) -> &'a str {
    report
        .lines()
        .find(|line| line.starts_with(&format!("{name} = ")))
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

#[test]
fn settings_layer_defaults_then_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ordo.toml"),
        "listen = \"127.0.0.1:9001\"\nmax_in_flight = 10\nrequest_timeout_ms = 500\ncapture = \"immediately\"\n",
    )
    .unwrap();
    let output = ordo_in(
        dir.path(),
        &["config", "--request-timeout-ms", "700"],
        &[
            ("ORDO_MAX_IN_FLIGHT", "20"),
            ("ORDO_REQUEST_TIMEOUT_MS", "600"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report = stdout(&output);
    assert_eq!(
        setting_line(&report, "body_limit"),
        "body_limit = 262144  # default"
    );
    assert_eq!(
        setting_line(&report, "listen"),
        "listen = \"127.0.0.1:9001\"  # ordo.toml"
    );
    assert_eq!(
        setting_line(&report, "capture"),
        "capture = \"immediately\"  # ordo.toml"
    );
    assert_eq!(
        setting_line(&report, "max_in_flight"),
        "max_in_flight = 20  # ORDO_MAX_IN_FLIGHT"
    );
    assert_eq!(
        setting_line(&report, "request_timeout_ms"),
        "request_timeout_ms = 700  # --request-timeout-ms"
    );
}

#[test]
fn a_file_named_by_flag_or_variable_is_read_and_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prod.toml"), "drain_delay_ms = 250\n").unwrap();
    for (args, env) in [
        (vec!["config", "--config", "prod.toml"], vec![]),
        (vec!["config"], vec![("ORDO_CONFIG", "prod.toml")]),
    ] {
        let report = stdout(&ordo_in(dir.path(), &args, &env));
        assert_eq!(
            setting_line(&report, "drain_delay_ms"),
            "drain_delay_ms = 250  # prod.toml"
        );
    }
    let missing = ordo_in(dir.path(), &["config", "--config", "nope.toml"], &[]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("nope.toml does not exist"));
}

#[test]
fn invalid_configuration_stops_with_one_line_naming_the_setting() {
    let cases = [
        (
            "lisen = \"127.0.0.1:1\"\n",
            "unknown setting `lisen` (did you mean `listen`?)",
        ),
        (
            "db_max_conections = 2\n",
            "did you mean `db_max_connections`?",
        ),
        ("listen = 5\n", "`listen`"),
        ("db_max_connections = \"many\"\n", "`db_max_connections`"),
        (
            "idempotency_ttl_hours = 0\n",
            "`idempotency_ttl_hours` is 0",
        ),
        ("capture = \"sometimes\"\n", "`capture`"),
        ("[serve]\nlisten = \"x\"\n", "not tables"),
        ("listen = \n", "TOML parse error"),
    ];
    for (file, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ordo.toml"), file).unwrap();
        for command in ["config", "serve"] {
            let message = one_line_failure(&ordo_in(dir.path(), &[command], &[]));
            assert!(message.contains(expected), "{file:?}: {message}");
            assert!(
                message.starts_with("ordo: error: invalid configuration"),
                "{message}"
            );
        }
    }
}

#[test]
fn ordo_config_never_shows_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ordo.toml"),
        "order_number_key = 987654321\n",
    )
    .unwrap();
    let output = ordo_in(
        dir.path(),
        &[
            "config",
            "--database-url",
            "postgres://app:hunter2@db:5432/ordo",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report = stdout(&output);
    assert!(
        !report.contains("987654321") && !report.contains("hunter2"),
        "{report}"
    );
    assert_eq!(
        setting_line(&report, "order_number_key"),
        "order_number_key = \"***\"  # ordo.toml"
    );
    assert!(
        report.contains("postgres://app:***@db:5432/ordo"),
        "{report}"
    );
}

#[test]
fn serve_takes_its_settings_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("ordo.toml"),
        format!("listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\n"),
    )
    .unwrap();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_ordo"))
            .arg("serve")
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("ORDO_DATA_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until_listening(port);
    assert!(dir.path().join("data/ordo.db").exists());
}

/// Starts `ordo serve` on SQLite in `data` with extra flags; returns it once it listens.
fn start_server(data: &std::path::Path, port: u16, extra: &[&str]) -> Server {
    spawn_server(data, port, extra, &[], None)
}

/// The same, with environment variables and, when `log` is given, its output (the logs) there.
fn spawn_server(
    data: &std::path::Path,
    port: u16,
    extra: &[&str],
    env: &[(&str, &str)],
    log: Option<&std::path::Path>,
) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ordo"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("ORDO_DATA_DIR", data)
        .env_remove("DATABASE_URL")
        .env_remove("NO_COLOR")
        .stdout(log.map_or_else(Stdio::null, |path| {
            Stdio::from(std::fs::File::create(path).unwrap())
        }))
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let server = Server(command.spawn().unwrap());
    wait_until_listening(port);
    server
}

/// Sends SIGTERM and waits for a clean exit.
fn terminate(server: &mut Server) {
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            return;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(feature = "otel")]
#[test]
fn with_an_otlp_endpoint_spans_reach_the_collector() {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    // A stand-in collector: answers 200 to every POST and hands over its path and body.
    let collector = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", collector.local_addr().unwrap());
    let (sent, received) = std::sync::mpsc::channel::<(String, Vec<u8>)>();
    std::thread::spawn(move || {
        for stream in collector.incoming() {
            let mut stream = BufReader::new(stream.unwrap());
            let mut request_line = String::new();
            stream.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut line = String::new();
                stream.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            stream.read_exact(&mut body).unwrap();
            let path = request_line.split_whitespace().nth(1).unwrap().to_owned();
            stream
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .unwrap();
            let _ = sent.send((path, body));
        }
    });
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_server(
        data.path(),
        port,
        &["--auth", "disabled", "--otlp-endpoint", &endpoint],
    );
    assert_eq!(post_order(port), 201);
    // Shutting down flushes the spans still batched.
    terminate(&mut server);
    let (path, body) = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(path, "/v1/traces");
    let text = String::from_utf8_lossy(&body);
    for expected in ["ordo", "request", "place"] {
        assert!(
            text.contains(expected),
            "{expected} is not in the exported spans"
        );
    }
}

#[cfg(not(feature = "otel"))]
#[test]
fn an_otlp_endpoint_without_the_otel_feature_is_refused() {
    let output = ordo(&["serve", "--otlp-endpoint", "http://127.0.0.1:4318"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("built without the `otel` feature"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn serving_postgres_without_a_key_or_an_explicit_opt_out_is_refused() {
    let output = ordo(&[
        "serve",
        "--database-url",
        "postgres://postgres@127.0.0.1:5432/postgres",
    ]);
    let message = one_line_failure(&output);
    assert!(
        message.contains("authentication is required but no key is set"),
        "{message}"
    );
}

#[test]
fn the_embedded_default_generates_a_private_secret_once_and_says_how_to_mint_a_token() {
    use std::os::unix::fs::PermissionsExt as _;
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let logs = data.path().join("serve.log");
    let mut server = spawn_server(data.path(), port, &[], &[], Some(&logs));
    let secret_file = data.path().join("jwt-secret");
    let mode = std::fs::metadata(&secret_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the secret is readable by its owner only"
    );
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert_eq!(secret.len(), 64, "32 random bytes, hex");
    terminate(&mut server);
    let log = std::fs::read_to_string(&logs).unwrap();
    assert!(log.contains("ordo token --role admin"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "a log written to a file carries no colour codes: {log:?}"
    );
    assert!(!log.contains(&secret), "the secret is never logged");
    // A second start keeps the same secret, so tokens stay valid across restarts.
    let mut again = start_server(data.path(), port, &[]);
    terminate(&mut again);
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), secret);

    let customer = ordo(&[
        "token",
        "--role",
        "customer",
        "--data-dir",
        data.path().to_str().unwrap(),
    ]);
    assert!(!customer.status.success());
    assert!(
        stderr(&customer).contains("--customer"),
        "{}",
        stderr(&customer)
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let missing = ordo(&[
        "token",
        "--role",
        "admin",
        "--data-dir",
        elsewhere.path().to_str().unwrap(),
    ]);
    assert!(
        stderr(&missing).contains("no signing secret"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn the_data_directory_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("nested").join("ordo-data");
    let port = free_port();
    let mut server = start_server(&data, port, &["--auth", "disabled"]);
    // A write, so SQLite has its write-ahead log and shared-memory files open.
    assert_eq!(post_order(port), 201);
    assert_eq!(mode(&data), 0o700, "the data directory");
    for file in ["ordo.db", "ordo.db-wal", "ordo.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    terminate(&mut server);

    // Files an older ordo left readable by others are made private on the next start.
    let db = data.join("ordo.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let migrated = ordo(&["migrate", "--data-dir", data.to_str().unwrap()]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    assert_eq!(mode(&db), 0o600);
    // With a generated secret too: the directory it creates is private.
    let fresh = parent.path().join("secret-first");
    let mut secured = start_server(&fresh, port, &[]);
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&fresh.join("jwt-secret")), 0o600);
    terminate(&mut secured);
}

#[test]
fn secrets_and_tokens_never_reach_the_logs() {
    let secret = "a-configured-hs256-secret-that-must-stay-hidden";
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let logs = data.path().join("serve.log");
    let env = [
        ("ORDO_JWT_SECRET", secret),
        ("RUST_LOG", "trace"),
        ("ORDO_LOG_FORMAT", "json"),
    ];
    let mut server = spawn_server(data.path(), port, &[], &env, Some(&logs));
    let minted = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args([
            "token",
            "--role",
            "customer",
            "--customer",
            "0193a1a0-0000-7000-8000-000000000001",
        ])
        .env("ORDO_JWT_SECRET", secret)
        .output()
        .unwrap();
    let token = stdout(&minted).trim().to_owned();
    assert!(token.len() > 40, "{}", stderr(&minted));
    let url = format!("http://127.0.0.1:{port}");
    let list = |token: &str| {
        ordo(&[
            "orders",
            "list",
            "--customer",
            "0193a1a0-0000-7000-8000-000000000001",
            "--server",
            &url,
            "--token",
            token,
        ])
    };
    assert!(list(&token).status.success());
    let forged = format!("{token}x");
    assert!(stderr(&list(&forged)).contains("401"));
    terminate(&mut server);
    let log = std::fs::read_to_string(&logs).unwrap();
    assert!(log.lines().count() > 5, "{log}");
    let signature = token.rsplit('.').next().unwrap();
    for hidden in [secret, token.as_str(), signature] {
        assert!(!log.contains(hidden), "{hidden} is in the logs");
    }
}

#[test]
fn seeded_orders_are_found_where_their_ids_say() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let seeded = ordo(&[
        "seed",
        "--orders",
        "25",
        "--customers",
        "5",
        "--data-dir",
        dir,
    ]);
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    assert!(stdout(&seeded).contains("seeded 25 orders over 5 customers"));
    let again = ordo(&["seed", "--orders", "1", "--data-dir", dir]);
    assert!(
        stderr(&again).contains("seed an empty database"),
        "{}",
        stderr(&again)
    );

    let port = free_port();
    let mut server = start_server(data.path(), port, &["--auth", "disabled"]);
    let url = format!("http://127.0.0.1:{port}");
    let listed = ordo(&[
        "orders",
        "list",
        "--customer",
        "00000000-0000-4000-8000-000000000003",
        "--json",
        "--server",
        &url,
    ]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    // Customer 3 has orders 3, 8, 13, 18 and 23, newest first.
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = [23, 18, 13, 8, 3]
        .iter()
        .map(|n| format!("01900000-0000-7000-8000-{n:012x}"))
        .collect();
    assert_eq!(ids, expected);
    let order = &listed["data"][0];
    assert_eq!(order["items"].as_array().unwrap().len(), 1 + 23 % 5);
    // Seeded records are whole: a contact, an address, a channel, a SKU on every line.
    assert!(
        order["contact"]["email"]
            .as_str()
            .unwrap()
            .ends_with("@example.com")
    );
    assert!(order["shipping_address"]["country"].is_string());
    assert!(order["channel"].is_string());
    assert!(order["items"][0]["sku"].is_string());
    terminate(&mut server);

    // An operator erases customer 3's personal data; a second run finds nothing left.
    let customer = "00000000-0000-4000-8000-000000000003";
    let erased = ordo(&["customers", "erase", customer, "--data-dir", dir]);
    assert!(erased.status.success(), "{}", stderr(&erased));
    assert!(
        stdout(&erased).contains("from 5 order(s)"),
        "{}",
        stdout(&erased)
    );
    let again = ordo(&["customers", "erase", customer, "--data-dir", dir]);
    assert!(
        stdout(&again).contains("from 0 order(s)"),
        "{}",
        stdout(&again)
    );
    let mut server = start_server(data.path(), port, &["--auth", "disabled"]);
    let listed = ordo(&[
        "orders",
        "list",
        "--customer",
        customer,
        "--json",
        "--server",
        &url,
    ]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    for order in listed["data"].as_array().unwrap() {
        assert!(
            order["contact"].is_null() && order["shipping_address"].is_null(),
            "{order}"
        );
        assert!(order["personal_data_erased_at"].is_string());
    }
    terminate(&mut server);
}

#[test]
fn staff_search_from_the_cli_keeps_personal_data_out_of_the_logs() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let seed = [
        "seed",
        "--orders",
        "25",
        "--customers",
        "5",
        "--data-dir",
        dir,
    ];
    assert!(ordo(&seed).status.success());
    let port = free_port();
    let logs = data.path().join("serve.log");
    let env = [("RUST_LOG", "info")];
    let mut server = spawn_server(
        data.path(),
        port,
        &["--auth", "disabled"],
        &env,
        Some(&logs),
    );
    let url = format!("http://127.0.0.1:{port}");
    let numbers = |filters: &[&str]| -> Vec<u64> {
        let args = [&["orders", "list", "--json", "--server", &url][..], filters].concat();
        let listed = ordo(&args);
        assert!(listed.status.success(), "{filters:?}: {}", stderr(&listed));
        let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|order| {
                let id = order["id"].as_str().unwrap();
                u64::from_str_radix(&id[24..], 16).unwrap()
            })
            .collect()
    };
    // Seeded customer 3 is Edsger Lovelace, edsger.lovelace3@example.com, with orders 3, 8,
    // 13, 18 and 23; every 7th order is a vip's.
    let customer_three = vec![23, 18, 13, 8, 3];
    assert_eq!(
        numbers(&["--email", "Edsger.Lovelace3@EXAMPLE.com"]),
        customer_three
    );
    assert_eq!(numbers(&["-q", "EDSGER lov"]), customer_three);
    assert_eq!(numbers(&["--tag", "vip"]), vec![21, 14, 7]);
    assert_eq!(
        numbers(&["--tag", "vip", "-q", "edsger"]),
        Vec::<u64>::new()
    );
    assert_eq!(
        numbers(&[]).len(),
        20,
        "a first page of every customer's orders"
    );
    terminate(&mut server);
    let log = std::fs::read_to_string(&logs).unwrap().to_lowercase();
    assert!(log.contains("/v1/orders"), "each request is logged: {log}");
    for personal in ["edsger", "lovelace", "example.com"] {
        assert!(!log.contains(personal), "{personal} is in the logs: {log}");
    }
}

/// A connection to `port` whose reads give up after 10 s.
fn connect(port: u16) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// How long until the server closes `stream`, reading whatever it sends meanwhile.
fn closed_after(stream: &mut std::net::TcpStream, since: Instant) -> Duration {
    use std::io::Read as _;
    let mut buffer = [0_u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return since.elapsed(),
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                return since.elapsed();
            }
            Err(error) => panic!("still open after {:?}: {error}", since.elapsed()),
        }
    }
}

/// Sends `GET /healthz` on `stream` (kept alive) and reads its response head.
fn healthz_on(stream: &mut std::net::TcpStream) -> String {
    use std::io::{Read as _, Write as _};
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let mut byte = [0_u8; 1];
    // The head, then the small JSON body it announces: read until the body's closing brace.
    while !response.ends_with(b"}") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed mid-response");
        response.push(byte[0]);
    }
    String::from_utf8(response).unwrap()
}

#[test]
fn silent_half_sent_and_idle_connections_are_closed_after_their_timeouts() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_server(
        data.path(),
        port,
        &[
            "--auth",
            "disabled",
            "--header-read-timeout-ms",
            "500",
            "--idle-timeout-ms",
            "2000",
        ],
    );
    let started = Instant::now();
    let mut silent = connect(port);
    let mut half = connect(port);
    std::io::Write::write_all(&mut half, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    for (name, stream) in [("silent", &mut silent), ("half a head", &mut half)] {
        let after = closed_after(stream, started);
        assert!(
            after >= Duration::from_millis(400) && after < Duration::from_secs(5),
            "{name}: closed after {after:?}"
        );
    }
    // Kept alive after a request: closed once idle for the idle timeout, not the head's.
    let mut idle = connect(port);
    assert!(healthz_on(&mut idle).starts_with("HTTP/1.1 200"));
    let answered = Instant::now();
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        healthz_on(&mut idle).starts_with("HTTP/1.1 200"),
        "still open within its idle time"
    );
    let answered_again = Instant::now();
    let after = closed_after(&mut idle, answered_again);
    assert!(
        after >= Duration::from_millis(1700) && after < Duration::from_secs(6),
        "idle: closed after {after:?} ({:?} after the first answer)",
        answered.elapsed()
    );
    // A head trickled in on a kept-alive connection gets the head's time, not the idle time.
    let mut trickle = connect(port);
    assert!(healthz_on(&mut trickle).starts_with("HTTP/1.1 200"));
    std::io::Write::write_all(&mut trickle, b"GET /healthz HTTP/1.1\r\n").unwrap();
    let sent = Instant::now();
    let after = closed_after(&mut trickle, sent);
    assert!(
        after < Duration::from_millis(1300),
        "trickled head: closed after {after:?}"
    );
}

#[test]
fn past_the_connection_cap_new_connections_wait_and_are_served_once_others_go() {
    use std::io::Read as _;
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_server(
        data.path(),
        port,
        &[
            "--auth",
            "disabled",
            "--max-connections",
            "2",
            "--header-read-timeout-ms",
            "60000",
            "--idle-timeout-ms",
            "60000",
        ],
    );
    // wait_until_listening's probe has gone; two connections fill the cap.
    std::thread::sleep(Duration::from_millis(200));
    let first = connect(port);
    let mut second = connect(port);
    assert!(healthz_on(&mut second).starts_with("HTTP/1.1 200"));
    let mut waiting = connect(port);
    waiting
        .set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    std::io::Write::write_all(&mut waiting, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut byte = [0_u8; 1];
    let early = waiting.read(&mut byte);
    assert!(
        matches!(&early, Err(error) if error.kind() == std::io::ErrorKind::WouldBlock || error.kind() == std::io::ErrorKind::TimedOut),
        "not served while the cap is full: {early:?}"
    );
    drop(first);
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = vec![0_u8; 12];
    waiting.read_exact(&mut response).unwrap();
    assert_eq!(&response, b"HTTP/1.1 200");
}

#[test]
fn a_client_that_stops_reading_its_responses_is_disconnected() {
    use std::io::Write as _;
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_server(
        data.path(),
        port,
        &[
            "--auth",
            "disabled",
            "--idle-timeout-ms",
            "1500",
            "--request-timeout-ms",
            "200",
        ],
    );
    // Far more response bytes than the socket buffers hold, and none of them read.
    let mut stream = connect(port);
    let requests = "GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3000);
    stream.write_all(requests.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let started = Instant::now();
    let after = closed_after(&mut stream, started);
    assert!(
        after < Duration::from_secs(5),
        "closed {after:?} after reading resumed"
    );
    // The server is fine and serves others.
    assert!(healthz_on(&mut connect(port)).starts_with("HTTP/1.1 200"));
}

/// The client's output, run in `dir` (where an `ordo.toml` may be) with `env`, the client's
/// variables otherwise unset.
fn client_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ordo"));
    command
        .arg("orders")
        .args(args)
        .current_dir(dir)
        .env_remove("ORDO_CONFIG")
        .env_remove("ORDO_SERVER")
        .env_remove("ORDO_LISTEN")
        .env_remove("ORDO_TOKEN");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

const CUSTOMER: &str = "0193a1a0-0000-7000-8000-000000000001";

#[test]
fn the_client_talks_to_the_server_the_settings_name() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_server(data.path(), port, &["--auth", "disabled"]);
    let address = format!("127.0.0.1:{port}");
    let list = ["list", "--customer", CUSTOMER, "--json"];
    let reaches = |file: Option<String>, args: &[&str], env: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        if let Some(file) = &file {
            std::fs::write(dir.path().join("ordo.toml"), file).unwrap();
        }
        let all: Vec<&str> = list.iter().copied().chain(args.iter().copied()).collect();
        let output = client_in(dir.path(), &all, env);
        assert!(
            output.status.success(),
            "{file:?} {args:?} {env:?}: {}",
            stderr(&output)
        );
        let page: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(page["data"].is_array(), "{page}");
    };
    // `ordo serve`'s own address, from the same file or variable, is the default.
    reaches(Some(format!("listen = \"{address}\"\n")), &[], &[]);
    reaches(Some(format!("listen = \"0.0.0.0:{port}\"\n")), &[], &[]);
    reaches(None, &[], &[("ORDO_LISTEN", &address)]);
    // `server`: host:port or a URL, from the file, the variable or the flag.
    reaches(Some(format!("server = \"{address}\"\n")), &[], &[]);
    reaches(
        Some("listen = \"127.0.0.1:1\"\n".to_owned()),
        &[],
        &[("ORDO_SERVER", &format!("http://{address}/"))],
    );
    reaches(
        Some("server = \"127.0.0.1:1\"\n".to_owned()),
        &["--server", &address],
        &[],
    );
    // `ordo serve` and `ordo config` accept a file that names the client's server.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ordo.toml"), "server = \"db1:8080\"\n").unwrap();
    let config = ordo_in(dir.path(), &["config"], &[]);
    assert!(config.status.success(), "{}", stderr(&config));
}

#[test]
fn client_failures_name_the_server_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let nothing = free_port();
    let unreachable = one_line_failure(&client_in(
        dir.path(),
        &["get", CUSTOMER, "--server", &format!("127.0.0.1:{nothing}")],
        &[],
    ));
    assert!(
        unreachable.contains(&format!(
            "cannot reach the ordo server at http://127.0.0.1:{nothing} (--server)"
        )),
        "{unreachable}"
    );
    assert!(
        !unreachable.contains("error sending request"),
        "{unreachable}"
    );
    let bad = one_line_failure(&client_in(
        dir.path(),
        &["get", CUSTOMER, "--server", "ftp://db1"],
        &[],
    ));
    assert!(bad.contains("`server`") && bad.contains("ftp"), "{bad}");
    let tls = one_line_failure(&client_in(
        dir.path(),
        &["get", CUSTOMER, "--server", "https://db1"],
        &[],
    ));
    assert!(tls.contains("`server`") && tls.contains("TLS"), "{tls}");

    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_server(data.path(), port, &[]);
    let server = format!("127.0.0.1:{port}");
    let unauthorized = one_line_failure(&client_in(
        dir.path(),
        &["list", "--customer", CUSTOMER],
        &[("ORDO_SERVER", &server)],
    ));
    for expected in [
        "401",
        &format!("http://{server}"),
        "--token",
        "ORDO_TOKEN",
        "ordo token",
    ] {
        assert!(
            unauthorized.contains(expected),
            "{expected}: {unauthorized}"
        );
    }
}

#[test]
fn the_client_reads_only_a_configuration_file_that_exists_and_names_known_settings() {
    let dir = tempfile::tempdir().unwrap();
    let missing = one_line_failure(&client_in(
        dir.path(),
        &["get", CUSTOMER, "--config", "nope.toml"],
        &[],
    ));
    assert!(missing.contains("nope.toml does not exist"), "{missing}");
    std::fs::write(dir.path().join("client.toml"), "sever = \"db1:8080\"\n").unwrap();
    let misspelt = one_line_failure(&client_in(
        dir.path(),
        &["get", CUSTOMER],
        &[("ORDO_CONFIG", "client.toml")],
    ));
    assert!(
        misspelt.contains("client.toml")
            && misspelt.contains("unknown setting `sever`")
            && misspelt.contains("unknown setting `sever` (did you mean `server`?)"),
        "{misspelt}"
    );
    // With --json, a failure on this side is a JSON object too.
    let json = client_in(
        dir.path(),
        &["get", CUSTOMER, "--config", "nope.toml", "--json"],
        &[],
    );
    assert!(!json.status.success());
    let error: Value = serde_json::from_slice(&json.stderr).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("nope.toml"),
        "{error}"
    );
}

#[test]
fn the_client_previews_moves_refunds_and_deletes_and_speaks_json_throughout() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_server(data.path(), port, &["--auth", "disabled"]);
    let server = format!("127.0.0.1:{port}");
    let order = data.path().join("order.json");
    std::fs::write(
        &order,
        format!(
            r#"{{"customer_id":"{CUSTOMER}","currency":"USD",
                "items":[{{"product_id":"0193a1a0-0000-7000-8000-0000000000aa","quantity":2,"unit_price":"10.00"}}]}}"#
        ),
    )
    .unwrap();
    let order = order.to_str().unwrap();
    let run = |args: &[&str]| client_in(data.path(), args, &[("ORDO_SERVER", &server)]);
    let json = |args: &[&str]| {
        let output = run(args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };

    let preview = json(&["preview", order, "--json"]);
    assert_eq!(preview["total"], "20.00");
    assert!(
        preview.get("id").is_none(),
        "a preview stores nothing: {preview}"
    );
    let table = stdout(&run(&["preview", order]));
    assert!(
        table.contains("20.00") && table.contains("preview"),
        "{table}"
    );

    let created = json(&["create", order, "--json"]);
    let id = created["id"].as_str().unwrap();
    // A bare version and the quoted ETag are both accepted.
    let version = created["version"].as_u64().unwrap();
    let (bare, quoted) = (version.to_string(), format!("\"{}\"", version + 1));
    let processing = json(&[
        "transition",
        id,
        "--to",
        "processing",
        "--if-match",
        &bare,
        "--json",
    ]);
    assert_eq!(processing["status"], "processing");
    let completed = json(&[
        "transition",
        id,
        "--to",
        "completed",
        "--if-match",
        &quoted,
        "--json",
    ]);
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["payment_status"], "paid");

    let refund = json(&[
        "refund", id, "--amount", "5.00", "--reason", "damaged", "--json",
    ]);
    assert_eq!(refund["amount"], "5.00");
    assert_eq!(refund["order"]["amount_refunded"], "5.00");
    let table = stdout(&run(&[
        "refund", id, "--amount", "1.50", "--reason", "late",
    ]));
    assert!(table.contains("1.50") && table.contains("late"), "{table}");

    // The server's problem, whole, as JSON on stderr.
    let stale = run(&[
        "cancel",
        id,
        "--reason",
        "late",
        "--if-match",
        "1",
        "--json",
    ]);
    assert!(!stale.status.success());
    let problem: Value = serde_json::from_slice(&stale.stderr).unwrap();
    assert!(problem["status"].as_u64().unwrap() >= 400, "{problem}");
    assert!(problem["detail"].is_string(), "{problem}");
    // Without --json, one line naming the server.
    let refused = one_line_failure(&run(&["transition", id, "--to", "processing"]));
    assert!(
        refused.contains(&format!("from http://{server}")),
        "{refused}"
    );
    assert!(refused.contains("allowed next"), "{refused}");

    // So is a flag the client cannot read.
    let unreadable = run(&["delete", id, "--if-match", "v5", "--json"]);
    assert!(!unreadable.status.success());
    let error: Value = serde_json::from_slice(&unreadable.stderr).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("--if-match"),
        "{error}"
    );

    let deleted = json(&["delete", id, "--json"]);
    assert_eq!(deleted, serde_json::json!({ "deleted": id }));
    let gone = run(&["get", id, "--json"]);
    let problem: Value = serde_json::from_slice(&gone.stderr).unwrap();
    assert_eq!(problem["status"], 404, "{problem}");
}

#[test]
fn a_token_for_a_postgres_server_is_signed_with_its_secret_never_a_leftover_sqlite_one() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    // What an earlier SQLite run leaves behind.
    std::fs::write(data.path().join("jwt-secret"), "f".repeat(64)).unwrap();
    let url = "postgres://app:hunter2@127.0.0.1:5432/ordo";
    let token = ["token", "--role", "admin", "--data-dir", dir];
    let refused = one_line_failure(&ordo(&[&token[..], &["--database-url", url]].concat()));
    assert!(
        refused.contains("a PostgreSQL server has no generated secret")
            && refused.contains("`jwt_secret`")
            && refused.contains("ORDO_JWT_SECRET"),
        "{refused}"
    );
    assert!(!refused.contains("hunter2"), "{refused}");
    // With the server's secret, the token verifies on a server with that secret.
    let secret = "a-shared-hs256-secret-of-32-bytes-or-more";
    let minted = ordo(&[&token[..], &["--database-url", url, "--jwt-secret", secret]].concat());
    assert!(minted.status.success(), "{}", stderr(&minted));
    let port = free_port();
    let _server = start_server(data.path(), port, &["--jwt-secret", secret]);
    let path = format!("/v1/orders?customer_id={CUSTOMER}");
    assert_eq!(get_status(port, &path, Some(stdout(&minted).trim())), 200);
}

#[test]
fn a_postgres_database_that_does_not_exist_is_named_with_how_to_create_it() {
    let mut url = url::Url::parse(&ordo_repository::testing::database_url()).unwrap();
    let name = format!("ordo_missing_{}", std::process::id());
    url.set_path(&name);
    url.set_password(Some("hunter2")).unwrap();
    let (host, port) = (
        url.host_str().unwrap().to_owned(),
        url.port().unwrap_or(5432),
    );
    let user = url.username().to_owned();
    for command in [&["migrate"][..], &["serve", "--auth", "disabled"]] {
        let args = [command, &["--database-url", url.as_str()]].concat();
        let message = one_line_failure(&ordo(&args));
        for expected in [
            format!("the database \"{name}\" does not exist"),
            format!("createdb -h {host} -p {port} -U {user} {name}"),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            assert!(message.contains(&expected), "{expected}: {message}");
        }
        for absent in [
            "hunter2",
            "invalid database URL",
            "error returned from database",
            "line",
        ] {
            assert!(!message.contains(absent), "{absent}: {message}");
        }
        assert_eq!(message.matches("does not exist").count(), 1, "{message}");
    }
}

#[test]
fn seeding_again_needs_force_keeps_what_is_there_and_says_how_to_act_as_a_customer() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let seed = |orders: &str, extra: &[&str]| {
        let args = [
            &[
                "seed",
                "--orders",
                orders,
                "--customers",
                "4",
                "--data-dir",
                dir,
            ],
            extra,
        ]
        .concat();
        ordo(&args)
    };
    let first = seed("5", &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let summary = stdout(&first);
    assert!(
        summary.contains("seeded 5 orders over 4 customers"),
        "{summary}"
    );
    assert!(
        summary.contains("00000000-0000-4000-8000-000000000002"),
        "{summary}"
    );
    let refused = one_line_failure(&seed("5", &[]));
    assert!(
        refused.contains("not empty") && refused.contains("--force"),
        "{refused}"
    );
    assert!(!refused.contains("duplicate"), "{refused}");

    let forced = seed("8", &["--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(
        stdout(&forced).contains("seeded 3 orders over 4 customers"),
        "{}",
        stdout(&forced)
    );
    assert!(
        stdout(&forced).contains("(5 were there already)"),
        "{}",
        stdout(&forced)
    );

    // The command the summary prints mints a token that reads that customer's orders.
    let port = free_port();
    let _server = start_server(data.path(), port, &[]);
    let command = summary
        .lines()
        .find_map(|line| line.split_once("ordo token "))
        .map_or_else(
            || panic!("no token command in {summary}"),
            |(_, args)| args.split_whitespace().collect::<Vec<_>>(),
        );
    let minted = ordo(&[&["token"][..], &command].concat());
    assert!(minted.status.success(), "{}", stderr(&minted));
    let customer = command[command.iter().position(|arg| *arg == "--customer").unwrap() + 1];
    let path = format!("/v1/orders?customer_id={customer}");
    assert_eq!(get_status(port, &path, Some(stdout(&minted).trim())), 200);
}

#[test]
fn a_token_s_clock_skew_allowance_is_small_by_default_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let report = ordo_in(dir.path(), &["config"], &[]);
    let report = String::from_utf8_lossy(&report.stdout).into_owned();
    assert_eq!(
        setting_line(&report, "jwt_leeway_seconds"),
        "jwt_leeway_seconds = 5  # default"
    );
    let set = ordo_in(
        dir.path(),
        &["config"],
        &[("ORDO_JWT_LEEWAY_SECONDS", "30")],
    );
    let set = String::from_utf8_lossy(&set.stdout).into_owned();
    assert!(setting_line(&set, "jwt_leeway_seconds").starts_with("jwt_leeway_seconds = 30"));
    // Minutes of grace would keep stolen, expired tokens working: refused.
    let refused = ordo_in(dir.path(), &["config", "--jwt-leeway-seconds", "400"], &[]);
    assert!(!refused.status.success());
}

/// Arguments, environment, and words the refusal must contain.
type Refusal<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn ordo_config_check_refuses_what_serve_would_and_the_mask_is_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    // The embedded default: fine, serve makes its secret.
    let fine = ordo_in(dir.path(), &["config", "--check"], &[]);
    assert!(
        fine.status.success(),
        "{}",
        String::from_utf8_lossy(&fine.stderr)
    );
    let refusals: [Refusal<'_>; 3] = [
        (
            &["config", "--check"],
            &[("ORDO_JWT_SECRET", "too short")],
            "jwt_secret",
        ),
        (
            &[
                "config",
                "--check",
                "--database-url",
                "postgres://ordo@127.0.0.1:1/ordo",
            ],
            &[],
            "no key is set",
        ),
        (
            &["config", "--check"],
            &[("ORDO_JWT_SECRET", "***")],
            "the mask `ordo config` prints",
        ),
    ];
    for (args, env, words) in refusals {
        let refused = ordo_in(dir.path(), args, env);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{args:?} {env:?} passed");
        assert!(stderr.contains(words), "{args:?} {env:?}: {stderr}");
    }
    // Without --check, config still only shows; serve itself refuses the mask.
    std::fs::write(dir.path().join("ordo.toml"), "jwt_secret = \"***\"\n").unwrap();
    let token = ordo_in(dir.path(), &["token", "--role", "admin"], &[]);
    assert!(String::from_utf8_lossy(&token.stderr).contains("the mask `ordo config` prints"));
}

#[test]
fn a_bad_setting_is_named_with_where_it_came_from_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    // From a variable: the variable is named, never the flag the user did not type.
    let from_env = ordo_in(dir.path(), &["config"], &[("ORDO_LISTEN", "foo")]);
    let stderr = String::from_utf8_lossy(&from_env.stderr);
    assert!(!from_env.status.success());
    assert!(stderr.contains("`listen` from ORDO_LISTEN"), "{stderr}");
    assert!(!stderr.contains("--listen"), "{stderr}");
    // From a file: the file is named, and no Rust type names.
    std::fs::write(dir.path().join("ordo.toml"), "max_in_flight = \"lots\"\n").unwrap();
    let from_file = ordo_in(dir.path(), &["config"], &[]);
    let stderr = String::from_utf8_lossy(&from_file.stderr);
    assert!(stderr.contains("in ordo.toml: `max_in_flight`"), "{stderr}");
    assert!(stderr.contains("expected a whole number"), "{stderr}");
    assert!(
        !stderr.contains("usize") && !stderr.contains("u32"),
        "{stderr}"
    );
}

/// `ordo keys` on the embedded database: a key is printed once, listed without its secret,
/// revoked once, and the database file holds only its hash.
#[test]
fn keys_are_made_listed_and_revoked_from_the_cli_and_only_their_hash_is_stored() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let made = ordo(&[
        "keys",
        "create",
        "--name",
        "shop front",
        "--scope",
        "orders:read",
        "--data-dir",
        dir,
    ]);
    assert!(made.status.success(), "{}", stderr(&made));
    let key = stdout(&made).trim().to_owned();
    assert!(key.starts_with("ordo_sk_"), "{key}");
    let id = &key[8..40];
    let secret = &key[41..];
    let listed = stdout(&ordo(&["keys", "list", "--data-dir", dir]));
    assert!(
        listed.contains("shop front") && listed.contains("active") && listed.contains("never used"),
        "{listed}"
    );
    assert!(!listed.contains(secret));
    let unknown = ordo(&[
        "keys",
        "create",
        "--name",
        "x",
        "--scope",
        "orders:all",
        "--data-dir",
        dir,
    ]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("orders:all"),
        "{}",
        stderr(&unknown)
    );
    let uuid = uuid_text(id);
    let revoked = ordo(&["keys", "revoke", &uuid, "--data-dir", dir]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    assert!(stdout(&revoked).contains("revoked API key"));
    assert!(stdout(&ordo(&["keys", "list", "--data-dir", dir])).contains("revoked 20"));
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(data.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            stored.extend(std::fs::read(path).unwrap());
        }
    }
    assert!(stored.len() > 4096, "the database files were read");
    let stored = String::from_utf8_lossy(&stored);
    assert!(!stored.contains(secret), "the database holds the key");
}

/// `0193a1a0…` as a hyphenated UUID.
fn uuid_text(simple: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &simple[..8],
        &simple[8..12],
        &simple[12..16],
        &simple[16..20],
        &simple[20..]
    )
}

/// `ordo audit verify` walks every order's event chain: seeded orders verify; an event changed
/// behind ordo's back is found and named, and the command fails.
#[test]
fn audit_verify_finds_an_event_changed_behind_its_back() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let seeded = ordo(&[
        "seed",
        "--orders",
        "12",
        "--customers",
        "3",
        "--data-dir",
        dir,
    ]);
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    let clean = ordo(&["audit", "verify", "--data-dir", dir]);
    assert!(clean.status.success(), "{}", stderr(&clean));
    assert!(
        stdout(&clean).contains(
            "audit: 12 orders, 12 events checked, 0 payloads erased, every chain verifies"
        ),
        "{}",
        stdout(&clean)
    );
    // Someone with the database file rewrites who placed the seventh order.
    let file = data.path().join("ordo.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection as _;
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let changed =
            sqlx::query("UPDATE order_events SET actor_subject = 'someone else' WHERE seq = 7")
                .execute(&mut db)
                .await
                .unwrap();
        assert_eq!(changed.rows_affected(), 1);
        db.close().await.unwrap();
    });
    let tampered = ordo(&["audit", "verify", "--data-dir", dir]);
    assert!(!tampered.status.success());
    let report = stdout(&tampered);
    assert!(
        report.contains("its hash does not match its content (the event was altered)"),
        "{report}"
    );
    assert!(report.contains("BROKEN"), "{report}");
}

/// With `nats_url` set, every event reaches the `JetStream` stream exactly once, with its id as
/// `Nats-Msg-Id`, including across a `kill -9` of the server: the relay resumes where it was.
/// Needs NATS with `JetStream` on 127.0.0.1:4222 (`cargo xtask test` starts one when none answers).
#[test]
fn every_event_reaches_nats_once_across_a_kill() {
    use async_nats::jetstream;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let stream = format!("ORDO_TEST_{suffix}");
    let prefix = format!("test{suffix}.events");
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let extra = [
        "--auth",
        "disabled",
        "--nats-url",
        "nats://127.0.0.1:4222",
        "--nats-stream",
        stream.as_str(),
        "--nats-subject-prefix",
        prefix.as_str(),
    ];
    let mut server = start_server(data.path(), port, &extra);
    for _ in 0..3 {
        assert_eq!(post_order(port), 201);
    }
    // Killed without a word, then started again; more orders.
    let _ = server.0.kill();
    let _ = server.0.wait();
    let mut server = start_server(data.path(), port, &extra);
    for _ in 0..2 {
        assert_eq!(post_order(port), 201);
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (ids, subjects) = runtime.block_on(async {
        let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
        let js = jetstream::new(client);
        // Five orders, each placed and authorized: ten events.
        let mut messages = 0;
        for _ in 0..100 {
            let mut info = js.get_stream(&stream).await.unwrap();
            messages = info.info().await.unwrap().state.messages;
            if messages >= 10 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(messages, 10, "one message per event");
        let mut ids = Vec::new();
        let mut subjects = Vec::new();
        let stream_handle = js.get_stream(&stream).await.unwrap();
        for sequence in 1..=messages {
            let message = stream_handle.get_raw_message(sequence).await.unwrap();
            let id = message
                .headers
                .get("Nats-Msg-Id")
                .unwrap()
                .as_str()
                .to_owned();
            let body: Value = serde_json::from_slice(&message.payload).unwrap();
            assert_eq!(body["id"], id.as_str(), "Nats-Msg-Id is the event's id");
            ids.push(id);
            subjects.push(message.subject.to_string());
        }
        js.delete_stream(&stream).await.unwrap();
        (ids, subjects)
    });
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 10);
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.ends_with(".order.placed"))
            .count(),
        5
    );
    assert!(subjects.iter().all(|s| s.starts_with(&prefix)));
    terminate(&mut server);
}

/// A stream made beforehand that forgets message ids sooner than ten minutes could keep an
/// event twice: `ordo serve` refuses it, saying how to fix it.
#[test]
fn a_nats_stream_with_a_short_duplicate_window_is_refused() {
    use async_nats::jetstream;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let stream = format!("ORDO_TEST_SHORT_{suffix}");
    let prefix = format!("short{suffix}.events");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
        jetstream::new(client)
            .create_stream(jetstream::stream::Config {
                name: stream.clone(),
                subjects: vec![format!("{prefix}.>")],
                duplicate_window: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .unwrap();
    });
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["serve", "--listen", "127.0.0.1:0", "--auth", "disabled"])
        .args([
            "--nats-url",
            "nats://127.0.0.1:4222",
            "--nats-stream",
            &stream,
        ])
        .args(["--nats-subject-prefix", &prefix])
        .env("ORDO_DATA_DIR", data.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    runtime.block_on(async {
        let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
        jetstream::new(client).delete_stream(&stream).await.unwrap();
    });
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("keeps message ids for") && said.contains("--dupe-window 10m"),
        "{said}"
    );
}
