//! [`WebhookStore`] on both databases: endpoints, the fan-out's position and the deliveries,
//! leased to senders (`Dialect::CLAIM_DELIVERIES`: PostgreSQL skips rows another sender holds).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::{EventKind, Version};
use uuid::Uuid;

use super::Store;
use super::dialect::{BoxFuture, Conn, Dialect, RowRead, Statement, Value, required};
use super::rows::{corrupt, missed_write, version_column};
use crate::{
    AttemptRecord, Delivery, DeliveryStatus, EndpointHealth, FeedPosition, NewDelivery, RepoError,
    WebhookEndpoint, WebhookStore,
};

macro_rules! endpoint_columns {
    () => {
        "id, url, description, event_types, enabled, secret, previous_secret, previous_until,
    disabled_reason, failing_since, version, created_at, updated_at"
    };
}

macro_rules! delivery_columns {
    () => {
        "id, endpoint_id, event_id, status, attempts, next_attempt_at, last_status, last_error,
    last_attempt_at, created_at"
    };
}
pub(crate) use delivery_columns;

// Where an endpoint starts in the feed is written once, when it is made.
const INSERT_ENDPOINT: &str = concat!(
    "INSERT INTO webhook_endpoints (",
    endpoint_columns!(),
    ", starts_tx, starts_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);

const ENDPOINT: &str = concat!(
    "SELECT ",
    endpoint_columns!(),
    ", starts_tx, starts_seq FROM webhook_endpoints WHERE id = $1"
);

const ENDPOINTS: &str = concat!(
    "SELECT ",
    endpoint_columns!(),
    ", starts_tx, starts_seq FROM webhook_endpoints ORDER BY created_at, id"
);

const UPDATE_ENDPOINT: &str = "
UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, enabled = $5,
    secret = $6, previous_secret = $7, previous_until = $8, disabled_reason = $9,
    failing_since = $10, version = $11, updated_at = $13
WHERE id = $1 AND version = $14";

const ENDPOINT_VERSION: &str = "SELECT version FROM webhook_endpoints WHERE id = $1";

const DELETE_ENDPOINT: &str = "DELETE FROM webhook_endpoints WHERE id = $1";

const FANOUT: &str = "SELECT tx, seq FROM webhook_fanout WHERE name = 'feed'";

const MOVE_FANOUT: &str =
    "UPDATE webhook_fanout SET tx = $1, seq = $2 WHERE name = 'feed' AND tx = $3 AND seq = $4";

const QUEUE: &str = "
INSERT INTO webhook_deliveries (id, endpoint_id, event_id, status, attempts, next_attempt_at,
                                created_at)
VALUES ($1, $2, $3, 'pending', 0, $4, $4)
ON CONFLICT (endpoint_id, event_id) DO NOTHING";

/// The lease of due deliveries; `$lock` is how a dialect keeps two senders off one row.
macro_rules! claim_deliveries {
    ($lock:literal) => {
        concat!(
            "
UPDATE webhook_deliveries SET leased_until = $2, lease_token = $3
WHERE id IN (
    SELECT id FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= $1
      AND (leased_until IS NULL OR leased_until < $1)
      AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = 1)
    ORDER BY next_attempt_at LIMIT $4",
            $lock,
            "
)
RETURNING ",
            $crate::store::webhooks::delivery_columns!()
        )
    };
}
pub(crate) use claim_deliveries;

const FINISH: &str = "
UPDATE webhook_deliveries SET status = $3, attempts = $4, next_attempt_at = $5,
    last_status = $6, last_error = $7, last_attempt_at = $8, leased_until = NULL,
    lease_token = NULL
WHERE id = $1 AND lease_token = $2";

const HEALTHY: &str =
    "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL";

const FAILING: &str =
    "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2) WHERE id = $1";

const DISABLE: &str = "
UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $2, updated_at = $3,
    failing_since = COALESCE(failing_since, $3), version = version + 1
WHERE id = $1 AND enabled = 1";

const DELIVERIES: &str = concat!(
    "SELECT ",
    delivery_columns!(),
    " FROM webhook_deliveries WHERE endpoint_id = $1 AND (created_at, id) < ($2, $3)
ORDER BY created_at DESC, id DESC LIMIT $4"
);

/// Pending again, due at `$3`, no attempts made, unless a sender's lease holds at `$3`: then
/// the row is left as it is (each column set to itself; every `SET` reads the row as it was)
/// and comes back with its lease, so the refusal is read in the same statement as the check.
const REDELIVER: &str = concat!(
    "
UPDATE webhook_deliveries SET
    status = CASE WHEN leased_until >= $3 THEN status ELSE 'pending' END,
    attempts = CASE WHEN leased_until >= $3 THEN attempts ELSE 0 END,
    next_attempt_at = CASE WHEN leased_until >= $3 THEN next_attempt_at ELSE $3 END,
    lease_token = CASE WHEN leased_until >= $3 THEN lease_token END,
    leased_until = CASE WHEN leased_until >= $3 THEN leased_until END
WHERE id = $2 AND endpoint_id = $1
RETURNING leased_until, ",
    delivery_columns!()
);

fn endpoint_values(endpoint: &WebhookEndpoint) -> Result<Vec<Value>, RepoError> {
    let types: Vec<&str> = endpoint
        .event_types
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    let (previous, until) = endpoint
        .previous_secret
        .clone()
        .map_or((None, None), |(secret, until)| (Some(secret), Some(until)));
    Ok(vec![
        endpoint.id.into(),
        endpoint.url.clone().into(),
        endpoint.description.clone().into(),
        serde_json::to_string(&types)
            .map_err(RepoError::other)?
            .into(),
        i16::from(endpoint.enabled).into(),
        endpoint.secret.clone().into(),
        previous.into(),
        until.into(),
        endpoint.disabled_reason.clone().into(),
        endpoint.failing_since.into(),
        version_column(endpoint.version)?.into(),
        endpoint.created_at.into(),
        endpoint.updated_at.into(),
    ])
}

fn endpoint_row(row: &impl RowRead) -> Result<WebhookEndpoint, RepoError> {
    let types: Vec<String> =
        serde_json::from_str(&required(row.text("event_types")?, "event_types")?)
            .map_err(|_| corrupt("endpoint event types"))?;
    let event_types = types
        .iter()
        .map(|name| name.parse::<EventKind>())
        .collect::<Result<_, _>>()
        .map_err(|_| corrupt("endpoint event type"))?;
    let version = required(row.int("version")?, "version")?;
    Ok(WebhookEndpoint {
        id: required(row.uuid("id")?, "id")?,
        url: required(row.text("url")?, "url")?,
        description: row.text("description")?,
        event_types,
        enabled: required(row.int("enabled")?, "enabled")? != 0,
        secret: required(row.text("secret")?, "secret")?,
        previous_secret: row
            .text("previous_secret")?
            .zip(row.time("previous_until")?),
        disabled_reason: row.text("disabled_reason")?,
        failing_since: row.time("failing_since")?,
        version: Version::new(u32::try_from(version).map_err(|_| corrupt("endpoint version"))?),
        created_at: required(row.time("created_at")?, "created_at")?,
        updated_at: required(row.time("updated_at")?, "updated_at")?,
        starts_after: row
            .int("starts_tx")?
            .zip(row.int("starts_seq")?)
            .map(|(tx, seq)| FeedPosition { tx, seq }),
    })
}

fn delivery_row(row: &impl RowRead) -> Result<Delivery, RepoError> {
    let status = required(row.text("status")?, "status")?;
    Ok(Delivery {
        id: required(row.uuid("id")?, "id")?,
        endpoint_id: required(row.uuid("endpoint_id")?, "endpoint_id")?,
        event_id: required(row.uuid("event_id")?, "event_id")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery status"))?,
        attempts: u32::try_from(required(row.int("attempts")?, "attempts")?)
            .map_err(|_| corrupt("delivery attempts"))?,
        next_attempt_at: required(row.time("next_attempt_at")?, "next_attempt_at")?,
        last_status: row
            .int("last_status")?
            .map(|status| u16::try_from(status).map_err(|_| corrupt("delivery's last status")))
            .transpose()?,
        last_error: row.text("last_error")?,
        last_attempt_at: row.time("last_attempt_at")?,
        created_at: required(row.time("created_at")?, "created_at")?,
    })
}

fn position_values(position: Option<FeedPosition>) -> [Value; 2] {
    let position = position.unwrap_or(FeedPosition { tx: -1, seq: -1 });
    [position.tx.into(), position.seq.into()]
}

#[async_trait]
impl<D: Dialect> WebhookStore for Store<D> {
    async fn insert_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), RepoError> {
        let start = endpoint.starts_after;
        self.execute(
            Statement::new(INSERT_ENDPOINT)
                .bind_all(endpoint_values(endpoint)?)
                .bind(start.map(|start| start.tx))
                .bind(start.map(|start| start.seq)),
        )
        .await?;
        Ok(())
    }

    async fn webhook_endpoint(&self, id: Uuid) -> Result<WebhookEndpoint, RepoError> {
        self.read_optional(Statement::new(ENDPOINT).bind(id))
            .await?
            .as_ref()
            .map(endpoint_row)
            .transpose()?
            .ok_or(RepoError::NotFound)
    }

    async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, RepoError> {
        self.read_all(Statement::new(ENDPOINTS))
            .await?
            .iter()
            .map(endpoint_row)
            .collect()
    }

    async fn update_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        expected: Version,
    ) -> Result<(), RepoError> {
        let update = Statement::new(UPDATE_ENDPOINT)
            .bind_all(endpoint_values(endpoint)?)
            .bind(version_column(expected)?);
        if self.execute(update).await? == 1 {
            return Ok(());
        }
        let current = self
            .read_optional(Statement::new(ENDPOINT_VERSION).bind(endpoint.id))
            .await?
            .map(|row| row.int("version"))
            .transpose()?
            .flatten();
        Err(missed_write(current))
    }

    async fn delete_endpoint(&self, id: Uuid) -> Result<(), RepoError> {
        match self
            .execute(Statement::new(DELETE_ENDPOINT).bind(id))
            .await?
        {
            0 => Err(RepoError::NotFound),
            _ => Ok(()),
        }
    }

    async fn fanout_position(&self) -> Result<Option<FeedPosition>, RepoError> {
        let row = self
            .read_optional(Statement::new(FANOUT))
            .await?
            .ok_or_else(|| RepoError::other("the fan-out's position is missing"))?;
        let position = FeedPosition {
            tx: required(row.int("tx")?, "tx")?,
            seq: required(row.int("seq")?, "seq")?,
        };
        Ok((position.tx >= 0).then_some(position))
    }

    async fn enqueue_deliveries(
        &self,
        deliveries: &[NewDelivery],
        from: Option<FeedPosition>,
        to: FeedPosition,
    ) -> Result<bool, RepoError> {
        let moved = Statement::new(MOVE_FANOUT)
            .bind_all(position_values(Some(to)))
            .bind_all(position_values(from));
        let queue: Vec<Statement> = deliveries
            .iter()
            .map(|delivery| {
                Statement::new(QUEUE)
                    .bind(delivery.id)
                    .bind(delivery.endpoint_id)
                    .bind(delivery.event_id)
                    .bind(delivery.at)
            })
            .collect();
        self.dialect
            .write(
                true,
                move |conn: &mut D::Conn| -> BoxFuture<'_, Result<bool, RepoError>> {
                    Box::pin(async move {
                        if conn.execute(moved).await? != 1 {
                            return Ok(false);
                        }
                        for statement in queue {
                            conn.execute(statement).await?;
                        }
                        Ok(true)
                    })
                },
            )
            .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        token: Uuid,
        limit: u32,
    ) -> Result<Vec<Delivery>, RepoError> {
        let claim = Statement::new(D::CLAIM_DELIVERIES)
            .bind(now)
            .bind(until)
            .bind(token)
            .bind(i64::from(limit.max(1)));
        let rows = self
            .dialect
            .write(
                false,
                move |conn: &mut D::Conn| -> BoxFuture<'_, Result<Vec<Delivery>, RepoError>> {
                    Box::pin(async move {
                        let mut claimed = Vec::new();
                        for row in conn.fetch_all(claim).await? {
                            claimed.push(delivery_row(&row)?);
                        }
                        Ok(claimed)
                    })
                },
            )
            .await?;
        Ok(rows)
    }

    async fn finish_delivery(
        &self,
        endpoint_id: Uuid,
        record: &AttemptRecord,
        health: EndpointHealth,
    ) -> Result<bool, RepoError> {
        let finish = Statement::new(FINISH)
            .bind(record.delivery_id)
            .bind(record.lease_token)
            .bind(record.status.as_str())
            .bind(i32::try_from(record.attempts).map_err(RepoError::other)?)
            .bind(record.next_attempt_at)
            .bind(record.http_status.map(i32::from))
            .bind(record.error.clone())
            .bind(record.at);
        let endpoint = match health {
            EndpointHealth::Healthy => Statement::new(HEALTHY).bind(endpoint_id),
            EndpointHealth::Failing => Statement::new(FAILING).bind(endpoint_id).bind(record.at),
            EndpointHealth::Disable(reason) => Statement::new(DISABLE)
                .bind(endpoint_id)
                .bind(reason)
                .bind(record.at),
        };
        self.dialect
            .write(
                true,
                move |conn: &mut D::Conn| -> BoxFuture<'_, Result<bool, RepoError>> {
                    Box::pin(async move {
                        if conn.execute(finish).await? != 1 {
                            return Ok(false);
                        }
                        conn.execute(endpoint).await?;
                        Ok(true)
                    })
                },
            )
            .await
    }

    async fn deliveries(
        &self,
        endpoint_id: Uuid,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: u32,
    ) -> Result<Vec<Delivery>, RepoError> {
        // Past any delivery (9999-12-31): both databases hold this time.
        let end = DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or_default();
        let (at, id) = before.unwrap_or((end, Uuid::max()));
        let statement = Statement::new(DELIVERIES)
            .bind(endpoint_id)
            .bind(at)
            .bind(id)
            .bind(i64::from(limit.max(1)));
        self.read_all(statement)
            .await?
            .iter()
            .map(delivery_row)
            .collect()
    }

    async fn redeliver(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<Delivery, RepoError> {
        let statement = Statement::new(REDELIVER)
            .bind(endpoint_id)
            .bind(delivery_id)
            .bind(at);
        let (lease, delivery) = self
            .write_returning(statement, |row| {
                Ok((row.time("leased_until")?, delivery_row(row)?))
            })
            .await?
            .ok_or(RepoError::NotFound)?;
        match lease {
            Some(until) => Err(RepoError::Leased { until }),
            None => Ok(delivery),
        }
    }
}
