//! The opaque keyset cursor for listing orders.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ordo_domain::OrderId;
use uuid::Uuid;

/// Where the next page starts: the `(created_at, id)` of the last order of the previous page.
///
/// Lists are sorted by `(created_at, id)` descending, so the next page holds the orders strictly
/// below this pair. On the wire it is opaque: base64url (no padding) of a version byte, the
/// creation time as big-endian microseconds since the Unix epoch, and the id's 16 bytes. Clients
/// must not build or read it; its format may change with its version byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Creation time of the last order seen.
    pub created_at: DateTime<Utc>,
    /// Id of the last order seen.
    pub id: OrderId,
}

/// A cursor string that was not made by [`Cursor::encode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor: pass back the next_cursor of a previous page unchanged")]
pub struct InvalidCursor;

const VERSION: u8 = 1;
const LEN: usize = 1 + 8 + 16;

impl Cursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.created_at.timestamp_micros().to_be_bytes());
        bytes.extend_from_slice(self.id.as_uuid().as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads a cursor made by [`Cursor::encode`].
    ///
    /// # Errors
    /// [`InvalidCursor`] for anything else.
    pub fn decode(text: &str) -> Result<Self, InvalidCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| InvalidCursor)?;
        let bytes: [u8; LEN] = bytes.try_into().map_err(|_| InvalidCursor)?;
        let (version, rest) = bytes.split_first().ok_or(InvalidCursor)?;
        let (micros, id) = rest.split_at(8);
        if *version != VERSION {
            return Err(InvalidCursor);
        }
        let micros = i64::from_be_bytes(micros.try_into().map_err(|_| InvalidCursor)?);
        let created_at = DateTime::from_timestamp_micros(micros).ok_or(InvalidCursor)?;
        let id = Uuid::from_slice(id).map_err(|_| InvalidCursor)?;
        let id = OrderId::from_uuid(id).map_err(|_| InvalidCursor)?;
        Ok(Self { created_at, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_tampering() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_790_000_000_123_456).unwrap(),
            id: OrderId::from_parts(1_790_000_000_123, &[9; 10]),
        };
        let text = cursor.encode();
        assert_eq!(Cursor::decode(&text), Ok(cursor));
        assert_eq!(Cursor::decode(""), Err(InvalidCursor));
        assert_eq!(Cursor::decode("not base64!"), Err(InvalidCursor));
        assert_eq!(Cursor::decode(&text[..text.len() - 2]), Err(InvalidCursor));
        let mut other_version = URL_SAFE_NO_PAD.decode(&text).unwrap();
        other_version[0] = 2;
        assert_eq!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode(other_version)),
            Err(InvalidCursor)
        );
    }
}
