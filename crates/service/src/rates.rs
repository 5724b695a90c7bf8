//! The shop's rates: its tax table and its shipping methods, read by every order and replaced
//! whole by staff. Everyone authenticated reads them (a storefront shows shipping options);
//! staff, admins and keys with `catalog:write` replace them.
//!
//! Orders read them through a per-replica copy at most [`RATES_TTL`] old: a replacement is
//! seen at once by the replica that made it and within that time by every other one.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ordo_domain::{Rates, ShippingMethodDraft, ShippingTable, TaxTable, TaxTableDraft, Version};
use ordo_repository::{RatesStore, StoredRates, Versioned};

use crate::access::Caller;
use crate::api_keys::Scope;
use crate::{Clock, ServiceError};

/// How old the copy of the rates an order is settled against may be.
pub const RATES_TTL: Duration = Duration::from_secs(1);

/// The rates as last read and when, and when this replica last replaced them (a read begun
/// before that is not kept).
type Cached = (Option<(Instant, Arc<Rates>)>, Option<Instant>);

/// The rates' use cases.
#[derive(Clone)]
pub struct ShopRates {
    store: Arc<dyn RatesStore>,
    clock: Arc<dyn Clock>,
    cached: Arc<RwLock<Cached>>,
}

impl ShopRates {
    /// The rates kept in `store`.
    pub fn new(store: Arc<dyn RatesStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            cached: Arc::new(RwLock::new((None, None))),
        }
    }

    /// Forgets the copy, so the next order reads the rates again.
    fn forget(&self) {
        if let Ok(mut cached) = self.cached.write() {
            *cached = (None, Some(Instant::now()));
        }
    }

    /// Both tables, as the caller may read them.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (a key without `catalog:read`), storage errors.
    pub async fn get(&self, caller: &Caller) -> Result<StoredRates, ServiceError> {
        caller.check_catalog(Scope::CatalogRead)?;
        Ok(self.store.rates().await?)
    }

    /// Both tables, for pricing an order: the copy, if it is fresh enough.
    pub(crate) async fn for_order(&self) -> Result<Arc<Rates>, ServiceError> {
        let fresh = self.cached.read().ok().and_then(|cached| {
            cached
                .0
                .as_ref()
                .filter(|(read_at, _)| read_at.elapsed() < RATES_TTL)
                .map(|(_, rates)| rates.clone())
        });
        if let Some(rates) = fresh {
            return Ok(rates);
        }
        let read_at = Instant::now();
        let stored = self.store.rates().await?;
        let rates = Arc::new(Rates {
            taxes: stored.taxes.value,
            shipping: stored.shipping.value,
        });
        if let Ok(mut cached) = self.cached.write()
            && cached.1.is_none_or(|replaced_at| replaced_at < read_at)
        {
            cached.0 = Some((read_at, rates.clone()));
        }
        Ok(rates)
    }

    /// Replaces the tax table, if it is still at `expected`.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`], [`ServiceError::Validation`] (every broken rate named),
    /// [`ServiceError::Stale`], storage errors.
    pub async fn replace_taxes(
        &self,
        caller: &Caller,
        draft: &TaxTableDraft,
        expected: Version,
    ) -> Result<Versioned<TaxTable>, ServiceError> {
        caller.check_catalog(Scope::CatalogWrite)?;
        let table = TaxTable::parse(draft)?;
        let now = self.clock.now();
        let version = self.store.replace_taxes(&table, expected, now).await?;
        self.forget();
        tracing::info!(
            rates = table.rates().len(),
            version = version.get(),
            "tax table replaced"
        );
        Ok(Versioned {
            value: table,
            version,
            updated_at: Some(now),
        })
    }

    /// Replaces the shipping methods, if they are still at `expected`.
    ///
    /// # Errors
    /// As [`ShopRates::replace_taxes`].
    pub async fn replace_shipping(
        &self,
        caller: &Caller,
        drafts: &[ShippingMethodDraft],
        expected: Version,
    ) -> Result<Versioned<ShippingTable>, ServiceError> {
        caller.check_catalog(Scope::CatalogWrite)?;
        let table = ShippingTable::parse(drafts)?;
        let now = self.clock.now();
        let version = self.store.replace_shipping(&table, expected, now).await?;
        self.forget();
        tracing::info!(
            methods = table.methods().len(),
            version = version.get(),
            "shipping methods replaced"
        );
        Ok(Versioned {
            value: table,
            version,
            updated_at: Some(now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Role, SystemClock};
    use ordo_repository::MockRatesStore;

    fn empty() -> StoredRates {
        let table = |value| Versioned {
            value,
            version: Version::new(1),
            updated_at: None,
        };
        StoredRates {
            taxes: table(TaxTable::default()),
            shipping: Versioned {
                value: ShippingTable::default(),
                version: Version::new(1),
                updated_at: None,
            },
        }
    }

    /// Orders within a second share one read; a replacement through this replica is seen by
    /// its next order.
    #[tokio::test]
    async fn orders_share_a_read_until_the_replica_replaces_a_table() {
        let mut store = MockRatesStore::new();
        store.expect_rates().times(2).returning(|| Ok(empty()));
        store
            .expect_replace_taxes()
            .times(1)
            .returning(|_, _, _| Ok(Version::new(2)));
        let rates = ShopRates::new(Arc::new(store), Arc::new(SystemClock));
        for _ in 0..3 {
            assert!(rates.for_order().await.is_ok());
        }
        let admin = Caller::operator(Role::Admin, "a").unwrap_or_else(|_| unreachable!());
        let replaced = rates
            .replace_taxes(&admin, &TaxTableDraft::default(), Version::new(1))
            .await;
        assert!(replaced.is_ok());
        assert!(rates.for_order().await.is_ok());
        assert!(rates.for_order().await.is_ok());
    }
}
