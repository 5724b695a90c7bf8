//! Money by line: each line's exact share of an order's total, and what some of its units are
//! worth, for refunding (or capturing) an order line by line.
//!
//! # A line's share
//! A line's **net** `N` is its total less its share of the discount, spread exactly as
//! [`crate::price`] spread it (largest remainder over the line totals); a shipping line's is
//! its amount (shipping takes no discount). Its **tax** `t`:
//! - `per_line`: the tax [`crate::price`] rounded for that line alone;
//! - `per_order`: its rate's tax line spread over the lines at that rate (shipping included)
//!   by their bases, by largest remainder, so the shares sum to the tax line exactly.
//!
//! An untaxed line's tax is 0. Its **gross** `G` is `N + t`, or `N` when the prices include
//! tax (`t` is then the tax `N` contains). Over every item and shipping line, Σ `G` is the
//! order's total and, per rate, Σ `t` is that rate's tax line, to the minor unit.
//!
//! # Some units of a line
//! For a line of quantity `Q` and a figure `X` (`N` or `t`, in minor units), the first `k`
//! units are worth `C(X, k) = round(X · k / Q)`, rounded once to a whole minor unit as the
//! order's rounding mode says. `q` units after `r` already counted are worth
//! `C(X, r + q) − C(X, r)`, for the net and the tax alike; the amount is net + tax, or the
//! net alone when the prices include tax (the tax then reported is the part it contains).
//!
//! Rounding the cumulative figure, rather than each step, means the steps of any split of a
//! line's units sum to exactly `G`: `C(X, Q) = X`, so whatever the earlier steps rounded, the
//! last one takes the remainder. Nothing but the count of units already counted needs
//! keeping, and every step is ≥ 0 since `C` never decreases. A shipping line is one unit,
//! counted whole, once.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{MoneyError, bounded};
use crate::pricing::{Pricing, TaxRounding, allocate, round_quotient, tax_on};

/// Which kind of line a refund or capture part names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "index", rename_all = "snake_case")]
pub enum LinePart {
    /// An item line: its 0-based index in [`Pricing::lines`].
    Item(usize),
    /// A shipping line: its 0-based index in [`Pricing::shipping_lines`].
    Shipping(usize),
}

impl fmt::Display for LinePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Item(index) => write!(f, "items[{index}]"),
            Self::Shipping(index) => write!(f, "shipping[{index}]"),
        }
    }
}

/// The money for some units of one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineAmount {
    /// The line.
    pub part: LinePart,
    /// How many of its units (a shipping line has one).
    pub quantity: u32,
    /// Their share of the line less its discount share: the goods' value, containing the tax
    /// when the prices include it.
    #[serde(with = "crate::amount_serde")]
    pub net: Decimal,
    /// Their share of the line's tax: added to `net`, or contained in it when the prices
    /// include tax.
    #[serde(with = "crate::amount_serde")]
    pub tax: Decimal,
    /// What they are worth: `net + tax`, or `net` when the prices include tax.
    #[serde(with = "crate::amount_serde")]
    pub amount: Decimal,
    /// The line's tax rate; none for an untaxed line.
    #[serde(with = "crate::amount_serde::option")]
    pub rate: Option<Decimal>,
}

/// Why a line amount cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineRefundError {
    /// The order has no such line.
    #[error("the order has no line {0}")]
    NoSuchLine(LinePart),
    /// More units than the line has left.
    #[error("only {left} units of {part} are left")]
    TooMany {
        /// The line.
        part: LinePart,
        /// Its units not yet counted.
        left: u32,
    },
    /// No units asked for.
    #[error("a line amount needs at least one unit")]
    ZeroQuantity,
    /// An amount past [`crate::MAX_AMOUNT`], or one the policy's minor units cannot write.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// A line's share in whole minor units at the policy's scale.
struct Share {
    part: LinePart,
    quantity: u32,
    net: i128,
    tax: i128,
    rate: Option<Decimal>,
}

impl Pricing {
    /// Every line's share (all units) — item lines then shipping lines. Their amounts sum to
    /// [`Pricing::total`] and, per rate, their taxes to that rate's [`crate::TaxLine`].
    ///
    /// # Errors
    /// [`MoneyError::Overflow`] when an amount passes [`crate::MAX_AMOUNT`], or a shipping
    /// amount has more decimals than the policy's minor units (only under a policy narrower
    /// than the currency, which ordo never makes).
    pub fn line_shares(&self) -> Result<Vec<LineAmount>, MoneyError> {
        let included = self.prices_include_tax;
        self.shares()?
            .into_iter()
            .map(|share| {
                let gross = if included {
                    share.net
                } else {
                    share
                        .net
                        .checked_add(share.tax)
                        .ok_or(MoneyError::Overflow)?
                };
                self.line_amount(&share, share.quantity, share.net, share.tax, gross)
            })
            .collect()
    }

    /// The amount for `quantity` units of `part`, `before` of its units already counted
    /// (refunded, or captured): `C(X, before + quantity) − C(X, before)` for its net and its
    /// tax (see the module documentation), so the amounts of any split of a line's units sum
    /// to its share exactly.
    ///
    /// # Errors
    /// [`LineRefundError::NoSuchLine`] for an index past the lines, [`LineRefundError::ZeroQuantity`]
    /// for no units, [`LineRefundError::TooMany`] when `before + quantity` passes the line's
    /// quantity (1 for shipping), [`LineRefundError::Money`] as [`Pricing::line_shares`].
    pub fn units_amount(
        &self,
        part: LinePart,
        before: u32,
        quantity: u32,
    ) -> Result<LineAmount, LineRefundError> {
        let exists = match part {
            LinePart::Item(index) => index < self.lines.len(),
            LinePart::Shipping(index) => index < self.shipping_lines.len(),
        };
        if !exists {
            return Err(LineRefundError::NoSuchLine(part));
        }
        if quantity == 0 {
            return Err(LineRefundError::ZeroQuantity);
        }
        let share = self
            .shares()?
            .into_iter()
            .find(|share| share.part == part)
            .ok_or(LineRefundError::NoSuchLine(part))?;
        let left = share.quantity.saturating_sub(before);
        let after = before
            .checked_add(quantity)
            .filter(|after| *after <= share.quantity)
            .ok_or(LineRefundError::TooMany { part, left })?;
        let mode = self.rounding.mode();
        let step = |figure: i128| -> Result<i128, MoneyError> {
            let upto = |count: u32| {
                let scaled = figure
                    .checked_mul(i128::from(count))
                    .ok_or(MoneyError::Overflow)?;
                round_quotient(scaled, i128::from(share.quantity), mode).ok_or(MoneyError::Overflow)
            };
            upto(after)?
                .checked_sub(upto(before)?)
                .ok_or(MoneyError::Overflow)
        };
        let net = step(share.net)?;
        let tax = step(share.tax)?;
        let amount = if self.prices_include_tax {
            net
        } else {
            net.checked_add(tax).ok_or(MoneyError::Overflow)?
        };
        Ok(self.line_amount(&share, quantity, net, tax, amount)?)
    }

    /// Every line's share in minor units: item lines, then shipping lines.
    fn shares(&self) -> Result<Vec<Share>, MoneyError> {
        let policy = self.rounding;
        let scale = u32::from(policy.minor_units());
        // Item lines less their discount shares: the same `allocate` call as pricing's.
        let totals = self
            .lines
            .iter()
            .map(|line| minor_units(line.line_total, scale))
            .collect::<Result<Vec<_>, _>>()?;
        let discounts = allocate(
            minor_units(self.discount, scale)?,
            minor_units(self.subtotal, scale)?,
            &totals,
        )?;
        let mut shares =
            Vec::with_capacity(self.lines.len().saturating_add(self.shipping_lines.len()));
        for (index, ((line, total), discount)) in
            self.lines.iter().zip(&totals).zip(discounts).enumerate()
        {
            shares.push(Share {
                part: LinePart::Item(index),
                quantity: line.quantity.get(),
                net: total.checked_sub(discount).ok_or(MoneyError::Overflow)?,
                tax: 0,
                rate: line.tax_rate.or(self.tax_rate),
            });
        }
        // Shipping lines: never discounted; taxed at their own rate or the order's.
        for (index, line) in self.shipping_lines.iter().enumerate() {
            shares.push(Share {
                part: LinePart::Shipping(index),
                quantity: 1,
                net: minor_units(line.amount, scale)?,
                tax: 0,
                rate: if line.taxed {
                    line.tax_rate.or(self.tax_rate)
                } else {
                    None
                },
            });
        }
        let included = self.prices_include_tax;
        match policy.tax() {
            TaxRounding::PerLine => {
                for share in &mut shares {
                    if let Some(rate) = share.rate {
                        let tax = tax_on(decimal(share.net, scale)?, rate, included, policy)?;
                        share.tax = minor_units(tax, scale)?;
                    }
                }
            }
            TaxRounding::PerOrder => {
                // Each rate's tax, rounded once on its summed base as pricing does, spread over
                // its lines by base.
                let mut groups: BTreeMap<Decimal, Vec<(usize, i128)>> = BTreeMap::new();
                for (index, share) in shares.iter().enumerate() {
                    if let Some(rate) = share.rate {
                        groups.entry(rate).or_default().push((index, share.net));
                    }
                }
                for (rate, members) in groups {
                    let bases: Vec<i128> = members.iter().map(|(_, base)| *base).collect();
                    let base = bases.iter().try_fold(0_i128, |sum, base| {
                        sum.checked_add(*base).ok_or(MoneyError::Overflow)
                    })?;
                    let tax = minor_units(
                        tax_on(decimal(base, scale)?, rate, included, policy)?,
                        scale,
                    )?;
                    let split = allocate(tax, base, &bases)?;
                    for ((index, _), tax) in members.into_iter().zip(split) {
                        if let Some(share) = shares.get_mut(index) {
                            share.tax = tax;
                        }
                    }
                }
            }
        }
        Ok(shares)
    }

    fn line_amount(
        &self,
        share: &Share,
        quantity: u32,
        net: i128,
        tax: i128,
        amount: i128,
    ) -> Result<LineAmount, MoneyError> {
        let scale = u32::from(self.rounding.minor_units());
        Ok(LineAmount {
            part: share.part,
            quantity,
            net: decimal(net, scale)?,
            tax: decimal(tax, scale)?,
            amount: decimal(amount, scale)?,
            rate: share.rate.map(|rate| rate.normalize()),
        })
    }
}

/// `amount` as a whole number of minor units at `scale`; an amount with more (non-zero)
/// decimals than that cannot be written there.
fn minor_units(amount: Decimal, scale: u32) -> Result<i128, MoneyError> {
    let overflow = || MoneyError::Overflow;
    let pow = |exp: u32| 10_i128.checked_pow(exp).ok_or_else(overflow);
    let mantissa = amount.mantissa();
    if let Some(more) = scale.checked_sub(amount.scale()) {
        return mantissa.checked_mul(pow(more)?).ok_or_else(overflow);
    }
    let fewer = pow(amount.scale().checked_sub(scale).ok_or_else(overflow)?)?;
    match mantissa.checked_rem(fewer) {
        Some(0) => mantissa.checked_div(fewer).ok_or_else(overflow),
        _ => Err(MoneyError::Overflow),
    }
}

/// `units` minor units at `scale`, written with exactly that many decimals.
fn decimal(units: i128, scale: u32) -> Result<Decimal, MoneyError> {
    bounded(Decimal::try_from_i128_with_scale(units, scale).map_err(|_| MoneyError::Overflow)?)
}
