//! What the harnesses share when they run a server: starting it on a free port, waiting for
//! it to listen, and minting the bearer token their requests carry.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

/// Waits until `child` accepts connections at `address`; fails, pointing at its `log`, if it
/// exits first or takes longer than `limit`.
pub(crate) fn wait_until_listening(
    child: &mut Child,
    address: SocketAddr,
    limit: Duration,
    log: &Path,
) -> Result<()> {
    let started = Instant::now();
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        if let Some(status) = child.try_wait()? {
            bail!("the server exited ({status}); see {}", log.display());
        }
        if started.elapsed() > limit {
            bail!("the server did not start; see {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// An admin's bearer token, valid for a day, minted by the `ordo` under test with `secret`.
pub(crate) fn mint_admin_token(binary: &Path, secret: &str, subject: &str) -> Result<String> {
    let output = Command::new(binary)
        .args(["token", "--role", "admin", "--subject", subject])
        .args(["--ttl", "1d"])
        .env("ORDO_JWT_SECRET", secret)
        .output()
        .context("cannot run ordo token")?;
    if !output.status.success() {
        bail!(
            "ordo token failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// A server started by a harness, killed when dropped.
pub(crate) struct Server {
    child: Child,
    /// Where it listens.
    pub(crate) address: SocketAddr,
}

impl Server {
    /// `binary serve` on a free loopback port, signing tokens with `secret`, with `storage`
    /// (`--database-url URL` or `--data-dir DIR`); its output goes to `log_path`.
    pub(crate) fn start(
        binary: &Path,
        secret: &str,
        storage: &[&str],
        log_path: &Path,
    ) -> Result<Self> {
        let address = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::fs::File::create(log_path)?;
        let child = Command::new(binary)
            .args(["serve", "--listen", &address.to_string()])
            .args(storage)
            .env("ORDO_JWT_SECRET", secret)
            .env_remove("DATABASE_URL")
            // Harnesses read ordo's tables in the default schema.
            .env_remove("ORDO_DATABASE_SCHEMA")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start ordo serve")?;
        let mut server = Self { child, address };
        wait_until_listening(
            &mut server.child,
            address,
            Duration::from_secs(30),
            log_path,
        )?;
        Ok(server)
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it and waits for it.
    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
