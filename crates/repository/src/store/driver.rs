//! What the store takes from sqlx besides its statements: driver errors as [`RepoError`]s, and
//! the pool's figures for metrics.

use crate::RepoError;

/// Maps a driver error to what a caller can act on. No sqlx type leaves the crate.
impl From<sqlx::Error> for RepoError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) => {
                if matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation) {
                    let constraint = db
                        .constraint()
                        .map_or_else(|| db.message().to_owned(), str::to_owned);
                    return Self::Duplicate { constraint };
                }
                if db.code().is_some_and(|code| transient_code(&code)) {
                    return Self::Unavailable(Box::new(sqlx::Error::Database(db)));
                }
                Self::Other(Box::new(sqlx::Error::Database(db)))
            }
            error @ (sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed) => Self::Unavailable(Box::new(error)),
            other => Self::Other(Box::new(other)),
        }
    }
}

/// Codes that mean "not now" rather than "never": PostgreSQL's connection exceptions (class
/// 08), shutdowns (57P01-57P03), too many connections (53300) and serialization failures
/// (40001, 40P01); SQLite's BUSY (5) and LOCKED (6), with their extended codes.
fn transient_code(code: &str) -> bool {
    if code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
        )
    {
        return true;
    }
    code.parse::<u32>()
        .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6))
}

/// The pool's figures for metrics.
pub(crate) fn pool_figures<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    waiting: &Waiting,
) -> crate::PoolStats {
    crate::PoolStats {
        size: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
        waiting: waiting.count(),
    }
}

/// Counts the callers waiting for a pool connection (sqlx does not say).
#[derive(Debug, Clone, Default)]
pub(crate) struct Waiting(std::sync::Arc<std::sync::atomic::AtomicU32>);

impl Waiting {
    /// Counts one waiter until the guard is dropped (when the wait ends, however it ends).
    pub(crate) fn enter(&self) -> WaitingGuard<'_> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        WaitingGuard(&self.0)
    }

    /// Callers waiting now.
    pub(crate) fn count(&self) -> u32 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// One waiter, counted while it lives.
pub(crate) struct WaitingGuard<'a>(&'a std::sync::atomic::AtomicU32);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Why a database refused a connection, in terms a command line can explain; the driver's
/// types stay inside this crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The server is there but the database named does not exist (PostgreSQL's 3D000).
    MissingDatabase,
    /// The server refused, saying why (its own message).
    Refused(String),
    /// The connection settings are malformed.
    BadSettings(String),
}

impl Refusal {
    /// What the driver error under `error`, if any, says about the connection.
    pub fn of(error: &RepoError) -> Option<Self> {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(error) = cause {
            match error.downcast_ref::<sqlx::Error>() {
                Some(sqlx::Error::Database(db)) if db.code().as_deref() == Some("3D000") => {
                    return Some(Self::MissingDatabase);
                }
                Some(sqlx::Error::Database(db)) => {
                    return Some(Self::Refused(db.message().to_owned()));
                }
                Some(sqlx::Error::Configuration(why)) => {
                    return Some(Self::BadSettings(why.to_string()));
                }
                _ => cause = error.source(),
            }
        }
        None
    }
}
