//! The rounding policy: how amounts round to a currency's minor units, and how tax rounds.
//! The rule in prose is in the crate documentation; [`crate::price`] applies it.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use strum::{EnumIter, IntoEnumIterator as _, IntoStaticStr};

use crate::Currency;

/// How a half-way value rounds to the policy's minor units.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RoundingMode {
    /// 0.125 → 0.13, 0.135 → 0.14: "commercial" rounding, what receipts and most tax
    /// authorities expect. The default.
    HalfUp,
    /// 0.125 → 0.12, 0.135 → 0.14: banker's rounding, unbiased over many roundings.
    HalfEven,
}

/// Where tax is rounded.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TaxRounding {
    /// Tax is computed on the order's taxable amount and rounded once. The default.
    PerOrder,
    /// The discount is spread over the lines, each line's tax is rounded, and the rounded
    /// line taxes are summed: what jurisdictions that tax per invoice line require.
    PerLine,
}

impl RoundingMode {
    /// The name in JSON and storage (strum's, checked against serde's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The mode of that name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::iter().find(|mode| mode.as_str() == name)
    }
}

impl TaxRounding {
    /// The name in JSON and storage (strum's, checked against serde's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The rule of that name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::iter().find(|rule| rule.as_str() == name)
    }
}

/// The rounding rules an order was priced with. Stored with the order, so it can be re-priced
/// exactly later even if ordo's defaults or ISO's minor units change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RoundingPolicyFields")]
pub struct RoundingPolicy {
    minor_units: u8,
    mode: RoundingMode,
    tax: TaxRounding,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoundingPolicyFields {
    minor_units: u8,
    mode: RoundingMode,
    tax: TaxRounding,
}

/// The largest number of minor units a policy may round to (ISO 4217's largest is 4).
pub const MAX_MINOR_UNITS: u8 = 4;

/// A rounding policy with an impossible number of minor units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("minor units must be at most {MAX_MINOR_UNITS}, got {0}")]
pub struct InvalidPolicy(pub u8);

impl TryFrom<RoundingPolicyFields> for RoundingPolicy {
    type Error = InvalidPolicy;

    fn try_from(fields: RoundingPolicyFields) -> Result<Self, Self::Error> {
        Self::new(fields.minor_units, fields.mode, fields.tax)
    }
}

impl RoundingPolicy {
    /// A policy rounding to `minor_units` decimals.
    ///
    /// # Errors
    /// [`InvalidPolicy`] when `minor_units` exceeds [`MAX_MINOR_UNITS`].
    pub fn new(
        minor_units: u8,
        mode: RoundingMode,
        tax: TaxRounding,
    ) -> Result<Self, InvalidPolicy> {
        if minor_units > MAX_MINOR_UNITS {
            return Err(InvalidPolicy(minor_units));
        }
        Ok(Self {
            minor_units,
            mode,
            tax,
        })
    }

    /// ordo's default for `currency`: its ISO minor units, half-up, tax rounded per order.
    pub fn default_for(currency: Currency) -> Self {
        Self {
            minor_units: currency.minor_units().min(MAX_MINOR_UNITS),
            mode: RoundingMode::HalfUp,
            tax: TaxRounding::PerOrder,
        }
    }

    /// Decimals every priced amount carries.
    pub fn minor_units(self) -> u8 {
        self.minor_units
    }

    /// How half-way values round.
    pub fn mode(self) -> RoundingMode {
        self.mode
    }

    /// Where tax is rounded.
    pub fn tax(self) -> TaxRounding {
        self.tax
    }

    /// Rounds `amount` to the policy's minor units and writes it with exactly that many decimals.
    pub fn round(self, amount: Decimal) -> Decimal {
        let strategy = match self.mode {
            RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
        };
        let mut rounded = amount.round_dp_with_strategy(self.scale(), strategy);
        rounded.rescale(self.scale());
        rounded
    }

    fn scale(self) -> u32 {
        u32::from(self.minor_units)
    }
}
