//! The database-outage half of `cargo xtask reliability`: cut PostgreSQL away for ten seconds
//! under load, through a TCP proxy this run owns (never touching the machine's server), and
//! check that the server answers 503 problems quickly instead of hanging, comes back within two
//! seconds of the database returning without a restart, and loses nothing it acknowledged.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs as _};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use crate::reliability::{Server, http, order_body};
use crate::say;

/// How long the database is gone.
const OUTAGE: Duration = Duration::from_secs(10);
/// The slowest acceptable answer while it is gone: the pool's 5 s acquire timeout, plus slack.
const SLOWEST_ANSWER: Duration = Duration::from_secs(7);
/// How soon after the database returns orders must be placed again.
const RECOVERY: Duration = Duration::from_secs(2);

/// A TCP proxy in front of PostgreSQL that can drop every connection and refuse new ones.
struct Proxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let proxy = Self {
            address: listener.local_addr()?,
            up: Arc::new(AtomicBool::new(true)),
            stop: Arc::new(AtomicBool::new(false)),
            live: Arc::new(Mutex::new(Vec::new())),
        };
        let (up, stop, live) = (proxy.up.clone(), proxy.stop.clone(), proxy.live.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                // Checked and registered under the lock `cut` takes, so no connection slips
                // through a cut.
                let Ok(mut open) = live.lock() else { continue };
                if !up.load(Ordering::SeqCst) {
                    continue; // While down, every new connection is dropped at once.
                }
                if let (Ok(c), Ok(s)) = (client.try_clone(), server.try_clone()) {
                    open.push(c);
                    open.push(s);
                }
                drop(open);
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        Ok(proxy)
    }

    /// Drops every open connection and refuses new ones.
    fn cut(&self) {
        if let Ok(mut live) = self.live.lock() {
            self.up.store(false, Ordering::SeqCst);
            for stream in live.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut();
    }
}

fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buffer = [0_u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    if to
                        .write_all(buffer.get(..read).unwrap_or_default())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// One answer a client got.
struct Answered {
    status: u16,
    sent: Instant,
    took: Duration,
    order_id: Option<String>,
}

/// What the outage run found.
pub(crate) struct OutageFigures {
    pub(crate) answers_during: usize,
    pub(crate) other_statuses: Vec<u16>,
    pub(crate) problems_during: usize,
    pub(crate) slowest_during: Duration,
    pub(crate) hung: usize,
    pub(crate) recovered_after: Option<Duration>,
    pub(crate) acknowledged: usize,
    pub(crate) lost: usize,
}

pub(crate) fn run(binary: &Path, database_url: &str, work: &Path) -> Result<OutageFigures> {
    let (before_host, rest) = database_url
        .split_once('@')
        .context("DATABASE_URL has no host")?;
    let (host_port, database) = rest
        .split_once('/')
        .context("DATABASE_URL has no database")?;
    let target = host_port
        .to_socket_addrs()?
        .next()
        .context("cannot resolve the database's address")?;
    let proxy = Proxy::start(target)?;
    let through_proxy = format!("{before_host}@{}/{database}", proxy.address);
    let address: SocketAddr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut server = Server {
        binary: binary.to_path_buf(),
        backend_args: vec!["--database-url".to_owned(), through_proxy],
        address,
        log: work.join("outage-server.log"),
        child: None,
    };
    let _ = std::fs::remove_file(&server.log);
    server.start()?;
    say(&format!(
        "reliability outage: PostgreSQL cut away for {}s under load",
        OUTAGE.as_secs()
    ));

    let shared = Shared::default();
    let clients: Vec<_> = (0..8)
        .map(|client| spawn_client(client, address, shared.clone()))
        .collect();

    std::thread::sleep(Duration::from_secs(2));
    let cut_at = Instant::now();
    proxy.cut();
    std::thread::sleep(OUTAGE);
    let back_at = Instant::now();
    proxy.restore();
    std::thread::sleep(Duration::from_secs(4));
    shared.stop.store(true, Ordering::SeqCst);
    for client in clients {
        let _ = client.join();
    }
    let poisoned = || anyhow::anyhow!("a client panicked");
    let hung = *shared.hung.lock().map_err(|_| poisoned())?;
    let answers = std::mem::take(&mut *shared.answers.lock().map_err(|_| poisoned())?);
    let figures = judge(&answers, cut_at, back_at, address, hung);
    server.kill();
    report(&figures)?;
    Ok(figures)
}

/// Sorts the answers into the figures.
fn judge(
    answers: &[Answered],
    cut_at: Instant,
    back_at: Instant,
    address: SocketAddr,
    hung: usize,
) -> OutageFigures {
    // Sent and answered while the database was gone (give the pool half a second to notice;
    // a request sent just before it returned may rightly be answered after).
    let during: Vec<&Answered> = answers
        .iter()
        .filter(|a| a.sent >= cut_at + Duration::from_millis(500) && a.sent + a.took < back_at)
        .collect();
    let recovered_after = answers
        .iter()
        .filter(|a| a.status == 201 && a.sent + a.took > back_at)
        .map(|a| (a.sent + a.took).duration_since(back_at))
        .min();
    let acknowledged: Vec<&String> = answers
        .iter()
        .filter(|a| matches!(a.status, 201 | 402))
        .filter_map(|a| a.order_id.as_ref())
        .collect();
    let lost = acknowledged
        .iter()
        .filter(|id| {
            !matches!(
                http(address, "GET", &format!("/v1/orders/{id}"), &[], None),
                Ok((200, _))
            )
        })
        .count();
    OutageFigures {
        answers_during: during.len(),
        other_statuses: during
            .iter()
            .map(|a| a.status)
            .filter(|s| *s != 503)
            .collect(),
        problems_during: during.iter().filter(|a| a.status == 503).count(),
        slowest_during: during.iter().map(|a| a.took).max().unwrap_or_default(),
        hung,
        recovered_after,
        acknowledged: acknowledged.len(),
        lost,
    }
}

/// Prints the figures, and fails on any broken promise.
fn report(figures: &OutageFigures) -> Result<()> {
    say(&format!(
        "reliability outage: {} answers while cut ({} were 503 problems), slowest {:.1?}, {} hung, \
         placing again {} after the database returned, {} acknowledged, {} lost",
        figures.answers_during,
        figures.problems_during,
        figures.slowest_during,
        figures.hung,
        figures
            .recovered_after
            .map_or("never".to_owned(), |d| format!("{d:.1?}")),
        figures.acknowledged,
        figures.lost
    ));
    if figures.answers_during == 0 || figures.problems_during != figures.answers_during {
        bail!(
            "while the database was gone, not every answer was a 503 problem: {:?}",
            figures.other_statuses
        );
    }
    if figures.slowest_during > SLOWEST_ANSWER || figures.hung > 0 {
        bail!("while the database was gone, answers were too slow or connections hung");
    }
    if figures.recovered_after.is_none_or(|after| after > RECOVERY) {
        bail!("the server did not come back within {RECOVERY:?} of the database");
    }
    if figures.lost > 0 {
        bail!("acknowledged orders were lost");
    }
    Ok(())
}

/// What the clients share.
#[derive(Clone, Default)]
struct Shared {
    answers: Arc<Mutex<Vec<Answered>>>,
    stop: Arc<AtomicBool>,
    hung: Arc<Mutex<usize>>,
}

/// A client placing orders one after another, each retried under its key until placed.
fn spawn_client(client: usize, address: SocketAddr, shared: Shared) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut request = 0;
        while !shared.stop.load(Ordering::SeqCst) {
            let index = 1_000_000 + client * 100_000 + request;
            let key = format!("outage-{index}");
            let body = order_body(index);
            // Retry the same key until placed: a 503 releases the key.
            loop {
                let sent = Instant::now();
                match http(
                    address,
                    "POST",
                    "/v1/orders",
                    &[("Idempotency-Key", &key)],
                    Some(&body),
                ) {
                    Ok((status, text)) => {
                        let took = sent.elapsed();
                        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        let order_id = parsed["id"]
                            .as_str()
                            .or(parsed["order_id"].as_str())
                            .map(str::to_owned);
                        if let Ok(mut answers) = shared.answers.lock() {
                            answers.push(Answered {
                                status,
                                sent,
                                took,
                                order_id,
                            });
                        }
                        if matches!(status, 201 | 402) {
                            break;
                        }
                    }
                    Err(_) => {
                        if let Ok(mut hung) = shared.hung.lock() {
                            *hung += 1;
                        }
                    }
                }
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            request += 1;
        }
    })
}
