//! `cargo xtask contract`: an outside judge of the OpenAPI document. schemathesis (pinned,
//! installed into `target/contract/venv`) generates requests from `/openapi.json` and checks
//! every answer against it (`--checks all`: no server error, documented statuses, content
//! types and schemas, invalid data refused, valid data accepted) on the server running on
//! SQLite and then on PostgreSQL, once with an admin's token and once with none.
//! `xtask/contract/schemathesis.toml` lists the answers that depend on stored state.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use xshell::{Shell, cmd};

use crate::bench::fresh_database;
use crate::launch::{self, Server};
use crate::{postgres, say};

/// The schemathesis release the contract is checked with.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";
const SECRET: &str = "contract-run-secret-of-at-least-32-bytes";

/// How hard to look.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// Examples per operation.
    pub(crate) examples: u32,
    /// Seconds per run at most (four runs).
    pub(crate) seconds: u32,
    /// The release server (the debug one is already built when CI gets here).
    pub(crate) release: bool,
}

impl Bounds {
    /// `cargo xtask contract`.
    pub(crate) const FULL: Self = Self {
        examples: 40,
        seconds: 300,
        release: true,
    };
    /// The bounded form `cargo xtask ci` runs: fixed seed, time-limited (about three minutes).
    pub(crate) const CI: Self = Self {
        examples: 10,
        seconds: 40,
        release: false,
    };
}

pub(crate) fn run(sh: &Shell, bounds: Bounds) -> Result<()> {
    let st = ensure_schemathesis(sh)?;
    let binary = if bounds.release {
        cmd!(sh, "cargo build --release --locked --bin ordo").run()?;
        crate::target_dir(sh).join("release/ordo")
    } else {
        // Exactly the build the tests made (`cargo nextest` builds this way), so in CI it is
        // already there: a plain `cargo build` resolves features without the dev-dependencies'
        // and would compile the workspace again.
        cmd!(
            sh,
            "cargo test --no-run --workspace --all-features --locked"
        )
        .quiet()
        .run()?;
        crate::target_dir(sh).join("debug/ordo")
    };
    let out = crate::target_dir(sh).join("contract");
    let config = sh.current_dir().join("xtask/contract/schemathesis.toml");
    let database = postgres::ensure(sh)?;
    let pg_url = fresh_database(sh, database.url(), "ordo_contract")?;
    let data = out.join("sqlite");
    let _ = std::fs::remove_dir_all(&data);
    let data = data.to_string_lossy().into_owned();
    let mut failed = Vec::new();
    for (store, storage) in [
        ("SQLite", ["--data-dir", data.as_str()]),
        ("PostgreSQL", ["--database-url", pg_url.as_str()]),
    ] {
        // A feed read with `wait` holds until shortly before the request time limit: a short
        // limit keeps schemathesis's waits short (1 s) and its time for the other routes.
        let storage = [&storage[..], &["--request-timeout-ms", "3000"]].concat();
        let log = out.join(format!("server-{store}.log"));
        let server = Server::start(&binary, SECRET, &storage, &log)?;
        let token = launch::mint_admin_token(&binary, SECRET, "contract")?;
        let address = server.address.to_string();
        for (who, header) in [
            (
                "with a token",
                Some(format!("Authorization: Bearer {token}")),
            ),
            ("without a token", None),
        ] {
            let label = format!("{store}, {who}");
            if !schemathesis(&st, &config, &address, header, bounds, &label)? {
                failed.push(label);
            }
        }
    }
    let admin = database.url();
    let _ = cmd!(
        sh,
        "psql {admin} -qc 'DROP DATABASE IF EXISTS ordo_contract WITH (FORCE)'"
    )
    .quiet()
    .run();
    if !failed.is_empty() {
        bail!("schemathesis found failures: {}", failed.join("; "));
    }
    say("cargo xtask contract: the server keeps its OpenAPI document (schemathesis, every check)");
    Ok(())
}

/// One `st run`; prints its report's summary line. True when it found nothing.
fn schemathesis(
    st: &Path,
    config: &Path,
    address: &str,
    header: Option<String>,
    bounds: Bounds,
    label: &str,
) -> Result<bool> {
    say(&format!("schemathesis: {label}"));
    let mut command = Command::new(st);
    // The serializer of NDJSON bodies (a bulk upsert), loaded by schemathesis at start.
    let hooks = config
        .parent()
        .context("the config file has a directory")?
        .to_path_buf();
    command
        .env("PYTHONPATH", hooks)
        .env("SCHEMATHESIS_HOOKS", "ndjson_hooks")
        .arg("--config-file")
        .arg(config)
        .args(["run", &format!("http://{address}/openapi.json")])
        .args(["--checks", "all", "--seed", "1", "--no-color"])
        .args(["--max-examples", &bounds.examples.to_string()])
        .args(["--max-time", &bounds.seconds.to_string()]);
    if let Some(header) = header {
        command.args(["--header", &header]);
    }
    let output = command.output().context("cannot run schemathesis")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let passed = output.status.success();
    if !passed {
        #[allow(clippy::print_stdout, reason = "the failures are the task's output")]
        {
            println!("{text}");
        }
    }
    let summary = text
        .lines()
        .rev()
        .find(|line| line.starts_with('=') && line.contains(" in "))
        .unwrap_or("(no summary line)");
    say(&format!(
        "schemathesis {label}: {}",
        summary.trim_matches(|c| c == '=' || c == ' ')
    ));
    Ok(passed)
}

/// `st` from a virtual environment under `target/`, installed at the pinned version.
fn ensure_schemathesis(sh: &Shell) -> Result<PathBuf> {
    let venv = crate::target_dir(sh).join("contract/venv");
    let st = venv.join("bin/st");
    let pinned = SCHEMATHESIS.trim_start_matches("schemathesis==");
    let installed = cmd!(sh, "{st} --version")
        .quiet()
        .ignore_stderr()
        .read()
        .unwrap_or_default();
    if installed.contains(pinned) {
        return Ok(st);
    }
    say(&format!(
        "installing {SCHEMATHESIS} into {}",
        venv.display()
    ));
    cmd!(sh, "python3 -m venv {venv}")
        .run()
        .context("python3 -m venv failed: install Python 3 with venv")?;
    let pip = venv.join("bin/pip");
    cmd!(sh, "{pip} install --quiet {SCHEMATHESIS}").run()?;
    Ok(st)
}
