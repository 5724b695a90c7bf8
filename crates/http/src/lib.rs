//! ordo's HTTP API (axum 0.8): routes, extractors, DTOs, problem+json errors and the OpenAPI
//! document. It only translates HTTP to service calls and back; no business rule lives here.
//!
//! [`app`] builds the whole router from an [`OrderService`], so the CLI and the tests serve
//! exactly the same app.

mod auth;
mod body;
mod catalog;
mod docs;
mod dto;
mod error;
mod events;
mod extract;
mod idempotency;
mod metrics;
mod operations;
mod patch;
mod problem;
mod rates;
mod record;
mod request_id;
mod routes;
mod strict;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use ordo_service::OrderService;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use auth::{
    Authentication, DEFAULT_LEEWAY_SECONDS, KeyError, TokenError, TokenSigner, TokenVerifier,
};
pub use error::error_chain;
pub use events::{ApiRenderer, event_json};
pub use metrics::install_recorder;
pub use metrics_exporter_prometheus::PrometheusHandle;
pub use operations::{Draining, RateLimit};
pub use problem::{PROBLEM_JSON, Problem, ProblemDetails, ProblemKind};

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The largest request body accepted, in bytes; larger is 413.
    pub body_limit: usize,
    /// The longest an API request may take before it is answered 504.
    pub request_timeout: Duration,
    /// The most API requests in flight at once; more are answered 503 at once.
    pub max_in_flight: usize,
    /// The most API requests one caller (role and subject; the IP address without
    /// authentication) may have in flight at once, bodies still arriving included; more are
    /// answered 429 at once.
    pub max_in_flight_per_caller: usize,
    /// The longest a request body may take to arrive before it is answered 408.
    pub body_read_timeout: Duration,
    /// Set at shutdown, so `/readyz` turns 503.
    pub draining: Draining,
    /// Renders `/metrics` (from [`install_recorder`]); without it there is no `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// A per-client request rate for the API; `None` for no limit.
    pub rate_limit: Option<RateLimit>,
    /// Origins allowed to call the API from a browser (CORS); empty for none.
    pub cors_origins: Vec<HeaderValue>,
    /// How API callers are identified.
    pub authentication: Authentication,
    /// Whether `/metrics` needs a staff or admin token (it is public otherwise). On by
    /// default: `ordo_orders_created_total` shows the volume order numbers are scrambled to hide.
    pub protect_metrics: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            // A 100-line order is about 15 KiB of JSON.
            body_limit: 256 * 1024,
            request_timeout: Duration::from_secs(30),
            max_in_flight: 1024,
            // A sixteenth of the cap: one caller never takes more, and 64 at once is more
            // than any one client of an order API needs.
            max_in_flight_per_caller: 64,
            // An order body is a few KiB: ten seconds is generous on a slow link.
            body_read_timeout: Duration::from_secs(10),
            draining: Draining::default(),
            metrics: None,
            rate_limit: None,
            cors_origins: Vec::new(),
            authentication: Authentication::Disabled,
            protect_metrics: true,
        }
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "ordo",
        description = "Orders with exact money, safe retries and a strict status machine.\n\n\
            Amounts are JSON strings with the currency's decimals (\"29.99\", \"1500\" for JPY); \
            requests may send a string or a number, read exactly. Every error is an RFC 9457 \
            `application/problem+json` body. Every route takes a bearer token or API key: 401 \
            without a valid one, 403 when the role (or the key's scopes) may not act, 404 for \
            another customer's order.",
    ),
    tags(
        (name = "orders", description = "Place, read, list and change orders"),
        (name = "customers", description = "What concerns a customer rather than one order: erasing its personal data"),
        (name = "products", description = "The price book: products by SKU with a price per currency, which customers' orders are priced from"),
        (name = "discount-codes", description = "Codes customers type at checkout for a discount the shop set up, within their window, minimum and limits"),
        (name = "events", description = "Every change of an order, recorded with the change: an order's history and the feed of all of them"),
        (name = "webhooks", description = "Endpoints every event is posted to, signed by Standard Webhooks, retried for three days; each endpoint's delivery log (admins)"),
        (name = "rates", description = "The shop's tax table and shipping methods, each replaced whole: what customers' orders are taxed and shipped by"),
        (name = "api-keys", description = "Keys for trusted backends (a storefront's server, an ERP): made, listed and revoked by admins")
    ),
    components(schemas(ProblemDetails)),
    modifiers(&BearerTokens),
    security(("bearer" = []))
)]
struct ApiDoc;

/// Every `/v1` route takes `Authorization: Bearer <JWT>`; a missing or bad token is a 401
/// problem, a role that may not act a 403, another customer's order a 404.
struct BearerTokens;

impl utoipa::Modify for BearerTokens {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "a JWT with claims sub (the customer id for customers), role (customer, staff or admin) and exp; or an API key (ordo_sk_…, made by an admin at /v1/api-keys), which acts as staff within its scopes",
                    ))
                    .build(),
            ),
        );
    }
}

fn documented() -> (Router<OrderService>, OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::orders::router())
        .merge(routes::fulfillments::router())
        .merge(routes::returns::router())
        .merge(routes::payments::router())
        .merge(routes::customers::router())
        .merge(routes::api_keys::router())
        .merge(routes::products::router())
        .merge(routes::discount_codes::router())
        .merge(routes::rates::router())
        .merge(routes::events::router())
        .merge(routes::webhooks::router())
        .split_for_parts()
}

/// The wire formats alone, for `benches/wire.rs`: not an API to build on.
#[doc(hidden)]
pub mod wire {
    use ordo_domain::{Order, OrderDraft};

    /// A create request's body as the route reads it (unknown fields refused, amounts exact,
    /// structs from objects only).
    ///
    /// # Errors
    /// The body's JSON error.
    pub fn read_create(body: &[u8]) -> Result<OrderDraft, serde_json::Error> {
        use serde::Deserialize as _;
        let json: serde_json::Value = serde_json::from_slice(body)?;
        crate::dto::CreateOrder::deserialize(crate::strict::Objects(json)).map(OrderDraft::from)
    }

    /// The same read straight from the bytes, as `serde_json` alone would (which also takes
    /// structs from arrays): the bench's comparison for what reading strictly costs.
    ///
    /// # Errors
    /// The body's JSON error.
    pub fn read_create_streaming(body: &[u8]) -> Result<OrderDraft, serde_json::Error> {
        serde_json::from_slice::<crate::dto::CreateOrder>(body).map(OrderDraft::from)
    }

    /// An order as the routes answer it.
    ///
    /// # Errors
    /// When serialization fails (it does not for a valid order).
    pub fn write_order(order: &Order) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&crate::dto::OrderBody::new(
            order,
            &ordo_service::Caller::unauthenticated(),
        ))
    }
}

/// The OpenAPI 3.1 document of every route [`app`] serves.
pub fn openapi() -> OpenApi {
    documented().1
}

/// The whole application: the API, `/openapi.json`, `/docs`, problem bodies for unknown
/// routes and methods, request ids and panic safety.
pub fn app(service: OrderService, config: HttpConfig) -> Router {
    let (api, doc) = documented();
    let keys = idempotency::KeyState {
        service: service.clone(),
        body_limit: config.body_limit,
    };
    // Innermost first: idempotency, then the timeout, then admission (the caller's share, its
    // body, the in-flight cap: it refuses before any work, and before a key is claimed).
    let api = api
        .layer(middleware::from_fn_with_state(
            keys,
            idempotency::idempotency,
        ))
        .layer(middleware::from_fn_with_state(
            (config.request_timeout, service.clone()),
            operations::timeout,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::new(operations::Admission {
                shares: operations::CallerShares::new(config.max_in_flight_per_caller),
                body: body::BodyLimits {
                    limit: config.body_limit,
                    timeout: config.body_read_timeout,
                },
                permits: Arc::new(Semaphore::new(config.max_in_flight)),
            }),
            operations::admit,
        ));
    // A feed read waits at most until shortly before the request's time limit.
    let api = api.layer(axum::Extension(routes::events::FeedWaitLimit(
        config
            .request_timeout
            .saturating_sub(Duration::from_secs(2)),
    )));
    // The rate limit counts per caller, so it runs after authentication.
    let api = match config.rate_limit {
        Some(limit) => api.layer(middleware::from_fn_with_state(
            operations::limiter(limit),
            operations::rate_limit,
        )),
        None => api,
    };
    let gate = auth::Gate {
        authentication: config.authentication.clone(),
        keys: service.api_keys().cloned(),
    };
    let api = api.layer(middleware::from_fn_with_state(
        gate.clone(),
        auth::authenticate,
    ));
    let mut health = Router::new()
        .route("/healthz", get(operations::healthz))
        .route("/readyz", get(operations::readyz))
        .with_state((service.clone(), config.draining));
    if let Some(handle) = config.metrics {
        let mut scrape = Router::new()
            .route("/metrics", get(metrics::render))
            .with_state((service.clone(), handle));
        if config.protect_metrics {
            scrape = scrape.layer(middleware::from_fn_with_state(gate, auth::operators_only));
        }
        health = health.merge(scrape);
    }
    // Serialised once. It cannot fail for a derived document; if it ever did, the route says
    // so with a 500 instead of serving an empty document.
    let doc_json = doc.to_pretty_json().map_err(|error| {
        tracing::error!(%error, "cannot serialise the OpenAPI document");
    });
    let app = api
        .route(
            "/openapi.json",
            get(move || async move {
                match doc_json {
                    Ok(json) => {
                        ([(header::CONTENT_TYPE, "application/json")], json).into_response()
                    }
                    Err(()) => Problem::internal().into_response(),
                }
            }),
        )
        .merge(docs::router())
        .merge(health)
        .fallback(|| async { Problem::not_found("no such route") })
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(metrics::record))
        .layer(middleware::from_fn(request_id::request_id))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            Problem::internal().into_response()
        }))
        .with_state(service);
    // Outermost, so preflight requests are answered before routing turns them into 405s.
    if config.cors_origins.is_empty() {
        app
    } else {
        app.layer(cors(config.cors_origins))
    }
}

/// 405 as a problem; axum adds the `Allow` header listing the methods the route has. The
/// detail names a standard method only, never the path or a made-up method, which a client
/// can make as long as it likes.
async fn method_not_allowed(request: Request) -> Problem {
    let detail = match metrics::method_label(request.method()) {
        "other" => "this method is not allowed on this route".to_owned(),
        method => format!("{method} is not allowed on this route"),
    };
    Problem::new(
        ProblemKind::MethodNotAllowed,
        format!("{detail}; the Allow header lists the methods that are"),
    )
}

/// CORS for the configured origins: the API's methods and headers, and the response headers a
/// browser client needs to read.
fn cors(origins: Vec<HeaderValue>) -> CorsLayer {
    let named = |name: &'static str| axum::http::HeaderName::from_static(name);
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::IF_MATCH,
            named("idempotency-key"),
            named("x-request-id"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
            named("idempotent-replayed"),
            named("x-request-id"),
        ])
}
