//! Order events on both databases: their values and rows, the chaining of an event to its
//! order's last one (SQLite's way; PostgreSQL chains inside the change's own statement, see
//! `postgres.rs`), and [`EventStore`].

use async_trait::async_trait;
use ordo_domain::{
    Actor, ActorRole, CustomerId, EventKind, EventRecord, Hash, OrderId, Version, link,
};
use uuid::Uuid;

use super::Store;
use super::dialect::{Conn, Dialect, RowRead, Statement, Value, required};
use super::rows::{corrupt, version_column};
use crate::{EventStore, FeedPage, FeedPosition, FeedQuery, MAX_FEED_PAGE, RepoError, StoredEvent};

/// The columns an event's values fill, in [`event_values`]' order, then the chain's three.
macro_rules! event_columns {
    () => {
        "id, order_id, customer_id, kind, version, actor_role, actor_subject, request_id,
    idempotency_key, at, payload, payload_digest, chain, prev_hash, hash"
    };
}
pub(crate) use event_columns;

/// An event's values: its facts (`$1`..`$12`), then its digest (`$13`, which PostgreSQL links
/// in SQL).
pub(crate) fn event_values(event: &EventRecord) -> Result<Vec<Value>, RepoError> {
    Ok(vec![
        event.id.into(),
        event.order_id.as_uuid().into(),
        event.customer_id.as_uuid().into(),
        event.kind.as_str().into(),
        version_column(event.version)?.into(),
        event.actor.role.as_str().into(),
        event.actor.subject.clone().into(),
        event.request_id.clone().into(),
        event.idempotency_key.clone().into(),
        event.at.into(),
        event.payload.clone().into(),
        event.payload_digest.as_slice().into(),
        event.digest().as_slice().into(),
    ])
}

/// The last event of an order: its chain position and hash.
const LAST_EVENT: &str =
    "SELECT chain, hash FROM order_events WHERE order_id = $1 ORDER BY chain DESC LIMIT 1";

const INSERT_EVENT: &str = concat!(
    "INSERT INTO order_events (",
    event_columns!(),
    ")
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);

/// Records `event` after its order's last one, on the write's connection (inside its
/// transaction, so the chain and the change commit together). A second writer chaining onto
/// the same event breaks `UNIQUE (order_id, chain)` and fails.
pub(crate) async fn append_event<C: Conn>(
    conn: &mut C,
    event: &EventRecord,
) -> Result<(), RepoError> {
    let last = conn
        .fetch_optional(Statement::new(LAST_EVENT).bind(event.order_id.as_uuid()))
        .await?;
    let (chain, previous) = match last {
        None => (1, None),
        Some(row) => (
            required(row.int("chain")?, "chain")?.saturating_add(1),
            Some(hash_of(row.bytes("hash")?, "hash")?),
        ),
    };
    let hash = link(previous.as_ref(), &event.digest());
    let mut values = event_values(event)?;
    values.truncate(12);
    let insert = Statement::new(INSERT_EVENT)
        .bind_all(values)
        .bind(i32::try_from(chain).map_err(RepoError::other)?)
        .bind(previous.map(|hash| hash.to_vec()))
        .bind(hash.as_slice());
    conn.execute(insert).await?;
    Ok(())
}

fn hash_of(bytes: Option<Vec<u8>>, column: &str) -> Result<Hash, RepoError> {
    required(bytes, column)?
        .try_into()
        .map_err(|_| corrupt("event hash"))
}

macro_rules! select_events {
    () => {
        concat!("SELECT seq, tx, ", event_columns!(), " FROM order_events")
    };
}

const EVENT: &str = concat!(select_events!(), " WHERE id = $1");

const ORDER_EVENTS: &str = concat!(select_events!(), " WHERE order_id = $1 ORDER BY chain");

const RELAY: &str = "SELECT tx, seq FROM feed_relays WHERE name = $1";

/// A relay's first move: from the start, only if no relay of that name moved yet.
const START_RELAY: &str =
    "INSERT INTO feed_relays (name, tx, seq) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING";

const MOVE_RELAY: &str =
    "UPDATE feed_relays SET tx = $2, seq = $3 WHERE name = $1 AND tx = $4 AND seq = $5";

const CHAINS_AFTER: &str = concat!(
    select_events!(),
    " WHERE (order_id, chain) > ($1, $2) ORDER BY order_id, chain LIMIT $3"
);

/// An event from a row of `select_events!`.
fn event_row(row: &impl RowRead) -> Result<StoredEvent, RepoError> {
    let kind = required(row.text("kind")?, "kind")?;
    let role = required(row.text("actor_role")?, "actor_role")?;
    let version = required(row.int("version")?, "version")?;
    let record = EventRecord {
        id: required(row.uuid("id")?, "id")?,
        kind: kind
            .parse::<EventKind>()
            .map_err(|_| corrupt("event kind"))?,
        order_id: OrderId::from_uuid(required(row.uuid("order_id")?, "order_id")?)
            .map_err(|_| corrupt("event's order id"))?,
        customer_id: CustomerId::from_uuid(required(row.uuid("customer_id")?, "customer_id")?)
            .map_err(|_| corrupt("event's customer id"))?,
        version: Version::new(u32::try_from(version).map_err(|_| corrupt("event version"))?),
        actor: Actor {
            role: ActorRole::parse(&role).ok_or_else(|| corrupt("event actor role"))?,
            subject: required(row.text("actor_subject")?, "actor_subject")?,
        },
        request_id: row.text("request_id")?,
        idempotency_key: row.text("idempotency_key")?,
        at: required(row.time("at")?, "at")?,
        payload: row.text("payload")?,
        payload_digest: hash_of(row.bytes("payload_digest")?, "payload_digest")?,
    };
    Ok(StoredEvent {
        record,
        position: FeedPosition {
            tx: required(row.int("tx")?, "tx")?,
            seq: required(row.int("seq")?, "seq")?,
        },
        chain: u32::try_from(required(row.int("chain")?, "chain")?)
            .map_err(|_| corrupt("event chain"))?,
        prev_hash: row
            .bytes("prev_hash")?
            .map(|bytes| hash_of(Some(bytes), "prev_hash"))
            .transpose()?,
        hash: hash_of(row.bytes("hash")?, "hash")?,
    })
}

/// The feed's statement: the events after a position, below `bound` (`Dialect::FEED_BOUND`:
/// no event can later commit behind what is read), optionally of some kinds or of one
/// customer.
fn feed_statement(query: &FeedQuery, bound: Option<i64>) -> Statement {
    let after = query.after.unwrap_or(FeedPosition { tx: -1, seq: -1 });
    let mut values: Vec<Value> = vec![after.tx.into(), after.seq.into()];
    let mut placeholder = |value: Value| {
        values.push(value);
        format!("${}", values.len())
    };
    let mut clauses = vec!["(tx, seq) > ($1, $2)".to_owned()];
    if let Some(bound) = bound {
        clauses.push(format!("tx < {}", placeholder(bound.into())));
    }
    if let Some(customer) = query.customer_id {
        clauses.push(format!(
            "customer_id = {}",
            placeholder(customer.as_uuid().into())
        ));
    }
    if !query.kinds.is_empty() {
        let kinds: Vec<String> = query
            .kinds
            .iter()
            .map(|kind| placeholder(kind.as_str().into()))
            .collect();
        clauses.push(format!("kind IN ({})", kinds.join(", ")));
    }
    let limit = placeholder(i64::from(query.limit.clamp(1, MAX_FEED_PAGE)).into());
    let sql = format!(
        "{} WHERE {} ORDER BY tx, seq LIMIT {limit}",
        select_events!(),
        clauses.join(" AND ")
    );
    Statement::owned(sql).bind_all(values)
}

/// Where the last event recorded stands in the feed.
const FEED_END: &str = "SELECT tx, seq FROM order_events ORDER BY tx DESC, seq DESC LIMIT 1";

#[expect(
    private_bounds,
    reason = "its methods are the crate's own; the traits are the API"
)]
impl<D: Dialect> Store<D> {
    /// The transaction id below which every event that will ever commit already has
    /// (`Dialect::FEED_BOUND`); `None` when everything committed is settled (SQLite).
    async fn feed_bound(&self) -> Result<Option<i64>, RepoError> {
        let Some(sql) = D::FEED_BOUND else {
            return Ok(None);
        };
        self.read_optional(Statement::new(sql))
            .await?
            .map(|row| required(row.int("bound")?, "bound"))
            .transpose()?
            .ok_or_else(|| RepoError::other("the feed's bound returned nothing"))
            .map(Some)
    }
}

#[async_trait]
impl<D: Dialect> EventStore for Store<D> {
    async fn order_events(&self, order_id: OrderId) -> Result<Vec<StoredEvent>, RepoError> {
        self.read_all(Statement::new(ORDER_EVENTS).bind(order_id.as_uuid()))
            .await?
            .iter()
            .map(event_row)
            .collect()
    }

    async fn event(&self, id: Uuid) -> Result<StoredEvent, RepoError> {
        self.read_optional(Statement::new(EVENT).bind(id))
            .await?
            .as_ref()
            .map(event_row)
            .transpose()?
            .ok_or(RepoError::NotFound)
    }

    async fn feed(&self, query: &FeedQuery) -> Result<FeedPage, RepoError> {
        let bound = self.feed_bound().await?;
        let events = self
            .read_all(feed_statement(query, bound))
            .await?
            .iter()
            .map(event_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next = events.last().map(|event| event.position).or(query.after);
        Ok(FeedPage { events, next })
    }

    async fn feed_head(&self) -> Result<FeedPosition, RepoError> {
        match self.feed_bound().await? {
            Some(bound) => Ok(FeedPosition {
                tx: bound.saturating_sub(1),
                seq: i64::MAX,
            }),
            // One writer: what has committed is all there is, and insertion numbers only grow.
            None => Ok(self
                .read_optional(Statement::new(FEED_END))
                .await?
                .map(|row| {
                    Ok::<_, RepoError>(FeedPosition {
                        tx: required(row.int("tx")?, "tx")?,
                        seq: required(row.int("seq")?, "seq")?,
                    })
                })
                .transpose()?
                .unwrap_or(FeedPosition { tx: -1, seq: -1 })),
        }
    }

    async fn relay_position(&self, name: &str) -> Result<Option<FeedPosition>, RepoError> {
        self.read_optional(Statement::new(RELAY).bind(name))
            .await?
            .map(|row| {
                Ok(FeedPosition {
                    tx: required(row.int("tx")?, "tx")?,
                    seq: required(row.int("seq")?, "seq")?,
                })
            })
            .transpose()
    }

    async fn move_relay(
        &self,
        name: &str,
        from: Option<FeedPosition>,
        to: FeedPosition,
    ) -> Result<bool, RepoError> {
        let statement = match from {
            None => Statement::new(START_RELAY)
                .bind(name)
                .bind(to.tx)
                .bind(to.seq),
            Some(from) => Statement::new(MOVE_RELAY)
                .bind(name)
                .bind(to.tx)
                .bind(to.seq)
                .bind(from.tx)
                .bind(from.seq),
        };
        Ok(self.execute(statement).await? == 1)
    }

    async fn chains_after(
        &self,
        after: Option<(OrderId, u32)>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, RepoError> {
        let (order, chain) = after.map_or((Uuid::nil(), 0), |(id, chain)| (id.as_uuid(), chain));
        let statement = Statement::new(CHAINS_AFTER)
            .bind(order)
            .bind(i64::from(chain))
            .bind(i64::from(limit.max(1)));
        self.read_all(statement)
            .await?
            .iter()
            .map(event_row)
            .collect()
    }
}
