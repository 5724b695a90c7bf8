//! Several `ordo serve` processes on one PostgreSQL database, as replicas behind a load
//! balancer run: a version moves money once whichever replica each request reaches, background
//! jobs run on one replica at a time, and a replica with another order-number key is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test code"
)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ordo_repository::GatewayLedger as _;
use ordo_repository::testing::TestPostgres;
use serde_json::{Value, json};

/// A server started by the test, killed when dropped.
struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve_command(url: &str, port: u16, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ordo"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", url, "--auth", "disabled"])
        .args(extra)
        .env_remove("ORDO_DATA_DIR")
        .env_remove("ORDO_ORDER_NUMBER_KEY")
        .stderr(Stdio::null());
    command
}

/// A replica on `url`; its logs go to `log` when given.
fn replica(url: &str, extra: &[&str], log: Option<&Path>) -> Replica {
    let port = free_port();
    let mut command = serve_command(url, port, extra);
    command.stdout(log.map_or_else(Stdio::null, |path| {
        Stdio::from(std::fs::File::create(path).unwrap())
    }));
    listening(command.spawn().unwrap(), port)
}

/// `child` once it accepts connections on `port`.
fn listening(child: Child, port: u16) -> Replica {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "no replica");
        std::thread::sleep(Duration::from_millis(50));
    }
    Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

const CUSTOMER: &str = "0193a1a0-0000-7000-8000-000000000001";

async fn post(client: &reqwest::Client, url: String, etag: &str, body: Value) -> u16 {
    client
        .post(url)
        .header("if-match", etag)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Two requests naming one version, each to another replica, through a slow gateway: on every
/// order exactly one answers 200, and the gateway's ledger agrees with every order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_version_moves_money_once_across_two_replicas() {
    let (database, store) = TestPostgres::store().await.unwrap();
    // One test client stands for many callers: its share of requests in flight is lifted.
    let slow = [
        "--gateway-latency-ms",
        "40",
        "--order-number-key",
        "7",
        "--max-in-flight-per-caller",
        "1000",
    ];
    let (a, b) = (
        replica(database.url(), &slow, None),
        replica(database.url(), &slow, None),
    );
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for _ in 0..100 {
        let placed: Value = client
            .post(format!("{}/v1/orders", a.base))
            .json(&json!({
                "customer_id": CUSTOMER, "currency": "USD",
                "items": [{ "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1, "unit_price": "10.00" }]
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(placed["payment_status"], "authorized");
        ids.push(placed["id"].as_str().unwrap().to_owned());
    }
    // Race 1, on the first 50: cancel on one replica, move to processing on the other, both
    // at "2". Which wins is up to timing; race 2 does not depend on it.
    let (race_one, race_two) = ids.split_at(50);
    let mut races = tokio::task::JoinSet::new();
    for id in race_one.iter().cloned() {
        let (client, a, b) = (client.clone(), a.base.clone(), b.base.clone());
        races.spawn(async move {
            let (cancel, process) = tokio::join!(
                post(
                    &client,
                    format!("{a}/v1/orders/{id}/cancel"),
                    "\"2\"",
                    json!({ "reason": "race" })
                ),
                post(
                    &client,
                    format!("{b}/v1/orders/{id}/transitions"),
                    "\"2\"",
                    json!({ "to": "processing" })
                ),
            );
            (id, [cancel, process])
        });
    }
    let mut processing = Vec::new();
    while let Some(result) = races.join_next().await {
        let (id, statuses) = result.unwrap();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{id}: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| [200, 409, 412].contains(s)),
            "{statuses:?}"
        );
        if statuses[1] == 200 {
            processing.push(id);
        }
    }
    race_two_cancel_against_complete(&client, (&a.base, &b.base), race_two, &mut processing).await;
    check_books(&client, &b.base, &store, &ids).await;
    assert!(
        processing.len() >= 50,
        "race 2 ran on every processing order"
    );
}

/// Race 2: the orders of `race_two` are moved to processing, then each processing order gets a
/// cancel on one replica and a complete on the other at "3": exactly one 200 each.
async fn race_two_cancel_against_complete(
    client: &reqwest::Client,
    (a, b): (&str, &str),
    race_two: &[String],
    processing: &mut Vec<String>,
) {
    let mut races = tokio::task::JoinSet::new();
    // Race 2, on the other 50 (moved to processing first) and race 1's processing ones:
    // cancel against complete at "3".
    for id in race_two {
        let moved = post(
            client,
            format!("{a}/v1/orders/{id}/transitions"),
            "\"2\"",
            json!({ "to": "processing" }),
        )
        .await;
        assert_eq!(moved, 200, "{id}");
        processing.push(id.clone());
    }
    for id in processing.clone() {
        let (client, a, b) = (client.clone(), a.to_owned(), b.to_owned());
        races.spawn(async move {
            let (cancel, complete) = tokio::join!(
                post(
                    &client,
                    format!("{b}/v1/orders/{id}/cancel"),
                    "\"3\"",
                    json!({ "reason": "race" })
                ),
                post(
                    &client,
                    format!("{a}/v1/orders/{id}/transitions"),
                    "\"3\"",
                    json!({ "to": "completed" })
                ),
            );
            (id, [cancel, complete])
        });
    }
    while let Some(result) = races.join_next().await {
        let (id, statuses) = result.unwrap();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{id}: {statuses:?}"
        );
    }
}

/// The books: what the gateway approved is what every order says.
async fn check_books(
    client: &reqwest::Client,
    base: &str,
    store: &ordo_repository::PgStore,
    ids: &[String],
) {
    for id in ids {
        let order: Value = client
            .get(format!("{base}/v1/orders/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let approved = |operation: &str| {
            let store = store.clone();
            let key = format!("{operation}:{id}");
            async move {
                store
                    .find(&key)
                    .await
                    .unwrap()
                    .is_some_and(|entry| entry.approved)
            }
        };
        let (captured, voided, refunded) = (
            approved("capture").await,
            approved("void").await,
            approved("refund").await,
        );
        let state = (
            order["status"].as_str().unwrap(),
            order["payment_status"].as_str().unwrap(),
        );
        match state {
            ("completed", "paid") => assert!(captured && !voided && !refunded, "{id}"),
            ("cancelled", "unpaid") => assert!(voided && !captured, "{id}"),
            ("cancelled", "refunded") => assert!(captured && refunded && !voided, "{id}"),
            other => panic!("{id} ended {other:?}"),
        }
        assert_eq!(order["payment_in_progress"], Value::Null, "{id}");
    }
}

/// With a one-second reconciliation interval, two replicas run about one pass a second
/// between them, not one each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_jobs_run_on_one_replica_at_a_time() {
    let (database, _store) = TestPostgres::store().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let logs = [dir.path().join("a.log"), dir.path().join("b.log")];
    let every_second = ["--reconcile-interval-seconds", "1"];
    let started = Instant::now();
    let replicas: Vec<Replica> = logs
        .iter()
        .map(|log| {
            let mut command = serve_command(database.url(), free_port(), &every_second);
            command
                .env("RUST_LOG", "warn,ordo=debug")
                .stdout(Stdio::from(std::fs::File::create(log).unwrap()));
            Replica {
                child: command.spawn().unwrap(),
                base: String::new(),
            }
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    drop(replicas);
    let window = started.elapsed().as_millis();
    let passes: Vec<usize> = logs
        .iter()
        .map(|log| {
            std::fs::read_to_string(log)
                .unwrap()
                .matches("reconciliation pass")
                .count()
        })
        .collect();
    let total: usize = passes.iter().sum();
    // One replica alone ticks about `window` times; two without a lease would double it.
    assert!(total >= 3, "{passes:?} in {window} ms");
    assert!(
        u128::try_from(total).unwrap() * 1000 <= window + 1000,
        "{passes:?} passes in {window} ms: more than one replica ran a period's pass"
    );
}

/// A database first numbered with one key refuses a replica that has another, in one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_another_order_number_key_is_refused() {
    let (database, _store) = TestPostgres::store().await.unwrap();
    let first = replica(database.url(), &["--order-number-key", "11"], None);
    let same = replica(database.url(), &["--order-number-key", "11"], None);
    let other = serve_command(database.url(), free_port(), &["--order-number-key", "12"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!other.status.success());
    let said = String::from_utf8_lossy(&other.stderr);
    assert!(said.contains("another order-number key"), "{said}");
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(
        !said.contains("11") || !said.contains("12 "),
        "never the key itself: {said}"
    );
    drop((first, same));
}

/// `database_schema` puts ordo's tables in a schema of its choosing: `ordo migrate` creates
/// them there (and nowhere else), replicas serve from there, and a name PostgreSQL would need
/// quoting for is refused in one line naming the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordos_tables_live_in_the_configured_schema_and_nowhere_else() {
    use ordo_repository::{OrderRepository as _, PgOptions, PgStore};
    let database = TestPostgres::create().await.unwrap();
    let migrate = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["migrate", "--database-url", database.url()])
        .env("ORDO_DATABASE_SCHEMA", "shop")
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let shop = PgStore::connect(
        database.url(),
        &PgOptions {
            schema: "shop".parse().unwrap(),
            ..PgOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(shop.migrate().await.unwrap(), Vec::<String>::new());
    // Nowhere else: a store set to another schema (the default, or `public`) finds ordo's
    // tables recorded in `shop` and refuses to start rather than make a second, empty set.
    for other in ["ordo", "public"] {
        let elsewhere = PgStore::connect(
            database.url(),
            &PgOptions {
                schema: other.parse().unwrap(),
                ..PgOptions::default()
            },
        )
        .await
        .unwrap();
        let refused = format!("{:?}", elsewhere.migrate().await.unwrap_err());
        assert!(refused.contains("shop"), "{other}: {refused}");
    }

    let server = replica(database.url(), &["--database-schema", "shop"], None);
    let placed: Value = reqwest::Client::new()
        .post(format!("{}/v1/orders", server.base))
        .json(&json!({
            "customer_id": CUSTOMER, "currency": "USD",
            "items": [{ "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1, "unit_price": "10.00" }]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id: uuid::Uuid = placed["id"].as_str().unwrap().parse().unwrap();
    let id = ordo_domain::OrderId::from_uuid(id).unwrap();
    assert!(shop.get(id).await.is_ok());

    // From a flag, the flag is named; from a variable, the setting and the variable.
    let flag = serve_command(database.url(), free_port(), &["--database-schema", "Shop"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&flag.stderr);
    assert!(!flag.status.success());
    assert!(said.contains("'Shop' for '--database-schema"), "{said}");
    assert!(said.contains("lowercase letters"), "{said}");
    let variable = serve_command(database.url(), free_port(), &[])
        .env("ORDO_DATABASE_SCHEMA", "pg_shop")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&variable.stderr);
    assert!(!variable.status.success());
    assert!(
        said.contains("`database_schema` from ORDO_DATABASE_SCHEMA"),
        "{said}"
    );
    assert!(said.contains("not with `pg_`"), "{said}");
}

/// `ordo …` with `args`; its output.
fn ordo(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ordo"));
    command
        .args(args)
        .env_remove("ORDO_DATA_DIR")
        .env_remove("ORDO_JWT_SECRET");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// An API key made with `ordo keys create` works on every replica; revoked through one, the
/// next request with it on the other is refused. The key is in no log and nowhere in the
/// database (only its hash is).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_on_one_replica_is_refused_by_the_next_request_on_another() {
    let database = TestPostgres::create().await.unwrap();
    let url = database.url();
    let secret = "a jwt secret for the replicas of this test, long enough";
    let env = [("ORDO_JWT_SECRET", secret), ("RUST_LOG", "debug")];
    let made = ordo(
        &[
            "keys",
            "create",
            "--name",
            "erp",
            "--scope",
            "orders:read",
            "--scope",
            "orders:write",
            "--scope",
            "orders:price",
        ],
        &[("DATABASE_URL", url)],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let key = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    assert!(
        key.starts_with("ordo_sk_") && key.len() == 8 + 32 + 1 + 43,
        "{key}"
    );
    let said = String::from_utf8(made.stderr).unwrap();
    assert!(
        said.contains("orders:read orders:write orders:price") && !said.contains(&key[41..]),
        "{said}"
    );

    let logs = tempfile::tempdir().unwrap();
    let start = |name: &str| replica_with_tokens(url, &env, &logs.path().join(name));
    let (a, b) = (start("a.log"), start("b.log"));
    let client = reqwest::Client::new();
    let list = |replica: &Replica| {
        client
            .get(format!("{}/v1/orders", replica.base))
            .bearer_auth(&key)
            .send()
    };
    let placed = client
        .post(format!("{}/v1/orders", b.base))
        .bearer_auth(&key)
        .json(&json!({
            "customer_id": CUSTOMER, "currency": "USD",
            "items": [{ "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1, "unit_price": "10.00" }]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);
    assert_eq!(list(&a).await.unwrap().status(), 200);
    assert_eq!(list(&b).await.unwrap().status(), 200);

    let admin = ordo(
        &["token", "--role", "admin", "--subject", "admin-1"],
        &[("ORDO_JWT_SECRET", secret)],
    );
    let admin = String::from_utf8(admin.stdout).unwrap().trim().to_owned();
    let id = &key[8..40];
    let revoked = client
        .delete(format!("{}/v1/api-keys/{id}", a.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let refused = list(&b).await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.text().await.unwrap().contains("revoked"));
    assert_eq!(list(&a).await.unwrap().status(), 401);
    // A refused key is not logged either.
    let tampered = client
        .get(format!("{}/v1/orders", a.base))
        .bearer_auth(format!("{}x", &key[..key.len() - 1]))
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);

    let listed = ordo(&["keys", "list"], &[("DATABASE_URL", url)]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("erp") && listed.contains("revoked") && listed.contains("last used"),
        "{listed}"
    );
    drop((a, b));

    // The secret less its last character: in the good key and the tampered one.
    assert_nowhere(&key[41..key.len() - 1], url, logs.path());
}

/// A replica on `url` that takes tokens and API keys, with `env`, logging to `log`.
fn replica_with_tokens(url: &str, env: &[(&str, &str)], log: &Path) -> Replica {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", url, "--order-number-key", "7"])
        .env_remove("ORDO_DATA_DIR")
        .envs(env.iter().copied())
        .stdout(Stdio::from(std::fs::File::create(log).unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    listening(child, port)
}

/// `secret` is in no log in `logs` and nowhere in the database at `url`.
fn assert_nowhere(secret: &str, url: &str, logs: &Path) {
    for entry in std::fs::read_dir(logs).unwrap() {
        let path = entry.unwrap().path();
        let log = std::fs::read_to_string(&path).unwrap();
        assert!(log.lines().count() > 3, "{}: {log}", path.display());
        assert!(!log.contains(secret), "the key is in {}", path.display());
    }
    let dump = Command::new("pg_dump")
        .args(["--data-only", "--no-owner", url.split('?').next().unwrap()])
        .output()
        .expect("pg_dump runs where PostgreSQL is installed");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("erp"), "the dump holds the key's row");
    assert!(!dump.contains(secret), "the database holds the key");
}

/// A code limited to 50 uses, 200 orders racing for it through two replicas on one PostgreSQL
/// database: exactly 50 get the discount, the rest are refused; the code counts 50.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discount_codes_limit_holds_across_two_replicas() {
    let database = TestPostgres::create().await.unwrap();
    let url = database.url();
    let wide = ["--max-in-flight-per-caller", "256"];
    let (a, b) = (replica(url, &wide, None), replica(url, &wide, None));
    let client = reqwest::Client::new();
    let stocked = client
        .post(format!("{}/v1/products/bulk", a.base))
        .header("content-type", "application/x-ndjson")
        .body(r#"{"sku": "MUG", "title": "Mug", "prices": {"USD": "10.00"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(stocked.status(), 200);
    let code: Value = client
        .post(format!("{}/v1/discount-codes", b.base))
        .json(&json!({"code": "FIFTY", "percent": "50", "usage_limit": 50}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(200));
    let mut racers = Vec::new();
    for n in 0..200_u32 {
        let base = if n % 2 == 0 { &a.base } else { &b.base };
        let request = client.post(format!("{base}/v1/orders")).json(&json!({
            "customer_id": format!("0193a1a0-0000-7000-8000-{n:012x}"), "currency": "USD",
            "items": [{ "sku": "MUG", "quantity": 1 }], "discount_code": "fifty"
        }));
        let barrier = barrier.clone();
        racers.push(tokio::spawn(async move {
            barrier.wait().await;
            request.send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = std::collections::BTreeMap::new();
    for racer in racers {
        *statuses.entry(racer.await.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(
        statuses,
        std::collections::BTreeMap::from([(201, 50), (409, 150)])
    );
    let read: Value = client
        .get(format!(
            "{}/v1/discount-codes/{}",
            a.base,
            code["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["used"], 50);
}
