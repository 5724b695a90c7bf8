//! Pricing: line totals, subtotal, discount, tax and total, with the rounding written down.
//!
//! See the crate documentation for the rounding rule in prose; [`price`] is its only
//! implementation.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use crate::rounding::{
    InvalidPolicy, MAX_MINOR_UNITS, RoundingMode, RoundingPolicy, TaxRounding,
};

use crate::money::{MoneyError, bounded};
use crate::order::{LineSource, NewLineItem, NewOrder, Quantity};
use crate::{CodeName, Currency, LineSnapshot, ProductId};

/// An order-level discount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Discount {
    /// A fixed amount off the subtotal, capped at the subtotal so a total never goes below zero.
    Fixed {
        /// The amount off, in the order's currency.
        #[serde(with = "crate::amount_serde")]
        amount: Decimal,
    },
    /// A percentage of the subtotal, 0 to 100.
    Percentage {
        /// The percentage (`"12.5"` is 12.5 %).
        #[serde(with = "crate::amount_serde")]
        percent: Decimal,
    },
}

/// One priced line, and what it was when ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricedLine {
    /// The product: a book line's, or a custom line's if it named one.
    pub product_id: Option<ProductId>,
    /// How many.
    pub quantity: Quantity,
    /// The price of one, with the policy's minor units.
    #[serde(with = "crate::amount_serde")]
    pub unit_price: Decimal,
    /// `quantity × unit_price`, exact.
    #[serde(with = "crate::amount_serde")]
    pub line_total: Decimal,
    /// Its SKU, title and options when ordered, if the client gave them; pricing never reads it.
    pub snapshot: Option<LineSnapshot>,
    /// Where its price came from: the price book, or given with the order.
    pub source: LineSource,
    /// Its own tax rate, from the shop's tax table for its class and the order's destination;
    /// none when the order's `tax_rate` (or no tax) applies.
    pub tax_rate: Option<Decimal>,
}

/// One shipping line: how the order goes out, and what that costs. Checked by
/// [`crate::NewOrder::parse`]; its amount is in the order's currency and minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingLine {
    /// The method's code, such as `dhl-express` (no white space).
    pub code: String,
    /// The method as the customer saw it.
    pub title: String,
    /// What it costs, exact.
    #[serde(with = "crate::amount_serde")]
    pub amount: Decimal,
    /// Whether it is taxed: at its own `tax_rate` if it has one, else at the order's.
    pub taxed: bool,
    /// Its own tax rate, from the shop's tax table; none when the order's applies.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::amount_serde::option"
    )]
    pub tax_rate: Option<Decimal>,
}

/// The tax at one rate: what receipts list under "VAT 19 %".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaxLine {
    /// The rate (`0.19`).
    #[serde(with = "crate::amount_serde")]
    pub rate: Decimal,
    /// What it was charged on: the lines (less their share of the discount) and taxed
    /// shipping at this rate; with prices that include tax, the gross amount it is contained in.
    #[serde(with = "crate::amount_serde")]
    pub base: Decimal,
    /// The tax.
    #[serde(with = "crate::amount_serde")]
    pub tax: Decimal,
}

/// A fully priced order: what the customer is charged and how it was computed. Only [`price`]
/// makes one (and [`crate::Order::restore`], after re-pricing what storage kept), so its
/// figures always add up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pricing {
    pub(crate) currency: Currency,
    pub(crate) lines: Vec<PricedLine>,
    #[serde(with = "crate::amount_serde")]
    pub(crate) subtotal: Decimal,
    pub(crate) discount_rule: Option<Discount>,
    pub(crate) discount_reason: Option<String>,
    #[serde(skip)]
    pub(crate) discount_code: Option<CodeName>,
    #[serde(with = "crate::amount_serde")]
    pub(crate) discount: Decimal,
    pub(crate) shipping_lines: Vec<ShippingLine>,
    #[serde(with = "crate::amount_serde")]
    pub(crate) shipping: Decimal,
    #[serde(with = "crate::amount_serde::option")]
    pub(crate) tax_rate: Option<Decimal>,
    #[serde(with = "crate::amount_serde")]
    pub(crate) tax: Decimal,
    pub(crate) prices_include_tax: bool,
    pub(crate) tax_lines: Vec<TaxLine>,
    #[serde(with = "crate::amount_serde")]
    pub(crate) total: Decimal,
    pub(crate) rounding: RoundingPolicy,
}

impl Pricing {
    /// The currency of every amount.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The priced lines, in the order given.
    pub fn lines(&self) -> &[PricedLine] {
        &self.lines
    }

    /// Σ line totals.
    pub fn subtotal(&self) -> Decimal {
        self.subtotal
    }

    /// The discount as asked for, if any.
    pub fn discount_rule(&self) -> Option<Discount> {
        self.discount_rule
    }

    /// The discount code the discount came from, if it came from one.
    pub fn discount_code(&self) -> Option<&CodeName> {
        self.discount_code.as_ref()
    }

    /// Why the shop gave a manual discount, if it said.
    pub fn discount_reason(&self) -> Option<&str> {
        self.discount_reason.as_deref()
    }

    /// The discount applied: 0 to `subtotal`.
    pub fn discount(&self) -> Decimal {
        self.discount
    }

    /// The shipping lines, in the order given.
    pub fn shipping_lines(&self) -> &[ShippingLine] {
        &self.shipping_lines
    }

    /// Σ shipping amounts, exact.
    pub fn shipping(&self) -> Decimal {
        self.shipping
    }

    /// The tax rate applied, if any (`0.2` is 20 %).
    pub fn tax_rate(&self) -> Option<Decimal> {
        self.tax_rate
    }

    /// Tax on `subtotal − discount` and the taxed shipping, rounded as the policy says; with
    /// prices that include tax, the tax they contain.
    pub fn tax(&self) -> Decimal {
        self.tax
    }

    /// Whether its figures were worked out for where the order goes: a line taxed at a rate
    /// of the shop's table, or shipping. Such an order keeps its destination.
    pub fn depends_on_destination(&self) -> bool {
        self.lines.iter().any(|line| line.tax_rate.is_some()) || !self.shipping_lines.is_empty()
    }

    /// Whether the prices contain the tax (so it is not added to the total).
    pub fn prices_include_tax(&self) -> bool {
        self.prices_include_tax
    }

    /// The tax by rate, ascending; their taxes sum to [`Pricing::tax`].
    pub fn tax_lines(&self) -> &[TaxLine] {
        &self.tax_lines
    }

    /// `subtotal − discount + shipping + tax`, exactly; `subtotal − discount + shipping` when
    /// the prices include the tax.
    pub fn total(&self) -> Decimal {
        self.total
    }

    /// The rules these figures were computed with.
    pub fn rounding(&self) -> RoundingPolicy {
        self.rounding
    }
}

/// An order's pricing as storage keeps it, unchecked: [`crate::Order::restore`] re-prices the
/// lines and accepts the figures only if they are the ones [`price`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    missing_docs,
    reason = "each field is the `Pricing` figure of the same name"
)]
pub struct StoredPricing {
    pub currency: Currency,
    pub lines: Vec<PricedLine>,
    pub subtotal: Decimal,
    pub discount_rule: Option<Discount>,
    pub discount_reason: Option<String>,
    pub discount_code: Option<CodeName>,
    pub discount: Decimal,
    pub shipping_lines: Vec<ShippingLine>,
    pub shipping: Decimal,
    pub tax_rate: Option<Decimal>,
    pub tax: Decimal,
    pub prices_include_tax: bool,
    pub total: Decimal,
    pub rounding: RoundingPolicy,
}

impl From<&Pricing> for StoredPricing {
    fn from(pricing: &Pricing) -> Self {
        Self {
            currency: pricing.currency,
            lines: pricing.lines.clone(),
            subtotal: pricing.subtotal,
            discount_rule: pricing.discount_rule,
            discount_reason: pricing.discount_reason.clone(),
            discount_code: pricing.discount_code.clone(),
            discount: pricing.discount,
            shipping_lines: pricing.shipping_lines.clone(),
            shipping: pricing.shipping,
            tax_rate: pricing.tax_rate,
            tax: pricing.tax,
            prices_include_tax: pricing.prices_include_tax,
            total: pricing.total,
            rounding: pricing.rounding,
        }
    }
}

/// Why an order cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// An amount would pass [`crate::MAX_AMOUNT`].
    #[error("the order's amounts are too large: {0}")]
    Overflow(#[from] MoneyError),
    /// An order naming a shipping method that [`crate::NewOrder::settle`] never priced: a bug
    /// of the caller's, never an answer to a client.
    #[error("the order names a shipping method but was not settled against the shop's rates")]
    Unsettled,
}

/// Prices `order` under `policy`. Pure: the same inputs always give the same figures.
///
/// # Errors
/// [`PricingError::Overflow`] when an amount would pass [`crate::MAX_AMOUNT`];
/// [`PricingError::Unsettled`] for an order naming a shipping method it was not settled for.
///
/// # Examples
/// ```
/// # use std::str::FromStr;
/// # use rust_decimal::Decimal;
/// use ordo_domain::{price, OrderDraft, NewOrder, RoundingPolicy};
///
/// let draft: OrderDraft = serde_json::from_str(r#"{
///     "customer_id": "0193a1a0-0000-7000-8000-000000000001",
///     "currency": "USD",
///     "items": [
///         { "product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 3, "unit_price": "19.99" },
///         { "product_id": "0193a1a0-0000-7000-8000-0000000000bb", "quantity": 1, "unit_price": 5 }
///     ],
///     "discount": { "type": "percentage", "percent": "10" },
///     "tax_rate": "0.0825"
/// }"#).unwrap();
/// let order = NewOrder::parse(&draft).unwrap();
/// let priced = price(&order, RoundingPolicy::default_for(order.currency())).unwrap();
/// assert_eq!(priced.subtotal().to_string(), "64.97");  // 3 × 19.99 + 5.00
/// assert_eq!(priced.discount().to_string(), "6.50");   // 6.497 rounds half-up
/// assert_eq!(priced.tax().to_string(), "4.82");        // 58.47 × 0.0825 = 4.823775
/// assert_eq!(priced.total().to_string(), "63.29");     // 64.97 − 6.50 + 4.82
/// ```
pub fn price(order: &NewOrder, policy: RoundingPolicy) -> Result<Pricing, PricingError> {
    if order.shipping_method().is_some() {
        return Err(PricingError::Unsettled);
    }
    let (lines, subtotal, discount) = goods(order, policy)?;
    let items_taxable = subtotal.checked_sub(discount).ok_or(MoneyError::Overflow)?;
    let shipping = order
        .shipping()
        .iter()
        .try_fold(policy.round(Decimal::ZERO), |sum, line| {
            checked_sum(sum, line.amount)
        })?;
    let tax_lines = tax_lines(order, &lines, subtotal, discount, policy)?;
    let tax = tax_lines
        .iter()
        .try_fold(policy.round(Decimal::ZERO), |sum, line| {
            checked_sum(sum, line.tax)
        })?;
    let added = if order.prices_include_tax() {
        policy.round(Decimal::ZERO)
    } else {
        tax
    };
    let total = [shipping, added]
        .into_iter()
        .try_fold(items_taxable, checked_sum)?;
    Ok(Pricing {
        currency: order.currency(),
        lines,
        subtotal,
        discount_rule: order.discount(),
        discount_reason: order.discount_reason().map(str::to_owned),
        discount_code: order.discount_code().cloned(),
        discount,
        shipping_lines: order.shipping().to_vec(),
        shipping,
        tax_rate: order.tax_rate(),
        tax,
        prices_include_tax: order.prices_include_tax(),
        tax_lines,
        total,
        rounding: policy,
    })
}

/// The priced lines, the subtotal and the discount: what free shipping thresholds look at.
pub(crate) fn goods(
    order: &NewOrder,
    policy: RoundingPolicy,
) -> Result<(Vec<PricedLine>, Decimal, Decimal), MoneyError> {
    let lines = order
        .items()
        .iter()
        .map(|item| price_line(item, policy))
        .collect::<Result<Vec<_>, _>>()?;
    let subtotal = lines
        .iter()
        .try_fold(policy.round(Decimal::ZERO), |sum, line| {
            checked_sum(sum, line.line_total)
        })?;
    let discount = applied_discount(order.discount(), subtotal, policy)?;
    Ok((lines, subtotal, discount))
}

/// The tax by rate (steps 5 and 6 of the rule in the crate documentation).
fn tax_lines(
    order: &NewOrder,
    lines: &[PricedLine],
    subtotal: Decimal,
    discount: Decimal,
    policy: RoundingPolicy,
) -> Result<Vec<TaxLine>, MoneyError> {
    // Each taxed amount and its rate: the lines less their share of the discount, then the
    // taxed shipping lines (never discounted).
    let line_units: Vec<i128> = lines
        .iter()
        .map(|line| line.line_total.mantissa())
        .collect();
    let shares = allocate(discount.mantissa(), subtotal.mantissa(), &line_units)?;
    let mut bases = Vec::with_capacity(lines.len());
    for ((line, units), share) in lines.iter().zip(&line_units).zip(shares) {
        if let Some(rate) = line.tax_rate.or(order.tax_rate()) {
            let taxable = units.checked_sub(share).ok_or(MoneyError::Overflow)?;
            let base = Decimal::try_from_i128_with_scale(taxable, u32::from(policy.minor_units()))
                .map_err(|_| MoneyError::Overflow)?;
            bases.push((rate, base));
        }
    }
    for shipping in order.shipping().iter().filter(|line| line.taxed) {
        if let Some(rate) = shipping.tax_rate.or(order.tax_rate()) {
            bases.push((rate, shipping.amount));
        }
    }
    let included = order.prices_include_tax();
    let mut by_rate: BTreeMap<Decimal, TaxLine> = BTreeMap::new();
    for (rate, base) in bases {
        let zero = policy.round(Decimal::ZERO);
        let entry = by_rate.entry(rate).or_insert_with(|| TaxLine {
            rate: rate.normalize(),
            base: zero,
            tax: zero,
        });
        entry.base = checked_sum(entry.base, base)?;
        if policy.tax() == TaxRounding::PerLine {
            entry.tax = checked_sum(entry.tax, tax_on(base, rate, included, policy)?)?;
        }
    }
    let mut taxes: Vec<TaxLine> = by_rate.into_values().collect();
    if policy.tax() == TaxRounding::PerOrder {
        for line in &mut taxes {
            line.tax = tax_on(line.base, line.rate, included, policy)?;
        }
    }
    for line in &mut taxes {
        line.base = policy.round(line.base);
    }
    Ok(taxes)
}

/// The tax on `base` at `rate`, rounded once: `base × rate`, or with prices that include tax
/// the part of `base` that is tax, `base × rate / (1 + rate)`, computed exactly.
pub(crate) fn tax_on(
    base: Decimal,
    rate: Decimal,
    included: bool,
    policy: RoundingPolicy,
) -> Result<Decimal, MoneyError> {
    if !included {
        return Ok(policy.round(checked_product(base, rate)?));
    }
    // base = b / 10^sb, rate = r / 10^sr: the tax in minor units is
    // b · r · 10^u / (10^sb · (10^sr + r)), a quotient of integers rounded as the policy says.
    let overflow = || MoneyError::Overflow;
    let pow = |exp: u32| 10_i128.checked_pow(exp).ok_or(MoneyError::Overflow);
    let (b, sb) = (base.mantissa(), base.scale());
    let (r, sr) = (rate.mantissa(), rate.scale());
    let units = u32::from(policy.minor_units());
    let mut numerator = b.checked_mul(r).ok_or_else(overflow)?;
    let mut denominator = pow(sr)?.checked_add(r).ok_or_else(overflow)?;
    if let Some(more) = units.checked_sub(sb) {
        numerator = numerator.checked_mul(pow(more)?).ok_or_else(overflow)?;
    } else {
        let fewer = sb.checked_sub(units).ok_or_else(overflow)?;
        denominator = denominator.checked_mul(pow(fewer)?).ok_or_else(overflow)?;
    }
    let quotient = round_quotient(numerator, denominator, policy.mode()).ok_or_else(overflow)?;
    bounded(Decimal::try_from_i128_with_scale(quotient, units).map_err(|_| MoneyError::Overflow)?)
}

/// `numerator / denominator` (both ≥ 0, denominator > 0) rounded to a whole number.
pub(crate) fn round_quotient(
    numerator: i128,
    denominator: i128,
    mode: RoundingMode,
) -> Option<i128> {
    let quotient = numerator.checked_div(denominator)?;
    let twice_remainder = numerator.checked_rem(denominator)?.checked_mul(2)?;
    let up = match twice_remainder.cmp(&denominator) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => mode == RoundingMode::HalfUp || quotient % 2 == 1,
    };
    if up {
        quotient.checked_add(1)
    } else {
        Some(quotient)
    }
}

fn price_line(item: &NewLineItem, policy: RoundingPolicy) -> Result<PricedLine, MoneyError> {
    // Validation keeps unit prices within the currency's minor units, so this product is exact
    // and the rounding below only sets the scale.
    let exact = checked_product(item.unit_price(), Decimal::from(item.quantity().get()))?;
    Ok(PricedLine {
        product_id: item.product_id(),
        quantity: item.quantity(),
        unit_price: policy.round(item.unit_price()),
        line_total: policy.round(exact),
        snapshot: item.snapshot().cloned(),
        source: item.source(),
        tax_rate: item.tax_rate(),
    })
}

fn applied_discount(
    discount: Option<Discount>,
    subtotal: Decimal,
    policy: RoundingPolicy,
) -> Result<Decimal, MoneyError> {
    let amount = match discount {
        None => Decimal::ZERO,
        Some(Discount::Fixed { amount }) => amount,
        Some(Discount::Percentage { percent }) => {
            checked_product(subtotal, checked_product(percent, Decimal::new(1, 2))?)?
        }
    };
    // Never below zero, never more than the subtotal.
    Ok(policy.round(amount.clamp(Decimal::ZERO, subtotal)))
}

/// Splits `amount` minor units over `weights` (summing to `total`) by the largest-remainder
/// method. Ties go to the larger weight, then to the earlier line (equal lines taxed at
/// different rates are not interchangeable).
pub(crate) fn allocate(
    amount: i128,
    total: i128,
    weights: &[i128],
) -> Result<Vec<i128>, MoneyError> {
    if total == 0 {
        return Ok(vec![0; weights.len()]);
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (index, weight) in weights.iter().enumerate() {
        let scaled = amount.checked_mul(*weight).ok_or(MoneyError::Overflow)?;
        shares.push(scaled.checked_div(total).ok_or(MoneyError::Overflow)?);
        remainders.push((
            scaled.checked_rem(total).ok_or(MoneyError::Overflow)?,
            *weight,
            index,
        ));
    }
    let given: i128 = shares.iter().sum();
    let left = usize::try_from(amount.saturating_sub(given)).map_err(|_| MoneyError::Overflow)?;
    remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    for (_, _, index) in remainders.into_iter().take(left) {
        if let Some(share) = shares.get_mut(index) {
            *share = share.saturating_add(1);
        }
    }
    Ok(shares)
}

fn checked_sum(a: Decimal, b: Decimal) -> Result<Decimal, MoneyError> {
    bounded(a.checked_add(b).ok_or(MoneyError::Overflow)?)
}

fn checked_product(a: Decimal, b: Decimal) -> Result<Decimal, MoneyError> {
    bounded(a.checked_mul(b).ok_or(MoneyError::Overflow)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(mode: RoundingMode) -> RoundingPolicy {
        RoundingPolicy::new(2, mode, TaxRounding::PerOrder).unwrap()
    }

    #[test]
    fn half_up_and_half_even_differ_only_on_even_neighbours() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(policy(RoundingMode::HalfUp).round(d("0.125")), d("0.13"));
        assert_eq!(policy(RoundingMode::HalfEven).round(d("0.125")), d("0.12"));
        assert_eq!(policy(RoundingMode::HalfUp).round(d("0.135")), d("0.14"));
        assert_eq!(policy(RoundingMode::HalfEven).round(d("0.135")), d("0.14"));
        assert_eq!(
            policy(RoundingMode::HalfEven).round(d("7")).to_string(),
            "7.00"
        );
    }

    #[test]
    fn allocation_adds_up_and_favours_larger_remainders() {
        // 10 units over weights 1:1:1 → 4, 3, 3 in some order; sum is exact.
        let shares = allocate(10, 3, &[1, 1, 1]).unwrap();
        assert_eq!(shares.iter().sum::<i128>(), 10);
        assert_eq!(allocate(100, 300, &[100, 200]).unwrap(), vec![33, 67]);
        assert_eq!(allocate(5, 0, &[0, 0]).unwrap(), vec![0, 0]);
    }

    #[test]
    fn policies_past_four_minor_units_are_refused() {
        assert!(RoundingPolicy::new(5, RoundingMode::HalfUp, TaxRounding::PerLine).is_err());
        let json = r#"{"minor_units":9,"mode":"half_up","tax":"per_order"}"#;
        assert!(serde_json::from_str::<RoundingPolicy>(json).is_err());
    }
}
