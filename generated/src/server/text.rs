//! Deserializers for values that arrive as text (path segments, query parameters, multipart
//! parts), decoding them into the schema's types the way the client encoded them: scalars as
//! their text, arrays by repeating the name or joining with commas, objects as JSON text.

use serde::de::value::{Error, SeqDeserializer};
use serde::de::{self, Error as _, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

/// One text value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Text<'de>(pub(crate) &'de str);

impl<'de> Text<'de> {
    fn json<V: Visitor<'de>>(
        self,
        visit: impl FnOnce(
            &mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
        ) -> serde_json::Result<V::Value>,
    ) -> Result<V::Value, Error> {
        let mut deserializer = serde_json::Deserializer::from_str(self.0);
        visit(&mut deserializer).map_err(Error::custom)
    }

    fn parse<T: std::str::FromStr>(self, what: &str) -> Result<T, Error> {
        self.0
            .trim()
            .parse()
            .map_err(|_| Error::custom(format!("A valid {what} is required.")))
    }
}

macro_rules! parse_as {
    ($($method:ident => $visit:ident $ty:ty, $what:literal;)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.$visit(self.parse::<$ty>($what)?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Text<'de> {
    type Error = Error;

    /// Untyped targets (`serde_json::Value`, untagged unions) get the most specific reading of
    /// the text: a number, a boolean, JSON for objects and arrays, else the string.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.0;
        if let Ok(number) = text.parse::<i64>() {
            return visitor.visit_i64(number);
        }
        if text.starts_with(|c: char| c.is_ascii_digit() || c == '-')
            && let Ok(number) = text.parse::<f64>()
        {
            return visitor.visit_f64(number);
        }
        match text {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ if text.starts_with(['{', '[']) => {
                self.json::<V>(|json| de::Deserializer::deserialize_any(json, visitor))
            }
            _ => visitor.visit_borrowed_str(text),
        }
    }

    /// The spellings Django REST framework's `BooleanField` accepts.
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.trim() {
            "true" | "True" | "TRUE" | "1" | "yes" | "on" => visitor.visit_bool(true),
            "false" | "False" | "FALSE" | "0" | "no" | "off" => visitor.visit_bool(false),
            _ => Err(Error::custom("Must be a valid boolean.")),
        }
    }

    parse_as! {
        deserialize_i8 => visit_i8 i8, "integer";
        deserialize_i16 => visit_i16 i16, "integer";
        deserialize_i32 => visit_i32 i32, "integer";
        deserialize_i64 => visit_i64 i64, "integer";
        deserialize_u8 => visit_u8 u8, "integer";
        deserialize_u16 => visit_u16 u16, "integer";
        deserialize_u32 => visit_u32 u32, "integer";
        deserialize_u64 => visit_u64 u64, "integer";
        deserialize_f32 => visit_f32 f32, "number";
        deserialize_f64 => visit_f64 f64, "number";
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(IntoDeserializer::<Error>::into_deserializer(self.0))
    }

    /// Arrays and objects sent as one value are JSON text (the client's multipart encoding).
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.json::<V>(|json| de::Deserializer::deserialize_seq(json, visitor))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.json::<V>(|json| de::Deserializer::deserialize_map(json, visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.json::<V>(|json| de::Deserializer::deserialize_struct(json, name, fields, visitor))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        i128 u128 bytes byte_buf unit unit_struct tuple tuple_struct
    }
}

impl<'de> IntoDeserializer<'de, Error> for Text<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// Every value a query parameter was given (in order), for one field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Values<'a, 'de> {
    pub(crate) values: &'a [&'de str],
    /// Arrays as one comma-joined value (`explode: false`) rather than repeated names.
    pub(crate) comma_separated: bool,
}

impl<'de> Values<'_, 'de> {
    /// The value of a scalar field: the last one given, as Django's `QueryDict` reads it.
    fn single(&self) -> Result<Text<'de>, Error> {
        self.values
            .last()
            .map(|value| Text(value))
            .ok_or_else(|| Error::custom("This field is required."))
    }
}

macro_rules! forward_single {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.single()?.$method(visitor)
        })*
    };
}

impl<'a, 'de> IntoDeserializer<'de, Error> for Values<'a, 'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for Values<'_, 'de> {
    type Error = Error;

    forward_single! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_map deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.values.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let comma_separated = self.comma_separated;
        let items = self
            .values
            .iter()
            .flat_map(move |value| {
                let parts: Box<dyn Iterator<Item = &'de str>> = if comma_separated {
                    Box::new(value.split(','))
                } else {
                    Box::new(std::iter::once(*value))
                };
                parts
            })
            .map(Text);
        let mut seq = SeqDeserializer::new(items);
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single()?.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single()?.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single()?.deserialize_enum(name, variants, visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize as _;

    use super::*;

    #[test]
    fn scalars_lists_and_options_decode_from_text() {
        assert_eq!(i64::deserialize(Text("42")), Ok(42));
        assert!(i64::deserialize(Text("x")).is_err());
        assert_eq!(bool::deserialize(Text("True")), Ok(true));
        assert_eq!(String::deserialize(Text("123")), Ok("123".to_owned()));
        let values = Values {
            values: &["a,b", "c"],
            comma_separated: true,
        };
        assert_eq!(
            Vec::<String>::deserialize(values),
            Ok(vec!["a".into(), "b".into(), "c".into()])
        );
        let none = Values {
            values: &[],
            comma_separated: false,
        };
        assert_eq!(Option::<i64>::deserialize(none), Ok(None));
        assert!(i64::deserialize(none).is_err());
        assert_eq!(
            serde_json::Value::deserialize(Text("{\"a\":1}")),
            Ok(serde_json::json!({"a": 1}))
        );
    }
}
