//! Human-readable order numbers: `ORD-261122-7KQ3M9AX`.
//!
//! # Shape
//! `ORD-` + the order's UTC date as `YYMMDD` + `-` + seven Crockford base-32 characters + one
//! check character. Crockford's alphabet has no I, L, O or U, so a number read aloud is not
//! misheard; on input `O` reads as `0` and `I`/`L` as `1`, and case does not matter.
//!
//! # Unique by construction
//! The seven characters encode a 35-bit code that is a *bijection* of the order's sequence value,
//! which storage draws from a database sequence shared by every replica. Distinct sequence values
//! always give distinct codes, so two orders can never share a number, whatever their dates;
//! nothing is random and nothing needs a retry. 2^35 (34 billion) orders fit.
//!
//! # Not revealing volume
//! The bijection is a keyed Feistel permutation (six rounds over 36 bits, cycle-walked into
//! 35), so consecutive orders get unrelated-looking codes and two numbers say nothing about how
//! many orders came between them. Set your own [`OrderNumberKey`] in production: with the
//! public default key, anyone who reads this source can invert the codes.
//!
//! # Check character
//! The last character is a Luhn mod 32 check over the date digits and the code. Any single
//! mistyped character, and most swaps of neighbours, fail [`OrderNumber::parse`] instead of
//! naming another order.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Crockford's base-32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const PREFIX: &str = "ORD-";
const CODE_CHARS: usize = 7;
const CODE_BITS: u32 = 35;
/// The Feistel network permutes 36 bits (two 18-bit halves); cycle-walking keeps it in 35.
const HALF_BITS: u32 = 18;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
const ROUNDS: u64 = 6;

/// How many distinct order numbers exist: sequence values must be below this.
pub const SEQUENCE_LIMIT: u64 = 1 << CODE_BITS;

/// The secret that scrambles sequence values into order codes. Configure it per deployment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OrderNumberKey(u64);

impl OrderNumberKey {
    /// The key used when none is configured. Public, so it hides nothing from a reader of the
    /// source; it still keeps numbers from looking sequential.
    pub const DEFAULT: Self = Self(0x6F72_646F_5F6B_6579);

    /// A key from 64 secret bits.
    pub const fn new(secret: u64) -> Self {
        Self(secret)
    }
}

impl Default for OrderNumberKey {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Debug for OrderNumberKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OrderNumberKey(<redacted>)")
    }
}

/// A valid order number. Its text is canonical: upper case, no aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderNumber {
    date: NaiveDate,
    code: u64,
}

/// Why an order number cannot be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderNumberError {
    /// The sequence has run past [`SEQUENCE_LIMIT`].
    #[error("sequence value {0} is past the {SEQUENCE_LIMIT} order numbers that exist")]
    SequenceExhausted(u64),
    /// The date is outside 2000-01-01..=2099-12-31, which two year digits can show.
    #[error("the date {0} cannot be written as YYMMDD")]
    DateOutOfRange(NaiveDate),
    /// The text is not shaped like `ORD-YYMMDD-XXXXXXXC`.
    #[error("an order number looks like ORD-261122-7KQ3M9AX")]
    Malformed,
    /// The text is shaped right but its check character does not match: a typo.
    #[error("the order number's check character does not match: check it for a typo")]
    CheckFailed,
}

impl OrderNumber {
    /// The number for `sequence` (a value storage drew from its shared sequence) on `date`.
    ///
    /// # Errors
    /// [`OrderNumberError::SequenceExhausted`] or [`OrderNumberError::DateOutOfRange`].
    pub fn from_sequence(
        sequence: u64,
        date: NaiveDate,
        key: OrderNumberKey,
    ) -> Result<Self, OrderNumberError> {
        if sequence >= SEQUENCE_LIMIT {
            return Err(OrderNumberError::SequenceExhausted(sequence));
        }
        if !(2000..=2099).contains(&date.year()) {
            return Err(OrderNumberError::DateOutOfRange(date));
        }
        Ok(Self {
            date,
            code: permute(sequence, key),
        })
    }

    /// The sequence value this number was made from (needs the key it was made with).
    pub fn sequence(&self, key: OrderNumberKey) -> u64 {
        unpermute(self.code, key)
    }

    /// The UTC date written in the number.
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// Reads a number, accepting lower case and Crockford's aliases (`O`→`0`, `I`/`L`→`1`).
    ///
    /// # Errors
    /// [`OrderNumberError::Malformed`], or [`OrderNumberError::CheckFailed`] for a typo.
    pub fn parse(text: &str) -> Result<Self, OrderNumberError> {
        let text = text.trim().to_ascii_uppercase();
        let rest = text
            .strip_prefix(PREFIX)
            .ok_or(OrderNumberError::Malformed)?;
        let (date_text, code_text) = rest.split_once('-').ok_or(OrderNumberError::Malformed)?;
        let date = parse_date(date_text)?;
        let symbols = code_text
            .bytes()
            .map(symbol_value)
            .collect::<Option<Vec<u8>>>();
        let symbols = symbols.ok_or(OrderNumberError::Malformed)?;
        let (check, code_symbols) = symbols.split_last().ok_or(OrderNumberError::Malformed)?;
        if code_symbols.len() != CODE_CHARS {
            return Err(OrderNumberError::Malformed);
        }
        let code = code_symbols
            .iter()
            .fold(0_u64, |code, &symbol| (code << 5) | u64::from(symbol));
        let number = Self { date, code };
        if number.check_symbol() != *check {
            return Err(OrderNumberError::CheckFailed);
        }
        Ok(number)
    }

    fn code_symbols(&self) -> [u8; CODE_CHARS] {
        let mut symbols = [0_u8; CODE_CHARS];
        let mut rest = self.code;
        for symbol in symbols.iter_mut().rev() {
            *symbol = low_five_bits(rest);
            rest >>= 5;
        }
        symbols
    }

    fn date_digits(&self) -> [u8; 6] {
        let two_digits = |n: u32| [digit(n / 10), digit(n % 10)];
        let [y1, y2] = two_digits(self.date.year_ce().1 % 100);
        let [m1, m2] = two_digits(self.date.month());
        let [d1, d2] = two_digits(self.date.day());
        [y1, y2, m1, m2, d1, d2]
    }

    fn check_symbol(&self) -> u8 {
        luhn_mod_32(
            self.date_digits()
                .iter()
                .chain(self.code_symbols().iter())
                .copied(),
        )
    }
}

impl fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        for digit in self.date_digits() {
            write!(f, "{digit}")?;
        }
        f.write_str("-")?;
        for symbol in self.code_symbols().into_iter().chain([self.check_symbol()]) {
            write!(f, "{}", char::from(alphabet_char(symbol)))?;
        }
        Ok(())
    }
}

impl FromStr for OrderNumber {
    type Err = OrderNumberError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for OrderNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OrderNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn parse_date(text: &str) -> Result<NaiveDate, OrderNumberError> {
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OrderNumberError::Malformed);
    }
    let field = |range: std::ops::Range<usize>| {
        text.get(range)
            .and_then(|part| part.parse::<u32>().ok())
            .ok_or(OrderNumberError::Malformed)
    };
    let year = i32::try_from(field(0..2)?).map_err(|_| OrderNumberError::Malformed)?;
    NaiveDate::from_ymd_opt(2000_i32.saturating_add(year), field(2..4)?, field(4..6)?)
        .ok_or(OrderNumberError::Malformed)
}

/// The value (0..32) of a Crockford symbol, with its aliases; `None` for anything else.
fn symbol_value(byte: u8) -> Option<u8> {
    let canonical = match byte {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&c| c == canonical)
        .and_then(|index| u8::try_from(index).ok())
}

fn alphabet_char(symbol: u8) -> u8 {
    ALPHABET
        .get(usize::from(symbol & 31))
        .copied()
        .unwrap_or(b'0')
}

fn low_five_bits(value: u64) -> u8 {
    u8::try_from(value & 31).unwrap_or(0)
}

fn digit(n: u32) -> u8 {
    u8::try_from(n % 10).unwrap_or(0)
}

/// Luhn mod N (N = 32): detects every single-symbol substitution.
fn luhn_mod_32(symbols: impl DoubleEndedIterator<Item = u8>) -> u8 {
    let mut sum = 0_u32;
    // From the right, every other symbol is doubled and its base-32 digits summed.
    for (position, symbol) in symbols.rev().enumerate() {
        let value = u32::from(symbol);
        // Values are below 32 and there are a dozen of them: none of this can overflow.
        let addend = if position % 2 == 0 {
            let doubled = value.wrapping_mul(2);
            (doubled >> 5).wrapping_add(doubled & 31)
        } else {
            value
        };
        sum = sum.wrapping_add(addend);
    }
    u8::try_from(32_u32.wrapping_sub(sum & 31) & 31).unwrap_or(0)
}

fn round_function(half: u64, round: u64, key: OrderNumberKey) -> u64 {
    // splitmix64's finaliser over key, round and input: cheap, well mixed, and not secret.
    let mut z = key.0 ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ half;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & HALF_MASK
}

fn feistel(value: u64, key: OrderNumberKey) -> u64 {
    let (mut left, mut right) = (value >> HALF_BITS, value & HALF_MASK);
    for round in 0..ROUNDS {
        (left, right) = (right, left ^ round_function(right, round, key));
    }
    (left << HALF_BITS) | right
}

fn feistel_inverse(value: u64, key: OrderNumberKey) -> u64 {
    let (mut left, mut right) = (value >> HALF_BITS, value & HALF_MASK);
    for round in (0..ROUNDS).rev() {
        (left, right) = (right ^ round_function(left, round, key), left);
    }
    (left << HALF_BITS) | right
}

/// Cycle-walking: a permutation of 36 bits, applied until the value lands in 35 bits, is a
/// permutation of 35 bits. It ends because the walk is on a cycle that holds the start.
fn permute(sequence: u64, key: OrderNumberKey) -> u64 {
    let mut value = feistel(sequence, key);
    while value >= SEQUENCE_LIMIT {
        value = feistel(value, key);
    }
    value
}

fn unpermute(code: u64, key: OrderNumberKey) -> u64 {
    let mut value = feistel_inverse(code, key);
    while value >= SEQUENCE_LIMIT {
        value = feistel_inverse(value, key);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn a_number_reads_as_documented() {
        let number = OrderNumber::from_sequence(1, day(), OrderNumberKey::DEFAULT).unwrap();
        let text = number.to_string();
        assert!(text.starts_with("ORD-261122-"), "{text}");
        assert_eq!(text.len(), "ORD-261122-".len() + CODE_CHARS + 1);
        assert_eq!(text.parse::<OrderNumber>(), Ok(number));
        assert_eq!(number.sequence(OrderNumberKey::DEFAULT), 1);
    }

    #[test]
    fn consecutive_sequences_do_not_look_consecutive() {
        let key = OrderNumberKey::DEFAULT;
        let codes: Vec<u64> = (1..=4)
            .map(|s| OrderNumber::from_sequence(s, day(), key).unwrap().code)
            .collect();
        for pair in codes.windows(2) {
            assert!(pair[0].abs_diff(pair[1]) > 1_000, "{codes:?}");
        }
    }

    #[test]
    fn lower_case_and_aliases_are_read() {
        let number = OrderNumber::from_sequence(42, day(), OrderNumberKey::DEFAULT).unwrap();
        let text = number.to_string().to_lowercase();
        assert_eq!(text.parse::<OrderNumber>(), Ok(number));
        let text = number.to_string();
        let (head, code) = text.rsplit_once('-').unwrap();
        let with_aliases = format!("{head}-{}", code.replace('0', "O").replace('1', "l"));
        assert_eq!(with_aliases.parse::<OrderNumber>(), Ok(number));
    }

    #[test]
    fn malformed_numbers_are_rejected() {
        for text in [
            "",
            "ORD-",
            "ORD-261122",
            "ORD-261322-0000000A",
            "ORX-261122-0000000A",
            "ORD-261122-000000U0",
            "ORD-261122-00000000000",
            "ORD-2611-22-0000000",
        ] {
            assert!(
                OrderNumber::parse(text).is_err(),
                "{text} should be rejected"
            );
        }
    }

    #[test]
    fn the_sequence_has_a_limit() {
        let key = OrderNumberKey::DEFAULT;
        assert!(OrderNumber::from_sequence(SEQUENCE_LIMIT - 1, day(), key).is_ok());
        assert_eq!(
            OrderNumber::from_sequence(SEQUENCE_LIMIT, day(), key),
            Err(OrderNumberError::SequenceExhausted(SEQUENCE_LIMIT))
        );
        let old = NaiveDate::from_ymd_opt(1999, 12, 31).unwrap();
        assert!(OrderNumber::from_sequence(1, old, key).is_err());
    }

    #[test]
    fn keys_are_not_printed() {
        assert_eq!(
            format!("{:?}", OrderNumberKey::new(7)),
            "OrderNumberKey(<redacted>)"
        );
    }
}
