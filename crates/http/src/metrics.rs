//! Prometheus metrics: requests by matched route, method and status, with their latency, and
//! the service's own counters; rendered at `GET /metrics`. Labels are bounded: route templates,
//! never raw paths or ids.
#![allow(
    clippy::disallowed_types,
    clippy::float_arithmetic,
    reason = "latencies and gauges are measurements, not money: Prometheus takes f64"
)]

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use ordo_service::OrderService;

/// Buckets for request latency, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide Prometheus recorder (once) and returns the handle that renders it.
///
/// # Errors
/// When another recorder is already installed in this process.
pub fn install_recorder() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("http_request_duration_seconds".to_owned()),
            &LATENCY_BUCKETS,
        )?
        .install_recorder()?;
    metrics::gauge!("ordo_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

/// Routes that are not traffic: probes and scrapes.
fn is_operational(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Middleware: counts each request and its latency by route template, method and status, and
/// logs one line per request.
pub(crate) async fn record(request: Request, next: Next) -> Response {
    // Route templates and the standard methods only: a label made of client text would add
    // series (and memory) for every new value.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    if !is_operational(&route) {
        let labels = [
            ("method", method.to_owned()),
            ("route", route.clone()),
            ("status", status.to_string()),
        ];
        metrics::counter!("http_requests_total", &labels).increment(1);
        metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
        tracing::info!(
            method,
            route,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    }
    response
}

/// The method as a metric label and in logs: its name when it is a standard one, `other` for
/// any extension method a client makes up.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// `GET /metrics`: the Prometheus text format, with the pool's figures as of now.
pub(crate) async fn render(
    State((service, handle)): State<(OrderService, PrometheusHandle)>,
) -> Response {
    let pool = service.pool_stats();
    metrics::gauge!("ordo_db_pool_connections").set(f64::from(pool.size));
    metrics::gauge!("ordo_db_pool_idle").set(f64::from(pool.idle));
    metrics::gauge!("ordo_db_pool_max").set(f64::from(pool.max));
    metrics::gauge!("ordo_db_pool_waiting").set(f64::from(pool.waiting));
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
