//! The advisories half of `cargo xtask deny`: dependencies against the RustSec database.
//!
//! 1. `../shared/advisory-db` beside the workspace (a snapshot without git history, described in
//!    `../shared/advisory-db.md`): copied to `target/advisory-db/`, made a one-commit git
//!    repository dated as the snapshot, and checked with `cargo deny --offline`.
//! 2. Otherwise, when github.com answers: cargo-deny clones the live database and checks.
//! 3. Otherwise one line says advisories were not checked, and the gate goes on.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use xshell::{Shell, cmd};

use crate::say;

/// The snapshot, relative to the workspace root.
const SNAPSHOT: &str = "../shared/advisory-db";
/// `[advisories] db-path` in deny.toml, relative to the workspace root.
const DB_PATH: &str = "target/advisory-db";
/// cargo-deny 0.20's folder for the default database URL (its hash of the URL).
const DB_FOLDER: &str = "advisory-db-3157b0e258782691";
/// The snapshot's commit date (advisory-db.md), so cargo-deny sees the database's age, not today.
const SNAPSHOT_DATE: &str = "2026-08-21T08:28:40+02:00";
/// Next to the copy: the fingerprint of the snapshot it was made from.
const STAMP: &str = "snapshot.fingerprint";

/// Checks advisories offline against the snapshot, online, or says they were not checked.
pub(crate) fn check(sh: &Shell) -> Result<()> {
    let root = sh.current_dir();
    let snapshot = root.join(SNAPSHOT);
    let db_root = root.join(DB_PATH);
    if snapshot.join("crates").is_dir() {
        install_snapshot(sh, &snapshot, &db_root)?;
        cmd!(sh, "cargo deny --all-features --offline check advisories").run()?;
    } else if github_answers() {
        // A copied snapshot has no remote to fetch from: let cargo-deny clone afresh.
        if db_root.join(STAMP).exists() {
            std::fs::remove_dir_all(&db_root)
                .with_context(|| format!("cannot remove {}", db_root.display()))?;
        }
        cmd!(sh, "cargo deny --all-features check advisories").run()?;
    } else {
        say(&format!(
            "advisories NOT checked: no RustSec snapshot at {SNAPSHOT} and github.com does not answer"
        ));
    }
    Ok(())
}

/// Puts the snapshot where cargo-deny looks, unless the copy there is of the same snapshot.
fn install_snapshot(sh: &Shell, snapshot: &Path, db_root: &Path) -> Result<()> {
    let fingerprint = fingerprint(snapshot)?;
    let stamp = db_root.join(STAMP);
    let copy = db_root.join(DB_FOLDER);
    // An unreadable or missing stamp only means the copy is made again.
    let stamped = std::fs::read_to_string(&stamp).is_ok_and(|text| text == fingerprint);
    if stamped && copy.join(".git").is_dir() {
        return Ok(());
    }
    say(&format!(
        "copying the RustSec snapshot {} to {}",
        snapshot.display(),
        copy.display()
    ));
    if stamp.exists() {
        std::fs::remove_file(&stamp)?;
    }
    if copy.exists() {
        std::fs::remove_dir_all(&copy)
            .with_context(|| format!("cannot remove {}", copy.display()))?;
    }
    copy_tree(snapshot, &copy)?;
    let _dir = sh.push_dir(&copy);
    let _author = sh.push_env("GIT_AUTHOR_DATE", SNAPSHOT_DATE);
    let _committer = sh.push_env("GIT_COMMITTER_DATE", SNAPSHOT_DATE);
    cmd!(sh, "git -c init.defaultBranch=main init -q").run()?;
    cmd!(sh, "git add -A").run()?;
    cmd!(
        sh,
        "git -c user.name=ordo-xtask -c user.email=xtask@ordo.invalid -c commit.gpgsign=false commit -q --no-verify -m snapshot"
    )
    .run()
    .context("cannot commit the advisory snapshot copy")?;
    std::fs::write(&stamp, fingerprint)?;
    Ok(())
}

/// A hash of every file's path and bytes under `dir` (about 9 MB: a few milliseconds).
///
/// std's hasher may change between Rust releases; then the copy is made once more.
fn fingerprint(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    list_files(dir, dir, &mut files)?;
    files.sort();
    let mut hasher = DefaultHasher::new();
    for relative in files {
        relative.hash(&mut hasher);
        std::fs::read(dir.join(&relative))
            .with_context(|| format!("cannot read {}", relative.display()))?
            .hash(&mut hasher);
    }
    Ok(format!("{:016x}", hasher.finish()))
}

/// Every file under `dir`, relative to `root`.
fn list_files(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            list_files(root, &path, files)?;
        } else {
            files.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}

/// Copies the files' bytes but not their modes: the snapshot is read-only, the copy gets a `.git`.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let mut files = Vec::new();
    list_files(from, from, &mut files)?;
    for relative in files {
        let target = to.join(&relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let bytes = std::fs::read(from.join(&relative))?;
        std::fs::write(&target, bytes)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    Ok(())
}

/// Whether a TCP connection to github.com opens within a few seconds.
fn github_answers() -> bool {
    // No DNS answer is the usual offline case; it is a "no", not an error.
    let Ok(addresses) = ("github.com", 443).to_socket_addrs() else {
        return false;
    };
    addresses
        .into_iter()
        .any(|address| TcpStream::connect_timeout(&address, Duration::from_secs(3)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(dir: &Path, advisory: &str) {
        std::fs::create_dir_all(dir.join("crates/foo")).unwrap();
        std::fs::write(dir.join("crates/foo/RUSTSEC-0000-0000.md"), advisory).unwrap();
        std::fs::write(dir.join("README.md"), "db").unwrap();
    }

    #[test]
    fn a_changed_advisory_changes_the_fingerprint_and_a_copy_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        snapshot(&dir.path().join("a"), "first");
        snapshot(&dir.path().join("b"), "firsT");
        let a = fingerprint(&dir.path().join("a")).unwrap();
        assert_ne!(a, fingerprint(&dir.path().join("b")).unwrap());
        copy_tree(&dir.path().join("a"), &dir.path().join("copy")).unwrap();
        assert_eq!(a, fingerprint(&dir.path().join("copy")).unwrap());
    }

    #[test]
    fn the_copy_is_a_repository_dated_as_the_snapshot_and_is_made_once_per_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let (source, db_root) = (dir.path().join("snapshot"), dir.path().join("db"));
        snapshot(&source, "first");
        let sh = Shell::new().unwrap();
        install_snapshot(&sh, &source, &db_root).unwrap();
        let copy = db_root.join(DB_FOLDER);
        let date = cmd!(sh, "git -C {copy} log -1 --format=%cI")
            .read()
            .unwrap();
        assert_eq!(date, SNAPSHOT_DATE);

        // Same snapshot: the copy is left alone (a file added to it survives).
        std::fs::write(copy.join("marker"), "").unwrap();
        install_snapshot(&sh, &source, &db_root).unwrap();
        assert!(copy.join("marker").exists());

        // A changed snapshot is copied again.
        snapshot(&source, "second");
        install_snapshot(&sh, &source, &db_root).unwrap();
        assert!(!copy.join("marker").exists());
        let advisory = copy.join("crates/foo/RUSTSEC-0000-0000.md");
        assert_eq!(std::fs::read_to_string(advisory).unwrap(), "second");
    }
}
