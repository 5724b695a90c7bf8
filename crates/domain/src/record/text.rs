//! The text rules every record field shares.
//!
//! Control characters are refused anywhere in the text *as given*, before trimming, so a stray
//! escape or line break at either end is reported rather than silently dropped. Lengths count
//! characters (Unicode scalar values), not bytes.

use crate::validation::Violation;

/// Refuses control characters; `line_breaks` lets `\n` and `\r` through (notes only).
pub(super) fn refuse_control(text: &str, line_breaks: bool) -> Result<(), Violation> {
    if text
        .chars()
        .any(|c| c.is_control() && !(line_breaks && matches!(c, '\n' | '\r')))
    {
        Err(Violation::ControlCharacter)
    } else {
        Ok(())
    }
}

/// Refuses a text of more than `max` characters.
pub(super) fn within(text: &str, max: usize) -> Result<(), Violation> {
    if text.chars().count() > max {
        Err(Violation::TooLong { max })
    } else {
        Ok(())
    }
}

/// Free text on one line: no control characters, trimmed, 1 to `max` characters.
pub(crate) fn line(raw: &str, max: usize) -> Result<String, Violation> {
    refuse_control(raw, false)?;
    trimmed(raw, max)
}

/// Free text over several lines: as [`line`], but `\n` and `\r` are allowed.
pub(crate) fn lines(raw: &str, max: usize) -> Result<String, Violation> {
    refuse_control(raw, true)?;
    trimmed(raw, max)
}

fn trimmed(raw: &str, max: usize) -> Result<String, Violation> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Violation::Empty);
    }
    within(text, max)?;
    Ok(text.to_owned())
}

/// An identifier, kept exactly as given: no control characters, no white space at either end,
/// 1 to `max` characters.
pub(super) fn exact(raw: &str, max: usize) -> Result<String, Violation> {
    refuse_control(raw, false)?;
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Violation::Empty);
    }
    if trimmed.len() != raw.len() {
        return Err(Violation::SurroundingWhitespace);
    }
    within(raw, max)?;
    Ok(raw.to_owned())
}

/// A map key (option name or metadata key): exact, 1 to `max` characters, no control
/// characters, no white space at either end. Any breach is [`Violation::InvalidKey`], so the
/// message says it is the key, not the value, that is wrong.
pub(super) fn key(raw: &str, max: usize) -> Result<String, Violation> {
    exact(raw, max).map_err(|_| Violation::InvalidKey { max })
}

/// An optional field: absent or blank is `None`, anything else must pass `parse`. A blank text
/// holding a control character is still refused.
pub(super) fn optional<T>(
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, Violation>,
) -> Result<Option<T>, Violation> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    refuse_control(raw, false)?;
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        parse(raw).map(Some)
    }
}

/// Serialises a text type as its text, reads it back through its `parse`, and displays it.
macro_rules! text_type {
    ($name:ident) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::Violation;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                Self::parse(&text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_type;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_line_break_is_refused_not_trimmed() {
        assert_eq!(line("Ada\n", 10), Err(Violation::ControlCharacter));
    }

    #[test]
    fn lines_keep_inner_line_breaks_and_refuse_tabs() {
        assert_eq!(lines(" a\r\nb \n", 10), Ok("a\r\nb".to_owned()));
        assert_eq!(lines("a\tb", 10), Err(Violation::ControlCharacter));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(line("ääää", 4), Ok("ääää".to_owned()));
        assert_eq!(line("äääää", 4), Err(Violation::TooLong { max: 4 }));
    }

    #[test]
    fn exact_text_is_not_trimmed() {
        assert_eq!(exact(" a", 5), Err(Violation::SurroundingWhitespace));
        assert_eq!(exact("a b", 5), Ok("a b".to_owned()));
        assert_eq!(exact("  ", 5), Err(Violation::Empty));
    }

    #[test]
    fn a_blank_optional_is_none_but_a_control_character_is_not_blank() {
        assert_eq!(optional(Some("  "), |t| line(t, 5)), Ok(None));
        assert_eq!(optional(None, |t| line(t, 5)), Ok(None));
        assert_eq!(
            optional(Some("\u{1b}"), |t| line(t, 5)),
            Err(Violation::ControlCharacter)
        );
    }
}
