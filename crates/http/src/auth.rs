//! Who is calling: bearer tokens (JWT) verified at the edge, turned into a [`Caller`] that the
//! service's rules check. What each role may do is the service's business, not this module's.
//!
//! API keys (`ordo_sk_…`, for trusted backends) are sent the same way and checked by the
//! service against storage on every request.
//!
//! Tokens carry `sub` (a customer's id for customers), `role` (`customer`, `staff` or `admin`)
//! and `exp`; `iss` and `aud` are checked when configured. The algorithm is fixed by the
//! configured key (HS256 for a secret; RS256 or EdDSA for a public key), so a token cannot
//! choose it: `alg: none` and algorithm confusion are refused.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ordo_domain::CustomerId;
use ordo_service::{ApiKeys, Caller, KEY_PREFIX, KeyRefusal, Role};
use serde::{Deserialize, Serialize};

use crate::problem::Problem;
use crate::problem::ProblemKind;

/// The claims ordo reads and writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
}

/// A key that ordo cannot use.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The secret is too short to resist guessing.
    #[error("the secret must be at least 32 bytes")]
    ShortSecret,
    /// Not a PEM RSA or Ed25519 public key.
    #[error("not a PEM-encoded RSA or Ed25519 public key")]
    NotAPublicKey,
}

/// Why a token was refused. The text goes to the client; it never includes the token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No `Authorization: Bearer` header.
    #[error("a bearer token is required")]
    Missing,
    /// The token is not valid: bad signature, expired, wrong algorithm, malformed, a claim
    /// missing or wrong; or the API key is unknown, wrong or revoked.
    #[error("the token is invalid: {0}")]
    Invalid(String),
    /// The API key is not valid: malformed, unknown, wrong, or revoked (the text says which of
    /// "not valid" and "revoked").
    #[error("{0}")]
    Key(String),
    /// An API key could not be checked: storage is unavailable (the cause is for the logs).
    #[error("the API key cannot be checked right now")]
    Unavailable(String),
}

/// Verifies bearer tokens against one configured key.
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

/// Seconds of clock skew a token's `exp` and `nbf` are allowed by default: small, because an
/// expired token keeps working for that long.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 5;

impl TokenVerifier {
    /// HS256 with a shared `secret` (at least 32 bytes).
    ///
    /// # Errors
    /// [`KeyError::ShortSecret`].
    pub fn hs256(
        secret: &[u8],
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, KeyError> {
        if secret.len() < 32 {
            return Err(KeyError::ShortSecret);
        }
        Ok(Self::new(
            DecodingKey::from_secret(secret),
            Algorithm::HS256,
            issuer,
            audience,
        ))
    }

    /// RS256 or EdDSA with an identity provider's public key in PEM; the key's kind decides.
    ///
    /// # Errors
    /// [`KeyError::NotAPublicKey`].
    pub fn public_key(
        pem: &[u8],
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, KeyError> {
        if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            return Ok(Self::new(key, Algorithm::RS256, issuer, audience));
        }
        if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            return Ok(Self::new(key, Algorithm::EdDSA, issuer, audience));
        }
        Err(KeyError::NotAPublicKey)
    }

    fn new(
        key: DecodingKey,
        algorithm: Algorithm,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = DEFAULT_LEEWAY_SECONDS;
        // A token issued for later is not valid yet (within the same allowance for clock skew).
        validation.validate_nbf = true;
        if let Some(issuer) = issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        match audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".to_owned());
            }
            None => validation.validate_aud = false,
        }
        Self { key, validation }
    }

    /// Allows `seconds` of clock skew when checking `exp` and `nbf` (default
    /// [`DEFAULT_LEEWAY_SECONDS`]): a token expired that long ago is still accepted.
    #[must_use]
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.validation.leeway = seconds;
        self
    }

    /// The caller a token names.
    ///
    /// # Errors
    /// [`TokenError::Invalid`], saying why.
    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        self.verify_until(token).map(|(caller, _)| caller)
    }

    /// The caller a token names, and when the token stops being accepted (its `exp` plus the
    /// leeway), in Unix seconds.
    ///
    /// # Errors
    /// [`TokenError::Invalid`], saying why.
    fn verify_until(&self, token: &str) -> Result<(Caller, u64), TokenError> {
        // The library cannot parse a header naming an algorithm it does not know (`none`), and
        // reports that as malformed JSON: read `alg` first, so the client hears what is wrong.
        if jsonwebtoken::decode_header(token).is_err() && header_algorithm(token).is_some() {
            return Err(TokenError::Invalid(self.unaccepted_algorithm()));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                    TokenError::Invalid(self.unaccepted_algorithm())
                }
                _ => TokenError::Invalid(reason(&error)),
            },
        )?;
        let claims = data.claims;
        if !is_subject(&claims.sub) {
            return Err(TokenError::Invalid(
                "the `sub` claim must be 1 to 255 characters, none of them a control character"
                    .into(),
            ));
        }
        let role: Role = claims
            .role
            .parse()
            .map_err(|error: ordo_service::UnknownRole| TokenError::Invalid(error.to_string()))?;
        let until = claims.exp.saturating_add(self.validation.leeway);
        match role {
            Role::Customer => {
                let id = uuid::Uuid::parse_str(&claims.sub)
                    .ok()
                    .and_then(|uuid| CustomerId::from_uuid(uuid).ok())
                    .ok_or_else(|| {
                        TokenError::Invalid("a customer's `sub` must be its customer id".into())
                    })?;
                Ok((Caller::customer(id), until))
            }
            Role::Staff | Role::Admin => Caller::operator(role, claims.sub)
                .map(|caller| (caller, until))
                .map_err(|error| TokenError::Invalid(error.to_string())),
        }
    }
}

impl TokenVerifier {
    /// The refusal of a token signed with any algorithm but the configured one.
    fn unaccepted_algorithm(&self) -> String {
        let accepted: Vec<String> = self
            .validation
            .algorithms
            .iter()
            .map(|algorithm| format!("{algorithm:?}"))
            .collect();
        format!(
            "it is not signed with an accepted algorithm (this server accepts {})",
            accepted.join(", ")
        )
    }
}

/// The `alg` a token's header names, whatever it is.
fn header_algorithm(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let header: serde_json::Value = serde_json::from_slice(&json).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

/// A subject names someone: not blank, bounded, and storable in any database (it scopes
/// idempotency keys), so no control characters such as NUL.
fn is_subject(subject: &str) -> bool {
    !subject.trim().is_empty()
        && subject.chars().count() <= 255
        && !subject.chars().any(char::is_control)
}

/// What the client is told about a refused token: enough to fix it, nothing of the key.
fn reason(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "it has expired".to_owned(),
        ErrorKind::InvalidSignature => "its signature does not verify".to_owned(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "it is not signed with an accepted algorithm".to_owned()
        }
        ErrorKind::InvalidIssuer => "its issuer (`iss`) is not accepted".to_owned(),
        ErrorKind::InvalidAudience => "its audience (`aud`) is not accepted".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the `{claim}` claim is missing"),
        ErrorKind::ImmatureSignature => "it is not valid yet".to_owned(),
        ErrorKind::Json(_) => {
            "its claims are malformed (`sub`, `role` and `exp` are required)".to_owned()
        }
        _ => "it is malformed".to_owned(),
    }
}

/// Mints HS256 tokens with the same claims the verifier reads: for `ordo token`, in
/// development and operations.
pub struct TokenSigner {
    key: EncodingKey,
    issuer: Option<String>,
    audience: Option<String>,
}

impl TokenSigner {
    /// A signer for `secret` (at least 32 bytes), adding `iss`/`aud` when given.
    ///
    /// # Errors
    /// [`KeyError::ShortSecret`].
    pub fn hs256(
        secret: &[u8],
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Result<Self, KeyError> {
        if secret.len() < 32 {
            return Err(KeyError::ShortSecret);
        }
        Ok(Self {
            key: EncodingKey::from_secret(secret),
            issuer,
            audience,
        })
    }

    /// A token for `role` and `subject`, issued at `now` (Unix seconds), valid for
    /// `ttl_seconds`.
    ///
    /// # Errors
    /// When signing fails (it does not with an HMAC key).
    pub fn mint(
        &self,
        role: Role,
        subject: &str,
        now: u64,
        ttl_seconds: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: subject.to_owned(),
            role: role.as_str().to_owned(),
            exp: now.saturating_add(ttl_seconds),
            iat: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
    }
}

/// How callers are identified.
#[derive(Debug, Clone, Default)]
pub enum Authentication {
    /// No tokens: every request acts with full access. Only when explicitly configured.
    #[default]
    Disabled,
    /// Every API request needs a valid bearer token.
    Required(Arc<TokenVerifier>),
}

/// What a request's caller was established by, kept for a connection that outlives the
/// request (the event feed's WebSocket, `routes/events.rs`) to check it again.
#[derive(Clone)]
pub(crate) enum Credential {
    /// Authentication is off: nothing to check again.
    Open,
    /// A token, refused from this instant on (its `exp` plus the verifier's leeway).
    Token {
        /// When it expires, for a connection's purposes.
        refused_from: DateTime<Utc>,
    },
    /// An API key (the whole bearer credential), checked again by the service.
    Key(Arc<str>),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Open => f.write_str("Open"),
            Self::Token { refused_from } => f
                .debug_struct("Token")
                .field("refused_from", refused_from)
                .finish(),
            // Never the key itself.
            Self::Key(_) => f.write_str("Key(..)"),
        }
    }
}

/// The token a WebSocket upgrade offers as the subprotocol `bearer.<token>`.
fn socket_token(headers: &HeaderMap) -> Option<&str> {
    let upgrading = headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if !upgrading {
        return None;
    }
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|protocol| protocol.trim().strip_prefix("bearer."))
}

/// How a request's caller is established: the configured [`Authentication`] for tokens, and
/// the service's API keys when it accepts them.
#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) authentication: Authentication,
    pub(crate) keys: Option<Arc<ApiKeys>>,
}

impl Gate {
    /// The caller behind `request`'s `Authorization` header: a token, or an API key (a bearer
    /// credential starting `ordo_sk_`), read from storage on every request.
    ///
    /// # Errors
    /// [`TokenError`] when a credential is required and missing or invalid.
    async fn caller(&self, headers: &HeaderMap) -> Result<Caller, TokenError> {
        self.caller_and_credential(headers)
            .await
            .map(|(caller, _)| caller)
    }

    /// [`Gate::caller`], with what established it.
    async fn caller_and_credential(
        &self,
        headers: &HeaderMap,
    ) -> Result<(Caller, Credential), TokenError> {
        let verifier = match &self.authentication {
            Authentication::Disabled => return Ok((Caller::unauthenticated(), Credential::Open)),
            Authentication::Required(verifier) => verifier,
        };
        let token = match headers.get(header::AUTHORIZATION) {
            Some(header) => header
                .to_str()
                .ok()
                .and_then(|value| {
                    let (scheme, token) = value.split_once(' ')?;
                    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
                })
                .ok_or_else(|| {
                    TokenError::Invalid("the Authorization header must be `Bearer <token>`".into())
                })?,
            // A browser cannot set headers on a WebSocket: it offers the token as a
            // subprotocol, `bearer.<token>`, beside `ordo.v1` (`routes/events.rs`).
            None => socket_token(headers).ok_or(TokenError::Missing)?,
        };
        if token.starts_with(KEY_PREFIX) {
            let keys = self
                .keys
                .as_ref()
                .ok_or_else(|| TokenError::Key("this server does not accept API keys".into()))?;
            let caller = keys
                .authenticate(token)
                .await
                .map_err(|refusal| match refusal {
                    KeyRefusal::Unavailable(cause) => TokenError::Unavailable(cause.to_string()),
                    refusal => TokenError::Key(refusal.to_string()),
                })?;
            return Ok((caller, Credential::Key(token.into())));
        }
        let (caller, until) = verifier.verify_until(token)?;
        // Past any time a clock reads (9999-12-31) for an `exp` no date holds.
        let refused_from = i64::try_from(until)
            .ok()
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Ok((caller, Credential::Token { refused_from }))
    }
}

/// Middleware: puts the request's [`Caller`] in its extensions, or answers 401.
pub(crate) async fn authenticate(
    State(gate): State<Gate>,
    mut request: Request,
    next: Next,
) -> Response {
    match gate.caller_and_credential(request.headers()).await {
        Ok((caller, credential)) => {
            // Recorded with the events the request causes.
            let key = request
                .headers()
                .get(&crate::idempotency::IDEMPOTENCY_KEY)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let caller = caller.in_request(crate::request_id::current_request_id(), key);
            request.extensions_mut().insert(caller);
            request.extensions_mut().insert(credential);
            next.run(request).await
        }
        Err(error) => unauthorized(&error),
    }
}

/// Middleware for `/metrics` when it is protected: staff or admin tokens only (not API keys,
/// whose scopes are about orders).
pub(crate) async fn operators_only(
    State(gate): State<Gate>,
    request: Request,
    next: Next,
) -> Response {
    match gate.caller(request.headers()).await {
        Ok(caller) if caller.role() != Role::Customer && caller.key_id().is_none() => {
            next.run(request).await
        }
        Ok(_) => Problem::new(
            ProblemKind::Forbidden,
            "metrics are for staff and admin tokens",
        )
        .into_response(),
        Err(error) => unauthorized(&error),
    }
}

/// 401 with the `WWW-Authenticate` challenge of RFC 6750 (503 when an API key could not be
/// checked).
fn unauthorized(error: &TokenError) -> Response {
    let detail = error.to_string();
    let challenge = match error {
        TokenError::Unavailable(cause) => {
            tracing::warn!(error = %cause, "an API key could not be checked");
            return Problem::new(
                ProblemKind::Unavailable,
                "the API key cannot be checked right now; retry shortly",
            )
            .retry_after(1)
            .into_response();
        }
        TokenError::Missing => "Bearer realm=\"ordo\"".to_owned(),
        TokenError::Invalid(why) | TokenError::Key(why) => format!(
            "Bearer realm=\"ordo\", error=\"invalid_token\", error_description=\"{}\"",
            why.replace(['"', '\\'], "'")
        ),
    };
    let mut response = Problem::new(ProblemKind::Unauthorized, detail).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
