//! The order record on the wire: contact, addresses, shipping lines, notes, tags, metadata and
//! channel, with OpenAPI schemas as tight as the domain's rules (so a client, or schemathesis,
//! reading the schema sends what ordo accepts). Requests and responses share these shapes.

use std::collections::BTreeMap;

use ordo_domain::{
    AddressDraft, BillingAddressDraft, COUNTRY_CODES, ContactDraft, MAX_ADDRESS_LINE_CHARS,
    MAX_ADDRESS_NAME_CHARS, MAX_CITY_CHARS, MAX_METADATA_ENTRIES, MAX_METADATA_KEY_CHARS,
    MAX_METADATA_VALUE_CHARS, MAX_OPTION_KEY_CHARS, MAX_OPTION_VALUE_CHARS, MAX_OPTIONS,
    MAX_POSTAL_CODE_CHARS, OrderDetailsDraft, SameAsShipping, ShippingLine, ShippingLineDraft,
    amount_serde,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, schema::AdditionalProperties};
use utoipa::{PartialSchema, ToSchema};

/// One line of text: no control characters, not only white space (the domain trims it).
pub(crate) const LINE: &str =
    "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$";
/// An identifier kept exactly as given: no control characters, no white space at either end.
pub(crate) const EXACT: &str =
    "^[^\\s\\x00-\\x1F\\x7F-\\x9F]([^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F])?$";

/// Who to contact about the order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContactBody {
    /// An email address, kept as given and matched ignoring case.
    #[schema(
        example = "ada@example.com",
        max_length = 254,
        pattern = "^[^\\s@\\x00-\\x1F\\x7F-\\x9F]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
    )]
    pub email: String,
    /// A phone number in E.164 form.
    #[serde(default)]
    #[schema(example = "+14155550100", pattern = "^[+][1-9][0-9]{7,14}$")]
    pub phone: Option<String>,
    /// The person's name, as they write it.
    #[serde(default)]
    #[schema(
        example = "Ada Lovelace",
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub name: Option<String>,
}

/// A postal address. Only `line1`, `city` and `country` are required; postal codes are not
/// checked per country.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddressBody {
    /// The recipient.
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub name: Option<String>,
    /// The company.
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub company: Option<String>,
    /// Street and number.
    #[schema(
        example = "12 Analytical Row",
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub line1: String,
    /// Flat, floor, building.
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub line2: Option<String>,
    /// The city.
    #[schema(
        example = "London",
        max_length = 100,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub city: String,
    /// State, province or county.
    #[serde(default)]
    #[schema(
        max_length = 100,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub region: Option<String>,
    /// The postal code, as the country writes it.
    #[serde(default)]
    #[schema(
        example = "N1 9GU",
        max_length = 20,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 code, upper case.
    #[schema(value_type = CountrySchema, example = "GB")]
    pub country: String,
    /// A phone number for the carrier, in E.164 form.
    #[serde(default)]
    #[schema(example = "+442071234567", pattern = "^[+][1-9][0-9]{7,14}$")]
    pub phone: Option<String>,
}

/// Bill the shipping address.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub(crate) enum SameAsShippingBody {
    /// The billing address is the shipping address.
    #[serde(rename = "same_as_shipping")]
    SameAsShipping,
}

/// Who is billed: an address, or `"same_as_shipping"` (which needs a shipping address).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per order, parsed once: boxing would only add an allocation"
)]
pub(crate) enum BillingBody {
    /// `"same_as_shipping"`.
    SameAsShipping(SameAsShippingBody),
    /// An address of its own.
    Address(AddressBody),
}

/// A shipping line: how the order goes out, and what that costs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShippingLineBody {
    /// The method's code: no white space.
    #[schema(
        example = "dhl-express",
        max_length = 64,
        pattern = "^[^\\s\\x00-\\x1F\\x7F-\\x9F]+$"
    )]
    pub code: String,
    /// The method as the customer saw it.
    #[schema(
        example = "DHL Express (1–2 days)",
        max_length = 200,
        pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
    )]
    pub title: String,
    /// What it costs, in the order's currency, with at most its minor units of decimals.
    #[serde(with = "amount_serde")]
    #[schema(value_type = String, example = "4.95", pattern = "^[0-9]{1,12}([.][0-9]{1,4})?$")]
    pub amount: Decimal,
    /// Whether the order's tax rate applies to it (false when left out).
    #[serde(default)]
    pub taxed: bool,
}

impl From<ShippingLineBody> for ShippingLineDraft {
    fn from(body: ShippingLineBody) -> Self {
        Self {
            code: body.code,
            title: body.title,
            amount: body.amount,
            taxed: body.taxed,
        }
    }
}

impl From<&ShippingLine> for ShippingLineBody {
    fn from(line: &ShippingLine) -> Self {
        Self {
            code: line.code.clone(),
            title: line.title.clone(),
            amount: line.amount,
            taxed: line.taxed,
        }
    }
}

/// The details of an order as the API carries them, in a create body and in every order.
/// (Flattened into an order, so its schema admits the order's other fields; a patch's keys are
/// checked by `patch::only_details`.)
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub(crate) struct DetailsBody {
    /// Who to contact about the order.
    #[serde(default)]
    pub contact: Option<ContactBody>,
    /// Where it goes.
    #[serde(default)]
    pub shipping_address: Option<AddressBody>,
    /// Who is billed.
    #[serde(default)]
    pub billing_address: Option<BillingBody>,
    /// The customer's note to the shop.
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = "^[^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub customer_note: Option<String>,
    /// The shop's own note: staff and admins set and see it, never a customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 2000,
        pattern = "^[^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x09\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub staff_note: Option<String>,
    /// Labels staff filter by (staff and admins set them): up to 20, each up to 40 letters,
    /// digits, `-`, `_` and spaces, stored lower case, each once, sorted.
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<TagSchema>)]
    pub tags: Vec<String>,
    /// An integration's own keys (staff and admins set them): up to 50, keys up to 40
    /// characters, values up to 500, strings only.
    #[serde(default)]
    #[schema(value_type = MetadataSchema)]
    pub metadata: BTreeMap<String, String>,
    /// Where the order came from: `web`, `pos`, `phone`, `marketplace`, `api` (when left out)
    /// or a custom name of lowercase letters, digits, `-` and `_`. Staff and admins set it.
    #[serde(default)]
    #[schema(example = "web", pattern = "^[a-z0-9_-]{1,32}$")]
    pub channel: Option<String>,
}

impl From<DetailsBody> for OrderDetailsDraft {
    fn from(body: DetailsBody) -> Self {
        Self {
            contact: body.contact.map(|contact| ContactDraft {
                email: contact.email,
                phone: contact.phone,
                name: contact.name,
            }),
            shipping_address: body.shipping_address.map(AddressDraft::from),
            billing_address: body.billing_address.map(|billing| match billing {
                BillingBody::SameAsShipping(_) => {
                    BillingAddressDraft::SameAsShipping(SameAsShipping::SameAsShipping)
                }
                BillingBody::Address(address) => BillingAddressDraft::Address(address.into()),
            }),
            customer_note: body.customer_note,
            staff_note: body.staff_note,
            tags: body.tags,
            metadata: body.metadata,
            channel: body.channel,
        }
    }
}

impl From<OrderDetailsDraft> for DetailsBody {
    fn from(draft: OrderDetailsDraft) -> Self {
        Self {
            contact: draft.contact.map(|contact| ContactBody {
                email: contact.email,
                phone: contact.phone,
                name: contact.name,
            }),
            shipping_address: draft.shipping_address.map(AddressBody::from),
            billing_address: draft.billing_address.map(|billing| match billing {
                BillingAddressDraft::SameAsShipping(_) => {
                    BillingBody::SameAsShipping(SameAsShippingBody::SameAsShipping)
                }
                BillingAddressDraft::Address(address) => BillingBody::Address(address.into()),
            }),
            customer_note: draft.customer_note,
            staff_note: draft.staff_note,
            tags: draft.tags,
            metadata: draft.metadata,
            channel: draft.channel,
        }
    }
}

impl From<AddressBody> for AddressDraft {
    fn from(body: AddressBody) -> Self {
        Self {
            name: body.name,
            company: body.company,
            line1: body.line1,
            line2: body.line2,
            city: body.city,
            region: body.region,
            postal_code: body.postal_code,
            country: body.country,
            phone: body.phone,
        }
    }
}

impl From<AddressDraft> for AddressBody {
    fn from(draft: AddressDraft) -> Self {
        Self {
            name: draft.name,
            company: draft.company,
            line1: draft.line1,
            line2: draft.line2,
            city: draft.city,
            region: draft.region,
            postal_code: draft.postal_code,
            country: draft.country,
            phone: draft.phone,
        }
    }
}

/// A string schema: `pattern`, at most `max` characters.
fn text(pattern: &str, max: usize) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .into()
}

/// A map of short strings: at most `entries`, keys as [`EXACT`] up to `key_max` characters,
/// values as `value` up to `value_max`.
fn string_map(entries: usize, key_max: usize, value: Schema) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(entries))
        .property_names(Some(text(EXACT, key_max)))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(value))))
        .into()
}

/// Any text without control characters, up to `max` characters, empty included (as the
/// domain keeps a metadata value).
fn plain_text(max: usize) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max))
        .pattern(Some("^[^\\x00-\\x1F\\x7F-\\x9F]*$"))
        .into()
}

/// ISO 3166-1 alpha-2: the officially assigned codes ordo accepts.
pub(crate) struct CountrySchema;

impl PartialSchema for CountrySchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(COUNTRY_CODES.iter().copied()))
            .into()
    }
}

impl ToSchema for CountrySchema {}

/// A tag.
pub(crate) struct TagSchema;

impl PartialSchema for TagSchema {
    fn schema() -> RefOr<Schema> {
        RefOr::T(text(
            "^[A-Za-z0-9_-]([A-Za-z0-9_ -]*[A-Za-z0-9_-])?$",
            ordo_domain::MAX_TAG_CHARS,
        ))
    }
}

impl ToSchema for TagSchema {}

/// Metadata: Stripe's limits.
pub(crate) struct MetadataSchema;

impl PartialSchema for MetadataSchema {
    fn schema() -> RefOr<Schema> {
        string_map(
            MAX_METADATA_ENTRIES,
            MAX_METADATA_KEY_CHARS,
            plain_text(MAX_METADATA_VALUE_CHARS),
        )
    }
}

impl ToSchema for MetadataSchema {}

/// A metadata merge patch: values to set, or null to remove a key.
pub(crate) struct MetadataPatchSchema;

impl PartialSchema for MetadataPatchSchema {
    fn schema() -> RefOr<Schema> {
        let value = ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::String,
                Type::Null,
            ]))
            .max_length(Some(MAX_METADATA_VALUE_CHARS))
            .pattern(Some("^[^\\x00-\\x1F\\x7F-\\x9F]*$"));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(text(EXACT, MAX_METADATA_KEY_CHARS)))
            .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(value.into()))))
            .into()
    }
}

impl ToSchema for MetadataPatchSchema {}

/// A line's variant options.
pub(crate) struct OptionsSchema;

impl PartialSchema for OptionsSchema {
    fn schema() -> RefOr<Schema> {
        string_map(
            MAX_OPTIONS,
            MAX_OPTION_KEY_CHARS,
            text(LINE, MAX_OPTION_VALUE_CHARS),
        )
    }
}

impl ToSchema for OptionsSchema {}

/// Keeps the limits named in the schemas above in step with the domain's.
const _: () = assert!(
    MAX_ADDRESS_NAME_CHARS == 200
        && MAX_ADDRESS_LINE_CHARS == 200
        && MAX_CITY_CHARS == 100
        && MAX_POSTAL_CODE_CHARS == 20
);
