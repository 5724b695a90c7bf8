//! What several replicas on one database must share: the order-number key (checked by a
//! fingerprint kept in the database) and their background jobs (run by one replica at a time,
//! under a lease).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use ordo_domain::{OrderNumber, OrderNumberKey};
use ordo_repository::Coordination;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::{Clock, ServiceError};

/// The shared fact naming the order-number key's fingerprint.
const KEY_FACT: &str = "order_number_key_fingerprint";

/// This process as one replica among those sharing its database.
#[derive(Clone)]
pub struct Replica {
    coordination: Arc<dyn Coordination>,
    clock: Arc<dyn Clock>,
    id: Uuid,
}

/// A replica whose order-number key is not the one the database was first numbered with.
#[derive(Debug, thiserror::Error)]
#[error(
    "this database's order numbers were made with another order-number key (fingerprint \
     {stored}, this process has {ours}): every replica must use the same ORDO_ORDER_NUMBER_KEY, \
     or two of them can hand out the same number"
)]
pub struct KeyMismatch {
    /// The fingerprint the database holds.
    pub stored: String,
    /// This process's.
    pub ours: String,
}

impl Replica {
    /// A replica with a new id, agreeing with others through `coordination`.
    pub fn new(coordination: Arc<dyn Coordination>, clock: Arc<dyn Clock>) -> Self {
        Self {
            coordination,
            clock,
            id: Uuid::new_v4(),
        }
    }

    /// Records this process's order-number key's fingerprint if the database has none, and
    /// refuses to go on when it holds another.
    ///
    /// # Errors
    /// [`ServiceError::Misconfigured`] with a [`KeyMismatch`]; storage errors.
    pub async fn check_order_number_key(&self, key: OrderNumberKey) -> Result<(), ServiceError> {
        let ours = fingerprint(key)?;
        let stored = self.coordination.pin_fact(KEY_FACT, &ours).await?;
        if stored == ours {
            Ok(())
        } else {
            Err(ServiceError::Misconfigured(Box::new(KeyMismatch {
                stored,
                ours,
            })))
        }
    }

    /// Whether this replica runs `job` now: true for one replica per `period` across all that
    /// share the database (it holds the job's lease for the period; a replica that stops is
    /// replaced once its lease ends).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn lead(&self, job: &str, period: Duration) -> Result<bool, ServiceError> {
        let now = self.clock.now();
        let period = chrono::Duration::from_std(period)
            .map_err(|error| ServiceError::Internal(Box::new(error)))?;
        let until = now
            .checked_add_signed(period)
            .ok_or_else(|| ServiceError::Internal("a lease past the end of time".into()))?;
        Ok(self
            .coordination
            .take_lease(job, self.id, now, until)
            .await?)
    }
}

/// A fingerprint of the key that does not reveal it: SHA-256 over the numbers it gives three
/// fixed sequence values on a fixed day, so comparing two keys needs neither.
fn fingerprint(key: OrderNumberKey) -> Result<String, ServiceError> {
    let day = NaiveDate::from_ymd_opt(2000, 1, 1)
        .ok_or_else(|| ServiceError::Internal("a fixed date that does not exist".into()))?;
    let mut hasher = Sha256::new();
    hasher.update(b"ordo order-number key fingerprint v1");
    for probe in [0, 1, 2] {
        let number = OrderNumber::from_sequence(probe, day, key)
            .map_err(|error| ServiceError::Internal(Box::new(error)))?;
        hasher.update(number.to_string().as_bytes());
    }
    // Eight bytes tell keys apart; the rest would say nothing more.
    let digest = hasher.finalize();
    Ok(digest
        .iter()
        .take(8)
        .fold(String::with_capacity(16), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        }))
}

#[cfg(test)]
mod tests {
    use super::fingerprint;
    use ordo_domain::OrderNumberKey;

    #[test]
    fn one_key_has_one_fingerprint_and_two_keys_two() {
        let a = fingerprint(OrderNumberKey::new(1)).unwrap();
        assert_eq!(a, fingerprint(OrderNumberKey::new(1)).unwrap());
        assert_ne!(a, fingerprint(OrderNumberKey::new(2)).unwrap());
        assert_ne!(a, fingerprint(OrderNumberKey::DEFAULT).unwrap());
        assert_eq!(a.len(), 16);
    }
}
