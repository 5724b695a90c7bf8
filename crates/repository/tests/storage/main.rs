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

/// Runs each case on a fresh PostgreSQL database and on a fresh SQLite file.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (_database, store) = ordo_repository::testing::TestPostgres::store().await.unwrap();
                    super::$case(std::sync::Arc::new(store)).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (_database, store) = ordo_repository::testing::TestSqlite::store().await.unwrap();
                    super::$case(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

mod contract;
mod events;
mod fixtures;
mod logs;
mod migrations;
mod postgres_only;
mod properties;
mod rates;
mod search;
mod webhooks;
