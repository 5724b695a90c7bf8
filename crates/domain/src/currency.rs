//! ISO 4217 currencies whose minor units are known.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 4217 currency that ordo can price in: one with a defined number of minor units.
///
/// Codes without minor units (gold `XAU`, `XXX`) and codes ISO has withdrawn are rejected, so
/// every `Currency` knows how many decimals its amounts carry.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    iso: iso_currency::Currency,
    minor_units: u8,
}

/// A currency code that is not an ISO 4217 currency ordo can price in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown currency code {code:?}: expected an ISO 4217 code with minor units, such as \"USD\""
)]
pub struct UnknownCurrency {
    /// The code as given.
    pub code: String,
}

impl Currency {
    /// Looks a currency up by its three-letter code, upper case (`"USD"`).
    ///
    /// # Errors
    /// [`UnknownCurrency`] when the code is not ISO 4217, has no minor units, or is withdrawn.
    pub fn from_code(code: &str) -> Result<Self, UnknownCurrency> {
        let unknown = || UnknownCurrency {
            code: code.to_owned(),
        };
        let iso = iso_currency::Currency::from_code(code).ok_or_else(unknown)?;
        if iso.is_special() || iso.is_superseded().is_some() {
            return Err(unknown());
        }
        let minor_units = iso
            .exponent()
            .and_then(|e| u8::try_from(e).ok())
            .ok_or_else(unknown)?;
        Ok(Self { iso, minor_units })
    }

    /// The three-letter code (`"USD"`).
    pub fn code(self) -> &'static str {
        self.iso.code()
    }

    /// How many decimals an amount in this currency carries: 2 for USD, 0 for JPY, 3 for KWD.
    pub fn minor_units(self) -> u8 {
        self.minor_units
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::from_code(code)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_code(&code).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_come_from_iso_4217() {
        assert_eq!(Currency::from_code("USD").unwrap().minor_units(), 2);
        assert_eq!(Currency::from_code("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::from_code("KWD").unwrap().minor_units(), 3);
        assert_eq!(Currency::from_code("EUR").unwrap().code(), "EUR");
    }

    #[test]
    fn codes_without_minor_units_are_rejected() {
        for code in ["XAU", "XXX", "usd", "US", "ABC", ""] {
            assert!(
                Currency::from_code(code).is_err(),
                "{code} should be rejected"
            );
        }
    }
}
