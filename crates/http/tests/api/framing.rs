//! HTTP framing over a raw socket: what a client sees of its connection.

use std::time::Duration;

use ordo_service::ServiceConfig;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::app::{CUSTOMER, TestApp};

/// One HTTP/1.1 connection, written and read by hand.
pub(crate) struct Raw {
    stream: TcpStream,
    buffer: Vec<u8>,
}

/// A response as read off the socket.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl RawResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl Raw {
    pub(crate) async fn connect(app: &TestApp) -> Self {
        let address = app.base.trim_start_matches("http://");
        Self {
            stream: TcpStream::connect(address).await.unwrap(),
            buffer: Vec::new(),
        }
    }

    pub(crate) async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads one response (head and a Content-Length body); `None` when the server closed
    /// the connection first. Fails after 10 s.
    pub(crate) async fn response(&mut self) -> Option<RawResponse> {
        tokio::time::timeout(Duration::from_secs(10), self.read_response())
            .await
            .expect("no response within 10 s")
    }

    async fn read_response(&mut self) -> Option<RawResponse> {
        let end = loop {
            if let Some(at) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8(self.buffer.drain(..end).collect()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, value)| value.parse().unwrap());
        while self.buffer.len() < length {
            assert!(self.fill().await, "the body was cut short");
        }
        let body = String::from_utf8(self.buffer.drain(..length).collect()).unwrap();
        Some(RawResponse {
            status,
            headers,
            body,
        })
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0_u8; 8192];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(read) => {
                self.buffer.extend_from_slice(&chunk[..read]);
                true
            }
        }
    }

    /// Whether the server closes the connection within `within`, with nothing more to read.
    pub(crate) async fn is_closed_within(&mut self, within: Duration) -> bool {
        matches!(tokio::time::timeout(within, self.fill()).await, Ok(false))
    }
}

const SECRET: &[u8] = b"a test secret that is long enough to sign";

pub(crate) fn secured() -> ordo_http::HttpConfig {
    let verifier = ordo_http::TokenVerifier::hs256(SECRET, None, None).unwrap();
    ordo_http::HttpConfig {
        authentication: ordo_http::Authentication::Required(std::sync::Arc::new(verifier)),
        ..ordo_http::HttpConfig::default()
    }
}

/// A token for `role` and `subject`, valid for ten minutes, for apps made with [`secured`].
pub(crate) fn token(role: ordo_service::Role, subject: &str) -> String {
    use ordo_service::Clock as _;
    let now = u64::try_from(ordo_service::SystemClock.now().timestamp()).unwrap();
    ordo_http::TokenSigner::hs256(SECRET, None, None)
        .unwrap()
        .mint(role, subject, now, 600)
        .unwrap()
}

fn admin_token() -> String {
    token(ordo_service::Role::Admin, "ops")
}

/// A POST head declaring a 500-byte JSON body, with `extra` header lines.
pub(crate) fn post_head(extra: &str) -> String {
    format!(
        "POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n{extra}\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_sent_before_the_body_was_read_says_connection_close() {
    let app = crate::app::sqlite_with(ServiceConfig::default(), secured()).await;
    let token = admin_token();
    let early = [
        // No token: 401 before anything reads the body.
        (post_head(""), 401),
        // Declared past the body limit: 413 without reading it.
        (
            post_head(&format!("Authorization: Bearer {token}\r\n"))
                .replace("Content-Length: 500", "Content-Length: 10000000"),
            413,
        ),
        // An encoding ordo does not decode: 415 without reading it.
        (
            post_head(&format!(
                "Authorization: Bearer {token}\r\nContent-Encoding: zstd\r\n"
            )),
            415,
        ),
        // Not JSON: 415 before anything reads the body.
        (
            post_head(&format!("Authorization: Bearer {token}\r\n"))
                .replace("application/json", "text/plain"),
            415,
        ),
    ];
    for (head, status) in early {
        let mut raw = Raw::connect(&app).await;
        // The head and a first byte of the body; the rest never comes.
        raw.send(head.as_bytes()).await;
        raw.send(b"{").await;
        let response = raw.response().await.unwrap();
        assert_eq!(response.status, status, "{}", response.body);
        assert_eq!(response.header("connection"), Some("close"), "{status}");
        assert!(
            raw.is_closed_within(Duration::from_secs(5)).await,
            "{status}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_bodies_were_read_is_kept_alive() {
    let app = crate::app::sqlite_with(ServiceConfig::default(), secured()).await;
    let token = admin_token();
    let body = crate::app::order_body(CUSTOMER).to_string();
    let mut raw = Raw::connect(&app).await;
    for _ in 0..2 {
        raw.send(
            format!(
                "POST /v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await;
        let response = raw.response().await.unwrap();
        assert_eq!(response.status, 201, "{}", response.body);
        assert_eq!(response.header("connection"), None);
    }
    // A 422 after the body was read keeps the connection too.
    let invalid = r#"{"customer_id":"nope"}"#;
    raw.send(
        format!(
            "POST /v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{invalid}",
            invalid.len()
        )
        .as_bytes(),
    )
    .await;
    let response = raw.response().await.unwrap();
    assert_eq!(response.status, 422);
    assert_eq!(response.header("connection"), None);
    raw.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(raw.response().await.unwrap().status, 200);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
    encoder.write_all(bytes).unwrap();
    encoder.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_read_as_their_content_encoding_says_or_refused() {
    let app = crate::app::sqlite().await;
    let plain = crate::app::order_body(CUSTOMER).to_string().into_bytes();
    let post = |encoding: Option<&str>, body: Vec<u8>| {
        let mut request = app
            .post("/v1/orders")
            .header("content-type", "application/json")
            .body(body);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        request.send()
    };
    for (encoding, body) in [
        (None, plain.clone()),
        (Some("identity"), plain.clone()),
        (Some("gzip"), gzip(&plain)),
        (Some("GZIP"), gzip(&plain)),
        (Some("br"), brotli(&plain)),
    ] {
        let response = post(encoding, body).await.unwrap();
        assert_eq!(response.status(), 201, "{encoding:?}");
        let order: serde_json::Value = response.json().await.unwrap();
        assert_eq!(order["total"], "63.29", "{encoding:?}");
    }
    // Labelled but not encoded so: refused, never read as plain.
    for encoding in ["br", "gzip"] {
        let problem = crate::app::assert_problem(
            post(Some(encoding), plain.clone()).await.unwrap(),
            400,
            "malformed-request",
        )
        .await;
        assert_eq!(
            problem["detail"],
            format!("the body is not valid {encoding}, as its Content-Encoding says")
        );
    }
    // Encodings ordo does not decode, or several at once: 415 naming those it does.
    for encoding in ["deflate", "zstd", "gzip, br", "made-up"] {
        let response = post(Some(encoding), plain.clone()).await.unwrap();
        assert_eq!(response.headers()["accept-encoding"], "gzip, br");
        crate::app::assert_problem(response, 415, "unsupported-media-type").await;
    }
    // A small body that decodes past the body limit is refused, not inflated without bound.
    let mut big = crate::app::order_body(CUSTOMER);
    big["padding"] = serde_json::json!(" ".repeat(1024 * 1024));
    let bomb = gzip(big.to_string().as_bytes());
    assert!(bomb.len() < 16 * 1024);
    let problem = crate::app::assert_problem(
        post(Some("gzip"), bomb).await.unwrap(),
        413,
        "body-too-large",
    )
    .await;
    assert_eq!(
        problem["detail"],
        "the body may be at most 262144 bytes once decoded"
    );
    // Nothing but the five good ones was placed.
    let list: serde_json::Value = app
        .get(&format!("/v1/orders?customer_id={CUSTOMER}&limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 5);
}
