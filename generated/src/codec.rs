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

/// Decodes the value of a key over a field that starts with its own "missing" value (a
/// `Nullable` starts `Absent`; `null` decodes as `Null`).
pub fn fill_in_place<'de, M: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut M,
    slot: &mut T,
) -> Result<(), M::Error> {
    *slot = map.next_value()?;
    Ok(())
}

/// Skips the value of a key the type does not declare.
pub fn skip<'de, M: MapAccess<'de>>(map: &mut M) -> Result<(), M::Error> {
    map.next_value::<de::IgnoredAny>().map(|_| ())
}

/// An untagged union decoded from one buffered JSON value: what the `Deserialize` derive writes
/// per `#[serde(untagged)]` enum, so that one function ([`deserialize_untagged`]) serves them
/// all. Its variants are a table, not code in the union's own `deserialize`: the body is then
/// compiled once rather than per deserializer type, and a debug build's stack frame for one
/// level of nesting holds one candidate value, not one per variant (PostHog's query unions
/// have 40 variants, and nest through `sourceQuery` up to serde_json's recursion limit).
pub trait Untagged: Sized + 'static {
    /// The type's name, for the "did not match" error.
    const NAME: &'static str;
    /// Typed variants in declaration order.
    const ATTEMPTS: &'static [Attempt<Self>];
    /// The variant holding any JSON the others do not match, when the union has one.
    const FALLBACK: Option<fn(serde_json::Value) -> Self>;
}

/// One typed variant of an [`Untagged`] union.
pub struct Attempt<T> {
    /// `(member, literal)`: the variant is tried only when the value's `member` is the string
    /// `literal` (its struct's pydantic `Literal` tag). Variants without one are always tried.
    pub tag: Option<(&'static str, &'static str)>,
    /// Decodes the variant from the buffered value, `None` when it does not fit.
    pub decode: fn(&serde_json::Value) -> Option<T>,
}

/// `Deserialize::deserialize` of every generated untagged union: buffers the value once, then
/// tries the variants its tags allow, in order, by reference, and hands the buffer to the
/// fallback variant when none fits. With the tags, a value is decoded by at most the one variant
/// its `kind` names plus the untagged ones, so nested unions decode in time linear in the nesting
/// (tried one by one, two recursive variants doubled the work per level).
pub fn deserialize_untagged<'de, D: de::Deserializer<'de>, T: Untagged>(
    deserializer: D,
) -> Result<T, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    pick(value).map_err(|()| {
        <D::Error as de::Error>::custom(format_args!(
            "data did not match any variant of untagged enum {}",
            T::NAME
        ))
    })
}

/// The variant of `T` that `value` decodes as (see [`deserialize_untagged`]).
fn pick<T: Untagged>(value: serde_json::Value) -> Result<T, ()> {
    // Variants share their tag member (`kind`, or `type` for property filters): look it up once
    // per member in a row.
    let mut looked_up: Option<(&str, Option<&str>)> = None;
    for attempt in T::ATTEMPTS {
        if let Some((member, literal)) = attempt.tag {
            let found = match looked_up {
                Some((known, found)) if known == member => found,
                _ => {
                    let found = value.get(member).and_then(serde_json::Value::as_str);
                    looked_up = Some((member, found));
                    found
                }
            };
            if found != Some(literal) {
                continue;
            }
        }
        if let Some(decoded) = (attempt.decode)(&value) {
            return Ok(decoded);
        }
    }
    T::FALLBACK.map(|fallback| fallback(value)).ok_or(())
}

/// An [`Attempt::decode`] of a variant holding a `V`.
pub fn variant<V: de::DeserializeOwned, T>(
    value: &serde_json::Value,
    wrap: fn(V) -> T,
) -> Option<T> {
    V::deserialize(value).ok().map(wrap)
}

/// An [`Attempt::decode`] of a unit variant: it matches `null`.
pub fn null_variant<T>(value: &serde_json::Value, unit: T) -> Option<T> {
    value.is_null().then_some(unit)
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
