//! Finds a PostgreSQL server for the tests, or starts a throwaway one.
//!
//! 1. `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`): used when
//!    something answers at its host and port.
//! 2. Otherwise, when PostgreSQL's server programs are installed (`initdb` and `pg_ctl` on
//!    `PATH` or under `/usr/lib/postgresql/<version>/bin`), a fresh cluster under
//!    `target/xtask-postgres/` on a free loopback port, stopped and removed when the run ends.
//! 3. Otherwise the run fails and says how to install PostgreSQL. The database tests are never
//!    skipped.

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::{ensure_that, say};

/// `url` with `search_path` set to ordo's default schema, for reading its tables with `psql`,
/// pgbench or the peer (libpq and sqlx both read `options`).
pub(crate) fn tables_url(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3Dordo")
}

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A server the tests can use; a throwaway one stops when this is dropped.
pub(crate) struct Database {
    url: String,
    // Held for its `Drop`, which stops the cluster.
    _throwaway: Option<Throwaway>,
}

impl Database {
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

struct Throwaway {
    pg_ctl: PathBuf,
    data_dir: PathBuf,
    as_postgres_user: bool,
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let Ok(sh) = Shell::new() else { return };
        let (pg_ctl, data_dir) = (&self.pg_ctl, &self.data_dir);
        let stop = if self.as_postgres_user {
            cmd!(
                sh,
                "runuser -u postgres -- {pg_ctl} -D {data_dir} -m fast -w stop"
            )
        } else {
            cmd!(sh, "{pg_ctl} -D {data_dir} -m fast -w stop")
        };
        let _ = stop.quiet().ignore_stdout().ignore_stderr().run();
        let _ = std::fs::remove_dir_all(data_dir);
        say("stopped the throwaway PostgreSQL cluster");
    }
}

pub(crate) fn ensure(sh: &Shell) -> Result<Database> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let address = host_and_port(&url)?;
    if answers(&address) {
        say(&format!("using PostgreSQL at {address} (DATABASE_URL)"));
        return Ok(Database {
            url,
            _throwaway: None,
        });
    }
    let Some(bin) = server_programs() else {
        bail!(
            "no PostgreSQL answers at {address} and its server programs are not installed.\n\
             Start one and set DATABASE_URL, or install it (Debian: `apt-get install postgresql`)."
        );
    };
    say(&format!(
        "nothing answers at {address}: starting a throwaway cluster from {}",
        bin.display()
    ));
    start_throwaway(sh, &bin)
}

fn host_and_port(url: &str) -> Result<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    ensure_that(!host_port.is_empty(), "DATABASE_URL has no host")?;
    Ok(if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    })
}

fn answers(address: &str) -> bool {
    let addresses: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map(Iterator::collect)
        .unwrap_or_default();
    addresses
        .iter()
        .any(|addr| TcpStream::connect_timeout(addr, Duration::from_secs(2)).is_ok())
}

/// The directory holding `initdb` and `pg_ctl`: the newest under `/usr/lib/postgresql`, or
/// the one on `PATH`.
fn server_programs() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
}

fn start_throwaway(sh: &Shell, bin: &Path) -> Result<Database> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let root = crate::target_dir(sh).join("xtask-postgres");
    let data_dir = root.join(format!("cluster-{port}"));
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir)?;
    // PostgreSQL refuses to run as root: run it as the `postgres` user when we are root.
    let as_postgres_user = cmd!(sh, "id -u").read().is_ok_and(|uid| uid.trim() == "0");
    let (initdb, pg_ctl) = (bin.join("initdb"), bin.join("pg_ctl"));
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
        data_dir.display()
    );
    let log = data_dir.join("server.log");
    if as_postgres_user {
        cmd!(sh, "chown -R postgres {root}").run()?;
        cmd!(
            sh,
            "runuser -u postgres -- {initdb} -D {data_dir} -U postgres --auth=trust --no-sync"
        )
        .quiet()
        .ignore_stdout()
        .run()?;
    } else {
        cmd!(
            sh,
            "{initdb} -D {data_dir} -U postgres --auth=trust --no-sync"
        )
        .quiet()
        .ignore_stdout()
        .run()?;
    }
    let throwaway = Throwaway {
        pg_ctl: pg_ctl.clone(),
        data_dir: data_dir.clone(),
        as_postgres_user,
    };
    let started = if as_postgres_user {
        cmd!(
            sh,
            "runuser -u postgres -- {pg_ctl} -D {data_dir} -l {log} -o {options} -w start"
        )
        .quiet()
        .run()
    } else {
        cmd!(sh, "{pg_ctl} -D {data_dir} -l {log} -o {options} -w start")
            .quiet()
            .run()
    };
    started
        .with_context(|| format!("the throwaway cluster did not start; see {}", log.display()))?;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    say(&format!(
        "throwaway PostgreSQL listening at 127.0.0.1:{port}"
    ));
    Ok(Database {
        url,
        _throwaway: Some(throwaway),
    })
}

#[cfg(test)]
mod tests {
    use super::host_and_port;

    #[test]
    fn host_and_port_come_from_the_url() {
        assert_eq!(
            host_and_port("postgres://postgres@127.0.0.1:5432/postgres").unwrap(),
            "127.0.0.1:5432"
        );
        assert_eq!(
            host_and_port("postgres://u:p@db.local/x?sslmode=disable").unwrap(),
            "db.local:5432"
        );
        assert_eq!(
            host_and_port("postgresql://localhost:6000").unwrap(),
            "localhost:6000"
        );
    }
}
