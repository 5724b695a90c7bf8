//! Every enum's name is spelled once (strum); its JSON name (serde) must be the same, for every
//! variant, and parse back to it.
#![allow(clippy::unwrap_used, reason = "tests")]

use ordo_domain::{OrderStatus, PaymentOperation, PaymentStatus, RoundingMode, TaxRounding};
use strum::IntoEnumIterator;

fn json_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn every_variant_has_one_name_in_json_storage_and_display() {
    for status in OrderStatus::iter() {
        assert_eq!(json_name(&status), status.as_str());
        assert_eq!(status.to_string(), status.as_str());
        assert_eq!(status.as_str().parse::<OrderStatus>(), Ok(status));
    }
    for status in PaymentStatus::iter() {
        assert_eq!(json_name(&status), status.as_str());
        assert_eq!(status.to_string(), status.as_str());
        assert_eq!(status.as_str().parse::<PaymentStatus>(), Ok(status));
    }
    for operation in PaymentOperation::iter() {
        assert_eq!(
            operation.as_str().parse::<PaymentOperation>(),
            Ok(operation)
        );
        assert_eq!(operation.to_string(), operation.as_str());
    }
    for mode in RoundingMode::iter() {
        assert_eq!(json_name(&mode), mode.as_str());
        assert_eq!(RoundingMode::from_name(mode.as_str()), Some(mode));
    }
    for rule in TaxRounding::iter() {
        assert_eq!(json_name(&rule), rule.as_str());
        assert_eq!(TaxRounding::from_name(rule.as_str()), Some(rule));
    }
    assert_eq!(OrderStatus::iter().count(), 4);
    assert_eq!(PaymentStatus::iter().count(), 8);
}
