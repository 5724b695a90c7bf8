//! Expected outcomes are not errors in the log: a missing order or a stale version is a 404 or
//! a 412 for the client, and an operator has nothing to act on, so storage reports them at
//! debug, never at ERROR.

use ordo_repository::testing::event_of;
use std::sync::{Arc, Mutex};

use ordo_domain::Version;
use ordo_repository::{OrderRepository, RepoError};
use tracing::Level;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::fixtures::{at, customer, stored};

/// Records every event's level.
#[derive(Clone, Default)]
struct Levels(Arc<Mutex<Vec<Level>>>);

impl<S: tracing::Subscriber> Layer<S> for Levels {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.lock().unwrap().push(*event.metadata().level());
    }
}

#[tokio::test]
async fn a_missing_order_or_a_stale_version_is_never_logged_as_an_error() {
    let (_database, store) = ordo_repository::testing::TestSqlite::store().await.unwrap();
    let order = stored(&store, customer(1), at(0)).await;
    let levels = Levels::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(levels.clone()));
    let missing = ordo_domain::OrderId::from_uuid(uuid::Uuid::from_u128(
        0x0193_a1a0_0000_7000_8000_0000_0000_0999,
    ))
    .unwrap();
    assert!(matches!(store.get(missing).await, Err(RepoError::NotFound)));
    let stale = store
        .soft_delete(order.id(), Some(Version::new(7)), at(1), &event_of(&order))
        .await;
    assert!(matches!(stale, Err(RepoError::VersionConflict { .. })));
    let recorded = levels.0.lock().unwrap().clone();
    assert!(
        !recorded.is_empty(),
        "the check saw no events at all: it would pass vacuously"
    );
    assert!(
        !recorded.contains(&Level::ERROR),
        "expected outcomes were logged at ERROR: {recorded:?}"
    );
}
