//! Returns and refunds by line: the customer sends shipped units back; the shop receives them
//! and closes the return, refunding exactly those units' share of what was paid, or rejecting it.
//!
//! Like fulfilments, returns and line refunds are kept in the order and written with it under
//! its version, so racing returns never hold more units than shipped and racing refunds never
//! refund a unit twice. A line's refunded units are counted from the refunds recorded on it;
//! what each is worth is [`crate::Pricing::units_amount`]'s (its exact share of discount and
//! tax, the last unit taking the remainder), so refunding every line refunds exactly the total.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use strum::{EnumIter, IntoEnumIterator as _, IntoStaticStr};
use uuid::Uuid;

use super::fulfillment::{FulfillmentLine, FulfillmentLineDraft, index_of, parse_lines, part_id};
use crate::line_refund::{LineAmount, LinePart, LineRefundError};
use crate::order::Order;
use crate::payment::{PaymentError, PaymentStatus};
use crate::record::text::lines as text_lines;
use crate::status::OrderStatus;
use crate::validation::{Collector, ValidationErrors, Violation};

/// The most returns an order holds.
pub const MAX_RETURNS: usize = 100;
/// The longest note on a return.
pub const MAX_RETURN_NOTE_CHARS: usize = 1000;

part_id! {
    /// A return's id.
    ReturnId
}

/// Where a return stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ReturnState {
    /// The customer asked; the units are on their way back (or not yet sent).
    Requested,
    /// The shop has the units back.
    Received,
    /// Done: refunded or rejected ([`ReturnOutcome`]).
    Closed,
}

impl ReturnState {
    /// The state as written in JSON (`"received"`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for ReturnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a closed return ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ReturnOutcome {
    /// Its units were refunded (the refund is named on the return).
    Refunded,
    /// The shop refused it; its units count as the customer's again.
    Rejected,
}

impl ReturnOutcome {
    /// The outcome as written in JSON.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Why the customer sends units back: the documented list (docs/status.md, "Returns").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ReturnReason {
    /// Damaged in transit.
    Damaged,
    /// Does not work.
    Defective,
    /// Not what was ordered.
    WrongItem,
    /// Not as the shop described it.
    NotAsDescribed,
    /// The wrong size or fit.
    SizeOrFit,
    /// No longer wanted.
    Unwanted,
    /// Came too late.
    ArrivedLate,
    /// Anything else: the note says what.
    Other,
}

impl ReturnReason {
    /// The reason as written in JSON (`"size_or_fit"`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every reason's name, in order.
    pub fn names() -> Vec<&'static str> {
        Self::iter().map(Self::as_str).collect()
    }

    fn parse(text: &str) -> Option<Self> {
        Self::iter().find(|reason| reason.as_str() == text)
    }
}

/// A return of some shipped units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    /// Its id.
    pub id: ReturnId,
    /// 1 for the order's first return, then 2, 3...
    pub number: u32,
    /// Where it stands.
    pub state: ReturnState,
    /// How it ended, once closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ReturnOutcome>,
    /// Why.
    pub reason: ReturnReason,
    /// In the customer's or the shop's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whether the units go back into stock when received (the inventory system acts on
    /// `return.received`).
    pub restock: bool,
    /// Which units of which lines.
    pub lines: Vec<FulfillmentLine>,
    /// The refund that closed it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<Uuid>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When the units came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<Utc>>,
    /// When it was closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
}

impl Return {
    /// Whether its units count against what may still be returned (every return but a
    /// rejected one).
    fn holds(&self) -> bool {
        self.outcome != Some(ReturnOutcome::Rejected)
    }

    /// Whether its units are back (received, or refunded).
    fn is_back(&self) -> bool {
        self.state == ReturnState::Received || self.outcome == Some(ReturnOutcome::Refunded)
    }

    fn fits(&self, lines: usize) -> bool {
        let closed = self.state == ReturnState::Closed;
        let received = match self.state {
            ReturnState::Requested => self.received_at.is_none(),
            ReturnState::Received => self.received_at.is_some(),
            ReturnState::Closed => true,
        };
        closed == self.outcome.is_some()
            && closed == self.closed_at.is_some()
            && received
            && self.refund.is_some() == (self.outcome == Some(ReturnOutcome::Refunded))
            && !self.lines.is_empty()
            && self
                .lines
                .iter()
                .all(|l| index_of(l.line).is_some_and(|at| at < lines))
    }
}

/// A return as a client asks for it, unchecked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnDraft {
    /// Which units of which lines.
    pub lines: Vec<FulfillmentLineDraft>,
    /// A reason from the documented list (`damaged`, `size_or_fit`...).
    pub reason: String,
    /// Free text; required with `other`.
    pub note: Option<String>,
    /// Whether the units go back into stock.
    pub restock: bool,
}

/// A checked return, not yet held against the order's shipped units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReturn {
    lines: Vec<(u32, crate::Quantity)>,
    reason: ReturnReason,
    note: Option<String>,
    restock: bool,
}

impl NewReturn {
    /// Checks a draft on its own: lines as for a fulfilment, a known reason, a note with
    /// `other`.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming every field that breaks a rule.
    pub fn parse(draft: &ReturnDraft) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let lines = parse_lines(&draft.lines, &mut errors);
        let reason = ReturnReason::parse(&draft.reason);
        if reason.is_none() {
            errors.push("reason", Violation::UnknownReturnReason);
        }
        let note = draft.note.as_ref().and_then(|raw| {
            text_lines(raw, MAX_RETURN_NOTE_CHARS)
                .map_err(|violation| errors.push("note", violation))
                .ok()
        });
        if reason == Some(ReturnReason::Other) && draft.note.is_none() {
            errors.push("note", Violation::Required);
        }
        let parsed = reason.map(|reason| Self {
            lines,
            reason,
            note,
            restock: draft.restock,
        });
        errors.finish(parsed)
    }
}

/// Some units of one line refunded by a refund: kept on the order, so a line's refunded units
/// are counted, never stored apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundedLine {
    /// The refund.
    pub refund: Uuid,
    /// The line.
    pub part: LinePart,
    /// How many of its units.
    pub quantity: u32,
    /// What they were worth ([`crate::Pricing::units_amount`]).
    #[serde(with = "crate::amount_serde")]
    pub amount: Decimal,
}

/// What a refund by line comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRefund {
    /// What is paid back: the lines' amounts, or what is left to refund when an earlier
    /// refund by amount took part of it (`clamped`).
    pub amount: Decimal,
    /// Whether what was left was less than the lines' amounts.
    pub clamped: bool,
    /// Each line's units and what they are worth.
    pub lines: Vec<LineAmount>,
}

/// Why a return cannot be made or moved, or a refund by line made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnError {
    /// A line the order does not have, more units than may be returned or refunded, a reason
    /// not on the list.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// Returns are for processing or completed orders.
    #[error("only a processing or completed order takes returns; this one is {status}")]
    OrderStatus {
        /// The order's status.
        status: OrderStatus,
    },
    /// The payment does not allow a refund (not captured, a call in flight, nothing left).
    #[error(transparent)]
    Payment(#[from] PaymentError),
    /// The order holds as many returns as it may.
    #[error("an order holds at most {max} returns")]
    TooMany {
        /// The limit.
        max: usize,
    },
    /// The order has no return with this id.
    #[error("the order has no such return")]
    NotFound,
    /// The return cannot make this move.
    #[error("a return that is {from} cannot be {to}")]
    IllegalMove {
        /// Where it stands.
        from: ReturnState,
        /// Where it was asked to go.
        to: &'static str,
    },
    /// An amount that cannot be computed.
    #[error("the refund's amount cannot be computed: {0}")]
    Money(String),
}

impl Order {
    /// The returns, oldest first.
    pub fn returns(&self) -> &[Return] {
        &self.returns
    }

    /// The return with this id.
    pub fn return_of(&self, id: ReturnId) -> Option<&Return> {
        self.returns.iter().find(|r| r.id == id)
    }

    /// The units of each line refunded by line, in line order.
    pub fn refunded_units(&self) -> Vec<u32> {
        (0..self.pricing.lines.len())
            .map(|index| self.refunded_of(LinePart::Item(index)))
            .collect()
    }

    /// The refunds by line recorded on the order.
    pub fn refunded_lines(&self) -> &[RefundedLine] {
        &self.refunded_lines
    }

    /// `amount` (some units of a line, `before` of its units counted) as the line's running
    /// figure: what its units up to these are worth in all, less what was recorded for its
    /// earlier units (on the order, and `pending` in this refund), never below zero. Without a
    /// release in between the two are the same; with one, this keeps the line refunding
    /// exactly its share.
    fn running(&self, mut amount: LineAmount, before: u32, pending: &[LineAmount]) -> LineAmount {
        let part = amount.part;
        let paid = pending
            .iter()
            .filter(|a| a.part == part)
            .try_fold(self.refunded_amount_of(part), |sum, a| {
                sum.checked_add(a.amount)
            })
            .unwrap_or(Decimal::ZERO);
        let upto = before.saturating_add(amount.quantity);
        if let Ok(running) = self.pricing.units_amount(part, 0, upto) {
            amount.amount = running
                .amount
                .checked_sub(paid)
                .filter(|a| *a >= Decimal::ZERO)
                .unwrap_or_else(|| Decimal::new(0, running.amount.scale()));
        }
        amount
    }

    /// What the refunds by line recorded for `part` paid.
    fn refunded_amount_of(&self, part: LinePart) -> Decimal {
        self.refunded_lines
            .iter()
            .filter(|r| r.part == part)
            .try_fold(Decimal::ZERO, |sum, r| sum.checked_add(r.amount))
            .unwrap_or(Decimal::ZERO)
    }

    fn refunded_of(&self, part: LinePart) -> u32 {
        self.refunded_lines
            .iter()
            .filter(|r| r.part == part)
            .fold(0_u32, |sum, r| sum.saturating_add(r.quantity))
    }

    /// Per line, units held by returns that are not rejected.
    pub fn returned_quantities(&self) -> Vec<u32> {
        self.returned_units()
            .iter()
            .map(|(held, _)| *held)
            .collect()
    }

    /// Per line: units in returns that hold them (all but rejected ones), and units back.
    pub(super) fn returned_units(&self) -> Vec<(u32, u32)> {
        let mut units = vec![(0_u32, 0_u32); self.pricing.lines.len()];
        for ret in self.returns.iter().filter(|r| r.holds()) {
            for line in &ret.lines {
                if let Some((held, back)) = index_of(line.line).and_then(|at| units.get_mut(at)) {
                    *held = held.saturating_add(line.quantity.get());
                    if ret.is_back() {
                        *back = back.saturating_add(line.quantity.get());
                    }
                }
            }
        }
        units
    }

    /// Asks to return some shipped units, as return `id`; bumps the version.
    ///
    /// # Errors
    /// [`ReturnError::OrderStatus`]; [`ReturnError::Invalid`] naming a line with fewer units
    /// shipped and not yet returned than asked; [`ReturnError::TooMany`]. The order is
    /// unchanged.
    pub fn request_return(
        &mut self,
        id: ReturnId,
        new: NewReturn,
        now: DateTime<Utc>,
    ) -> Result<(), ReturnError> {
        if !matches!(
            self.status,
            OrderStatus::Processing | OrderStatus::Completed
        ) {
            return Err(ReturnError::OrderStatus {
                status: self.status,
            });
        }
        self.no_call_in_flight()?;
        if self.returns.len() >= MAX_RETURNS {
            return Err(ReturnError::TooMany { max: MAX_RETURNS });
        }
        let shipped = self.line_progress();
        let held = self.returned_units();
        let mut errors = Collector::default();
        for (index, (line, quantity)) in new.lines.iter().enumerate() {
            let Some(at) = index_of(*line).filter(|at| *at < shipped.len()) else {
                errors.push(format!("lines[{index}].line"), Violation::NoSuchLine);
                continue;
            };
            let left = shipped
                .get(at)
                .map_or(0, |p| p.shipped)
                .saturating_sub(held.get(at).map_or(0, |h| h.0));
            if quantity.get() > left {
                errors.push(
                    format!("lines[{index}].quantity"),
                    Violation::OverReturn { left },
                );
            }
        }
        errors.finish(Some(()))?;
        let number = u32::try_from(self.returns.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        self.returns.push(Return {
            id,
            number,
            state: ReturnState::Requested,
            outcome: None,
            reason: new.reason,
            note: new.note,
            restock: new.restock,
            lines: new
                .lines
                .iter()
                .map(|(line, quantity)| FulfillmentLine {
                    line: *line,
                    quantity: *quantity,
                })
                .collect(),
            refund: None,
            created_at: now,
            received_at: None,
            closed_at: None,
        });
        self.touch(now);
        Ok(())
    }

    /// The shop has return `id`'s units back; bumps the version.
    ///
    /// # Errors
    /// [`ReturnError::NotFound`]; [`ReturnError::IllegalMove`] unless it was requested.
    pub fn receive_return(&mut self, id: ReturnId, now: DateTime<Utc>) -> Result<(), ReturnError> {
        let ret = self.open_return(id, "received", &[ReturnState::Requested])?;
        ret.state = ReturnState::Received;
        ret.received_at = Some(now);
        self.touch(now);
        Ok(())
    }

    /// Closes return `id` rejected: its units count as the customer's again; bumps the version.
    ///
    /// # Errors
    /// [`ReturnError::NotFound`]; [`ReturnError::IllegalMove`] once closed.
    pub fn reject_return(&mut self, id: ReturnId, now: DateTime<Utc>) -> Result<(), ReturnError> {
        let open = [ReturnState::Requested, ReturnState::Received];
        let ret = self.open_return(id, "rejected", &open)?;
        ret.state = ReturnState::Closed;
        ret.outcome = Some(ReturnOutcome::Rejected);
        ret.closed_at = Some(now);
        self.touch(now);
        Ok(())
    }

    /// Closes return `id` with refund `refund` of its units (and, with `shipping`, of every
    /// shipping line not yet refunded), in one change: the return closes refunded and the
    /// refund is reserved as [`Order::refund_lines`] does. One version step.
    ///
    /// # Errors
    /// As [`Order::refund_lines`], and [`ReturnError::NotFound`], [`ReturnError::IllegalMove`]
    /// once closed. The order is unchanged.
    pub fn refund_return(
        &mut self,
        id: ReturnId,
        refund: Uuid,
        shipping: bool,
        now: DateTime<Utc>,
    ) -> Result<LineRefund, ReturnError> {
        let mut next = self.clone();
        let open = [ReturnState::Requested, ReturnState::Received];
        let ret = next.open_return(id, "refunded", &open)?;
        ret.state = ReturnState::Closed;
        ret.outcome = Some(ReturnOutcome::Refunded);
        ret.refund = Some(refund);
        ret.closed_at = Some(now);
        let mut parts: Vec<(LinePart, u32)> = ret
            .lines
            .iter()
            .filter_map(|l| Some((LinePart::Item(index_of(l.line)?), l.quantity.get())))
            .collect();
        if shipping {
            let unrefunded = (0..self.pricing.shipping_lines.len())
                .map(LinePart::Shipping)
                .filter(|part| self.refunded_of(*part) == 0);
            parts.extend(unrefunded.map(|part| (part, 1)));
        }
        let refunded = next.refund_lines(refund, &parts, now)?;
        *self = next;
        Ok(refunded)
    }

    /// Refunds `parts` (lines or shipping lines, and how many units of each) as refund `refund`:
    /// each part's units are worth their exact share ([`crate::Pricing::units_amount`], counting
    /// the units of the line refunded before), and the refund pays their sum, or what is left to
    /// refund if less (`clamped`). Reserved on the order like a refund by amount
    /// ([`Order::record_refund`]); bumps the version.
    ///
    /// # Errors
    /// [`ReturnError::Invalid`] naming a line it does not have or one with fewer units left to
    /// refund (`lines[i].quantity`; shipping lines are `shipping[j]`);
    /// [`ReturnError::Payment`] unless paid or partially refunded, or when nothing is left.
    /// The order is unchanged.
    pub fn refund_lines(
        &mut self,
        refund: Uuid,
        parts: &[(LinePart, u32)],
        now: DateTime<Utc>,
    ) -> Result<LineRefund, ReturnError> {
        self.payment_allows_refund()?;
        let mut errors = Collector::default();
        let mut amounts = Vec::with_capacity(parts.len());
        let (mut items, mut shipping) = (0_usize, 0_usize);
        for (part, quantity) in parts {
            let (field, at) = match part {
                LinePart::Item(_) => ("lines", &mut items),
                LinePart::Shipping(_) => ("shipping", &mut shipping),
            };
            let index = *at;
            *at = at.saturating_add(1);
            let earlier = amounts
                .iter()
                .filter(|a: &&LineAmount| a.part == *part)
                .fold(0_u32, |sum, a| sum.saturating_add(a.quantity));
            let before = self.refunded_of(*part).saturating_add(earlier);
            match self.pricing.units_amount(*part, before, *quantity) {
                Ok(amount) => {
                    let amount = self.running(amount, before, &amounts);
                    amounts.push(amount);
                }
                Err(LineRefundError::NoSuchLine(_)) => {
                    let name = if field == "lines" {
                        format!("lines[{index}].line")
                    } else {
                        format!("shipping[{index}]")
                    };
                    errors.push(name, Violation::NoSuchLine);
                }
                Err(LineRefundError::TooMany { left, .. }) => {
                    let name = if field == "lines" {
                        format!("lines[{index}].quantity")
                    } else {
                        format!("shipping[{index}]")
                    };
                    errors.push(name, Violation::OverRefund { left });
                }
                Err(LineRefundError::ZeroQuantity) => {
                    errors.push(
                        format!("lines[{index}].quantity"),
                        Violation::QuantityOutOfRange {
                            max: crate::MAX_QUANTITY,
                        },
                    );
                }
                Err(LineRefundError::Money(error)) => {
                    return Err(ReturnError::Money(error.to_string()));
                }
            }
        }
        if parts.is_empty() {
            errors.push("lines", Violation::NoLines);
        }
        errors.finish(Some(()))?;
        let total = amounts.iter().try_fold(Decimal::ZERO, |sum, a| {
            sum.checked_add(a.amount)
                .ok_or_else(|| ReturnError::Money("too large".to_owned()))
        })?;
        let left = self.payment.refundable();
        let amount = total.min(left);
        if amount <= Decimal::ZERO {
            return Err(ValidationErrors::single(
                "lines",
                Violation::NothingToRefund { available: left },
            )
            .into());
        }
        self.record_refund(amount, now)?;
        // What each line was paid: its amount, less (from the last line back) whatever the
        // refund could not pay because less was left to refund.
        let mut short = total.checked_sub(amount).unwrap_or(Decimal::ZERO);
        let mut recorded: Vec<RefundedLine> = amounts
            .iter()
            .rev()
            .map(|line| {
                let cut = short.min(line.amount);
                short = short.checked_sub(cut).unwrap_or(Decimal::ZERO);
                RefundedLine {
                    refund,
                    part: line.part,
                    quantity: line.quantity,
                    amount: line.amount.checked_sub(cut).unwrap_or(line.amount),
                }
            })
            .collect();
        recorded.reverse();
        self.refunded_lines.extend(recorded);
        Ok(LineRefund {
            amount,
            clamped: amount < total,
            lines: amounts,
        })
    }

    /// Releases a refund the gateway refused: its amount, its lines, and the return it closed
    /// (open again, as it was before); bumps the version.
    ///
    /// # Errors
    /// [`PaymentError::ExceedsCaptured`] when less than `amount` is recorded as refunded.
    pub fn release_refund(
        &mut self,
        refund: Uuid,
        amount: Decimal,
        now: DateTime<Utc>,
    ) -> Result<(), PaymentError> {
        self.revert_refund(amount, now)?;
        self.refunded_lines.retain(|line| line.refund != refund);
        for ret in &mut self.returns {
            if ret.refund == Some(refund) {
                ret.refund = None;
                ret.outcome = None;
                ret.closed_at = None;
                ret.state = if ret.received_at.is_some() {
                    ReturnState::Received
                } else {
                    ReturnState::Requested
                };
            }
        }
        Ok(())
    }

    fn payment_allows_refund(&self) -> Result<(), PaymentError> {
        if let Some(pending) = &self.payment.pending {
            return Err(PaymentError::InFlight {
                operation: pending.operation,
            });
        }
        match self.payment.status {
            // A partly paid manual order is refunded only by cancelling it: a refund in between
            // would leave the rest of its balance unpayable.
            PaymentStatus::Paid | PaymentStatus::PartiallyRefunded => Ok(()),
            status => Err(PaymentError::WrongStatus {
                status,
                action: "refund",
            }),
        }
    }

    fn open_return(
        &mut self,
        id: ReturnId,
        to: &'static str,
        from: &[ReturnState],
    ) -> Result<&mut Return, ReturnError> {
        self.no_call_in_flight()?;
        let ret = self
            .returns
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or(ReturnError::NotFound)?;
        if from.contains(&ret.state) {
            Ok(ret)
        } else {
            Err(ReturnError::IllegalMove {
                from: ret.state,
                to,
            })
        }
    }

    /// Whether stored returns and refunded lines hold together: numbered, unique, lines the
    /// order has, never more units held than shipped, never more units refunded than ordered.
    pub(super) fn returns_fit(&self) -> bool {
        let lines = self.pricing.lines.len();
        let numbered = self
            .returns
            .iter()
            .enumerate()
            .all(|(index, r)| usize::try_from(r.number).ok() == index.checked_add(1));
        let shaped = self.returns.iter().all(|r| r.fits(lines));
        let progress = self.line_progress();
        let within_shipped = self
            .returned_units()
            .iter()
            .zip(&progress)
            .all(|((held, _), done)| *held <= done.shipped);
        let refunds_within = (0..lines)
            .map(LinePart::Item)
            .chain((0..self.pricing.shipping_lines.len()).map(LinePart::Shipping))
            .all(|part| {
                let quantity = match part {
                    LinePart::Item(at) => {
                        self.pricing.lines.get(at).map_or(0, |l| l.quantity.get())
                    }
                    LinePart::Shipping(_) => 1,
                };
                self.refunded_of(part) <= quantity
            });
        let known = self.refunded_lines.iter().all(|r| match r.part {
            LinePart::Item(at) => at < lines,
            LinePart::Shipping(at) => at < self.pricing.shipping_lines.len(),
        });
        numbered && shaped && within_shipped && refunds_within && known
    }
}
