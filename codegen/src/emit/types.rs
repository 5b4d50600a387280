//! Emits the schema's types: structs, open enums, literals, unions and aliases.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::quote;

use crate::emit::features::{UNREFERENCED, cfg_any, type_features};
use crate::emit::tokens::{docs, ident, type_tokens};
use crate::ir::{Api, Field, TypeDef, TypeKind, TypeRef};

/// The `types` module and its submodules: types are grouped by the set of features that reach
/// them, one private module per set behind one `cfg`, all re-exported from `types`.
pub fn emit_types(api: &Api, defaultable: &BTreeSet<&str>) -> BTreeMap<String, TokenStream> {
    let mut groups: BTreeMap<BTreeSet<String>, Vec<&str>> = BTreeMap::new();
    for (name, features) in type_features(api) {
        groups.entry(features).or_default().push(name);
    }
    let mut files = BTreeMap::new();
    let mut declarations = Vec::new();
    for (features, names) in &groups {
        let module = group_module(features);
        let module_ident = ident(&module);
        let cfg = cfg_any(features);
        declarations.push(quote! {
            #cfg
            mod #module_ident;
            #cfg
            pub use #module_ident::*;
        });
        let items = names.iter().filter_map(|name| {
            Some(emit_type(
                name,
                api.types.get(*name)?,
                &api.types,
                defaultable,
            ))
        });
        let only_unreferenced = features.iter().all(|feature| feature == UNREFERENCED);
        let doc = if only_unreferenced {
            format!(" Types no operation uses, compiled with the `{UNREFERENCED}` feature.")
        } else {
            format!(
                " Types compiled with any of the features: {}.",
                features.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        files.insert(
            format!("types/{module}.rs"),
            quote! {
                #![doc = #doc]
                #![allow(unused_imports)]
                use super::*;
                #(#items)*
            },
        );
    }
    files.insert(
        "types/mod.rs".to_owned(),
        quote! {
            //! Types of PostHog's schema, one per component schema plus the inline shapes that needed
            //! a name. Responses accept fields the schema does not list; enums keep values they do
            //! not know in a fallback variant. Each type compiles when a feature that uses it is on.

            // Every type module imports `super::*`, and with it these derives.
            #[allow(unused_imports)]
            use crate::codec::{Deserialize, Serialize};

            /// Whether an optional field is left out of the JSON (a short name keeps attributes on one line).
            #[allow(dead_code)]
            fn none<T>(value: &Option<T>) -> bool {
                value.is_none()
            }

            /// Whether a three-state field is left out of the JSON: absent, unlike null.
            #[allow(dead_code)]
            fn absent<T>(value: &crate::Nullable<T>) -> bool {
                value.is_absent()
            }

            #(#declarations)*
        },
    );
    files
}

/// A stable module name for a feature set: the feature itself for one, a hash of the set for
/// several (so a type joining or leaving a set moves only that type).
fn group_module(features: &BTreeSet<String>) -> String {
    match features.iter().next() {
        Some(feature) if features.len() == 1 => feature.clone(),
        _ => {
            let joined = features.iter().cloned().collect::<Vec<_>>().join(",");
            let hash = crate::sha256_hex(joined.as_bytes());
            format!("shared_{}", &hash[..10])
        }
    }
}

fn emit_type(
    name: &str,
    def: &TypeDef,
    types: &BTreeMap<String, TypeDef>,
    defaultable: &BTreeSet<&str>,
) -> TokenStream {
    let doc = docs(def.docs.as_deref());
    let name_ident = ident(name);
    let none = TokenStream::new();
    match &def.kind {
        TypeKind::Struct { fields } => {
            let derive_default = if defaultable.contains(name) {
                quote!(Default,)
            } else {
                quote!()
            };
            let fields = fields.iter().map(emit_field);
            quote! {
                #doc
                #[derive(Debug, Clone, PartialEq, #derive_default Serialize, Deserialize)]
                pub struct #name_ident { #(#fields)* }
            }
        }
        TypeKind::StringEnum { variants, fallback } => {
            let variants = variants.iter().map(|v| {
                let variant = ident(&v.name);
                let value = &v.value;
                quote!(#variant = #value,)
            });
            let fallback = ident(fallback);
            quote! {
                crate::string_enum! {
                    #doc
                    pub enum #name_ident { #(#variants)* }
                    fallback #fallback;
                }
            }
        }
        TypeKind::IntegerEnum { variants, fallback } => {
            let variants = variants.iter().map(|v| {
                let variant = ident(&v.name);
                let value = proc_macro2::Literal::i64_unsuffixed(v.value);
                quote!(#variant = #value,)
            });
            let fallback = ident(fallback);
            quote! {
                crate::integer_enum! {
                    #doc
                    pub enum #name_ident { #(#variants)* }
                    fallback #fallback;
                }
            }
        }
        TypeKind::Literal { value } => quote! {
            crate::literal! {
                #doc
                pub struct #name_ident = #value;
            }
        },
        TypeKind::TaggedUnion { tag, variants } => {
            let variants = variants.iter().map(|v| {
                let variant = ident(&v.name);
                let ty = type_tokens(&boxed_if_struct(&v.ty, types), &none);
                let tags = &v.tags;
                quote!(#variant(#ty) = [#(#tags),*],)
            });
            quote! {
                crate::tagged_union! {
                    #doc
                    pub enum #name_ident {
                        tag #tag;
                        #(#variants)*
                    }
                }
            }
        }
        TypeKind::UntaggedUnion { variants, fallback } => {
            let fallback = ident(fallback);
            let variants = variants.iter().map(|v| {
                let variant = ident(&v.name);
                let ty = type_tokens(&boxed_if_struct(&v.ty, types), &none);
                let tag = literal_tag(&v.ty, types)
                    .map(|(key, literal)| quote!(#[serde(tag = #key, literal = #literal)]));
                quote!(#tag #variant(#ty),)
            });
            quote! {
                #doc
                #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
                #[serde(untagged)]
                pub enum #name_ident {
                    #(#variants)*
                    /// Any JSON the variants above do not match, kept as is.
                    #fallback(serde_json::Value),
                }
            }
        }
        TypeKind::Alias { target } => {
            let target = type_tokens(target, &none);
            quote! {
                #doc
                pub type #name_ident = #target;
            }
        }
    }
}

/// A union variant's payload as emitted: a struct is boxed, so the union is as small as its
/// scalar variants instead of as large as its largest struct (PostHog's query unions were 9 KB,
/// every `Option<Box<union>>` allocation and every stack frame decoding one paid that, and 128
/// levels of nested `sourceQuery` overflowed a 2 MiB thread in a debug build).
fn boxed_if_struct(ty: &TypeRef, types: &BTreeMap<String, TypeDef>) -> TypeRef {
    match ty {
        TypeRef::Named(_) if struct_fields(ty, types, 0).is_some() => {
            TypeRef::Boxed(Box::new(ty.clone()))
        }
        other => other.clone(),
    }
}

/// The literal tag of an untagged union's variant: the wire name and value of the first field of
/// its struct whose type is a [`TypeKind::Literal`] (required fields first, then optional ones,
/// each in schema order). The union's derive then tries the variant only on values whose member
/// holds that string, which keeps decoding linear where two variants hold the same recursive
/// union (PostHog's `HogQLMetadata` and `HogQLAutocomplete` with their `sourceQuery`): tried one
/// after the other, each level of nesting was decoded twice. For a literal field that is
/// optional in the schema this means the union needs the tag to pick the variant (pydantic
/// always writes it); without it the value lands in the fallback variant, unchanged.
fn literal_tag(ty: &TypeRef, types: &BTreeMap<String, TypeDef>) -> Option<(String, String)> {
    let fields = struct_fields(ty, types, 0)?;
    let literal_of = |field: &Field| {
        let inner = match &field.ty {
            TypeRef::Option(inner) | TypeRef::Nullable(inner) => inner,
            other => other,
        };
        match struct_target(inner) {
            TypeRef::Named(name) => match &types.get(name)?.kind {
                TypeKind::Literal { value } => Some((field.wire_name.clone(), value.clone())),
                _ => None,
            },
            _ => None,
        }
    };
    let required = fields.iter().filter(|field| !field.ty.may_be_absent());
    let optional = fields.iter().filter(|field| field.ty.may_be_absent());
    required.chain(optional).find_map(literal_of)
}

/// The fields of the struct a type names, through boxes and aliases (alias chains are bounded so
/// that a cycle cannot loop).
fn struct_fields<'a>(
    ty: &TypeRef,
    types: &'a BTreeMap<String, TypeDef>,
    depth: usize,
) -> Option<&'a [Field]> {
    let TypeRef::Named(name) = struct_target(ty) else {
        return None;
    };
    match &types.get(name)?.kind {
        TypeKind::Struct { fields } => Some(fields),
        TypeKind::Alias { target } if depth < 8 => struct_fields(target, types, depth + 1),
        _ => None,
    }
}

/// The type inside any boxes.
fn struct_target(ty: &TypeRef) -> &TypeRef {
    match ty {
        TypeRef::Boxed(inner) => struct_target(inner),
        other => other,
    }
}

fn emit_field(field: &Field) -> TokenStream {
    let doc = docs(
        field
            .docs
            .as_deref()
            .filter(|text| !restates_name(text, &field.wire_name)),
    );
    let name = ident(&field.rust_name);
    let ty = type_tokens(&field.ty, &TokenStream::new());
    let mut serde_args = Vec::new();
    if field.rust_name != field.wire_name {
        let wire = &field.wire_name;
        serde_args.push(quote!(rename = #wire));
    }
    match &field.ty {
        TypeRef::Option(_) => {
            serde_args.push(quote!(default));
            if !field.serialize_null {
                serde_args.push(quote!(skip_serializing_if = "none"));
            }
        }
        // The derive starts a `Nullable` field as absent, as it starts an `Option` as `None`.
        TypeRef::Nullable(_) => serde_args.push(quote!(skip_serializing_if = "absent")),
        _ => {}
    }
    let serde_attr = if serde_args.is_empty() {
        quote!()
    } else {
        quote!(#[serde(#(#serde_args),*)])
    };
    quote! {
        #doc
        #serde_attr
        pub #name: #ty,
    }
}

/// Struct types whose every field has a default, computed to a fixed point because structs
/// contain structs.
pub fn defaultable_types(types: &BTreeMap<String, TypeDef>) -> BTreeSet<&str> {
    let mut out: BTreeSet<&str> = types
        .iter()
        .filter(|(_, def)| matches!(def.kind, TypeKind::Literal { .. }))
        .map(|(name, _)| name.as_str())
        .collect();
    loop {
        let before = out.len();
        for (name, def) in types {
            let defaultable = match &def.kind {
                TypeKind::Struct { fields } => fields.iter().all(|f| has_default(&f.ty, &out)),
                // An alias has its target's `Default`: a struct holding one derives it as it
                // would holding the target.
                TypeKind::Alias { target } => has_default(target, &out),
                _ => false,
            };
            if defaultable {
                out.insert(name);
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// Whether a type implements `Default`, given the named types known to.
pub fn has_default(ty: &TypeRef, defaultable: &BTreeSet<&str>) -> bool {
    match ty {
        TypeRef::Named(name) => defaultable.contains(name.as_str()),
        TypeRef::Boxed(inner) => has_default(inner, defaultable),
        TypeRef::DateTime | TypeRef::Date => false,
        _ => true,
    }
}

/// Whether a doc text only repeats the field's name (pydantic titles such as `Math Property`
/// for `math_property`), which says nothing a reader does not already see.
fn restates_name(text: &str, wire_name: &str) -> bool {
    let squash = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    squash(text) == squash(wire_name)
}
