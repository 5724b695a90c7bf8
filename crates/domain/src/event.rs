//! An order's events: what changed, who changed it, and the order as it then was; and the hash
//! chain that makes an order's history tamper-evident.
//!
//! Every change of an order is recorded as one [`EventRecord`] in the transaction that makes
//! the change. Each record is chained to the order's previous one:
//!
//! - `payload_digest` = SHA-256 of the payload's bytes (the order as the API shows it);
//! - `digest` = SHA-256 of the record's facts ([`EventRecord::digest`]: a fixed, length-prefixed
//!   encoding of id, kind, order, customer, version, actor, request id, idempotency key, time
//!   and `payload_digest`);
//! - `hash` = SHA-256 of the previous event's `hash` (nothing for an order's first event)
//!   followed by `digest` ([`link`]).
//!
//! Changing any fact of any event, or removing or reordering events, breaks every later link.
//! Erasing a customer's personal data removes the payloads but keeps their digests, so the
//! chain still verifies and the erasure is visible.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use strum::{EnumIter, IntoEnumIterator as _, IntoStaticStr};

use crate::{CustomerId, OrderId, Version};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// What happened to an order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumIter,
)]
pub enum EventKind {
    /// The order was stored.
    #[serde(rename = "order.placed")]
    #[strum(serialize = "order.placed")]
    OrderPlaced,
    /// Its details (contact, addresses, notes, tags, metadata) changed.
    #[serde(rename = "order.edited")]
    #[strum(serialize = "order.edited")]
    OrderEdited,
    /// Its status moved (to processing or completed).
    #[serde(rename = "order.status_changed")]
    #[strum(serialize = "order.status_changed")]
    StatusChanged,
    /// It was cancelled.
    #[serde(rename = "order.cancelled")]
    #[strum(serialize = "order.cancelled")]
    OrderCancelled,
    /// It was deleted (kept, no longer found).
    #[serde(rename = "order.deleted")]
    #[strum(serialize = "order.deleted")]
    OrderDeleted,
    /// Its customer's personal data was erased.
    #[serde(rename = "order.erased")]
    #[strum(serialize = "order.erased")]
    OrderErased,
    /// A gateway call was claimed on it (a capture or void about to be asked for).
    #[serde(rename = "payment.requested")]
    #[strum(serialize = "payment.requested")]
    PaymentRequested,
    /// The gateway authorized the total.
    #[serde(rename = "payment.authorized")]
    #[strum(serialize = "payment.authorized")]
    PaymentAuthorized,
    /// The gateway declined.
    #[serde(rename = "payment.failed")]
    #[strum(serialize = "payment.failed")]
    PaymentFailed,
    /// The gateway did not answer; reconciliation will ask again.
    #[serde(rename = "payment.unknown")]
    #[strum(serialize = "payment.unknown")]
    PaymentUnknown,
    /// The money was captured.
    #[serde(rename = "payment.captured")]
    #[strum(serialize = "payment.captured")]
    PaymentCaptured,
    /// The hold was released.
    #[serde(rename = "payment.voided")]
    #[strum(serialize = "payment.voided")]
    PaymentVoided,
    /// A refund was reserved and sent to the gateway.
    #[serde(rename = "refund.requested")]
    #[strum(serialize = "refund.requested")]
    RefundRequested,
    /// The gateway refunded it.
    #[serde(rename = "refund.succeeded")]
    #[strum(serialize = "refund.succeeded")]
    RefundSucceeded,
    /// The gateway refused it; the reservation was released.
    #[serde(rename = "refund.failed")]
    #[strum(serialize = "refund.failed")]
    RefundFailed,
    /// Units of its lines were set aside in a fulfilment (which may have completed it).
    #[serde(rename = "fulfillment.created")]
    #[strum(serialize = "fulfillment.created")]
    FulfillmentCreated,
    /// A fulfilment was handed to its carrier.
    #[serde(rename = "fulfillment.shipped")]
    #[strum(serialize = "fulfillment.shipped")]
    FulfillmentShipped,
    /// A fulfilment was delivered.
    #[serde(rename = "fulfillment.delivered")]
    #[strum(serialize = "fulfillment.delivered")]
    FulfillmentDelivered,
    /// A fulfilment was called off before it shipped; its units are unfulfilled again.
    #[serde(rename = "fulfillment.cancelled")]
    #[strum(serialize = "fulfillment.cancelled")]
    FulfillmentCancelled,
    /// A fulfilment's tracking changed.
    #[serde(rename = "fulfillment.tracking_updated")]
    #[strum(serialize = "fulfillment.tracking_updated")]
    FulfillmentTrackingUpdated,
    /// A payment made outside a gateway was recorded (a bank transfer, cash).
    #[serde(rename = "payment.recorded")]
    #[strum(serialize = "payment.recorded")]
    PaymentRecorded,
    /// A return of shipped units was asked for.
    #[serde(rename = "return.requested")]
    #[strum(serialize = "return.requested")]
    ReturnRequested,
    /// A return's units came back (with `restock`, for the inventory system to put back).
    #[serde(rename = "return.received")]
    #[strum(serialize = "return.received")]
    ReturnReceived,
    /// A return was closed: rejected, or refunded (its refund reserved with it).
    #[serde(rename = "return.closed")]
    #[strum(serialize = "return.closed")]
    ReturnClosed,
}

/// A name that is no event kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {name:?}; known: {known}", name = .0, known = EventKind::names().join(", "))]
pub struct UnknownEventKind(pub String);

impl EventKind {
    /// The kind as written on the wire and in storage (`"order.placed"`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every kind's name, in declaration order.
    pub fn names() -> Vec<&'static str> {
        Self::iter().map(Self::as_str).collect()
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = UnknownEventKind;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| UnknownEventKind(name.to_owned()))
    }
}

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ActorRole {
    /// The order's customer.
    Customer,
    /// A member of staff.
    Staff,
    /// An administrator.
    Admin,
    /// A trusted backend's API key.
    Key,
    /// ordo itself (reconciliation, an operator command).
    System,
}

impl ActorRole {
    /// The role as stored (`"staff"`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The role named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Customer,
            Self::Staff,
            Self::Admin,
            Self::Key,
            Self::System,
        ]
        .into_iter()
        .find(|role| role.as_str() == name)
    }
}

/// Who made a change: a role and its subject (a customer's id, a token's subject, `key:<id>`,
/// or the job's name for [`ActorRole::System`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The kind of caller.
    pub role: ActorRole,
    /// Which one.
    pub subject: String,
}

impl Actor {
    /// ordo itself, doing `job`.
    pub fn system(job: &str) -> Self {
        Self {
            role: ActorRole::System,
            subject: job.to_owned(),
        }
    }
}

/// One change of one order, as recorded with the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// The event's id (a `UUIDv7`); a consumer's deduplication key.
    pub id: uuid::Uuid,
    /// What happened.
    pub kind: EventKind,
    /// To which order.
    pub order_id: OrderId,
    /// Whose order it is.
    pub customer_id: CustomerId,
    /// The order's version after the change.
    pub version: Version,
    /// Who did it.
    pub actor: Actor,
    /// The request that did it, when it came through the API.
    pub request_id: Option<String>,
    /// The idempotency key the request carried, if any.
    pub idempotency_key: Option<String>,
    /// When (to the microsecond).
    pub at: DateTime<Utc>,
    /// The order as the API shows it after the change (JSON); `None` once erased.
    pub payload: Option<String>,
    /// SHA-256 of the payload's bytes, kept when the payload is erased.
    pub payload_digest: Hash,
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// The chain's link: SHA-256 of the previous event's hash (none for an order's first event)
/// followed by this event's [`EventRecord::digest`].
pub fn link(previous: Option<&Hash>, digest: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    if let Some(previous) = previous {
        hasher.update(previous);
    }
    hasher.update(digest);
    hasher.finalize().into()
}

/// Appends a string, length first, so no two field lists encode alike.
fn put_text(hasher: &mut Sha256, text: &str) {
    let length = u64::try_from(text.len()).unwrap_or(u64::MAX);
    hasher.update(length.to_be_bytes());
    hasher.update(text.as_bytes());
}

/// Appends an optional string: a presence byte, then the string.
fn put_optional(hasher: &mut Sha256, text: Option<&str>) {
    match text {
        None => hasher.update([0]),
        Some(text) => {
            hasher.update([1]);
            put_text(hasher, text);
        }
    }
}

impl EventRecord {
    /// A record of `payload` (its digest computed here).
    #[expect(
        clippy::too_many_arguments,
        reason = "a record's facts, each named once"
    )]
    pub fn new(
        id: uuid::Uuid,
        kind: EventKind,
        order_id: OrderId,
        customer_id: CustomerId,
        version: Version,
        actor: Actor,
        at: DateTime<Utc>,
        payload: String,
    ) -> Self {
        Self {
            id,
            kind,
            order_id,
            customer_id,
            version,
            actor,
            request_id: None,
            idempotency_key: None,
            at,
            payload_digest: sha256(payload.as_bytes()),
            payload: Some(payload),
        }
    }

    /// The same record, naming the request and idempotency key that caused it.
    #[must_use]
    pub fn from_request(mut self, request_id: Option<String>, key: Option<String>) -> Self {
        self.request_id = request_id;
        self.idempotency_key = key;
        self
    }

    /// SHA-256 of the record's facts in a fixed encoding (version 1): a tag, then each field
    /// in declaration order, strings length-prefixed, optional ones after a presence byte,
    /// the version as 8 bytes and the time as microseconds since the epoch, both big-endian.
    pub fn digest(&self) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update(b"ordo-event-v1\0");
        hasher.update(self.id.as_bytes());
        put_text(&mut hasher, self.kind.as_str());
        hasher.update(self.order_id.as_uuid().as_bytes());
        hasher.update(self.customer_id.as_uuid().as_bytes());
        hasher.update(u64::from(self.version.get()).to_be_bytes());
        put_text(&mut hasher, self.actor.role.as_str());
        put_text(&mut hasher, &self.actor.subject);
        put_optional(&mut hasher, self.request_id.as_deref());
        put_optional(&mut hasher, self.idempotency_key.as_deref());
        hasher.update(self.at.timestamp_micros().to_be_bytes());
        hasher.update(self.payload_digest);
        hasher.finalize().into()
    }

    /// Whether the payload is there and is what its digest says.
    pub fn payload_intact(&self) -> Option<bool> {
        self.payload
            .as_ref()
            .map(|payload| sha256(payload.as_bytes()) == self.payload_digest)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    fn record() -> EventRecord {
        EventRecord::new(
            uuid::Uuid::from_u128(1),
            EventKind::OrderPlaced,
            OrderId::from_uuid(uuid::Uuid::from_u128(
                0x0190_0000_0000_7000_8000_0000_0000_0002,
            ))
            .unwrap(),
            CustomerId::from_uuid(uuid::Uuid::from_u128(3)).unwrap(),
            Version::FIRST,
            Actor::system("test"),
            DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap(),
            r#"{"id":1}"#.to_owned(),
        )
    }

    #[test]
    fn every_kind_reads_back_from_its_name_and_serde_agrees() {
        for kind in EventKind::iter() {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
        }
        assert!("order.shipped".parse::<EventKind>().is_err());
    }

    #[test]
    fn every_fact_is_in_the_digest() {
        type Change = Box<dyn Fn(&mut EventRecord)>;
        let base = record();
        let digest = base.digest();
        let changes: Vec<Change> = vec![
            Box::new(|r| r.id = uuid::Uuid::from_u128(9)),
            Box::new(|r| r.kind = EventKind::OrderEdited),
            Box::new(|r| r.customer_id = CustomerId::from_uuid(uuid::Uuid::from_u128(4)).unwrap()),
            Box::new(|r| r.version = Version::new(2)),
            Box::new(|r| r.actor.role = ActorRole::Staff),
            Box::new(|r| r.actor.subject = "other".to_owned()),
            Box::new(|r| r.request_id = Some(String::new())),
            Box::new(|r| r.idempotency_key = Some("k".to_owned())),
            Box::new(|r| r.at += chrono::Duration::microseconds(1)),
            Box::new(|r| r.payload_digest = sha256(b"other")),
        ];
        for change in changes {
            let mut altered = base.clone();
            change(&mut altered);
            assert_ne!(altered.digest(), digest, "{altered:?}");
        }
        // The payload itself counts through its digest only, so erasing it keeps the chain.
        let mut erased = base.clone();
        erased.payload = None;
        assert_eq!(erased.digest(), digest);
        assert_eq!(base.payload_intact(), Some(true));
        assert_eq!(erased.payload_intact(), None);
    }

    #[test]
    fn a_request_id_and_a_key_are_told_apart() {
        let mut one = record();
        one.request_id = Some("ab".to_owned());
        let mut other = record();
        other.idempotency_key = Some("ab".to_owned());
        assert_ne!(one.digest(), other.digest());
    }

    #[test]
    fn a_link_covers_the_previous_hash() {
        let digest = record().digest();
        let first = link(None, &digest);
        assert_eq!(first, sha256(&digest));
        assert_ne!(link(Some(&first), &digest), first);
        assert_ne!(link(Some(&[0; 32]), &digest), link(Some(&[1; 32]), &digest));
    }
}
