//! API keys for trusted backends (a storefront's server, an ERP): created by an admin, shown
//! once, stored only as the SHA-256 of their secret, scoped, revocable at once on every replica
//! (each request reads the key's row), with the time each was last used.
//!
//! A key reads `ordo_sk_<id: 32 hex digits>_<secret: 43 base64url characters>`: the id finds the
//! row, the secret (32 random bytes from the OS) must hash to what the row holds, compared in
//! constant time. A key acts as staff limited to its scopes ([`Scope`]); it never acts as a
//! customer or an admin, so it may not delete orders, erase personal data or manage keys.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use ordo_repository::{ApiKeyStore, StoredKey};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use uuid::Uuid;

use crate::access::{Caller, Role};
use crate::{Clock, ServiceError};

/// What every key starts with, so a bearer credential is told apart from a token and a leaked
/// key is easy to find (secret scanners match on it).
pub const KEY_PREFIX: &str = "ordo_sk_";

/// How often one replica writes a key's last use: at most once a minute per key, so a busy key
/// does not turn every read into a write.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// The longest name a key may have.
const MAX_NAME_CHARS: usize = 100;

/// What a key may do. A key holds one or more; each use case asks for the one it needs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::IntoStaticStr, strum::EnumIter,
)]
pub enum Scope {
    /// Read, list and search orders.
    #[strum(serialize = "orders:read")]
    OrdersRead,
    /// Place and preview orders for any customer; with `orders:read`, cancel them, move them
    /// along, change their details.
    #[strum(serialize = "orders:write")]
    OrdersWrite,
    /// Refund orders (with `orders:read`).
    #[strum(serialize = "orders:refund")]
    OrdersRefund,
    /// Name prices when placing (with `orders:write`): custom lines, a discount, a tax rate,
    /// shipping amounts.
    #[strum(serialize = "orders:price")]
    OrdersPrice,
    /// Read the price book.
    #[strum(serialize = "catalog:read")]
    CatalogRead,
    /// Add, change, archive and bulk-upsert products.
    #[strum(serialize = "catalog:write")]
    CatalogWrite,
}

impl Scope {
    /// The scope's name: `orders:read`, `orders:write`, `orders:refund`, `orders:price`,
    /// `catalog:read` or `catalog:write`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every scope, in order.
    pub fn all() -> impl Iterator<Item = Self> {
        <Self as strum::IntoEnumIterator>::iter()
    }

    /// The refusal of a key without this scope, naming it.
    pub(crate) fn missing(self) -> &'static str {
        match self {
            Self::OrdersRead => "this API key lacks the scope orders:read",
            Self::OrdersWrite => "this API key lacks the scope orders:write",
            Self::OrdersRefund => "this API key lacks the scope orders:refund",
            Self::OrdersPrice => "this API key lacks the scope orders:price",
            Self::CatalogRead => "this API key lacks the scope catalog:read",
            Self::CatalogWrite => "this API key lacks the scope catalog:write",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = KeyInputError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::all()
            .find(|scope| scope.as_str() == text)
            .ok_or_else(|| KeyInputError::UnknownScope(text.to_owned()))
    }
}

/// A key as admins see it: never its secret, nor the secret's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's id (also in the key).
    pub id: Uuid,
    /// What the admin called it.
    pub name: String,
    /// What it may do.
    pub scopes: BTreeSet<Scope>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// The admin who made it.
    pub created_by: String,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A key just made: the only time its full text exists outside the caller's hands.
pub struct NewKey {
    /// The key as stored.
    pub key: ApiKey,
    /// `ordo_sk_…`: shown once, never stored, never logged.
    pub secret: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A key request that cannot be made, naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyInputError {
    /// The name is blank, too long or holds a control character.
    #[error("name must be 1 to 100 characters, none of them a control character")]
    Name,
    /// No scope was asked for.
    #[error("scopes must name at least one scope")]
    NoScope,
    /// A scope ordo does not have.
    #[error("unknown scope {0:?}: expected orders:read, orders:write or orders:refund")]
    UnknownScope(String),
}

/// Why a key does not authenticate. The text goes to the client; it never includes the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyRefusal {
    /// Not shaped like a key, unknown, or its secret does not match: one answer for all, so
    /// the answer tells nothing about which ids exist.
    #[error("the API key is not valid")]
    Invalid,
    /// The key was revoked.
    #[error("the API key has been revoked")]
    Revoked,
    /// Storage cannot be reached to check the key.
    #[error("the API key cannot be checked right now")]
    Unavailable(#[source] ServiceError),
}

/// Making, listing, revoking and checking API keys.
pub struct ApiKeys {
    store: Arc<dyn ApiKeyStore>,
    clock: Arc<dyn Clock>,
    /// When this replica last wrote each key's last use.
    touched: Mutex<HashMap<Uuid, DateTime<Utc>>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys").finish_non_exhaustive()
    }
}

impl ApiKeys {
    /// Keys kept in `store`, timed by `clock`.
    pub fn new(store: Arc<dyn ApiKeyStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            touched: Mutex::new(HashMap::new()),
        }
    }

    /// Makes a key named `name` with `scopes`, for an admin.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for anyone but an admin's token;
    /// [`ServiceError::KeyInput`] for a bad name or no scope; storage failures.
    pub async fn create(
        &self,
        caller: &Caller,
        name: &str,
        scopes: &[Scope],
    ) -> Result<NewKey, ServiceError> {
        caller.check_manages_keys()?;
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(KeyInputError::Name.into());
        }
        if scopes.is_empty() {
            return Err(KeyInputError::NoScope.into());
        }
        let mut secret = [0_u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|error| ServiceError::Internal(format!("no randomness: {error}").into()))?;
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let now = self.clock.now();
        let id = key_id(now);
        let stored = StoredKey {
            id,
            name: name.to_owned(),
            scopes: scopes
                .iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|scope| scope.as_str().to_owned())
                .collect(),
            secret_hash: hash(&secret),
            created_at: now,
            created_by: caller.subject().to_owned(),
            revoked_at: None,
            last_used_at: None,
        };
        self.store.insert_key(&stored).await?;
        Ok(NewKey {
            key: view(&stored),
            secret: format!("{KEY_PREFIX}{}_{secret}", id.simple()),
        })
    }

    /// Every key, newest first, for an admin.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for anyone but an admin's token; storage failures.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<ApiKey>, ServiceError> {
        caller.check_manages_keys()?;
        Ok(self.store.keys().await?.iter().map(view).collect())
    }

    /// The key with `id`, for an admin.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for anyone but an admin's token;
    /// [`ServiceError::KeyNotFound`]; storage failures.
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<ApiKey, ServiceError> {
        caller.check_manages_keys()?;
        self.store
            .key(id)
            .await?
            .map(|key| view(&key))
            .ok_or(ServiceError::KeyNotFound)
    }

    /// Revokes the key with `id`, for an admin: the next request with it, on any replica, is
    /// refused. Revoking it again changes nothing.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for anyone but an admin's token;
    /// [`ServiceError::KeyNotFound`]; storage failures.
    pub async fn revoke(&self, caller: &Caller, id: Uuid) -> Result<ApiKey, ServiceError> {
        caller.check_manages_keys()?;
        let now = self.clock.now();
        self.store
            .revoke_key(id, now)
            .await?
            .map(|key| view(&key))
            .ok_or(ServiceError::KeyNotFound)
    }

    /// The caller a bearer credential starting with [`KEY_PREFIX`] names, read from storage on
    /// every call (so a revocation holds at once); records its use at most once a minute.
    ///
    /// # Errors
    /// [`KeyRefusal`].
    pub async fn authenticate(&self, credential: &str) -> Result<Caller, KeyRefusal> {
        let (id, secret) = parse(credential).ok_or(KeyRefusal::Invalid)?;
        let stored = self
            .store
            .key(id)
            .await
            .map_err(|error| KeyRefusal::Unavailable(error.into()))?
            .ok_or(KeyRefusal::Invalid)?;
        if !bool::from(hash(secret).ct_eq(&stored.secret_hash)) {
            return Err(KeyRefusal::Invalid);
        }
        if stored.revoked_at.is_some() {
            return Err(KeyRefusal::Revoked);
        }
        self.touch(id).await;
        Ok(Caller::key(id, scopes(&stored)))
    }

    /// Writes the key's last use unless this replica did within [`TOUCH_EVERY`]. A failure is
    /// logged, never the request's: the time is a hint for admins.
    async fn touch(&self, id: Uuid) {
        let now = self.clock.now();
        let due = {
            let Ok(mut touched) = self.touched.lock() else {
                return;
            };
            let due = touched
                .get(&id)
                .is_none_or(|last| now.signed_duration_since(*last) >= TOUCH_EVERY);
            if due {
                touched.insert(id, now);
            }
            due
        };
        if due && let Err(error) = self.store.touch_key(id, now).await {
            tracing::warn!(key = %id, %error, "could not record an API key's last use");
        }
    }
}

/// A `UUIDv7` for a key made at `now`, from the same parts as order ids.
fn key_id(now: DateTime<Utc>) -> Uuid {
    let (millis, random) = crate::ports::v7_parts(now);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// SHA-256 of a key's secret part.
fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The id and secret of `ordo_sk_<32 hex>_<43 base64url>`; `None` for anything else.
fn parse(credential: &str) -> Option<(Uuid, &str)> {
    let rest = credential.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let well_formed = id.len() == 32
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return None;
    }
    Some((Uuid::parse_str(id).ok()?, secret))
}

/// A stored key's scopes (a name ordo no longer has grants nothing).
fn scopes(stored: &StoredKey) -> BTreeSet<Scope> {
    stored
        .scopes
        .iter()
        .filter_map(|scope| scope.parse().ok())
        .collect()
}

/// What admins see of a stored key.
fn view(stored: &StoredKey) -> ApiKey {
    ApiKey {
        id: stored.id,
        name: stored.name.clone(),
        scopes: scopes(stored),
        created_at: stored.created_at,
        created_by: stored.created_by.clone(),
        revoked_at: stored.revoked_at,
        last_used_at: stored.last_used_at,
    }
}

impl Caller {
    /// Checks that the caller may make, list and revoke API keys: an admin's token, never a
    /// key.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`].
    pub(crate) fn check_manages_keys(&self) -> Result<(), ServiceError> {
        if self.role() == Role::Admin && self.key_id().is_none() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden("only admins manage API keys"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_parses_only_in_its_exact_shape() {
        let secret = "A".repeat(43);
        let id = "0193a1a0000070008000000000000001";
        let key = format!("{KEY_PREFIX}{id}_{secret}");
        assert_eq!(
            parse(&key),
            Some((Uuid::parse_str(id).unwrap(), secret.as_str()))
        );
        for bad in [
            String::new(),
            format!("{id}_{secret}"),
            format!("ordo_pk_{id}_{secret}"),
            format!("{KEY_PREFIX}{}_{secret}", &id[1..]),
            format!("{KEY_PREFIX}{id}_{}", &secret[1..]),
            format!("{KEY_PREFIX}{id}_{secret}A"),
            format!("{KEY_PREFIX}{id}_{}!", &secret[1..]),
            format!("{KEY_PREFIX}{}_{secret}", id.replace('1', "g")),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn a_secret_may_hold_and_start_with_any_base64url_character() {
        let id = "0193a1a0000070008000000000000001";
        for secret in [
            format!("_{}", "A".repeat(42)),
            format!("-{}", "_".repeat(42)),
            "a-b_".repeat(10) + "xyz",
        ] {
            let key = format!("{KEY_PREFIX}{id}_{secret}");
            assert_eq!(parse(&key).map(|(_, s)| s), Some(secret.as_str()), "{key}");
        }
    }

    #[test]
    fn scopes_read_back_by_their_names() {
        for scope in Scope::all() {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
            assert!(scope.missing().ends_with(scope.as_str()));
        }
        assert_eq!(
            "orders:delete".parse::<Scope>(),
            Err(KeyInputError::UnknownScope("orders:delete".to_owned()))
        );
    }
}
