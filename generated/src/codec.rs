//! The serde derives of generated types (see `posthog-api-derive` for why they are not serde's
//! own) and the decoding support they expand to: one key lookup and one missing-field error
//! shared by every type.

use std::fmt;

use serde::de::{self, DeserializeSeed, Visitor};

pub use posthog_api_derive::{Deserialize, Serialize};

/// Decodes an object key into the index of the field it names in a type's field table, or
/// `usize::MAX` for a key the type does not declare (PostHog adds fields; they are skipped).
///
/// Keys are compared where the decoder hands them over, borrowed, so decoding allocates nothing
/// per key.
#[derive(Clone, Copy)]
pub struct FieldIndex(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldIndex {
    type Value = usize;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for FieldIndex {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<usize, E> {
        Ok(self
            .0
            .iter()
            .position(|field| *field == key)
            .unwrap_or(usize::MAX))
    }

    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<usize, E> {
        Ok(self
            .0
            .iter()
            .position(|field| field.as_bytes() == key)
            .unwrap_or(usize::MAX))
    }
}

/// The value of a required field, or serde's "missing field" error naming its JSON key.
pub fn required<T, E: de::Error>(value: Option<T>, key: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(key))
}
