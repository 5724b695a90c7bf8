//! Discount codes: what a customer may type at checkout to get a discount the shop set up,
//! within its window, above its minimum and up to its limits.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::catalog::ProductStatus;
use crate::order::{MAX_PERCENT_SCALE, Version, checked_amount};
use crate::pricing::Discount;
use crate::validation::{Collector, ValidationErrors, Violation};
use crate::{Currency, MAX_PRICES};

/// The longest code, in characters.
pub const MAX_CODE_CHARS: usize = 40;

/// A code as customers type it: 1 to [`MAX_CODE_CHARS`] ASCII letters, digits, `-` or `_`,
/// kept upper case, so `summer-10` and `SUMMER-10` are one code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CodeName(String);

impl CodeName {
    /// The code, upper case.
    ///
    /// # Errors
    /// [`Violation::InvalidCode`].
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let valid = (1..=MAX_CODE_CHARS).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err(Violation::InvalidCode {
                max: MAX_CODE_CHARS,
            })
        }
    }

    /// The code, upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CodeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a code takes off, as staff send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeValueDraft {
    /// A percentage of the subtotal, 0 to 100.
    Percentage(Decimal),
    /// A fixed amount off, by ISO 4217 code: an order in a currency the code has no amount in
    /// cannot use it.
    Fixed(BTreeMap<String, Decimal>),
}

/// A discount code as staff send it, before any rule is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountCodeDraft {
    /// What customers type.
    pub code: String,
    /// What it takes off.
    pub value: CodeValueDraft,
    /// The subtotal an order must reach, by ISO 4217 code; none where not given.
    pub minimum_subtotal: BTreeMap<String, Decimal>,
    /// From when it may be used.
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when (exclusive).
    pub ends_at: Option<DateTime<Utc>>,
    /// How many orders may use it in all; no limit when `None`.
    pub usage_limit: Option<i64>,
    /// How many orders of one customer may use it; no limit when `None`.
    pub per_customer_limit: Option<i64>,
    /// `archived` stops it being used.
    pub status: ProductStatus,
}

/// A discount code's content once every rule holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountCodeSpec {
    code: CodeName,
    value: CodeValue,
    minimum_subtotal: BTreeMap<String, Decimal>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    usage_limit: Option<u32>,
    per_customer_limit: Option<u32>,
    status: ProductStatus,
}

/// What a valid code takes off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeValue {
    /// A percentage of the subtotal.
    Percentage(Decimal),
    /// An amount off by ISO 4217 code, each with its currency's minor units.
    Fixed(BTreeMap<String, Decimal>),
}

/// The largest usage limit.
pub const MAX_USAGE_LIMIT: i64 = 1_000_000_000;

impl DiscountCodeSpec {
    /// Checks every rule: errors name `code`, `percent`, `amounts.USD`, `minimum_subtotal.EUR`,
    /// `ends_at`, `usage_limit`, `per_customer_limit`.
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty.
    pub fn parse(draft: &DiscountCodeDraft) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let code = errors.check(|| "code".into(), CodeName::parse(&draft.code));
        let value = match &draft.value {
            CodeValueDraft::Percentage(percent) => errors
                .check(|| "percent".into(), percentage(*percent))
                .map(CodeValue::Percentage),
            CodeValueDraft::Fixed(amounts) => {
                if amounts.is_empty() {
                    errors.push("amounts", Violation::NoPrice);
                }
                amounts_by_currency(amounts, "amounts", &mut errors).map(CodeValue::Fixed)
            }
        };
        let minimum = amounts_by_currency(&draft.minimum_subtotal, "minimum_subtotal", &mut errors);
        if let (Some(starts), Some(ends)) = (draft.starts_at, draft.ends_at)
            && ends <= starts
        {
            errors.push("ends_at", Violation::EndsBeforeStart);
        }
        let usage_limit = errors.check(|| "usage_limit".into(), limit(draft.usage_limit));
        let per_customer_limit = errors.check(
            || "per_customer_limit".into(),
            limit(draft.per_customer_limit),
        );
        let spec = match (code, value, minimum, usage_limit, per_customer_limit) {
            (
                Some(code),
                Some(value),
                Some(minimum),
                Some(usage_limit),
                Some(per_customer_limit),
            ) => Some(Self {
                code,
                value,
                minimum_subtotal: minimum,
                starts_at: draft.starts_at,
                ends_at: draft.ends_at,
                usage_limit,
                per_customer_limit,
                status: draft.status,
            }),
            _ => None,
        };
        errors.finish(spec)
    }

    /// The content as staff would send it: `parse(&s.to_draft()) == Ok(s)`.
    pub fn to_draft(&self) -> DiscountCodeDraft {
        DiscountCodeDraft {
            code: self.code.as_str().to_owned(),
            value: match &self.value {
                CodeValue::Percentage(percent) => CodeValueDraft::Percentage(*percent),
                CodeValue::Fixed(amounts) => CodeValueDraft::Fixed(amounts.clone()),
            },
            minimum_subtotal: self.minimum_subtotal.clone(),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            usage_limit: self.usage_limit.map(i64::from),
            per_customer_limit: self.per_customer_limit.map(i64::from),
            status: self.status,
        }
    }

    /// What customers type.
    pub fn code(&self) -> &CodeName {
        &self.code
    }

    /// What it takes off.
    pub fn value(&self) -> &CodeValue {
        &self.value
    }

    /// The subtotal an order must reach, by currency.
    pub fn minimum_subtotal(&self) -> &BTreeMap<String, Decimal> {
        &self.minimum_subtotal
    }

    /// From when it may be used.
    pub fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.starts_at
    }

    /// Until when (exclusive).
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.ends_at
    }

    /// How many orders may use it in all.
    pub fn usage_limit(&self) -> Option<u32> {
        self.usage_limit
    }

    /// How many orders of one customer may use it.
    pub fn per_customer_limit(&self) -> Option<u32> {
        self.per_customer_limit
    }

    /// Whether it may be used at all.
    pub fn status(&self) -> ProductStatus {
        self.status
    }

    /// The discount an order in `currency` with `subtotal` gets at `now`, if the code applies:
    /// its window, status, currency and minimum (the limits are storage's to hold).
    ///
    /// # Errors
    /// [`Violation::CodeNotActive`], [`Violation::CodeNotInCurrency`] or
    /// [`Violation::BelowMinimum`].
    pub fn discount_for(
        &self,
        currency: Currency,
        subtotal: Decimal,
        now: DateTime<Utc>,
    ) -> Result<Discount, Violation> {
        let started = self.starts_at.is_none_or(|starts| starts <= now);
        let ended = self.ends_at.is_some_and(|ends| ends <= now);
        if self.status == ProductStatus::Archived || !started || ended {
            return Err(Violation::CodeNotActive);
        }
        if let Some(minimum) = self.minimum_subtotal.get(currency.code())
            && subtotal < *minimum
        {
            return Err(Violation::BelowMinimum {
                minimum: *minimum,
                currency: currency.code(),
            });
        }
        match &self.value {
            CodeValue::Percentage(percent) => Ok(Discount::Percentage { percent: *percent }),
            CodeValue::Fixed(amounts) => amounts
                .get(currency.code())
                .map(|amount| Discount::Fixed { amount: *amount })
                .ok_or(Violation::CodeNotInCurrency {
                    currency: currency.code(),
                }),
        }
    }
}

/// A discount code as stored: its content, how often it has been used, its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountCode {
    id: uuid::Uuid,
    spec: DiscountCodeSpec,
    used: u32,
    version: Version,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl DiscountCode {
    /// A new code, unused, at version 1.
    pub fn new(id: uuid::Uuid, spec: DiscountCodeSpec, now: DateTime<Utc>) -> Self {
        Self {
            id,
            spec,
            used: 0,
            version: Version::new(1),
            created_at: now,
            updated_at: now,
        }
    }

    /// A code as storage kept it.
    pub fn restore(
        id: uuid::Uuid,
        spec: DiscountCodeSpec,
        used: u32,
        version: Version,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            spec,
            used,
            version,
            created_at,
            updated_at,
        }
    }

    /// Replaces the content, if it differs; says whether it did.
    pub fn revise(&mut self, spec: DiscountCodeSpec, now: DateTime<Utc>) -> bool {
        if spec == self.spec {
            return false;
        }
        self.spec = spec;
        self.version = self.version.next();
        self.updated_at = now;
        true
    }

    /// Its id.
    pub fn id(&self) -> uuid::Uuid {
        self.id
    }

    /// Its content.
    pub fn spec(&self) -> &DiscountCodeSpec {
        &self.spec
    }

    /// How many orders hold a use of it now (a cancelled order gives its use back).
    pub fn used(&self) -> u32 {
        self.used
    }

    /// Bumped by every change of its content.
    pub fn version(&self) -> Version {
        self.version
    }

    /// When it was made.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// When its content last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
}

fn percentage(value: Decimal) -> Result<Decimal, Violation> {
    if value <= Decimal::ZERO || value > Decimal::ONE_HUNDRED {
        return Err(Violation::PercentOutOfRange);
    }
    if value.normalize().scale() > MAX_PERCENT_SCALE {
        return Err(Violation::TooPrecise {
            max_scale: MAX_PERCENT_SCALE,
        });
    }
    Ok(value.normalize())
}

fn limit(value: Option<i64>) -> Result<Option<u32>, Violation> {
    match value {
        None => Ok(None),
        Some(n) if (1..=MAX_USAGE_LIMIT).contains(&n) => {
            u32::try_from(n)
                .map(Some)
                .map_err(|_| Violation::LimitOutOfRange {
                    max: MAX_USAGE_LIMIT,
                })
        }
        Some(_) => Err(Violation::LimitOutOfRange {
            max: MAX_USAGE_LIMIT,
        }),
    }
}

/// Amounts by currency, each exact in its currency's minor units; errors name `{field}.USD`.
fn amounts_by_currency(
    raw: &BTreeMap<String, Decimal>,
    field: &str,
    errors: &mut Collector,
) -> Option<BTreeMap<String, Decimal>> {
    if raw.len() > MAX_PRICES {
        errors.push(field, Violation::TooManyEntries { max: MAX_PRICES });
        return None;
    }
    let mut amounts = BTreeMap::new();
    for (code, amount) in raw {
        let path = || format!("{field}.{}", code.escape_debug());
        let Some(currency) = errors.check(
            path,
            Currency::from_code(code).map_err(|_| Violation::UnknownCurrency),
        ) else {
            continue;
        };
        if let Some(amount) = errors.check(
            path,
            checked_amount(*amount, u32::from(currency.minor_units())),
        ) {
            amounts.insert(currency.code().to_owned(), amount);
        }
    }
    (amounts.len() == raw.len()).then_some(amounts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, hour, 0, 0).unwrap()
    }

    fn draft() -> DiscountCodeDraft {
        DiscountCodeDraft {
            code: "summer-10".into(),
            value: CodeValueDraft::Percentage(Decimal::TEN),
            minimum_subtotal: BTreeMap::from([("USD".into(), Decimal::from(50))]),
            starts_at: Some(at(8)),
            ends_at: Some(at(20)),
            usage_limit: Some(100),
            per_customer_limit: Some(1),
            status: ProductStatus::Active,
        }
    }

    #[test]
    fn a_code_applies_within_its_window_above_its_minimum() {
        let spec = DiscountCodeSpec::parse(&draft()).unwrap();
        assert_eq!(spec.code().as_str(), "SUMMER-10");
        let usd = Currency::from_code("USD").unwrap();
        let eur = Currency::from_code("EUR").unwrap();
        let fifty = Decimal::from(50);
        assert_eq!(
            spec.discount_for(usd, fifty, at(8)),
            Ok(Discount::Percentage {
                percent: Decimal::TEN
            })
        );
        assert_eq!(
            spec.discount_for(usd, fifty, at(7)),
            Err(Violation::CodeNotActive)
        );
        assert_eq!(
            spec.discount_for(usd, fifty, at(20)),
            Err(Violation::CodeNotActive),
            "the end is exclusive"
        );
        assert!(matches!(
            spec.discount_for(usd, Decimal::new(4999, 2), at(9)),
            Err(Violation::BelowMinimum { .. })
        ));
        assert!(
            spec.discount_for(eur, Decimal::ONE, at(9)).is_ok(),
            "no EUR minimum"
        );
        assert_eq!(DiscountCodeSpec::parse(&spec.to_draft()), Ok(spec));
    }

    #[test]
    fn a_fixed_code_is_only_for_its_currencies_and_every_rule_is_named() {
        let mut fixed = draft();
        fixed.value = CodeValueDraft::Fixed(BTreeMap::from([("JPY".into(), Decimal::from(500))]));
        let spec = DiscountCodeSpec::parse(&fixed).unwrap();
        let usd = Currency::from_code("USD").unwrap();
        assert_eq!(
            spec.discount_for(usd, Decimal::from(60), at(9)),
            Err(Violation::CodeNotInCurrency { currency: "USD" })
        );
        let bad = DiscountCodeDraft {
            code: "no spaces".into(),
            value: CodeValueDraft::Fixed(BTreeMap::from([("JPY".into(), Decimal::new(5, 1))])),
            minimum_subtotal: BTreeMap::from([("XXX".into(), Decimal::ONE)]),
            starts_at: Some(at(9)),
            ends_at: Some(at(9)),
            usage_limit: Some(0),
            per_customer_limit: Some(-1),
            status: ProductStatus::Active,
        };
        let errors = DiscountCodeSpec::parse(&bad).unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "code",
                "amounts.JPY",
                "minimum_subtotal.XXX",
                "ends_at",
                "usage_limit",
                "per_customer_limit"
            ]
        );
    }
}
