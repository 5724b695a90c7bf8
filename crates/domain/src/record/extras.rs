//! What an order carries besides goods and addresses: notes, tags and metadata.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::text::{self, text_type};
use crate::validation::{Collector, ValidationErrors, Violation};

/// The longest note (customer's or staff's), in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;
/// The longest tag, in characters, after normalisation.
pub const MAX_TAG_CHARS: usize = 40;
/// The most tags one order may have, after duplicates collapse.
pub const MAX_TAGS: usize = 20;
/// The most metadata entries (Stripe's limit, so metadata passes through to it unchanged).
pub const MAX_METADATA_ENTRIES: usize = 50;
/// The longest metadata key, in characters (Stripe's limit).
pub const MAX_METADATA_KEY_CHARS: usize = 40;
/// The longest metadata value, in characters (Stripe's limit).
pub const MAX_METADATA_VALUE_CHARS: usize = 500;

/// A free-text note from the customer or the staff: 1 to [`MAX_NOTE_CHARS`] characters,
/// trimmed, line breaks (`\n`, `\r`) allowed, no other control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Note(String);

impl Note {
    /// A note, trimmed.
    ///
    /// # Errors
    /// [`Violation::Empty`], [`Violation::ControlCharacter`] or [`Violation::TooLong`].
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        text::lines(raw, MAX_NOTE_CHARS).map(Self)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_type!(Note);

/// A label staff filter orders by, normalised so `VIP ` and `vip` are one tag: trimmed and
/// lowercased, then 1 to [`MAX_TAG_CHARS`] letters, digits, `-`, `_` and spaces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Tag(String);

impl Tag {
    /// A tag, normalised.
    ///
    /// # Errors
    /// [`Violation::Empty`], [`Violation::ControlCharacter`], [`Violation::InvalidTag`] or
    /// [`Violation::TooLong`].
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        text::refuse_control(raw, false)?;
        let tag = raw.trim().to_lowercase();
        if tag.is_empty() {
            return Err(Violation::Empty);
        }
        if !tag
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        {
            return Err(Violation::InvalidTag);
        }
        text::within(&tag, MAX_TAG_CHARS)?;
        Ok(Self(tag))
    }

    /// The normalised tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_type!(Tag);

/// An order's tags: at most [`MAX_TAGS`] after duplicates collapse, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Tags(BTreeSet<Tag>);

impl Tags {
    /// Checks every tag; errors name `tags[{index}]` (`tags` when there are too many).
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in input order.
    pub fn parse(raw: &[String]) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let mut tags = BTreeSet::new();
        let mut ok = true;
        for (index, raw) in raw.iter().enumerate() {
            match errors.check(|| format!("tags[{index}]"), Tag::parse(raw)) {
                Some(tag) => {
                    tags.insert(tag);
                }
                None => ok = false,
            }
        }
        if tags.len() > MAX_TAGS {
            errors.push("tags", Violation::TooManyEntries { max: MAX_TAGS });
            ok = false;
        }
        errors.finish(ok.then_some(Self(tags)))
    }

    /// The tags, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.0.iter()
    }

    /// Whether `tag` is one of them.
    pub fn contains(&self, tag: &Tag) -> bool {
        self.0.contains(tag)
    }

    /// How many tags.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An integrator's key–value pairs, within Stripe's limits so they can be passed on as they
/// are: at most [`MAX_METADATA_ENTRIES`] keys of 1 to [`MAX_METADATA_KEY_CHARS`] characters
/// (exact, no white space at either end), values of at most [`MAX_METADATA_VALUE_CHARS`]
/// characters (kept as given, empty allowed), no control characters.
///
/// Values are strings only. The parse takes a map of strings, not a JSON value, so the domain
/// needs no `serde_json`: the HTTP layer refuses numbers, booleans and objects while reading
/// the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Checks every entry; errors name `metadata.{key}` (`metadata` when there are too many).
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in key order.
    pub fn parse(raw: &BTreeMap<String, String>) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let mut ok = true;
        if raw.len() > MAX_METADATA_ENTRIES {
            errors.push(
                "metadata",
                Violation::TooManyEntries {
                    max: MAX_METADATA_ENTRIES,
                },
            );
            ok = false;
        }
        for (key, value) in raw {
            let field = || format!("metadata.{}", key.escape_debug());
            let key_ok = errors.check(field, text::key(key, MAX_METADATA_KEY_CHARS));
            let value_ok = errors.check(field, metadata_value(value));
            ok = ok && key_ok.is_some() && value_ok.is_some();
        }
        errors.finish(ok.then(|| Self(raw.clone())))
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The entries, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn metadata_value(value: &str) -> Result<(), Violation> {
    text::refuse_control(value, false)?;
    text::within(value, MAX_METADATA_VALUE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_keep_line_breaks_but_no_other_control_character() {
        assert_eq!(
            Note::parse("  Leave at the door.\r\nThanks!\n")
                .unwrap()
                .as_str(),
            "Leave at the door.\r\nThanks!"
        );
        assert_eq!(Note::parse("a\tb"), Err(Violation::ControlCharacter));
        assert_eq!(Note::parse("a\u{0}"), Err(Violation::ControlCharacter));
        assert_eq!(Note::parse(" \n "), Err(Violation::Empty));
        assert!(Note::parse(&"n".repeat(2_000)).is_ok());
        assert_eq!(
            Note::parse(&"n".repeat(2_001)),
            Err(Violation::TooLong { max: 2_000 })
        );
    }

    #[test]
    fn tags_are_trimmed_and_lowercased() {
        assert_eq!(
            Tag::parse("  VIP Customer ").unwrap().as_str(),
            "vip customer"
        );
        assert_eq!(Tag::parse("Großhandel_2").unwrap().as_str(), "großhandel_2");
        assert_eq!(Tag::parse("re-order").unwrap().as_str(), "re-order");
    }

    #[test]
    fn tags_refuse_punctuation_blanks_and_length() {
        for bad in ["vip!", "a.b", "#sale", "a/b", "a\u{a0}b"] {
            assert_eq!(Tag::parse(bad), Err(Violation::InvalidTag), "{bad}");
        }
        assert_eq!(Tag::parse("   "), Err(Violation::Empty));
        assert_eq!(Tag::parse("a\tb"), Err(Violation::ControlCharacter));
        assert!(Tag::parse(&"t".repeat(40)).is_ok());
        assert_eq!(
            Tag::parse(&"t".repeat(41)),
            Err(Violation::TooLong { max: 40 })
        );
    }

    #[test]
    fn duplicate_tags_collapse_and_sort() {
        let raw = ["vip", "Wholesale", " VIP", "b2b"].map(String::from);
        let tags = Tags::parse(&raw).unwrap();
        assert_eq!(
            tags.iter().map(Tag::as_str).collect::<Vec<_>>(),
            ["b2b", "vip", "wholesale"]
        );
    }

    #[test]
    fn at_most_twenty_tags_counted_after_duplicates_collapse() {
        let twenty: Vec<String> = (0..20).map(|n| format!("t{n}")).collect();
        let mut with_duplicates = twenty.clone();
        with_duplicates.extend(twenty.iter().map(|t| t.to_uppercase()));
        assert_eq!(Tags::parse(&with_duplicates).unwrap().len(), 20);
        let mut too_many = twenty;
        too_many.push("t20".into());
        assert_eq!(
            Tags::parse(&too_many).unwrap_err().for_field("tags"),
            Some(&Violation::TooManyEntries { max: 20 })
        );
    }

    #[test]
    fn a_bad_tag_is_named_by_its_index() {
        let raw = ["ok", "not ok!"].map(String::from);
        assert_eq!(
            Tags::parse(&raw).unwrap_err().for_field("tags[1]"),
            Some(&Violation::InvalidTag)
        );
    }

    #[test]
    fn metadata_keeps_values_as_given_within_stripes_limits() {
        let raw = BTreeMap::from([
            ("erp_id".to_owned(), " 00123 ".to_owned()),
            ("empty".to_owned(), String::new()),
            ("k".repeat(40), "v".repeat(500)),
        ]);
        let metadata = Metadata::parse(&raw).unwrap();
        assert_eq!(metadata.get("erp_id"), Some(" 00123 "));
        assert_eq!(metadata.get("empty"), Some(""));
        assert_eq!(metadata.len(), 3);
    }

    #[test]
    fn metadata_errors_name_the_key() {
        let raw = BTreeMap::from([
            ("erp_id".to_owned(), "v".repeat(501)),
            ("note".to_owned(), "a\nb".to_owned()),
            ("k".repeat(41), "v".to_owned()),
            (" padded".to_owned(), "v".to_owned()),
        ]);
        let errors = Metadata::parse(&raw).unwrap_err();
        assert_eq!(
            errors.for_field("metadata.erp_id"),
            Some(&Violation::TooLong { max: 500 })
        );
        assert_eq!(
            errors.for_field("metadata.note"),
            Some(&Violation::ControlCharacter)
        );
        assert_eq!(
            errors.for_field(&format!("metadata.{}", "k".repeat(41))),
            Some(&Violation::InvalidKey { max: 40 })
        );
        assert_eq!(
            errors.for_field("metadata. padded"),
            Some(&Violation::InvalidKey { max: 40 })
        );
    }

    #[test]
    fn at_most_fifty_metadata_entries() {
        let fifty: BTreeMap<String, String> =
            (0..50).map(|n| (format!("k{n}"), "v".into())).collect();
        assert!(Metadata::parse(&fifty).is_ok());
        let mut too_many = fifty;
        too_many.insert("k50".into(), "v".into());
        assert_eq!(
            Metadata::parse(&too_many)
                .unwrap_err()
                .for_field("metadata"),
            Some(&Violation::TooManyEntries { max: 50 })
        );
    }
}
