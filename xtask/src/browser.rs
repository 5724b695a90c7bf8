//! `cargo xtask browser`: the pages ordo serves, in a real browser. Installs what it needs when
//! it is missing (Debian's `chromium`, and `playwright-core` from npm into `target/browser/`,
//! at the version `xtask/browser/package-lock.json` pins), starts the debug server on a fresh
//! SQLite file, and runs `xtask/browser/docs.mjs`: `/docs` with every request to another
//! origin blocked must render the order routes. The screenshot is `target/browser/docs.png`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use xshell::{Shell, cmd};

use crate::launch::Server;
use crate::say;

pub(crate) fn run(sh: &Shell) -> Result<()> {
    let chromium = ensure_chromium(sh)?;
    let out = crate::target_dir(sh).join("browser");
    std::fs::create_dir_all(&out)?;
    let scripts = sh.current_dir().join("xtask/browser");
    for file in ["package.json", "package-lock.json", "docs.mjs"] {
        std::fs::copy(scripts.join(file), out.join(file))?;
    }
    if !out.join("node_modules/playwright-core").exists() {
        say("installing playwright-core (npm ci) into target/browser");
        let _dir = sh.push_dir(&out);
        cmd!(sh, "npm ci --ignore-scripts --no-audit --no-fund")
            .run()
            .context("npm ci failed: Node.js 18+ and npm must be installed")?;
    }
    cmd!(sh, "cargo build --locked --bin ordo").run()?;
    let binary = crate::target_dir(sh).join("debug/ordo");
    let data = out.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let data = data.to_string_lossy().into_owned();
    let log = out.join("server.log");
    // Any secret will do: the page needs no token.
    let server = Server::start(&binary, BROWSER_SECRET, &["--data-dir", &data], &log)?;
    let status = Command::new("node")
        .arg(out.join("docs.mjs"))
        .arg(format!("http://{}", server.address))
        .arg(out.join("docs.png"))
        .env("CHROMIUM", &chromium)
        .status()
        .context("cannot run node")?;
    if !status.success() {
        bail!(
            "the /docs check failed (see above; server log {})",
            log.display()
        );
    }
    Ok(())
}

const BROWSER_SECRET: &str = "browser-check-secret-of-at-least-32-bytes";

/// Debian's Chromium, installed when missing.
fn ensure_chromium(sh: &Shell) -> Result<PathBuf> {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(path) = cmd!(sh, "which {name}").quiet().ignore_stderr().read() {
            return Ok(PathBuf::from(path.trim()));
        }
    }
    say("installing chromium (apt-get install chromium)");
    cmd!(sh, "apt-get update -qq").run()?;
    cmd!(sh, "apt-get install -y -qq chromium")
        .run()
        .context("could not install chromium: install it from your distribution's packages")?;
    Ok(PathBuf::from("/usr/bin/chromium"))
}
