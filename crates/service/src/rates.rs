//! The shop's rates: its tax table and its shipping methods, read by every order and replaced
//! whole by staff. Everyone authenticated reads them (a storefront shows shipping options);
//! staff, admins and keys with `catalog:write` replace them.

use std::sync::Arc;

use ordo_domain::{Rates, ShippingMethodDraft, ShippingTable, TaxTable, TaxTableDraft, Version};
use ordo_repository::{RatesStore, StoredRates, Versioned};

use crate::access::Caller;
use crate::api_keys::Scope;
use crate::{Clock, ServiceError};

/// The rates' use cases.
#[derive(Clone)]
pub struct ShopRates {
    store: Arc<dyn RatesStore>,
    clock: Arc<dyn Clock>,
}

impl ShopRates {
    /// The rates kept in `store`.
    pub fn new(store: Arc<dyn RatesStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Both tables, as the caller may read them.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (a key without `catalog:read`), storage errors.
    pub async fn get(&self, caller: &Caller) -> Result<StoredRates, ServiceError> {
        caller.check_catalog(Scope::CatalogRead)?;
        Ok(self.store.rates().await?)
    }

    /// Both tables, for pricing an order.
    pub(crate) async fn for_order(&self) -> Result<Rates, ServiceError> {
        let stored = self.store.rates().await?;
        Ok(Rates {
            taxes: stored.taxes.value,
            shipping: stored.shipping.value,
        })
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
