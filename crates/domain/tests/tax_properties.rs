//! Properties of orders settled against the shop's rates: with prices that include tax and
//! without, in every currency and rounding policy, the figures add up to the minor unit.
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

use std::collections::{BTreeMap, HashMap};

use chrono::DateTime;
use ordo_domain::{
    CustomerId, Discount, LineItemDraft, LineSnapshotDraft, NewOrder, Order, OrderDetailsDraft,
    OrderDraft, OrderId, OrderNumber, OrderNumberKey, Product, ProductDraft, ProductId,
    ProductSpec, ProductStatus, Rates, RoundingMode, RoundingPolicy, ShippingMethodDraft,
    ShippingTable, TaxRateDraft, TaxRounding, TaxTable, TaxTableDraft, price,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

const CURRENCIES: &[(&str, u32)] = &[("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4)];
const CLASSES: &[&str] = &["standard", "reduced", "zero"];

fn amount(scale: u32, max_units: i64) -> impl Strategy<Value = Decimal> {
    (0..=max_units).prop_map(move |units| Decimal::new(units, scale))
}

/// A shop and an order by SKU in it: products of random tax classes, a rate per class, a
/// shipping method (taxed or not, maybe free from a threshold), and a discount.
#[derive(Debug, Clone)]
struct Shop {
    code: &'static str,
    scale: u32,
    prices: Vec<(Decimal, usize)>,
    quantities: Vec<i64>,
    rates: [Decimal; 3],
    included: bool,
    shipping: Decimal,
    free_above: Option<Decimal>,
    taxed: bool,
    discount: Option<Discount>,
    policy: (RoundingMode, TaxRounding),
}

fn shop() -> impl Strategy<Value = Shop> {
    prop::sample::select(CURRENCIES).prop_flat_map(|(code, scale)| {
        let unit = 10_i64.pow(scale);
        let lines = prop::collection::vec(
            (amount(scale, 5_000 * unit), 0..CLASSES.len(), 1_i64..=50),
            1..=12,
        );
        let rate = (0_i64..=300_000).prop_map(|r| Decimal::new(r, 6));
        let discount = prop_oneof![
            Just(None),
            amount(scale, 500 * unit).prop_map(|amount| Some(Discount::Fixed { amount })),
            (0_i64..=1_000_000).prop_map(|p| Some(Discount::Percentage {
                percent: Decimal::new(p, 4)
            })),
        ];
        (
            lines,
            [rate.clone(), rate.clone(), rate],
            any::<bool>(),
            amount(scale, 50 * unit),
            prop::option::of(amount(scale, 20_000 * unit)),
            any::<bool>(),
            discount,
            (
                prop_oneof![Just(RoundingMode::HalfUp), Just(RoundingMode::HalfEven)],
                prop_oneof![Just(TaxRounding::PerOrder), Just(TaxRounding::PerLine)],
            ),
        )
            .prop_map(
                move |(lines, rates, included, shipping, free_above, taxed, discount, policy)| {
                    Shop {
                        code,
                        scale,
                        prices: lines.iter().map(|(p, c, _)| (*p, *c)).collect(),
                        quantities: lines.iter().map(|(_, _, q)| *q).collect(),
                        rates,
                        included,
                        shipping,
                        free_above,
                        taxed,
                        discount,
                        policy,
                    }
                },
            )
    })
}

fn settle(shop: &Shop) -> (NewOrder, RoundingPolicy) {
    let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let book: HashMap<_, _> = shop
        .prices
        .iter()
        .enumerate()
        .map(|(n, (unit_price, class))| {
            let spec = ProductSpec::parse(&ProductDraft {
                sku: format!("SKU-{n}"),
                title: format!("Product {n}"),
                options: BTreeMap::new(),
                requires_shipping: true,
                tax_class: Some(CLASSES[*class].to_owned()),
                status: ProductStatus::Active,
                prices: BTreeMap::from([(shop.code.to_owned(), *unit_price)]),
            })
            .unwrap();
            let id = ProductId::from_uuid(Uuid::from_u128(n as u128 + 1)).unwrap();
            (spec.sku().clone(), Product::new(id, spec, now))
        })
        .collect();
    let draft: OrderDraft = OrderDraft {
        customer_id: CustomerId::from_uuid(Uuid::from_u128(1)).unwrap(),
        currency: shop.code.to_owned(),
        items: shop
            .quantities
            .iter()
            .enumerate()
            .map(|(n, quantity)| LineItemDraft {
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
        discount_code: None,
        discount_code_optional: false,
        tax_rate: None,
        shipping: Vec::new(),
        shipping_method: Some("standard".to_owned()),
        discount_reason: None,
        details: serde_json::from_value::<OrderDetailsDraft>(serde_json::json!({
            "shipping_address": {"line1": "Hauptstraße 1", "city": "Berlin", "country": "DE"}
        }))
        .unwrap(),
    };
    let rates = Rates {
        taxes: TaxTable::parse(&TaxTableDraft {
            prices_include_tax: shop.included,
            rates: CLASSES
                .iter()
                .zip(shop.rates)
                .map(|(class, rate)| TaxRateDraft {
                    country: "DE".into(),
                    region: None,
                    tax_class: Some((*class).to_owned()),
                    rate,
                    name: None,
                })
                .collect(),
        })
        .unwrap(),
        shipping: ShippingTable::parse(&[ShippingMethodDraft {
            code: "standard".into(),
            title: "Standard".into(),
            prices: BTreeMap::from([(shop.code.to_owned(), shop.shipping)]),
            free_above: shop
                .free_above
                .map(|threshold| BTreeMap::from([(shop.code.to_owned(), threshold)]))
                .unwrap_or_default(),
            taxed: shop.taxed,
            countries: Some(vec!["DE".into()]),
        }])
        .unwrap(),
    };
    let order = NewOrder::parse_with_book(&draft, &book).unwrap();
    let default = RoundingPolicy::default_for(order.currency());
    let policy = RoundingPolicy::new(default.minor_units(), shop.policy.0, shop.policy.1).unwrap();
    (order.settle(&rates, policy).unwrap(), policy)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Tax-exclusive orders add the tax, tax-inclusive ones contain it; either way every
    /// figure is whole minor units and the totals hold to the last digit.
    #[test]
    fn settled_orders_add_up_to_the_minor_unit(shop in shop()) {
        let (order, policy) = settle(&shop);
        let priced = price(&order, policy).unwrap();
        let scale = shop.scale;
        for figure in [priced.subtotal(), priced.discount(), priced.shipping(), priced.tax(), priced.total()] {
            prop_assert_eq!(figure.scale(), scale);
        }
        let goods = priced.subtotal() - priced.discount();
        if shop.included {
            prop_assert_eq!(priced.total(), goods + priced.shipping());
            prop_assert!(priced.tax() <= priced.total());
        } else {
            prop_assert_eq!(priced.total(), goods + priced.shipping() + priced.tax());
        }
        prop_assert!(priced.tax() >= Decimal::ZERO);
        // The tax lines are the tax, split by rate; their bases are every taxed amount.
        let lines = priced.tax_lines();
        prop_assert_eq!(lines.iter().map(|l| l.tax).sum::<Decimal>(), priced.tax());
        let taxed_shipping = if shop.taxed { priced.shipping() } else { Decimal::ZERO };
        prop_assert_eq!(lines.iter().map(|l| l.base).sum::<Decimal>(), goods + taxed_shipping);
        prop_assert!(lines.windows(2).all(|w| w[0].rate < w[1].rate));
        // Each rate's tax is the exact tax on its base, rounded once per base at most.
        let half = Decimal::new(5, scale + 1);
        let bases_at = |rate: Decimal| {
            let lines = order.items().iter().filter(|i| i.tax_rate() == Some(rate)).count();
            lines + usize::from(shop.taxed && priced.shipping_lines()[0].tax_rate == Some(rate))
        };
        for line in lines {
            let exact = if shop.included {
                line.base * line.rate / (Decimal::ONE + line.rate)
            } else {
                line.base * line.rate
            };
            let roundings = match policy.tax() {
                TaxRounding::PerOrder => 1,
                TaxRounding::PerLine => bases_at(line.rate),
            };
            prop_assert!(
                (line.tax - exact).abs() <= half * Decimal::from(roundings as u64) + Decimal::new(1, 20),
                "{} at {}: {} vs exact {}", line.base, line.rate, line.tax, exact
            );
        }
        // Free shipping from the threshold, on the goods less the discount.
        let free = shop.free_above.is_some_and(|threshold| goods >= threshold);
        prop_assert_eq!(priced.shipping().is_zero(), free || shop.shipping.is_zero());
    }

    /// A settled order stored and read back prices to the same figures, its lines' rates and
    /// whether its prices include tax kept.
    #[test]
    fn settled_orders_survive_storage(shop in shop()) {
        let (order, policy) = settle(&shop);
        let priced = price(&order, policy).unwrap();
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let number = OrderNumber::from_sequence(7, now.date_naive(), OrderNumberKey::DEFAULT).unwrap();
        let placed = Order::place(
            OrderId::from_parts(1_790_000_000_000, &[7; 10]),
            number,
            order.customer_id(),
            priced,
            ordo_domain::OrderDetails::default(),
            now,
        );
        prop_assert_eq!(Order::restore(placed.to_record()), Ok(placed));
    }
}
