//! The validated values of a complete order record: who to contact, where to ship and bill,
//! what each line was when ordered, and the extras (notes, tags, metadata, channel).
//!
//! Each type is parsed from what a client sends (plain strings and maps, as serde delivers
//! them) and is valid by construction afterwards. Every text refuses control characters
//! anywhere (notes allow line breaks); free texts are trimmed, identifiers (SKUs, keys,
//! channels, country codes) are kept exactly as given. The limits are in the crate's rule table.

mod address;
mod channel;
mod contact;
mod country;
mod details;
mod extras;
mod line;
pub(crate) mod text;

pub use address::{
    Address, AddressDraft, BillingAddress, BillingAddressDraft, MAX_ADDRESS_LINE_CHARS,
    MAX_ADDRESS_NAME_CHARS, MAX_CITY_CHARS, MAX_POSTAL_CODE_CHARS, SameAsShipping,
};
pub use channel::{Channel, CustomChannel, MAX_CHANNEL_CHARS};
pub use contact::{
    Contact, ContactDraft, Email, MAX_EMAIL_CHARS, MAX_EMAIL_LOCAL_CHARS, MAX_PERSON_NAME_CHARS,
    MAX_PHONE_DIGITS, MIN_PHONE_DIGITS, PersonName, Phone,
};
pub use country::{COUNTRY_CODES, CountryCode};
pub use details::{DETAIL_FIELDS, OrderDetails, OrderDetailsDraft};
pub use extras::{
    MAX_METADATA_ENTRIES, MAX_METADATA_KEY_CHARS, MAX_METADATA_VALUE_CHARS, MAX_NOTE_CHARS,
    MAX_TAG_CHARS, MAX_TAGS, Metadata, Note, Tag, Tags,
};
pub use line::{
    LineSnapshot, LineSnapshotDraft, MAX_OPTION_KEY_CHARS, MAX_OPTION_VALUE_CHARS, MAX_OPTIONS,
    MAX_SKU_CHARS, MAX_TITLE_CHARS, Sku, Title, VariantOptions,
};
