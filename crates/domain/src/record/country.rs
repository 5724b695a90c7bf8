//! Countries, as ISO 3166-1 alpha-2 codes.

use serde::Deserialize;

use super::text::text_type;
use crate::validation::Violation;

/// The 249 officially assigned ISO 3166-1 alpha-2 codes, sorted (checked by a test, and
/// against Debian's `iso-codes` when written). Exceptionally reserved codes such as `UK` and
/// `EU` are not countries and are left out.
pub const COUNTRY_CODES: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// A country as its ISO 3166-1 alpha-2 code, uppercase only: `DE`, not `de` or `Germany`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct CountryCode(&'static str);

impl CountryCode {
    /// A country code, exactly as given: no trimming, no case folding.
    ///
    /// # Errors
    /// [`Violation::UnknownCountry`].
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        COUNTRY_CODES
            .binary_search(&raw)
            .ok()
            .and_then(|index| COUNTRY_CODES.get(index))
            .map(|code| Self(code))
            .ok_or(Violation::UnknownCountry)
    }

    /// The two-letter code.
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

text_type!(CountryCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_249_sorted_unique_two_letter_codes() {
        assert_eq!(COUNTRY_CODES.len(), 249);
        assert!(COUNTRY_CODES.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(
            COUNTRY_CODES
                .iter()
                .all(|code| code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
        );
    }

    #[test]
    fn every_listed_code_parses_to_itself() {
        for code in COUNTRY_CODES {
            assert_eq!(CountryCode::parse(code).unwrap().as_str(), code);
        }
    }

    #[test]
    fn only_assigned_uppercase_codes_are_countries() {
        for bad in [
            "de", "De", "DEU", "Germany", "", " DE", "UK", "EU", "XK", "ZZ", "AA",
        ] {
            assert_eq!(
                CountryCode::parse(bad),
                Err(Violation::UnknownCountry),
                "{bad}"
            );
        }
        assert!(
            Violation::UnknownCountry
                .to_string()
                .contains(r#"expected an ISO 3166-1 alpha-2 code such as "DE""#)
        );
    }
}
