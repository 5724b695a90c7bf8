//! Property tests for the order record's value types: parsing never panics, what is accepted
//! re-parses to itself, tags normalise the same whatever their case or order, control
//! characters are refused, and email match keys ignore case.
//!
//! Each idempotence check counts what its generator got accepted and refused, and fails if
//! either is rare: a property over inputs that never reach the rule tests nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test code: a panic is a failed test"
)]

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Debug;

use ordo_domain::{
    Address, AddressDraft, Channel, Contact, ContactDraft, CountryCode, Email, LineSnapshot,
    LineSnapshotDraft, Metadata, Note, PersonName, Phone, Sku, Tag, Tags, Title, Violation,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const CASES: u32 = 1_000;

/// Text shaped like `shaped` (a regex) half the time, else anything at all, a text with a
/// control character, or a blank: `any::<String>()` alone rarely holds a control character.
fn mixed(shaped: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => shaped,
        1 => any::<String>(),
        1 => with_control(control()),
        1 => " {0,3}",
    ]
}

/// Runs `parse` over `strategy`: every accepted value re-parses from its text to itself, and
/// at least a tenth of the inputs are accepted and a tenth refused.
fn accepted_values_reparse_to_themselves<T: PartialEq + Debug>(
    name: &str,
    strategy: impl Strategy<Value = String>,
    parse: impl Fn(&str) -> Result<T, Violation>,
    text: impl Fn(&T) -> &str,
) {
    let accepted = Cell::new(0_u32);
    let refused = Cell::new(0_u32);
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        ..Config::default()
    });
    runner
        .run(&strategy, |raw| {
            match parse(&raw) {
                Ok(value) => {
                    accepted.set(accepted.get() + 1);
                    prop_assert_eq!(parse(text(&value)), Ok(value), "{:?}", raw);
                }
                Err(_) => refused.set(refused.get() + 1),
            }
            Ok(())
        })
        .unwrap();
    assert!(
        accepted.get() >= CASES / 10 && refused.get() >= CASES / 10,
        "{name}: {} accepted, {} refused: the generator misses one side",
        accepted.get(),
        refused.get()
    );
}

#[test]
fn accepted_emails_reparse_to_themselves() {
    accepted_values_reparse_to_themselves(
        "email",
        mixed(r" ?[a-zA-Z0-9._%+'ü-]{0,66}@([a-zA-Z0-9-]{1,12}\.){1,3}[a-zA-Z]{2,6} ?"),
        Email::parse,
        Email::as_str,
    );
}

#[test]
fn accepted_phones_reparse_to_themselves() {
    accepted_values_reparse_to_themselves(
        "phone",
        mixed(r" ?\+[0-9]{6,17} ?|[0-9]{8,12}"),
        Phone::parse,
        Phone::as_str,
    );
}

#[test]
fn accepted_names_titles_and_notes_reparse_to_themselves() {
    accepted_values_reparse_to_themselves(
        "person name",
        mixed(r"\PC{0,210}"),
        PersonName::parse,
        PersonName::as_str,
    );
    accepted_values_reparse_to_themselves(
        "title",
        mixed(r"\PC{0,210}"),
        Title::parse,
        Title::as_str,
    );
    accepted_values_reparse_to_themselves(
        "note",
        mixed(r"[\PC\n\r]{0,50}"),
        Note::parse,
        Note::as_str,
    );
}

#[test]
fn accepted_country_codes_reparse_to_themselves() {
    accepted_values_reparse_to_themselves(
        "country",
        mixed("[A-Z]{2}"),
        CountryCode::parse,
        |code| code.as_str(),
    );
}

#[test]
fn accepted_skus_reparse_to_themselves() {
    accepted_values_reparse_to_themselves("sku", mixed("[ -~]{0,66}"), Sku::parse, Sku::as_str);
}

#[test]
fn accepted_tags_reparse_to_themselves() {
    accepted_values_reparse_to_themselves(
        "tag",
        mixed(r" ?[\pL0-9_ -]{0,42}[!.]? ?"),
        Tag::parse,
        Tag::as_str,
    );
}

#[test]
fn accepted_channels_reparse_to_themselves() {
    accepted_values_reparse_to_themselves(
        "channel",
        mixed("[a-zA-Z0-9_ -]{0,34}|web|pos|phone|marketplace|api"),
        Channel::parse,
        Channel::as_str,
    );
}

#[test]
fn new_violations_have_snake_case_codes_on_the_wire() {
    let cases = [
        (
            Violation::InvalidEmail,
            serde_json::json!({"code": "invalid_email"}),
        ),
        (
            Violation::InvalidPhone,
            serde_json::json!({"code": "invalid_phone"}),
        ),
        (
            Violation::UnknownCountry,
            serde_json::json!({"code": "unknown_country"}),
        ),
        (
            Violation::SurroundingWhitespace,
            serde_json::json!({"code": "surrounding_whitespace"}),
        ),
        (
            Violation::InvalidKey { max: 40 },
            serde_json::json!({"code": "invalid_key", "max": 40}),
        ),
        (
            Violation::TooManyEntries { max: 20 },
            serde_json::json!({"code": "too_many_entries", "max": 20}),
        ),
        (
            Violation::InvalidTag,
            serde_json::json!({"code": "invalid_tag"}),
        ),
        (
            Violation::InvalidChannel,
            serde_json::json!({"code": "invalid_channel"}),
        ),
    ];
    for (violation, json) in cases {
        assert_eq!(serde_json::to_value(&violation).unwrap(), json);
        let message = violation.to_string();
        assert!(
            !message.ends_with('.') && message.starts_with(char::is_lowercase),
            "{message}"
        );
    }
}

#[test]
fn a_contact_reads_back_from_its_json() {
    let draft = ContactDraft {
        email: " Ada@Example.com ".into(),
        phone: Some("+14155550100".into()),
        name: None,
    };
    let contact = Contact::parse(&draft).unwrap();
    let json = serde_json::to_value(&contact).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"email": "Ada@Example.com", "phone": "+14155550100"})
    );
    let back: ContactDraft = serde_json::from_value(json).unwrap();
    assert_eq!(Contact::parse(&back).unwrap(), contact);
}

/// Any character that `char::is_control` calls one: C0, DEL and C1.
fn control() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('\u{0}', '\u{1f}'),
        proptest::char::range('\u{7f}', '\u{9f}'),
    ]
}

/// A text holding `control` somewhere, possibly at either end.
fn with_control(control: impl Strategy<Value = char>) -> impl Strategy<Value = String> {
    ("\\PC{0,8}", control, "\\PC{0,8}").prop_map(|(before, c, after)| format!("{before}{c}{after}"))
}

fn address(line1: &str) -> AddressDraft {
    AddressDraft {
        name: None,
        company: None,
        line1: line1.to_owned(),
        line2: None,
        city: "Berlin".into(),
        region: None,
        postal_code: None,
        country: "DE".into(),
        phone: None,
    }
}

proptest! {
    #![proptest_config(Config { cases: CASES, ..Config::default() })]

    #[test]
    fn parsing_never_panics(raw in any::<String>(), key in any::<String>()) {
        let _ = Email::parse(&raw).map(|email| email.match_key());
        let _ = Phone::parse(&raw);
        let _ = PersonName::parse(&raw);
        let _ = CountryCode::parse(&raw);
        let _ = Sku::parse(&raw);
        let _ = Title::parse(&raw);
        let _ = Note::parse(&raw);
        let _ = Tag::parse(&raw);
        let _ = Channel::parse(&raw);
        let _ = Tags::parse(&[raw.clone(), key.clone()]);
        let map = BTreeMap::from([(key.clone(), raw.clone())]);
        let _ = Metadata::parse(&map);
        let _ = LineSnapshot::parse(
            &LineSnapshotDraft { sku: Some(raw.clone()), title: Some(key), options: map, requires_shipping: Some(true) },
            usize::MAX,
        );
        let mut draft = address(&raw);
        draft.phone = Some(raw.clone());
        draft.country = raw;
        let _ = Address::parse(&draft, "shipping_address");
    }

    #[test]
    fn a_text_with_a_control_character_is_refused(raw in with_control(control())) {
        prop_assert_eq!(Email::parse(&raw), Err(Violation::ControlCharacter));
        prop_assert_eq!(Phone::parse(&raw), Err(Violation::ControlCharacter));
        prop_assert_eq!(PersonName::parse(&raw), Err(Violation::ControlCharacter));
        prop_assert_eq!(Title::parse(&raw), Err(Violation::ControlCharacter));
        prop_assert_eq!(Sku::parse(&raw), Err(Violation::ControlCharacter));
        prop_assert_eq!(Tag::parse(&raw), Err(Violation::ControlCharacter));
        prop_assert!(Channel::parse(&raw).is_err());
        prop_assert!(CountryCode::parse(&raw).is_err());
        let errors = Address::parse(&address(&raw), "shipping_address").unwrap_err();
        prop_assert_eq!(
            errors.for_field("shipping_address.line1"),
            Some(&Violation::ControlCharacter)
        );
        let errors = Metadata::parse(&BTreeMap::from([("k".to_owned(), raw.clone())])).unwrap_err();
        prop_assert_eq!(errors.for_field("metadata.k"), Some(&Violation::ControlCharacter));
    }

    #[test]
    fn a_note_refuses_every_control_character_but_line_breaks(
        raw in with_control(control().prop_filter("line break", |c| !matches!(c, '\n' | '\r'))),
    ) {
        prop_assert_eq!(Note::parse(&raw), Err(Violation::ControlCharacter));
    }

    #[test]
    fn a_note_keeps_inner_line_breaks(
        before in "[a-z]{1,8}", breaks in "[\n\r]{1,3}", after in "[a-z]{1,8}",
    ) {
        let raw = format!("{before}{breaks}{after}");
        let note = Note::parse(&raw).unwrap();
        prop_assert_eq!(note.as_str(), raw.as_str());
    }

    #[test]
    fn tags_are_the_same_whatever_their_order(
        (raw, shuffled) in proptest::collection::vec(r" ?[\pL0-9_ -]{1,12}!? ?", 0..25)
            .prop_flat_map(|raw| (Just(raw.clone()), Just(raw).prop_shuffle())),
    ) {
        // Errors name positions, which a shuffle moves; the accepted set must not move.
        let (tags, shuffled) = (Tags::parse(&raw), Tags::parse(&shuffled));
        prop_assert_eq!(tags.is_ok(), shuffled.is_ok());
        if let (Ok(tags), Ok(shuffled)) = (tags, shuffled) {
            prop_assert_eq!(tags, shuffled);
        }
    }

    #[test]
    fn tags_are_the_same_whatever_their_ascii_case(
        raw in proptest::collection::vec(r" ?[a-zA-Z0-9_ -]{1,12} ?", 0..25),
        flips in proptest::collection::vec(any::<bool>(), 12),
    ) {
        let flipped: Vec<String> = raw.iter().map(|tag| flip_case(tag, &flips)).collect();
        prop_assert_eq!(Tags::parse(&raw), Tags::parse(&flipped));
    }

    #[test]
    fn normalising_a_normalised_tag_changes_nothing(raw in r" ?[\pL0-9_ -]{1,40} ?") {
        if let Ok(tag) = Tag::parse(&raw) {
            prop_assert_eq!(Tag::parse(tag.as_str()), Ok(tag.clone()));
        }
    }

    #[test]
    fn case_variants_of_an_email_share_a_match_key(
        raw in r"[a-zA-Z0-9._+-]{1,20}@([a-zA-Z0-9]{1,10}\.){1,3}[a-zA-Z]{2,6}",
        flips in proptest::collection::vec(any::<bool>(), 40),
    ) {
        let flipped = flip_case(&raw, &flips);
        let email = Email::parse(&raw).unwrap();
        let variant = Email::parse(&flipped).unwrap();
        prop_assert_eq!(email.match_key(), variant.match_key());
        prop_assert_eq!(email == variant, raw == flipped);
    }

    #[test]
    fn an_address_reads_back_from_its_json(
        name in proptest::option::of(r"\PC{0,30}"),
        line1 in r"\PC{1,30}",
        postal_code in proptest::option::of("[A-Z0-9 -]{0,12}"),
        country in proptest::sample::select(ordo_domain::record::COUNTRY_CODES.to_vec()),
    ) {
        let mut draft = address(&line1);
        draft.name = name;
        draft.postal_code = postal_code;
        draft.country = country.to_owned();
        if let Ok(parsed) = Address::parse(&draft, "shipping_address") {
            let json = serde_json::to_string(&parsed).unwrap();
            let back: AddressDraft = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(Address::parse(&back, "shipping_address"), Ok(parsed));
        }
    }
}

/// `text` with the case of its ASCII letters flipped where `flips` says so.
fn flip_case(text: &str, flips: &[bool]) -> String {
    text.chars()
        .zip(flips.iter().cycle())
        .map(|(c, &flip)| {
            if flip && c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else if flip {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect()
}
