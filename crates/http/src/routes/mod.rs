//! Route modules; each exposes a `router()` of documented handlers, merged in `crate::app`.

pub(crate) mod customers;
pub(crate) mod orders;
mod responses;
