//! The opaque keyset cursor for listing orders.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
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
    /// Id of the last order seen (any UUID orders against the stored ids).
    pub id: Uuid,
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
        bytes.extend_from_slice(self.id.as_bytes());
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
        // A cursor is only a bound: a time past what chrono holds is the end of time, and any
        // id orders against the stored ones, so every well-formed cursor reads as some page.
        let created_at = DateTime::from_timestamp_micros(micros).unwrap_or(if micros < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        });
        let id = Uuid::from_slice(id).map_err(|_| InvalidCursor)?;
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
            id: ordo_domain::OrderId::from_parts(1_790_000_000_123, &[9; 10]).as_uuid(),
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

    #[test]
    fn every_well_formed_cursor_reads_as_a_bound() {
        // The OpenAPI document describes a cursor by its form
        // (`^A[Q-Za-f][A-Za-z0-9_-]{31}[AQgw]$`): any text of that form must decode, whatever
        // time and id it carries, since clients may not read it and it is only a bound.
        for (micros, id) in [
            (i64::MAX, Uuid::nil()),
            (i64::MIN, Uuid::max()),
            (0, Uuid::from_u128(7)),
        ] {
            let mut bytes = vec![VERSION];
            bytes.extend_from_slice(&micros.to_be_bytes());
            bytes.extend_from_slice(id.as_bytes());
            let text = URL_SAFE_NO_PAD.encode(bytes);
            assert_eq!(text.len(), 34);
            assert!(text.starts_with('A'), "{text}");
            let cursor = Cursor::decode(&text).unwrap();
            assert_eq!(cursor.id, id);
        }
    }
}
