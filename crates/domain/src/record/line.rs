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
    /// there are too many; without the prefix and its dot when `prefix` is empty).
    pub(crate) fn collect(
        raw: &BTreeMap<String, String>,
        prefix: &str,
        errors: &mut Collector,
    ) -> Option<Self> {
        let mut ok = true;
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}.")
        };
        if raw.len() > MAX_OPTIONS {
            errors.push(
                format!("{prefix}options"),
                Violation::TooManyEntries { max: MAX_OPTIONS },
            );
            ok = false;
        }
        let mut options = BTreeMap::new();
        for (key, value) in raw {
            let field = || format!("{prefix}options.{}", key.escape_debug());
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

/// What a line was when ordered, as a client sends it: the line's `sku`, `title`, `options`
/// and `requires_shipping`. All of it may be left out (an order placed before snapshots
/// existed, or by a client that keeps none); given at all, `sku`, `title` and
/// `requires_shipping` come together. Parse it with [`LineSnapshot::parse`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSnapshotDraft {
    /// The SKU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// The title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The chosen variant; none if absent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// Whether the line ships (a gift card does not). Required with a snapshot: a default
    /// would be a guess.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_shipping: Option<bool>,
}

impl LineSnapshotDraft {
    /// Whether nothing of a snapshot was given.
    pub fn is_empty(&self) -> bool {
        self.sku.is_none()
            && self.title.is_none()
            && self.options.is_empty()
            && self.requires_shipping.is_none()
    }
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
    /// A snapshot of parts already checked (a price book's product).
    pub(crate) fn new(
        sku: Sku,
        title: Title,
        options: VariantOptions,
        requires_shipping: bool,
    ) -> Self {
        Self {
            sku,
            title,
            options,
            requires_shipping,
        }
    }

    /// Checks line `index`'s snapshot: `None` when none was given. Errors name
    /// `items[{index}].sku`, `items[{index}].options.colour`; a part missing from a snapshot
    /// is [`Violation::IncompleteSnapshot`].
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in field order.
    pub fn parse(
        draft: &LineSnapshotDraft,
        index: usize,
    ) -> Result<Option<Self>, ValidationErrors> {
        if draft.is_empty() {
            return Ok(None);
        }
        let prefix = format!("items[{index}]");
        let mut errors = Collector::default();
        let sku = errors.check(
            || format!("{prefix}.sku"),
            required(draft.sku.as_deref()).and_then(Sku::parse),
        );
        let title = errors.check(
            || format!("{prefix}.title"),
            required(draft.title.as_deref()).and_then(Title::parse),
        );
        let options = VariantOptions::collect(&draft.options, &prefix, &mut errors);
        let requires_shipping = errors.check(
            || format!("{prefix}.requires_shipping"),
            draft.requires_shipping.ok_or(Violation::IncompleteSnapshot),
        );
        let line = match (sku, title, options, requires_shipping) {
            (Some(sku), Some(title), Some(options), Some(requires_shipping)) => Some(Some(Self {
                sku,
                title,
                options,
                requires_shipping,
            })),
            _ => None,
        };
        errors.finish(line)
    }

    /// The snapshot as a client would send it: `parse(&s.to_draft(), i) == Ok(Some(s))`.
    pub fn to_draft(&self) -> LineSnapshotDraft {
        LineSnapshotDraft {
            sku: Some(self.sku.as_str().to_owned()),
            title: Some(self.title.as_str().to_owned()),
            options: self
                .options
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            requires_shipping: Some(self.requires_shipping),
        }
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

/// A snapshot's part that must be there once any part is.
fn required(part: Option<&str>) -> Result<&str, Violation> {
    part.ok_or(Violation::IncompleteSnapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> LineSnapshotDraft {
        LineSnapshotDraft {
            sku: Some("TS-BLUE-L".into()),
            title: Some(" T-shirt ".into()),
            options: BTreeMap::from([
                ("size".into(), "L".into()),
                ("colour".into(), " blue ".into()),
            ]),
            requires_shipping: Some(true),
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
        let line = LineSnapshot::parse(&draft(), 0).unwrap().unwrap();
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
        bad.sku = Some("TS ".into());
        assert_eq!(
            violation(&bad, "items[2].sku"),
            Some(Violation::SurroundingWhitespace)
        );
    }

    #[test]
    fn titles_are_trimmed_and_at_most_200_characters() {
        assert!(Title::parse(&"t".repeat(200)).is_ok());
        let mut bad = draft();
        bad.title = Some("t".repeat(201));
        assert_eq!(
            violation(&bad, "items[2].title"),
            Some(Violation::TooLong { max: 200 })
        );
        bad.title = Some("\t".into());
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
    fn no_snapshot_at_all_is_none_and_a_partial_one_names_what_is_missing() {
        assert_eq!(
            LineSnapshot::parse(&LineSnapshotDraft::default(), 0),
            Ok(None)
        );
        let partial = LineSnapshotDraft {
            title: Some("T-shirt".into()),
            ..LineSnapshotDraft::default()
        };
        let errors = LineSnapshot::parse(&partial, 1).unwrap_err();
        assert_eq!(
            errors.for_field("items[1].sku"),
            Some(&Violation::IncompleteSnapshot)
        );
        assert_eq!(
            errors.for_field("items[1].requires_shipping"),
            Some(&Violation::IncompleteSnapshot)
        );
        assert_eq!(errors.for_field("items[1].title"), None);
        let only_options = LineSnapshotDraft {
            options: BTreeMap::from([("size".into(), "L".into())]),
            ..LineSnapshotDraft::default()
        };
        assert!(LineSnapshot::parse(&only_options, 0).is_err());
    }

    #[test]
    fn a_snapshot_written_back_out_parses_to_itself() {
        let line = LineSnapshot::parse(&draft(), 0).unwrap().unwrap();
        assert_eq!(LineSnapshot::parse(&line.to_draft(), 3), Ok(Some(line)));
    }

    #[test]
    fn a_line_serialises_as_plain_structure() {
        let line = LineSnapshot::parse(&draft(), 0).unwrap().unwrap();
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
