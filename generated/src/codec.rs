//! The serde derives of generated types (see `posthog-api-derive` for why they are not serde's
//! own) and the helpers they expand to, shared by every type: the key lookup, one call per
//! decoded field, and a struct writer.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeStruct};

// The derives share the traits' names, in the macro namespace, as serde's own do.
pub use posthog_api_derive::{Deserialize, Serialize};

/// A struct decoded from a map: what the `Deserialize` derive writes per struct, so that one
/// generic visitor ([`deserialize_struct`]) serves them all.
pub trait FromMap: Sized {
    /// The type's name, for "expected struct X" errors.
    const NAME: &'static str;
    /// JSON keys of its fields, in declaration order.
    const FIELDS: &'static [&'static str];
    /// Reads the struct from the map's entries.
    fn from_map<'de, M: MapAccess<'de>>(map: M) -> Result<Self, M::Error>;
}

/// `Deserialize::deserialize` of every generated struct.
pub fn deserialize_struct<'de, D: de::Deserializer<'de>, T: FromMap>(
    deserializer: D,
) -> Result<T, D::Error> {
    deserializer.deserialize_struct(T::NAME, T::FIELDS, StructVisitor(PhantomData))
}

/// The visitor behind [`deserialize_struct`]: maps only (structs do not decode from arrays).
struct StructVisitor<T>(PhantomData<T>);

impl<'de, T: FromMap> Visitor<'de> for StructVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct {}", T::NAME)
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<T, M::Error> {
        T::from_map(map)
    }
}

/// Decodes an object key into the index of the field it names in a type's field table, or
/// `usize::MAX` for a key the type does not declare (PostHog adds fields; they are skipped).
///
/// Keys are compared where the decoder hands them over, borrowed, so decoding allocates nothing
/// per key. PostHog writes keys in schema order, so the field after the previous key (`next`) is
/// tried first and usually matches with one comparison; any other order falls back to a scan.
#[derive(Clone, Copy)]
pub struct FieldIndex {
    fields: &'static [&'static str],
    next: usize,
}

impl FieldIndex {
    /// A lookup in `fields`, trying `fields[next]` first.
    pub fn new(fields: &'static [&'static str], next: usize) -> Self {
        Self { fields, next }
    }

    fn find(self, key: &[u8]) -> usize {
        if self
            .fields
            .get(self.next)
            .is_some_and(|field| field.as_bytes() == key)
        {
            return self.next;
        }
        self.fields
            .iter()
            .position(|field| field.as_bytes() == key)
            .unwrap_or(usize::MAX)
    }
}

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
        Ok(self.find(key.as_bytes()))
    }

    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<usize, E> {
        Ok(self.find(key))
    }
}

/// Decodes the value of a key into the slot of a field that is not an `Option`.
pub fn fill<'de, M: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut M,
    slot: &mut Option<T>,
) -> Result<(), M::Error> {
    *slot = Some(map.next_value()?);
    Ok(())
}

/// Decodes the value of a key into an `Option` field: `null` is `None`, as a missing key is.
pub fn fill_nullable<'de, M: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut M,
    slot: &mut Option<T>,
) -> Result<(), M::Error> {
    *slot = map.next_value()?;
    Ok(())
}

/// Skips the value of a key the type does not declare.
pub fn skip<'de, M: MapAccess<'de>>(map: &mut M) -> Result<(), M::Error> {
    map.next_value::<de::IgnoredAny>().map(|_| ())
}

/// Writes a struct's fields one call each, keeping the first error and skipping the rest once
/// one happened, so a generated `Serialize` needs no `?` per field.
pub struct StructWriter<S: SerializeStruct> {
    state: S,
    error: Option<S::Error>,
}

impl<S: SerializeStruct> StructWriter<S> {
    /// Starts from the serializer's struct state.
    pub fn new(state: S) -> Self {
        Self { state, error: None }
    }

    /// Writes one field (unless an earlier one failed).
    pub fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) {
        if self.error.is_none()
            && let Err(error) = self.state.serialize_field(key, value)
        {
            self.error = Some(error);
        }
    }

    /// Finishes the struct, or returns the first error.
    pub fn end(self) -> Result<S::Ok, S::Error> {
        match self.error {
            Some(error) => Err(error),
            None => self.state.end(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serializer as _;
    use std::cell::Cell;

    /// A value whose encoding fails with its name, counting how often it was asked.
    struct Failing<'a>(&'static str, &'a Cell<u32>);

    impl Serialize for Failing<'_> {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            self.1.set(self.1.get() + 1);
            Err(serde::ser::Error::custom(self.0))
        }
    }

    #[test]
    fn struct_writer_returns_the_first_error_and_writes_nothing_after_it() {
        let calls = Cell::new(0);
        let state = serde_json::value::Serializer
            .serialize_struct("Flag", 3)
            .unwrap();
        let mut out = StructWriter::new(state);
        out.field("key", "beta");
        out.field("first", &Failing("first failed", &calls));
        out.field("second", &Failing("second failed", &calls));
        let error = out.end().unwrap_err();
        assert_eq!(error.to_string(), "first failed");
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn struct_writer_writes_fields_in_order() {
        let state = serde_json::value::Serializer
            .serialize_struct("Flag", 2)
            .unwrap();
        let mut out = StructWriter::new(state);
        out.field("key", "beta");
        out.field("active", &true);
        let value = out.end().unwrap();
        assert_eq!(value.to_string(), r#"{"key":"beta","active":true}"#);
    }

    #[test]
    fn unknown_keys_map_past_every_field() {
        const FIELDS: &[&str] = &["id", "key", "name"];
        for next in [0, 1, 2, 3, usize::MAX] {
            let fields = FieldIndex::new(FIELDS, next);
            let found: Result<usize, serde_json::Error> = fields.visit_str("key");
            assert_eq!(found.unwrap(), 1, "next = {next}");
            let unknown: Result<usize, serde_json::Error> = fields.visit_str("added_later");
            assert_eq!(unknown.unwrap(), usize::MAX, "next = {next}");
            let bytes: Result<usize, serde_json::Error> = fields.visit_bytes(b"id");
            assert_eq!(bytes.unwrap(), 0, "next = {next}");
        }
    }
}
