//! Exact money: a [`Decimal`] amount with its [`Currency`], and checked arithmetic.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Currency;

/// The largest magnitude any amount may reach: one quadrillion (10^15) units of a currency.
///
/// Far above any real order, and low enough that every product ordo computes (a quantity times
/// a price, an amount times a tax rate) fits a [`Decimal`] exactly, with no silent rounding of
/// the last digits. Going past it is [`MoneyError::Overflow`].
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xA4C6_8000, 0x0003_8D7E, 0, false, 0);

/// An exact amount of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "amount_serde")]
    amount: Decimal,
    currency: Currency,
}

/// Why a money operation has no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The result's magnitude would pass [`MAX_AMOUNT`].
    #[error("amount overflow: the result would exceed {MAX_AMOUNT}")]
    Overflow,
    /// The two operands are in different currencies.
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch {
        /// The left operand's currency.
        left: Currency,
        /// The right operand's currency.
        right: Currency,
    },
}

impl Money {
    /// An amount of `currency`.
    ///
    /// # Errors
    /// [`MoneyError::Overflow`] when `|amount|` exceeds [`MAX_AMOUNT`].
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        bounded(amount).map(|amount| Self { amount, currency })
    }

    /// Zero of `currency`, written with the currency's minor units (`0.00` for USD).
    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: Decimal::new(0, u32::from(currency.minor_units())),
            currency,
        }
    }

    /// The exact amount.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// `self + other`.
    ///
    /// # Errors
    /// [`MoneyError::CurrencyMismatch`] or [`MoneyError::Overflow`].
    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        let sum = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Self::new(sum, self.currency)
    }

    /// `self - other`.
    ///
    /// # Errors
    /// [`MoneyError::CurrencyMismatch`] or [`MoneyError::Overflow`].
    pub fn checked_sub(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        let difference = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Self::new(difference, self.currency)
    }

    /// `self × factor`, exact: the result keeps every digit of both operands.
    ///
    /// # Errors
    /// [`MoneyError::Overflow`] when the result passes [`MAX_AMOUNT`].
    pub fn checked_mul(self, factor: Decimal) -> Result<Self, MoneyError> {
        let product = self
            .amount
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        Self::new(product, self.currency)
    }

    fn same_currency(self, other: Self) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// Checks `amount` against [`MAX_AMOUNT`].
pub(crate) fn bounded(amount: Decimal) -> Result<Decimal, MoneyError> {
    if amount.abs() > MAX_AMOUNT {
        Err(MoneyError::Overflow)
    } else {
        Ok(amount)
    }
}

/// Serde for a bare amount: written as a JSON string (`"29.99"`), read from a string or a JSON
/// number, taken from the number's own text so no digit passes through `f64`.
///
/// Use with `#[serde(with = "ordo_domain::amount_serde")]`.
pub mod amount_serde {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};

    /// Writes the amount as a string with all its digits.
    ///
    /// # Errors
    /// Whatever the serializer returns.
    #[allow(
        clippy::trivially_copy_pass_by_ref,
        reason = "serde's `with` passes by reference"
    )]
    pub fn serialize<S: Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(amount)
    }

    /// Reads a string or a number, exactly: text with more digits than a decimal holds (over
    /// 28 decimals) is refused, never rounded.
    ///
    /// # Errors
    /// When the value is neither, or is not exactly a decimal.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        deserializer.deserialize_any(Exact)
    }

    /// The one message for every amount that does not parse: no parser internals.
    pub const NOT_AN_AMOUNT: &str =
        "not a valid amount: send a decimal string such as \"19.99\" with at most 28 decimals";

    fn exact<E: serde::de::Error>(text: &str) -> Result<Decimal, E> {
        // `from_str` rounds past 28 digits; `from_str_exact` refuses instead.
        Decimal::from_str_exact(text.trim()).map_err(|_| E::custom(NOT_AN_AMOUNT))
    }

    struct Exact;

    impl<'de> serde::de::Visitor<'de> for Exact {
        type Value = Decimal;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("an amount as a decimal string or number")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Decimal, E> {
            exact(text)
        }

        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(value))
        }

        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(value))
        }

        /// `serde_json`'s `arbitrary_precision` hands a number over as a one-entry map holding
        /// its source text.
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Decimal, A::Error> {
            let key = map.next_key::<std::borrow::Cow<'de, str>>()?;
            if key.as_deref() != Some("$serde_json::private::Number") {
                return Err(serde::de::Error::custom(NOT_AN_AMOUNT));
            }
            let text = map.next_value::<std::borrow::Cow<'de, str>>()?;
            exact(&text)
        }
    }

    /// The same for an optional amount.
    pub mod option {
        use rust_decimal::Decimal;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `Some` as a string, `None` as null.
        ///
        /// # Errors
        /// Whatever the serializer returns.
        #[allow(clippy::ref_option, reason = "serde's `with` passes by reference")]
        pub fn serialize<S: Serializer>(
            amount: &Option<Decimal>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match amount {
                Some(amount) => serializer.collect_str(amount),
                None => serializer.serialize_none(),
            }
        }

        /// Reads null, a string or a number, exactly.
        ///
        /// # Errors
        /// When the value is none of those, or does not parse as a decimal.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Decimal>, D::Error> {
            #[derive(Deserialize)]
            struct Exact(#[serde(with = "super")] Decimal);
            Ok(Option::<Exact>::deserialize(deserializer)?.map(|Exact(amount)| amount))
        }
    }

    /// The same for amounts by key (prices by ISO 4217 code).
    pub mod map {
        use std::collections::BTreeMap;

        use rust_decimal::Decimal;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes each amount as a string.
        ///
        /// # Errors
        /// Whatever the serializer returns.
        pub fn serialize<S: Serializer>(
            amounts: &BTreeMap<String, Decimal>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            serializer.collect_map(
                amounts
                    .iter()
                    .map(|(key, amount)| (key, amount.to_string())),
            )
        }

        /// Reads each amount exactly, from a string or a number.
        ///
        /// # Errors
        /// When a value does not parse as a decimal.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<BTreeMap<String, Decimal>, D::Error> {
            #[derive(Deserialize)]
            struct Exact(#[serde(with = "super")] Decimal);
            Ok(BTreeMap::<String, Exact>::deserialize(deserializer)?
                .into_iter()
                .map(|(key, Exact(amount))| (key, amount))
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn usd(amount: &str) -> Money {
        Money::new(
            Decimal::from_str(amount).unwrap(),
            Currency::from_code("USD").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn max_amount_is_one_quadrillion() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000_i64));
    }

    #[test]
    fn adding_past_the_maximum_is_an_error_not_a_panic() {
        let max = Money::new(MAX_AMOUNT, Currency::from_code("USD").unwrap()).unwrap();
        assert_eq!(max.checked_add(usd("0.01")), Err(MoneyError::Overflow));
        assert_eq!(max.checked_mul(Decimal::TWO), Err(MoneyError::Overflow));
        assert_eq!(
            Money::new(Decimal::MAX, max.currency()),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            usd("1").checked_mul(Decimal::MAX),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let yen = Money::zero(Currency::from_code("JPY").unwrap());
        assert!(matches!(
            usd("1").checked_add(yen),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        assert!(matches!(
            usd("1").checked_sub(yen),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(usd("0.10").checked_add(usd("0.20")).unwrap(), usd("0.30"));
        assert_eq!(
            usd("19.99")
                .checked_mul(Decimal::from(3))
                .unwrap()
                .amount()
                .to_string(),
            "59.97"
        );
        assert_eq!(usd("5").checked_sub(usd("7.5")).unwrap(), usd("-2.5"));
    }

    #[test]
    fn zero_carries_the_currency_scale() {
        assert_eq!(
            Money::zero(Currency::from_code("KWD").unwrap())
                .amount()
                .to_string(),
            "0.000"
        );
    }

    #[test]
    fn amounts_with_more_digits_than_a_decimal_holds_are_refused_not_rounded() {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(with = "amount_serde")]
            amount: Decimal,
        }
        let read = |json: &str| serde_json::from_str::<Body>(json).map(|body| body.amount);
        for json in [
            r#"{"amount": "19.989999999999999999999999999999"}"#,
            r#"{"amount": 19.989999999999999999999999999999}"#,
            r#"{"amount": "0.000000000000000000000000000001"}"#,
            r#"{"amount": 1e400}"#,
            r#"{"amount": {"units": "1.00"}}"#,
        ] {
            let error = read(json).unwrap_err().to_string();
            assert!(error.starts_with("not a valid amount"), "{json}: {error}");
        }
        assert_eq!(read(r#"{"amount": "19.99"}"#).unwrap().to_string(), "19.99");
        assert_eq!(read(r#"{"amount": 19.990}"#).unwrap().to_string(), "19.990");
        assert_eq!(read(r#"{"amount": 7}"#).unwrap().to_string(), "7");
        assert_eq!(
            read(r#"{"amount": "0.0000000000000000000000000001"}"#)
                .unwrap()
                .scale(),
            28
        );
    }

    #[test]
    fn json_amounts_are_strings_and_numbers_are_read_exactly() {
        let money = usd("29.99");
        assert_eq!(
            serde_json::to_string(&money).unwrap(),
            r#"{"amount":"29.99","currency":"USD"}"#
        );
        // 17 significant digits: an f64 would round this.
        let read: Money =
            serde_json::from_str(r#"{"amount":1234567.0123456789012,"currency":"USD"}"#).unwrap();
        assert_eq!(read.amount().to_string(), "1234567.0123456789012");
        let read: Money =
            serde_json::from_str(r#"{"amount":"0.1000000000000000055511","currency":"USD"}"#)
                .unwrap();
        assert_eq!(read.amount().to_string(), "0.1000000000000000055511");
    }
}
