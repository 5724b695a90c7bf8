//! The architecture's dependency invariants (ARCHITECTURE.md), checked against the real
//! dependency graph by a test that `cargo xtask ci` runs.

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::process::Command;

    /// The crates `package` depends on for its own build (no dev or build dependencies).
    fn normal_dependencies(package: &str) -> BTreeSet<String> {
        let output = Command::new(env!("CARGO"))
            .args(["tree", "--offline", "--locked", "-e", "normal"])
            .args(["--prefix", "none", "--format", "{lib}", "-p", package])
            .current_dir(crate::workspace_root())
            .output()
            .expect("cargo tree runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| {
                line.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .filter(|name| !name.is_empty())
            .collect()
    }

    #[test]
    fn the_domain_knows_nothing_of_io_async_storage_or_http() {
        let used = normal_dependencies("ordo-domain");
        assert!(
            used.contains("ordo_domain"),
            "the listing names crates: {used:?}"
        );
        for banned in ["tokio", "sqlx", "axum", "hyper", "reqwest", "mio"] {
            assert!(!used.contains(banned), "ordo-domain depends on {banned}");
        }
    }

    #[test]
    fn the_service_builds_on_the_storage_traits_without_sqlx() {
        let used = normal_dependencies("ordo-service");
        assert!(used.contains("ordo_repository"), "{used:?}");
        for banned in ["sqlx", "sqlx_core", "axum", "hyper"] {
            assert!(!used.contains(banned), "ordo-service depends on {banned}");
        }
    }

    #[test]
    fn the_repository_traits_build_without_sqlx() {
        let output = Command::new(env!("CARGO"))
            .args(["tree", "--offline", "--locked", "-e", "normal"])
            .args([
                "--prefix",
                "none",
                "--format",
                "{lib}",
                "-p",
                "ordo-repository",
            ])
            .arg("--no-default-features")
            .current_dir(crate::workspace_root())
            .output()
            .expect("cargo tree runs");
        let listing = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && listing.contains("ordo_repository"),
            "{listing}"
        );
        assert!(
            !listing.lines().any(|line| line.starts_with("sqlx")),
            "{listing}"
        );
    }
}
