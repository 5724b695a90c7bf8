//! Settling an order against the shop's rates: its shipping method priced, each line's tax
//! rate found for where the order goes. The rule in prose is in the crate documentation.

use crate::pricing::{RoundingPolicy, ShippingLine, goods};
use crate::rates::Rates;
use crate::validation::{Collector, ValidationErrors, Violation};
use crate::{CountryCode, LineSource, TaxClass};

use super::NewOrder;

impl NewOrder {
    /// The order with the shop's `rates` applied: the shipping method it names priced as a
    /// shipping line (free from the method's threshold on subtotal less discount), and, unless
    /// the order carries its own `tax_rate`, each line's and each taxed shipping line's rate
    /// taken from the tax table for the destination (the shipping address, else the billing
    /// address). A shop with no tax rates charges no tax; a shop with shipping methods needs
    /// one named for an order with a line that ships. Apply a discount code first: free
    /// shipping depends on the discount.
    ///
    /// # Errors
    /// [`ValidationErrors`] at `shipping_method` (unknown, not to this country, not in this
    /// currency, required, or taxed where the table has no standard rate), `shipping_address`
    /// (needed and missing), `items[i].sku` / `items[i].unit_price` (no rate for the line's
    /// class there) or `shipping[i].taxed`.
    pub fn settle(
        mut self,
        rates: &Rates,
        policy: RoundingPolicy,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let destination = self.details.destination();
        let method = self.shipping_method.take();
        let mut missing_address = false;
        if let Some(code) = &method {
            missing_address = self.ship_by(code, rates, policy, &mut errors);
        } else if self.shipping.is_empty()
            && !rates.shipping.methods().is_empty()
            && self.items.iter().any(super::NewLineItem::requires_shipping)
        {
            errors.push("shipping_method", Violation::Required);
        }
        self.prices_include_tax = rates.taxes.prices_include_tax();
        if self.tax_rate.is_none() && !rates.taxes.rates().is_empty() {
            match destination {
                None if missing_address => {}
                None => errors.push("shipping_address", Violation::NoDestination),
                Some((country, region)) => {
                    let from_method = method.is_some();
                    self.find_rates(rates, country, region.as_deref(), from_method, &mut errors);
                }
            }
        }
        errors.finish(Some(self))
    }

    /// Adds the shipping line of the method `code`; whether the shipping address it needs is
    /// missing (reported).
    fn ship_by(
        &mut self,
        code: &str,
        rates: &Rates,
        policy: RoundingPolicy,
        errors: &mut Collector,
    ) -> bool {
        let field = "shipping_method";
        let Some(method) = rates.shipping.method(code) else {
            errors.push(field, Violation::UnknownShippingMethod);
            return false;
        };
        // Goods that ship go to the shipping address; a method limited to some countries
        // needs one to be checked against.
        let ships_goods = self.items.iter().any(super::NewLineItem::requires_shipping);
        match self.details.shipping_address().map(crate::Address::country) {
            None if ships_goods || !method.ships_to_every_country() => {
                errors.push("shipping_address", Violation::NoDestination);
                return true;
            }
            Some(country) if !method.ships_to(country) => {
                errors.push(
                    field,
                    Violation::NotShippedTo {
                        country: country.as_str(),
                    },
                );
                return false;
            }
            _ => {}
        }
        // An amount too large to price is reported by `price`; here it is simply not free.
        let worth = goods(self, policy)
            .ok()
            .and_then(|(_, subtotal, discount)| subtotal.checked_sub(discount));
        let amount = match worth {
            Some(worth) => method.price_for(self.currency, worth),
            None => method.price_for(self.currency, rust_decimal::Decimal::MIN),
        };
        let Some(amount) = amount else {
            errors.push(
                field,
                Violation::ShippingNotInCurrency {
                    currency: self.currency.code(),
                },
            );
            return false;
        };
        self.shipping.push(ShippingLine {
            code: method.code().to_owned(),
            title: method.title().to_owned(),
            amount,
            taxed: method.taxed(),
            tax_rate: None,
        });
        false
    }

    fn find_rates(
        &mut self,
        rates: &Rates,
        country: CountryCode,
        region: Option<&str>,
        from_method: bool,
        errors: &mut Collector,
    ) {
        let missing = |class: &TaxClass| Violation::NoTaxRate {
            country: country.as_str(),
            tax_class: class.as_str().to_owned(),
        };
        for (index, item) in self.items.iter_mut().enumerate() {
            item.tax_rate = rates.taxes.rate_for(country, region, &item.tax_class);
            if item.tax_rate.is_none() {
                let field = match item.source {
                    LineSource::Book => "sku",
                    LineSource::Custom => "unit_price",
                };
                errors.push(format!("items[{index}].{field}"), missing(&item.tax_class));
            }
        }
        let standard = TaxClass::default();
        for (index, line) in self.shipping.iter_mut().enumerate() {
            if !line.taxed {
                continue;
            }
            match rates.taxes.rate_for(country, region, &standard) {
                Some(rate) => line.tax_rate = Some(rate),
                None if from_method => errors.push("shipping_method", missing(&standard)),
                None => errors.push(format!("shipping[{index}].taxed"), missing(&standard)),
            }
        }
    }
}
