//! Refunds (and captures) by line: each line's share adds up to the order's total and its
//! tax lines, any split of a line's units adds up to its share, and `golden/refunds.json`
//! (worked out by `golden/oracle.py`) is reproduced step by step.
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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::DateTime;
use ordo_domain::{
    CustomerId, Discount, LineAmount, LineItemDraft, LinePart, LineRefundError, LineSnapshotDraft,
    MoneyError, NewOrder, OrderDetailsDraft, OrderDraft, Pricing, Product, ProductDraft, ProductId,
    ProductSpec, ProductStatus, Rates, RoundingMode, RoundingPolicy, ShippingLineDraft,
    ShippingMethodDraft, ShippingTable, TaxRateDraft, TaxRounding, TaxTable, TaxTableDraft, price,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

const CURRENCIES: &[(&str, u32)] = &[("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3), ("CLF", 4)];
const CLASSES: &[&str] = &["standard", "reduced", "zero"];

fn product(n: usize, product: &BookProduct) -> (ordo_domain::Sku, Product) {
    let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let spec = ProductSpec::parse(&ProductDraft {
        sku: product.sku.clone(),
        title: product.title.clone(),
        options: BTreeMap::new(),
        requires_shipping: true,
        tax_class: product.tax_class.clone(),
        status: ProductStatus::Active,
        prices: product.prices.clone(),
    })
    .unwrap_or_else(|e| panic!("book: {e}"));
    let id = ProductId::from_uuid(Uuid::from_u128(n as u128 + 1)).unwrap();
    (spec.sku().clone(), Product::new(id, spec, now))
}

/// `order` parsed against `book`, settled against `taxes` (no shipping methods) and priced.
fn priced(
    order: &OrderDraft,
    book: &[BookProduct],
    taxes: &TaxTableDraft,
    rounding: Option<RoundingPolicy>,
) -> Pricing {
    let book: HashMap<_, _> = book
        .iter()
        .enumerate()
        .map(|(n, p)| product(n, p))
        .collect();
    let rates = Rates {
        taxes: TaxTable::parse(taxes).unwrap_or_else(|e| panic!("taxes: {e}")),
        shipping: ShippingTable::parse(&Vec::<ShippingMethodDraft>::new()).unwrap(),
    };
    let order = NewOrder::parse_with_book(order, &book).unwrap_or_else(|e| panic!("{e:?}"));
    let policy = rounding.unwrap_or(RoundingPolicy::default_for(order.currency()));
    let order = order
        .settle(&rates, policy)
        .unwrap_or_else(|e| panic!("{e:?}"));
    price(&order, policy).unwrap_or_else(|e| panic!("{e}"))
}

// ---- golden/refunds.json ----

#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    order: OrderDraft,
    #[serde(default)]
    book: Vec<BookProduct>,
    #[serde(default)]
    taxes: TaxTableDraft,
    rounding: Option<RoundingPolicy>,
    steps: Vec<Step>,
    expected: Expected,
}

#[derive(Clone, Deserialize)]
struct BookProduct {
    sku: String,
    title: String,
    tax_class: Option<String>,
    #[serde(with = "ordo_domain::amount_serde::map")]
    prices: BTreeMap<String, Decimal>,
}

#[derive(Deserialize)]
struct Step {
    part: Part,
    quantity: u32,
    expected: Figures,
}

/// A line as the file names it: `{"kind": "item", "index": 0}`, `LinePart`'s serde form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", content = "index", rename_all = "snake_case")]
enum Part {
    Item(usize),
    Shipping(usize),
}

impl From<Part> for LinePart {
    fn from(part: Part) -> Self {
        match part {
            Part::Item(index) => Self::Item(index),
            Part::Shipping(index) => Self::Shipping(index),
        }
    }
}

#[derive(Debug, PartialEq, Deserialize)]
struct Figures {
    net: String,
    tax: String,
    amount: String,
}

#[derive(Deserialize)]
struct Expected {
    total: String,
    shares: Vec<ShareFigures>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct ShareFigures {
    part: Part,
    quantity: u32,
    net: String,
    tax: String,
    amount: String,
}

fn figures(amount: &LineAmount) -> Figures {
    Figures {
        net: amount.net.to_string(),
        tax: amount.tax.to_string(),
        amount: amount.amount.to_string(),
    }
}

fn cases() -> Vec<Case> {
    serde_json::from_str::<File>(include_str!("golden/refunds.json"))
        .expect("refunds.json parses")
        .cases
}

#[test]
fn every_refunds_case_gives_its_expected_shares_and_steps() {
    let cases = cases();
    assert!(cases.len() >= 12, "the refunds file lost cases");
    for case in &cases {
        let name = &case.name;
        let pricing = priced(&case.order, &case.book, &case.taxes, case.rounding);
        assert_eq!(pricing.total().to_string(), case.expected.total, "{name}");
        let shares: Vec<ShareFigures> = pricing
            .line_shares()
            .unwrap()
            .iter()
            .map(|share| {
                let part: Part = serde_json::from_value(serde_json::to_value(share.part).unwrap())
                    .expect("LinePart's serde form is the file's");
                let f = figures(share);
                ShareFigures {
                    part,
                    quantity: share.quantity,
                    net: f.net,
                    tax: f.tax,
                    amount: f.amount,
                }
            })
            .collect();
        assert_eq!(shares, case.expected.shares, "{name}");
        let mut before: HashMap<LinePart, u32> = HashMap::new();
        for (n, step) in case.steps.iter().enumerate() {
            let part = LinePart::from(step.part);
            let counted = before.entry(part).or_default();
            let got = pricing
                .units_amount(part, *counted, step.quantity)
                .unwrap_or_else(|e| panic!("{name}: step {n}: {e}"));
            assert_eq!(
                (got.part, got.quantity),
                (part, step.quantity),
                "{name}: step {n}"
            );
            assert_eq!(figures(&got), step.expected, "{name}: step {n}");
            *counted += step.quantity;
        }
    }
}

/// The file holds what the task asked of it: every currency scale, both kinds of prices,
/// both modes, both tax roundings, both kinds of discount, and a line refunded unit by unit
/// whose steps differ by a minor unit.
#[test]
fn the_refunds_file_covers_every_rule() {
    let cases = cases();
    let currencies: BTreeSet<&str> = cases.iter().map(|c| c.order.currency.as_str()).collect();
    for code in ["JPY", "USD", "KWD"] {
        assert!(currencies.contains(code), "no case in {code}");
    }
    let policies: Vec<RoundingPolicy> = cases
        .iter()
        .map(|c| {
            c.rounding.unwrap_or(RoundingPolicy::default_for(
                ordo_domain::Currency::from_code(&c.order.currency).unwrap(),
            ))
        })
        .collect();
    for mode in [RoundingMode::HalfUp, RoundingMode::HalfEven] {
        assert!(policies.iter().any(|p| p.mode() == mode), "{mode:?}");
    }
    for tax in [TaxRounding::PerLine, TaxRounding::PerOrder] {
        assert!(policies.iter().any(|p| p.tax() == tax), "{tax:?}");
    }
    for included in [true, false] {
        assert!(cases.iter().any(|c| c.taxes.prices_include_tax == included));
    }
    assert!(
        cases
            .iter()
            .any(|c| matches!(c.order.discount, Some(Discount::Fixed { .. })))
    );
    assert!(
        cases
            .iter()
            .any(|c| matches!(c.order.discount, Some(Discount::Percentage { .. })))
    );
    let one_by_one_differs = cases.iter().any(|c| {
        c.order.items.iter().enumerate().any(|(i, item)| {
            let steps: Vec<&Step> = c
                .steps
                .iter()
                .filter(|s| s.part == Part::Item(i) && s.quantity == 1)
                .collect();
            i64::try_from(steps.len()) == Ok(item.quantity)
                && steps.len() >= 3
                && steps
                    .iter()
                    .any(|s| s.expected.amount != steps[0].expected.amount)
        })
    });
    assert!(
        one_by_one_differs,
        "no line refunded unit by unit with unequal steps"
    );
}

// ---- errors ----

fn simple_order() -> Pricing {
    let draft = OrderDraft {
        customer_id: CustomerId::from_uuid(Uuid::from_u128(1)).unwrap(),
        currency: "USD".to_owned(),
        items: vec![custom_line(0, 3, Decimal::new(1000, 2))],
        discount: Some(Discount::Fixed {
            amount: Decimal::new(1, 2),
        }),
        discount_reason: None,
        discount_code: None,
        discount_code_optional: false,
        tax_rate: Some(Decimal::new(8, 2)),
        shipping: vec![shipping_line(0, Decimal::new(495, 2), true)],
        shipping_method: None,
        details: OrderDetailsDraft::default(),
    };
    priced(&draft, &[], &TaxTableDraft::default(), None)
}

fn custom_line(n: usize, quantity: i64, unit_price: Decimal) -> LineItemDraft {
    LineItemDraft {
        product_id: Some(ProductId::from_uuid(Uuid::from_u128(n as u128 + 100)).unwrap()),
        quantity,
        unit_price: Some(unit_price),
        snapshot: LineSnapshotDraft::default(),
    }
}

fn shipping_line(n: usize, amount: Decimal, taxed: bool) -> ShippingLineDraft {
    ShippingLineDraft {
        code: format!("method-{n}"),
        title: format!("Method {n}"),
        amount,
        taxed,
    }
}

#[test]
fn more_units_than_are_left_is_too_many() {
    let pricing = simple_order();
    let part = LinePart::Item(0);
    assert_eq!(
        pricing.units_amount(part, 0, 4),
        Err(LineRefundError::TooMany { part, left: 3 })
    );
    assert_eq!(
        pricing.units_amount(part, 2, 2),
        Err(LineRefundError::TooMany { part, left: 1 })
    );
    assert_eq!(
        pricing.units_amount(part, 5, 1),
        Err(LineRefundError::TooMany { part, left: 0 })
    );
    assert_eq!(
        pricing.units_amount(part, u32::MAX, u32::MAX),
        Err(LineRefundError::TooMany { part, left: 0 })
    );
    assert!(pricing.units_amount(part, 2, 1).is_ok());
}

#[test]
fn shipping_is_refunded_whole_and_once() {
    let pricing = simple_order();
    let part = LinePart::Shipping(0);
    let whole = pricing.units_amount(part, 0, 1).unwrap();
    assert_eq!(whole.amount.to_string(), "5.35"); // 4.95 + 0.40 (8 %, rounded with the order's tax)
    assert_eq!(
        pricing.units_amount(part, 1, 1),
        Err(LineRefundError::TooMany { part, left: 0 })
    );
    assert_eq!(
        pricing.units_amount(part, 0, 2),
        Err(LineRefundError::TooMany { part, left: 1 })
    );
}

#[test]
fn no_units_is_zero_quantity() {
    let pricing = simple_order();
    for part in [LinePart::Item(0), LinePart::Shipping(0)] {
        assert_eq!(
            pricing.units_amount(part, 0, 0),
            Err(LineRefundError::ZeroQuantity)
        );
    }
}

#[test]
fn a_line_past_the_order_is_no_such_line() {
    let pricing = simple_order();
    for part in [
        LinePart::Item(1),
        LinePart::Shipping(1),
        LinePart::Item(usize::MAX),
    ] {
        assert_eq!(
            pricing.units_amount(part, 0, 1),
            Err(LineRefundError::NoSuchLine(part))
        );
        // Checked before the quantity: the line is what is wrong.
        assert_eq!(
            pricing.units_amount(part, 0, 0),
            Err(LineRefundError::NoSuchLine(part))
        );
    }
}

#[test]
fn errors_read_as_sentences() {
    let part = LinePart::Item(2);
    assert_eq!(
        LineRefundError::TooMany { part, left: 1 }.to_string(),
        "only 1 units of items[2] are left"
    );
    assert_eq!(
        LineRefundError::NoSuchLine(LinePart::Shipping(0)).to_string(),
        "the order has no line shipping[0]"
    );
    assert_eq!(
        serde_json::to_value(LinePart::Shipping(1)).unwrap(),
        serde_json::json!({"kind": "shipping", "index": 1})
    );
}

/// Under a policy with fewer decimals than a shipping amount has (ordo never makes one), the
/// shipping line cannot be written in the policy's minor units: refused, not rounded.
#[test]
fn a_shipping_amount_finer_than_the_policy_is_refused() {
    let draft = OrderDraft {
        customer_id: CustomerId::from_uuid(Uuid::from_u128(1)).unwrap(),
        currency: "USD".to_owned(),
        items: vec![custom_line(0, 1, Decimal::new(1000, 2))],
        discount: None,
        discount_reason: None,
        discount_code: None,
        discount_code_optional: false,
        tax_rate: None,
        shipping: vec![shipping_line(0, Decimal::new(525, 2), false)],
        shipping_method: None,
        details: OrderDetailsDraft::default(),
    };
    let policy = RoundingPolicy::new(0, RoundingMode::HalfUp, TaxRounding::PerOrder).unwrap();
    let pricing = priced(&draft, &[], &TaxTableDraft::default(), Some(policy));
    assert_eq!(pricing.line_shares(), Err(MoneyError::Overflow));
    assert_eq!(
        pricing.units_amount(LinePart::Item(0), 0, 1),
        Err(LineRefundError::Money(MoneyError::Overflow))
    );
}

// ---- properties ----

/// How an order is taxed.
#[derive(Debug, Clone)]
enum Taxes {
    /// Not at all.
    None,
    /// At the order's own rate.
    Order(Decimal),
    /// At the table's rate for each line's class (shipping: standard).
    Table([Decimal; 3]),
}

#[derive(Debug, Clone)]
struct Shop {
    code: &'static str,
    lines: Vec<(i64, Decimal, usize)>,
    shipping: Vec<(Decimal, bool)>,
    discount: Option<Discount>,
    taxes: Taxes,
    included: bool,
    policy: (RoundingMode, TaxRounding),
}

fn amount(scale: u32, max_units: i64) -> impl Strategy<Value = Decimal> {
    (0..=max_units).prop_map(move |units| Decimal::new(units, scale))
}

fn rate() -> impl Strategy<Value = Decimal> {
    // Common rates (so two classes sometimes share a rate group) and any rate up to 30 %.
    prop_oneof![
        prop::sample::select(vec![
            Decimal::ZERO,
            Decimal::new(7, 2),
            Decimal::new(19, 2),
            Decimal::new(2, 1)
        ]),
        (0_i64..=300_000).prop_map(|r| Decimal::new(r, 6)),
    ]
}

fn shop() -> impl Strategy<Value = Shop> {
    prop::sample::select(CURRENCIES).prop_flat_map(|(code, scale)| {
        let unit = 10_i64.pow(scale);
        let lines = prop::collection::vec(
            (1_i64..=20, amount(scale, 300 * unit), 0..CLASSES.len()),
            1..=8,
        );
        let shipping = prop::collection::vec((amount(scale, 30 * unit), any::<bool>()), 0..=3);
        let discount = prop_oneof![
            1 => Just(None),
            2 => amount(scale, 2_000 * unit).prop_map(|amount| Some(Discount::Fixed { amount })),
            2 => (0_i64..=1_000_000).prop_map(|p| Some(Discount::Percentage {
                percent: Decimal::new(p, 4)
            })),
        ];
        let taxes = prop_oneof![
            1 => Just(Taxes::None),
            2 => rate().prop_map(Taxes::Order),
            3 => [rate(), rate(), rate()].prop_map(Taxes::Table),
        ];
        let policy = (
            prop_oneof![Just(RoundingMode::HalfUp), Just(RoundingMode::HalfEven)],
            prop_oneof![Just(TaxRounding::PerOrder), Just(TaxRounding::PerLine)],
        );
        (lines, shipping, discount, taxes, any::<bool>(), policy).prop_map(
            move |(lines, shipping, discount, taxes, included, policy)| Shop {
                code,
                lines,
                shipping,
                discount,
                taxes,
                included,
                policy,
            },
        )
    })
}

fn shop_pricing(shop: &Shop) -> Pricing {
    let book: Vec<BookProduct> = shop
        .lines
        .iter()
        .enumerate()
        .map(|(n, (_, unit_price, class))| BookProduct {
            sku: format!("SKU-{n}"),
            title: format!("Product {n}"),
            tax_class: Some(CLASSES[*class].to_owned()),
            prices: BTreeMap::from([(shop.code.to_owned(), *unit_price)]),
        })
        .collect();
    let draft = OrderDraft {
        customer_id: CustomerId::from_uuid(Uuid::from_u128(1)).unwrap(),
        currency: shop.code.to_owned(),
        items: shop
            .lines
            .iter()
            .enumerate()
            .map(|(n, (quantity, _, _))| LineItemDraft {
                product_id: None,
                quantity: *quantity,
                unit_price: None,
                snapshot: LineSnapshotDraft {
                    sku: Some(format!("SKU-{n}")),
                    ..LineSnapshotDraft::default()
                },
            })
            .collect(),
        discount: shop.discount,
        discount_reason: None,
        discount_code: None,
        discount_code_optional: false,
        tax_rate: match shop.taxes {
            Taxes::Order(rate) => Some(rate),
            Taxes::None | Taxes::Table(_) => None,
        },
        shipping: shop
            .shipping
            .iter()
            .enumerate()
            .map(|(n, (amount, taxed))| shipping_line(n, *amount, *taxed))
            .collect(),
        shipping_method: None,
        details: serde_json::from_value(serde_json::json!({
            "shipping_address": {"line1": "Hauptstraße 1", "city": "Berlin", "country": "DE"}
        }))
        .unwrap(),
    };
    let rates = match &shop.taxes {
        Taxes::Table(rates) => CLASSES
            .iter()
            .zip(rates)
            .map(|(class, rate)| TaxRateDraft {
                country: "DE".into(),
                region: None,
                tax_class: Some((*class).to_owned()),
                rate: *rate,
                name: None,
            })
            .collect(),
        Taxes::None | Taxes::Order(_) => Vec::new(),
    };
    let taxes = TaxTableDraft {
        prices_include_tax: shop.included,
        rates,
    };
    let currency = ordo_domain::Currency::from_code(shop.code).unwrap();
    let default = RoundingPolicy::default_for(currency);
    let policy = RoundingPolicy::new(default.minor_units(), shop.policy.0, shop.policy.1).unwrap();
    priced(&draft, &book, &taxes, Some(policy))
}

/// A deterministic xorshift, so a failing split reproduces from its seed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Each line's units cut into random steps, all lines' steps shuffled together (a line's steps
/// stay a split of its units in whatever order they come).
fn random_steps(shares: &[LineAmount], seed: u64) -> Vec<(LinePart, u32)> {
    let mut state = seed | 1;
    let mut steps = Vec::new();
    for share in shares {
        let mut left = share.quantity;
        while left > 0 {
            let step = 1 + (next(&mut state) % u64::from(left)) as u32;
            steps.push((share.part, step));
            left -= step;
        }
    }
    for i in (1..steps.len()).rev() {
        steps.swap(i, (next(&mut state) % (i as u64 + 1)) as usize);
    }
    steps
}

/// What the generator reached, so the properties are known to be about the rule's every branch.
#[derive(Default)]
struct Reached {
    included: AtomicU32,
    per_order_shared_group: AtomicU32,
    per_line_taxed: AtomicU32,
    taxed_shipping: AtomicU32,
    uneven_steps: AtomicU32,
    untaxed_line: AtomicU32,
}

fn count(counter: &AtomicU32) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn check(shop: &Shop, seed: u64, reached: &Reached) -> Result<(), TestCaseError> {
    let pricing = shop_pricing(shop);
    let shares = pricing.line_shares().unwrap();
    check_shares(&pricing, &shares, reached)?;
    check_steps(&pricing, &shares, seed, reached)
}

/// (a) The shares sum to the total and per rate their taxes to the tax line; each share's
/// tax is its exact tax, rounded.
fn check_shares(
    pricing: &Pricing,
    shares: &[LineAmount],
    reached: &Reached,
) -> Result<(), TestCaseError> {
    let scale = u32::from(pricing.rounding().minor_units());
    prop_assert_eq!(
        shares.len(),
        pricing.lines().len() + pricing.shipping_lines().len()
    );
    let gross: Decimal = shares.iter().map(|s| s.amount).sum();
    prop_assert_eq!(gross, pricing.total());
    for line in pricing.tax_lines() {
        let at_rate: Vec<&LineAmount> = shares
            .iter()
            .filter(|s| s.rate == Some(line.rate))
            .collect();
        let tax: Decimal = at_rate.iter().map(|s| s.tax).sum();
        prop_assert_eq!(tax, line.tax, "tax at {}", line.rate);
        if pricing.rounding().tax() == TaxRounding::PerOrder && at_rate.len() > 1 {
            count(&reached.per_order_shared_group);
        }
    }
    // Each line's tax is its own exact tax, rounded: once for the line (per line), or through
    // its rate's rounded tax and the spread by base (per order: half a unit, then under one).
    let unit = Decimal::new(1, scale);
    let slack = match pricing.rounding().tax() {
        TaxRounding::PerLine => unit / Decimal::TWO,
        TaxRounding::PerOrder => unit * Decimal::new(15, 1),
    };
    for share in shares {
        if let Some(rate) = share.rate {
            let exact = if pricing.prices_include_tax() {
                share.net * rate / (Decimal::ONE + rate)
            } else {
                share.net * rate
            };
            prop_assert!(
                (share.tax - exact).abs() <= slack + Decimal::new(1, 20),
                "{:?}: tax {} vs exact {}",
                share.part,
                share.tax,
                exact
            );
        }
    }
    for share in shares {
        for figure in [share.net, share.tax, share.amount] {
            prop_assert_eq!(figure.scale(), scale);
            prop_assert!(figure >= Decimal::ZERO);
        }
        let expected = if pricing.prices_include_tax() {
            share.net
        } else {
            share.net + share.tax
        };
        prop_assert_eq!(share.amount, expected);
        match share.rate {
            None => {
                prop_assert!(share.tax.is_zero());
                count(&reached.untaxed_line);
            }
            Some(_) if pricing.rounding().tax() == TaxRounding::PerLine => {
                count(&reached.per_line_taxed);
            }
            Some(_) => {}
        }
        if matches!(share.part, LinePart::Shipping(_)) && share.rate.is_some() {
            count(&reached.taxed_shipping);
        }
    }
    if pricing.prices_include_tax() {
        count(&reached.included);
    }
    Ok(())
}

/// (b), (c) Any split of each line's units sums to its share, every prefix to at most it,
/// every step ≥ 0; everything refunded is the total.
fn check_steps(
    pricing: &Pricing,
    shares: &[LineAmount],
    seed: u64,
    reached: &Reached,
) -> Result<(), TestCaseError> {
    let scale = u32::from(pricing.rounding().minor_units());
    let share_of: HashMap<LinePart, &LineAmount> = shares.iter().map(|s| (s.part, s)).collect();
    let mut before: HashMap<LinePart, u32> = HashMap::new();
    let mut paid: HashMap<LinePart, (Decimal, Decimal, Decimal)> = HashMap::new();
    let mut uneven = false;
    for (part, quantity) in random_steps(shares, seed) {
        let counted = before.entry(part).or_default();
        let step = pricing.units_amount(part, *counted, quantity).unwrap();
        *counted += quantity;
        prop_assert_eq!((step.part, step.quantity), (part, quantity));
        for figure in [step.net, step.tax, step.amount] {
            prop_assert_eq!(figure.scale(), scale);
            prop_assert!(figure >= Decimal::ZERO, "{:?}", step);
        }
        let share = share_of[&part];
        let exact = share.amount * Decimal::from(quantity) / Decimal::from(share.quantity);
        uneven |= step.amount != exact;
        let sums = paid
            .entry(part)
            .or_insert((Decimal::ZERO, Decimal::ZERO, Decimal::ZERO));
        sums.0 += step.net;
        sums.1 += step.tax;
        sums.2 += step.amount;
        prop_assert!(sums.0 <= share.net && sums.1 <= share.tax && sums.2 <= share.amount);
    }
    if uneven {
        count(&reached.uneven_steps);
    }
    for share in shares {
        prop_assert_eq!(paid[&share.part], (share.net, share.tax, share.amount));
        prop_assert_eq!(
            pricing.units_amount(share.part, share.quantity, 1),
            Err(LineRefundError::TooMany {
                part: share.part,
                left: 0
            })
        );
    }
    let refunded: Decimal = paid.values().map(|sums| sums.2).sum();
    prop_assert_eq!(refunded, pricing.total());
    Ok(())
}

#[test]
fn shares_and_any_split_of_units_add_up_to_the_total() {
    let cases = 2_000;
    let reached = Reached::default();
    let mut runner = TestRunner::new(Config::with_cases(cases));
    runner
        .run(&(shop(), any::<u64>()), |(shop, seed)| {
            check(&shop, seed, &reached)
        })
        .unwrap();
    for (what, counter) in [
        ("prices with tax included", &reached.included),
        (
            "a per-order rate shared by several lines",
            &reached.per_order_shared_group,
        ),
        ("a line taxed per line", &reached.per_line_taxed),
        ("taxed shipping", &reached.taxed_shipping),
        (
            "a step that is not an exact fraction of its line",
            &reached.uneven_steps,
        ),
        ("an untaxed line", &reached.untaxed_line),
    ] {
        let n = counter.load(Ordering::Relaxed);
        assert!(n * 20 > cases, "only {n} of {cases} orders reached {what}");
    }
}
