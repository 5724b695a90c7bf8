//! ordo's HTTP API (axum): routes, extractors, DTOs, error mapping and OpenAPI.
//!
//! Empty until issue #4 lands: it will only translate HTTP to service calls and back.
