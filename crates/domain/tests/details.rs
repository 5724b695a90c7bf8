//! An order's details (contact, addresses, notes, tags, metadata, channel): every broken field
//! is reported with its path, what is accepted writes back out to a draft that parses to the
//! same details, and `changed_fields` names exactly the fields that differ.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeMap;

use ordo_domain::{
    AddressDraft, BillingAddressDraft, Channel, ContactDraft, DETAIL_FIELDS, OrderDetails,
    OrderDetailsDraft, SameAsShipping, Violation,
};
use proptest::prelude::*;

fn address(city: &str) -> AddressDraft {
    AddressDraft {
        name: Some("Ada Lovelace".into()),
        company: None,
        line1: "12 St James's Square".into(),
        line2: None,
        city: city.into(),
        region: None,
        postal_code: Some("SW1Y 4JH".into()),
        country: "GB".into(),
        phone: Some("+442079460000".into()),
    }
}

#[test]
fn nothing_given_is_no_details_from_the_api_channel() {
    let details = OrderDetails::parse(&OrderDetailsDraft::default()).unwrap();
    assert_eq!(details, OrderDetails::default());
    assert_eq!(details.channel(), &Channel::Api);
    assert!(details.contact().is_none() && details.tags().is_empty());
}

#[test]
fn every_broken_field_is_named_at_once() {
    let draft = OrderDetailsDraft {
        contact: Some(ContactDraft {
            email: "not an email".into(),
            phone: Some("0171 555".into()),
            name: None,
        }),
        shipping_address: Some(AddressDraft {
            country: "UK".into(),
            ..address("London")
        }),
        billing_address: None,
        customer_note: Some("ring twice\u{7}".into()),
        staff_note: None,
        tags: vec!["vip".into(), "no/slash".into()],
        metadata: BTreeMap::from([(" erp_id".into(), "1".into())]),
        channel: Some("Web Shop".into()),
    };
    let errors = OrderDetails::parse(&draft).unwrap_err();
    let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
    for field in [
        "contact.email",
        "contact.phone",
        "shipping_address.country",
        "customer_note",
        "tags[1]",
        "channel",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert!(
        fields.iter().any(|f| f.starts_with("metadata")),
        "{fields:?}"
    );
    assert_eq!(
        errors.for_field("customer_note"),
        Some(&Violation::ControlCharacter)
    );
}

#[test]
fn billing_same_as_shipping_needs_a_shipping_address() {
    let mut draft = OrderDetailsDraft {
        billing_address: Some(BillingAddressDraft::SameAsShipping(
            SameAsShipping::SameAsShipping,
        )),
        ..OrderDetailsDraft::default()
    };
    let errors = OrderDetails::parse(&draft).unwrap_err();
    assert_eq!(
        errors.for_field("billing_address"),
        Some(&Violation::NoShippingAddress)
    );
    draft.shipping_address = Some(address("London"));
    let details = OrderDetails::parse(&draft).unwrap();
    let billed = details
        .billing_address()
        .unwrap()
        .resolve(details.shipping_address().unwrap());
    assert_eq!(billed.city(), "London");
}

/// Valid details from small pools, each field present or not.
fn details_draft() -> impl Strategy<Value = OrderDetailsDraft> {
    let contact = prop::option::of(
        (
            prop::sample::select(vec!["ada@example.com", "Ada@Example.COM", "b.c@shop.io"]),
            prop::option::of(prop::sample::select(vec!["+14155550100", "+4930901820"])),
            prop::option::of(prop::sample::select(vec!["Ada", "  Bo  ", ""])),
        )
            .prop_map(|(email, phone, name)| ContactDraft {
                email: email.into(),
                phone: phone.map(Into::into),
                name: name.map(Into::into),
            }),
    );
    let city = prop::sample::select(vec!["London", "Berlin", " Paris "]);
    let shipping = prop::option::of(city.clone().prop_map(address));
    let billing = prop_oneof![
        Just(None),
        city.prop_map(|c| Some(BillingAddressDraft::Address(address(c)))),
    ];
    let note = prop::option::of(prop::sample::select(vec![
        "leave at the door",
        "line one\nline two",
    ]));
    let tags = prop::collection::vec(
        prop::sample::select(vec!["vip", "VIP", "gift", " wholesale ", "b2b"]),
        0..5,
    );
    let metadata = prop::collection::btree_map(
        prop::sample::select(vec!["erp_id", "source", "campaign"]),
        prop::sample::select(vec!["1", "x-42", ""]),
        0..3,
    );
    let channel = prop::option::of(prop::sample::select(vec![
        "web",
        "pos",
        "api",
        "tiktok-shop",
    ]));
    (
        contact,
        shipping,
        billing,
        note.clone(),
        note,
        tags,
        metadata,
        channel,
    )
        .prop_map(
            |(
                contact,
                shipping_address,
                billing_address,
                customer_note,
                staff_note,
                tags,
                metadata,
                channel,
            )| {
                OrderDetailsDraft {
                    contact,
                    shipping_address,
                    billing_address,
                    customer_note: customer_note.map(Into::into),
                    staff_note: staff_note.map(Into::into),
                    tags: tags.into_iter().map(Into::into).collect(),
                    metadata: metadata
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                    channel: channel.map(Into::into),
                }
            },
        )
}

proptest! {
    #[test]
    fn accepted_details_write_back_out_to_the_same_details(draft in details_draft()) {
        let details = OrderDetails::parse(&draft).unwrap();
        let again = OrderDetails::parse(&details.to_draft()).unwrap();
        prop_assert_eq!(&again, &details);
        // The written-out draft is already in its final form: writing again changes nothing.
        prop_assert_eq!(again.to_draft(), details.to_draft());
        let json = serde_json::to_string(&details.to_draft()).unwrap();
        let read: OrderDetailsDraft = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(OrderDetails::parse(&read).unwrap(), details);
    }

    #[test]
    fn changed_fields_names_exactly_what_differs(a in details_draft(), b in details_draft()) {
        let (a, b) = (OrderDetails::parse(&a).unwrap(), OrderDetails::parse(&b).unwrap());
        let changed = a.changed_fields(&b);
        prop_assert_eq!(changed.is_empty(), a == b);
        prop_assert_eq!(&changed, &b.changed_fields(&a));
        // Copying each changed field from b into a's draft makes them equal.
        let mut patched = a.to_draft();
        let from = b.to_draft();
        for field in &changed {
            match *field {
                "contact" => patched.contact = from.contact.clone(),
                "shipping_address" => patched.shipping_address = from.shipping_address.clone(),
                "billing_address" => patched.billing_address = from.billing_address.clone(),
                "customer_note" => patched.customer_note = from.customer_note.clone(),
                "staff_note" => patched.staff_note = from.staff_note.clone(),
                "tags" => patched.tags = from.tags.clone(),
                "metadata" => patched.metadata = from.metadata.clone(),
                "channel" => patched.channel = from.channel.clone(),
                other => prop_assert!(false, "{other} is not in DETAIL_FIELDS {:?}", DETAIL_FIELDS),
            }
        }
        prop_assert_eq!(OrderDetails::parse(&patched).unwrap(), b);
    }
}

#[test]
fn erasing_removes_the_personal_data_keeps_the_money_and_is_harmless_twice() {
    use chrono::{TimeZone as _, Utc};
    use ordo_domain::{
        CustomerId, LineItemDraft, LineSnapshotDraft, NewOrder, Order, OrderDraft, OrderId,
        OrderNumber, OrderNumberKey, ProductId, RoundingPolicy, price,
    };
    let draft = OrderDraft {
        customer_id: CustomerId::from_uuid(uuid::Uuid::from_u128(1)).unwrap(),
        currency: "GBP".into(),
        items: vec![LineItemDraft {
            product_id: Some(ProductId::from_uuid(uuid::Uuid::from_u128(2)).unwrap()),
            quantity: 2,
            unit_price: Some("9.99".parse().unwrap()),
            snapshot: LineSnapshotDraft::default(),
        }],
        discount: None,
        discount_code: None,
        discount_code_optional: false,
        tax_rate: Some("0.2".parse().unwrap()),
        shipping: Vec::new(),
        shipping_method: None,
        discount_reason: None,
        details: OrderDetailsDraft {
            contact: Some(ContactDraft {
                email: "ada@example.com".into(),
                phone: None,
                name: Some("Ada".into()),
            }),
            shipping_address: Some(address("London")),
            billing_address: Some(BillingAddressDraft::SameAsShipping(
                SameAsShipping::SameAsShipping,
            )),
            customer_note: Some("ring twice".into()),
            staff_note: Some("Ada is lovely".into()),
            tags: vec!["vip".into()],
            metadata: BTreeMap::from([("erp".into(), "1".into())]),
            channel: Some("web".into()),
        },
    };
    let new = NewOrder::parse(&draft).unwrap();
    let pricing = price(&new, RoundingPolicy::default_for(new.currency())).unwrap();
    let at = |s: i64| Utc.timestamp_opt(1_790_000_000 + s, 0).unwrap();
    let number =
        OrderNumber::from_sequence(1, at(0).date_naive(), OrderNumberKey::DEFAULT).unwrap();
    let placed = Order::place(
        OrderId::from_parts(1, &[1; 10]),
        number,
        new.customer_id(),
        pricing,
        new.details().clone(),
        at(0),
    );
    let mut erased = placed.clone();
    assert!(erased.erase_personal_data(at(5)));
    let details = erased.details();
    assert!(details.contact().is_none() && details.shipping_address().is_none());
    assert!(details.billing_address().is_none() && details.customer_note().is_none());
    assert!(details.staff_note().is_none() && !details.has_personal_data());
    assert_eq!(details.tags(), placed.details().tags());
    assert_eq!(details.metadata(), placed.details().metadata());
    assert_eq!(erased.pricing(), placed.pricing());
    assert_eq!(erased.erased_at(), Some(at(5)));
    assert!(erased.version() > placed.version());
    let once = erased.clone();
    assert!(!erased.erase_personal_data(at(9)), "twice changes nothing");
    assert_eq!(erased, once);
}
