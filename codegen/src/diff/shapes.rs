//! Types in a line, as the generated crate spells them (named types bare), for the changelog.

use crate::ir::{BodyEncoding, RequestBody, Response, TypeKind, TypeRef};

/// The Rust type of a reference, with named types by their bare name.
pub(super) fn display(ty: &TypeRef) -> String {
    match ty {
        TypeRef::Bool => "bool".to_owned(),
        TypeRef::I32 => "i32".to_owned(),
        TypeRef::I64 => "i64".to_owned(),
        TypeRef::U32 => "u32".to_owned(),
        TypeRef::U64 => "u64".to_owned(),
        TypeRef::F64 => "f64".to_owned(),
        TypeRef::String => "String".to_owned(),
        TypeRef::DateTime => "DateTime<FixedOffset>".to_owned(),
        TypeRef::Date => "NaiveDate".to_owned(),
        TypeRef::Uuid => "Uuid".to_owned(),
        TypeRef::Json => "serde_json::Value".to_owned(),
        TypeRef::File => "FilePart".to_owned(),
        TypeRef::Named(name) => name.clone(),
        TypeRef::Vec(inner) => format!("Vec<{}>", display(inner)),
        TypeRef::Map(inner) => format!("BTreeMap<String, {}>", display(inner)),
        TypeRef::Option(inner) => format!("Option<{}>", display(inner)),
        TypeRef::Nullable(inner) => format!("Nullable<{}>", display(inner)),
        TypeRef::Boxed(inner) => format!("Box<{}>", display(inner)),
    }
}

/// A field's or parameter's type without the `Option` its presence adds (presence is compared
/// on its own: required, nullable).
pub(super) fn inner(ty: &TypeRef) -> &TypeRef {
    match ty {
        TypeRef::Option(inner) | TypeRef::Nullable(inner) => inner,
        other => other,
    }
}

/// A request body's type, and its encoding when it is not JSON.
pub(super) fn body_shape(body: &RequestBody) -> String {
    match body.encoding {
        BodyEncoding::Json => display(&body.ty),
        BodyEncoding::Multipart => format!("{} (multipart)", display(&body.ty)),
        BodyEncoding::Form => format!("{} (form-urlencoded)", display(&body.ty)),
    }
}

/// What the method returns.
pub(super) fn response_shape(response: &Response) -> String {
    match response {
        Response::Json(ty) => display(ty),
        Response::Undocumented => "serde_json::Value (undocumented)".to_owned(),
        Response::Empty => "()".to_owned(),
        Response::Text => "String (text/csv)".to_owned(),
        Response::EventStream => "ByteStream (text/event-stream)".to_owned(),
        Response::Binary => "Bytes (binary)".to_owned(),
    }
}

/// What kind of type a named type is, for a type whose kind changed.
pub(super) fn kind_name(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Struct { .. } => "struct".to_owned(),
        TypeKind::StringEnum { .. } => "string enum".to_owned(),
        TypeKind::IntegerEnum { .. } => "integer enum".to_owned(),
        TypeKind::Literal { value } => format!("literal {value:?}"),
        TypeKind::TaggedUnion { tag, .. } => format!("union tagged by `{tag}`"),
        TypeKind::UntaggedUnion { .. } => "untagged union".to_owned(),
        TypeKind::Alias { target } => format!("alias of {}", display(target)),
    }
}
