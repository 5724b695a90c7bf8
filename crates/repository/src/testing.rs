//! Fresh, throwaway databases for tests (feature `test-util`).
//!
//! Every PostgreSQL test gets its own database, created from `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and dropped when the handle is dropped, so
//! tests run in parallel and never see each other's rows. There is no skipping: if PostgreSQL
//! cannot be reached, creating the database fails and says how to fix it.

use std::path::PathBuf;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, Executor as _};

use crate::{PgOptions, PgStore, RepoError, SqliteOptions, SqliteStore};

/// The URL of the server tests use.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with `search_path` set to `schema` (libpq and sqlx both read `options`).
pub fn in_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{schema}")
}

/// A PostgreSQL database of its own, dropped (with `FORCE`) on drop.
#[derive(Debug)]
pub struct TestPostgres {
    admin: PgConnectOptions,
    name: String,
    url: String,
}

impl TestPostgres {
    /// Creates an empty database with a unique name on the server at [`database_url`].
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the server cannot be reached (start PostgreSQL or set
    /// `DATABASE_URL`; `cargo xtask test` does both).
    pub async fn create() -> Result<Self, RepoError> {
        let admin: PgConnectOptions = database_url().parse().map_err(RepoError::other)?;
        let name = format!("ordo_test_{}", uuid::Uuid::new_v4().simple());
        let mut connection = admin.connect().await?;
        connection
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        connection.close().await?;
        let url = admin.clone().database(&name).to_url_lossy().to_string();
        Ok(Self { admin, name, url })
    }

    /// Creates a database and a migrated store on it.
    ///
    /// # Errors
    /// As [`TestPostgres::create`], or when migrations fail.
    pub async fn store() -> Result<(Self, PgStore), RepoError> {
        let database = Self::create().await?;
        let store = PgStore::connect(&database.url, &PgOptions::default()).await?;
        store.migrate().await?;
        Ok((database, store))
    }

    /// The database's URL, as a user would configure it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL with `search_path` set to ordo's default schema, for reading its tables with
    /// plain SQL (`psql`, a pool of one's own).
    pub fn tables_url(&self) -> String {
        in_schema(&self.url, crate::PgSchema::DEFAULT)
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs outside async code: use a small runtime on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let mut connection = admin.connect().await?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                connection.execute(sqlx::AssertSqlSafe(sql)).await?;
                connection.close().await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            tracing::warn!(database = %self.name, "could not drop the test database");
        }
    }
}

/// An SQLite file in a temporary directory, removed on drop.
#[derive(Debug)]
pub struct TestSqlite {
    directory: tempfile::TempDir,
}

impl TestSqlite {
    /// A migrated store in a fresh temporary file.
    ///
    /// # Errors
    /// When the temporary directory or the database cannot be created.
    pub async fn store() -> Result<(Self, SqliteStore), RepoError> {
        let directory = tempfile::tempdir().map_err(RepoError::other)?;
        let store =
            SqliteStore::open(&directory.path().join("ordo.db"), &SqliteOptions::default()).await?;
        store.migrate().await?;
        Ok((Self { directory }, store))
    }

    /// The database file.
    pub fn path(&self) -> PathBuf {
        self.directory.path().join("ordo.db")
    }
}

/// An event for a write of `order` in tests that are about the write, not its event: kind
/// `order.edited`, by the test itself, carrying a small payload.
pub fn event_of(order: &ordo_domain::Order) -> ordo_domain::EventRecord {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut random = [0_u8; 10];
    random[..8].copy_from_slice(&n.to_be_bytes());
    let millis = u64::try_from(order.updated_at().timestamp_millis()).unwrap_or(0);
    ordo_domain::EventRecord::new(
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid(),
        ordo_domain::EventKind::OrderEdited,
        order.id(),
        order.customer_id(),
        order.version(),
        ordo_domain::Actor::system("test"),
        order.updated_at(),
        format!(
            r#"{{"id":"{}","version":{}}}"#,
            order.id(),
            order.version().get()
        ),
    )
}
