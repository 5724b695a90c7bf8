//! Identifier newtypes, so an order id can never be passed where a customer id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::{Uuid, Version};

/// A string that is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not a UUID at all.
    #[error("not a UUID")]
    Malformed,
    /// A UUID, but not the time-ordered version 7 that order ids use.
    #[error("not a version 7 (time-ordered) UUID")]
    NotVersion7,
}

macro_rules! uuid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(text).map_err(|_| IdError::Malformed).and_then(Self::from_uuid)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::from_uuid(Uuid::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_newtype! {
    /// An order's id: a `UUIDv7`, so ids sort by creation time and B-tree inserts stay local.
    OrderId
}

uuid_newtype! {
    /// The id of the customer an order belongs to, as issued by the shop's identity system.
    CustomerId
}

uuid_newtype! {
    /// The id of a product in the shop's catalogue.
    ProductId
}

impl OrderId {
    /// Accepts only version 7 UUIDs.
    ///
    /// # Errors
    /// [`IdError::NotVersion7`] for any other version.
    pub fn from_uuid(uuid: Uuid) -> Result<Self, IdError> {
        if uuid.get_version() == Some(Version::SortRand) {
            Ok(Self(uuid))
        } else {
            Err(IdError::NotVersion7)
        }
    }

    /// Builds a `UUIDv7` from a Unix time in milliseconds and 10 random bytes.
    ///
    /// The domain makes no randomness of its own (it must build for the browser without a
    /// random source); the service supplies both parts.
    pub fn from_parts(unix_millis: u64, random: &[u8; 10]) -> Self {
        Self(uuid::Builder::from_unix_timestamp_millis(unix_millis, random).into_uuid())
    }
}

impl CustomerId {
    /// Any UUID: customers are identified by another system, whose ids ordo does not choose.
    ///
    /// # Errors
    /// None today; the `Result` keeps the constructor's shape uniform across id types.
    #[allow(
        clippy::unnecessary_wraps,
        reason = "one constructor shape for every id type"
    )]
    pub fn from_uuid(uuid: Uuid) -> Result<Self, IdError> {
        Ok(Self(uuid))
    }
}

impl ProductId {
    /// A `UUIDv7` from its parts: the products ordo's price book adds.
    pub fn from_parts(unix_millis: u64, random: &[u8; 10]) -> Self {
        Self(uuid::Builder::from_unix_timestamp_millis(unix_millis, random).into_uuid())
    }

    /// Any UUID: a custom line names the product as the shop's own systems identify it (the
    /// price book's products get `UUIDv7`s, [`ProductId::from_parts`]).
    ///
    /// # Errors
    /// None today; the `Result` keeps the constructor's shape uniform across id types.
    #[allow(
        clippy::unnecessary_wraps,
        reason = "one constructor shape for every id type"
    )]
    pub fn from_uuid(uuid: Uuid) -> Result<Self, IdError> {
        Ok(Self(uuid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_are_uuid_v7_and_sort_by_time() {
        let earlier = OrderId::from_parts(1_700_000_000_000, &[0xff; 10]);
        let later = OrderId::from_parts(1_700_000_000_001, &[0x00; 10]);
        assert_eq!(earlier.as_uuid().get_version(), Some(Version::SortRand));
        assert!(earlier < later);
        assert_eq!(earlier.to_string().parse::<OrderId>(), Ok(earlier));
    }

    #[test]
    fn order_ids_reject_other_versions_and_garbage() {
        assert_eq!(
            "936da01f-9abd-4d9d-80c7-02af85c822a8".parse::<OrderId>(),
            Err(IdError::NotVersion7)
        );
        assert_eq!("not-a-uuid".parse::<OrderId>(), Err(IdError::Malformed));
        assert!(
            serde_json::from_str::<OrderId>(r#""936da01f-9abd-4d9d-80c7-02af85c822a8""#).is_err()
        );
    }

    #[test]
    fn customer_and_product_ids_take_any_uuid() {
        let text = "936da01f-9abd-4d9d-80c7-02af85c822a8";
        assert_eq!(text.parse::<CustomerId>().unwrap().to_string(), text);
        assert_eq!(text.parse::<ProductId>().unwrap().to_string(), text);
    }
}
