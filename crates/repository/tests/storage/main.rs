//! The storage suite: one contract, written once, run against PostgreSQL and SQLite; property
//! and race tests on both; and PostgreSQL's plan and statement-count checks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "test code: a panic is a failed test"
)]

mod contract;
mod fixtures;
mod logs;
mod migrations;
mod postgres_only;
mod properties;
