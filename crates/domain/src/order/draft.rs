//! What a client sends, and the rules that turn it into a [`NewOrder`].

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog::{Product, TaxClass};
use crate::discount_code::CodeName;
use crate::rates::shipping_code;
use crate::record::Sku;

use crate::pricing::{Discount, ShippingLine};
use crate::record::text::line;
use crate::record::{LineSnapshot, LineSnapshotDraft, OrderDetails, OrderDetailsDraft};
use crate::validation::{Collector, ValidationErrors, Violation};
use crate::{Currency, CustomerId, MAX_AMOUNT, ProductId};

/// The most line items one order may have.
pub const MAX_LINE_ITEMS: usize = 100;
/// The largest quantity of one line.
pub const MAX_QUANTITY: u32 = 10_000;
/// The most decimals a tax rate may have (`0.082500` is fine, `0.0825001` is not).
pub const MAX_TAX_RATE_SCALE: u32 = 6;
/// The most decimals a discount percentage may have.
pub const MAX_PERCENT_SCALE: u32 = 4;
/// The longest cancellation reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// The most shipping lines one order may have (a split shipment, an express surcharge...).
pub const MAX_SHIPPING_LINES: usize = 5;
/// The longest shipping method code, in characters.
pub const MAX_SHIPPING_CODE_CHARS: usize = 64;
/// The longest reason for a manual discount, in characters.
pub const MAX_DISCOUNT_REASON_CHARS: usize = 200;
/// The longest shipping method title, in characters.
pub const MAX_SHIPPING_TITLE_CHARS: usize = 200;

/// An order as a client sends it, before any rule is checked. Parse it with [`NewOrder::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderDraft {
    /// Who the order is for.
    pub customer_id: CustomerId,
    /// ISO 4217 code.
    pub currency: String,
    /// The lines.
    pub items: Vec<LineItemDraft>,
    /// An optional order-level discount.
    #[serde(default)]
    pub discount: Option<Discount>,
    /// Why the shop gave the `discount` (a late delivery, a loyal customer): kept with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_reason: Option<String>,
    /// A discount code the shop set up (the service looks it up and sets the discount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<String>,
    /// Place the order without the code's discount when the code cannot be used (used up,
    /// expired...), instead of refusing the order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub discount_code_optional: bool,
    /// An optional tax rate in `[0, 1)`.
    #[serde(default, with = "crate::amount_serde::option")]
    pub tax_rate: Option<Decimal>,
    /// How the order is shipped, and what that costs: none for an order nothing ships for.
    #[serde(default)]
    pub shipping: Vec<ShippingLineDraft>,
    /// The code of one of the shop's shipping methods: the shop's rates price the shipping
    /// ([`NewOrder::settle`]). Not beside `shipping` lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    /// Contact, addresses, notes, tags, metadata and channel: what moves no money.
    #[serde(default)]
    pub details: OrderDetailsDraft,
}

/// A shipping line as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingLineDraft {
    /// The method's code, such as `dhl-express`.
    pub code: String,
    /// The method as the customer saw it, such as `DHL Express (1–2 days)`.
    pub title: String,
    /// What it costs, in the order's currency.
    #[serde(with = "crate::amount_serde")]
    pub amount: Decimal,
    /// Whether the order's tax rate applies to it (it depends on the jurisdiction).
    #[serde(default)]
    pub taxed: bool,
}

/// A line as a client sends it: either a *book line*, a `sku` and a quantity, which the price
/// book fills in ([`NewOrder::parse_with_book`]), or a *custom line* with its own `unit_price`
/// and `product_id` (what only staff and trusted backends may place).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineItemDraft {
    /// The product: a custom line's; a book line's comes from the book.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<ProductId>,
    /// How many; checked against `1..=MAX_QUANTITY`.
    pub quantity: i64,
    /// The price of one, in the order's currency: a custom line's; a book line has none.
    #[serde(default, with = "crate::amount_serde::option")]
    pub unit_price: Option<Decimal>,
    /// What the line is, as the customer saw it: none at all, or `sku`, `title` and
    /// `requires_shipping` together; a book line gives its `sku` alone.
    #[serde(default, skip_serializing_if = "LineSnapshotDraft::is_empty")]
    pub snapshot: LineSnapshotDraft,
}

impl LineItemDraft {
    /// Whether the line's price comes from the book: it names no price of its own.
    pub fn is_book_line(&self) -> bool {
        self.unit_price.is_none()
    }
}

/// Where a line's price came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineSource {
    /// The price book, as the order was placed.
    Book,
    /// Given with the order by staff or a trusted backend (and every line of an order placed
    /// before the price book existed).
    #[default]
    Custom,
}

/// A quantity in `1..=MAX_QUANTITY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    /// A quantity, if it is in range.
    ///
    /// # Errors
    /// [`Violation::QuantityOutOfRange`].
    pub fn new(value: i64) -> Result<Self, Violation> {
        u32::try_from(value)
            .ok()
            .filter(|v| (1..=MAX_QUANTITY).contains(v))
            .map(Self)
            .ok_or(Violation::QuantityOutOfRange { max: MAX_QUANTITY })
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Quantity {
    type Error = Violation;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Quantity> for u32 {
    fn from(quantity: Quantity) -> Self {
        quantity.0
    }
}

/// A valid line item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLineItem {
    pub(super) product_id: Option<ProductId>,
    pub(super) quantity: Quantity,
    pub(super) unit_price: Decimal,
    pub(super) snapshot: Option<LineSnapshot>,
    pub(super) source: LineSource,
    pub(super) tax_class: TaxClass,
    pub(super) tax_rate: Option<Decimal>,
}

impl NewLineItem {
    /// The product: a book line's; a custom line's if it named one.
    pub fn product_id(&self) -> Option<ProductId> {
        self.product_id
    }

    /// How many.
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// The price of one: not negative, within the currency's minor units.
    pub fn unit_price(&self) -> Decimal {
        self.unit_price
    }

    /// What the line was when ordered, if given.
    pub fn snapshot(&self) -> Option<&LineSnapshot> {
        self.snapshot.as_ref()
    }

    /// Where its price came from.
    pub fn source(&self) -> LineSource {
        self.source
    }

    /// Which tax rates apply: the book product's class, `standard` for a custom line.
    pub fn tax_class(&self) -> &TaxClass {
        &self.tax_class
    }

    /// Its own tax rate, once [`NewOrder::settle`] found it in the shop's table.
    pub fn tax_rate(&self) -> Option<Decimal> {
        self.tax_rate
    }

    /// Whether it ships: what its snapshot says (a line without one is taken to ship).
    pub fn requires_shipping(&self) -> bool {
        self.snapshot
            .as_ref()
            .is_none_or(LineSnapshot::requires_shipping)
    }
}

/// An order that passed every rule and can be priced. The only way to make one is
/// [`NewOrder::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub(super) customer_id: CustomerId,
    pub(super) currency: Currency,
    pub(super) items: Vec<NewLineItem>,
    pub(super) discount: Option<Discount>,
    pub(super) discount_reason: Option<String>,
    pub(super) discount_code: Option<CodeName>,
    pub(super) tax_rate: Option<Decimal>,
    pub(super) shipping: Vec<ShippingLine>,
    pub(super) shipping_method: Option<String>,
    pub(super) prices_include_tax: bool,
    pub(super) details: OrderDetails,
}

impl NewOrder {
    /// Checks every rule and reports every broken one, each naming its field. Every line must
    /// be a custom line: with no book, a line by `sku` alone names an unknown SKU.
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in field order.
    pub fn parse(draft: &OrderDraft) -> Result<Self, ValidationErrors> {
        Self::parse_with_book(draft, &HashMap::new())
    }

    /// As [`NewOrder::parse`], with each book line's product, price and snapshot taken from
    /// `book` (the products its SKUs name, as the price book holds them). A book line gives
    /// its `sku` alone: a `product_id`, `title`, `options` or `requires_shipping` beside it
    /// is [`Violation::SetFromBook`]; its SKU may be unknown ([`Violation::UnknownSku`]), its
    /// product archived or unpriced in the order's currency, each named at `items[i].sku`.
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in field order.
    pub fn parse_with_book(
        draft: &OrderDraft,
        book: &HashMap<Sku, Product>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let currency = errors.check(
            || "currency".into(),
            Currency::from_code(&draft.currency).map_err(|_| Violation::UnknownCurrency),
        );
        // Without a currency the minor units are unknown; check prices against the widest
        // scale so other errors are still reported.
        let scale = currency.map_or(u32::from(crate::pricing::MAX_MINOR_UNITS), |c| {
            u32::from(c.minor_units())
        });
        if draft.items.is_empty() {
            errors.push("items", Violation::NoItems);
        } else if draft.items.len() > MAX_LINE_ITEMS {
            errors.push(
                "items",
                Violation::TooManyItems {
                    max: MAX_LINE_ITEMS,
                },
            );
        }
        let mut items = Vec::with_capacity(draft.items.len());
        for (index, item) in draft.items.iter().enumerate() {
            let quantity = errors.check(
                || format!("items[{index}].quantity"),
                Quantity::new(item.quantity),
            );
            let line = match item.unit_price {
                Some(unit_price) => custom_line(item, unit_price, index, scale, &mut errors),
                None => book_line(item, currency, book, index, &mut errors),
            };
            if let (Some(quantity), Some((product_id, unit_price, snapshot, source, tax_class))) =
                (quantity, line)
            {
                items.push(NewLineItem {
                    product_id,
                    quantity,
                    unit_price,
                    snapshot,
                    source,
                    tax_class,
                    tax_rate: None,
                });
            }
        }
        let (discount, discount_reason) = discount(draft, scale, &mut errors);
        let tax_rate = match draft.tax_rate {
            None => Some(None),
            Some(rate) => errors
                .check(|| "tax_rate".to_owned(), tax_rate(rate))
                .map(Some),
        };
        let shipping = shipping_lines(&draft.shipping, scale, &mut errors);
        let shipping_method = shipping_method(draft, &mut errors);
        let details = errors.absorb(OrderDetails::parse(&draft.details));
        let order = match (
            currency,
            discount,
            discount_reason,
            tax_rate,
            shipping,
            shipping_method,
            details,
        ) {
            (
                Some(currency),
                Some(discount),
                Some(discount_reason),
                Some(tax_rate),
                Some(shipping),
                Some(shipping_method),
                Some(details),
            ) if items.len() == draft.items.len() => Some(Self {
                customer_id: draft.customer_id,
                currency,
                items,
                discount,
                discount_reason,
                discount_code: None,
                tax_rate,
                shipping,
                shipping_method,
                prices_include_tax: false,
                details,
            }),
            _ => None,
        };
        errors.finish(order)
    }

    /// Who the order is for.
    pub fn customer_id(&self) -> CustomerId {
        self.customer_id
    }

    /// The currency of every amount.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The lines, as given.
    pub fn items(&self) -> &[NewLineItem] {
        &self.items
    }

    /// The discount, if any.
    pub fn discount(&self) -> Option<Discount> {
        self.discount
    }

    /// Why the shop gave the discount, if it said.
    pub fn discount_reason(&self) -> Option<&str> {
        self.discount_reason.as_deref()
    }

    /// The discount code the discount comes from, if any.
    pub fn discount_code(&self) -> Option<&CodeName> {
        self.discount_code.as_ref()
    }

    /// The same order with a discount code's discount (replacing any discount it had).
    #[must_use]
    pub fn with_code(mut self, code: CodeName, discount: Discount) -> Self {
        self.discount = Some(discount);
        self.discount_reason = None;
        self.discount_code = Some(code);
        self
    }

    /// The order's own tax rate (set by staff), if any: every line and taxed shipping line
    /// without a rate of its own pays it.
    pub fn tax_rate(&self) -> Option<Decimal> {
        self.tax_rate
    }

    /// Whether its prices contain the tax (the shop's setting, once settled).
    pub fn prices_include_tax(&self) -> bool {
        self.prices_include_tax
    }

    /// The shipping method the order names, until [`NewOrder::settle`] prices it.
    pub fn shipping_method(&self) -> Option<&str> {
        self.shipping_method.as_deref()
    }

    /// The shipping lines, as given.
    pub fn shipping(&self) -> &[ShippingLine] {
        &self.shipping
    }

    /// Contact, addresses, notes, tags, metadata and channel.
    pub fn details(&self) -> &OrderDetails {
        &self.details
    }
}

/// What a line's product, price, snapshot and tax class are, and where they came from.
type LineParts = (
    Option<ProductId>,
    Decimal,
    Option<LineSnapshot>,
    LineSource,
    TaxClass,
);

/// A line with its own price: its product, price and snapshot as given.
fn custom_line(
    item: &LineItemDraft,
    unit_price: Decimal,
    index: usize,
    scale: u32,
    errors: &mut Collector,
) -> Option<LineParts> {
    // A custom line is known by its product or by what it is (its snapshot), at least one.
    let product_id = if item.product_id.is_none() && item.snapshot.is_empty() {
        errors.push(
            format!("items[{index}].product_id"),
            Violation::ProductOrSnapshot,
        );
        None
    } else {
        Some(item.product_id)
    };
    let unit_price = errors.check(
        || format!("items[{index}].unit_price"),
        checked_amount(unit_price, scale),
    );
    let snapshot = errors.absorb(LineSnapshot::parse(&item.snapshot, index));
    Some((
        product_id?,
        unit_price?,
        snapshot?,
        LineSource::Custom,
        TaxClass::default(),
    ))
}

/// A line by SKU: everything but its quantity from the book's product. Without a currency
/// (already reported) the product is still looked up, so an unknown SKU is reported too.
fn book_line(
    item: &LineItemDraft,
    currency: Option<Currency>,
    book: &HashMap<Sku, Product>,
    index: usize,
    errors: &mut Collector,
) -> Option<LineParts> {
    let given = &item.snapshot;
    let mut set_by_book = false;
    for (field, present) in [
        ("product_id", item.product_id.is_some()),
        ("title", given.title.is_some()),
        ("options", !given.options.is_empty()),
        ("requires_shipping", given.requires_shipping.is_some()),
    ] {
        if present {
            errors.push(format!("items[{index}].{field}"), Violation::SetFromBook);
            set_by_book = true;
        }
    }
    let field = || format!("items[{index}].sku");
    let sku = errors.check(
        field,
        given
            .sku
            .as_deref()
            .ok_or(Violation::Required)
            .and_then(Sku::parse),
    )?;
    let product = errors.check(field, book.get(&sku).ok_or(Violation::UnknownSku))?;
    let (unit_price, snapshot) = errors.check(field, product.offer(currency?))?;
    (!set_by_book).then(|| {
        (
            Some(product.id()),
            unit_price,
            Some(snapshot),
            LineSource::Book,
            product.spec().tax_class().clone(),
        )
    })
}

/// The discount and its reason, each checked; `None` for a part that is wrong (the errors are
/// in `errors`).
#[allow(
    clippy::option_option,
    reason = "as every field's check: None failed, Some(None) absent"
)]
fn discount(
    draft: &OrderDraft,
    scale: u32,
    errors: &mut Collector,
) -> (Option<Option<Discount>>, Option<Option<String>>) {
    let discount = match &draft.discount {
        None => Some(None),
        Some(Discount::Fixed { amount: value }) => errors
            .check(
                || "discount.amount".to_owned(),
                checked_amount(*value, scale),
            )
            .map(|amount| Some(Discount::Fixed { amount })),
        Some(Discount::Percentage { percent }) => errors
            .check(|| "discount.percent".to_owned(), percentage(*percent))
            .map(|percent| Some(Discount::Percentage { percent })),
    };
    let discount_reason = match (&draft.discount_reason, &draft.discount) {
        (None, _) => Some(None),
        (Some(_), None) => {
            errors.push("discount.reason", Violation::ReasonWithoutDiscount);
            None
        }
        (Some(raw), Some(_)) => errors
            .check(
                || "discount.reason".into(),
                line(raw, MAX_DISCOUNT_REASON_CHARS),
            )
            .map(Some),
    };
    (discount, discount_reason)
}

/// The shipping method's code, if the draft names one (and no shipping lines beside it).
#[allow(
    clippy::option_option,
    reason = "as every field's check: None failed, Some(None) absent"
)]
fn shipping_method(draft: &OrderDraft, errors: &mut Collector) -> Option<Option<String>> {
    match &draft.shipping_method {
        None => Some(None),
        Some(_) if !draft.shipping.is_empty() => {
            errors.push("shipping_method", Violation::TwoShippings);
            None
        }
        Some(raw) => errors
            .check(|| "shipping_method".into(), shipping_code(raw))
            .map(Some),
    }
}

/// The shipping lines, each checked; `None` when any is wrong (the errors are in `errors`).
fn shipping_lines(
    drafts: &[ShippingLineDraft],
    scale: u32,
    errors: &mut Collector,
) -> Option<Vec<ShippingLine>> {
    if drafts.len() > MAX_SHIPPING_LINES {
        errors.push(
            "shipping",
            Violation::TooManyShippingLines {
                max: MAX_SHIPPING_LINES,
            },
        );
    }
    let mut lines = Vec::with_capacity(drafts.len());
    for (index, draft) in drafts.iter().enumerate() {
        let code = errors.check(
            || format!("shipping[{index}].code"),
            shipping_code(&draft.code),
        );
        let title = errors.check(
            || format!("shipping[{index}].title"),
            line(&draft.title, MAX_SHIPPING_TITLE_CHARS),
        );
        let amount = errors.check(
            || format!("shipping[{index}].amount"),
            checked_amount(draft.amount, scale),
        );
        if let (Some(code), Some(title), Some(amount)) = (code, title, amount) {
            lines.push(ShippingLine {
                code,
                title,
                amount,
                taxed: draft.taxed,
                tax_rate: None,
            });
        }
    }
    (lines.len() == drafts.len() && drafts.len() <= MAX_SHIPPING_LINES).then_some(lines)
}

/// A non-negative amount of at most `scale` decimals and at most [`MAX_AMOUNT`].
pub(crate) fn checked_amount(value: Decimal, scale: u32) -> Result<Decimal, Violation> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(Violation::Negative);
    }
    if value.normalize().scale() > scale {
        return Err(Violation::TooPrecise { max_scale: scale });
    }
    if value > MAX_AMOUNT {
        return Err(Violation::TooLarge { max: MAX_AMOUNT });
    }
    let mut exact = value.abs();
    exact.rescale(scale);
    Ok(exact)
}

fn percentage(value: Decimal) -> Result<Decimal, Violation> {
    if value.is_sign_negative() && !value.is_zero() || value > Decimal::ONE_HUNDRED {
        return Err(Violation::PercentOutOfRange);
    }
    if value.normalize().scale() > MAX_PERCENT_SCALE {
        return Err(Violation::TooPrecise {
            max_scale: MAX_PERCENT_SCALE,
        });
    }
    Ok(value.abs().normalize())
}

pub(crate) fn tax_rate(value: Decimal) -> Result<Decimal, Violation> {
    if value.is_sign_negative() && !value.is_zero() || value >= Decimal::ONE {
        return Err(Violation::TaxRateOutOfRange);
    }
    if value.normalize().scale() > MAX_TAX_RATE_SCALE {
        return Err(Violation::TooPrecise {
            max_scale: MAX_TAX_RATE_SCALE,
        });
    }
    Ok(value.abs().normalize())
}
