//! Lean `serde::Deserialize` and `serde::Serialize` derives for the types posthog-api generates,
//! cheaper to compile than serde's own.
//!
//! serde_derive writes four impls per struct (a field enum, its visitor, the struct visitor with
//! both `visit_seq` and `visit_map`, and `Deserialize`) and, for `#[serde(untagged)]` enums, a
//! buffer-and-retry body per variant. Over the ~1,300 types of PostHog's schema that code was
//! most of the crate's `cargo check` time. This derive writes, per struct, one `from_map` (the
//! `crate::codec::FromMap` trait, which one generic visitor serves), matching keys through a
//! shared table lookup (`crate::codec::FieldIndex`), and, per untagged union, a table of its
//! variants (`crate::codec::Untagged`) that one function tries in order against one buffered
//! `serde_json::Value`, by reference. A variant marked with its literal tag (`#[serde(tag
//! = "kind", literal = "HogQLMetadata")]`) is tried only when the value's `kind` is that string:
//! tried in order, PostHog's query unions (two variants holding the same union) cost about twice
//! as much per level of nesting.
//!
//! `Serialize` drops serde_derive's exact length computation (the hint is the field count, an
//! upper bound once optional fields are skipped; JSON ignores it) and the `skip_field` calls.
//!
//! Per field, both expand to one call of a helper in `crate::codec` and no `?`: the `?`
//! desugaring (a match, `Try`, `From`) per field was most of what remained to type-check.
//!
//! Both understand the `#[serde(...)]` attributes the generator emits and refuse any other, so
//! a new attribute in the generator cannot be silently ignored:
//! - container: `untagged` (enums);
//! - variant of an untagged enum: `tag = "member"` with `literal = "value"`;
//! - field: `rename = "..."`, `default`, and `skip_serializing_if = "path"`.
//!
//! A field typed `Option<..>` or `Nullable<..>` (posthog-api's three-state field) may be missing
//! without `default`: it starts as `None` / `Absent`; `null` is `None` for the first and `Null`
//! for the second.
//!
//! Behaviour differs from serde_derive only where JSON from PostHog never goes: structs do not
//! decode from arrays, a repeated key keeps its last value instead of failing, and formats that
//! need an exact struct length (bincode, postcard) are not supported.
//!
//! The expansion names `crate::codec`, so the derive works inside posthog-api only.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr, Type};
use syn_derive as syn;

/// Derives `serde::Deserialize` for a generated struct with named fields or an untagged enum.
#[proc_macro_derive(Deserialize, attributes(serde))]
pub fn derive_deserialize(input: TokenStream) -> TokenStream {
    derive(input, Direction::Deserialize)
}

/// Derives `serde::Serialize` for a generated struct with named fields or an untagged enum.
#[proc_macro_derive(Serialize, attributes(serde))]
pub fn derive_serialize(input: TokenStream) -> TokenStream {
    derive(input, Direction::Serialize)
}

/// Parses the item and expands it, turning refusals into `compile_error!` at their span.
fn derive(input: TokenStream, direction: Direction) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand(&input, direction)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Which impl to write.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Direction {
    Deserialize,
    Serialize,
}

fn expand(input: &DeriveInput, direction: Direction) -> syn::Result<TokenStream2> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "generated types have no generic parameters",
        ));
    }
    let untagged = container_is_untagged(input)?;
    match &input.data {
        Data::Struct(data) if !untagged => match &data.fields {
            Fields::Named(fields) => {
                let specs = fields
                    .named
                    .iter()
                    .map(field_spec)
                    .collect::<syn::Result<Vec<_>>>()?;
                Ok(match direction {
                    Direction::Deserialize => deserialize_struct(&input.ident, &specs),
                    Direction::Serialize => serialize_struct(&input.ident, &specs),
                })
            }
            other => Err(syn::Error::new(
                other.span(),
                "only structs with named fields are supported",
            )),
        },
        Data::Enum(data) if untagged => match direction {
            Direction::Deserialize => deserialize_untagged(&input.ident, data),
            Direction::Serialize => serialize_untagged(&input.ident, data),
        },
        _ => Err(syn::Error::new(
            input.ident.span(),
            "expected a struct with named fields, or an enum marked #[serde(untagged)]",
        )),
    }
}

/// Reads the container's `#[serde(...)]`: `untagged` is the only attribute allowed there.
fn container_is_untagged(input: &DeriveInput) -> syn::Result<bool> {
    let mut untagged = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("untagged") {
                untagged = true;
                Ok(())
            } else {
                Err(meta.error("unsupported container attribute for posthog-api-derive"))
            }
        })?;
    }
    Ok(untagged)
}

/// A variant's literal tag: `#[serde(tag = "kind", literal = "HogQLMetadata")]` says the variant
/// holds a struct whose member `kind` can only be that string (a pydantic `Literal`). The union
/// then tries the variant only when the buffered value carries that member with that value, so a
/// value is decoded by at most the variants that can match it.
struct VariantTag {
    key: String,
    literal: String,
}

/// Reads a variant's `#[serde(...)]`: `tag` and `literal`, both or neither; anything else is
/// refused, since it would be silently ignored.
fn variant_tag(variant: &syn::Variant) -> syn::Result<Option<VariantTag>> {
    let mut key = None;
    let mut literal = None;
    for attr in variant.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("tag") {
                key = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("literal") {
                literal = Some(meta.value()?.parse::<LitStr>()?.value());
            } else {
                return Err(meta.error("unsupported variant attribute for posthog-api-derive"));
            }
            Ok(())
        })?;
    }
    match (key, literal) {
        (Some(key), Some(literal)) => Ok(Some(VariantTag { key, literal })),
        (None, None) => Ok(None),
        _ => Err(syn::Error::new(
            variant.span(),
            "a variant's `tag` and `literal` come together",
        )),
    }
}

/// What the derive needs to know about one field.
struct FieldSpec<'a> {
    ident: &'a syn::Ident,
    ty: &'a Type,
    /// The JSON key: the `rename`, else the field name without `r#`.
    key: String,
    /// `#[serde(default)]`: a missing key takes `Default::default()`.
    default: bool,
    /// `#[serde(skip_serializing_if = "path")]`: the predicate that leaves the field out.
    skip_if: Option<syn::ExprPath>,
}

fn field_spec(field: &syn::Field) -> syn::Result<FieldSpec<'_>> {
    let Some(ident) = field.ident.as_ref() else {
        return Err(syn::Error::new(field.span(), "expected a named field"));
    };
    let mut key = ident.to_string().trim_start_matches("r#").to_owned();
    let mut default = false;
    let mut skip_if = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                key = meta.value()?.parse::<LitStr>()?.value();
            } else if meta.path.is_ident("default") {
                default = true;
            } else if meta.path.is_ident("skip_serializing_if") {
                skip_if = Some(meta.value()?.parse::<LitStr>()?.parse::<syn::ExprPath>()?);
            } else {
                return Err(meta.error("unsupported field attribute for posthog-api-derive"));
            }
            Ok(())
        })?;
    }
    Ok(FieldSpec {
        ident,
        ty: &field.ty,
        key,
        default,
        skip_if,
    })
}

/// Whether the type is spelled `Option<...>` (any path ending in `Option`), which, as with
/// serde_derive, makes a missing key decode as `None`.
fn is_option(ty: &Type) -> bool {
    last_segment_is(ty, "Option")
}

/// Whether the type is spelled `Nullable<...>` (posthog-api's three-state field): a missing key
/// leaves it `Absent`, and its own `Deserialize` turns `null` into `Null`.
fn is_nullable(ty: &Type) -> bool {
    last_segment_is(ty, "Nullable")
}

fn last_segment_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == name),
        _ => false,
    }
}

fn deserialize_struct(name: &syn::Ident, specs: &[FieldSpec<'_>]) -> TokenStream2 {
    let keys = specs
        .iter()
        .map(|spec| LitStr::new(&spec.key, Span::call_site()));
    let slots = (0..specs.len())
        .map(|index| format_ident!("field{index}"))
        .collect::<Vec<_>>();

    // An `Option<T>` field keeps its own `Option` as the slot, so `null` and a missing key both
    // end as `None` with no second layer; a `Nullable<T>` is its own slot too, starting absent,
    // so `null` stays distinct; other fields wait in an `Option` until the end.
    let declarations = specs.iter().zip(&slots).map(|(spec, slot)| {
        let ty = spec.ty;
        if is_option(ty) {
            quote!(let mut #slot: #ty = ::core::option::Option::None;)
        } else if is_nullable(ty) {
            quote!(let mut #slot: #ty = ::core::default::Default::default();)
        } else {
            quote!(let mut #slot: ::core::option::Option<#ty> = ::core::option::Option::None;)
        }
    });
    let arms = specs
        .iter()
        .zip(&slots)
        .enumerate()
        .map(|(index, (spec, slot))| {
            if is_option(spec.ty) {
                quote!(#index => crate::codec::fill_nullable(&mut map, &mut #slot),)
            } else if is_nullable(spec.ty) {
                quote!(#index => crate::codec::fill_in_place(&mut map, &mut #slot),)
            } else {
                quote!(#index => crate::codec::fill(&mut map, &mut #slot),)
            }
        });
    let inits = specs.iter().zip(&slots).map(|(spec, slot)| {
        let ident = spec.ident;
        let key = &spec.key;
        if is_option(spec.ty) || is_nullable(spec.ty) {
            quote!(#ident: #slot)
        } else if spec.default {
            quote!(#ident: #slot.unwrap_or_default())
        } else {
            quote! {
                #ident: match #slot {
                    ::core::option::Option::Some(value) => value,
                    ::core::option::Option::None => {
                        return ::core::result::Result::Err(
                            <M::Error as ::serde::de::Error>::missing_field(#key),
                        );
                    }
                }
            }
        }
    });
    let type_name = name.to_string();

    quote! {
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                crate::codec::deserialize_struct(deserializer)
            }
        }
        impl crate::codec::FromMap for #name {
            const NAME: &'static str = #type_name;
            const FIELDS: &'static [&'static str] = &[#(#keys),*];
            fn from_map<'de, M: ::serde::de::MapAccess<'de>>(
                mut map: M,
            ) -> ::core::result::Result<Self, M::Error> {
                #(#declarations)*
                let mut next = 0usize;
                while let ::core::option::Option::Some(index) =
                    map.next_key_seed(crate::codec::FieldIndex::new(Self::FIELDS, next))?
                {
                    next = index.wrapping_add(1);
                    match index {
                        #(#arms)*
                        _ => crate::codec::skip(&mut map),
                    }?;
                }
                ::core::result::Result::Ok(#name { #(#inits),* })
            }
        }
    }
}

fn serialize_struct(name: &syn::Ident, specs: &[FieldSpec<'_>]) -> TokenStream2 {
    let type_name = name.to_string();
    let count = specs.len();
    let fields = specs.iter().map(|spec| {
        let ident = spec.ident;
        let key = &spec.key;
        let write = quote!(out.field(#key, &self.#ident););
        match &spec.skip_if {
            Some(skip) => quote!(if !#skip(&self.#ident) { #write }),
            None => write,
        }
    });
    quote! {
        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                let mut out = crate::codec::StructWriter::new(
                    ::serde::Serializer::serialize_struct(serializer, #type_name, #count)?,
                );
                #(#fields)*
                out.end()
            }
        }
    }
}

fn serialize_untagged(name: &syn::Ident, data: &syn::DataEnum) -> syn::Result<TokenStream2> {
    let mut arms = Vec::with_capacity(data.variants.len());
    for variant in &data.variants {
        let ident = &variant.ident;
        variant_tag(variant)?;
        arms.push(match variant_payload(variant)? {
            None => quote!(#name::#ident => ::serde::Serializer::serialize_unit(serializer),),
            Some(_) => {
                quote!(#name::#ident(inner) => ::serde::Serialize::serialize(inner, serializer),)
            }
        });
    }
    Ok(quote! {
        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                match self {
                    #(#arms)*
                }
            }
        }
    })
}

fn deserialize_untagged(name: &syn::Ident, data: &syn::DataEnum) -> syn::Result<TokenStream2> {
    let mut attempts = Vec::with_capacity(data.variants.len());
    let mut fallback = quote!(::core::option::Option::None);
    let mut catch_all = false;
    for variant in &data.variants {
        if catch_all {
            return Err(syn::Error::new(
                variant.span(),
                "a variant after a serde_json::Value variant can never match",
            ));
        }
        let ident = &variant.ident;
        let tag = variant_tag(variant)?;
        let decode = match variant_payload(variant)? {
            None if tag.is_some() => {
                return Err(syn::Error::new(
                    variant.span(),
                    "a unit variant matches `null` and has no tag",
                ));
            }
            None => quote!(|value| crate::codec::null_variant(value, #name::#ident)),
            Some(ty) if is_json_value(ty) => {
                if tag.is_some() {
                    return Err(syn::Error::new(
                        variant.span(),
                        "a serde_json::Value variant matches any JSON and has no tag",
                    ));
                }
                catch_all = true;
                // Any JSON matches: the buffer is handed over instead of cloned.
                fallback = quote!(::core::option::Option::Some(#name::#ident));
                continue;
            }
            Some(ty) => quote!(|value| crate::codec::variant::<#ty, Self>(value, #name::#ident)),
        };
        let tag = match tag {
            Some(VariantTag { key, literal }) => {
                quote!(::core::option::Option::Some((#key, #literal)))
            }
            None => quote!(::core::option::Option::None),
        };
        attempts.push(quote!(crate::codec::Attempt { tag: #tag, decode: #decode },));
    }
    let type_name = name.to_string();
    Ok(quote! {
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                crate::codec::deserialize_untagged(deserializer)
            }
        }
        impl crate::codec::Untagged for #name {
            const NAME: &'static str = #type_name;
            const ATTEMPTS: &'static [crate::codec::Attempt<Self>] = &[#(#attempts)*];
            const FALLBACK: ::core::option::Option<fn(::serde_json::Value) -> Self> = #fallback;
        }
    })
}

/// The value an untagged variant holds: `None` for a unit variant (it matches `null`), else its
/// one field's type; any other shape is refused.
fn variant_payload(variant: &syn::Variant) -> syn::Result<Option<&Type>> {
    match &variant.fields {
        Fields::Unit => Ok(None),
        Fields::Unnamed(fields) if fields.unnamed.len() == 1 => Ok(Some(&fields.unnamed[0].ty)),
        other => Err(syn::Error::new(
            other.span(),
            "untagged variants must be unit or hold exactly one value",
        )),
    }
}

/// Whether the type is `serde_json::Value` (as the generator spells it).
fn is_json_value(ty: &Type) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            let names: Vec<String> = path
                .path
                .segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect();
            names.ends_with(&["serde_json".to_owned(), "Value".to_owned()])
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
