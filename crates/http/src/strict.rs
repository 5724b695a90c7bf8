//! JSON read as the API documents it: a struct (or map) only from a JSON object. serde reads a
//! struct from an array too (its fields in order), so without this `["<customer>", "USD",
//! [["<product>", 1, "5.00"]]]` would be accepted as an order.

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Unexpected, Visitor};
use serde_json::Value;

/// A parsed JSON value whose containers are read strictly, all the way down.
pub(crate) struct Objects(pub(crate) Value);

impl IntoDeserializer<'_, serde_json::Error> for Objects {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// What a refused value is, for the error message.
fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(flag) => Unexpected::Bool(*flag),
        Value::Number(_) => Unexpected::Other("a number"),
        Value::String(text) => Unexpected::Str(text),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

impl Objects {
    fn visit_seq<'de, V: Visitor<'de>>(
        items: Vec<Value>,
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        let mut items = SeqDeserializer::new(items.into_iter().map(Objects));
        let value = visitor.visit_seq(&mut items)?;
        items.end()?;
        Ok(value)
    }

    fn visit_map<'de, V: Visitor<'de>>(
        map: serde_json::Map<String, Value>,
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        let mut entries =
            MapDeserializer::new(map.into_iter().map(|(key, value)| (key, Objects(value))));
        let value = visitor.visit_map(&mut entries)?;
        entries.end()?;
        Ok(value)
    }

    /// Only an object may become a struct or a map.
    fn object<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        match self.0 {
            Value::Object(map) => Self::visit_map(map, visitor),
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }
}

/// Integers as `serde_json` reads them from text: a number with a fraction is the wrong type,
/// not a malformed number.
macro_rules! integers {
    ($($method:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            match &self.0 {
                Value::Number(number) if !number.is_i64() && !number.is_u64() => Err(
                    de::Error::invalid_type(
                        Unexpected::Float(number.as_f64().unwrap_or_default()),
                        &visitor,
                    ),
                ),
                _ => self.0.$method(visitor),
            }
        }
    )*};
}

/// Scalars are read as `serde_json::Value` reads them (numbers keep their exact text).
macro_rules! scalars {
    ($($method:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.0.$method(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Objects {
    type Error = serde_json::Error;

    integers!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
    );

    scalars!(
        deserialize_bool,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_unit,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => Self::visit_seq(items, visitor),
            Value::Object(map) => Self::visit_map(map, visitor),
            // As serde_json's own reader hands a number to `deserialize_any` with
            // `arbitrary_precision`: its exact text under serde_json's private key, which money
            // amounts read (`ordo_domain::amount_serde`).
            Value::Number(number) => {
                let text = std::iter::once((crate::extract::NUMBER_TOKEN, number.to_string()));
                let mut entries = MapDeserializer::new(text);
                let value = visitor.visit_map(&mut entries)?;
                entries.end()?;
                Ok(value)
            }
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => Self::visit_seq(items, visitor),
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.object(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.object(visitor)
    }

    /// Unit variants from a string; a variant with content from a one-key object, whose content
    /// `serde_json` reads (no request body has such an enum today).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use serde::Deserialize;

    use super::Objects;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Line {
        product: String,
        quantity: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Order {
        customer: String,
        lines: Vec<Line>,
        note: Option<String>,
    }

    fn read(json: &str) -> Result<Order, serde_json::Error> {
        Order::deserialize(Objects(serde_json::from_str(json).unwrap()))
    }

    #[test]
    fn structs_come_from_objects_only_at_every_depth() {
        let order =
            read(r#"{"customer": "c", "lines": [{"product": "p", "quantity": 2}]}"#).unwrap();
        assert_eq!(order.lines[0].quantity, 2);
        // serde_json alone accepts both of these.
        assert!(serde_json::from_str::<Order>(r#"["c", [["p", 2]], null]"#).is_ok());
        assert!(read(r#"["c", [["p", 2]], null]"#).is_err());
        assert!(read(r#"{"customer": "c", "lines": [["p", 2]]}"#).is_err());
        // Unknown fields are still refused, options still optional.
        assert!(read(r#"{"customer": "c", "lines": [], "extra": 1}"#).is_err());
        assert_eq!(
            read(r#"{"customer": "c", "lines": [], "note": "n"}"#)
                .unwrap()
                .note
                .as_deref(),
            Some("n")
        );
    }
}
