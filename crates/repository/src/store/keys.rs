//! [`IdempotencyStore`] on both databases: every write to a key is a compare-and-set.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::OrderId;
use uuid::Uuid;

use super::Store;
use super::dialect::{Conn as _, Dialect, RowRead, Statement, required};
use super::rows::{corrupt, headers_from_text, headers_to_text};
use crate::{Begin, Claim, IdempotencyStore, KeyRequest, KeyScope, RepoError, StoredResponse};

/// Inserts the key, or starts it afresh if it expired; returns a row when the request now
/// holds it.
const INSERT_OR_RESTART: &str = "
INSERT INTO idempotency_keys (caller, key, fingerprint, token, locked_until, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (caller, key) DO UPDATE SET
    fingerprint = excluded.fingerprint, token = excluded.token,
    locked_until = excluded.locked_until, order_id = NULL, response_status = NULL,
    response_headers = NULL, response_body = NULL,
    created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE idempotency_keys.expires_at <= excluded.created_at
RETURNING 1 AS held";

const READ_KEY: &str = "
SELECT fingerprint, token, locked_until, response_status, response_headers, response_body
FROM idempotency_keys WHERE caller = $1 AND key = $2";

/// Moves an unfinished key from its old holder (`$5`) to the request.
const TAKE_OVER: &str = "
UPDATE idempotency_keys SET token = $3, locked_until = $4
WHERE caller = $1 AND key = $2 AND token = $5 AND response_status IS NULL
RETURNING order_id";

const COMPLETE: &str = "
UPDATE idempotency_keys SET response_status = $4, response_headers = $5, response_body = $6,
                            order_id = COALESCE(order_id, $7)
WHERE caller = $1 AND key = $2 AND token = $3 AND response_status IS NULL";

/// Unlinked: forget the key.
const FORGET: &str = "
DELETE FROM idempotency_keys
WHERE caller = $1 AND key = $2 AND token = $3 AND order_id IS NULL AND response_status IS NULL";

/// Linked to an order: keep it, end the lease.
const END_LEASE: &str = "
UPDATE idempotency_keys SET locked_until = $4
WHERE caller = $1 AND key = $2 AND token = $3 AND response_status IS NULL";

const PURGE: &str = "DELETE FROM idempotency_keys WHERE expires_at <= $1";

/// A key's row.
struct KeyRow {
    fingerprint: String,
    token: Uuid,
    locked_until: DateTime<Utc>,
    response: Option<StoredResponse>,
}

fn key_row(row: &impl RowRead) -> Result<KeyRow, RepoError> {
    let response = match row.int("response_status")? {
        None => None,
        Some(status) => Some(StoredResponse {
            status: u16::try_from(status).map_err(|_| corrupt("stored response status"))?,
            headers: headers_from_text(&required(
                row.text("response_headers")?,
                "response_headers",
            )?)?,
            body: required(row.bytes("response_body")?, "response_body")?,
        }),
    };
    Ok(KeyRow {
        fingerprint: required(row.text("fingerprint")?, "fingerprint")?,
        token: required(row.uuid("token")?, "token")?,
        locked_until: required(row.time("locked_until")?, "locked_until")?,
        response,
    })
}

/// `(caller, key, token)`, the first three values of every write to a held key.
fn held(scope: &KeyScope, token: Uuid) -> impl FnOnce(&'static str) -> Statement {
    let (caller, key) = (scope.caller.clone(), scope.key.clone());
    move |sql| Statement::new(sql).bind(caller).bind(key).bind(token)
}

#[async_trait]
impl<D: Dialect> IdempotencyStore for Store<D> {
    /// Inserts the key, or reads it and decides (replay, mismatch, in flight), or takes over an
    /// abandoned one. Every write is a compare-and-set, so two racing requests never both
    /// hold it.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn begin(&self, request: &KeyRequest) -> Result<Begin, RepoError> {
        let claimed = |order_id: Option<Uuid>| -> Result<Begin, RepoError> {
            let order_id = order_id
                .map(OrderId::from_uuid)
                .transpose()
                .map_err(|_| corrupt("order id"))?;
            Ok(Begin::Claimed(Claim {
                scope: request.scope.clone(),
                token: request.token,
                order_id,
            }))
        };
        // A few rounds cover the races (the row expiring, being purged or taken over meanwhile).
        for _ in 0..3 {
            let insert = Statement::new(INSERT_OR_RESTART)
                .bind(request.scope.caller.as_str())
                .bind(request.scope.key.as_str())
                .bind(request.fingerprint.as_str())
                .bind(request.token)
                .bind(request.lease_until)
                .bind(request.now)
                .bind(request.expires_at);
            if self.write_returning(insert, |_| Ok(())).await?.is_some() {
                return claimed(None);
            }
            let read = Statement::new(READ_KEY)
                .bind(request.scope.caller.as_str())
                .bind(request.scope.key.as_str());
            let Some(row) = self.read_optional(read).await? else {
                continue;
            };
            let row = key_row(&row)?;
            if row.fingerprint != request.fingerprint {
                return Ok(Begin::Mismatch);
            }
            if let Some(response) = row.response {
                return Ok(Begin::Replay(response));
            }
            if row.locked_until > request.now {
                return Ok(Begin::InFlight);
            }
            let take_over = held(&request.scope, request.token)(TAKE_OVER)
                .bind(request.lease_until)
                .bind(row.token);
            let taken = self
                .write_returning(take_over, |row| row.uuid("order_id"))
                .await?;
            if let Some(order_id) = taken {
                return claimed(order_id);
            }
        }
        Ok(Begin::InFlight)
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn complete(&self, claim: &Claim, response: &StoredResponse) -> Result<(), RepoError> {
        let statement = held(&claim.scope, claim.token)(COMPLETE)
            .bind(i16::try_from(response.status).map_err(RepoError::other)?)
            .bind(headers_to_text(&response.headers)?)
            .bind(response.body.as_slice())
            .bind(claim.order_id.map(|id| id.as_uuid()));
        if self.execute(statement).await? == 1 {
            Ok(())
        } else {
            Err(RepoError::ClaimLost)
        }
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn release(&self, claim: &Claim, now: DateTime<Utc>) -> Result<(), RepoError> {
        let forget = held(&claim.scope, claim.token)(FORGET);
        let end_lease = held(&claim.scope, claim.token)(END_LEASE).bind(now);
        self.dialect
            .write(false, move |conn| {
                Box::pin(async move {
                    conn.execute(forget).await?;
                    conn.execute(end_lease).await?;
                    Ok(())
                })
            })
            .await
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        self.execute(Statement::new(PURGE).bind(now)).await
    }
}
