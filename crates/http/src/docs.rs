//! `/docs`: the API reference, served entirely by ordo. The reference UI is Scalar's standalone
//! bundle, vendored at a pinned version (`assets/scalar/`) and built into the binary, so the page
//! works offline and makes its visitors' browsers fetch nothing from any other origin; its
//! Content-Security-Policy holds it to that.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;

/// Where the vendored bundle is served; the version in the path lets browsers keep it for good.
pub(crate) const SCALAR_PATH: &str = "/docs/scalar-1.76.0.js";

const PAGE: &str = include_str!("../assets/docs.html");
const START: &str = include_str!("../assets/docs.js");
const SCALAR: &str = include_str!("../assets/scalar/standalone.js");

/// Scripts, data and fonts from ordo only; Scalar sets styles inline and draws some images
/// from `data:` URLs.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(
    content_type: &'static str,
    cache: &'static str,
    body: &'static str,
) -> impl IntoResponse + Clone {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                HeaderName::from_static("x-content-type-options"),
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
}

/// `/docs` and what it loads; `/` points at it.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/docs") }))
        .route(
            "/docs",
            get(|| async {
                (
                    [(
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static(POLICY),
                    )],
                    asset("text/html; charset=utf-8", "no-cache", PAGE),
                )
            }),
        )
        .route(
            "/docs/docs.js",
            get(|| async { asset("text/javascript; charset=utf-8", "no-cache", START) }),
        )
        .route(
            SCALAR_PATH,
            get(|| async {
                asset(
                    "text/javascript; charset=utf-8",
                    "public, max-age=31536000, immutable",
                    SCALAR,
                )
            }),
        )
}

#[cfg(test)]
mod tests {
    use super::{PAGE, SCALAR_PATH, START};

    #[test]
    fn the_page_loads_only_what_ordo_serves() {
        assert!(PAGE.contains(&format!("src=\"{SCALAR_PATH}\"")));
        assert!(PAGE.contains("src=\"/docs/docs.js\""));
        for text in [PAGE, START] {
            assert!(
                !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn")
            );
        }
        assert!(START.contains("withDefaultFonts: false"));
    }
}
