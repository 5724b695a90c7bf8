//! `cargo xtask reliability`: never lose an order, never create one twice, whatever crashes.
//!
//! Starts the real server, fires creates from concurrent clients (each request with its own
//! idempotency key), `kill -9`s the server at random moments and restarts it, and has every
//! client retry each request it got no final answer to until it gets one. Then it checks,
//! through the API and (on PostgreSQL) in the database itself, that every order a client was
//! told about exists exactly once, that no request made two orders, that no order exists that
//! no client sent, and that every order's total equals its items.
//!
//! The load client is deliberately plain: blocking HTTP/1.1 over `std::net`, one thread per
//! client, so the proof does not depend on the async stack it is testing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;
use xshell::{Shell, cmd};

use crate::{launch, postgres, say};

/// How hard to push.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    pub(crate) requests: usize,
    pub(crate) clients: usize,
    pub(crate) crashes: usize,
    pub(crate) release: bool,
}

impl Load {
    /// The full run the issue asks for.
    pub(crate) const FULL: Self = Self {
        requests: 2000,
        clients: 32,
        crashes: 3,
        release: true,
    };
    /// The short form inside `cargo xtask ci`.
    pub(crate) const SHORT: Self = Self {
        requests: 300,
        clients: 8,
        crashes: 1,
        release: false,
    };
}

/// What one run found.
#[derive(Debug, Default)]
struct Figures {
    requests: usize,
    crashes: usize,
    retries: usize,
    duplicates: usize,
    lost: usize,
    unsent: usize,
    wrong_totals: usize,
}

pub(crate) fn run(sh: &Shell, load: Load) -> Result<()> {
    let binary = build(sh, load.release)?;
    let _ = BEARER.set(launch::mint_admin_token(
        &binary,
        JWT_SECRET,
        "reliability",
    )?);
    let database = postgres::ensure(sh)?;
    let work = crate::target_dir(sh).join("reliability");
    std::fs::create_dir_all(&work)?;

    let mut all = Vec::new();
    let pg_name = format!("ordo_reliability_{}", std::process::id());
    let admin = database.url().to_owned();
    let create = format!("CREATE DATABASE {pg_name}");
    cmd!(sh, "psql {admin} -qc {create}").quiet().run()?;
    let pg_url = replace_database(&admin, &pg_name);
    let pg_result = crash_run(&binary, &Backend::Postgres(pg_url.clone()), load, 1, &work)
        .and_then(|figures| check_postgres(sh, &pg_url, &figures).map(|()| figures));
    let pg_result = pg_result.and_then(|figures| {
        // The same database, now cut away under load.
        crate::outage::run(&binary, &pg_url, &work).map(|_| figures)
    });
    let drop = format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)");
    let _ = cmd!(sh, "psql {admin} -qc {drop}").quiet().run();
    all.push(("PostgreSQL", pg_result?));

    // Two replicas on one database: one is killed at each crash point, clients retry on the
    // other with the same key.
    let pair_name = format!("ordo_reliability_pair_{}", std::process::id());
    let create = format!("CREATE DATABASE {pair_name}");
    cmd!(sh, "psql {admin} -qc {create}").quiet().run()?;
    let pair_url = replace_database(&admin, &pair_name);
    let pair_result = crash_run(
        &binary,
        &Backend::Postgres(pair_url.clone()),
        load,
        2,
        &work,
    )
    .and_then(|figures| check_postgres(sh, &pair_url, &figures).map(|()| figures));
    let drop = format!("DROP DATABASE IF EXISTS {pair_name} WITH (FORCE)");
    let _ = cmd!(sh, "psql {admin} -qc {drop}").quiet().run();
    all.push(("PostgreSQL, two replicas", pair_result?));

    let sqlite_dir = work.join(format!("sqlite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&sqlite_dir);
    let sqlite_result = crash_run(
        &binary,
        &Backend::Sqlite(sqlite_dir.clone()),
        load,
        1,
        &work,
    );
    let _ = std::fs::remove_dir_all(&sqlite_dir);
    all.push(("SQLite", sqlite_result?));

    let mut failed = false;
    for (name, figures) in &all {
        say(&format!(
            "reliability {name}: requests {} crashes {} retries {} duplicates {} lost {} unsent {} wrong totals {}",
            figures.requests,
            figures.crashes,
            figures.retries,
            figures.duplicates,
            figures.lost,
            figures.unsent,
            figures.wrong_totals
        ));
        failed |= figures.duplicates + figures.lost + figures.unsent + figures.wrong_totals > 0;
    }
    if failed {
        bail!("reliability: orders were duplicated, lost or wrong (see the figures above)");
    }
    Ok(())
}

pub(crate) fn replace_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').unwrap_or((url, ""));
    format!("{base}/{name}")
}

pub(crate) fn build(sh: &Shell, release: bool) -> Result<PathBuf> {
    if release {
        cmd!(sh, "cargo build --release --locked --bin ordo").run()?;
        Ok(crate::target_dir(sh).join("release/ordo"))
    } else {
        cmd!(sh, "cargo build --locked --bin ordo").run()?;
        Ok(crate::target_dir(sh).join("debug/ordo"))
    }
}

enum Backend {
    Postgres(String),
    Sqlite(PathBuf),
}

/// The server under test; `kill -9`ed and restarted by the run.
pub(crate) struct Server {
    pub(crate) binary: PathBuf,
    pub(crate) backend_args: Vec<String>,
    pub(crate) address: SocketAddr,
    pub(crate) log: PathBuf,
    pub(crate) child: Option<Child>,
}

impl Server {
    pub(crate) fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(&self.binary)
            .arg("serve")
            .arg("--listen")
            .arg(self.address.to_string())
            .args(&self.backend_args)
            // A short lease, so retries after a crash go through quickly.
            .args(["--idempotency-lease-seconds", "2"])
            .env_remove("DATABASE_URL")
            .env("ORDO_JWT_SECRET", JWT_SECRET)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start ordo serve")?;
        let child = self.child.insert(child);
        launch::wait_until_listening(child, self.address, Duration::from_secs(30), &self.log)
    }

    /// SIGKILL: no shutdown, no flushing, no goodbye.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a client was told: the order, and its total when the answer carried the order.
struct Answer {
    id: String,
    total: Option<String>,
}

impl Backend {
    fn args(&self) -> Vec<String> {
        match self {
            Self::Postgres(url) => vec!["--database-url".to_owned(), url.clone()],
            Self::Sqlite(dir) => vec!["--data-dir".to_owned(), dir.display().to_string()],
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }
}

/// Runs the load against `replicas` servers sharing the backend, `kill -9`ing one of them (in
/// turn) at each crash point while clients retry on the others, then checks what the clients
/// were told against the API, and the books once every claim is settled.
fn crash_run(
    binary: &Path,
    backend: &Backend,
    load: Load,
    replicas: usize,
    work: &Path,
) -> Result<Figures> {
    let name = backend.name();
    let mut servers = Vec::with_capacity(replicas);
    for replica in 0..replicas {
        let mut server = Server {
            binary: binary.to_path_buf(),
            backend_args: backend.args(),
            address: TcpListener::bind("127.0.0.1:0")?.local_addr()?,
            log: work.join(format!("{name}-{replicas}-server-{replica}.log")),
            child: None,
        };
        let _ = std::fs::remove_file(&server.log);
        server.start()?;
        servers.push(server);
    }
    let addresses: Vec<SocketAddr> = servers.iter().map(|server| server.address).collect();
    say(&format!(
        "reliability {name}: {} creates from {} clients over {replicas} replica(s), {} kill -9s",
        load.requests, load.clients, load.crashes
    ));

    let progress = Progress::default();
    let clients: Vec<_> = (0..load.clients)
        .map(|_| spawn_client(addresses.clone(), load.requests, progress.clone()))
        .collect();
    let done = &progress.done;
    // Kill the server at random points of the run, then bring it back.
    let mut random = seed();
    let mut crashes = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    for crash in 0..load.crashes {
        // Evenly spread through the run, give or take 5 %.
        let per_mille = (crash + 1) * 1000 / (load.crashes + 1)
            + usize::try_from(next_random(&mut random) % 100).unwrap_or(0);
        let target = (load.requests * per_mille.saturating_sub(50) / 1000)
            .min(load.requests.saturating_sub(1));
        while done.load(Ordering::SeqCst) < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(next_random(&mut random) % 40));
        let server = servers
            .get_mut(crash % replicas)
            .context("no replica to crash")?;
        server.kill();
        crashes += 1;
        std::thread::sleep(Duration::from_millis(100 + next_random(&mut random) % 400));
        server.start()?;
    }
    while done.load(Ordering::SeqCst) < load.requests {
        if Instant::now() > deadline {
            progress.stop.store(true, Ordering::SeqCst);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for client in clients {
        let _ = client.join();
    }

    let answers = std::mem::take(
        &mut *progress
            .answers
            .lock()
            .map_err(|_| anyhow::anyhow!("a client panicked"))?,
    );
    let mut figures = Figures {
        requests: load.requests,
        crashes,
        retries: progress.retries.load(Ordering::SeqCst),
        lost: load.requests.saturating_sub(answers.len()),
        ..Figures::default()
    };
    let last = *addresses.last().context("no replica")?;
    check_api(last, &answers, &mut figures)?;
    for server in &mut servers {
        server.kill();
    }
    check_books(binary, backend, name)?;
    Ok(figures)
}

/// With every server stopped: settles every claim the kills left behind (`ordo payments
/// reconcile`, no grace since nothing runs), then checks that every approval in the gateway's
/// ledger is on its order and no order shows money the ledger does not (`ordo payments
/// check`).
fn check_books(binary: &Path, backend: &Backend, name: &str) -> Result<()> {
    let run = |args: &[&str]| -> Result<String> {
        let output = Command::new(binary)
            .args(args)
            .args(backend.args())
            .env_remove("DATABASE_URL")
            .output()
            .with_context(|| format!("cannot run ordo {}", args.join(" ")))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            bail!(
                "ordo {} failed on {name}: {stdout}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(stdout)
    };
    let reconciled = run(&["payments", "reconcile", "--grace-seconds", "0"])?;
    say(&format!("reliability {name}: {}", reconciled.trim()));
    let books = run(&["payments", "check"])?;
    say(&format!("reliability {name}: {}", books.trim()));
    Ok(())
}

/// What the clients share.
#[derive(Clone, Default)]
struct Progress {
    next: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
    retries: Arc<AtomicUsize>,
    answers: Arc<Mutex<HashMap<usize, Answer>>>,
    stop: Arc<AtomicBool>,
}

/// A client: takes the next request, and sends it with its key until it gets a final answer,
/// each retry to the next replica (as a load balancer would after a failure).
fn spawn_client(
    addresses: Vec<SocketAddr>,
    requests: usize,
    progress: Progress,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        loop {
            let index = progress.next.fetch_add(1, Ordering::SeqCst);
            if index >= requests {
                return;
            }
            let body = order_body(index);
            let key = format!("reliability-{index}");
            let mut attempt = index;
            loop {
                attempt = attempt.wrapping_add(1);
                let Some(&address) = addresses.get(attempt % addresses.len().max(1)) else {
                    return;
                };
                if progress.stop.load(Ordering::SeqCst) {
                    return;
                }
                // Final answers: 201 (placed) or 402 (placed, payment declined).
                let sent = http(
                    address,
                    "POST",
                    "/v1/orders",
                    &[("Idempotency-Key", &key)],
                    Some(&body),
                );
                if let Ok((status @ (201 | 402), text)) = sent {
                    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let (id, total) = if status == 201 {
                        (answer["id"].as_str(), answer["total"].as_str())
                    } else {
                        (answer["order_id"].as_str(), None)
                    };
                    let answer = Answer {
                        id: id.unwrap_or_default().to_owned(),
                        total: total.map(str::to_owned),
                    };
                    if let Ok(mut answers) = progress.answers.lock() {
                        answers.insert(index, answer);
                    }
                    progress.done.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                // No final answer (dropped connection, restart, in flight): retry the same key.
                progress.retries.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    })
}

/// Every answered order exists exactly once and adds up; no order exists that was not sent.
fn check_api(
    address: SocketAddr,
    answers: &HashMap<usize, Answer>,
    figures: &mut Figures,
) -> Result<()> {
    let mut told: HashSet<String> = HashSet::new();
    for answer in answers.values() {
        let id = answer.id.clone();
        if !told.insert(id.clone()) {
            figures.duplicates += 1; // two requests were told the same order
        }
        match http(address, "GET", &format!("/v1/orders/{id}"), &[], None) {
            Ok((200, text)) => {
                let stored: Value = serde_json::from_str(&text)?;
                let told_total = answer
                    .total
                    .as_deref()
                    .is_none_or(|total| stored["total"] == total);
                if !adds_up(&stored) || !told_total {
                    figures.wrong_totals += 1;
                }
            }
            _ => figures.lost += 1,
        }
    }
    let mut stored_ids: BTreeMap<String, usize> = BTreeMap::new();
    for customer in 0..CUSTOMERS {
        let mut cursor = String::new();
        loop {
            let path = format!(
                "/v1/orders?customer_id={}&limit=100{cursor}",
                customer_id(customer)
            );
            let (status, text) = http(address, "GET", &path, &[], None)?;
            if status != 200 {
                bail!("listing orders failed: {status} {text}");
            }
            let page: Value = serde_json::from_str(&text)?;
            for order in page["data"].as_array().into_iter().flatten() {
                *stored_ids
                    .entry(order["id"].as_str().unwrap_or_default().to_owned())
                    .or_default() += 1;
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
    }
    figures.duplicates += stored_ids.len().saturating_sub(told.len());
    figures.unsent += stored_ids.keys().filter(|id| !told.contains(*id)).count();
    Ok(())
}

/// In the database itself: one order per key that made one, every key finished, and as many
/// orders as requests.
fn check_postgres(sh: &Shell, url: &str, figures: &Figures) -> Result<()> {
    let query = "SELECT (SELECT count(*) FROM orders) || ' ' || \
                        (SELECT count(*) FROM idempotency_keys WHERE order_id IS NOT NULL) || ' ' || \
                        (SELECT count(DISTINCT order_id) FROM idempotency_keys) || ' ' || \
                        (SELECT count(*) FROM orders o WHERE o.subtotal <> \
                            (SELECT sum(CAST(line->>'line_total' AS NUMERIC)) \
                             FROM jsonb_array_elements(o.document->'lines') AS line)) || ' ' || \
                        (SELECT count(*) FROM simulated_gateway_ledger WHERE operation = 'authorize') || ' ' || \
                        (SELECT count(DISTINCT order_id) FROM simulated_gateway_ledger WHERE operation = 'authorize') || ' ' || \
                        (SELECT count(*) FROM orders WHERE payment_status = 'authorized') || ' ' || \
                        (SELECT count(*) FROM simulated_gateway_ledger WHERE operation = 'authorize' AND outcome = 'approved')";
    let tables = postgres::tables_url(url);
    let row = cmd!(sh, "psql {tables} -Atc {query}").read()?;
    let numbers: Vec<usize> = row
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let &[
        orders,
        linked_keys,
        distinct_orders,
        bad_subtotals,
        authorizations,
        authorized_orders,
        held,
        approved,
    ] = numbers.as_slice()
    else {
        bail!("unexpected answer from psql: {row}");
    };
    say(&format!(
        "reliability PostgreSQL, in the database: {orders} orders, {linked_keys} keys linked to {distinct_orders} orders, {bad_subtotals} wrong subtotals"
    ));
    say(&format!(
        "reliability PostgreSQL, payments: {authorizations} authorizations for {authorized_orders} orders \
         (never two for one), {held} orders authorized, {approved} approved by the gateway \
         (the rest declined, or timed out and unknown until reconciled)"
    ));
    if authorizations != authorized_orders || held > approved || authorizations != orders {
        bail!("an order was authorized twice, or not at all");
    }
    if orders != figures.requests
        || linked_keys != orders
        || distinct_orders != orders
        || bad_subtotals != 0
    {
        bail!("the database does not hold exactly one order per request");
    }
    Ok(())
}

/// total = Σ(quantity × unit price) − discount + tax, and each line total is its product.
fn adds_up(order: &Value) -> bool {
    let cents = |value: &Value| value.as_str().and_then(parse_cents);
    let mut subtotal = 0_i64;
    for item in order["items"].as_array().into_iter().flatten() {
        let (Some(quantity), Some(price), Some(line)) = (
            item["quantity"].as_i64(),
            cents(&item["unit_price"]),
            cents(&item["line_total"]),
        ) else {
            return false;
        };
        if quantity * price != line {
            return false;
        }
        subtotal += line;
    }
    match (
        cents(&order["subtotal"]),
        cents(&order["discount"]),
        cents(&order["tax"]),
        cents(&order["total"]),
    ) {
        (Some(sub), Some(discount), Some(tax), Some(total)) => {
            sub == subtotal && total == sub - discount + tax
        }
        _ => false,
    }
}

/// "19.99" → 1999 (USD amounts carry exactly two decimals).
fn parse_cents(text: &str) -> Option<i64> {
    let (units, cents) = text.split_once('.')?;
    (cents.len() == 2).then_some(())?;
    Some(units.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
}

const CUSTOMERS: usize = 20;

/// The signing secret the servers under test verify tokens with.
pub(crate) const JWT_SECRET: &str = "reliability-run-secret-of-at-least-32-bytes";

/// The bearer token every request of the run carries (an admin's, minted by `ordo token`).
pub(crate) static BEARER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn customer_id(n: usize) -> String {
    format!("0193a1a0-0000-7000-8000-{:012x}", 0xc000 + n)
}

pub(crate) fn order_body(index: usize) -> String {
    let items: Vec<String> = (0..=index % 5)
        .map(|line| {
            format!(
                r#"{{"product_id":"0193a1a0-0000-7000-8000-{:012x}","quantity":{},"unit_price":"{}.{:02}"}}"#,
                line + 1,
                1 + (index + line) % 4,
                1 + (index * 7 + line) % 90,
                (index * 13 + line) % 100
            )
        })
        .collect();
    format!(
        r#"{{"customer_id":"{}","currency":"USD","items":[{}],"discount":{{"type":"percentage","percent":"{}"}},"tax_rate":"0.0825"}}"#,
        customer_id(index % CUSTOMERS),
        items.join(","),
        index % 20
    )
}

/// A minimal blocking HTTP/1.1 exchange: `(status, body)`.
pub(crate) fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    http_with_head(address, method, path, headers, body).map(|(status, _, body)| (status, body))
}

/// As [`http`], with the response's head (status line and headers) too.
pub(crate) fn http_with_head(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    let body = body.unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        let _ = write!(request, "{name}: {value}\r\n");
    }
    if let Some(token) = BEARER.get() {
        let _ = write!(request, "Authorization: Bearer {token}\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or(std::io::ErrorKind::UnexpectedEof)?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or(std::io::ErrorKind::InvalidData)?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Ok((
        status,
        head.to_owned(),
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    ))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let (Some(chunk), Some(after)) = (rest.get(..size), rest.get(size..)) else {
            break;
        };
        if size == 0 {
            break;
        }
        out.push_str(chunk);
        body = after.trim_start_matches("\r\n");
    }
    out
}

/// A seed for the crash schedule; each run crashes at other moments.
pub(crate) fn seed() -> u64 {
    #[allow(
        clippy::disallowed_methods,
        reason = "the wall clock only seeds the schedule"
    )]
    let now = SystemTime::now();
    now.duration_since(UNIX_EPOCH)
        .map_or(1, |d| u64::from(d.subsec_nanos()) ^ d.as_secs())
        | 1
}

pub(crate) fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
