//! What a line was when it was ordered: its SKU, title and options, kept with the order so
//! later catalogue edits do not rewrite history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::text::{self, text_type};
use crate::validation::{Collector, ValidationErrors, Violation};

/// The longest SKU, in characters.
pub const MAX_SKU_CHARS: usize = 64;
/// The longest product title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// The most variant options one line may have.
pub const MAX_OPTIONS: usize = 10;
/// The longest option name (`colour`), in characters.
pub const MAX_OPTION_KEY_CHARS: usize = 40;
/// The longest option value (`midnight blue`), in characters.
pub const MAX_OPTION_VALUE_CHARS: usize = 100;

/// A stock-keeping unit: 1 to [`MAX_SKU_CHARS`] characters, no control characters, no white
/// space at either end. Kept exactly as given (not trimmed, not case-folded): it identifies a
/// product in another system, which decides what is equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Sku(String);

impl Sku {
    /// A SKU, exactly as given.
    ///
    /// # Errors
    /// [`Violation::Empty`], [`Violation::ControlCharacter`],
    /// [`Violation::SurroundingWhitespace`] or [`Violation::TooLong`].
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        text::exact(raw, MAX_SKU_CHARS).map(Self)
    }

    /// The SKU.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_type!(Sku);

/// A product title as shown when ordered: 1 to [`MAX_TITLE_CHARS`] characters, trimmed, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Title(String);

impl Title {
    /// A title, trimmed.
    ///
    /// # Errors
    /// [`Violation::Empty`], [`Violation::ControlCharacter`] or [`Violation::TooLong`].
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        text::line(raw, MAX_TITLE_CHARS).map(Self)
    }

    /// The title.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_type!(Title);

/// The variant a customer chose (`colour: blue`, `size: L`): at most [`MAX_OPTIONS`] entries,
/// names as exact keys (1 to [`MAX_OPTION_KEY_CHARS`] characters, no white space at either
/// end), values trimmed (1 to [`MAX_OPTION_VALUE_CHARS`] characters), no control characters.
/// Sorted by name, so a stored record is the same whatever order the client sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct VariantOptions(BTreeMap<String, String>);

impl VariantOptions {
    /// Checks every option; errors name `{prefix}.options.{name}` (`{prefix}.options` when
    /// there are too many).
    fn collect(
        raw: &BTreeMap<String, String>,
        prefix: &str,
        errors: &mut Collector,
    ) -> Option<Self> {
        let mut ok = true;
        if raw.len() > MAX_OPTIONS {
            errors.push(
                format!("{prefix}.options"),
                Violation::TooManyEntries { max: MAX_OPTIONS },
            );
            ok = false;
        }
        let mut options = BTreeMap::new();
        for (key, value) in raw {
            let field = || format!("{prefix}.options.{}", key.escape_debug());
            let key = errors.check(field, text::key(key, MAX_OPTION_KEY_CHARS));
            let value = errors.check(field, text::line(value, MAX_OPTION_VALUE_CHARS));
            if let (Some(key), Some(value)) = (key, value) {
                options.insert(key, value);
            } else {
                ok = false;
            }
        }
        ok.then_some(Self(options))
    }

    /// The value of option `name`, if chosen.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The options, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many options.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A line as a client sends it. Parse it with [`LineSnapshot::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSnapshotDraft {
    /// The SKU.
    pub sku: String,
    /// The title.
    pub title: String,
    /// The chosen variant; none if absent.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Whether the line ships (a gift card does not). Required: a default would be a guess.
    pub requires_shipping: bool,
}

/// What a line was when ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineSnapshot {
    sku: Sku,
    title: Title,
    options: VariantOptions,
    requires_shipping: bool,
}

impl LineSnapshot {
    /// Checks line `index`; errors name `items[{index}].sku`, `items[{index}].options.colour`.
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in field order.
    pub fn parse(draft: &LineSnapshotDraft, index: usize) -> Result<Self, ValidationErrors> {
        let prefix = format!("items[{index}]");
        let mut errors = Collector::default();
        let sku = errors.check(|| format!("{prefix}.sku"), Sku::parse(&draft.sku));
        let title = errors.check(|| format!("{prefix}.title"), Title::parse(&draft.title));
        let options = VariantOptions::collect(&draft.options, &prefix, &mut errors);
        let line = match (sku, title, options) {
            (Some(sku), Some(title), Some(options)) => Some(Self {
                sku,
                title,
                options,
                requires_shipping: draft.requires_shipping,
            }),
            _ => None,
        };
        errors.finish(line)
    }

    /// The SKU.
    pub fn sku(&self) -> &Sku {
        &self.sku
    }

    /// The title.
    pub fn title(&self) -> &Title {
        &self.title
    }

    /// The chosen variant.
    pub fn options(&self) -> &VariantOptions {
        &self.options
    }

    /// Whether the line ships.
    pub fn requires_shipping(&self) -> bool {
        self.requires_shipping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> LineSnapshotDraft {
        LineSnapshotDraft {
            sku: "TS-BLUE-L".into(),
            title: " T-shirt ".into(),
            options: BTreeMap::from([
                ("size".into(), "L".into()),
                ("colour".into(), " blue ".into()),
            ]),
            requires_shipping: true,
        }
    }

    fn violation(draft: &LineSnapshotDraft, field: &str) -> Option<Violation> {
        LineSnapshot::parse(draft, 2)
            .unwrap_err()
            .for_field(field)
            .cloned()
    }

    #[test]
    fn a_good_line_keeps_its_sku_and_sorts_its_options() {
        let line = LineSnapshot::parse(&draft(), 0).unwrap();
        assert_eq!(line.sku().as_str(), "TS-BLUE-L");
        assert_eq!(line.title().as_str(), "T-shirt");
        assert_eq!(
            line.options().iter().collect::<Vec<_>>(),
            [("colour", "blue"), ("size", "L")]
        );
        assert!(line.requires_shipping());
    }

    #[test]
    fn skus_are_exact_printable_and_at_most_64_characters() {
        assert_eq!(Sku::parse("ab c").unwrap().as_str(), "ab c");
        assert!(Sku::parse(&"S".repeat(64)).is_ok());
        assert_eq!(
            Sku::parse(&"S".repeat(65)),
            Err(Violation::TooLong { max: 64 })
        );
        assert_eq!(Sku::parse(" TS"), Err(Violation::SurroundingWhitespace));
        assert_eq!(
            Sku::parse("TS\u{a0}"),
            Err(Violation::SurroundingWhitespace)
        );
        assert_eq!(Sku::parse("T\u{1b}S"), Err(Violation::ControlCharacter));
        assert_eq!(Sku::parse(""), Err(Violation::Empty));
        let mut bad = draft();
        bad.sku = "TS ".into();
        assert_eq!(
            violation(&bad, "items[2].sku"),
            Some(Violation::SurroundingWhitespace)
        );
    }

    #[test]
    fn titles_are_trimmed_and_at_most_200_characters() {
        assert!(Title::parse(&"t".repeat(200)).is_ok());
        let mut bad = draft();
        bad.title = "t".repeat(201);
        assert_eq!(
            violation(&bad, "items[2].title"),
            Some(Violation::TooLong { max: 200 })
        );
        bad.title = "\t".into();
        assert_eq!(
            violation(&bad, "items[2].title"),
            Some(Violation::ControlCharacter)
        );
    }

    #[test]
    fn option_values_are_checked_under_their_name() {
        let mut bad = draft();
        bad.options.insert("colour".into(), String::new());
        bad.options.insert("engraving".into(), "x".repeat(101));
        let errors = LineSnapshot::parse(&bad, 2).unwrap_err();
        assert_eq!(
            errors.for_field("items[2].options.colour"),
            Some(&Violation::Empty)
        );
        assert_eq!(
            errors.for_field("items[2].options.engraving"),
            Some(&Violation::TooLong { max: 100 })
        );
    }

    #[test]
    fn option_names_are_exact_keys_of_at_most_40_characters() {
        let long = "k".repeat(41);
        for key in [String::new(), " colour".into(), "col\nour".into(), long] {
            let mut bad = draft();
            bad.options.insert(key.clone(), "blue".into());
            let field = format!("items[2].options.{}", key.escape_debug());
            assert_eq!(
                violation(&bad, &field),
                Some(Violation::InvalidKey { max: 40 }),
                "{key:?}"
            );
        }
    }

    #[test]
    fn at_most_ten_options() {
        let mut ok = draft();
        ok.options = (0..10).map(|n| (format!("o{n}"), "v".into())).collect();
        assert!(LineSnapshot::parse(&ok, 2).is_ok());
        let mut bad = draft();
        bad.options = (0..11).map(|n| (format!("o{n}"), "v".into())).collect();
        assert_eq!(
            violation(&bad, "items[2].options"),
            Some(Violation::TooManyEntries { max: 10 })
        );
    }

    #[test]
    fn a_line_serialises_as_plain_structure() {
        let line = LineSnapshot::parse(&draft(), 0).unwrap();
        assert_eq!(
            serde_json::to_value(&line).unwrap(),
            serde_json::json!({
                "sku": "TS-BLUE-L",
                "title": "T-shirt",
                "options": {"colour": "blue", "size": "L"},
                "requires_shipping": true
            })
        );
    }
}
