//! The PostgreSQL schema ordo's tables live in, so a database shared with other applications
//! never mixes their tables with ordo's, and the move of tables an earlier version left in
//! `public`.

use std::fmt;
use std::str::FromStr;

use sqlx::{Connection as _, Executor as _, PgConnection, Row as _};

use crate::RepoError;

/// A schema's name: what `search_path` is set to on every connection of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSchema(String);

/// A schema name ordo refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a schema name is 1 to 63 lowercase letters, digits and underscores, starting with a letter \
     or an underscore and not with `pg_`"
)]
pub struct InvalidSchema;

impl PgSchema {
    /// ordo's own schema unless configured otherwise.
    pub const DEFAULT: &'static str = "ordo";

    /// A schema name, checked. Only plain lowercase identifiers are accepted, so the name
    /// needs no quoting rules beyond double quotes and reads the same in `psql`.
    ///
    /// # Errors
    /// [`InvalidSchema`] for anything else, and for PostgreSQL's reserved `pg_` prefix.
    pub fn new(name: &str) -> Result<Self, InvalidSchema> {
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if first_ok && rest_ok && name.len() <= 63 && !name.starts_with("pg_") {
            Ok(Self(name.to_owned()))
        } else {
            Err(InvalidSchema)
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for PgSchema {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

impl FromStr for PgSchema {
    type Err = InvalidSchema;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::new(name)
    }
}

impl fmt::Display for PgSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every table and sequence the migrations up to `20261126000007` made, which versions before
/// the schema setting left in `public`, with the migration that made it: an object moves only
/// if that migration is ordo's record there, so another application's table of the same name
/// stays. Indexes and constraints move with their tables; the sequence is owned by no column.
const BEFORE_SCHEMAS: [(&str, &str, i64); 9] = [
    ("TABLE", "orders", 20_261_122_000_001),
    ("TABLE", "order_items", 20_261_122_000_001),
    ("SEQUENCE", "order_number_seq", 20_261_122_000_001),
    ("TABLE", "idempotency_keys", 20_261_122_000_002),
    ("TABLE", "payment_attempts", 20_261_122_000_003),
    ("TABLE", "simulated_gateway_ledger", 20_261_122_000_003),
    ("TABLE", "refunds", 20_261_122_000_004),
    ("TABLE", "shared_facts", 20_261_126_000_007),
    ("TABLE", "job_leases", 20_261_126_000_007),
];

/// ordo's first migration: a `_sqlx_migrations` without it belongs to someone else.
const FIRST_MIGRATION: i64 = 20_261_122_000_001;

/// Serialises replicas preparing the schema at once (sqlx's migration lock is taken later).
const PREPARE_LOCK: i64 = 0x6f72_646f_5343_4845;

/// Makes sure ordo's tables are where `schema` says before migrations run, in one transaction:
///
/// - every connection must have `search_path` = `schema` (set with the `options` startup
///   parameter, which a connection pooler may drop: refused, rather than migrating into
///   whatever schema the connection happens to use);
/// - the schema is created if missing (checked first: `CREATE SCHEMA IF NOT EXISTS` needs the
///   right to create schemas even when it exists);
/// - when `schema` holds no migrations yet but ordo's are recorded in `public` (an earlier
///   version), ordo's tables move from `public` into it; its rows of `public._sqlx_migrations`
///   are copied and also left there, so a binary of the earlier version started by mistake
///   fails on the missing tables instead of creating empty ones;
/// - when they are recorded in another schema (an earlier version run with its own
///   `search_path`), nothing moves and the start is refused, naming that schema.
///
/// Returns how many objects moved.
pub(super) async fn prepare(
    conn: &mut PgConnection,
    schema: &PgSchema,
    versions: &[i64],
) -> Result<u64, RepoError> {
    let name = schema.as_str();
    let path: String = sqlx::query("SELECT current_setting('search_path') AS path")
        .fetch_one(&mut *conn)
        .await?
        .try_get("path")?;
    if path.trim_matches('"') != name {
        return Err(RepoError::other(format!(
            "the database connection's search_path is {path:?}, not the schema {name:?}: ordo \
             sets it with the `options` startup parameter, which a connection pooler such as \
             PgBouncer drops or refuses; connect ordo to PostgreSQL directly, or give its role \
             the path (ALTER ROLE <role> SET search_path = {name})"
        )));
    }
    let mut transaction = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PREPARE_LOCK)
        .execute(&mut *transaction)
        .await?;
    let mut moved: u64 = 0;
    let elsewhere = recorded_elsewhere(&mut transaction, name).await?;
    if elsewhere.iter().any(|other| other != "public") {
        return Err(RepoError::other(format!(
            "ordo's tables are recorded in schema {}, not in {name:?}: set database_schema to \
             that schema to keep using them",
            elsewhere.join(", ")
        )));
    }
    let exists: bool =
        sqlx::query("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS found")
            .bind(name)
            .fetch_one(&mut *transaction)
            .await?
            .try_get("found")?;
    if !exists {
        transaction
            .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
            .await?;
    }
    if !elsewhere.is_empty() {
        let recorded: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM public._sqlx_migrations WHERE version = ANY($1)",
        )
        .bind(versions)
        .fetch_all(&mut *transaction)
        .await?;
        transaction
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE TABLE \"{name}\"._sqlx_migrations (LIKE public._sqlx_migrations INCLUDING ALL)"
            )))
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO \"{name}\"._sqlx_migrations \
             SELECT * FROM public._sqlx_migrations WHERE version = ANY($1)"
        )))
        .bind(versions)
        .execute(&mut *transaction)
        .await?;
        for (kind, object, made_by) in BEFORE_SCHEMAS {
            let found: bool = sqlx::query("SELECT to_regclass($1) IS NOT NULL AS found")
                .bind(format!("public.{object}"))
                .fetch_one(&mut *transaction)
                .await?
                .try_get("found")?;
            if found && recorded.contains(&made_by) {
                transaction
                    .execute(sqlx::AssertSqlSafe(format!(
                        "ALTER {kind} public.{object} SET SCHEMA \"{name}\""
                    )))
                    .await?;
                moved = moved.saturating_add(1);
            }
        }
    }
    transaction.commit().await?;
    Ok(moved)
}

/// When `schema` records no migrations yet: the other schemas whose `_sqlx_migrations` records
/// ordo's first migration and that still hold its `orders` table.
async fn recorded_elsewhere(
    conn: &mut PgConnection,
    schema: &str,
) -> Result<Vec<String>, RepoError> {
    let own: bool = sqlx::query(
        "SELECT to_regclass(format('%I._sqlx_migrations', $1::text)) IS NOT NULL AS own",
    )
    .bind(schema)
    .fetch_one(&mut *conn)
    .await?
    .try_get("own")?;
    if own {
        return Ok(Vec::new());
    }
    let candidates: Vec<String> = sqlx::query_scalar(
        "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relname = '_sqlx_migrations' AND c.relkind = 'r' AND n.nspname <> $1
           AND to_regclass(format('%I.orders', n.nspname)) IS NOT NULL
         ORDER BY n.nspname",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await?;
    let mut ours = Vec::new();
    for candidate in candidates {
        let quoted = candidate.replace('"', "\"\"");
        let recorded: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM \"{quoted}\"._sqlx_migrations WHERE version = $1)"
        )))
        .bind(FIRST_MIGRATION)
        .fetch_one(&mut *conn)
        .await?;
        if recorded {
            ours.push(candidate);
        }
    }
    Ok(ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection whose `search_path` is not the schema (a pooler dropped ordo's `options`)
    /// is refused before anything is made or moved.
    #[cfg(feature = "test-util")]
    #[tokio::test]
    async fn a_connection_in_another_schema_is_refused_before_anything_is_made() {
        use sqlx::Connection as _;
        let database = crate::testing::TestPostgres::create()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let mut conn = PgConnection::connect(database.url())
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let refused = prepare(&mut conn, &PgSchema::default(), &[FIRST_MIGRATION])
            .await
            .map_err(|error| {
                let mut text = error.to_string();
                let mut source = std::error::Error::source(&error);
                while let Some(cause) = source {
                    text = format!("{text}: {cause}");
                    source = cause.source();
                }
                text
            });
        assert!(
            refused
                .as_ref()
                .is_err_and(|text| text.contains("search_path")),
            "{refused:?}"
        );
        let made: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'ordo')")
                .fetch_one(&mut conn)
                .await
                .unwrap_or_else(|error| panic!("{error}"));
        assert!(!made);
    }

    #[test]
    fn plain_lowercase_identifiers_are_schema_names_and_nothing_else() {
        for good in ["ordo", "_x", "shop_2", &"a".repeat(63)] {
            assert_eq!(PgSchema::new(good).map(|s| s.0), Ok(good.to_owned()));
        }
        for bad in [
            "",
            "Ordo",
            "2shop",
            "pg_ordo",
            "or-do",
            "or do",
            "ordo\"",
            "ördo",
            &"a".repeat(64),
        ] {
            assert_eq!(PgSchema::new(bad), Err(InvalidSchema), "{bad:?}");
        }
    }
}
