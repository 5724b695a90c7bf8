//! The part of an order that moves no money: contact, addresses, notes, tags, metadata and
//! channel. It is set when the order is placed and changed later by a merge patch; which caller
//! may change which field, and until when, is the service's rule.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Address, AddressDraft, BillingAddress, BillingAddressDraft, Channel, Contact, ContactDraft,
    Metadata, Note, SameAsShipping, Tags,
};
use crate::validation::{Collector, ValidationErrors, Violation};

/// The details as a client sends them, and as they are written back out: every field may be
/// left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderDetailsDraft {
    /// Who to contact about the order.
    #[serde(default)]
    pub contact: Option<ContactDraft>,
    /// Where the order goes.
    #[serde(default)]
    pub shipping_address: Option<AddressDraft>,
    /// Who is billed: an address, or `"same_as_shipping"`.
    #[serde(default)]
    pub billing_address: Option<BillingAddressDraft>,
    /// The customer's note to the shop.
    #[serde(default)]
    pub customer_note: Option<String>,
    /// The shop's own note, never shown to the customer.
    #[serde(default)]
    pub staff_note: Option<String>,
    /// Labels staff filter by.
    #[serde(default)]
    pub tags: Vec<String>,
    /// An integration's own keys and values.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Where the order came from; `api` when left out.
    #[serde(default)]
    pub channel: Option<String>,
}

/// The fields of [`OrderDetails`], as their names travel in requests, errors and rules.
pub const DETAIL_FIELDS: [&str; 8] = [
    "contact",
    "shipping_address",
    "billing_address",
    "customer_note",
    "staff_note",
    "tags",
    "metadata",
    "channel",
];

/// The checked details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDetails {
    contact: Option<Contact>,
    shipping_address: Option<Address>,
    billing_address: Option<BillingAddress>,
    customer_note: Option<Note>,
    staff_note: Option<Note>,
    tags: Tags,
    metadata: Metadata,
    channel: Channel,
}

impl Default for OrderDetails {
    fn default() -> Self {
        Self {
            contact: None,
            shipping_address: None,
            billing_address: None,
            customer_note: None,
            staff_note: None,
            tags: Tags::default(),
            metadata: Metadata::default(),
            channel: Channel::Api,
        }
    }
}

impl OrderDetails {
    /// Checks every field and reports every broken one, each by its path
    /// (`shipping_address.country`, `tags[2]`, `metadata.erp_id`). Billing "same as shipping"
    /// needs a shipping address.
    ///
    /// # Errors
    /// [`ValidationErrors`], never empty, in field order.
    pub fn parse(draft: &OrderDetailsDraft) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let contact = draft
            .contact
            .as_ref()
            .map(|contact| errors.absorb(Contact::parse(contact)));
        let shipping_address = draft
            .shipping_address
            .as_ref()
            .map(|address| errors.absorb(Address::parse(address, "shipping_address")));
        let billing_address = draft
            .billing_address
            .as_ref()
            .map(|billing| errors.absorb(BillingAddress::parse(billing)));
        if matches!(
            draft.billing_address,
            Some(BillingAddressDraft::SameAsShipping(_))
        ) && draft.shipping_address.is_none()
        {
            errors.push("billing_address", Violation::NoShippingAddress);
        }
        let customer_note = draft
            .customer_note
            .as_deref()
            .map(|note| errors.check(|| "customer_note".to_owned(), Note::parse(note)));
        let staff_note = draft
            .staff_note
            .as_deref()
            .map(|note| errors.check(|| "staff_note".to_owned(), Note::parse(note)));
        let tags = errors.absorb(Tags::parse(&draft.tags));
        let metadata = errors.absorb(Metadata::parse(&draft.metadata));
        let channel = match draft.channel.as_deref() {
            None => Some(Channel::Api),
            Some(channel) => errors.check(|| "channel".to_owned(), Channel::parse(channel)),
        };
        let details = (|| {
            Some(Self {
                contact: contact.map_or(Some(None), |c| c.map(Some))?,
                shipping_address: shipping_address.map_or(Some(None), |a| a.map(Some))?,
                billing_address: billing_address.map_or(Some(None), |b| b.map(Some))?,
                customer_note: customer_note.map_or(Some(None), |n| n.map(Some))?,
                staff_note: staff_note.map_or(Some(None), |n| n.map(Some))?,
                tags: tags?,
                metadata: metadata?,
                channel: channel?,
            })
        })();
        errors.finish(details)
    }

    /// The details as a client would send them: `parse(&d.to_draft()) == d`.
    pub fn to_draft(&self) -> OrderDetailsDraft {
        OrderDetailsDraft {
            contact: self.contact.as_ref().map(contact_draft),
            shipping_address: self.shipping_address.as_ref().map(address_draft),
            billing_address: self.billing_address.as_ref().map(|billing| match billing {
                BillingAddress::SameAsShipping => {
                    BillingAddressDraft::SameAsShipping(SameAsShipping::SameAsShipping)
                }
                BillingAddress::Address(address) => {
                    BillingAddressDraft::Address(address_draft(address))
                }
            }),
            customer_note: self.customer_note.as_ref().map(|n| n.as_str().to_owned()),
            staff_note: self.staff_note.as_ref().map(|n| n.as_str().to_owned()),
            tags: self.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            metadata: self
                .metadata
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            channel: Some(self.channel.as_str().to_owned()),
        }
    }

    /// The fields (of [`DETAIL_FIELDS`]) whose values differ between `self` and `other`, in
    /// that order: what a patch changed, for the rule of who may change what.
    pub fn changed_fields(&self, other: &Self) -> Vec<&'static str> {
        let differs = [
            self.contact != other.contact,
            self.shipping_address != other.shipping_address,
            self.billing_address != other.billing_address,
            self.customer_note != other.customer_note,
            self.staff_note != other.staff_note,
            self.tags != other.tags,
            self.metadata != other.metadata,
            self.channel != other.channel,
        ];
        DETAIL_FIELDS
            .into_iter()
            .zip(differs)
            .filter_map(|(field, differs)| differs.then_some(field))
            .collect()
    }

    /// The details with every personal datum removed (contact, addresses, both notes, which
    /// are free text about people); tags, metadata and channel stay.
    #[must_use]
    pub fn without_personal_data(&self) -> Self {
        Self {
            contact: None,
            shipping_address: None,
            billing_address: None,
            customer_note: None,
            staff_note: None,
            ..self.clone()
        }
    }

    /// Whether any personal datum is left (see [`OrderDetails::without_personal_data`]).
    pub fn has_personal_data(&self) -> bool {
        *self != self.without_personal_data()
    }

    /// Who to contact, if known.
    pub fn contact(&self) -> Option<&Contact> {
        self.contact.as_ref()
    }

    /// Where the order goes, if it ships.
    pub fn shipping_address(&self) -> Option<&Address> {
        self.shipping_address.as_ref()
    }

    /// Who is billed, if known.
    pub fn billing_address(&self) -> Option<&BillingAddress> {
        self.billing_address.as_ref()
    }

    /// Where the order goes for tax: the shipping address's country and region (lower case),
    /// else the billing address's.
    pub fn destination(&self) -> Option<(crate::CountryCode, Option<String>)> {
        let address = self
            .shipping_address
            .as_ref()
            .or(match &self.billing_address {
                Some(BillingAddress::Address(address)) => Some(address),
                _ => None,
            })?;
        Some((
            address.country(),
            address.region().map(str::to_ascii_lowercase),
        ))
    }

    /// The customer's note.
    pub fn customer_note(&self) -> Option<&Note> {
        self.customer_note.as_ref()
    }

    /// The shop's own note.
    pub fn staff_note(&self) -> Option<&Note> {
        self.staff_note.as_ref()
    }

    /// The tags.
    pub fn tags(&self) -> &Tags {
        &self.tags
    }

    /// The integrations' metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Where the order came from.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }
}

fn contact_draft(contact: &Contact) -> ContactDraft {
    ContactDraft {
        email: contact.email().as_str().to_owned(),
        phone: contact.phone().map(|p| p.as_str().to_owned()),
        name: contact.name().map(|n| n.as_str().to_owned()),
    }
}

fn address_draft(address: &Address) -> AddressDraft {
    AddressDraft {
        name: address.name().map(str::to_owned),
        company: address.company().map(str::to_owned),
        line1: address.line1().to_owned(),
        line2: address.line2().map(str::to_owned),
        city: address.city().to_owned(),
        region: address.region().map(str::to_owned),
        postal_code: address.postal_code().map(str::to_owned),
        country: address.country().as_str().to_owned(),
        phone: address.phone().map(|p| p.as_str().to_owned()),
    }
}
