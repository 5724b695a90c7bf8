//! Choosing and opening the database: SQLite in a data directory by default, PostgreSQL when a
//! `postgres://` URL is given.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use ordo_repository::{
    ApiKeyStore, Coordination, DiscountCodeStore, EventStore, GatewayLedger, IdempotencyStore,
    InvalidSchema, OrderRepository, PgOptions, PgSchema, PgStore, ProductStore, RatesStore,
    Refusal, RepoError, SqliteOptions, SqliteStore, WebhookStore,
};
use secrecy::{ExposeSecret, SecretString};

/// Where the orders are kept.
#[derive(Debug, Clone, Args, serde::Serialize, serde::Deserialize)]
pub(crate) struct StorageArgs {
    /// PostgreSQL URL (`postgres://user@host:5432/db`). Without it, ordo uses an SQLite file in
    /// the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    #[serde(default, serialize_with = "crate::config::expose")]
    pub(crate) database_url: Option<SecretString>,
    /// Directory for the embedded SQLite database (created if missing).
    #[arg(long, env = "ORDO_DATA_DIR", default_value = "./ordo-data")]
    pub(crate) data_dir: PathBuf,
    /// Most database connections in the pool.
    #[arg(long, env = "ORDO_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub(crate) db_max_connections: u32,
    /// PostgreSQL schema for ordo's tables (created if missing), so a database shared with
    /// other applications keeps them apart. Not used by SQLite.
    #[arg(long, env = "ORDO_DATABASE_SCHEMA", default_value = PgSchema::DEFAULT)]
    pub(crate) database_schema: DatabaseSchema,
}

/// [`PgSchema`] as a setting: checked wherever it comes from (flag, variable or file).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct DatabaseSchema(pub(crate) PgSchema);

impl TryFrom<String> for DatabaseSchema {
    type Error = InvalidSchema;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        PgSchema::new(&name).map(Self)
    }
}

impl From<DatabaseSchema> for String {
    fn from(schema: DatabaseSchema) -> Self {
        schema.0.as_str().to_owned()
    }
}

impl std::str::FromStr for DatabaseSchema {
    type Err = InvalidSchema;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        PgSchema::new(name).map(Self)
    }
}

/// An open store, of either kind.
pub(crate) enum Store {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

impl Store {
    /// Opens the configured database, with a clear error when it cannot.
    pub(crate) async fn open(args: &StorageArgs) -> Result<Self> {
        match args.database_url.as_ref().map(ExposeSecret::expose_secret) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let options = PgOptions {
                    max_connections: args.db_max_connections,
                    schema: args.database_schema.0.clone(),
                    ..PgOptions::default()
                };
                let store = PgStore::connect(url, &options)
                    .await
                    .map_err(|error| match error {
                        RepoError::Unavailable(cause) => {
                            anyhow::anyhow!("cannot reach PostgreSQL at {}: {cause}", redact(url))
                        }
                        other => connect_error(url, &other),
                    })?;
                Ok(Self::Postgres(store))
            }
            Some(url) => {
                check_url(url)?;
                bail!("unsupported database URL {}", redact(url))
            }
            None => {
                create_private_dir(&args.data_dir)?;
                let path = args.data_dir.join("ordo.db");
                create_private_database(&path)?;
                let options = SqliteOptions {
                    max_connections: args.db_max_connections.min(8),
                    ..SqliteOptions::default()
                };
                let store = SqliteStore::open(&path, &options).await.map_err(|error| {
                    anyhow::anyhow!(
                        "cannot open {}: {}",
                        path.display(),
                        ordo_http::error_chain(&error)
                    )
                })?;
                Ok(Self::Sqlite(store))
            }
        }
    }

    /// Applies pending migrations; returns the ones it applied.
    pub(crate) async fn migrate(&self) -> Result<Vec<String>> {
        let result = match self {
            Self::Postgres(store) => store.migrate().await,
            Self::Sqlite(store) => store.migrate().await,
        };
        result.map_err(|error| {
            anyhow::anyhow!("migrations failed: {}", ordo_http::error_chain(&error))
        })
    }

    /// Where the data lives, for people.
    pub(crate) fn describe(&self, args: &StorageArgs) -> String {
        match self {
            Self::Postgres(_) => format!(
                "PostgreSQL at {}, schema {}",
                args.database_url
                    .as_ref()
                    .map(|url| redact(url.expose_secret()))
                    .unwrap_or_default(),
                args.database_schema.0
            ),
            Self::Sqlite(_) => format!("SQLite at {}", args.data_dir.join("ordo.db").display()),
        }
    }

    /// The store as the service holds it.
    pub(crate) fn repository(&self) -> Arc<dyn OrderRepository> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    /// The same store, as the idempotency-key port.
    pub(crate) fn keys(&self) -> Arc<dyn IdempotencyStore> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    /// The same store, as the simulated gateway's ledger.
    pub(crate) fn ledger(&self) -> Arc<dyn GatewayLedger> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    /// The same store, as what replicas agree on.
    pub(crate) fn coordination(&self) -> Arc<dyn Coordination> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    /// The same store, as the API keys.
    pub(crate) fn api_keys(&self) -> Arc<dyn ApiKeyStore> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    /// The same store, as the discount codes.
    pub(crate) fn discounts(&self) -> Arc<dyn DiscountCodeStore> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    /// The same store, as webhook endpoints and deliveries.
    pub(crate) fn webhooks(&self) -> Arc<dyn WebhookStore> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    /// The same store, as where events are read.
    pub(crate) fn events(&self) -> Arc<dyn EventStore> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    /// The same store, as the shop's rates.
    pub(crate) fn rates(&self) -> Arc<dyn RatesStore> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    /// The same store, as the price book.
    pub(crate) fn products(&self) -> Arc<dyn ProductStore> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    /// Closes the pool.
    pub(crate) async fn close(&self) {
        match self {
            Self::Postgres(store) => store.close().await,
            Self::Sqlite(store) => store.close().await,
        }
    }
}

/// Why PostgreSQL could not be used, as one line without the password or the driver's
/// wrappers; a database that does not exist comes with how to create it.
fn connect_error(url: &str, error: &RepoError) -> anyhow::Error {
    let shown = redact(url);
    match Refusal::of(error) {
        Some(Refusal::MissingDatabase) => {
            let target = Target::of(url);
            anyhow::anyhow!(
                "the database {:?} does not exist on the PostgreSQL server at {shown}: create it with `createdb -h {} -p {} -U {} {}`, or `CREATE DATABASE \"{}\";` in psql",
                target.name,
                shell_word(&target.host),
                target.port,
                shell_word(&target.user),
                shell_word(&target.name),
                target.name.replace('"', "\"\""),
            )
        }
        Some(Refusal::Refused(message)) => {
            anyhow::anyhow!("PostgreSQL at {shown} refused: {message}")
        }
        Some(Refusal::BadSettings(cause)) => {
            anyhow::anyhow!("invalid database URL {shown}: {cause}")
        }
        _ => anyhow::anyhow!(
            "cannot use PostgreSQL at {shown}: {}",
            ordo_http::error_chain(error)
        ),
    }
}

/// A word as a shell reads it back: quoted when it holds anything but letters, digits and
/// `_.-`.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The server, user and database a PostgreSQL URL names, with PostgreSQL's defaults for what
/// it leaves out (port 5432; a database named as the user).
struct Target {
    host: String,
    port: u16,
    user: String,
    name: String,
}

impl Target {
    fn of(text: &str) -> Self {
        let url = url::Url::parse(text).ok();
        let decode = |part: &str| {
            // A `+` in a URL's path or user is itself, not a space.
            let escaped = format!("x={}", part.replace('+', "%2B"));
            url::form_urlencoded::parse(escaped.as_bytes())
                .next()
                .map_or_else(|| part.to_owned(), |(_, value)| value.into_owned())
        };
        let query = |name: &str| {
            url.as_ref().and_then(|url| {
                url.query_pairs()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.into_owned())
            })
        };
        let host = query("host")
            .or_else(|| {
                url.as_ref()
                    .and_then(|url| url.host_str().map(str::to_owned))
            })
            .unwrap_or_else(|| "localhost".to_owned());
        let port = url.as_ref().and_then(url::Url::port).unwrap_or(5432);
        let user = query("user")
            .or_else(|| {
                url.as_ref()
                    .map(|url| decode(url.username()))
                    .filter(|user| !user.is_empty())
            })
            .unwrap_or_else(|| "postgres".to_owned());
        let name = query("dbname")
            .or_else(|| {
                url.as_ref()
                    .map(|url| decode(url.path().trim_start_matches('/')))
                    .filter(|name| !name.is_empty())
            })
            .unwrap_or_else(|| user.clone());
        Self {
            host,
            port,
            user,
            name,
        }
    }
}

/// Creates the data directory (and missing parents) readable by its owner only (0700): it
/// holds orders, stored responses and the signing secret. An existing directory is left as
/// it is (it may be shared on purpose), with a warning when others may read it.
///
/// # Errors
/// When the directory cannot be created.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    let existed = dir.is_dir();
    builder
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    #[cfg(unix)]
    if existed {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir)
            .with_context(|| format!("cannot read the data directory {}", dir.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                "the data directory {} may be read by other users (mode {:o}); `chmod 700` it",
                dir.display(),
                mode & 0o777
            );
        }
    }
    Ok(())
}

/// Creates the SQLite file readable by its owner only (0600) before SQLite opens it: SQLite
/// gives its `-wal` and `-shm` files the database file's mode. Files an older ordo left
/// readable by others are made private too.
fn create_private_database(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = PathBuf::from(file);
        let Ok(metadata) = std::fs::metadata(&file) else {
            continue;
        };
        if metadata.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} private", file.display()))?;
        }
    }
    Ok(())
}

/// `ordo migrate`.
pub(crate) async fn migrate(args: &StorageArgs) -> Result<()> {
    let store = Store::open(args).await?;
    let applied = store.migrate().await?;
    #[allow(clippy::print_stdout, reason = "the CLI reports to its user")]
    {
        let target = store.describe(args);
        if applied.is_empty() {
            println!("{target}: already up to date, nothing applied");
        } else {
            println!("{target}: applied {} migration(s):", applied.len());
            for migration in &applied {
                println!("  {migration}");
            }
        }
    }
    store.close().await;
    Ok(())
}

/// Only PostgreSQL URLs name a server ordo can use.
///
/// # Errors
/// One line naming the setting, without the password.
pub(crate) fn check_url(url: &str) -> Result<()> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(());
    }
    bail!(
        "invalid configuration: `database_url`: unsupported database URL {}: expected postgres://…, or no URL for the embedded SQLite",
        redact(url)
    )
}

/// A URL without its password (in its user part or a `password` query parameter).
pub(crate) fn redact(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        // Where a password would end cannot be told in what does not parse.
        return if text.contains('@') || text.contains("password") {
            "***".to_owned()
        } else {
            text.to_owned()
        };
    };
    let mut hidden = false;
    // Only a URL without a host cannot take a password, and it has none to hide.
    if url.password().is_some() && url.set_password(Some("***")).is_ok() {
        hidden = true;
    }
    if url.query_pairs().any(|(name, _)| name == "password") {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if name == "password" {
                    "***".into()
                } else {
                    value
                };
                (name.into_owned(), value.into_owned())
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        hidden = true;
    }
    // Unchanged text as given, not as the parser would normalise it.
    if hidden { url.into() } else { text.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::{Target, redact, shell_word};

    #[test]
    fn the_database_to_create_is_read_from_the_url_with_postgres_defaults() {
        let target = Target::of("postgres://app:pw@db.internal/shop");
        let read = (target.host, target.port, target.user, target.name);
        assert_eq!(
            read,
            ("db.internal".into(), 5432, "app".into(), "shop".into())
        );
        let target = Target::of("postgres://db:6000/?user=ops&dbname=a%20b");
        let read = (target.host, target.port, target.user, target.name);
        assert_eq!(read, ("db".into(), 6000, "ops".into(), "a b".into()));
        // No database named: PostgreSQL uses the user's name.
        assert_eq!(Target::of("postgres://app@db").name, "app");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("shop_1"), "shop_1");
    }

    #[test]
    fn passwords_are_masked_in_urls() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/ordo"),
            "postgres://app:***@db:5432/ordo"
        );
        assert_eq!(redact("postgres://app@db/ordo"), "postgres://app@db/ordo");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn passwords_in_the_query_or_in_urls_that_do_not_parse_are_masked_too() {
        assert_eq!(
            redact("postgres://db/ordo?user=app&password=s3cret&sslmode=require"),
            "postgres://db/ordo?user=app&password=***&sslmode=require"
        );
        assert_eq!(
            redact("postgres://app:p%40ss@db/ordo"),
            "postgres://app:***@db/ordo"
        );
        // A `#` ends the host part: this does not parse, and its password must not show.
        assert_eq!(redact("postgres://app:pa#ss@db:x/ordo"), "***");
    }
}
