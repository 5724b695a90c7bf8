//! Storage traits for ordo and their PostgreSQL and SQLite implementations.
//!
//! Empty until issue #3 lands: this crate will own every line of SQL, and its traits will
//! speak only in `ordo-domain` types so no sqlx type leaks to the service.
