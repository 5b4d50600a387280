//! Small token builders every emitter shares: identifiers, type references, doc attributes.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::ir::{Operation, TypeRef};
use crate::naming::{is_keyword, type_name};

/// An identifier, raw (`r#type`) when it is a keyword.
pub fn ident(name: &str) -> Ident {
    if is_keyword(name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// The name of an operation's static in the operation table: its method name (already unique
/// and a valid identifier, unlike some operationIds) in upper case.
pub fn op_const(op: &Operation) -> Ident {
    Ident::new(&op.method_name.to_uppercase(), Span::call_site())
}

/// The name of an operation's query parameter struct, from its (unique) method name.
pub fn query_type_ident(op: &Operation) -> Ident {
    Ident::new(
        &format!("{}Query", type_name(&op.method_name)),
        Span::call_site(),
    )
}

/// The Rust type for a type reference, with named types behind `prefix` (e.g. `types::`).
pub fn type_tokens(ty: &TypeRef, prefix: &TokenStream) -> TokenStream {
    match ty {
        TypeRef::Bool => quote!(bool),
        TypeRef::I32 => quote!(i32),
        TypeRef::I64 => quote!(i64),
        TypeRef::U32 => quote!(u32),
        TypeRef::U64 => quote!(u64),
        TypeRef::F64 => quote!(f64),
        TypeRef::String => quote!(String),
        TypeRef::DateTime => quote!(chrono::DateTime<chrono::FixedOffset>),
        TypeRef::Date => quote!(chrono::NaiveDate),
        TypeRef::Uuid => quote!(uuid::Uuid),
        TypeRef::Json => quote!(serde_json::Value),
        TypeRef::File => quote!(crate::multipart::FilePart),
        TypeRef::Named(name) => {
            let name = ident(name);
            quote!(#prefix #name)
        }
        TypeRef::Vec(inner) => {
            let inner = type_tokens(inner, prefix);
            quote!(Vec<#inner>)
        }
        TypeRef::Map(inner) => {
            let inner = type_tokens(inner, prefix);
            quote!(std::collections::BTreeMap<String, #inner>)
        }
        TypeRef::Option(inner) => {
            let inner = type_tokens(inner, prefix);
            quote!(Option<#inner>)
        }
        TypeRef::Nullable(inner) => {
            let inner = type_tokens(inner, prefix);
            quote!(crate::Nullable<#inner>)
        }
        TypeRef::Boxed(inner) => {
            let inner = type_tokens(inner, prefix);
            quote!(Box<#inner>)
        }
    }
}

/// `#[doc = ...]` lines for schema text, made safe for rustdoc: schema prose is not Rust, so
/// code fences become `text` blocks and indentation (which Markdown reads as code) is dropped.
pub fn docs(text: Option<&str>) -> TokenStream {
    let Some(text) = text else {
        return TokenStream::new();
    };
    let mut lines = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        let trimmed = line.trim();
        let line = if trimmed.starts_with("```") {
            // Whatever language a fence names, rustdoc must not compile it as a doctest.
            in_fence = !in_fence;
            if in_fence {
                "```text".to_owned()
            } else {
                "```".to_owned()
            }
        } else if in_fence {
            line.to_owned()
        } else {
            trimmed.to_owned()
        };
        lines.push(format!(" {line}"));
    }
    if in_fence {
        lines.push(" ```".to_owned());
    }
    quote!(#(#[doc = #lines])*)
}
