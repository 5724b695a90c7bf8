//! Where an order came from.

use serde::Deserialize;

use super::text::{self, text_type};
use crate::validation::Violation;

/// The longest custom channel name, in characters.
pub const MAX_CHANNEL_CHARS: usize = 32;

/// Where an order came from: one of the known channels, or a custom name of 1 to
/// [`MAX_CHANNEL_CHARS`] lowercase ASCII letters, digits, `-` and `_`. Serialised as its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub enum Channel {
    /// The web shop (`web`).
    Web,
    /// A point of sale in a shop (`pos`).
    Pos,
    /// Taken by phone (`phone`).
    Phone,
    /// A marketplace such as Amazon (`marketplace`).
    Marketplace,
    /// Another system through the API (`api`).
    Api,
    /// A channel of the merchant's own naming.
    Custom(CustomChannel),
}

impl Channel {
    /// The known channels, each once: a new variant goes here too, or it never parses.
    pub const KNOWN: [Self; 5] = [
        Self::Web,
        Self::Pos,
        Self::Phone,
        Self::Marketplace,
        Self::Api,
    ];

    /// A channel, exactly as given (no trimming, no case folding). A custom name that spells a
    /// known channel is that channel, so each channel has one value.
    ///
    /// # Errors
    /// [`Violation::Empty`], [`Violation::TooLong`] or [`Violation::InvalidChannel`].
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        if let Some(known) = Self::KNOWN.into_iter().find(|known| known.as_str() == raw) {
            return Ok(known);
        }
        if raw.is_empty() {
            return Err(Violation::Empty);
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
        {
            return Err(Violation::InvalidChannel);
        }
        text::within(raw, MAX_CHANNEL_CHARS)?;
        Ok(Self::Custom(CustomChannel(raw.to_owned())))
    }

    /// The channel's name: `web`, `pos`, `phone`, `marketplace`, `api` or the custom name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Web => "web",
            Self::Pos => "pos",
            Self::Phone => "phone",
            Self::Marketplace => "marketplace",
            Self::Api => "api",
            Self::Custom(custom) => &custom.0,
        }
    }
}

text_type!(Channel);

/// A custom channel's name; only [`Channel::parse`] makes one, and never with a known name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomChannel(String);

impl CustomChannel {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_channel_round_trips_through_its_name_and_json() {
        for channel in Channel::KNOWN {
            assert_eq!(Channel::parse(channel.as_str()), Ok(channel.clone()));
            let json = serde_json::to_string(&channel).unwrap();
            assert_eq!(json, format!("\"{}\"", channel.as_str()));
            assert_eq!(serde_json::from_str::<Channel>(&json).unwrap(), channel);
            assert_eq!(channel.to_string(), channel.as_str());
        }
        let names: std::collections::BTreeSet<_> =
            Channel::KNOWN.iter().map(Channel::as_str).collect();
        assert_eq!(names.len(), Channel::KNOWN.len());
    }

    #[test]
    fn custom_channels_are_short_lowercase_names() {
        let custom = Channel::parse("tiktok-shop_2").unwrap();
        assert_eq!(custom.as_str(), "tiktok-shop_2");
        assert!(matches!(custom, Channel::Custom(_)));
        assert!(Channel::parse(&"c".repeat(32)).is_ok());
        assert_eq!(
            Channel::parse(&"c".repeat(33)),
            Err(Violation::TooLong { max: 32 })
        );
        for bad in ["Web", "WEB", " web", "pop up", "kiosk!", "café"] {
            assert_eq!(Channel::parse(bad), Err(Violation::InvalidChannel), "{bad}");
        }
        assert_eq!(Channel::parse(""), Err(Violation::Empty));
    }
}
