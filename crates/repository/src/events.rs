//! Reading order events: an order's history, the feed in commit-safe order, and every chain for
//! an audit. Events are written by the order writes themselves ([`crate::OrderRepository`]),
//! each in the transaction of its change.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ordo_domain::{CustomerId, EventKind, EventRecord, Hash, OrderId};

use crate::RepoError;

/// Where an event stands in the feed. Readers see events in this order, and never an event
/// behind a position they have passed (PostgreSQL: the writing transaction's id, then the
/// insertion number, read only below the oldest transaction still running; SQLite, with one
/// writer: the insertion number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FeedPosition {
    /// The writing transaction (0 on SQLite).
    pub tx: i64,
    /// The insertion number.
    pub seq: i64,
}

/// Cursor text that [`FeedPosition::encode`] did not make.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event cursor: pass back an event's cursor or next_cursor unchanged")]
pub struct InvalidFeedCursor;

const CURSOR_VERSION: u8 = 1;

impl FeedPosition {
    /// The opaque text form: base64url (no padding) of a version byte and the two numbers,
    /// big-endian.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(17);
        bytes.push(CURSOR_VERSION);
        bytes.extend_from_slice(&self.tx.to_be_bytes());
        bytes.extend_from_slice(&self.seq.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads a cursor made by [`FeedPosition::encode`].
    ///
    /// # Errors
    /// [`InvalidFeedCursor`] for anything else.
    pub fn decode(text: &str) -> Result<Self, InvalidFeedCursor> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| InvalidFeedCursor)?;
        let bytes: [u8; 17] = bytes.try_into().map_err(|_| InvalidFeedCursor)?;
        let (version, rest) = bytes.split_first().ok_or(InvalidFeedCursor)?;
        if *version != CURSOR_VERSION {
            return Err(InvalidFeedCursor);
        }
        let (tx, seq) = rest.split_at(8);
        Ok(Self {
            tx: i64::from_be_bytes(tx.try_into().map_err(|_| InvalidFeedCursor)?),
            seq: i64::from_be_bytes(seq.try_into().map_err(|_| InvalidFeedCursor)?),
        })
    }
}

/// An event as stored: its record, where it stands in the feed and in its order's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// What was recorded.
    pub record: EventRecord,
    /// Its place in the feed.
    pub position: FeedPosition,
    /// Its place in its order's chain: 1 for the first.
    pub chain: u32,
    /// The previous event's hash (none for the first).
    pub prev_hash: Option<Hash>,
    /// `link(prev_hash, record.digest())` when written.
    pub hash: Hash,
}

/// The largest feed page.
pub const MAX_FEED_PAGE: u32 = 500;

/// Which events to read from the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedQuery {
    /// Only events after this position; from the first when `None`.
    pub after: Option<FeedPosition>,
    /// Only events of these kinds; every kind when empty.
    pub kinds: Vec<EventKind>,
    /// Only this customer's orders' events.
    pub customer_id: Option<CustomerId>,
    /// At most this many (1 to [`MAX_FEED_PAGE`]).
    pub limit: u32,
}

/// A page of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// The events, in feed order.
    pub events: Vec<StoredEvent>,
    /// Where the next read starts: the last event's position, or the query's own when none
    /// came (events filtered out by kind still move it on).
    pub next: Option<FeedPosition>,
}

/// Where order events are read.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait EventStore: Send + Sync {
    /// An order's events, oldest first (its chain in order), deleted orders' too.
    ///
    /// # Errors
    /// [`RepoError::Corrupt`], [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn order_events(&self, order_id: OrderId) -> Result<Vec<StoredEvent>, RepoError>;

    /// One event, by its id.
    ///
    /// # Errors
    /// [`RepoError::NotFound`]; [`RepoError::Corrupt`]; [`RepoError::Unavailable`];
    /// [`RepoError::Other`].
    async fn event(&self, id: uuid::Uuid) -> Result<StoredEvent, RepoError>;

    /// The feed after `query.after`, only events no reader can later find behind it.
    ///
    /// # Errors
    /// [`RepoError::Corrupt`], [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn feed(&self, query: &FeedQuery) -> Result<FeedPage, RepoError>;

    /// The feed's head: every event at or below it has committed, and every event that
    /// commits from now on is above it (on PostgreSQL, just below the oldest transaction
    /// writing events now).
    ///
    /// # Errors
    /// [`RepoError::Corrupt`], [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn feed_head(&self) -> Result<FeedPosition, RepoError>;

    /// How far the relay `name` has published the feed (`None`: from the start).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn relay_position(&self, name: &str) -> Result<Option<FeedPosition>, RepoError>;

    /// Moves the relay `name` from `from` to `to`, only if it still stands at `from`: `false`
    /// (nothing written) when another relay moved it first.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn move_relay(
        &self,
        name: &str,
        from: Option<FeedPosition>,
        to: FeedPosition,
    ) -> Result<bool, RepoError>;

    /// Every event, by order id and then chain position, after `after` (an order id and a
    /// chain position), at most `limit`: what an audit walks.
    ///
    /// # Errors
    /// [`RepoError::Corrupt`], [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn chains_after(
        &self,
        after: Option<(OrderId, u32)>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_anything_else() {
        for position in [
            FeedPosition::default(),
            FeedPosition { tx: 7, seq: 9 },
            FeedPosition {
                tx: i64::MAX,
                seq: i64::MIN,
            },
        ] {
            assert_eq!(FeedPosition::decode(&position.encode()), Ok(position));
        }
        assert_eq!(FeedPosition::decode(""), Err(InvalidFeedCursor));
        assert_eq!(FeedPosition::decode("AAAA"), Err(InvalidFeedCursor));
        let mut other = URL_SAFE_NO_PAD
            .decode(FeedPosition::default().encode())
            .unwrap_or_default();
        if let Some(first) = other.first_mut() {
            *first = 2;
        }
        assert_eq!(
            FeedPosition::decode(&URL_SAFE_NO_PAD.encode(other)),
            Err(InvalidFeedCursor)
        );
    }
}
