//! Order events on the wire: an event as the history and the feed show it, the feed's
//! parameters, and the order representation events carry ([`ApiRenderer`]).

use chrono::{DateTime, Utc};
use ordo_domain::{ActorRole, EventKind, Order};
use ordo_service::{BoxError, Caller, OrderRenderer, StoredEvent};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::dto::OrderBody;

/// Events carry the order exactly as `GET /v1/orders/{id}` answers staff: written once, with
/// the change, and delivered as written.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiRenderer;

impl OrderRenderer for ApiRenderer {
    fn render(&self, order: &Order) -> Result<String, BoxError> {
        Ok(serde_json::to_string(&OrderBody::new(
            order,
            &Caller::unauthenticated(),
        ))?)
    }
}

/// An event as staff see it in the feed, as JSON: what a message bus carries.
///
/// # Errors
/// Only on a bug: an event always serializes.
pub fn event_json(event: &StoredEvent) -> Result<String, serde_json::Error> {
    serde_json::to_string(&EventBody::new(event, &Caller::unauthenticated()))
}

/// Who made a change.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActorBody {
    /// `customer`, `staff`, `admin`, `key` (an API key) or `system` (ordo itself).
    #[schema(example = "staff")]
    role: &'static str,
    /// Which one: a customer's id, a token's subject, `key:<id>`, or the job's name. Customers
    /// see it only for their own changes.
    subject: Option<String>,
}

/// One change of one order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventBody {
    /// The event's id (UUIDv7): the key consumers deduplicate on (also the webhook's
    /// `webhook-id`).
    id: Uuid,
    /// What happened.
    #[serde(rename = "type")]
    #[schema(example = "order.placed")]
    kind: &'static str,
    /// The order it happened to.
    order_id: Uuid,
    /// Whose order it is.
    customer_id: Uuid,
    /// The order's version after the change.
    version: u32,
    /// Who did it.
    actor: ActorBody,
    /// The request that did it (`x-request-id`), when it came through the API. Customers see
    /// it only for their own changes.
    request_id: Option<String>,
    /// The `Idempotency-Key` that request carried (staff and admins only).
    idempotency_key: Option<String>,
    /// When (RFC 3339, UTC, microseconds).
    created_at: DateTime<Utc>,
    /// This event's place in the feed: pass it as `after` to read what follows.
    cursor: String,
    /// Its place in its order's history: 1 for the first.
    chain: u32,
    /// SHA-256 (hex) of the previous event's hash and this event's content: the order's
    /// history is a hash chain (`ordo audit verify` checks every one).
    hash: String,
    /// The previous event's hash (hex); null for an order's first event.
    prev_hash: Option<String>,
    /// The order as it was after the change, as `GET /v1/orders/{id}` showed it; null once
    /// the customer's personal data was erased (the erasure's own event shows the order
    /// without it).
    #[schema(value_type = Option<OrderBody>)]
    order: Option<serde_json::Value>,
}

impl EventBody {
    /// The event as `caller` sees it: a customer never sees the staff note, nor who on the
    /// shop's side made a change, nor their idempotency keys.
    pub(crate) fn new(event: &StoredEvent, caller: &Caller) -> Self {
        let record = &event.record;
        let customer_view = !caller.sees_staff_note();
        let own = record.actor.role == ActorRole::Customer;
        let order = record
            .payload
            .as_deref()
            .and_then(|payload| serde_json::from_str::<serde_json::Value>(payload).ok())
            .map(|mut order| {
                if customer_view {
                    if let Some(note) = order.get_mut("staff_note") {
                        *note = serde_json::Value::Null;
                    }
                    // Who on staff recorded a payment is the shop's side too.
                    let payments = order.get_mut("payments").and_then(|p| p.as_array_mut());
                    for payment in payments.into_iter().flatten() {
                        if let Some(by) = payment.get_mut("recorded_by") {
                            *by = serde_json::Value::Null;
                        }
                    }
                }
                order
            });
        Self {
            id: record.id,
            kind: record.kind.as_str(),
            order_id: record.order_id.as_uuid(),
            customer_id: record.customer_id.as_uuid(),
            version: record.version.get(),
            actor: ActorBody {
                role: record.actor.role.as_str(),
                subject: (!customer_view || own).then(|| record.actor.subject.clone()),
            },
            request_id: record.request_id.clone().filter(|_| !customer_view || own),
            idempotency_key: record.idempotency_key.clone().filter(|_| !customer_view),
            created_at: record.at,
            cursor: event.position.encode(),
            chain: event.chain,
            hash: hex::encode(event.hash),
            prev_hash: event.prev_hash.map(hex::encode),
            order,
        }
    }
}

/// An order's history, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventHistory {
    /// Every event of the order, oldest first.
    pub data: Vec<EventBody>,
    /// Always null: the history comes whole.
    pub next_cursor: Option<String>,
    /// Always false.
    pub has_more: bool,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FeedBody {
    /// The events, in feed order.
    pub data: Vec<EventBody>,
    /// Pass as `after` to read on: the last event's cursor, or the `after` given when no event
    /// came (null only when there was none and no `after`).
    pub next_cursor: Option<String>,
    /// Whether more events were ready than the page held (read again at once).
    pub has_more: bool,
}

/// The largest feed page.
pub(crate) const MAX_FEED_LIMIT: u32 = 500;

/// What to read from the feed.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct FeedParams {
    /// Only events after this one: an event's `cursor` or a page's `next_cursor`, unchanged.
    /// From the first event when left out.
    #[param(
        min_length = 23,
        max_length = 23,
        pattern = "^A[Q-Za-f][A-Za-z0-9_-]{20}[AEIMQUYcgkosw048]$"
    )]
    pub after: Option<String>,
    /// Only these event types, comma-separated (`order.placed,payment.captured`).
    #[param(
        example = "order.placed,order.cancelled",
        pattern = "^(order[.](placed|edited|status_changed|cancelled|deleted|erased)|payment[.](requested|authorized|failed|unknown|captured|voided|recorded)|refund[.](requested|succeeded|failed)|fulfillment[.](created|shipped|delivered|cancelled|tracking_updated)|return[.](requested|received|closed))(,(order[.](placed|edited|status_changed|cancelled|deleted|erased)|payment[.](requested|authorized|failed|unknown|captured|voided|recorded)|refund[.](requested|succeeded|failed)|fulfillment[.](created|shipped|delivered|cancelled|tracking_updated)|return[.](requested|received|closed)))*$"
    )]
    pub types: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// Long polling: when no event is ready, wait up to this many seconds (0 to 30, default 0)
    /// for one, then answer (an empty page when none came).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 30)]
    pub wait: Option<String>,
}

/// The kinds a `types` parameter names.
///
/// # Errors
/// The first name that is no event type.
pub(crate) fn parse_types(text: &str) -> Result<Vec<EventKind>, ordo_domain::UnknownEventKind> {
    let mut kinds = Vec::new();
    for name in text.split(',') {
        let kind = name.trim().parse::<EventKind>()?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// An event type's name: one of the documented ones.
pub(crate) struct EventTypeSchema;

impl PartialSchema for EventTypeSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(EventKind::names()))
            .into()
    }
}

impl ToSchema for EventTypeSchema {}

#[cfg(test)]
mod tests {
    /// The `types` pattern in the OpenAPI document names every event type, and nothing else.
    #[test]
    fn the_types_pattern_lists_every_event_type() {
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for name in ordo_domain::EventKind::names() {
            let (prefix, rest) = name.split_once('.').unwrap_or((name, ""));
            match groups.iter_mut().find(|(p, _)| *p == prefix) {
                Some((_, rests)) => rests.push(rest),
                None => groups.push((prefix, vec![rest])),
            }
        }
        let one = groups
            .iter()
            .map(|(prefix, rests)| format!("{prefix}[.]({})", rests.join("|")))
            .collect::<Vec<_>>()
            .join("|");
        let pattern = format!("^({one})(,({one}))*$");
        let doc = serde_json::to_value(crate::openapi()).unwrap_or_default();
        let documented = doc["paths"]["/v1/events"]["get"]["parameters"]
            .as_array()
            .and_then(|params| params.iter().find(|p| p["name"] == "types"))
            .map(|param| param["schema"]["pattern"].clone());
        assert_eq!(documented, Some(serde_json::Value::String(pattern)));
    }
}
