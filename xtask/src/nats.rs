//! NATS with `JetStream` for the tests (the event relay's): the one answering on 127.0.0.1:4222,
//! or a throwaway `nats-server -js` started from Debian's package, stopped when dropped.

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use xshell::Shell;

use crate::say;

const ADDRESS: &str = "127.0.0.1:4222";

/// A NATS server the tests can use; a throwaway one stops when this is dropped.
pub(crate) struct Nats(Option<Child>);

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
            say("stopped the throwaway NATS server");
        }
    }
}

fn answers() -> bool {
    ADDRESS
        .parse::<SocketAddr>()
        .is_ok_and(|address| TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_ok())
}

pub(crate) fn ensure(sh: &Shell) -> Result<Nats> {
    if answers() {
        say(&format!("using NATS at {ADDRESS}"));
        return Ok(Nats(None));
    }
    if Command::new("nats-server")
        .arg("--version")
        .output()
        .is_err()
    {
        say("nothing answers at 127.0.0.1:4222 and nats-server is missing: installing Debian's");
        let installed = Command::new("apt-get")
            .args(["install", "-y", "-q", "nats-server"])
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            bail!(
                "no NATS answers at {ADDRESS} and nats-server could not be installed: \
                 `apt-get install nats-server`, or start one with `nats-server -js -p 4222`"
            );
        }
    }
    let store = crate::target_dir(sh).join("xtask-nats");
    std::fs::create_dir_all(&store)?;
    let child = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", "4222", "-sd"])
        .arg(&store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start nats-server")?;
    let nats = Nats(Some(child));
    for _ in 0..50 {
        if answers() {
            say(&format!(
                "started a throwaway NATS server with JetStream at {ADDRESS}"
            ));
            return Ok(nats);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nats-server did not answer at {ADDRESS} within five seconds")
}
