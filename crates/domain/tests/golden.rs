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

/// A case of `golden/rates.json`: an order settled against a book, a tax table and shipping
/// methods, then priced.
#[derive(Deserialize)]
struct RatesCase {
    name: String,
    order: OrderDraft,
    #[serde(default)]
    book: Vec<BookProduct>,
    #[serde(default)]
    taxes: ordo_domain::TaxTableDraft,
    #[serde(default)]
    shipping_methods: Vec<ordo_domain::ShippingMethodDraft>,
    rounding: Option<RoundingPolicy>,
    expected: Option<RatesExpected>,
    expected_error: Option<ExpectedError>,
}

#[derive(Deserialize)]
struct BookProduct {
    sku: String,
    title: String,
    tax_class: Option<String>,
    #[serde(default = "ships")]
    requires_shipping: bool,
    #[serde(with = "ordo_domain::amount_serde::map")]
    prices: std::collections::BTreeMap<String, rust_decimal::Decimal>,
}

fn ships() -> bool {
    true
}

#[derive(Debug, PartialEq, Deserialize)]
struct RatesExpected {
    line_totals: Vec<String>,
    subtotal: String,
    discount: String,
    shipping: String,
    tax: String,
    total: String,
    tax_lines: Vec<TaxLineFigures>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct TaxLineFigures {
    rate: String,
    base: String,
    tax: String,
}

fn settled(case: &RatesCase) -> Result<(NewOrder, RoundingPolicy), BTreeSet<String>> {
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let book: std::collections::HashMap<_, _> = case
        .book
        .iter()
        .enumerate()
        .map(|(n, product)| {
            let spec = ordo_domain::ProductSpec::parse(&ordo_domain::ProductDraft {
                sku: product.sku.clone(),
                title: product.title.clone(),
                options: std::collections::BTreeMap::new(),
                requires_shipping: product.requires_shipping,
                tax_class: product.tax_class.clone(),
                status: ordo_domain::ProductStatus::Active,
                prices: product.prices.clone(),
            })
            .unwrap_or_else(|e| panic!("{}: book: {e}", case.name));
            let id =
                ordo_domain::ProductId::from_uuid(uuid::Uuid::from_u128(n as u128 + 1)).unwrap();
            (spec.sku().clone(), ordo_domain::Product::new(id, spec, now))
        })
        .collect();
    let rates = ordo_domain::Rates {
        taxes: ordo_domain::TaxTable::parse(&case.taxes)
            .unwrap_or_else(|e| panic!("{}: taxes: {e}", case.name)),
        shipping: ordo_domain::ShippingTable::parse(&case.shipping_methods)
            .unwrap_or_else(|e| panic!("{}: shipping: {e}", case.name)),
    };
    let fields = |e: ordo_domain::ValidationErrors| -> BTreeSet<String> {
        e.errors().iter().map(|e| e.field.clone()).collect()
    };
    let order = NewOrder::parse_with_book(&case.order, &book).map_err(fields)?;
    let policy = case
        .rounding
        .unwrap_or(RoundingPolicy::default_for(order.currency()));
    let order = order.settle(&rates, policy).map_err(fields)?;
    Ok((order, policy))
}

#[test]
fn every_rates_case_settles_and_prices_to_its_expected_figures() {
    let text = include_str!("golden/rates.json");
    let cases = serde_json::from_str::<RatesFile>(text)
        .expect("rates.json parses")
        .cases;
    assert!(cases.len() >= 30, "the rates file lost cases");
    let currencies: BTreeSet<&str> = cases.iter().map(|c| c.order.currency.as_str()).collect();
    for code in ["JPY", "USD", "EUR", "KWD", "CLF"] {
        assert!(currencies.contains(code), "no case in {code}");
    }
    for case in &cases {
        let name = &case.name;
        match (&case.expected, &case.expected_error) {
            (Some(expected), None) => {
                let (order, policy) = settled(case).unwrap_or_else(|e| panic!("{name}: {e:?}"));
                let priced = price(&order, policy).unwrap_or_else(|e| panic!("{name}: {e}"));
                let got = RatesExpected {
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
                    tax_lines: priced
                        .tax_lines()
                        .iter()
                        .map(|l| TaxLineFigures {
                            rate: l.rate.to_string(),
                            base: l.base.to_string(),
                            tax: l.tax.to_string(),
                        })
                        .collect(),
                };
                assert_eq!(&got, expected, "{name}");
                assert_eq!(
                    priced.prices_include_tax(),
                    case.taxes.prices_include_tax,
                    "{name}"
                );
            }
            (None, Some(ExpectedError::Validation { fields })) => {
                let got = settled(case)
                    .err()
                    .unwrap_or_else(|| panic!("{name}: settled"));
                let want: BTreeSet<String> = fields.iter().cloned().collect();
                assert_eq!(got, want, "{name}");
            }
            _ => panic!("{name}: give exactly one of expected and a validation expected_error"),
        }
    }
}

#[derive(Deserialize)]
struct RatesFile {
    cases: Vec<RatesCase>,
}
