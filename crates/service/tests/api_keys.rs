//! API keys against a mockall fake of their store: who may manage them, what a key must look
//! like, and that a busy key's last use is written once a minute, not on every request.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use ordo_repository::{MockApiKeyStore, RepoError, StoredKey};
use ordo_service::{ApiKeys, Caller, Clock, KeyRefusal, Role, Scope, ServiceError};

/// A clock the test moves.
struct Hands(Mutex<DateTime<Utc>>);

impl Clock for Hands {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
}

fn admin() -> Caller {
    Caller::operator(Role::Admin, "admin-1").unwrap()
}

/// Makes a key through a fake store that keeps what it is given; the key and the row.
async fn made(scopes: &[Scope]) -> (String, StoredKey) {
    let kept = Arc::new(Mutex::new(None));
    let mut store = MockApiKeyStore::new();
    let keep = kept.clone();
    store.expect_insert_key().times(1).returning(move |key| {
        *keep.lock().unwrap() = Some(key.clone());
        Ok(())
    });
    let keys = ApiKeys::new(Arc::new(store), Arc::new(Hands(Mutex::new(start()))));
    let new = keys.create(&admin(), " erp ", scopes).await.unwrap();
    let row = kept.lock().unwrap().clone().unwrap();
    (new.secret, row)
}

#[tokio::test]
async fn a_new_key_is_stored_as_a_hash_with_its_scopes_once_each() {
    let (key, row) = made(&[Scope::OrdersWrite, Scope::OrdersRead, Scope::OrdersWrite]).await;
    assert_eq!(row.name, "erp");
    assert_eq!(row.scopes, ["orders:read", "orders:write"]);
    assert_eq!(row.created_by, "admin-1");
    assert_eq!(row.created_at, start());
    assert_eq!(&key[8..40], row.id.simple().to_string());
    assert_eq!(row.id.get_version_num(), 7);
    let secret = &key[41..];
    assert!(!format!("{row:?}").contains(secret));
    let (other, _) = made(&[Scope::OrdersRead]).await;
    assert_ne!(other[41..], key[41..], "each key's secret is new");
}

#[tokio::test]
async fn only_an_admin_token_manages_keys() {
    let store = MockApiKeyStore::new();
    let keys = ApiKeys::new(Arc::new(store), Arc::new(Hands(Mutex::new(start()))));
    let id = uuid::Uuid::from_u128(7);
    let callers = [
        Caller::operator(Role::Staff, "staff-1").unwrap(),
        Caller::customer(
            ordo_domain::CustomerId::from_uuid(uuid::Uuid::from_u128(
                0x0193_a1a0_0000_7000_8000_0000_0000_0001,
            ))
            .unwrap(),
        ),
        Caller::key(id, Scope::all().collect()),
    ];
    for caller in callers {
        let refused = keys.create(&caller, "x", &[Scope::OrdersRead]).await;
        assert!(
            matches!(refused, Err(ServiceError::Forbidden(_))),
            "{caller:?}"
        );
        assert!(matches!(
            keys.list(&caller).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            keys.revoke(&caller, id).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            keys.get(&caller, id).await,
            Err(ServiceError::Forbidden(_))
        ));
    }
    for (name, scopes) in [("", &[Scope::OrdersRead][..]), ("erp", &[][..])] {
        let refused = keys.create(&admin(), name, scopes).await;
        assert!(
            matches!(refused, Err(ServiceError::KeyInput(_))),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn a_key_authenticates_as_staff_within_its_scopes_and_its_use_is_written_once_a_minute() {
    let (key, row) = made(&[Scope::OrdersRead]).await;
    let clock = Arc::new(Hands(Mutex::new(start())));
    let touches = Arc::new(Mutex::new(Vec::new()));
    let mut store = MockApiKeyStore::new();
    let stored = row.clone();
    store
        .expect_key()
        .returning(move |id| Ok((id == stored.id).then(|| stored.clone())));
    let written = touches.clone();
    store.expect_touch_key().returning(move |_, at| {
        written.lock().unwrap().push(at);
        Ok(())
    });
    let keys = ApiKeys::new(Arc::new(store), clock.clone());
    for seconds in [0, 1, 30, 59, 60, 61, 125] {
        *clock.0.lock().unwrap() = start() + Duration::seconds(seconds);
        let caller = keys.authenticate(&key).await.unwrap();
        assert_eq!(caller.role(), Role::Staff);
        assert_eq!(caller.key_id(), Some(row.id));
        assert_eq!(caller.subject(), format!("key:{}", row.id));
    }
    let at = |seconds| start() + Duration::seconds(seconds);
    assert_eq!(*touches.lock().unwrap(), [at(0), at(60), at(125)]);

    // A wrong secret, an unknown id, a malformed key: one refusal.
    let last = if key.ends_with('A') { "B" } else { "A" };
    let wrong = format!("{}{last}", &key[..key.len() - 1]);
    let unknown = format!("ordo_sk_{}{}", "0".repeat(32), &key[40..]);
    for bad in [wrong.as_str(), unknown.as_str(), "ordo_sk_", &key[..60]] {
        assert!(
            matches!(keys.authenticate(bad).await, Err(KeyRefusal::Invalid)),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_revoked_key_or_an_unreachable_store_refuses_the_request() {
    let (key, row) = made(&[Scope::OrdersRead]).await;
    let mut store = MockApiKeyStore::new();
    let revoked = StoredKey {
        revoked_at: Some(start()),
        ..row
    };
    store
        .expect_key()
        .returning(move |_| Ok(Some(revoked.clone())));
    store.expect_touch_key().never();
    let keys = ApiKeys::new(Arc::new(store), Arc::new(Hands(Mutex::new(start()))));
    assert!(matches!(
        keys.authenticate(&key).await,
        Err(KeyRefusal::Revoked)
    ));

    let mut down = MockApiKeyStore::new();
    down.expect_key()
        .returning(|_| Err(RepoError::Unavailable("connection refused".into())));
    let keys = ApiKeys::new(Arc::new(down), Arc::new(Hands(Mutex::new(start()))));
    assert!(matches!(
        keys.authenticate(&key).await,
        Err(KeyRefusal::Unavailable(_))
    ));
}
