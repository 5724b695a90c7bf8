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
/// the schema setting left in `public`. Indexes and constraints move with their tables.
const BEFORE_SCHEMAS: [(&str, &str); 9] = [
    ("TABLE", "orders"),
    ("TABLE", "order_items"),
    ("TABLE", "idempotency_keys"),
    ("TABLE", "payment_attempts"),
    ("TABLE", "simulated_gateway_ledger"),
    ("TABLE", "refunds"),
    ("TABLE", "shared_facts"),
    ("TABLE", "job_leases"),
    ("SEQUENCE", "order_number_seq"),
];

/// ordo's first migration: a `public._sqlx_migrations` without it belongs to someone else.
const FIRST_MIGRATION: i64 = 20_261_122_000_001;

/// Serialises replicas preparing the schema at once (sqlx's migration lock is taken later).
const PREPARE_LOCK: i64 = 0x6f72_646f_5343_4845;

/// Creates `schema` if missing and, when ordo's tables are still in `public` from an earlier
/// version, moves them into it in one transaction. Returns how many objects moved.
///
/// `public._sqlx_migrations` may also hold another sqlx application's migrations, so ordo's
/// rows (`versions`) are moved out of it rather than the table itself.
pub(super) async fn prepare(
    conn: &mut PgConnection,
    schema: &PgSchema,
    versions: &[i64],
) -> Result<u64, RepoError> {
    let mut transaction = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PREPARE_LOCK)
        .execute(&mut *transaction)
        .await?;
    let name = schema.as_str();
    transaction
        .execute(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{name}\""
        )))
        .await?;
    let mut moved: u64 = 0;
    if name != "public" && left_in_public(&mut transaction, name).await? {
        transaction
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE TABLE \"{name}\"._sqlx_migrations (LIKE public._sqlx_migrations INCLUDING ALL)"
            )))
            .await?;
        let copy = format!(
            "INSERT INTO \"{name}\"._sqlx_migrations \
             SELECT * FROM public._sqlx_migrations WHERE version = ANY($1)"
        );
        let remove = "DELETE FROM public._sqlx_migrations WHERE version = ANY($1)".to_owned();
        for sql in [copy, remove] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(versions)
                .execute(&mut *transaction)
                .await?;
        }
        let emptied: bool =
            sqlx::query("SELECT NOT EXISTS (SELECT 1 FROM public._sqlx_migrations) AS emptied")
                .fetch_one(&mut *transaction)
                .await?
                .try_get("emptied")?;
        if emptied {
            transaction
                .execute("DROP TABLE public._sqlx_migrations")
                .await?;
        }
        moved = moved.saturating_add(1);
        for (kind, object) in BEFORE_SCHEMAS {
            let exists: bool = sqlx::query("SELECT to_regclass($1) IS NOT NULL AS found")
                .bind(format!("public.{object}"))
                .fetch_one(&mut *transaction)
                .await?
                .try_get("found")?;
            if exists {
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

/// True when `public` holds ordo's migrations and `schema` holds none yet.
async fn left_in_public(conn: &mut PgConnection, schema: &str) -> Result<bool, RepoError> {
    let row = sqlx::query(
        "SELECT to_regclass('public._sqlx_migrations') IS NOT NULL
            AND to_regclass('public.orders') IS NOT NULL
            AND to_regclass(format('%I._sqlx_migrations', $1::text)) IS NULL AS candidate",
    )
    .bind(schema)
    .fetch_one(&mut *conn)
    .await?;
    if !row.try_get::<bool, _>("candidate")? {
        return Ok(false);
    }
    let ours: bool = sqlx::query(
        "SELECT EXISTS (SELECT 1 FROM public._sqlx_migrations WHERE version = $1) AS ours",
    )
    .bind(FIRST_MIGRATION)
    .fetch_one(&mut *conn)
    .await?
    .try_get("ours")?;
    Ok(ours)
}

#[cfg(test)]
mod tests {
    use super::*;

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
