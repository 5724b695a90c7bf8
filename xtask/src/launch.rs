//! What the harnesses share when they run a server: waiting for it to listen, and minting
//! the bearer token their requests carry.

use std::net::{SocketAddr, TcpStream};
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
