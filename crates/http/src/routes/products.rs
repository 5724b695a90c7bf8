//! `/v1/products`: the price book orders by SKU are priced from. Everyone authenticated reads
//! it; staff, admins and keys with `catalog:write` change it.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ordo_domain::{Product, ProductDraft, ProductStatus, Sku, TaxClass};
use ordo_service::{Caller, Catalog, OrderService, ProductQuery, Upserted};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::responses::{Guarded, JsonBody, Unavailable, VersionRequired, Versioned};
use crate::catalog::{
    BulkBody, BulkItem, ProductBody, ProductInput, ProductPageBody, ProductParams, ProductPatch,
};
use crate::dto::etag;
use crate::error::ApiError;
use crate::extract::{IfMatch, Json, ProductPath, Query, read_tagged_cursor, tagged_cursor};
use crate::problem::{Problem, ProblemDetails, ProblemKind};

pub(crate) fn router() -> OpenApiRouter<OrderService> {
    OpenApiRouter::new()
        .routes(routes!(create_product, list_products))
        .routes(routes!(get_product, patch_product))
        .routes(routes!(upsert_products))
}

/// The service's catalogue, or 404 when this server keeps no price book.
fn catalog(service: &OrderService) -> Result<&Catalog, ApiError> {
    service
        .catalog()
        .ok_or_else(|| Problem::not_found("this server keeps no price book").into())
}

fn product_response(status: StatusCode, product: &Product) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&etag(product.version())) {
        headers.insert(header::ETAG, value);
    }
    if status == StatusCode::CREATED
        && let Ok(value) = HeaderValue::from_str(&format!("/v1/products/{}", product.id()))
    {
        headers.insert(header::LOCATION, value);
    }
    (status, headers, axum::Json(ProductBody::from(product))).into_response()
}

/// Add a product to the price book.
///
/// Staff and admins (API keys: `catalog:write`).
#[utoipa::path(
    post, path = "/v1/products", tag = "products",
    request_body = ProductInput,
    responses(
        (status = 201, description = "Added", body = ProductBody,
         headers(("Location" = String, description = "The product's URL"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "Another product has this SKU", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A value breaks a rule (`errors` names each field)", body = ProblemDetails, content_type = "application/problem+json"),
        JsonBody, Guarded, Unavailable,
    )
)]
async fn create_product(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<ProductInput>,
) -> Result<Response, ApiError> {
    let product = catalog(&service)?
        .create(&caller, &ProductDraft::from(body))
        .await?;
    Ok(product_response(StatusCode::CREATED, &product))
}

/// One product.
#[utoipa::path(
    get, path = "/v1/products/{id}", tag = "products",
    params(("id" = Uuid, Path, description = "The product's id")),
    responses(
        (status = 200, description = "The product", body = ProductBody, headers(("ETag" = String, description = "Its version"))),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn get_product(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    ProductPath(id): ProductPath,
) -> Result<Response, ApiError> {
    let product = catalog(&service)?.get(&caller, id).await?;
    Ok(product_response(StatusCode::OK, &product))
}

/// List the price book, in SKU order.
///
/// Keyset-paginated: pass `next_cursor` back as `cursor`, with the same filters, until
/// `has_more` is false.
#[utoipa::path(
    get, path = "/v1/products", tag = "products",
    params(ProductParams),
    responses(
        (status = 200, description = "A page", body = ProductPageBody),
        (status = 400, description = "A parameter is invalid, named in the answer", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, Unavailable,
    )
)]
async fn list_products(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<ProductParams>,
) -> Result<axum::Json<ProductPageBody>, ApiError> {
    let query = product_query(params)?;
    let page = catalog(&service)?.list(&caller, &query).await?;
    Ok(axum::Json(ProductPageBody {
        data: page.products.iter().map(ProductBody::from).collect(),
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|sku| tagged_cursor('p', sku.as_str())),
    }))
}

/// The query a request's parameters ask for; 400 naming the first invalid parameter.
fn product_query(params: ProductParams) -> Result<ProductQuery, Problem> {
    let status = params
        .status
        .map(|raw| {
            raw.parse::<ProductStatus>()
                .map_err(|_| Problem::bad_field("status", "expected active or archived"))
        })
        .transpose()?;
    let tax_class = params
        .tax_class
        .map(|raw| {
            TaxClass::parse(&raw)
                .map_err(|error| Problem::bad_field("tax_class", error.to_string()))
        })
        .transpose()?;
    let limit = crate::extract::page_size(params.limit)?;
    let after = params
        .cursor
        .map(|raw| read_tagged_cursor('p', &raw, Sku::parse))
        .transpose()?;
    Ok(ProductQuery {
        status,
        tax_class,
        after,
        limit,
    })
}

/// Change a product: its title, prices, status (`archived` archives it)...
///
/// A JSON Merge Patch (RFC 7396) of the product as it reads: a field given replaces it, `null`
/// removes it (`{"prices": {"EUR": null}}` drops the euro price), an object merges into the
/// object. Orders already placed keep what they were sold at. Staff and admins (API keys:
/// `catalog:write`).
#[utoipa::path(
    patch, path = "/v1/products/{id}", tag = "products",
    params(
        ("id" = Uuid, Path, description = "The product's id"),
        ("If-Match" = String, Header, example = "\"1\"", pattern = "^\"[1-9][0-9]{0,8}\"$", description = "The product's ETag, as last read"),
    ),
    request_body(content = ProductPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Changed (or nothing to change)", body = ProductBody, headers(("ETag" = String, description = "Its version now"))),
        (status = 400, description = "Not a UUID", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "Another product has this SKU", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A value breaks a rule (`errors` names each field)", body = ProblemDetails, content_type = "application/problem+json"),
        Guarded, JsonBody, Versioned, VersionRequired, Unavailable,
    )
)]
async fn patch_product(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    ProductPath(id): ProductPath,
    if_match: IfMatch,
    body: Result<Json<serde_json::Map<String, serde_json::Value>>, Problem>,
) -> Result<Response, ApiError> {
    let catalog = catalog(&service)?;
    let expected = if_match.required()?;
    let patch = body?.0;
    // The service checks the caller and the version, then hands the product as it reads now
    // to the merge.
    let product = catalog
        .update(&caller, id, expected, |current: ProductDraft| {
            let input = crate::patch::merged_into(&ProductInput::from(current), patch)?;
            Ok::<_, ApiError>(ProductDraft::from(input))
        })
        .await?;
    Ok(product_response(StatusCode::OK, &product))
}

/// Add or change many products by SKU: a catalogue sync.
///
/// The body is NDJSON (`Content-Type: application/x-ndjson`): one product per line, as
/// `POST /v1/products` takes it, at most 1,000 per request and within the server's body limit
/// (`body_limit`, 256 KiB unless set: some 1,000 short products). A SKU in the
/// book is changed, a new one added, one sent with the content it has left alone. All of them
/// or none: a product that breaks a rule (`errors` names it as `products[i].<field>`, `i`
/// counting products, the non-blank lines, from 0) stores nothing. Staff and admins (API keys: `catalog:write`).
#[utoipa::path(
    post, path = "/v1/products/bulk", tag = "products",
    request_body(content = Vec<ProductInput>, content_type = "application/x-ndjson",
        description = "One product (as `POST /v1/products` takes it) per line: the schema is \
                       that of the products in order, one JSON object per line, not an array"),
    responses(
        (status = 200, description = "Stored, every one", body = BulkBody),
        (status = 409, description = "Another write added or changed one of these products meanwhile; nothing was stored: send the batch again", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A product breaks a rule, or a SKU comes twice (`errors` names each as `products[i].<field>`)", body = ProblemDetails, content_type = "application/problem+json"),
        JsonBody, Guarded, Unavailable,
    )
)]
async fn upsert_products(
    State(service): State<OrderService>,
    Extension(caller): Extension<Caller>,
    request: axum::extract::Request,
) -> Result<axum::Json<BulkBody>, ApiError> {
    let catalog = catalog(&service)?;
    // Checked before a byte is read: only an NDJSON body has been read (within its limit and
    // time) by the admission layer.
    if !crate::extract::is_ndjson(request.headers()) {
        return Err(Problem::new(
            ProblemKind::UnsupportedMediaType,
            "send one product per line with `Content-Type: application/x-ndjson`",
        )
        .into());
    }
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .map_err(|error| Problem::bad_request(error.to_string()))?;
    let drafts = bulk_lines(&body)?;
    let outcome = catalog.upsert(&caller, &drafts).await?;
    let count = |wanted: Upserted| {
        outcome
            .products
            .iter()
            .filter(|(_, result)| *result == wanted)
            .count()
    };
    Ok(axum::Json(BulkBody {
        created: count(Upserted::Created),
        updated: count(Upserted::Updated),
        unchanged: count(Upserted::Unchanged),
        data: outcome
            .products
            .iter()
            .map(|(product, result)| BulkItem {
                id: product.id().as_uuid(),
                sku: product.spec().sku().as_str().to_owned(),
                result: result.into(),
                version: product.version().get(),
            })
            .collect(),
    }))
}

/// Each non-blank line read as a product; the first line that is not one is named
/// `products[i]`, `i` counting products from 0 (400 for a line that is not JSON, 422 for JSON
/// of the wrong shape).
fn bulk_lines(body: &[u8]) -> Result<Vec<ProductDraft>, Problem> {
    let mut drafts = Vec::new();
    for line in body.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let index = drafts.len();
        if drafts.len() >= ordo_service::MAX_BULK_PRODUCTS {
            return Err(crate::error::too_many_products(
                ordo_service::MAX_BULK_PRODUCTS,
            ));
        }
        let input: ProductInput = crate::extract::parse_json(line)
            .map_err(|problem| problem.prefixed(&format!("products[{index}]")))?;
        drafts.push(input.into());
    }
    if drafts.is_empty() {
        return Err(Problem::invalid_field(
            "products",
            "the body holds no product",
        ));
    }
    Ok(drafts)
}
