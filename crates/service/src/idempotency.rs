//! Idempotency keys: the policy (who may run, what is replayed) over the key store.

use chrono::Duration;
use ordo_repository::{Begin, Claim, KeyRequest, KeyScope, StoredResponse};

use crate::{OrderService, ServiceError};

/// An `Idempotency-Key`: 1 to 255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// A key that is empty, too long, or has characters outside printable ASCII.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an idempotency key is 1 to 255 printable ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    /// Checks a key.
    ///
    /// # Errors
    /// [`InvalidIdempotencyKey`].
    pub fn parse(text: &str) -> Result<Self, InvalidIdempotencyKey> {
        let printable = text.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if (1..=255).contains(&text.len()) && printable {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidIdempotencyKey)
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent {
    /// Run it under this claim, then [`OrderService::finish_idempotent`] or
    /// [`OrderService::abandon_idempotent`].
    Run(Claim),
    /// It ran before: send this response again.
    Replay(StoredResponse),
}

/// How long keys live and how long an unfinished request holds its key.
#[derive(Debug, Clone, Copy)]
pub struct KeyTimes {
    /// After this a key may be used afresh, and the purge deletes it.
    pub ttl: Duration,
    /// Another request with the key waits (409) this long before it may take an unfinished
    /// one over, as after a crash.
    pub lease: Duration,
}

impl Default for KeyTimes {
    fn default() -> Self {
        Self {
            ttl: Duration::hours(24),
            lease: Duration::seconds(30),
        }
    }
}

impl OrderService {
    /// Claims `key` for a request of `caller` whose fingerprint is `fingerprint`.
    ///
    /// # Errors
    /// [`ServiceError::KeyInFlight`] while another request with the key runs;
    /// [`ServiceError::KeyReused`] when the key was used for a different request;
    /// [`ServiceError::Unavailable`]; [`ServiceError::Internal`].
    pub async fn begin_idempotent(
        &self,
        caller: &str,
        key: &IdempotencyKey,
        fingerprint: String,
    ) -> Result<Idempotent, ServiceError> {
        let now = self.clock.now();
        let request = KeyRequest {
            scope: KeyScope {
                caller: caller.to_owned(),
                key: key.as_str().to_owned(),
            },
            fingerprint,
            now,
            lease_until: now
                .checked_add_signed(self.config.key_times.lease)
                .unwrap_or(now),
            expires_at: now
                .checked_add_signed(self.config.key_times.ttl)
                .unwrap_or(now),
            token: uuid::Uuid::new_v4(),
        };
        match self.keys.begin(&request).await? {
            Begin::Claimed(claim) => Ok(Idempotent::Run(claim)),
            Begin::Replay(response) => Ok(Idempotent::Replay(response)),
            Begin::InFlight => Err(ServiceError::KeyInFlight),
            Begin::Mismatch => Err(ServiceError::KeyReused),
        }
    }

    /// Keeps the final response of a request run under `claim`.
    ///
    /// # Errors
    /// [`ServiceError::KeyInFlight`] when another request took the key over meanwhile;
    /// [`ServiceError::Unavailable`]; [`ServiceError::Internal`].
    pub async fn finish_idempotent(
        &self,
        claim: &Claim,
        response: &StoredResponse,
    ) -> Result<(), ServiceError> {
        Ok(self.keys.complete(claim, response).await?)
    }

    /// Gives a claim up after a failure, so a retry with the key runs again (or resumes from
    /// the order it created).
    pub async fn abandon_idempotent(&self, claim: &Claim) {
        if let Err(error) = self.keys.release(claim, self.clock.now()).await {
            // The lease still ends on its own; a retry waits for it at worst.
            tracing::warn!(error = %error, "could not release an idempotency key");
        }
    }

    /// Deletes expired keys; returns how many.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] or [`ServiceError::Internal`].
    pub async fn purge_expired_keys(&self) -> Result<u64, ServiceError> {
        Ok(self.keys.purge_expired(self.clock.now()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::IdempotencyKey;

    #[test]
    fn keys_are_one_to_255_printable_characters() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse("order 42 / retry ~1").is_ok());
        for bad in [
            String::new(),
            "k".repeat(256),
            "tab\there".to_owned(),
            "é".to_owned(),
        ] {
            assert!(IdempotencyKey::parse(&bad).is_err(), "{bad:?}");
        }
    }
}
