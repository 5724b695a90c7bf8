//! The service's ports besides storage: time and ids.

use chrono::{DateTime, SubsecRound as _, Utc};
use ordo_domain::OrderId;

/// Where the service reads the time.
pub trait Clock: Send + Sync {
    /// The current time, truncated to the microsecond (the precision storage keeps).
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        #[allow(
            clippy::disallowed_methods,
            reason = "this is the one place that reads the clock"
        )]
        let now = Utc::now();
        now.trunc_subsecs(6)
    }
}

/// Where the service gets new order ids.
pub trait IdGenerator: Send + Sync {
    /// A new, unique order id for an order created at `now`.
    fn order_id(&self, now: DateTime<Utc>) -> OrderId;
}

/// `UUIDv7` ids: the creation time in milliseconds, then 74 random bits from the OS.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn order_id(&self, now: DateTime<Utc>) -> OrderId {
        let (millis, random) = v7_parts(now);
        OrderId::from_parts(millis, &random)
    }
}

/// The id a caller's request with an Idempotency-Key gives what it makes on an order (a refund, a
/// fulfilment): the same for every attempt of that request, so a retry after a crash finds what
/// the first attempt made. A version 8 UUID from SHA-256 of `label`, caller, order and key.
pub(crate) fn keyed_id(label: &str, scope: &str, order_id: OrderId, key: &str) -> uuid::Uuid {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(label.as_bytes());
    hasher.update(b"\0");
    hasher.update(scope.as_bytes());
    hasher.update(b"\0");
    hasher.update(order_id.as_uuid().as_bytes());
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// A `UUIDv7`'s parts for `now`: its Unix milliseconds, and 80 random bits from the OS (the
/// builder keeps 74 of them).
pub(crate) fn v7_parts(now: DateTime<Utc>) -> (u64, [u8; 10]) {
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    let random = uuid::Uuid::new_v4();
    let bytes: [u8; 10] = random.as_bytes().first_chunk().copied().unwrap_or([0; 10]);
    (millis, bytes)
}
