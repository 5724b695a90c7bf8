//! Authentication settings, the signing secret of the embedded default, and `ordo token`.
#![allow(
    clippy::disallowed_types,
    reason = "the code serde derives for `flatten` names floats; no setting is one"
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use ordo_http::{Authentication, TokenSigner, TokenVerifier};
use ordo_service::{Clock as _, Role, SystemClock};
use secrecy::{ExposeSecret as _, SecretSlice, SecretString};

use crate::storage::StorageArgs;

/// The file in the data directory holding the generated signing secret.
const SECRET_FILE: &str = "jwt-secret";

/// Whether API requests need a token.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum AuthMode {
    /// Every API request needs a valid bearer token.
    Required,
    /// No tokens at all: anyone who reaches the port may do anything. Say so explicitly.
    Disabled,
}

/// Who may see `/metrics`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum MetricsAccess {
    /// Anyone who reaches the port (a scraper inside the cluster): say so explicitly.
    Public,
    /// Staff or admin tokens only (the default).
    Token,
}

/// How callers prove who they are.
#[derive(Debug, Clone, Args, serde::Serialize, serde::Deserialize)]
pub(crate) struct AuthArgs {
    /// `required` (bearer tokens on every API request) or `disabled` (anyone may do
    /// anything: for trusted networks and demos only).
    #[arg(long, env = "ORDO_AUTH", value_enum, default_value_t = AuthMode::Required)]
    pub(crate) auth: AuthMode,
    /// HS256 signing secret shared with whoever issues tokens (at least 32 bytes). Without it
    /// or a public key, the embedded SQLite default generates one in the data directory.
    #[arg(long, env = "ORDO_JWT_SECRET", hide_env_values = true)]
    #[serde(default, serialize_with = "crate::config::expose")]
    pub(crate) jwt_secret: Option<SecretString>,
    /// An identity provider's public key (PEM file, RSA for RS256 or Ed25519 for EdDSA) to
    /// verify its tokens with, instead of a secret.
    #[arg(long, env = "ORDO_JWT_PUBLIC_KEY")]
    #[serde(default)]
    pub(crate) jwt_public_key: Option<PathBuf>,
    /// The `iss` tokens must carry; not checked when unset.
    #[arg(long, env = "ORDO_JWT_ISSUER")]
    #[serde(default)]
    pub(crate) jwt_issuer: Option<String>,
    /// The `aud` tokens must carry; not checked when unset.
    #[arg(long, env = "ORDO_JWT_AUDIENCE")]
    #[serde(default)]
    pub(crate) jwt_audience: Option<String>,
    /// Seconds of clock skew allowed when checking a token's `exp` and `nbf`: an expired token
    /// keeps working this long.
    #[arg(long, env = "ORDO_JWT_LEEWAY_SECONDS", default_value_t = ordo_http::DEFAULT_LEEWAY_SECONDS, value_parser = clap::value_parser!(u64).range(0..=300))]
    #[serde(default = "default_leeway")]
    pub(crate) jwt_leeway_seconds: u64,
    /// Who may read `/metrics`: `token` (staff and admin tokens), or `public` for a scraper
    /// that reaches the port without one. Token by default: the counters reveal order volume.
    #[arg(long, env = "ORDO_METRICS_ACCESS", value_enum, default_value_t = MetricsAccess::Token)]
    pub(crate) metrics_access: MetricsAccess,
}

/// The server's authentication from its settings. On the embedded default with no key, a
/// secret is generated into the data directory on first start.
///
/// What `serve` would decide about authentication, without generating anything: `ordo config
/// --check`.
///
/// # Errors
/// As [`authentication`].
pub(crate) fn check(auth: &AuthArgs, storage: &StorageArgs) -> Result<()> {
    let embedded_without_key = auth.auth != AuthMode::Disabled
        && auth.jwt_secret.is_none()
        && auth.jwt_public_key.is_none()
        && storage.database_url.is_none();
    if embedded_without_key {
        // `serve` generates the embedded default's secret, or reads the one it made.
        return Ok(());
    }
    authentication(auth, storage).map(drop)
}

fn default_leeway() -> u64 {
    ordo_http::DEFAULT_LEEWAY_SECONDS
}

/// # Errors
/// A key that cannot be read or used, both a secret and a public key, or none of them on
/// PostgreSQL.
pub(crate) fn authentication(auth: &AuthArgs, storage: &StorageArgs) -> Result<Authentication> {
    if auth.auth == AuthMode::Disabled {
        tracing::warn!(
            "authentication is DISABLED (auth = disabled): anyone who can reach this port can read, change and delete every order"
        );
        return Ok(Authentication::Disabled);
    }
    let (issuer, audience) = (auth.jwt_issuer.as_deref(), auth.jwt_audience.as_deref());
    let verifier = match (&auth.jwt_secret, &auth.jwt_public_key) {
        (Some(_), Some(_)) => {
            bail!("invalid configuration: set `jwt_secret` or `jwt_public_key`, not both")
        }
        (Some(secret), None) => {
            crate::config::refuse_mask("jwt_secret", secret.expose_secret())?;
            TokenVerifier::hs256(secret.expose_secret().as_bytes(), issuer, audience)
                .map_err(|error| anyhow::anyhow!("invalid configuration: `jwt_secret`: {error}"))?
        }
        (None, Some(path)) => {
            let pem = std::fs::read(path).with_context(|| {
                format!(
                    "invalid configuration: `jwt_public_key`: cannot read {}",
                    path.display()
                )
            })?;
            TokenVerifier::public_key(&pem, issuer, audience).map_err(|error| {
                anyhow::anyhow!(
                    "invalid configuration: `jwt_public_key`: {}: {error}",
                    path.display()
                )
            })?
        }
        (None, None) if storage.database_url.is_none() => {
            let (secret, path, created) = embedded_secret(&storage.data_dir)?;
            if created {
                tracing::info!(
                    "generated a token signing secret in {}; mint a token with: ordo token --role admin --data-dir {}",
                    path.display(),
                    storage.data_dir.display()
                );
            }
            TokenVerifier::hs256(secret.expose_secret(), issuer, audience)
                .map_err(|error| anyhow::anyhow!("invalid secret in {}: {error}", path.display()))?
        }
        (None, None) => bail!(
            "invalid configuration: authentication is required but no key is set: set `jwt_secret` (HS256, at least 32 bytes) or `jwt_public_key`, or `auth = disabled` to serve without authentication"
        ),
    };
    tracing::info!("authentication required: bearer tokens on every API request");
    Ok(Authentication::Required(Arc::new(
        verifier.with_leeway(auth.jwt_leeway_seconds),
    )))
}

/// The data directory's secret, created (mode 0600) if missing; whether it was created now.
fn embedded_secret(data_dir: &Path) -> Result<(SecretSlice<u8>, PathBuf, bool)> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read(&path) {
        Ok(secret) => return Ok((trimmed(secret), path, false)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", path.display()));
        }
    }
    crate::storage::create_private_dir(data_dir)?;
    // 256 random bits as 64 hex digits: two u128s in std's zero-padded LowerHex.
    let mut halves = [[0_u8; 16]; 2];
    for half in &mut halves {
        getrandom::fill(half).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    }
    let [high, low] = halves.map(u128::from_be_bytes);
    let secret = format!("{high:032x}{low:032x}");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok((secret.into_bytes().into(), path, true))
        }
        // Another process made it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let secret =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok((trimmed(secret), path, false))
        }
        Err(error) => Err(error).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// A secret read from a file, without the line end an editor may have added.
fn trimmed(mut secret: Vec<u8>) -> SecretSlice<u8> {
    while secret.last().is_some_and(u8::is_ascii_whitespace) {
        secret.pop();
    }
    secret.into()
}

/// `ordo token`: settings and what to mint.
#[derive(Debug, Clone, Args, serde::Serialize, serde::Deserialize)]
pub(crate) struct TokenArgs {
    /// The role the token grants.
    #[arg(long, value_enum)]
    role: TokenRole,
    /// The customer a `customer` token acts for (its customer id).
    #[arg(long)]
    #[serde(default)]
    customer: Option<uuid::Uuid>,
    /// Who a staff or admin token names, for logs and idempotency scopes.
    #[arg(long, default_value = "operator")]
    subject: String,
    /// How long the token lives: a number with s, m, h or d (`90m`, `1h`, `7d`).
    #[arg(long, default_value = "1h")]
    ttl: String,
    #[command(flatten)]
    #[serde(flatten)]
    auth: AuthArgs,
    #[command(flatten)]
    #[serde(flatten)]
    storage: StorageArgs,
}

/// A role, for the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
enum TokenRole {
    Customer,
    Staff,
    Admin,
}

/// Mints a token with the key the server with the same settings verifies with: the configured
/// secret, or on the embedded default the data directory's; refuses when that server has no
/// secret ordo could sign with. Prints the token alone on stdout, so
/// `TOKEN=$(ordo token --role admin)` works.
pub(crate) fn mint(args: &TokenArgs) -> Result<()> {
    let ttl = parse_ttl(&args.ttl)?;
    let (role, subject) = match (args.role, args.customer) {
        (TokenRole::Customer, Some(customer)) => (Role::Customer, customer.to_string()),
        (TokenRole::Customer, None) => bail!("a customer token needs --customer <customer id>"),
        (TokenRole::Staff, _) => (Role::Staff, args.subject.clone()),
        (TokenRole::Admin, _) => (Role::Admin, args.subject.clone()),
    };
    let secret = match (&args.auth.jwt_secret, &args.auth.jwt_public_key) {
        (Some(secret), _) => {
            crate::config::refuse_mask("jwt_secret", secret.expose_secret())?;
            SecretSlice::from(secret.expose_secret().as_bytes().to_vec())
        }
        (None, Some(_)) => bail!(
            "ordo verifies tokens with a public key here (`jwt_public_key`): tokens come from your identity provider, and ordo cannot mint them"
        ),
        // As `authentication` decides for the server: only the embedded default generates a
        // secret. A secret left in the data directory by an SQLite run is not the key of a
        // PostgreSQL server, which would refuse every token signed with it.
        (None, None) if args.storage.database_url.is_some() => {
            if let Some(url) = &args.storage.database_url {
                crate::storage::check_url(url.expose_secret())?;
            }
            bail!(
                "a PostgreSQL server has no generated secret: set `jwt_secret` / ORDO_JWT_SECRET (the same value the server uses)"
            )
        }
        (None, None) => {
            let path = args.storage.data_dir.join(SECRET_FILE);
            let secret = std::fs::read(&path).with_context(|| {
                format!(
                    "no signing secret: set `jwt_secret`, or start `ordo serve` once to generate {}",
                    path.display()
                )
            })?;
            trimmed(secret)
        }
    };
    let signer = TokenSigner::hs256(
        secret.expose_secret(),
        args.auth.jwt_issuer.clone(),
        args.auth.jwt_audience.clone(),
    )
    .map_err(|error| anyhow::anyhow!("invalid configuration: `jwt_secret`: {error}"))?;
    let now = u64::try_from(SystemClock.now().timestamp()).unwrap_or(0);
    let token = signer
        .mint(role, &subject, now, ttl)
        .context("cannot sign the token")?;
    #[allow(clippy::print_stdout, reason = "the token is the command's output")]
    {
        println!("{token}");
    }
    Ok(())
}

/// `90s`, `15m`, `1h`, `7d` as seconds; at least one second, at most a year.
fn parse_ttl(text: &str) -> Result<u64> {
    let invalid =
        || anyhow::anyhow!("--ttl {text:?}: expected a number with s, m, h or d, like 1h");
    let split = text.len().checked_sub(1).ok_or_else(invalid)?;
    let (number, unit) = (text.get(..split).ok_or_else(invalid)?, text.get(split..));
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let unit = match unit {
        Some("s") => 1,
        Some("m") => 60,
        Some("h") => 3600,
        Some("d") => 86_400,
        _ => return Err(invalid()),
    };
    let seconds = number.checked_mul(unit).ok_or_else(invalid)?;
    if !(1..=366 * 86_400).contains(&seconds) {
        bail!("--ttl {text:?}: must be from 1s to 366d");
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::{embedded_secret, parse_ttl};

    #[test]
    fn the_generated_secret_is_64_hex_digits_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let (secret, path, created) = embedded_secret(dir.path()).unwrap();
        assert!(created);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 64, "{text}");
        assert!(
            text.bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
        );
        assert_eq!(secret.expose_secret(), text.as_bytes());
        let (again, _, created) = embedded_secret(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(again.expose_secret(), secret.expose_secret());
    }

    #[test]
    fn ttls_read_with_their_unit() {
        assert_eq!(parse_ttl("90s").ok(), Some(90));
        assert_eq!(parse_ttl("15m").ok(), Some(900));
        assert_eq!(parse_ttl("1h").ok(), Some(3600));
        assert_eq!(parse_ttl("7d").ok(), Some(604_800));
        for bad in [
            "",
            "h",
            "1",
            "1w",
            "-1h",
            "0s",
            "400d",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
