//! Sending webhooks (Standard Webhooks 1.0): the body, its signature, and an HTTP client that
//! reaches only public addresses unless told otherwise.
//!
//! A delivery is a `POST` of `{"type", "timestamp", "data"}` (`data` is the event as the feed
//! shows staff), with `webhook-id` (the event's id: the consumer's deduplication key),
//! `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` and the base64 HMAC-SHA256
//! of `id.timestamp.body` under the endpoint's secret; during a rotation, a second one under
//! the previous secret, space-separated).
//!
//! Server-side request forgery: every address a host resolves to is checked before the
//! connection is made, and the connection goes to the checked address (the client's resolver
//! is [`GuardedResolver`]); an address written in the URL is checked the same way. Loopback,
//! private, link-local (cloud metadata), shared, multicast, reserved and documentation ranges
//! are refused unless an allow-list names them, and so are the IPv6 forms that reach them
//! (see [`is_public`]). Redirects are never followed; connecting
//! takes at most 5 seconds and the whole request 15 (or the timeout given).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit as _, Mac as _};
use ipnet::{IpNet, Ipv6Net};
use ordo_service::{Caller, SendOutcome, StoredEvent, WebhookEndpoint, WebhookSender};
use serde::Serialize;
use sha2::Sha256;

use crate::events::EventBody;

/// The signature header for `body` sent as `id` at `timestamp`, under each secret given.
///
/// # Errors
/// A secret that is not `whsec_` and base64.
pub fn signature(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, InvalidSecret> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let key = secret
            .strip_prefix("whsec_")
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .ok_or(InvalidSecret)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| InvalidSecret)?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        signatures.push(format!(
            "v1,{}",
            STANDARD.encode(mac.finalize().into_bytes())
        ));
    }
    Ok(signatures.join(" "))
}

/// A secret that is not `whsec_` followed by base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a webhook secret must be whsec_ followed by base64")]
pub struct InvalidSecret;

/// IPv6 ranges refused whole, whatever follows the prefix: IANA's special-purpose ranges that
/// are not globally reachable, or that reach an IPv4 address ordo cannot check, and the
/// deprecated site-local range. Loopback, unspecified, multicast, unique local and link-local
/// are the std methods' in [`is_public`].
const REFUSED_V6: [Ipv6Net; 10] = [
    // IPv4-compatible (`::a.b.c.d`, deprecated by RFC 4291): no legitimate use, and a stack
    // that still honours it sends to the IPv4 address it carries.
    Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 96),
    // NAT64, well-known (RFC 6052) and local-use (RFC 8215) prefixes: the translator reaches
    // the IPv4 address in the last 32 bits, whichever it is.
    Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96),
    Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48),
    // Discard-only (RFC 6666) and the dummy prefix (RFC 9780).
    Ipv6Net::new_assert(Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),
    Ipv6Net::new_assert(Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0), 64),
    // IETF protocol assignments (RFC 2928): Teredo (2001::/32, a tunnel to an IPv4 address
    // hidden in the last 32 bits), benchmarking (2001:2::/48), ORCHID (2001:10::/28,
    // 2001:20::/28), the anycast and AMT blocks. None is a webhook receiver.
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    // Documentation (RFC 3849, RFC 9637).
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    Ipv6Net::new_assert(Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
    // Segment routing identifiers (RFC 9602).
    Ipv6Net::new_assert(Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16),
    // Site-local (deprecated by RFC 3879, still routed inside some networks).
    Ipv6Net::new_assert(Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),
];

/// Whether ordo may connect to `address` on its own judgement: a public unicast address.
///
/// An IPv6 address that carries an IPv4 address to connect to is judged by that IPv4 address:
/// IPv4-mapped (`::ffff:a.b.c.d`) and 6to4 (`2002:AABB:CCDD::/48`, the IPv4 address in the
/// second and third segments; a public one is reached through a relay, a private one would be
/// a way in, so 6to4 is not refused whole). The ranges in `REFUSED_V6` are refused whole:
/// IPv4-compatible (`::/96`, `::` and `::1` among them), NAT64 (`64:ff9b::/96`,
/// `64:ff9b:1::/48`), discard-only (`100::/64`), IETF protocol assignments (`2001::/23`:
/// Teredo, benchmarking, ORCHID), documentation, segment routing and site-local (`fec0::/10`).
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                // Shared address space (RFC 6598), benchmarking (RFC 2544), reserved (240/4).
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
                // IETF protocol assignments (192.0.0.0/24).
                || v4.octets()[..3] == [192, 0, 0])
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            if let [0x2002, high, low, ..] = v6.segments() {
                let ([a, b], [c, d]) = (high.to_be_bytes(), low.to_be_bytes());
                return is_public(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || REFUSED_V6.iter().any(|net| net.contains(&v6)))
        }
    }
}

/// Addresses that may be reached although not public (tests, internal receivers).
#[derive(Debug, Clone, Default)]
pub struct AllowList(Vec<IpNet>);

impl AllowList {
    /// The networks named (`127.0.0.1/32`, `10.0.0.0/8`, `::1/128`; a bare address is one
    /// host).
    ///
    /// # Errors
    /// The first entry that is no network.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is not an address or a network"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether ordo may connect to `address`.
    pub fn permits(&self, address: IpAddr) -> bool {
        is_public(address) || self.0.iter().any(|net| net.contains(&address))
    }
}

/// Resolves a host as the system does and keeps only the addresses ordo may reach; none left
/// is an error naming the host.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    allow: Arc<AllowList>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|address| allow.permits(address.ip()))
                .collect();
            if permitted.is_empty() {
                return Err(format!(
                    "refused: {host} resolves only to addresses ordo does not reach ({})",
                    found
                        .iter()
                        .map(|a| a.ip().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
                .into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(permitted.into_iter());
            Ok(addresses)
        })
    }
}

/// What a delivery posts.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: DateTime<Utc>,
    data: &'a EventBody,
}

/// Sends deliveries over HTTP.
#[derive(Debug, Clone)]
pub struct HttpSender {
    client: reqwest::Client,
    allow: Arc<AllowList>,
}

impl HttpSender {
    /// A sender that reaches public addresses and those `allow` names, waiting 15 seconds for
    /// an answer.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS roots).
    pub fn new(allow: AllowList) -> Result<Self, reqwest::Error> {
        Self::with_timeout(allow, Duration::from_secs(15))
    }

    /// As [`HttpSender::new`], giving up on an endpoint after `timeout` (connecting after at
    /// most 5 seconds of it).
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS roots).
    pub fn with_timeout(allow: AllowList, timeout: Duration) -> Result<Self, reqwest::Error> {
        let allow = Arc::new(allow);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the host itself, past the checks below.
            .no_proxy()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent(concat!("ordo-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                allow: allow.clone(),
            }))
            .build()?;
        Ok(Self { client, allow })
    }

    /// Refuses a URL whose host is an address ordo may not reach (names go through the
    /// resolver, which checks them).
    fn check_literal(&self, url: &reqwest::Url) -> Result<(), String> {
        let literal = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) => None,
            None => return Err("the URL names no host".to_owned()),
        };
        match literal {
            Some(address) if !self.allow.permits(address) => Err(format!(
                "refused: {address} is an address ordo does not reach"
            )),
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl WebhookSender for HttpSender {
    async fn send(
        &self,
        endpoint: &WebhookEndpoint,
        event: &StoredEvent,
        now: DateTime<Utc>,
    ) -> SendOutcome {
        let failed = |error: String| SendOutcome {
            error: Some(error),
            ..SendOutcome::default()
        };
        let url = match reqwest::Url::parse(&endpoint.url) {
            Ok(url) => url,
            Err(error) => return failed(format!("not a URL: {error}")),
        };
        if let Err(refused) = self.check_literal(&url) {
            return failed(refused);
        }
        let data = EventBody::new(event, &Caller::unauthenticated());
        let body = match serde_json::to_vec(&Body {
            kind: event.record.kind.as_str(),
            timestamp: now,
            data: &data,
        }) {
            Ok(body) => body,
            Err(error) => return failed(format!("cannot write the body: {error}")),
        };
        let id = event.record.id.to_string();
        let timestamp = now.timestamp();
        let mut secrets = vec![endpoint.secret.as_str()];
        if let Some((previous, until)) = &endpoint.previous_secret
            && *until > now
        {
            secrets.push(previous.as_str());
        }
        let signed = match signature(&secrets, &id, timestamp, &body) {
            Ok(signed) => signed,
            Err(error) => return failed(error.to_string()),
        };
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signed)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|text| text.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                SendOutcome {
                    status: Some(status),
                    error: (300..400).contains(&status).then(|| {
                        "a redirect: ordo does not follow them (change the URL)".to_owned()
                    }),
                    retry_after,
                }
            }
            Err(error) => failed(crate::error_chain(&error)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    /// The Standard Webhooks specification's published vector (its reference libraries' test).
    #[test]
    fn the_signature_matches_the_specifications_test_vector() {
        let signed = signature(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let both = signature(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_AAAA"],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert!(both.starts_with("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,"));
        assert_eq!(signature(&["sk_nope"], "a", 1, b""), Err(InvalidSecret));
    }

    #[test]
    fn only_public_addresses_are_reached_unless_allowed() {
        for private in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "ff02::1",
            // IPv4-compatible, whatever it carries.
            "::127.0.0.1",
            "::10.0.0.1",
            "::169.254.169.254",
            "::8.8.8.8",
            // 6to4 carrying an IPv4 address that is not public.
            "2002:7f00:1::1",
            "2002:a00:1::",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101:1::1",
            "2002::1",
            // NAT64 local-use.
            "64:ff9b:1::a00:1",
            "64:ff9b:1:ffff::808:808",
            // Teredo (RFC 4380's example), and the rest of 2001::/23.
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001::1",
            "2001:2::1",
            "2001:10::1",
            "2001:1ff::1",
            // Site-local, discard-only, the dummy prefix, documentation, segment routing.
            "fec0::1",
            "feff::1",
            "100::1",
            "100::1:0:0:1",
            "3fff::1",
            "5f00::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            // 6to4 to a public IPv4 address (93.184.216.34); 2001::/16 past the IETF's /23.
            "2002:5db8:d822::1",
            "2001:200::1",
            "2001:4860:4860::8888",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        let allow = AllowList::parse(&["127.0.0.1", "10.1.0.0/16"]).unwrap();
        assert!(allow.permits("127.0.0.1".parse().unwrap()));
        assert!(allow.permits("10.1.2.3".parse().unwrap()));
        assert!(!allow.permits("10.2.0.1".parse().unwrap()));
        assert!(!allow.permits("::1".parse().unwrap()));
        assert!(AllowList::parse(&["nonsense"]).is_err());
    }
}
