//! `Nullable<T>`: the type of optional nullable fields, where absent, null and a value are three
//! different things on the wire.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A field the schema lets a body leave out *and* set to `null`.
///
/// In a request, [`Nullable::Absent`] sends nothing (PATCH: leave the value as it is),
/// [`Nullable::Null`] sends `null` (clear it) and [`Nullable::Value`] sends the value. In an
/// answer, a member that is missing decodes as `Absent` and a `null` as `Null`.
///
/// ```
/// use posthog_api::Nullable;
/// use posthog_api::types::PatchedFeatureFlag;
///
/// let clear = PatchedFeatureFlag {
///     ensure_experience_continuity: Nullable::Null,
///     ..Default::default()
/// };
/// assert_eq!(
///     serde_json::to_string(&clear).unwrap(),
///     r#"{"ensure_experience_continuity":null}"#
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Nullable<T> {
    /// Not in the JSON at all.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// A value.
    Value(T),
}

impl<T> Nullable<T> {
    /// The value, or `Absent` (left out of the JSON) for `None`.
    pub fn value_or_absent(value: Option<T>) -> Self {
        value.map_or(Nullable::Absent, Nullable::Value)
    }

    /// The value, or `Null` (sent as `null`) for `None`.
    pub fn value_or_null(value: Option<T>) -> Self {
        value.map_or(Nullable::Null, Nullable::Value)
    }

    /// Whether the member is missing.
    pub fn is_absent(&self) -> bool {
        matches!(self, Nullable::Absent)
    }

    /// Whether the member is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Nullable::Null)
    }

    /// The value, if there is one (absent and null are both `None`).
    pub fn value(&self) -> Option<&T> {
        match self {
            Nullable::Value(value) => Some(value),
            Nullable::Absent | Nullable::Null => None,
        }
    }

    /// The value, if there is one, by value.
    pub fn into_value(self) -> Option<T> {
        match self {
            Nullable::Value(value) => Some(value),
            Nullable::Absent | Nullable::Null => None,
        }
    }

    /// A reference to the value, keeping which of the three it is.
    pub fn as_ref(&self) -> Nullable<&T> {
        match self {
            Nullable::Absent => Nullable::Absent,
            Nullable::Null => Nullable::Null,
            Nullable::Value(value) => Nullable::Value(value),
        }
    }
}

impl<T> From<T> for Nullable<T> {
    fn from(value: T) -> Self {
        Nullable::Value(value)
    }
}

/// `Absent` is written as `null` too: a struct leaves it out before it gets here
/// (`skip_serializing_if`), and anywhere else JSON has no "missing" to write.
impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Nullable::Value(value) => serializer.serialize_some(value),
            Nullable::Absent | Nullable::Null => serializer.serialize_none(),
        }
    }
}

/// Decodes `null` as [`Nullable::Null`] and anything else as a value; a missing member never
/// reaches here (the struct starts the field as `Absent`).
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(value) => Nullable::Value(value),
            None => Nullable::Null,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Nullable;

    #[test]
    fn null_and_values_decode_apart() {
        let null: Nullable<u32> = serde_json::from_str("null").unwrap();
        let value: Nullable<u32> = serde_json::from_str("7").unwrap();
        assert_eq!((null, value), (Nullable::Null, Nullable::Value(7)));
        assert!(serde_json::from_str::<Nullable<u32>>("\"7\"").is_err());
    }

    #[test]
    fn accessors_tell_the_three_apart() {
        let states = [Nullable::Absent, Nullable::Null, Nullable::Value(3)];
        let seen: Vec<_> = states
            .iter()
            .map(|s| (s.is_absent(), s.is_null(), s.value().copied()))
            .collect();
        assert_eq!(
            seen,
            [
                (true, false, None),
                (false, true, None),
                (false, false, Some(3))
            ]
        );
        assert_eq!(Nullable::from(3).into_value(), Some(3));
        assert_eq!(Nullable::<u8>::value_or_absent(None), Nullable::Absent);
        assert_eq!(Nullable::<u8>::value_or_null(None), Nullable::Null);
        assert_eq!(Nullable::value_or_null(Some(1)), Nullable::Value(1));
        assert_eq!(Nullable::Value(3).as_ref(), Nullable::Value(&3));
    }
}
