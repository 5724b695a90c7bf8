//! Fulfilments: which units of which lines go out together, from where, with what tracking.
//!
//! A fulfilment belongs to its order and is written with it, under the order's version (one
//! compare-and-set), so two fulfilments racing for the last unit of a line can never both land:
//! the loser reads the order again and finds nothing left. How many units of a line are
//! fulfilled or shipped is never stored on its own: it is counted from the fulfilments, so
//! the counts cannot drift from the fulfilments they count.
//!
//! The rules (docs/status.md, "Fulfilment"): only a `processing` order is fulfilled; a
//! fulfilment is `created`, then `shipped`, then `delivered`, or `cancelled` before it ships
//! (its units are then unfulfilled again); the fulfilment that leaves nothing to fulfil
//! completes the order (capturing an authorization, as completing does); completing an order
//! ships whatever is left in one fulfilment; an order with anything shipped cannot be
//! cancelled, and cancelling one cancels its open fulfilments.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use strum::{EnumIter, IntoStaticStr};
use uuid::Uuid;

use crate::line_refund::LinePart;
use crate::order::{Order, PaymentStep, Quantity, StatusChange};
use crate::payment::{CaptureMode, PaymentError, PaymentStatus};
use crate::record::text::line as text_line;
use crate::status::OrderStatus;
use crate::validation::{Collector, ValidationErrors, Violation};

/// The most fulfilments an order holds, cancelled ones included.
pub const MAX_FULFILLMENTS: usize = 100;
/// The longest location code (`berlin-1`).
pub const MAX_LOCATION_CHARS: usize = 64;
/// The longest carrier name.
pub const MAX_CARRIER_CHARS: usize = 64;
/// The longest tracking number.
pub const MAX_TRACKING_NUMBER_CHARS: usize = 128;
/// The longest tracking URL.
pub const MAX_TRACKING_URL_CHARS: usize = 2048;

/// An id of a part of an order (a fulfilment, a return): a `UUIDv7` for the ones callers make,
/// or any UUID as stored or named in a path.
macro_rules! part_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A `UUIDv7` from its parts (the service supplies time and randomness).
            pub fn from_parts(unix_millis: u64, random: &[u8; 10]) -> Self {
                Self(uuid::Builder::from_unix_timestamp_millis(unix_millis, random).into_uuid())
            }

            /// Any UUID, as stored or named in a path.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }
    };
}
pub(super) use part_id;

part_id! {
    /// A fulfilment's id: a `UUIDv7` for the ones callers make, a name-based one for the
    /// fulfilment completing an order makes of what was left.
    FulfillmentId
}

impl FulfillmentId {
    /// The id of the fulfilment numbered `number` that ordo itself made for `order`: the same
    /// on every replica and every read (a version 8 UUID from SHA-256 of the two).
    fn derived(order: crate::OrderId, number: u32) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"ordo fulfillment v1\0");
        hasher.update(order.as_uuid().as_bytes());
        hasher.update(number.to_be_bytes());
        let digest = hasher.finalize();
        let mut bytes = [0_u8; 16];
        bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
        Self(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }
}

/// Where one fulfilment stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum FulfillmentState {
    /// Its units are set aside (picked, packed), not yet handed to a carrier.
    Created,
    /// Handed to the carrier.
    Shipped,
    /// The carrier delivered it.
    Delivered,
    /// Called off before it shipped; its units are unfulfilled again.
    Cancelled,
}

/// Every move of a fulfilment, and nothing else: `(from, to)`.
pub const FULFILLMENT_MOVES: &[(FulfillmentState, FulfillmentState)] = &[
    (FulfillmentState::Created, FulfillmentState::Shipped),
    (FulfillmentState::Created, FulfillmentState::Cancelled),
    (FulfillmentState::Shipped, FulfillmentState::Delivered),
];

impl FulfillmentState {
    /// The state as written in JSON (`"shipped"`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether its units count as fulfilled (every state but cancelled).
    pub fn counts(self) -> bool {
        self != Self::Cancelled
    }

    /// Whether its units have left (shipped or delivered).
    pub fn has_shipped(self) -> bool {
        matches!(self, Self::Shipped | Self::Delivered)
    }

    /// Where a fulfilment may go from this state, in table order.
    pub fn allowed_next(self) -> Vec<Self> {
        FULFILLMENT_MOVES
            .iter()
            .filter(|(from, _)| *from == self)
            .map(|(_, to)| *to)
            .collect()
    }
}

impl std::fmt::Display for FulfillmentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much of an order is fulfilled, counted over the lines that require shipping (over all
/// lines when none does).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumIter,
    PartialOrd,
    Ord,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum FulfillmentStatus {
    /// No unit is fulfilled.
    Unfulfilled,
    /// Some units are, not all.
    PartiallyFulfilled,
    /// Every unit is.
    Fulfilled,
    /// Some units came back (returns received or refunded), not all.
    PartiallyReturned,
    /// Every unit came back.
    Returned,
}

impl FulfillmentStatus {
    /// The status as written in JSON and storage (`"partially_fulfilled"`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for FulfillmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FulfillmentStatus {
    type Err = UnknownFulfillmentStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        use strum::IntoEnumIterator as _;
        Self::iter()
            .find(|status| status.as_str() == text)
            .ok_or(UnknownFulfillmentStatus)
    }
}

/// A string that names no fulfilment status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown fulfillment status: expected unfulfilled, partially_fulfilled, fulfilled, \
     partially_returned or returned"
)]
pub struct UnknownFulfillmentStatus;

/// Some units of one line of the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentLine {
    /// The line: its 0-based place in the order's `items`.
    pub line: u32,
    /// How many of its units.
    pub quantity: Quantity,
}

/// How a parcel can be followed: each part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracking {
    /// Who carries it (`DHL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// The carrier's number for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Where the customer follows it (http or https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Tracking {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.carrier.is_none() && self.number.is_none() && self.url.is_none()
    }
}

/// One fulfilment of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fulfillment {
    /// Its id.
    pub id: FulfillmentId,
    /// 1 for the order's first fulfilment, then 2, 3...
    pub number: u32,
    /// Where it stands.
    pub state: FulfillmentState,
    /// Which units of which lines.
    pub lines: Vec<FulfillmentLine>,
    /// Where it ships from (a warehouse or shop code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// How to follow it.
    #[serde(default, skip_serializing_if = "Tracking::is_empty")]
    pub tracking: Tracking,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_at: Option<DateTime<Utc>>,
    /// When it was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The capture its shipping claimed, when the shop captures on shipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<ShipmentCapture>,
}

/// Where a shipment's capture stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CaptureState {
    /// Claimed, the gateway's answer not yet written.
    Pending,
    /// The gateway took the amount.
    Captured,
    /// The gateway refused: the amount is owed still, and the next shipment (or completing
    /// the order) captures it.
    Failed,
}

impl CaptureState {
    /// The state as written in JSON (`"captured"`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The money a shipment's capture moves: what has shipped is worth, by the cumulative rule of
/// refunds by line ([`crate::Pricing::units_amount`]), less what was captured before; the
/// shipment that leaves nothing unshipped takes whatever authorization is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentCapture {
    /// Where it stands.
    pub state: CaptureState,
    /// How much it asks for.
    #[serde(with = "crate::amount_serde")]
    pub amount: rust_decimal::Decimal,
}

impl Fulfillment {
    /// Whether its times match its state: each time set exactly when the state has passed it.
    fn times_fit(&self) -> bool {
        let state = self.state;
        self.shipped_at.is_some() == state.has_shipped()
            && self.delivered_at.is_some() == (state == FulfillmentState::Delivered)
            && self.cancelled_at.is_some() == (state == FulfillmentState::Cancelled)
    }
}

/// One line of a fulfilment as a client sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FulfillmentLineDraft {
    /// The line's 0-based place in the order's `items`.
    pub line: i64,
    /// How many of its units.
    pub quantity: i64,
}

/// Tracking as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackingDraft {
    /// Who carries it.
    pub carrier: Option<String>,
    /// The carrier's number.
    pub number: Option<String>,
    /// Where to follow it.
    pub url: Option<String>,
}

/// A fulfilment as a client asks for it, unchecked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FulfillmentDraft {
    /// Which units of which lines.
    pub lines: Vec<FulfillmentLineDraft>,
    /// Where it ships from.
    pub location: Option<String>,
    /// How to follow it.
    pub tracking: TrackingDraft,
}

/// A checked fulfilment, not yet held against an order's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFulfillment {
    lines: Vec<(u32, Quantity)>,
    location: Option<String>,
    tracking: Tracking,
}

impl TrackingDraft {
    /// The tracking, each part checked (field names under `prefix`, such as `tracking_number`).
    fn parse(&self, errors: &mut Collector) -> Tracking {
        let mut part = |field: &str, raw: Option<&String>, max: usize| {
            raw.and_then(|raw| match text_line(raw, max) {
                Ok(text) => Some(text),
                Err(violation) => {
                    errors.push(field, violation);
                    None
                }
            })
        };
        let carrier = part("carrier", self.carrier.as_ref(), MAX_CARRIER_CHARS);
        let number = part(
            "tracking_number",
            self.number.as_ref(),
            MAX_TRACKING_NUMBER_CHARS,
        );
        let url = part("tracking_url", self.url.as_ref(), MAX_TRACKING_URL_CHARS);
        let url = url.and_then(|url| {
            if is_web_url(&url) {
                Some(url)
            } else {
                errors.push("tracking_url", Violation::InvalidUrl);
                None
            }
        });
        Tracking {
            carrier,
            number,
            url,
        }
    }

    /// Checked on its own (a fulfilment's tracking changed as it ships).
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `carrier`, `tracking_number` or `tracking_url`.
    pub fn check(&self) -> Result<Tracking, ValidationErrors> {
        let mut errors = Collector::default();
        let tracking = self.parse(&mut errors);
        errors.finish(Some(tracking))
    }
}

/// An absolute http or https URL with a host and no white space.
fn is_web_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !text.chars().any(char::is_whitespace)
    })
}

impl NewFulfillment {
    /// Checks a draft on its own: at least one line, each named once with a quantity in range,
    /// and the texts. Whether the order has those units left is [`Order::fulfil`]'s to say.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming every field that breaks a rule (`lines[1].quantity`).
    pub fn parse(draft: &FulfillmentDraft) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let lines = parse_lines(&draft.lines, &mut errors);
        let location = draft.location.as_ref().and_then(|raw| {
            text_line(raw, MAX_LOCATION_CHARS)
                .map_err(|violation| errors.push("location", violation))
                .ok()
        });
        let tracking = draft.tracking.parse(&mut errors);
        errors.finish(Some(Self {
            lines,
            location,
            tracking,
        }))
    }
}

/// Lines and quantities as a client names them (a fulfilment's, a return's): at least one, each
/// line once, each quantity in range. Whether the order has them is for the order to say.
pub(super) fn parse_lines(
    drafts: &[FulfillmentLineDraft],
    errors: &mut Collector,
) -> Vec<(u32, Quantity)> {
    if drafts.is_empty() {
        errors.push("lines", Violation::NoLines);
    }
    if drafts.len() > crate::MAX_LINE_ITEMS {
        errors.push(
            "lines",
            Violation::TooManyEntries {
                max: crate::MAX_LINE_ITEMS,
            },
        );
        return Vec::new();
    }
    let mut lines = Vec::with_capacity(drafts.len());
    for (index, given) in drafts.iter().enumerate() {
        let line = u32::try_from(given.line).ok();
        if line.is_none() {
            errors.push(format!("lines[{index}].line"), Violation::NoSuchLine);
        }
        if line.is_some() && drafts.iter().take(index).any(|l| l.line == given.line) {
            errors.push(format!("lines[{index}].line"), Violation::Duplicate);
        }
        let quantity = Quantity::new(given.quantity)
            .map_err(|violation| errors.push(format!("lines[{index}].quantity"), violation))
            .ok();
        if let (Some(line), Some(quantity)) = (line, quantity) {
            lines.push((line, quantity));
        }
    }
    lines
}

/// Why a fulfilment cannot be made or moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FulfillmentError {
    /// A line the order does not have, or more units than are left to fulfil.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// Only a processing order is fulfilled.
    #[error("only a processing order is fulfilled; this one is {status}")]
    OrderStatus {
        /// The order's status.
        status: OrderStatus,
    },
    /// A gateway call is in flight on the order.
    #[error(transparent)]
    Payment(#[from] PaymentError),
    /// An amount past what ordo writes.
    #[error(transparent)]
    Money(#[from] crate::MoneyError),
    /// The order holds as many fulfilments as it may.
    #[error("an order holds at most {max} fulfillments")]
    TooMany {
        /// The limit.
        max: usize,
    },
    /// The order has no fulfilment with this id.
    #[error("the order has no such fulfillment")]
    NotFound,
    /// The fulfilment cannot make this move.
    #[error(
        "a fulfillment cannot move from {from} to {to}; allowed next: {}",
        allowed_list(.allowed)
    )]
    IllegalMove {
        /// Where it stands.
        from: FulfillmentState,
        /// Where it was asked to go.
        to: FulfillmentState,
        /// Where it may go.
        allowed: Vec<FulfillmentState>,
    },
    /// A completed order's fulfilments are not cancelled: it was completed for them.
    #[error("the order is completed: its fulfillments can ship and be delivered, not be cancelled")]
    OrderCompleted,
}

fn allowed_list(states: &[FulfillmentState]) -> String {
    if states.is_empty() {
        return "none (final)".to_owned();
    }
    states
        .iter()
        .map(|state| state.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many units of one line are fulfilled and shipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineProgress {
    /// Held by a fulfilment that is not cancelled.
    pub fulfilled: u32,
    /// Held by a fulfilment that shipped (or was delivered).
    pub shipped: u32,
}

impl Order {
    /// The fulfilments, oldest first.
    pub fn fulfillments(&self) -> &[Fulfillment] {
        &self.fulfillments
    }

    /// The fulfilment with this id.
    pub fn fulfillment(&self, id: FulfillmentId) -> Option<&Fulfillment> {
        self.fulfillments.iter().find(|f| f.id == id)
    }

    /// Each line's fulfilled and shipped units, in line order.
    pub fn line_progress(&self) -> Vec<LineProgress> {
        progress(self.pricing.lines.len(), &self.fulfillments)
    }

    /// How much of the order is fulfilled, then returned ([`FulfillmentStatus`] says over which
    /// lines).
    pub fn fulfillment_status(&self) -> FulfillmentStatus {
        let counted = self.counted_lines();
        let back = self.returned_units();
        let returned = |index: &usize| back.get(*index).map_or(0, |units| units.1);
        if counted.iter().any(|(index, _, _)| returned(index) > 0) {
            return if counted
                .iter()
                .all(|(index, _, quantity)| returned(index) >= *quantity)
            {
                FulfillmentStatus::Returned
            } else {
                FulfillmentStatus::PartiallyReturned
            };
        }
        if counted.iter().all(|(_, done, quantity)| done >= quantity) {
            FulfillmentStatus::Fulfilled
        } else if counted.iter().any(|(_, done, _)| *done > 0) {
            FulfillmentStatus::PartiallyFulfilled
        } else {
            FulfillmentStatus::Unfulfilled
        }
    }

    /// Whether every unit the status counts is fulfilled.
    pub(super) fn fully_fulfilled(&self) -> bool {
        self.counted_lines()
            .iter()
            .all(|(_, done, quantity)| done >= quantity)
    }

    /// The lines the fulfilment status counts (those that require shipping, or all when none
    /// does): index, fulfilled units, ordered units.
    fn counted_lines(&self) -> Vec<(usize, u32, u32)> {
        let progress = self.line_progress();
        let ships = |index: usize| {
            self.pricing.lines.get(index).is_some_and(|line| {
                line.snapshot
                    .as_ref()
                    .is_none_or(crate::LineSnapshot::requires_shipping)
            })
        };
        let any_ships = (0..progress.len()).any(ships);
        progress
            .iter()
            .enumerate()
            .filter(|(index, _)| !any_ships || ships(*index))
            .filter_map(|(index, done)| {
                let quantity = self.pricing.lines.get(index)?.quantity.get();
                Some((index, done.fulfilled, quantity))
            })
            .collect()
    }

    /// Fulfils some units of some lines with a new fulfilment `id`, bumping the version. When
    /// nothing is then left to fulfil the order completes: at once if its money is taken, or
    /// by claiming the capture (the caller makes the call the step names, as for
    /// [`Order::begin_change`]); an order whose payment cannot complete it stays processing.
    ///
    /// # Errors
    /// [`FulfillmentError`]; the order is unchanged.
    pub fn fulfil(
        &mut self,
        id: FulfillmentId,
        new: NewFulfillment,
        capture: CaptureMode,
        now: DateTime<Utc>,
    ) -> Result<PaymentStep, FulfillmentError> {
        if self.status != OrderStatus::Processing {
            return Err(FulfillmentError::OrderStatus {
                status: self.status,
            });
        }
        if let Some(pending) = &self.payment.pending {
            return Err(PaymentError::InFlight {
                operation: pending.operation,
            }
            .into());
        }
        if self.fulfillments.len() >= MAX_FULFILLMENTS {
            return Err(FulfillmentError::TooMany {
                max: MAX_FULFILLMENTS,
            });
        }
        let progress = self.line_progress();
        let mut errors = Collector::default();
        for (index, (line, quantity)) in new.lines.iter().enumerate() {
            let Some(ordered) = index_of(*line).and_then(|at| self.pricing.lines.get(at)) else {
                errors.push(format!("lines[{index}].line"), Violation::NoSuchLine);
                continue;
            };
            let done = index_of(*line)
                .and_then(|at| progress.get(at))
                .map_or(0, |p| p.fulfilled);
            let left = ordered.quantity.get().saturating_sub(done);
            if quantity.get() > left {
                errors.push(
                    format!("lines[{index}].quantity"),
                    Violation::OverFulfilment { left },
                );
            }
        }
        errors.finish(Some(()))?;
        let number = self.next_fulfillment_number();
        self.fulfillments.push(Fulfillment {
            id,
            number,
            state: FulfillmentState::Created,
            lines: new
                .lines
                .iter()
                .map(|(line, quantity)| FulfillmentLine {
                    line: *line,
                    quantity: *quantity,
                })
                .collect(),
            location: new.location,
            tracking: new.tracking,
            created_at: now,
            shipped_at: None,
            delivered_at: None,
            cancelled_at: None,
            capture: None,
        });
        // Capturing on shipment, an order whose money is not all taken completes when its
        // last shipment's capture does.
        let waits_for_shipment = capture == CaptureMode::OnShipment && self.owes_capture();
        if self.fully_fulfilled() && !waits_for_shipment {
            // Completing touches the version itself; a payment that cannot complete the order
            // (unsettled, failed) leaves it processing, fulfilled.
            if let Ok(step) = self.begin_change(StatusChange::Complete, now) {
                return Ok(step);
            }
        }
        self.touch(now);
        Ok(PaymentStep::Done)
    }

    /// Moves fulfilment `id` to `to` (shipped, delivered, cancelled), replacing the parts of
    /// its tracking that are given; bumps the version. Capturing on shipment, shipping claims
    /// the capture of what has now shipped ([`ShipmentCapture`] says how much): the caller
    /// makes the call the step names, as for [`Order::begin_change`].
    ///
    /// # Errors
    /// [`FulfillmentError::NotFound`], [`FulfillmentError::IllegalMove`],
    /// [`FulfillmentError::OrderCompleted`] (cancelling on a completed order),
    /// [`FulfillmentError::Payment`] (while a payment call is in flight),
    /// [`FulfillmentError::Money`] (an amount past what ordo writes); the order is unchanged.
    pub fn move_fulfillment(
        &mut self,
        id: FulfillmentId,
        to: FulfillmentState,
        tracking: Tracking,
        capture: CaptureMode,
        now: DateTime<Utc>,
    ) -> Result<PaymentStep, FulfillmentError> {
        let status = self.status;
        // While a gateway call is in flight the order waits for its answer, which is written
        // on the version the call was claimed at (and a cancellation must not find a unit
        // shipped when it lands).
        self.no_call_in_flight()?;
        let mut moved = self.clone();
        let fulfillment = moved
            .fulfillments
            .iter_mut()
            .find(|f| f.id == id)
            .ok_or(FulfillmentError::NotFound)?;
        let from = fulfillment.state;
        if !FULFILLMENT_MOVES.contains(&(from, to)) {
            return Err(FulfillmentError::IllegalMove {
                from,
                to,
                allowed: from.allowed_next(),
            });
        }
        if to == FulfillmentState::Cancelled && status == OrderStatus::Completed {
            return Err(FulfillmentError::OrderCompleted);
        }
        fulfillment.state = to;
        match to {
            FulfillmentState::Shipped => fulfillment.shipped_at = Some(now),
            FulfillmentState::Delivered => fulfillment.delivered_at = Some(now),
            FulfillmentState::Cancelled => fulfillment.cancelled_at = Some(now),
            FulfillmentState::Created => {}
        }
        merge_tracking(&mut fulfillment.tracking, tracking);
        let shipped = to == FulfillmentState::Shipped;
        let step = if shipped && capture == CaptureMode::OnShipment {
            moved.claim_shipment_capture(id)?
        } else if shipped
            && status == OrderStatus::Processing
            && moved.payment.status == PaymentStatus::PartiallyPaid
            && moved.owes_capture()
            && moved.fully_fulfilled()
        {
            // Captured in part while the shop captured on shipment (only that setting captures
            // in part), shipped under another setting: that setting completes a fulfilled
            // order, capturing the rest (the claim moves the version itself). An order whose
            // completion capture was declined is not asked again.
            if let Ok(step) = moved.begin_change(StatusChange::Complete, now) {
                *self = moved;
                return Ok(step);
            }
            PaymentStep::Done
        } else {
            PaymentStep::Done
        };
        moved.touch(now);
        *self = moved;
        Ok(step)
    }

    /// Whether fulfilment `id` already stands at `to` with `tracking` in it: a repeat of a move
    /// that landed, which changes nothing.
    pub fn fulfillment_made(
        &self,
        id: FulfillmentId,
        to: FulfillmentState,
        tracking: &Tracking,
    ) -> bool {
        self.fulfillment(id).is_some_and(|fulfillment| {
            let mut merged = fulfillment.tracking.clone();
            merge_tracking(&mut merged, tracking.clone());
            fulfillment.state == to && merged == fulfillment.tracking
        })
    }

    /// Whether authorized money is left to capture through a gateway (what capturing on
    /// shipment takes as things ship, and what completing the order takes).
    pub fn owes_capture(&self) -> bool {
        self.provider == super::PaymentProvider::Gateway
            && matches!(
                self.payment.status,
                PaymentStatus::Authorized | PaymentStatus::PartiallyPaid
            )
            && self.payment.captured < self.payment.authorized
    }

    /// Claims the capture for shipment `id`, just shipped, if anything is owed for it.
    fn claim_shipment_capture(
        &mut self,
        id: FulfillmentId,
    ) -> Result<PaymentStep, FulfillmentError> {
        if !self.owes_capture() {
            return Ok(PaymentStep::Done);
        }
        let amount = self.shipped_share()?;
        if amount <= rust_decimal::Decimal::ZERO {
            return Ok(PaymentStep::Done);
        }
        let Some(fulfillment) = self.fulfillments.iter_mut().find(|f| f.id == id) else {
            return Err(FulfillmentError::NotFound);
        };
        fulfillment.capture = Some(ShipmentCapture {
            state: CaptureState::Pending,
            amount,
        });
        self.payment.pending = Some(crate::payment::PendingPayment {
            operation: crate::payment::PaymentOperation::Capture,
            change: None,
        });
        Ok(self.pending_call())
    }

    /// What capturing what has shipped asks for now: the shipped units' worth by the cumulative
    /// rule, the shipping once anything shipped, less what was captured; once every unit the
    /// fulfilment status counts has shipped, all the authorization that is left.
    fn shipped_share(&self) -> Result<rust_decimal::Decimal, crate::MoneyError> {
        let payment = &self.payment;
        let left = payment
            .authorized
            .checked_sub(payment.captured)
            .ok_or(crate::MoneyError::Overflow)?;
        let progress = self.line_progress();
        let all_shipped = self
            .counted_lines()
            .iter()
            .all(|(index, _, quantity)| progress.get(*index).map_or(0, |p| p.shipped) >= *quantity);
        if all_shipped {
            return Ok(left);
        }
        let worth =
            |part: LinePart, units: u32| -> Result<rust_decimal::Decimal, crate::MoneyError> {
                if units == 0 {
                    return Ok(rust_decimal::Decimal::ZERO);
                }
                match self.pricing.units_amount(part, 0, units) {
                    Ok(amount) => Ok(amount.amount),
                    Err(crate::LineRefundError::Money(error)) => Err(error),
                    // Shipped units are never more than ordered (checked on restore).
                    Err(_) => Err(crate::MoneyError::Overflow),
                }
            };
        let mut shipped = rust_decimal::Decimal::ZERO;
        for (index, done) in progress.iter().enumerate() {
            let share = worth(LinePart::Item(index), done.shipped)?;
            shipped = shipped
                .checked_add(share)
                .ok_or(crate::MoneyError::Overflow)?;
        }
        if progress.iter().any(|done| done.shipped > 0) {
            for index in 0..self.pricing.shipping_lines.len() {
                let share = worth(LinePart::Shipping(index), 1)?;
                shipped = shipped
                    .checked_add(share)
                    .ok_or(crate::MoneyError::Overflow)?;
            }
        }
        let owed = shipped
            .min(payment.authorized)
            .checked_sub(payment.captured)
            .ok_or(crate::MoneyError::Overflow)?;
        Ok(owed.max(rust_decimal::Decimal::ZERO).min(left))
    }

    /// The shipment whose capture is claimed, if one is.
    pub fn claimed_shipment(&self) -> Option<&Fulfillment> {
        self.fulfillments.iter().find(|f| {
            f.capture
                .is_some_and(|capture| capture.state == CaptureState::Pending)
        })
    }

    /// Replaces the given parts of fulfilment `id`'s tracking; bumps the version. Whether
    /// anything changed: the same tracking again writes nothing.
    ///
    /// # Errors
    /// [`FulfillmentError::NotFound`]; a cancelled fulfilment's tracking is not changed
    /// ([`FulfillmentError::IllegalMove`]).
    pub fn change_tracking(
        &mut self,
        id: FulfillmentId,
        tracking: Tracking,
        now: DateTime<Utc>,
    ) -> Result<bool, FulfillmentError> {
        self.no_call_in_flight()?;
        let fulfillment = self
            .fulfillments
            .iter_mut()
            .find(|f| f.id == id)
            .ok_or(FulfillmentError::NotFound)?;
        if fulfillment.state == FulfillmentState::Cancelled {
            return Err(FulfillmentError::IllegalMove {
                from: FulfillmentState::Cancelled,
                to: FulfillmentState::Cancelled,
                allowed: Vec::new(),
            });
        }
        let before = fulfillment.tracking.clone();
        merge_tracking(&mut fulfillment.tracking, tracking);
        if fulfillment.tracking == before {
            return Ok(false);
        }
        self.touch(now);
        Ok(true)
    }

    /// Refuses a change while a gateway call is in flight: its answer is written on the version
    /// it was claimed at.
    pub(super) fn no_call_in_flight(&self) -> Result<(), PaymentError> {
        match &self.payment.pending {
            Some(pending) => Err(PaymentError::InFlight {
                operation: pending.operation,
            }),
            None => Ok(()),
        }
    }

    /// Whether any unit has shipped (an order that has cannot be cancelled).
    pub fn has_shipped(&self) -> bool {
        self.fulfillments.iter().any(|f| f.state.has_shipped())
    }

    /// What a status change does to the fulfilments: cancelling cancels the open ones;
    /// completing ships whatever is left in one more fulfilment. No version step of its own.
    pub(super) fn fulfil_for_change(&mut self, change: &StatusChange, now: DateTime<Utc>) {
        match change {
            StatusChange::Cancel(_) => {
                for fulfillment in &mut self.fulfillments {
                    if fulfillment.state == FulfillmentState::Created {
                        fulfillment.state = FulfillmentState::Cancelled;
                        fulfillment.cancelled_at = Some(now);
                    }
                }
            }
            StatusChange::Complete => self.ship_what_is_left(now),
            StatusChange::Process => {}
        }
    }

    /// One shipped fulfilment of every unit no fulfilment holds, if any is left (completing an
    /// order, and orders completed before fulfilments existed).
    pub(super) fn ship_what_is_left(&mut self, now: DateTime<Utc>) {
        let progress = self.line_progress();
        let lines = self
            .pricing
            .lines
            .iter()
            .zip(&progress)
            .enumerate()
            .filter_map(|(index, (line, done))| {
                let left = line.quantity.get().saturating_sub(done.fulfilled);
                let quantity = Quantity::new(i64::from(left)).ok()?;
                Some(FulfillmentLine {
                    line: u32::try_from(index).ok()?,
                    quantity,
                })
            })
            .collect::<Vec<_>>();
        if lines.is_empty() {
            return;
        }
        let number = self.next_fulfillment_number();
        self.fulfillments.push(Fulfillment {
            id: FulfillmentId::derived(self.id, number),
            number,
            state: FulfillmentState::Shipped,
            lines,
            location: None,
            tracking: Tracking::default(),
            created_at: now,
            shipped_at: Some(now),
            delivered_at: None,
            cancelled_at: None,
            capture: None,
        });
    }

    /// A restored order, its fulfilments checked; orders completed before fulfilments existed
    /// shipped everything when they completed.
    pub(super) fn with_fulfillments_checked(mut self) -> Result<Self, super::CorruptOrder> {
        if self.status == OrderStatus::Completed && self.fulfillments.is_empty() {
            self.ship_what_is_left(self.updated_at);
        }
        if self.fulfillments_fit() && self.returns_fit() && self.recorded_payments_fit() {
            Ok(self)
        } else {
            Err(super::CorruptOrder::FulfillmentMismatch)
        }
    }

    fn next_fulfillment_number(&self) -> u32 {
        u32::try_from(self.fulfillments.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// Whether stored fulfilments hold together with the order: numbered 1, 2, 3..., ids
    /// unique, lines the order has, never more units than ordered, times matching states, none
    /// on a pending order, none open on a cancelled one, everything fulfilled on a completed one.
    pub(super) fn fulfillments_fit(&self) -> bool {
        let lines = self.pricing.lines.len();
        let numbered = self
            .fulfillments
            .iter()
            .enumerate()
            .all(|(index, f)| usize::try_from(f.number).ok() == index.checked_add(1));
        let unique = self
            .fulfillments
            .iter()
            .enumerate()
            .all(|(index, f)| self.fulfillments.iter().take(index).all(|g| g.id != f.id));
        let shaped = self.fulfillments.iter().all(|f| {
            f.times_fit()
                && !f.lines.is_empty()
                && f.lines
                    .iter()
                    .all(|l| index_of(l.line).is_some_and(|at| at < lines))
        });
        let within = self
            .line_progress()
            .iter()
            .zip(&self.pricing.lines)
            .all(|(done, line)| done.fulfilled <= line.quantity.get());
        let by_status = match self.status {
            OrderStatus::Pending => self.fulfillments.is_empty(),
            OrderStatus::Cancelled => self.fulfillments.iter().all(|f| !f.state.counts()),
            OrderStatus::Completed => self
                .line_progress()
                .iter()
                .zip(&self.pricing.lines)
                .all(|(done, line)| done.fulfilled == line.quantity.get()),
            OrderStatus::Processing => true,
        };
        // No count here: completing may add one past MAX_FULFILLMENTS, which limits requests.
        numbered && unique && shaped && within && by_status && self.captures_fit()
    }

    /// Whether shipments' captures hold together with the payment: only on what shipped, each
    /// of more than zero, those taken within what was captured, and one claimed only while
    /// the payment's claim is that capture.
    fn captures_fit(&self) -> bool {
        let captures = || {
            self.fulfillments
                .iter()
                .filter_map(|f| f.capture.map(|c| (f, c)))
        };
        let shaped = captures()
            .all(|(f, c)| f.state.has_shipped() && c.amount > rust_decimal::Decimal::ZERO);
        let taken = captures()
            .filter(|(_, c)| c.state == CaptureState::Captured)
            .try_fold(rust_decimal::Decimal::ZERO, |sum, (_, c)| {
                sum.checked_add(c.amount)
            })
            .is_some_and(|sum| sum <= self.payment.captured);
        let claimed = captures()
            .filter(|(_, c)| c.state == CaptureState::Pending)
            .count();
        let claim_fits = match claimed {
            0 => true,
            1 => self.payment.pending.as_ref().is_some_and(|pending| {
                pending.operation == crate::payment::PaymentOperation::Capture
                    && pending.change.is_none()
            }),
            _ => false,
        };
        shaped && taken && claim_fits
    }
}

/// The parts of `given` that are there replace those of `tracking`.
fn merge_tracking(tracking: &mut Tracking, given: Tracking) {
    if given.carrier.is_some() {
        tracking.carrier = given.carrier;
    }
    if given.number.is_some() {
        tracking.number = given.number;
    }
    if given.url.is_some() {
        tracking.url = given.url;
    }
}

fn progress(lines: usize, fulfillments: &[Fulfillment]) -> Vec<LineProgress> {
    let mut progress = vec![LineProgress::default(); lines];
    for fulfillment in fulfillments.iter().filter(|f| f.state.counts()) {
        for line in &fulfillment.lines {
            if let Some(done) = index_of(line.line).and_then(|at| progress.get_mut(at)) {
                done.fulfilled = done.fulfilled.saturating_add(line.quantity.get());
                if fulfillment.state.has_shipped() {
                    done.shipped = done.shipped.saturating_add(line.quantity.get());
                }
            }
        }
    }
    progress
}

/// A line number as an index.
pub(super) fn index_of(line: u32) -> Option<usize> {
    usize::try_from(line).ok()
}
