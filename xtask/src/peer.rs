//! The peer of `cargo xtask bench --peer`: Platformatic DB 2.61 (the strongest
//! REST-over-PostgreSQL product that installs here; version 3 needs Node 22), installed from
//! npm into `target/bench/peer`, pointed at the bench database with `bench/peer/`'s
//! configuration: its generated routes for get and list, and `plugin.js` for a create that
//! inserts the order and its items in one transaction.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use anyhow::{Context as _, Result};
use xshell::{Shell, cmd};

use crate::{launch, say};

const VERSION: &str = "2.61.0";
const FILES: [&str; 4] = [
    "package.json",
    "package-lock.json",
    "platformatic.db.json",
    "plugin.js",
];

/// A running peer server.
pub(crate) struct Peer {
    child: Child,
    pub(crate) address: SocketAddr,
}

impl Peer {
    /// Installs the peer when missing, then starts it on `url`.
    pub(crate) fn start(sh: &Shell, out: &Path, url: &str) -> Result<Self> {
        let dir = out.join("peer");
        std::fs::create_dir_all(&dir)?;
        for file in FILES {
            std::fs::copy(
                sh.current_dir().join("bench/peer").join(file),
                dir.join(file),
            )
            .with_context(|| format!("cannot copy bench/peer/{file}"))?;
        }
        let installed =
            std::fs::read_to_string(dir.join("node_modules/@platformatic/db/package.json"))
                .is_ok_and(|manifest| manifest.contains(&format!("\"version\": \"{VERSION}\"")));
        if !installed {
            say(&format!(
                "installing the peer (@platformatic/db@{VERSION}, npm ci)"
            ));
            let _dir = sh.push_dir(&dir);
            cmd!(sh, "npm ci --no-audit --no-fund --loglevel=error")
                .run()
                .context("could not install the peer: it needs Node.js 20 and npm")?;
        }
        let address = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log_path = out.join("peer.log");
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new("node")
            .arg("node_modules/@platformatic/db/db.mjs")
            .args(["start", "-c", "platformatic.db.json"])
            .current_dir(&dir)
            .env("PLT_PORT", address.port().to_string())
            .env("PLT_DATABASE_URL", url)
            // node-postgres reads libpq's PGOPTIONS: ordo's tables are in schema `ordo`.
            .env("PGOPTIONS", "-c search_path=ordo")
            .env("NODE_ENV", "production")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start the peer (node)")?;
        let mut peer = Self { child, address };
        launch::wait_until_listening(&mut peer.child, address, Duration::from_secs(60), &log_path)?;
        Ok(peer)
    }

    /// The process whose CPU and memory are measured.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
