//! Where the server is, and one request to it: connection failures and problem answers become
//! errors that name the server.

use std::fmt;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::{Result, anyhow, bail};
use reqwest::{Method, Response, StatusCode};
use secrecy::ExposeSecret as _;
use serde_json::Value;
use url::Url;

use super::ClientArgs;

/// A running server's base URL, and which setting named it.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    base: Url,
    /// For errors: `--server`, `ORDO_SERVER`, `server in ordo.toml`, `ordo serve's listen
    /// address in …`, or the default.
    origin: String,
}

impl fmt::Display for Server {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.base.as_str().trim_end_matches('/'))
    }
}

impl Server {
    /// The server the settings name: `server` from any layer; else where `ordo serve` would
    /// listen with the same settings (`ORDO_LISTEN`, then `listen` in the file); else
    /// 127.0.0.1:8080. `sources` says where each setting came from.
    ///
    /// # Errors
    /// A `server` that is neither `host:port` nor an http:// or https:// URL, or an
    /// `ORDO_LISTEN` that is not an address.
    pub(crate) fn from_settings(
        client: &ClientArgs,
        sources: &std::collections::BTreeMap<String, String>,
    ) -> Result<Self> {
        let source = |name: &str| sources.get(name).cloned().unwrap_or_default();
        if let Some(server) = &client.server {
            let origin = match source("server").as_str() {
                flag_or_variable @ ("--server" | "ORDO_SERVER") => flag_or_variable.to_owned(),
                file => format!("`server` in {file}"),
            };
            let base = parse(server).map_err(|why| {
                anyhow!("invalid configuration: `server` ({origin}): {server:?}: {why}")
            })?;
            return Ok(Self { base, origin });
        }
        // The variable as `ordo serve` reads it: it outranks the file there too.
        let (listen, origin) = match std::env::var("ORDO_LISTEN") {
            Ok(text) => {
                let listen = text.parse::<SocketAddr>().map_err(|error| {
                    anyhow!("invalid configuration: ORDO_LISTEN {text:?}: {error}")
                })?;
                (listen, "ORDO_LISTEN, `ordo serve`'s address".to_owned())
            }
            Err(_) => match client.listen {
                Some(listen) => (
                    listen,
                    format!("`listen` in {}, `ordo serve`'s address", source("listen")),
                ),
                None => (
                    SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
                    "the default; set --server, ORDO_SERVER or `server` in ordo.toml".to_owned(),
                ),
            },
        };
        let base = Url::parse(&format!("http://{}/", reachable(listen)))
            .map_err(|error| anyhow!("invalid listen address {listen}: {error}"))?;
        Ok(Self { base, origin })
    }

    /// The URL of an API path (`/v1/orders`), under any path the server's URL has.
    fn url(&self, path: &str) -> String {
        format!("{self}{path}")
    }
}

/// `host:port`, `http://host:port[/prefix]` or `https://…` as a base URL.
fn parse(text: &str) -> Result<Url, String> {
    let text = text.trim();
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    let url = Url::parse(&with_scheme).map_err(|error| error.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "unsupported scheme `{}`: expected host:port, or an http:// or https:// URL",
            url.scheme()
        ));
    }
    if url.scheme() == "https" {
        // reqwest is built without a TLS backend in this workspace (no rustls or native-tls
        // feature); say so here rather than as reqwest's "scheme is not http".
        return Err(
            "https:// needs TLS, which this build of the ordo client lacks: reach the server over http:// (e.g. through a local TLS-terminating proxy)"
                .to_owned(),
        );
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host: expected host:port, or an http:// or https:// URL".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("a server URL takes no query or fragment".to_owned());
    }
    Ok(url)
}

/// An address a client can connect to: a server listening on every interface
/// (`0.0.0.0`, `[::]`) is reached on loopback.
fn reachable(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, listen.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, listen.port()))
        }
        _ => listen,
    }
}

/// The server answered with an error: its status and its problem body (or a stand-in when the
/// body was not JSON), kept whole for `--json`.
#[derive(Debug)]
pub(crate) struct ServerProblem {
    pub(crate) body: Value,
    message: String,
}

impl fmt::Display for ServerProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for ServerProblem {}

/// Sends a request; a connection failure or an error answer becomes an error naming the server.
pub(crate) async fn send(
    http: &reqwest::Client,
    client: &ClientArgs,
    server: &Server,
    method: Method,
    path: &str,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Result<Response> {
    let mut request = http.request(method, server.url(path));
    if let Some(token) = &client.token {
        request = request.bearer_auth(token.expose_secret());
    }
    let response = match build(request).send().await {
        Ok(response) => response,
        Err(error) => bail!(
            "cannot reach the ordo server at {server} ({}): {}",
            server.origin,
            root_cause(&error)
        ),
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    // A body that breaks off is no worse than none: the status still says what happened.
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str::<Value>(&text)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| {
            serde_json::json!({
                "status": status.as_u16(),
                "title": status.canonical_reason().unwrap_or("error"),
                "detail": text.trim(),
            })
        });
    let message = describe(status, &body, server, client.token.is_some());
    Err(ServerProblem { body, message }.into())
}

/// The innermost cause (`Connection refused (os error 111)`), without reqwest's wrappers that
/// repeat the URL.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// One line: the status, the server, the problem's detail and field errors, and for 401 what
/// to do about it.
fn describe(status: StatusCode, problem: &Value, server: &Server, sent_token: bool) -> String {
    let detail = problem
        .get("detail")
        .and_then(Value::as_str)
        .filter(|detail| !detail.is_empty())
        .unwrap_or("no details");
    let mut text = format!("{status} from {server}: {detail}");
    for error in problem
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let field = error.get("field").and_then(Value::as_str).unwrap_or("?");
        let message = error.get("message").and_then(Value::as_str).unwrap_or("?");
        let _ = write!(text, "; {field}: {message}");
    }
    if let Some(allowed) = problem.get("allowed_next").and_then(Value::as_array) {
        let allowed: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
        let _ = write!(text, "; allowed next: {}", allowed.join(", "));
    }
    if status == StatusCode::UNAUTHORIZED {
        text.push_str(if sent_token {
            "; the server refused the token given by --token / ORDO_TOKEN: mint one with `ordo token` using the server's own settings (the same jwt_secret, or the same data directory)"
        } else {
            "; send a token with --token or ORDO_TOKEN (mint one with `ordo token --role admin`, using the server's settings)"
        });
    }
    text
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn servers_are_read_with_or_without_a_scheme() {
        assert_eq!(parse("db1:9000").unwrap().as_str(), "http://db1:9000/");
        assert_eq!(
            parse("127.0.0.1:8080").unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
        assert!(parse("https://ordo.example").unwrap_err().contains("TLS"));
        assert_eq!(
            parse("http://h:1/api/").unwrap().as_str(),
            "http://h:1/api/"
        );
        for bad in ["ftp://h:1", "http://", "h:notaport", "http://h/?a=1"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
