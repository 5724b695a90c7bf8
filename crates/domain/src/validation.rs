//! Validation errors that name the field they are about (`items[3].quantity`).

use std::fmt;

use rust_decimal::Decimal;
use serde::Serialize;

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Violation {
    /// An order needs at least one line item.
    #[error("an order needs at least one item")]
    NoItems,
    /// Too many line items.
    #[error("an order has at most {max} items")]
    TooManyItems {
        /// The maximum.
        max: usize,
    },
    /// A quantity outside `1..=max`.
    #[error("must be between 1 and {max}")]
    QuantityOutOfRange {
        /// The maximum.
        max: u32,
    },
    /// A negative amount where only zero or more makes sense.
    #[error("must not be negative")]
    Negative,
    /// More decimals than allowed.
    #[error("must have at most {max_scale} decimal places")]
    TooPrecise {
        /// The most decimals allowed.
        max_scale: u32,
    },
    /// An amount beyond [`crate::MAX_AMOUNT`].
    #[error("must be at most {max}")]
    TooLarge {
        /// The maximum.
        max: Decimal,
    },
    /// Not an ISO 4217 currency with minor units.
    #[error("unknown currency: expected an ISO 4217 code such as \"USD\"")]
    UnknownCurrency,
    /// A tax rate outside `[0, 1)`.
    #[error("must be at least 0 and less than 1 (0.2 is 20%)")]
    TaxRateOutOfRange,
    /// A percentage outside `[0, 100]`.
    #[error("must be between 0 and 100")]
    PercentOutOfRange,
    /// A required text that is empty or only white space.
    #[error("must not be empty")]
    Empty,
    /// A text longer than allowed.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The most characters allowed.
        max: usize,
    },
    /// A text holding control characters (NUL cannot even be stored by PostgreSQL).
    #[error("must not contain control characters")]
    ControlCharacter,
    /// Too many shipping lines.
    #[error("an order has at most {max} shipping lines")]
    TooManyShippingLines {
        /// The maximum.
        max: usize,
    },
    /// A code holding white space.
    #[error("must not contain white space")]
    Whitespace,
    /// Not an email address ([`crate::Email`] lists what is checked).
    #[error(
        "expected an email address such as \"ada@example.com\": one @, at most 64 characters \
         before it, no spaces, and a domain with a dot after it"
    )]
    InvalidEmail,
    /// Not a phone number in E.164 form.
    #[error(
        "expected a phone number in E.164 form: + and 8 to 15 digits, such as \"+14155550100\""
    )]
    InvalidPhone,
    /// Not an officially assigned ISO 3166-1 alpha-2 code.
    #[error("unknown country: expected an ISO 3166-1 alpha-2 code such as \"DE\"")]
    UnknownCountry,
    /// A fulfilment or return that names no line.
    #[error("name at least one line of the order")]
    NoLines,
    /// A line number the order does not have.
    #[error("the order has no such line: lines are numbered from 0 in the order's items")]
    NoSuchLine,
    /// More units than the line has left to fulfil.
    #[error("only {left} of this line's units are left to fulfil")]
    OverFulfilment {
        /// How many are left.
        left: u32,
    },
    /// More units than the line has shipped and not yet returned.
    #[error("only {left} of this line's units are shipped and not yet returned")]
    OverReturn {
        /// How many may still be returned.
        left: u32,
    },
    /// More units than the line has left to refund.
    #[error("only {left} of this line's units are left to refund")]
    OverRefund {
        /// How many are left.
        left: u32,
    },
    /// An amount of zero or less where more is needed.
    #[error("must be more than zero")]
    NotPositive,
    /// More than the order still has to be paid.
    #[error("is more than is due: {due}")]
    MoreThanDue {
        /// What is still due.
        due: Decimal,
    },
    /// Lines worth nothing, or nothing left to refund.
    #[error(
        "refund nothing: these units are worth nothing, or nothing is left to refund ({available} is)"
    )]
    NothingToRefund {
        /// What is left to refund.
        available: Decimal,
    },
    /// A time after now where only the past makes sense.
    #[error("must not be in the future")]
    InTheFuture,
    /// A payment provider not on the list.
    #[error("expected gateway or manual")]
    UnknownPaymentProvider,
    /// Payment terms on an order paid through the gateway.
    #[error("is for orders paid manually (payment_provider: manual)")]
    TermsWithoutManual,
    /// A payment method not on the list.
    #[error("expected one of bank_transfer, cash, cheque, card_terminal, other")]
    UnknownPaymentMethod,
    /// Payment terms out of range.
    #[error("must be a whole number of days from 0 to {max}")]
    TermsOutOfRange {
        /// The longest terms.
        max: u32,
    },
    /// A return reason not on the list.
    #[error(
        "expected one of damaged, defective, wrong_item, not_as_described, size_or_fit, \
         unwanted, arrived_late, other"
    )]
    UnknownReturnReason,
    /// Not an absolute http or https URL.
    #[error("expected an absolute http or https URL, such as \"https://track.example/1Z999\"")]
    InvalidUrl,
    /// An identifier that begins or ends with white space, which is kept exactly as given.
    #[error("must not begin or end with white space")]
    SurroundingWhitespace,
    /// A map key (variant option or metadata) that breaks the key rules.
    #[error(
        "keys must be 1 to {max} characters, with no control characters and no white space at \
         either end"
    )]
    InvalidKey {
        /// The most characters a key may have.
        max: usize,
    },
    /// A map or set with more entries than allowed.
    #[error("must have at most {max} entries")]
    TooManyEntries {
        /// The most entries allowed.
        max: usize,
    },
    /// A tag with a character other than a letter, digit, `-`, `_` or space.
    #[error("tags hold only letters, digits, \"-\", \"_\" and spaces")]
    InvalidTag,
    /// Neither a known sales channel nor a valid custom channel name.
    #[error(
        "expected web, pos, phone, marketplace, api, or a custom name of lowercase letters, \
         digits, \"-\" and \"_\""
    )]
    InvalidChannel,
    /// Billing "same as shipping" on an order with no shipping address.
    #[error("is \"same_as_shipping\", but the order has no shipping address")]
    NoShippingAddress,
    /// A line snapshot with some of `sku`, `title` and `requires_shipping` but not all.
    #[error(
        "is required: a line's sku, title and requires_shipping are given together or not at all"
    )]
    IncompleteSnapshot,
    /// A tax class that breaks its rule.
    #[error("expected 1 to {max} lowercase letters, digits, \"-\" or \"_\", such as \"reduced\"")]
    InvalidTaxClass {
        /// The most characters a class may have.
        max: usize,
    },
    /// A product with no price at all.
    #[error("a product needs a price in at least one currency")]
    NoPrice,
    /// A SKU the price book does not hold.
    #[error("no product in the price book has this SKU")]
    UnknownSku,
    /// A SKU whose product is archived.
    #[error("the product with this SKU is archived and cannot be ordered")]
    ProductArchived,
    /// A SKU whose product has no price in the order's currency.
    #[error("the product with this SKU has no price in {currency}")]
    NoPriceIn {
        /// The order's currency.
        currency: &'static str,
    },
    /// A field the price book fills, given on a line that takes its price from the book.
    #[error(
        "is set by the shop from the price book for a line given by sku; a line with its own \
         unit_price is a custom line"
    )]
    SetFromBook,
    /// A field that must be given.
    #[error("is required")]
    Required,
    /// A discount code that breaks its rule.
    #[error("expected 1 to {max} letters, digits, \"-\" or \"_\", such as \"SUMMER-10\"")]
    InvalidCode {
        /// The most characters a code may have.
        max: usize,
    },
    /// A discount code the shop does not have.
    #[error("no discount code of the shop has this name")]
    UnknownCode,
    /// A discount code archived, not yet valid or past its end.
    #[error("this discount code cannot be used now (archived, not yet valid, or expired)")]
    CodeNotActive,
    /// A fixed-amount code with no amount in the order's currency.
    #[error("this discount code has no amount in {currency}")]
    CodeNotInCurrency {
        /// The order's currency.
        currency: &'static str,
    },
    /// An order whose subtotal is below the code's minimum.
    #[error("this discount code needs a subtotal of at least {minimum} {currency}")]
    BelowMinimum {
        /// The minimum.
        minimum: Decimal,
        /// Its currency.
        currency: &'static str,
    },
    /// A discount code beside a discount of the order's own.
    #[error("an order takes one discount: a code, or a discount of the shop's own")]
    TwoDiscounts,
    /// An end at or before the start.
    #[error("must be after starts_at")]
    EndsBeforeStart,
    /// A limit outside `1..=max`.
    #[error("must be a whole number from 1 to {max}")]
    LimitOutOfRange {
        /// The largest limit.
        max: i64,
    },
    /// A usage limit below the uses orders hold now.
    #[error(
        "must be at least {used}: that many orders hold a use of the code (archive it to stop \
         new uses)"
    )]
    LimitBelowUses {
        /// The uses held.
        used: u32,
    },
    /// A value that may appear once in a request, given again.
    #[error("appears more than once in this request")]
    Duplicate,
    /// A custom line with neither a product nor a snapshot.
    #[error(
        "is required for a custom line without a snapshot: give its product_id, or its sku, \
         title and requires_shipping"
    )]
    ProductOrSnapshot,
    /// A change of where an order goes, once its tax or shipping was worked out for it.
    #[error(
        "cannot move the order to another country or region: its tax and shipping were worked \
         out for where it goes (cancel it and place it again)"
    )]
    DestinationPriced,
    /// A reason for a discount the order does not have.
    #[error("gives a reason for a discount, but the order has no discount")]
    ReasonWithoutDiscount,
    /// A shipping method beside shipping lines of the order's own.
    #[error("an order is shipped by a method of the shop's, or by shipping lines, not both")]
    TwoShippings,
    /// A shipping method the shop does not have.
    #[error("no shipping method of the shop has this code")]
    UnknownShippingMethod,
    /// A shipping method that does not go to the order's country.
    #[error("this shipping method does not ship to {country}")]
    NotShippedTo {
        /// The destination.
        country: &'static str,
    },
    /// A shipping method with no price in the order's currency.
    #[error("this shipping method has no price in {currency}")]
    ShippingNotInCurrency {
        /// The order's currency.
        currency: &'static str,
    },
    /// An order the shop's rates need a destination for, with no address.
    #[error(
        "is required: the shop's tax and shipping rates depend on where the order goes (a \
         billing address serves when nothing ships)"
    )]
    NoDestination,
    /// A line whose tax class has no rate where the order goes.
    #[error("the shop has no {tax_class} tax rate for {country}")]
    NoTaxRate {
        /// The destination.
        country: &'static str,
        /// The line's tax class.
        tax_class: String,
    },
}

/// One field's problem: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {violation}")]
pub struct FieldError {
    /// The field's path in the request, such as `items[3].quantity`.
    pub field: String,
    /// What is wrong with it.
    pub violation: Violation,
}

/// Every problem found in one input, so a client can fix them all in one go. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// One error, at `field`.
    pub fn single(field: impl Into<String>, violation: Violation) -> Self {
        Self(vec![FieldError {
            field: field.into(),
            violation,
        }])
    }

    /// The errors, if there are any.
    pub fn from_errors(errors: Vec<FieldError>) -> Option<Self> {
        (!errors.is_empty()).then_some(Self(errors))
    }

    /// The problems, in the order the fields appear.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// The problem with `field`, if there is one.
    pub fn for_field(&self, field: &str) -> Option<&Violation> {
        self.0
            .iter()
            .find(|error| error.field == field)
            .map(|error| &error.violation)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        for error in &self.0 {
            write!(f, "{separator}{error}")?;
            separator = "; ";
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Collects field errors while a value is parsed.
#[derive(Debug, Default)]
pub(crate) struct Collector(Vec<FieldError>);

impl Collector {
    pub(crate) fn push(&mut self, field: impl Into<String>, violation: Violation) {
        self.0.push(FieldError {
            field: field.into(),
            violation,
        });
    }

    /// Keeps the value if it parsed, records the error otherwise.
    pub(crate) fn check<T>(
        &mut self,
        field: impl FnOnce() -> String,
        result: Result<T, Violation>,
    ) -> Option<T> {
        result
            .map_err(|violation| self.push(field(), violation))
            .ok()
    }

    /// Keeps a part that parsed, records every error of a part that did not.
    pub(crate) fn absorb<T>(&mut self, result: Result<T, ValidationErrors>) -> Option<T> {
        result.map_err(|errors| self.0.extend(errors.0)).ok()
    }

    pub(crate) fn finish<T>(self, value: Option<T>) -> Result<T, ValidationErrors> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            // `value` is only `None` when an error was recorded, so this list is never empty.
            _ => Err(ValidationErrors(self.0)),
        }
    }
}
