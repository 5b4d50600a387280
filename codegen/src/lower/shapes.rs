//! Reading schema shapes: the structure behind openapiv3's catch-all `Any` kind, the Rust
//! primitive of a format, a union variant's name for a primitive, and a schema's docs.

use openapiv3::{
    IntegerType, ObjectType, Schema, SchemaKind, StringFormat, StringType, Type,
    VariantOrUnknownOrEmpty,
};

use crate::ir::TypeRef;

/// The schema with an `Any` kind replaced by the structure it describes (see [`any_as_kind`]).
pub(super) fn normalized(schema: &Schema) -> std::borrow::Cow<'_, Schema> {
    match any_as_kind(schema) {
        Some(kind) => std::borrow::Cow::Owned(Schema {
            schema_data: schema.schema_data.clone(),
            schema_kind: kind,
        }),
        None => std::borrow::Cow::Borrowed(schema),
    }
}

/// `openapiv3` keeps schemas that mix keywords (say `type: object` beside `oneOf`) as
/// `SchemaKind::Any`; this picks the structure that matters for code generation.
pub(super) fn any_as_kind(schema: &Schema) -> Option<SchemaKind> {
    let SchemaKind::Any(any) = &schema.schema_kind else {
        return None;
    };
    if !any.one_of.is_empty() {
        return Some(SchemaKind::OneOf {
            one_of: any.one_of.clone(),
        });
    }
    if !any.any_of.is_empty() {
        return Some(SchemaKind::AnyOf {
            any_of: any.any_of.clone(),
        });
    }
    if !any.all_of.is_empty() {
        return Some(SchemaKind::AllOf {
            all_of: any.all_of.clone(),
        });
    }
    if !any.properties.is_empty() || any.typ.as_deref() == Some("object") {
        return Some(SchemaKind::Type(Type::Object(ObjectType {
            properties: any.properties.clone(),
            required: any.required.clone(),
            additional_properties: any.additional_properties.clone(),
            ..ObjectType::default()
        })));
    }
    if any.items.is_some() || any.typ.as_deref() == Some("array") {
        return Some(SchemaKind::Type(Type::Array(openapiv3::ArrayType {
            items: any.items.clone(),
            min_items: None,
            max_items: None,
            unique_items: false,
        })));
    }
    None
}

pub(super) fn integer_type(integer: &IntegerType) -> TypeRef {
    match &integer.format {
        VariantOrUnknownOrEmpty::Item(openapiv3::IntegerFormat::Int32) => return TypeRef::I32,
        VariantOrUnknownOrEmpty::Item(openapiv3::IntegerFormat::Int64) => return TypeRef::I64,
        _ => {}
    }
    match (integer.minimum, integer.maximum) {
        (Some(min), Some(max)) if min >= 0 && max <= i64::from(u32::MAX) => TypeRef::U32,
        (Some(min), _) if min >= 0 => TypeRef::U64,
        (Some(min), Some(max)) if min >= i64::from(i32::MIN) && max <= i64::from(i32::MAX) => {
            TypeRef::I32
        }
        _ => TypeRef::I64,
    }
}

pub(super) fn string_type(string: &StringType) -> TypeRef {
    match &string.format {
        VariantOrUnknownOrEmpty::Item(StringFormat::DateTime) => TypeRef::DateTime,
        VariantOrUnknownOrEmpty::Item(StringFormat::Date) => TypeRef::Date,
        VariantOrUnknownOrEmpty::Item(StringFormat::Binary) => TypeRef::File,
        VariantOrUnknownOrEmpty::Unknown(format) if format == "uuid" => TypeRef::Uuid,
        _ => TypeRef::String,
    }
}

pub(super) fn primitive_variant_name(ty: &TypeRef) -> &'static str {
    match ty {
        TypeRef::Bool => "Boolean",
        TypeRef::I32 | TypeRef::I64 | TypeRef::U32 | TypeRef::U64 => "Integer",
        TypeRef::F64 => "Number",
        TypeRef::File => "File",
        TypeRef::String | TypeRef::Date | TypeRef::DateTime | TypeRef::Uuid => "String",
        TypeRef::Vec(_) => "Array",
        TypeRef::Map(_) | TypeRef::Json => "Object",
        TypeRef::Option(inner) | TypeRef::Nullable(inner) | TypeRef::Boxed(inner) => {
            primitive_variant_name(inner)
        }
        TypeRef::Named(_) => "Variant",
    }
}

/// Documentation from a schema's title and description.
pub fn docs_of(schema: &Schema) -> Option<String> {
    let data = &schema.schema_data;
    match (&data.title, &data.description) {
        (_, Some(description)) if !description.trim().is_empty() => {
            Some(description.trim().to_owned())
        }
        (Some(title), _) if !title.trim().is_empty() => Some(title.trim().to_owned()),
        _ => None,
    }
}
