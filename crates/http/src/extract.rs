//! Extractors whose every rejection is a problem naming what was wrong.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use ordo_domain::{OrderId, OrderNumber, OrderNumberError, Version};
use serde::de::DeserializeOwned;

use crate::dto::parse_etag;
use crate::problem::Problem;
use crate::problem::ProblemKind;

/// A JSON body: 415 without a JSON content type, 413 past the body limit, 400 when it is not
/// JSON, 422 naming the field when it is JSON of the wrong shape.
#[derive(Debug)]
pub(crate) struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(&request) {
            return Err(Problem::new(
                ProblemKind::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(ProblemKind::BodyTooLarge, rejection.body_text())
                } else {
                    Problem::bad_request(rejection.body_text())
                }
            })?;
        parse_json(&bytes).map(Json)
    }
}

pub(crate) fn has_json_content_type(request: &Request) -> bool {
    let Some(content_type) = request.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(content_type) = content_type.to_str() else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether the body is NDJSON (one JSON value per line: a bulk upsert).
pub(crate) fn has_ndjson_content_type(request: &Request) -> bool {
    is_ndjson(request.headers())
}

/// Whether `headers` say the body is NDJSON.
pub(crate) fn is_ndjson(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/x-ndjson"))
}

/// Parses JSON, telling a syntax error (400) from a shape error (422, naming the field). Structs
/// are read from objects only ([`crate::strict::Objects`]).
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    refuse_nul(bytes)?;
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|error| Problem::bad_request(format!("the body is not valid JSON: {error}")))?;
    parse_value(json)
}

/// A value already parsed, read as `T` with the same answers as [`parse_json`] (422 naming the
/// field of the wrong shape).
pub(crate) fn parse_value<T: DeserializeOwned>(json: serde_json::Value) -> Result<T, Problem> {
    serde_path_to_error::deserialize(crate::strict::Objects(json)).map_err(|error| {
        let path = error.path().clone();
        let (field, message) = plain(&path, &strip_position(&error.into_inner().to_string()));
        Problem::invalid_field(&field, message)
    })
}

/// Refuses a JSON string holding U+0000 anywhere in the body, naming where: PostgreSQL cannot
/// store it in text and SQLite silently can, so it is refused here, before anything runs.
fn refuse_nul(bytes: &[u8]) -> Result<(), Problem> {
    // JSON can only carry NUL escaped; bodies without the escape skip the second parse.
    if !bytes.windows(6).any(|window| window == br"\u0000") {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    let Some(field) = nul_path(&value, String::new()) else {
        return Ok(());
    };
    let field = bounded(field);
    let message = "must not contain the NUL character (U+0000)".to_owned();
    Err(Problem::invalid_field(&field, message))
}

/// The path of the first string or key under `value` that holds U+0000.
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let nested = |path: &str, key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(text) => text.contains('\0').then_some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| nul_path(item, format!("{path}[{index}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                // The key itself cannot be shown as sent; its parent names where it is.
                Some(if path.is_empty() {
                    ".".to_owned()
                } else {
                    path.clone()
                })
            } else {
                nul_path(item, nested(&path, key))
            }
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// The key `serde_json` (with `arbitrary_precision`) wraps a number's text in: a detail of the
/// library, never part of a field's path.
pub(crate) const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// The field path and message a client reads for a deserialization error: the path as the
/// client wrote it, and the message in the API's words rather than serde's.
fn plain(path: &serde_path_to_error::Path, raw: &str) -> (String, String) {
    use serde_path_to_error::Segment;
    let mut field = String::new();
    let mut in_number = false;
    for segment in path {
        match segment {
            Segment::Map { key } if key == NUMBER_TOKEN => in_number = true,
            Segment::Seq { index } => {
                let _ = write!(field, "[{index}]");
            }
            other => {
                if !field.is_empty() {
                    field.push('.');
                }
                let _ = write!(field, "{other}");
            }
        }
    }
    // serde names a missing field in its message, at its parent's path.
    if let Some(missing) = raw
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        if !field.is_empty() {
            field.push('.');
        }
        field.push_str(missing);
        return (bounded(field), "is required".to_owned());
    }
    if field.is_empty() {
        field.push('.');
    }
    let field = bounded(field);
    let message = if in_number || is_amount_error(raw) {
        // The domain's own wording, whichever layer noticed.
        ordo_domain::amount_serde::NOT_AN_AMOUNT.to_owned()
    } else {
        plain_message(raw)
    };
    (field, message)
}

/// A field path as sent, cut to 128 characters: a made-up key can be as long as the body.
fn bounded(field: String) -> String {
    const MOST: usize = 128;
    match field.char_indices().nth(MOST) {
        Some((end, _)) => format!("{}…", field.get(..end).unwrap_or_default()),
        None => field,
    }
}

/// `rust_decimal`'s words for an amount it cannot read.
fn is_amount_error(raw: &str) -> bool {
    raw.contains("a Decimal type")
        || raw.starts_with("Scale exceeds")
        || raw == "Failed to parse"
        || raw.starts_with("Invalid decimal")
}

/// serde's message for a value of the wrong kind, in the API's words; it never echoes the
/// value sent, which may be long.
fn plain_message(raw: &str) -> String {
    const WHOLE: &str = "must be a whole number";
    let integer = |name: &str| {
        matches!(
            name,
            "i8" | "i16"
                | "i32"
                | "i64"
                | "i128"
                | "isize"
                | "u8"
                | "u16"
                | "u32"
                | "u64"
                | "u128"
                | "usize"
        )
    };
    if matches!(
        raw,
        "invalid digit found in string"
            | "number too large to fit in target type"
            | "number too small to fit in target type"
            | "cannot parse integer from empty string"
    ) {
        return WHOLE.to_owned();
    }
    if raw.starts_with("UUID parsing failed") {
        return "must be a UUID".to_owned();
    }
    // chrono's parse errors, for the instants in a query.
    if matches!(
        raw,
        "input contains invalid characters"
            | "premature end of input"
            | "trailing input"
            | "input is out of range"
            | "input is not enough for unique date and time"
            | "no possible date and time matching input"
    ) {
        return "must be an RFC 3339 date and time, such as 2026-01-31T12:00:00Z".to_owned();
    }
    let Some((kind, expected)) = raw.split_once(", expected ") else {
        return raw.to_owned();
    };
    if kind.starts_with("unknown field") {
        return format!("is not a known field; expected {expected}");
    }
    if kind.starts_with("unknown variant") {
        return format!("must be {expected}");
    }
    if integer(expected) {
        return WHOLE.to_owned();
    }
    if expected.contains("UUID") {
        return "must be a UUID".to_owned();
    }
    match expected {
        "a string" | "a boolean" | "a sequence" | "a map" => format!("must be {expected}"),
        _ if expected.starts_with("struct ") || expected.contains("enum") => {
            "must be an object".to_owned()
        }
        _ => "has the wrong type".to_owned(),
    }
}

/// `serde_json` ends data errors with " at line L column C", which means nothing to a client
/// that sent the field path.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message.get(..index).unwrap_or(message).to_owned(),
        None => message.to_owned(),
    }
}

/// Query string parameters: 400 naming the parameter.
#[derive(Debug)]
pub(crate) struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|error| {
                let path = error.path().clone();
                let (field, message) = plain(&path, &error.into_inner().to_string());
                if field == "." {
                    Problem::bad_request(format!("invalid query string: {message}"))
                } else {
                    Problem::bad_field(&field, message)
                }
            })
    }
}

/// A route's `{id}` as a UUID: 400 naming `id` when it is not one.
async fn path_uuid<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<uuid::Uuid, Problem> {
    let axum::extract::Path(id) = axum::extract::Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|rejection| Problem::bad_request(rejection.body_text()))?;
    uuid::Uuid::try_parse(&id).map_err(|_| Problem::bad_field("id", "not a UUID"))
}

/// The `{id}` of an order route: 400 when it is not a UUID, 404 when it is one that can never
/// name an order (order ids are UUIDv7).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderPath(pub OrderId);

impl<S: Send + Sync> FromRequestParts<S> for OrderPath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        OrderId::from_uuid(path_uuid(parts, state).await?)
            .map(OrderPath)
            .map_err(|_| Problem::not_found("no order with this id"))
    }
}

/// The order id of a route with more than one path segment (`{id}` beside a part's id): 400
/// when it is not a UUID, 404 when it can never name an order, as [`OrderPath`] answers.
pub(crate) fn order_in_path(text: &str) -> Result<OrderId, Problem> {
    let uuid = uuid::Uuid::try_parse(text).map_err(|_| Problem::bad_field("id", "not a UUID"))?;
    OrderId::from_uuid(uuid).map_err(|_| Problem::not_found("no order with this id"))
}

/// The `{id}` of an API key route: 400 when it is not a UUID.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyPath(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for KeyPath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_uuid(parts, state).await.map(KeyPath)
    }
}

/// The `{id}` of a product route: 400 when it is not a UUID.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProductPath(pub ordo_domain::ProductId);

impl<S: Send + Sync> FromRequestParts<S> for ProductPath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let id = path_uuid(parts, state).await?;
        ordo_domain::ProductId::from_uuid(id)
            .map(ProductPath)
            .map_err(|_| Problem::bad_field("id", "not a product id"))
    }
}

/// The `{id}` of a customer route: 400 when it is not a UUID.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CustomerPath(pub ordo_domain::CustomerId);

impl<S: Send + Sync> FromRequestParts<S> for CustomerPath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        ordo_domain::CustomerId::from_uuid(path_uuid(parts, state).await?)
            .map(CustomerPath)
            .map_err(|_| Problem::bad_field("id", "not a UUID"))
    }
}

/// The `{number}` of `/v1/orders/by-number/{number}`: 400 when it is not shaped like an order
/// number, and a 400 of its own when its check character does not match, since that is a typo
/// in a number read out or typed, not an order that does not exist.
#[derive(Debug, Clone)]
pub(crate) struct NumberPath(pub OrderNumber);

impl<S: Send + Sync> FromRequestParts<S> for NumberPath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|rejection| Problem::bad_request(rejection.body_text()))?;
        OrderNumber::parse(&text)
            .map(NumberPath)
            .map_err(|error| match error {
                OrderNumberError::CheckFailed => Problem::bad_field(
                    "number",
                    "this number has a typo: its last character does not match the rest (check it \
                 against the confirmation)",
                ),
                _ => Problem::bad_field(
                    "number",
                    "not an order number: they look like ORD-261122-7KQ3M9AX",
                ),
            })
    }
}

/// The `If-Match` header as an order version; `None` when absent or `*` (any version).
///
/// A value that is not one of ordo's ETags (malformed, weak, a list, a version that never
/// exists) matches no version, so the change is refused as stale: 412 with the current ETag.
/// RFC 9110 has If-Match fail when none of its tags matches the current one, and a client
/// that sent `5` for `"5"` learns the right form from the answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IfMatch(pub Option<Version>);

/// What an If-Match that names no ETag of ours compares as: no order is ever at version 0.
const MATCHES_NO_VERSION: Version = Version::new(0);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let text = value.to_str().unwrap_or_default().trim();
        if text == "*" {
            return Ok(Self(None));
        }
        Ok(Self(Some(parse_etag(text).unwrap_or(MATCHES_NO_VERSION))))
    }
}

impl IfMatch {
    /// The version, or 428 when the header is missing or `*`: a change that must not
    /// overwrite another needs the version it was decided on.
    ///
    /// # Errors
    /// A 428 problem.
    pub(crate) fn required(self) -> Result<Version, Problem> {
        self.0.ok_or_else(|| {
            Problem::new(
                ProblemKind::PreconditionRequired,
                "send the ETag you last read in If-Match, so a change made meanwhile is not overwritten",
            )
        })
    }
}

/// A list's `limit`: the default when absent, 400 naming it when out of range.
pub(crate) fn page_size(limit: Option<u64>) -> Result<ordo_service::PageSize, Problem> {
    limit.map_or(Ok(ordo_service::PageSize::DEFAULT), |limit| {
        ordo_service::PageSize::new(limit)
            .map_err(|error| Problem::bad_field("limit", error.to_string()))
    })
}

/// An opaque cursor over a list keyed by `key`: the key behind a one-letter `tag`, base64url.
pub(crate) fn tagged_cursor(tag: char, key: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{tag}{key}"))
}

/// The key of a cursor [`tagged_cursor`] made with `tag`, parsed; 400 naming `cursor` for
/// anything else.
pub(crate) fn read_tagged_cursor<T, E>(
    tag: char,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, Problem> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(tag).and_then(|key| parse(key).ok()))
        .ok_or_else(|| {
            Problem::bad_field(
                "cursor",
                "not a cursor this list gave: pass next_cursor unchanged",
            )
        })
}
