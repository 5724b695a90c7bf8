//! Request bodies at the edge: read once, bounded by the body limit, decoded from the
//! `Content-Encoding`s ordo supports; and a connection whose request body was not read to its
//! end is closed, and the response says so.

use std::io::Read as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Version, header};
use axum::response::{IntoResponse as _, Response};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt as _;

use crate::problem::Problem;
use crate::problem::ProblemKind;

/// The encodings a request body may arrive in, as `Accept-Encoding` names them.
const ACCEPTED_ENCODINGS: &str = "gzip, br";

/// How much of a body is read, and for how long.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    /// The most bytes, as sent and once decoded.
    pub(crate) limit: usize,
    /// The longest the whole body may take to arrive.
    pub(crate) timeout: Duration,
}

/// How a body was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

/// Reads a JSON body once, before the handler, so that its limit and encoding are decided in
/// one place (part of the API's admission, `operations::admit`). Bodies of other types pass
/// on unread (the JSON extractor answers 415 without reading them).
pub(crate) async fn read_body(
    BodyLimits { limit, timeout }: BodyLimits,
    request: Request,
) -> Result<Request, Response> {
    if request.body().is_end_stream()
        || !(crate::extract::has_json_content_type(&request)
            || crate::extract::has_ndjson_content_type(&request))
    {
        return Ok(request);
    }
    let Some(encoding) = encoding(request.headers()) else {
        return Err(unsupported_encoding());
    };
    // A declared length past the limit is refused before a byte is read.
    if request.body().size_hint().lower() > u64::try_from(limit).unwrap_or(u64::MAX) {
        return Err(too_large(limit).into_response());
    }
    let (mut parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(timeout, collect(body, limit)).await {
        Ok(Ok(raw)) => decode(encoding, &raw, limit),
        Ok(Err(problem)) => Err(problem),
        // A body that stalls holds a connection and a share slot, never a global one: it is
        // answered 408, and the connection closed (the rest of the body is still to come).
        Err(_) => Err(Problem::new(
            ProblemKind::BodyTimeout,
            format!("the request body did not arrive within {timeout:?}; send the request again"),
        )),
    };
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(problem) => return Err(problem.into_response()),
    };
    if encoding != Encoding::Identity {
        parts.headers.remove(header::CONTENT_ENCODING);
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The body's encoding: none, `identity`, `gzip` or `br`; `None` for any other, or several.
fn encoding(headers: &HeaderMap) -> Option<Encoding> {
    let mut named = Vec::new();
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let value = value.to_str().ok()?;
        named.extend(
            value
                .split(',')
                .map(|coding| coding.trim().to_ascii_lowercase())
                .filter(|coding| !coding.is_empty() && coding != "identity"),
        );
    }
    match named.as_slice() {
        [] => Some(Encoding::Identity),
        [one] if one == "gzip" || one == "x-gzip" => Some(Encoding::Gzip),
        [one] if one == "br" => Some(Encoding::Brotli),
        _ => None,
    }
}

/// 415 naming the encodings accepted (RFC 7694).
fn unsupported_encoding() -> Response {
    let mut response = Problem::new(
            ProblemKind::UnsupportedMediaType,
            "this Content-Encoding is not supported: send the body as is, or encoded with one of gzip or br",
    )
    .into_response();
    response.headers_mut().insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static(ACCEPTED_ENCODINGS),
    );
    response
}

fn too_large(limit: usize) -> Problem {
    Problem::new(
        ProblemKind::BodyTooLarge,
        format!("the body may be at most {limit} bytes"),
    )
}

/// The body's bytes as sent, at most `limit` of them.
async fn collect(mut body: Body, limit: usize) -> Result<Vec<u8>, Problem> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Problem::bad_request("the body could not be read"))?;
        if let Ok(data) = frame.into_data() {
            if data.len() > limit.saturating_sub(bytes.len()) {
                return Err(too_large(limit));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// The body decoded, bounded by `limit` once decoded too (a small gzip can expand a lot).
fn decode(encoding: Encoding, raw: &[u8], limit: usize) -> Result<Bytes, Problem> {
    let (decoded, name) = match encoding {
        Encoding::Identity => return Ok(Bytes::copy_from_slice(raw)),
        Encoding::Gzip => (
            read_bounded(flate2::read::MultiGzDecoder::new(raw), limit),
            "gzip",
        ),
        Encoding::Brotli => (
            read_bounded(brotli_decompressor::Decompressor::new(raw, 4096), limit),
            "br",
        ),
    };
    match decoded {
        Ok(Some(bytes)) => Ok(Bytes::from(bytes)),
        Ok(None) => Err(Problem::new(
            ProblemKind::BodyTooLarge,
            format!("the body may be at most {limit} bytes once decoded"),
        )),
        Err(_) => Err(Problem::bad_request(format!(
            "the body is not valid {name}, as its Content-Encoding says"
        ))),
    }
}

/// Everything `reader` yields, or `None` past `limit` bytes.
fn read_bounded(reader: impl std::io::Read, limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    let most = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader.take(most).read_to_end(&mut bytes)?;
    Ok((bytes.len() <= limit).then_some(bytes))
}

/// When the answer is ready before the request's body was read to its end (a 401, 413, 415 or
/// 429 sent early), HTTP/1 cannot reuse the connection, and hyper closes it; `Connection:
/// close` tells the client so, rather than its next request failing. This wraps the body to
/// learn whether it was read; [`close_if_unread`] marks the answer. (Called from the request-id
/// middleware, not a layer of its own: each layer costs a clone of the routes per request.)
pub(crate) fn track_unread(request: Request) -> (Request, Option<Arc<AtomicBool>>) {
    // HTTP/2 ends a stream, never the connection, and forbids the header.
    if request.version() > Version::HTTP_11 || request.body().is_end_stream() {
        return (request, None);
    }
    let finished = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&finished);
    let request = request.map(move |inner| {
        Body::new(Tracked {
            inner,
            finished: flag,
        })
    });
    (request, Some(finished))
}

/// Adds `Connection: close` to an answer sent before its request's body was read to its end.
pub(crate) fn close_if_unread(response: &mut Response, finished: Option<&AtomicBool>) {
    if finished.is_some_and(|finished| !finished.load(Ordering::Acquire)) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

/// A request body that records whether it was read to its end.
struct Tracked {
    inner: Body,
    finished: Arc<AtomicBool>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(context);
        if matches!(polled, Poll::Ready(None)) || this.inner.is_end_stream() {
            this.finished.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
