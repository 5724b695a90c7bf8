//! The real app on a random port, over SQLite and over PostgreSQL, driven by a real HTTP
//! client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test code: a panic is a failed test"
)]

mod api_keys;
mod app;
mod attacks;
mod auth;
mod discount_codes;
mod errors;
mod events;
mod framing;
mod fulfillments;
mod idempotency;
mod lifecycle;
mod manual_payments;
mod openapi;
mod operations;
mod payments;
mod price_book;
mod rates;
mod record;
mod returns;
mod search;
mod shipment_captures;
mod sockets;
mod webhook_sending;
mod webhooks;
