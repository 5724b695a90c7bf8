//! Route modules; each exposes a `router()` of documented handlers, merged in `crate::app`.

pub(crate) mod api_keys;
pub(crate) mod customers;
pub(crate) mod discount_codes;
pub(crate) mod events;
pub(crate) mod fulfillments;
pub(crate) mod orders;
pub(crate) mod payments;
pub(crate) mod products;
pub(crate) mod rates;
mod responses;
pub(crate) mod returns;
pub(crate) mod webhooks;
