//! Who to contact about an order: an email address, an optional phone number and name.

use serde::{Deserialize, Serialize};

use super::text::{self, text_type};
use crate::validation::{Collector, ValidationErrors, Violation};

/// The longest email address, in characters (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The longest part of an email address before the `@`, in characters (RFC 5321).
pub const MAX_EMAIL_LOCAL_CHARS: usize = 64;
/// The fewest digits of an E.164 phone number we accept.
pub const MIN_PHONE_DIGITS: usize = 8;
/// The most digits of an E.164 phone number.
pub const MAX_PHONE_DIGITS: usize = 15;
/// The longest person name, in characters.
pub const MAX_PERSON_NAME_CHARS: usize = 200;

/// An email address, checked pragmatically rather than by the full RFC 5322 grammar: one `@`,
/// 1 to [`MAX_EMAIL_LOCAL_CHARS`] characters before it without white space, and a domain of at
/// least two dot-separated labels of ASCII letters, digits and inner hyphens (an international
/// domain arrives in its `xn--` form). Kept exactly as given, trimmed; equality compares that
/// text, [`Email::match_key`] ignores case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Email(String);

impl Email {
    /// An email address, trimmed.
    ///
    /// # Errors
    /// [`Violation::Empty`], [`Violation::ControlCharacter`], [`Violation::TooLong`] or
    /// [`Violation::InvalidEmail`].
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let text = text::line(raw, MAX_EMAIL_CHARS)?;
        let (local, domain) = text.split_once('@').ok_or(Violation::InvalidEmail)?;
        let local_ok = !local.is_empty()
            && local.chars().count() <= MAX_EMAIL_LOCAL_CHARS
            && !local.chars().any(char::is_whitespace);
        if local_ok && is_domain(domain) {
            Ok(Self(text))
        } else {
            Err(Violation::InvalidEmail)
        }
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lowercased address, for matching one customer's orders whatever case they typed.
    pub fn match_key(&self) -> String {
        self.0.to_lowercase()
    }
}

text_type!(Email);

/// At least two labels, each 1 to 63 ASCII letters, digits or hyphens, not starting or ending
/// with a hyphen (the DNS's rules). A second `@` fails here too.
fn is_domain(domain: &str) -> bool {
    domain.contains('.')
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A phone number in E.164 form: `+`, then [`MIN_PHONE_DIGITS`] to [`MAX_PHONE_DIGITS`] ASCII
/// digits, the first not 0. No spaces, dashes or brackets: one spelling per number, so numbers
/// compare and dial as stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Phone(String);

impl Phone {
    /// A phone number, trimmed.
    ///
    /// # Errors
    /// [`Violation::Empty`], [`Violation::ControlCharacter`] or [`Violation::InvalidPhone`].
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        text::refuse_control(raw, false)?;
        let text = raw.trim();
        if text.is_empty() {
            return Err(Violation::Empty);
        }
        let digits = text.strip_prefix('+').ok_or(Violation::InvalidPhone)?;
        if (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
        {
            Ok(Self(text.to_owned()))
        } else {
            Err(Violation::InvalidPhone)
        }
    }

    /// The number, `+` and digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_type!(Phone);

/// A person's name as they wrote it: 1 to [`MAX_PERSON_NAME_CHARS`] characters, trimmed, no
/// control characters. No other rule: names have too many forms to guess at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct PersonName(String);

impl PersonName {
    /// A name, trimmed.
    ///
    /// # Errors
    /// [`Violation::Empty`], [`Violation::ControlCharacter`] or [`Violation::TooLong`].
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        text::line(raw, MAX_PERSON_NAME_CHARS).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_type!(PersonName);

/// A contact as a client sends it. Parse it with [`Contact::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactDraft {
    /// The email address.
    pub email: String,
    /// An optional phone number; blank counts as absent.
    #[serde(default)]
    pub phone: Option<String>,
    /// An optional name; blank counts as absent.
    #[serde(default)]
    pub name: Option<String>,
}

/// Who to contact about an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    email: Email,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<Phone>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<PersonName>,
}

impl Contact {
    /// Checks every field and reports every broken one (`contact.email`, `contact.phone`,
    /// `contact.name`).
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in field order.
    pub fn parse(draft: &ContactDraft) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let email = errors.check(|| "contact.email".into(), Email::parse(&draft.email));
        let phone = errors.check(
            || "contact.phone".into(),
            text::optional(draft.phone.as_deref(), Phone::parse),
        );
        let name = errors.check(
            || "contact.name".into(),
            text::optional(draft.name.as_deref(), PersonName::parse),
        );
        let contact = match (email, phone, name) {
            (Some(email), Some(phone), Some(name)) => Some(Self { email, phone, name }),
            _ => None,
        };
        errors.finish(contact)
    }

    /// The email address.
    pub fn email(&self) -> &Email {
        &self.email
    }

    /// The phone number, if given.
    pub fn phone(&self) -> Option<&Phone> {
        self.phone.as_ref()
    }

    /// The name, if given.
    pub fn name(&self) -> Option<&PersonName> {
        self.name.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_email_addresses_are_accepted_as_given() {
        for good in [
            "ada@example.com",
            "Ada.Lovelace+orders@Mail.Example.co.uk",
            "o'brien@xn--bcher-kva.de",
            "ünïcode@example.org",
        ] {
            assert_eq!(
                Email::parse(good).map(|e| e.as_str().to_owned()),
                Ok(good.to_owned())
            );
        }
        assert_eq!(
            Email::parse("  ada@example.com ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_email_addresses_are_refused() {
        for bad in [
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@@example.com",
            "ada@b@example.com",
            "a da@example.com",
            "ada@exa mple.com",
            "ada@example..com",
            "ada@.example.com",
            "ada@example.com.",
            "ada@-example.com",
            "ada@example-.com",
            "ada@exam_ple.com",
            "ada@bücher.de",
        ] {
            assert_eq!(Email::parse(bad), Err(Violation::InvalidEmail), "{bad}");
        }
    }

    #[test]
    fn email_limits_are_64_before_the_at_and_254_in_all() {
        let local = "a".repeat(MAX_EMAIL_LOCAL_CHARS);
        assert!(Email::parse(&format!("{local}@example.com")).is_ok());
        assert_eq!(
            Email::parse(&format!("{local}a@example.com")),
            Err(Violation::InvalidEmail)
        );
        let label = "b".repeat(61);
        let long = format!("ada@{label}.{label}.{label}.{label}.com");
        assert_eq!(long.len(), 255);
        assert_eq!(Email::parse(&long), Err(Violation::TooLong { max: 254 }));
        assert_eq!(Email::parse(&long[1..]).map(|_| ()), Ok(()));
        assert_eq!(Email::parse(" "), Err(Violation::Empty));
        assert_eq!(
            Email::parse("ada@example.com\0"),
            Err(Violation::ControlCharacter)
        );
    }

    #[test]
    fn emails_compare_as_given_and_match_ignoring_case() {
        let lower = Email::parse("ada@example.com").unwrap();
        let upper = Email::parse("ADA@Example.COM").unwrap();
        assert_ne!(lower, upper);
        assert_eq!(lower.match_key(), upper.match_key());
    }

    #[test]
    fn phone_numbers_are_e164_only() {
        for good in ["+14155550100", "+49301234", "+123456789012345"] {
            assert_eq!(Phone::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "14155550100",
            "+1415555",
            "+1234567890123456",
            "+04155550100",
            "+1 415 555 0100",
            "+1-415-555-0100",
            "+1(415)5550100",
            "++14155550100",
            "+１４１５５５５０１００",
        ] {
            assert_eq!(Phone::parse(bad), Err(Violation::InvalidPhone), "{bad}");
        }
        assert_eq!(Phone::parse(""), Err(Violation::Empty));
        assert!(Violation::InvalidPhone.to_string().contains("+14155550100"));
    }

    #[test]
    fn person_names_are_trimmed_and_bounded() {
        assert_eq!(
            PersonName::parse("  Zoë O'Brien ").unwrap().as_str(),
            "Zoë O'Brien"
        );
        assert_eq!(
            PersonName::parse(&"x".repeat(201)),
            Err(Violation::TooLong { max: 200 })
        );
        assert_eq!(
            PersonName::parse("Ada\u{7f}"),
            Err(Violation::ControlCharacter)
        );
    }

    #[test]
    fn a_contact_reports_every_field_by_path() {
        let draft = ContactDraft {
            email: "nobody".into(),
            phone: Some("555-0100".into()),
            name: Some("\u{0}".into()),
        };
        let errors = Contact::parse(&draft).unwrap_err();
        assert_eq!(
            errors.for_field("contact.email"),
            Some(&Violation::InvalidEmail)
        );
        assert_eq!(
            errors.for_field("contact.phone"),
            Some(&Violation::InvalidPhone)
        );
        assert_eq!(
            errors.for_field("contact.name"),
            Some(&Violation::ControlCharacter)
        );
        assert_eq!(errors.errors().len(), 3);
    }

    #[test]
    fn a_contact_with_blank_optionals_has_none() {
        let draft = ContactDraft {
            email: "ada@example.com".into(),
            phone: Some(" ".into()),
            name: None,
        };
        let contact = Contact::parse(&draft).unwrap();
        assert_eq!(contact.phone(), None);
        assert_eq!(contact.name(), None);
        assert_eq!(contact.email().as_str(), "ada@example.com");
    }
}
