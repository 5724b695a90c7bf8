//! [`ApiKeyStore`] on both databases: one statement each, written once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Store;
use super::dialect::{Dialect, RowRead, Statement, required};
use crate::{ApiKeyStore, RepoError, StoredKey};

/// The columns a key is read from.
macro_rules! key_columns {
    () => {
        "id, name, scopes, secret_hash, created_at, created_by, revoked_at, last_used_at"
    };
}

const INSERT_KEY: &str = concat!(
    "INSERT INTO api_keys (",
    key_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
);

const KEY: &str = concat!("SELECT ", key_columns!(), " FROM api_keys WHERE id = $1");

/// Newest first; ids are UUIDv7, so they break a tie in creation time the same way.
const KEYS: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM api_keys ORDER BY created_at DESC, id DESC"
);

/// A key revoked before keeps its first revocation time.
const REVOKE_KEY: &str = concat!(
    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ",
    key_columns!()
);

const TOUCH_KEY: &str = "UPDATE api_keys SET last_used_at = $2
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)";

/// A stored key from its row.
fn key_row(row: &impl RowRead) -> Result<StoredKey, RepoError> {
    let text = |column: &str| required(row.text(column)?, column);
    let hash = required(row.bytes("secret_hash")?, "secret_hash")?;
    Ok(StoredKey {
        id: required(row.uuid("id")?, "id")?,
        name: text("name")?,
        scopes: text("scopes")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        secret_hash: hash
            .try_into()
            .map_err(|_| RepoError::other("a key's secret hash is not 32 bytes"))?,
        created_at: required(row.time("created_at")?, "created_at")?,
        created_by: text("created_by")?,
        revoked_at: row.time("revoked_at")?,
        last_used_at: row.time("last_used_at")?,
    })
}

#[async_trait]
impl<D: Dialect> ApiKeyStore for Store<D> {
    #[tracing::instrument(skip_all, fields(id = %key.id), err(level = "debug"))]
    async fn insert_key(&self, key: &StoredKey) -> Result<(), RepoError> {
        let statement = Statement::new(INSERT_KEY)
            .bind(key.id)
            .bind(key.name.clone())
            .bind(key.scopes.join(" "))
            .bind(key.secret_hash.to_vec())
            .bind(key.created_at)
            .bind(key.created_by.clone())
            .bind(key.revoked_at)
            .bind(key.last_used_at);
        self.execute(statement).await.map(drop)
    }

    #[tracing::instrument(skip_all, fields(%id), err(level = "debug"))]
    async fn key(&self, id: Uuid) -> Result<Option<StoredKey>, RepoError> {
        self.read_optional(Statement::new(KEY).bind(id))
            .await?
            .as_ref()
            .map(key_row)
            .transpose()
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn keys(&self) -> Result<Vec<StoredKey>, RepoError> {
        self.read_all(Statement::new(KEYS))
            .await?
            .iter()
            .map(key_row)
            .collect()
    }

    #[tracing::instrument(skip_all, fields(%id), err(level = "debug"))]
    async fn revoke_key(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<Option<StoredKey>, RepoError> {
        self.write_returning(Statement::new(REVOKE_KEY).bind(id).bind(at), key_row)
            .await
    }

    #[tracing::instrument(skip_all, fields(%id), err(level = "debug"))]
    async fn touch_key(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), RepoError> {
        self.execute(Statement::new(TOUCH_KEY).bind(id).bind(at))
            .await
            .map(drop)
    }
}
