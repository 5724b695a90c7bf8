//! The store: every storage trait implemented once, over a [`Dialect`](dialect::Dialect).
//!
//! `orders.rs`, `keys.rs` and `ledger.rs` hold the statements and the trait methods;
//! `rows.rs` turns rows into domain values and back; `dialect.rs` lists what differs between
//! the databases, and `postgres.rs` and `sqlite.rs` (with `writer.rs`, SQLite's one writer)
//! are those differences.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use dialect::{Dialect, RowRead, Statement};

use crate::RepoError;

mod api_keys;
pub(crate) mod dialect;
mod discounts;
mod document;
mod driver;
mod events;
mod keys;
mod ledger;
mod list;
mod orders;
#[cfg(feature = "postgres")]
mod pg_schema;
#[cfg(feature = "postgres")]
mod postgres;
mod products;
mod rates;
mod rows;
#[cfg(feature = "sqlite")]
mod sqlite;
mod webhooks;
#[cfg(feature = "sqlite")]
mod writer;

pub use driver::Refusal;
#[cfg(feature = "postgres")]
pub use pg_schema::{InvalidSchema, PgSchema};
#[cfg(feature = "postgres")]
pub use postgres::{PgDialect, PgOptions};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteDialect, SqliteOptions};

/// Orders, idempotency keys, the gateway's ledger and shared facts in one database, reached
/// through the dialect `D` ([`crate::PgStore`] or [`crate::SqliteStore`]).
#[derive(Debug, Clone)]
pub struct Store<D> {
    dialect: D,
    /// Sequence values this process drew and has not handed out yet.
    sequence_block: Arc<Mutex<Range<u64>>>,
}

#[expect(
    private_bounds,
    reason = "its methods are the crate's own; the traits are the API"
)]
impl<D: Dialect> Store<D> {
    fn new(dialect: D) -> Self {
        Self {
            dialect,
            sequence_block: Arc::new(Mutex::new(0..0)),
        }
    }

    /// The read's rows.
    async fn read_all(&self, statement: Statement) -> Result<Vec<D::Row>, RepoError> {
        self.dialect.read_all(statement).await
    }

    /// The read's first row, if any.
    async fn read_optional(&self, statement: Statement) -> Result<Option<D::Row>, RepoError> {
        Ok(self.read_all(statement).await?.into_iter().next())
    }

    /// One write statement; the rows it changed.
    async fn execute(&self, statement: Statement) -> Result<u64, RepoError> {
        self.dialect
            .write(false, move |conn| {
                Box::pin(async move { dialect::Conn::execute(conn, statement).await })
            })
            .await
    }

    /// One write statement that returns a row; `read` turns it into a value.
    async fn write_returning<T: Send + 'static>(
        &self,
        statement: Statement,
        read: fn(&D::Row) -> Result<T, RepoError>,
    ) -> Result<Option<T>, RepoError> {
        self.dialect
            .write(false, move |conn| {
                Box::pin(async move {
                    dialect::Conn::fetch_optional(conn, statement)
                        .await?
                        .as_ref()
                        .map(read)
                        .transpose()
                })
            })
            .await
    }

    /// Applies the migrations that have not run yet, and names them
    /// (`"<version> <description>"`).
    async fn apply_migrations(&self) -> Result<Vec<String>, RepoError> {
        let moved = self.dialect.prepare_migrations().await?;
        if moved > 0 {
            tracing::warn!(
                moved,
                "moved ordo's tables out of the public schema into its own"
            );
        }
        // Before the first run the bookkeeping table does not exist: nothing was applied. Any
        // other failure to read it is an error, not "nothing applied".
        let bookkept = self
            .read_optional(Statement::new(D::MIGRATIONS_BOOKKEPT))
            .await?
            .map(|row| row.int("bookkept"))
            .transpose()?
            .flatten()
            .is_some_and(|bookkept| bookkept != 0);
        let applied: Vec<i64> = if bookkept {
            self.read_all(Statement::new("SELECT version FROM _sqlx_migrations"))
                .await?
                .iter()
                .map(|row| dialect::required(row.int("version")?, "version"))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        self.dialect.run_migrations().await?;
        Ok(D::MIGRATOR
            .iter()
            .filter(|migration| !applied.contains(&migration.version))
            .map(|migration| format!("{} {}", migration.version, migration.description))
            .collect())
    }

    /// Fails when a migration this build carries has not been applied.
    async fn migrations_applied(&self) -> Result<(), RepoError> {
        let latest = D::MIGRATOR.iter().map(|migration| migration.version).max();
        let applied = self
            .read_optional(Statement::new(
                "SELECT max(version) AS version FROM _sqlx_migrations WHERE success",
            ))
            .await?
            .map(|row| row.int("version"))
            .transpose()?
            .flatten();
        if applied < latest {
            return Err(RepoError::other(
                "database migrations are pending: run `ordo migrate`",
            ));
        }
        Ok(())
    }
}

macro_rules! public_api {
    ($dialect:ty, $feature:literal) => {
        #[cfg(feature = $feature)]
        impl Store<$dialect> {
            /// Applies the migrations that have not run yet, and names them
            /// (`"<version> <description>"`). Safe to call from several processes at once.
            ///
            /// # Errors
            /// [`RepoError::Unavailable`] or [`RepoError::Other`].
            pub async fn migrate(&self) -> Result<Vec<String>, RepoError> {
                self.apply_migrations().await
            }

            /// Finishes the writes under way and closes every connection.
            pub async fn close(&self) {
                self.dialect.close().await;
            }
        }
    };
}

public_api!(PgDialect, "postgres");
public_api!(SqliteDialect, "sqlite");
