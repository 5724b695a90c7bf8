//! `cargo xtask reliability --events`: every change an event, every event delivered, whatever
//! crashes.
//!
//! Two replicas on one PostgreSQL database, with webhooks, NATS and a live WebSocket client.
//! Concurrent clients place orders and move each through several changes (an edit, a
//! cancellation or processing, shipping in two parts with the shop capturing on shipment, and
//! a refund), retrying whatever a crash left without an answer; meanwhile the replicas are
//! `kill -9`ed in turn and restarted. The
//! webhook receiver (Python, `xtask/python/receiver.py`) checks every delivery with the
//! official `standardwebhooks` library as it arrives and fails or times out on one in five on
//! purpose. Then, against every event in the database: each reached the receiver (answered
//! 2xx) at least once and every further copy carries an id already seen; every signature
//! verified; the WebSocket client, reconnecting from its last cursor after each kill, saw
//! each; the NATS stream holds exactly one message per event (read by `nats-py`); `ordo
//! audit verify` finds every chain whole; no order holds a fulfilment a retry made twice,
//! every completed order captured exactly its total, and the books agree with the gateway's
//! ledger (`ordo payments check`). A client that never reads its socket is cut off.

use std::collections::{HashMap, HashSet};
use std::io::BufRead as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;
use xshell::{Shell, cmd};

use crate::reliability::{self, Server, http_with_head, order_body};
use crate::{launch, postgres, say};

/// How hard to push.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    pub(crate) orders: usize,
    pub(crate) clients: usize,
    pub(crate) crashes: usize,
    pub(crate) release: bool,
}

impl Load {
    /// The run the issue asks for.
    pub(crate) const FULL: Self = Self {
        orders: 2000,
        clients: 32,
        crashes: 12,
        release: true,
    };
    /// The short form inside `cargo xtask ci`.
    pub(crate) const SHORT: Self = Self {
        orders: 150,
        clients: 8,
        crashes: 2,
        release: false,
    };
}

/// The webhook sender's timeout in the run; the receiver holds "timed out" answers longer.
const WEBHOOK_TIMEOUT_MS: u64 = 1000;

/// Retries come back within seconds here (ten attempts over about a minute and a half), not
/// over three days.
const RETRY_SECONDS: &str = "1,2,3,5,8,10,15,20,30";

/// How long the run waits, after the load, for every consumer to catch up.
const DRAIN_LIMIT: Duration = Duration::from_secs(240);

pub(crate) fn run(sh: &Shell, load: Load) -> Result<()> {
    let binary = reliability::build(sh, load.release)?;
    let token = launch::mint_admin_token(&binary, reliability::JWT_SECRET, "reliability")?;
    let _ = reliability::BEARER.set(token.clone());
    let _nats = crate::nats::ensure(sh)?;
    let work = crate::target_dir(sh).join("reliability");
    std::fs::create_dir_all(&work)?;
    let python = python(sh, &work)?;
    let database = postgres::ensure(sh)?;
    let admin = database.url().to_owned();
    let run_id = std::process::id();
    let name = format!("ordo_events_{run_id}");
    let create = format!("CREATE DATABASE {name}");
    cmd!(sh, "psql {admin} -qc {create}").quiet().run()?;
    let url = reliability::replace_database(&admin, &name);
    let stream = format!("ORDO_RELIABILITY_{run_id}");
    let result = Run {
        binary: &binary,
        python: &python,
        work: &work,
        url: &url,
        stream: &stream,
        token: &token,
        load,
    }
    .go(sh);
    let _ = Command::new(&python)
        .arg(xtask_dir().join("python/nats_stream.py"))
        .args(["nats://127.0.0.1:4222", &stream, "--delete"])
        .output();
    let failed = result
        .as_ref()
        .map_or(true, |figures| !figures.failures.is_empty());
    if failed {
        say(&format!(
            "reliability events: kept the database {name} to look into"
        ));
    } else {
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let _ = cmd!(sh, "psql {admin} -qc {drop}").quiet().run();
    }
    let figures = result?;
    for line in &figures.lines {
        say(&format!("reliability events: {line}"));
    }
    if !figures.failures.is_empty() {
        bail!(
            "reliability events: {} (see the figures above)",
            figures.failures.join("; ")
        );
    }
    Ok(())
}

fn xtask_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A virtual environment with the pinned judges (`xtask/python/requirements.txt`); its
/// `python`.
fn python(sh: &Shell, work: &Path) -> Result<PathBuf> {
    let venv = work.join("venv");
    let python = venv.join("bin/python");
    let requirements = xtask_dir().join("python/requirements.txt");
    let stamp = venv.join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)?;
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(python);
    }
    say("installing the judges (standardwebhooks, nats-py) in a virtual environment");
    cmd!(sh, "python3 -m venv {venv}").quiet().run()?;
    cmd!(sh, "{python} -m pip install -q -r {requirements}")
        .quiet()
        .run()
        .context("cannot install standardwebhooks and nats-py from PyPI")?;
    std::fs::write(&stamp, wanted)?;
    Ok(python)
}

struct Run<'a> {
    binary: &'a Path,
    python: &'a Path,
    work: &'a Path,
    url: &'a str,
    stream: &'a str,
    token: &'a str,
    load: Load,
}

/// The last lines of the run, and what failed.
#[derive(Default)]
struct Figures {
    lines: Vec<String>,
    failures: Vec<String>,
}

impl Figures {
    fn check(&mut self, ok: bool, failure: impl Into<String>) {
        if !ok {
            self.failures.push(failure.into());
        }
    }
}

/// A process killed when dropped (the receiver).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Run<'_> {
    /// Two replicas on the run's database, sending webhooks fast and publishing to NATS.
    fn start_servers(&self) -> Result<Vec<Server>> {
        let prefix = format!("ordo.reliability{}", std::process::id());
        let mut args = vec![
            "--database-url".to_owned(),
            self.url.to_owned(),
            "--webhook-allowed-networks".to_owned(),
            "127.0.0.1/32".to_owned(),
            "--webhook-timeout-ms".to_owned(),
            WEBHOOK_TIMEOUT_MS.to_string(),
            "--webhook-retry-seconds".to_owned(),
            RETRY_SECONDS.to_owned(),
            "--nats-url".to_owned(),
            "nats://127.0.0.1:4222".to_owned(),
            "--nats-stream".to_owned(),
            self.stream.to_owned(),
            "--nats-subject-prefix".to_owned(),
            prefix,
        ];
        // Socket reads long-poll for at most the request time limit less two seconds.
        args.extend(["--request-timeout-ms".to_owned(), "5000".to_owned()]);
        // Payments the gateway left unknown are settled (an event each) soon after.
        args.extend(["--reconcile-interval-seconds".to_owned(), "1".to_owned()]);
        // A payment call a kill left claimed is settled six seconds on, not two minutes.
        args.extend(["--payment-claim-grace-seconds".to_owned(), "6".to_owned()]);
        // Each shipment captures its share: several captures per order, each under its key.
        args.extend(["--capture".to_owned(), "on-shipment".to_owned()]);
        let mut servers = Vec::new();
        // Two take the load and the kills; a third, never killed, serves the client that never
        // reads, so only the server can cut it off.
        for replica in 0..3 {
            let mut server = Server {
                binary: self.binary.to_path_buf(),
                backend_args: args.clone(),
                address: TcpListener::bind("127.0.0.1:0")?.local_addr()?,
                log: self.work.join(format!("events-server-{replica}.log")),
                child: None,
            };
            let _ = std::fs::remove_file(&server.log);
            server.start()?;
            servers.push(server);
        }
        Ok(servers)
    }

    /// Adds the webhook endpoint through `server`, then starts the receiver holding its
    /// secret; the receiver and its log.
    fn receiver(&self, server: SocketAddr) -> Result<(Guard, PathBuf)> {
        let receiver_port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let body = format!(
            r#"{{"url":"http://127.0.0.1:{receiver_port}/hooks","description":"reliability receiver"}}"#
        );
        let (status, _, text) =
            http_with_head(server, "POST", "/v1/webhook-endpoints", &[], Some(&body))?;
        if status != 201 {
            bail!("could not add the webhook endpoint: {status} {text}");
        }
        let endpoint: Value = serde_json::from_str(&text)?;
        let secret = endpoint["secret"]
            .as_str()
            .context("the new endpoint shows no secret")?
            .to_owned();
        let received_log = self.work.join("events-received.jsonl");
        let _ = std::fs::remove_file(&received_log);
        let hold_ms = (WEBHOOK_TIMEOUT_MS + 1000).to_string();
        let mut receiving = Command::new(self.python)
            .arg(xtask_dir().join("python/receiver.py"))
            .arg(receiver_port.to_string())
            .arg(&secret)
            .arg(&received_log)
            .arg(hold_ms)
            .stdout(Stdio::piped())
            // Its server reports every connection ordo gave up on; kept, not shown.
            .stderr(std::fs::File::create(self.work.join("events-receiver.log"))?)
            .spawn()
            .context("cannot start the webhook receiver")?;
        if let Some(stdout) = receiving.stdout.take() {
            let mut line = String::new();
            std::io::BufReader::new(stdout).read_line(&mut line)?;
        }
        Ok((Guard(receiving), received_log))
    }

    fn go(&self, sh: &Shell) -> Result<Figures> {
        let mut servers = self.start_servers()?;
        let quiet = servers.pop().context("no third replica")?;
        let addresses: Vec<SocketAddr> = servers.iter().map(|server| server.address).collect();
        let first = *addresses.first().context("no replica")?;

        let (_receiving, received_log) = self.receiver(first)?;

        // The socket clients: one follows the replica that is killed next; one never reads.
        let victim = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = Watcher::default();
        let watching = {
            let (watcher, addresses, victim, stop, token) = (
                watcher.clone(),
                addresses.clone(),
                victim.clone(),
                stop.clone(),
                self.token.to_owned(),
            );
            std::thread::spawn(move || watch(&watcher, &addresses, &victim, &stop, &token))
        };
        let sleeper = Sleeper::connect(quiet.address, self.token)?;

        // The load, with kills.
        let progress = Progress::default();
        say(&format!(
            "reliability events: {} orders moved through their changes by {} clients over 2 replicas, {} kill -9s, webhooks failing 20 %, WebSocket and NATS",
            self.load.orders, self.load.clients, self.load.crashes
        ));
        let clients: Vec<_> = (0..self.load.clients)
            .map(|_| {
                let (progress, addresses, orders) =
                    (progress.clone(), addresses.clone(), self.load.orders);
                std::thread::spawn(move || client(&progress, &addresses, orders))
            })
            .collect();
        let mut random = reliability::seed();
        let deadline = Instant::now() + Duration::from_secs(900);
        let mut kills = 0;
        for crash in 0..self.load.crashes {
            let target = self.load.orders * (crash + 1) / (self.load.crashes + 1);
            while progress.done.load(Ordering::SeqCst) < target && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(
                reliability::next_random(&mut random) % 40,
            ));
            let index = crash % servers.len();
            let server = servers.get_mut(index).context("no replica")?;
            server.kill();
            kills += 1;
            // The socket client goes to the replica killed next.
            victim.store((crash + 1) % addresses.len(), Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(
                100 + reliability::next_random(&mut random) % 400,
            ));
            server.start()?;
        }
        for client in clients {
            let _ = client.join();
        }
        let started_draining = Instant::now();

        let lag = self.drain(sh, &received_log, &watcher, started_draining)?;
        let drained = started_draining.elapsed();
        stop.store(true, Ordering::SeqCst);
        let _ = watching.join();
        let cut = sleeper.finish();
        for server in &mut servers {
            server.kill();
        }
        let events = self.event_ids(sh)?;
        let nats = self.nats()?;
        let per_order = self.per_order(sh)?;
        let shipments = self.shipments(sh)?;
        let deliveries = self.deliveries(sh)?;

        self.judge(&Outcome {
            progress: &progress,
            events: &events,
            nats: &nats,
            received: &read_received(&received_log),
            watcher: &watcher,
            kills,
            drained,
            lag: &lag,
            cut: &cut,
            per_order,
            shipments,
            deliveries: &deliveries,
        })
    }

    /// Waits until every consumer has caught up with the database, twice in a row with no new
    /// event (the reconciliation pass may still settle a payment the gateway left unknown),
    /// or [`DRAIN_LIMIT`] has passed.
    fn drain(
        &self,
        sh: &Shell,
        received_log: &Path,
        watcher: &Watcher,
        started_draining: Instant,
    ) -> Result<String> {
        let mut events = HashSet::new();
        let mut caught_up = 0;
        let mut when: [Option<Duration>; 3] = [None; 3];
        while started_draining.elapsed() < DRAIN_LIMIT && caught_up < 2 {
            std::thread::sleep(Duration::from_secs(2));
            let now = self.event_ids(sh)?;
            let received = read_received(received_log);
            let seen = watcher.seen()?;
            let nats = self.nats()?;
            let each = [
                now.iter().all(|id| received.ok.contains(id)),
                now.iter().all(|id| seen.contains(id)),
                nats.messages >= now.len(),
            ];
            for (at, done) in when.iter_mut().zip(each) {
                *at = if done {
                    at.or(Some(started_draining.elapsed()))
                } else {
                    None
                };
            }
            let done = each.iter().all(|done| *done);
            caught_up = if done && now.len() == events.len() {
                caught_up + 1
            } else {
                usize::from(done)
            };
            events = now;
        }
        let [webhooks, socket, nats] =
            when.map(|at| at.map_or_else(|| "never".to_owned(), |at| format!("{at:.0?}")));
        Ok(format!(
            "webhooks after {webhooks}, the socket after {socket}, NATS after {nats} (checked every two seconds)"
        ))
    }

    /// The figures, against every event in the database.
    fn judge(&self, outcome: &Outcome<'_>) -> Result<Figures> {
        let Outcome {
            progress,
            events,
            nats,
            received,
            watcher,
            kills,
            drained,
            lag,
            cut,
            per_order: (with_events, fewest, mean_hundredths, twice),
            shipments,
            deliveries,
        } = outcome;
        let mut figures = Figures::default();
        let requests = progress.requests.load(Ordering::SeqCst);
        let retries = progress.retries.load(Ordering::SeqCst);
        let unexpected = progress
            .unexpected
            .lock()
            .map_err(|_| anyhow::anyhow!("a client panicked"))?
            .clone();
        figures.lines.push(format!(
            "{} orders, {requests} requests ({retries} retried after a kill or a lease), {kills} kill -9s over 2 replicas, {} events in the database; after the load, caught up: {lag} (stopped waiting after {:.0?})",
            progress.done.load(Ordering::SeqCst),
            events.len(),
            drained
        ));
        figures.check(
            progress.done.load(Ordering::SeqCst) == self.load.orders,
            "not every order finished its changes",
        );
        figures.lines.push(format!(
            "events per order: {with_events} orders with events, at least {fewest} each, {}.{:02} on average; {twice} orders with two refunds asked",
            mean_hundredths / 100,
            mean_hundredths % 100
        ));
        // Every order placed has its placement and its payment's outcome; most move on.
        figures.check(
            *with_events == self.load.orders && *fewest >= 2 && *mean_hundredths >= 400,
            "the orders did not go through their changes (see events per order)",
        );
        figures.check(
            *twice == 0,
            format!("{twice} orders had a refund asked twice with one key"),
        );
        if !unexpected.is_empty() {
            figures.lines.push(format!(
                "{} unexpected answers, first: {}",
                unexpected.len(),
                unexpected.first().cloned().unwrap_or_default()
            ));
        }
        figures.check(
            unexpected.is_empty(),
            "the API gave answers no client expects",
        );

        judge_shipments(&mut figures, shipments);
        judge_webhooks(&mut figures, events, received);
        figures
            .lines
            .push(format!("webhook deliveries in the database: {deliveries}"));
        self.judge_socket(&mut figures, events, watcher, cut);
        self.judge_nats(&mut figures, events, nats);

        // The chains.
        let audit = Command::new(self.binary)
            .args(["audit", "verify", "--database-url", self.url])
            .env_remove("DATABASE_URL")
            .output()
            .context("cannot run ordo audit verify")?;
        let said = String::from_utf8_lossy(&audit.stdout).trim().to_owned();
        figures.lines.push(said.clone());
        figures.check(
            audit.status.success(),
            format!(
                "ordo audit verify failed: {said} {}",
                String::from_utf8_lossy(&audit.stderr).trim()
            ),
        );
        self.judge_books(&mut figures)?;
        Ok(figures)
    }

    /// The money: every claim settled (none should be left), then every approval in the
    /// gateway's ledger on its order and no order showing money the ledger does not.
    fn judge_books(&self, figures: &mut Figures) -> Result<()> {
        for args in [
            &["payments", "reconcile", "--grace-seconds", "0"][..],
            &["payments", "check"][..],
        ] {
            let run = Command::new(self.binary)
                .args(args)
                .args(["--database-url", self.url])
                .env_remove("DATABASE_URL")
                .output()
                .with_context(|| format!("cannot run ordo {}", args.join(" ")))?;
            let said = String::from_utf8_lossy(&run.stdout).trim().to_owned();
            figures.lines.push(said.clone());
            figures.check(
                run.status.success(),
                format!(
                    "ordo {} failed: {said} {}",
                    args.join(" "),
                    String::from_utf8_lossy(&run.stderr).trim()
                ),
            );
        }
        Ok(())
    }

    /// Every event reached the socket client, in each order's sequence; the sleeper was cut.
    fn judge_socket(
        &self,
        figures: &mut Figures,
        events: &HashSet<String>,
        watcher: &Watcher,
        cut: &str,
    ) {
        let seen = watcher.seen().unwrap_or_default();
        let unseen = events.iter().filter(|id| !seen.contains(*id)).count();
        let reconnects = watcher.connects.load(Ordering::SeqCst).saturating_sub(1);
        let out_of_order = watcher.out_of_order.load(Ordering::SeqCst);
        let endings = watcher
            .endings
            .lock()
            .map(|endings| endings.clone())
            .unwrap_or_default();
        figures.lines.push(format!(
            "WebSocket: {} of {} events seen ({unseen} missed), {reconnects} reconnects resuming from the last cursor, {out_of_order} seen out of their order's sequence (connections ended: {endings:?}); a client that never read was {cut}",
            events.len() - unseen,
            events.len()
        ));
        figures.check(
            unseen == 0,
            format!("the socket client missed {unseen} events"),
        );
        figures.check(
            reconnects >= self.load.crashes,
            "the socket client did not reconnect after each kill",
        );
        figures.check(
            out_of_order == 0,
            "the socket showed an order's events out of sequence",
        );
        // Only a run with more events than the kernel's socket buffers hold (several
        // megabytes on loopback) can block the server's sends.
        if self.load.orders >= 1000 {
            figures.check(
                cut.starts_with("cut off"),
                "the client that never read was not cut off",
            );
        }
    }

    /// The stream holds exactly one message per event.
    fn judge_nats(&self, figures: &mut Figures, events: &HashSet<String>, nats: &NatsCount) {
        let mut per_id: HashMap<&str, usize> = HashMap::new();
        for id in &nats.ids {
            *per_id.entry(id.as_str()).or_default() += 1;
        }
        let missing = events
            .iter()
            .filter(|id| !per_id.contains_key(id.as_str()))
            .count();
        let doubled = per_id.values().filter(|count| **count > 1).count();
        let strays = per_id.keys().filter(|id| !events.contains(**id)).count();
        figures.lines.push(format!(
            "NATS: stream {} holds {} messages for {} events ({missing} missing, {doubled} twice, {strays} for no event)",
            self.stream,
            nats.messages,
            events.len()
        ));
        figures.check(
            missing == 0 && doubled == 0 && strays == 0 && nats.messages == events.len(),
            "the NATS stream does not hold exactly one message per event",
        );
    }

    /// What the database says of each order's events: orders with events, the fewest and the
    /// mean per order, and orders with more than one refund requested (each client asks for
    /// at most one, with one key, retried across kills).
    fn per_order(&self, sh: &Shell) -> Result<(usize, usize, usize, usize)> {
        let tables = postgres::tables_url(self.url);
        let query = "SELECT count(*) || ' ' || min(n) || ' ' || CAST(round(avg(n) * 100) AS bigint) || ' ' || \
                            (SELECT count(*) FROM (SELECT order_id FROM order_events \
                             WHERE kind = 'refund.requested' GROUP BY order_id HAVING count(*) > 1) twice) \
                     FROM (SELECT order_id, count(*) AS n FROM order_events GROUP BY order_id) per";
        let row = cmd!(sh, "psql {tables} -Atc {query}").quiet().read()?;
        let numbers: Vec<usize> = row
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let &[orders, fewest, mean_hundredths, twice] = numbers.as_slice() else {
            bail!("unexpected answer from psql: {row}");
        };
        Ok((orders, fewest, mean_hundredths, twice))
    }

    /// The orders' shipments and captures, as the database holds them (see [`Shipments`]).
    fn shipments(&self, sh: &Shell) -> Result<Shipments> {
        let tables = postgres::tables_url(self.url);
        let query = "SELECT count(*) FILTER (WHERE status = 'completed') || ' ' || \
                            COALESCE(sum(parts), 0) || ' ' || \
                            count(*) FILTER (WHERE parts > 2) || ' ' || \
                            count(*) FILTER (WHERE status = 'completed' AND amount_captured <> total) || ' ' || \
                            count(*) FILTER (WHERE status = 'processing') \
                     FROM (SELECT status, amount_captured, total, \
                                  jsonb_array_length(COALESCE(CAST(document AS jsonb) -> 'fulfillments', '[]')) AS parts \
                           FROM orders WHERE deleted_at IS NULL) o";
        let row = cmd!(sh, "psql {tables} -Atc {query}").quiet().read()?;
        let numbers: Vec<usize> = row
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let &[completed, fulfillments, doubled, miscaptured, processing] = numbers.as_slice()
        else {
            bail!("unexpected answer from psql: {row}");
        };
        Ok(Shipments {
            completed,
            fulfillments,
            doubled,
            miscaptured,
            processing,
        })
    }

    /// The deliveries by status, as the database holds them.
    fn deliveries(&self, sh: &Shell) -> Result<String> {
        let tables = postgres::tables_url(self.url);
        let query = "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) \
                     FROM (SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status) s";
        Ok(cmd!(sh, "psql {tables} -Atc {query}").quiet().read()?)
    }

    /// Every event id in the database.
    fn event_ids(&self, sh: &Shell) -> Result<HashSet<String>> {
        let tables = postgres::tables_url(self.url);
        let query = "SELECT id FROM order_events";
        let ids = cmd!(sh, "psql {tables} -Atc {query}").quiet().read()?;
        Ok(ids.lines().map(str::to_owned).collect())
    }

    fn nats(&self) -> Result<NatsCount> {
        let output = Command::new(self.python)
            .arg(xtask_dir().join("python/nats_stream.py"))
            .args(["nats://127.0.0.1:4222", self.stream])
            .output()
            .context("cannot run nats_stream.py")?;
        if !output.status.success() {
            // The stream appears with the first event published.
            return Ok(NatsCount::default());
        }
        let answer: Value = serde_json::from_slice(&output.stdout)?;
        Ok(NatsCount {
            messages: answer["messages"]
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0),
            ids: answer["ids"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|id| id.as_str().unwrap_or_default().to_owned())
                .collect(),
        })
    }
}

/// No fulfilment made twice, every completed order's captures its total, none left processing.
fn judge_shipments(figures: &mut Figures, shipments: &Shipments) {
    figures.lines.push(format!(
        "shipments: {} completed orders, {} fulfilments, {} orders with a fulfilment made twice, {} completed orders whose captures are not their total, {} left processing",
        shipments.completed,
        shipments.fulfillments,
        shipments.doubled,
        shipments.miscaptured,
        shipments.processing
    ));
    figures.check(
        shipments.completed > 0
            && shipments.doubled == 0
            && shipments.miscaptured == 0
            && shipments.processing == 0,
        "the shipments or their captures went wrong (see shipments)",
    );
}

/// Every event reached the receiver; every request to it verified.
fn judge_webhooks(figures: &mut Figures, events: &HashSet<String>, received: &Received) {
    let lost = events
        .iter()
        .filter(|id| !received.ok.contains(*id))
        .count();
    let unknown = received
        .ids
        .iter()
        .filter(|id| !events.contains(*id))
        .count();
    figures.lines.push(format!(
        "webhooks: {} of {} events delivered ({lost} lost), {} requests: {} answered 2xx, {} failed and {} held past the timeout on purpose; {} duplicates, all carrying an id already seen; {} of {} signatures verified by standardwebhooks 1.1.0; {unknown} ids no event has",
        events.len() - lost,
        events.len(),
        received.requests,
        received.ok_answers,
        received.failed,
        received.timed_out,
        received.duplicates,
        received.verified,
        received.requests,
    ));
    figures.check(
        lost == 0,
        format!("{lost} events never reached the receiver"),
    );
    figures.check(
        received.verified == received.requests,
        format!(
            "{} deliveries failed the official verifier (first: {})",
            received.requests - received.verified,
            received.first_error
        ),
    );
    figures.check(
        received.mismatched == 0,
        "a body's event id is not its webhook-id",
    );
    figures.check(unknown == 0, "the receiver got an id no event has");
}

/// What the run left to judge.
struct Outcome<'a> {
    progress: &'a Progress,
    events: &'a HashSet<String>,
    nats: &'a NatsCount,
    received: &'a Received,
    watcher: &'a Watcher,
    kills: usize,
    drained: Duration,
    lag: &'a str,
    per_order: (usize, usize, usize, usize),
    shipments: Shipments,
    deliveries: &'a str,
    cut: &'a str,
}

/// What the database says of the orders' shipments and captures.
#[derive(Debug, Clone, Copy)]
struct Shipments {
    /// Completed orders.
    completed: usize,
    /// Fulfilments in all.
    fulfillments: usize,
    /// Orders with more fulfilments than their client made (two at most).
    doubled: usize,
    /// Completed orders whose captures do not add up to their total.
    miscaptured: usize,
    /// Orders left processing (each is shipped, and its last capture completes it).
    processing: usize,
}

#[derive(Default)]
struct NatsCount {
    messages: usize,
    ids: Vec<String>,
}

/// What the receiver's log says.
#[derive(Default)]
struct Received {
    requests: usize,
    ok_answers: usize,
    failed: usize,
    timed_out: usize,
    verified: usize,
    mismatched: usize,
    duplicates: usize,
    first_error: String,
    /// Ids answered 2xx.
    ok: HashSet<String>,
    /// Every id received.
    ids: HashSet<String>,
}

fn read_received(log: &Path) -> Received {
    let mut received = Received::default();
    let Ok(text) = std::fs::read_to_string(log) else {
        return received;
    };
    for line in text.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        received.requests += 1;
        let id = entry["id"].as_str().unwrap_or_default().to_owned();
        if entry["verified"] == true {
            received.verified += 1;
            if entry["event"].as_str() != Some(id.as_str()) {
                received.mismatched += 1;
            }
        } else if received.first_error.is_empty() {
            received.first_error = entry["error"].to_string();
        }
        match entry["outcome"].as_str() {
            Some("ok") => {
                received.ok_answers += 1;
                // A copy of one taken before: the consumer's deduplication key is its id.
                if !received.ok.insert(id.clone()) {
                    received.duplicates += 1;
                }
            }
            Some("failed") => received.failed += 1,
            _ => received.timed_out += 1,
        }
        received.ids.insert(id);
    }
    received
}

/// What the load clients share.
#[derive(Clone, Default)]
struct Progress {
    next: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    retries: Arc<AtomicUsize>,
    unexpected: Arc<Mutex<Vec<String>>>,
}

/// One request, sent until it gets a final answer (any but a dropped connection, a 5xx, or a
/// 409 saying its key or payment is still in flight), each retry to the next replica.
fn exchange(
    progress: &Progress,
    addresses: &[SocketAddr],
    turn: &mut usize,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Value) {
    // A request no replica answers for minutes is a failure, not something to wait out.
    for _ in 0..MAX_TRIES {
        *turn = turn.wrapping_add(1);
        let Some(&address) = addresses.get(*turn % addresses.len().max(1)) else {
            return (0, Value::Null);
        };
        progress.requests.fetch_add(1, Ordering::SeqCst);
        if let Ok((status, _, text)) = http_with_head(address, method, path, headers, body) {
            let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let in_flight = status == 409
                && answer["type"].as_str().is_some_and(|kind| {
                    kind.ends_with("idempotency-key-in-use")
                        || kind.ends_with("payment-in-progress")
                });
            if !(status >= 500 || in_flight) {
                return (status, answer);
            }
            progress.retries.fetch_add(1, Ordering::SeqCst);
            // As asked (Retry-After: 1), or soon after a dropped connection.
            std::thread::sleep(Duration::from_millis(if in_flight { 1000 } else { 50 }));
            continue;
        }
        progress.retries.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
    }
    (0, Value::Null)
}

/// How often one request is sent before the run gives up on it (about two minutes).
const MAX_TRIES: usize = 2400;

/// Takes the next order and moves it through its changes until there are none left.
fn client(progress: &Progress, addresses: &[SocketAddr], orders: usize) {
    loop {
        let index = progress.next.fetch_add(1, Ordering::SeqCst);
        if index >= orders {
            return;
        }
        if let Err(unexpected) = changes(progress, addresses, index)
            && let Ok(mut all) = progress.unexpected.lock()
        {
            all.push(unexpected);
        }
        progress.done.fetch_add(1, Ordering::SeqCst);
    }
}

/// Places order `index`, then: a staff note; every fourth cancelled; the rest processing,
/// shipped in two parts (each capturing its share, the last completing the order) and every
/// other one refunded in part. A step whose earlier attempt
/// went through before a crash (412 on the retry) reads the order and goes on.
fn changes(progress: &Progress, addresses: &[SocketAddr], index: usize) -> Result<(), String> {
    let mut turn = index;
    let key = |step: &str| format!("events-{}-{index}-{step}", std::process::id());
    let body = order_body(index);
    let (status, order) = exchange(
        progress,
        addresses,
        &mut turn,
        "POST",
        "/v1/orders",
        &[("Idempotency-Key", &key("place"))],
        Some(&body),
    );
    let id = match status {
        201 => order["id"].as_str().unwrap_or_default().to_owned(),
        // Declined: placed, no payment to move on.
        402 => return Ok(()),
        _ => return Err(format!("placing: {status} {order}")),
    };
    let mut version = order["version"].as_u64().unwrap_or(1);
    let path = format!("/v1/orders/{id}");
    let mut step = |method: &str,
                    suffix: &str,
                    body: String,
                    keyed: Option<String>,
                    version: &mut u64|
     -> Result<(), String> {
        let etag = format!("\"{version}\"");
        let mut headers = vec![("If-Match", etag.as_str())];
        if let Some(key) = &keyed {
            headers.push(("Idempotency-Key", key.as_str()));
        }
        let target = format!("{path}{suffix}");
        let (status, answer) = exchange(
            progress,
            addresses,
            &mut turn,
            method,
            &target,
            &headers,
            Some(&body),
        );
        match status {
            200 | 201 => {
                if let Some(next) = answer["version"].as_u64() {
                    *version = next;
                } else {
                    *version = current_version(progress, addresses, &path)?;
                }
                Ok(())
            }
            // Went through before a crash, or the payment's state moved the order on.
            412 | 409 => {
                *version = current_version(progress, addresses, &path)?;
                Ok(())
            }
            _ => Err(format!("{method} {target}: {status} {answer}")),
        }
    };
    step(
        "PATCH",
        "",
        format!(r#"{{"staff_note":"checked by the run, order {index}"}}"#),
        None,
        &mut version,
    )?;
    if index.is_multiple_of(4) {
        return step(
            "POST",
            "/cancel",
            r#"{"reason":"the customer changed their mind"}"#.to_owned(),
            Some(key("cancel")),
            &mut version,
        );
    }
    step(
        "POST",
        "/transitions",
        r#"{"to":"processing"}"#.to_owned(),
        Some(key("processing")),
        &mut version,
    )?;
    ship_in_two_parts(progress, addresses, index, &path, &order, &key)?;
    if index % 2 == 1 {
        refund(progress, addresses, &mut turn, &path, &key("refund"))?;
    }
    Ok(())
}

/// Ships order `index` in two fulfilments (one unit of the first line, then the rest), each
/// made and shipped with its own key; the last one's capture completes the order.
fn ship_in_two_parts(
    progress: &Progress,
    addresses: &[SocketAddr],
    index: usize,
    path: &str,
    order: &Value,
    key: &dyn Fn(&str) -> String,
) -> Result<(), String> {
    // Two shipments: one unit of the first line, then the rest; the last one's capture
    // completes the order.
    let quantities: Vec<u64> = order["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["quantity"].as_u64())
                .collect()
        })
        .unwrap_or_default();
    let rest: Vec<String> = quantities
        .iter()
        .enumerate()
        .map(|(line, quantity)| (line, quantity - u64::from(line == 0)))
        .filter(|(_, quantity)| *quantity > 0)
        .map(|(line, quantity)| format!(r#"{{"line":{line},"quantity":{quantity}}}"#))
        .collect();
    let mut parts = vec![r#"{"line":0,"quantity":1}"#.to_owned()];
    if !rest.is_empty() {
        parts.push(rest.join(","));
    }
    // Shipped without a version (the keyed ids and keys make retries safe): a replayed answer
    // may show an older one.
    let mut fulfil_turn = index.wrapping_add(1);
    for (part, lines) in parts.iter().enumerate() {
        let made = fulfil(
            progress,
            addresses,
            &mut fulfil_turn,
            path,
            &format!(r#"{{"lines":[{lines}]}}"#),
            &key(&format!("fulfil-{part}")),
        )?;
        // Not fulfilled: the order is not processing (its payment was left unknown).
        let Some(fulfillment) = made else { break };
        let (status, answer) = exchange(
            progress,
            addresses,
            &mut fulfil_turn,
            "POST",
            &format!("{path}/fulfillments/{fulfillment}/transitions"),
            &[("Idempotency-Key", &key(&format!("ship-{part}")))],
            Some(r#"{"to":"shipped"}"#),
        );
        if status != 200 {
            return Err(format!("shipping: {status} {answer}"));
        }
    }
    Ok(())
}

/// A fulfilment made with `key` (no version: its keyed id makes a retry find it): its id, or
/// none when the order is not one to fulfil.
fn fulfil(
    progress: &Progress,
    addresses: &[SocketAddr],
    turn: &mut usize,
    path: &str,
    body: &str,
    key: &str,
) -> Result<Option<String>, String> {
    let (status, answer) = exchange(
        progress,
        addresses,
        turn,
        "POST",
        &format!("{path}/fulfillments"),
        &[("Idempotency-Key", key)],
        Some(body),
    );
    match status {
        201 => match answer["id"].as_str() {
            Some(id) => Ok(Some(id.to_owned())),
            None => Err(format!("fulfilling: 201 without an id: {answer}")),
        },
        409 => Ok(None),
        _ => Err(format!("fulfilling: {status} {answer}")),
    }
}

/// A partial refund of a completed order.
fn refund(
    progress: &Progress,
    addresses: &[SocketAddr],
    turn: &mut usize,
    path: &str,
    key: &str,
) -> Result<(), String> {
    let (status, answer) = exchange(
        progress,
        addresses,
        turn,
        "POST",
        &format!("{path}/refunds"),
        &[("Idempotency-Key", key)],
        Some(r#"{"amount":"1.00","reason":"damaged in transit"}"#),
    );
    // 409: nothing captured to refund (its payment was still unknown).
    if matches!(status, 200 | 201 | 202 | 409) {
        Ok(())
    } else {
        Err(format!("refunding: {status} {answer}"))
    }
}

fn current_version(
    progress: &Progress,
    addresses: &[SocketAddr],
    path: &str,
) -> Result<u64, String> {
    let mut turn = 0;
    let (status, order) = exchange(progress, addresses, &mut turn, "GET", path, &[], None);
    order["version"]
        .as_u64()
        .ok_or_else(|| format!("reading {path}: {status} {order}"))
}

/// What the socket client saw.
#[derive(Clone, Default)]
struct Watcher {
    seen: Arc<Mutex<HashSet<String>>>,
    connects: Arc<AtomicUsize>,
    out_of_order: Arc<AtomicUsize>,
    /// How each connection ended, counted.
    endings: Arc<Mutex<HashMap<String, usize>>>,
}

impl Watcher {
    fn seen(&self) -> Result<HashSet<String>> {
        Ok(self
            .seen
            .lock()
            .map_err(|_| anyhow::anyhow!("the socket client panicked"))?
            .clone())
    }
}

/// Opens `/v1/events/ws` with the token as a subprotocol, as a browser would.
fn open_socket(
    address: SocketAddr,
    token: &str,
    after: Option<&str>,
) -> Result<tungstenite::WebSocket<TcpStream>> {
    use tungstenite::client::IntoClientRequest as _;
    let query = after
        .map(|cursor| format!("?after={cursor}"))
        .unwrap_or_default();
    let mut request = format!("ws://{address}/v1/events/ws{query}").into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        format!("ordo.v1, bearer.{token}").parse()?,
    );
    let stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let (socket, response) = tungstenite::client(request, stream)
        .map_err(|error| anyhow::anyhow!("WebSocket handshake: {error}"))?;
    let protocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|value| value.to_str().ok());
    if protocol != Some("ordo.v1") {
        bail!("the server answered subprotocol {protocol:?}, not ordo.v1");
    }
    socket
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(500)))?;
    Ok(socket)
}

/// Follows the feed over a socket until `stop`, on the replica `victim` names (the one killed
/// next), reconnecting from its last cursor whenever the connection ends.
fn watch(
    watcher: &Watcher,
    addresses: &[SocketAddr],
    victim: &AtomicUsize,
    stop: &AtomicBool,
    token: &str,
) {
    let mut cursor: Option<String> = None;
    let mut versions: HashMap<String, u64> = HashMap::new();
    while !stop.load(Ordering::SeqCst) {
        let Some(&address) = addresses.get(victim.load(Ordering::SeqCst) % addresses.len().max(1))
        else {
            return;
        };
        let Ok(mut socket) = open_socket(address, token, cursor.as_deref()) else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        watcher.connects.fetch_add(1, Ordering::SeqCst);
        loop {
            match socket.read() {
                Ok(tungstenite::Message::Text(text)) => {
                    let Ok(event) = serde_json::from_str::<Value>(&text) else {
                        continue;
                    };
                    cursor = event["cursor"].as_str().map(str::to_owned);
                    let order = event["order_id"].as_str().unwrap_or_default().to_owned();
                    let version = event["version"].as_u64().unwrap_or(0);
                    // An order's events come in its versions' order (a refund's outcome keeps
                    // the version, so equal is fine).
                    let last = versions.entry(order).or_default();
                    if version < *last {
                        watcher.out_of_order.fetch_add(1, Ordering::SeqCst);
                    }
                    *last = version;
                    if let (Some(id), Ok(mut seen)) = (event["id"].as_str(), watcher.seen.lock()) {
                        seen.insert(id.to_owned());
                    }
                }
                Ok(tungstenite::Message::Close(frame)) => {
                    let code = frame.map_or(0, |frame| u16::from(frame.code));
                    if let Ok(mut endings) = watcher.endings.lock() {
                        *endings.entry(format!("close {code}")).or_default() += 1;
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(error))
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                }
                Err(error) => {
                    let ending = match error {
                        tungstenite::Error::ConnectionClosed => "closed".to_owned(),
                        tungstenite::Error::Io(error) => format!("{:?}", error.kind()),
                        other => other.to_string(),
                    };
                    if let Ok(mut endings) = watcher.endings.lock() {
                        *endings.entry(ending).or_default() += 1;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    break;
                }
            }
        }
    }
}

/// A socket client that reads nothing until the end: the server must cut it off rather than
/// hold the events it cannot send.
struct Sleeper(tungstenite::WebSocket<TcpStream>);

impl Sleeper {
    fn connect(address: SocketAddr, token: &str) -> Result<Self> {
        Ok(Self(open_socket(address, token, None)?))
    }

    /// Reads what was sent; how the connection ended.
    fn finish(mut self) -> String {
        let mut events = 0;
        let mut last = Instant::now();
        loop {
            match self.0.read() {
                Ok(tungstenite::Message::Text(_)) => {
                    events += 1;
                    last = Instant::now();
                }
                Ok(tungstenite::Message::Close(frame)) => {
                    return format!(
                        "cut off after {events} events with close code {}",
                        frame.map_or_else(
                            || "none".to_owned(),
                            |frame| u16::from(frame.code).to_string()
                        )
                    );
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(error))
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    // Five quiet seconds after what was buffered: the server kept it open.
                    if last.elapsed() > Duration::from_secs(5) {
                        return format!("still connected after {events} events");
                    }
                }
                Err(error) => return format!("cut off after {events} events ({error})"),
            }
        }
    }
}
