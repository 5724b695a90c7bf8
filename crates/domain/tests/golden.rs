//! Runs `golden/pricing.json`: worked pricing cases whose figures were computed outside this
//! crate (by hand, checked with `golden/oracle.py`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeSet;

use ordo_domain::{NewOrder, OrderDraft, PricingError, RoundingPolicy, price};
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    order: OrderDraft,
    rounding: Option<RoundingPolicy>,
    expected: Option<Expected>,
    expected_error: Option<ExpectedError>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Expected {
    line_totals: Vec<String>,
    subtotal: String,
    discount: String,
    shipping: String,
    tax: String,
    total: String,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ExpectedError {
    Overflow,
    Validation { fields: Vec<String> },
}

fn cases() -> Vec<Case> {
    let text = include_str!("golden/pricing.json");
    serde_json::from_str::<File>(text)
        .expect("pricing.json parses")
        .cases
}

#[test]
fn every_golden_case_prices_to_its_expected_figures() {
    let cases = cases();
    assert!(cases.len() >= 20, "the golden file lost cases");
    for case in cases {
        let name = &case.name;
        let parsed = NewOrder::parse(&case.order);
        match (case.expected, case.expected_error) {
            (Some(expected), None) => {
                let order = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
                let policy = case
                    .rounding
                    .unwrap_or(RoundingPolicy::default_for(order.currency()));
                let priced = price(&order, policy).unwrap_or_else(|e| panic!("{name}: {e}"));
                let got = Expected {
                    line_totals: priced
                        .lines()
                        .iter()
                        .map(|l| l.line_total.to_string())
                        .collect(),
                    subtotal: priced.subtotal().to_string(),
                    discount: priced.discount().to_string(),
                    shipping: priced.shipping().to_string(),
                    tax: priced.tax().to_string(),
                    total: priced.total().to_string(),
                };
                assert_eq!(got, expected, "{name}");
            }
            (None, Some(ExpectedError::Overflow)) => {
                let order = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
                let result = price(&order, RoundingPolicy::default_for(order.currency()));
                assert!(
                    matches!(result, Err(PricingError::Overflow(_))),
                    "{name}: {result:?}"
                );
            }
            (None, Some(ExpectedError::Validation { fields })) => {
                let errors = parsed.expect_err(name);
                let got: BTreeSet<&str> =
                    errors.errors().iter().map(|e| e.field.as_str()).collect();
                let want: BTreeSet<&str> = fields.iter().map(String::as_str).collect();
                assert_eq!(got, want, "{name}");
            }
            _ => panic!("{name}: give exactly one of expected and expected_error"),
        }
    }
}

/// The independent oracle agrees with every expected figure in the golden file, so a figure
/// edited to match the code (rather than the rule) fails here. Needs `python3`.
#[test]
fn the_oracle_agrees_with_every_golden_figure() {
    let oracle = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/oracle.py");
    let output = std::process::Command::new("python3")
        .arg(oracle)
        .output()
        .expect("python3 runs the pricing oracle (install Python 3)");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the oracle disagrees:\n{report}");
    assert!(report.lines().count() >= 20, "{report}");
}
