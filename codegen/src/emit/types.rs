//! Emits the schema's types: structs, open enums, literals, unions and aliases.

use std::collections::{BTreeMap, BTreeSet};

use crate::emit::code::{Code, ident, lit, type_text};
use crate::emit::features::{UNREFERENCED, cfg_any, type_features};
use crate::ir::{Api, Field, TypeDef, TypeKind, TypeRef};

/// The `types` module and its submodules: types are grouped by the set of features that reach
/// them, one private module per set behind one `cfg`, all re-exported from `types`.
pub fn emit_types(api: &Api, defaultable: &BTreeSet<&str>) -> BTreeMap<String, String> {
    let mut groups: BTreeMap<BTreeSet<String>, Vec<&str>> = BTreeMap::new();
    for (name, features) in type_features(api) {
        groups.entry(features).or_default().push(name);
    }
    let mut files = BTreeMap::new();
    let mut index = Code::new();
    index.inner_doc(
        "Types of PostHog's schema, one per component schema plus the inline shapes that needed",
    );
    index.inner_doc(
        "a name. Responses accept fields the schema does not list; enums keep values they do",
    );
    index.inner_doc(
        "not know in a fallback variant. Each type compiles when a feature that uses it is on.",
    );
    index.line("// Every type module imports `super::*`, and with it these derives.");
    index.line("#[allow(unused_imports)]");
    index.line("use crate::codec::{Deserialize, Serialize};");
    index.doc(
        "Whether an optional field is left out of the JSON (a short name keeps attributes on one line).",
    );
    index.line("#[allow(dead_code)]");
    index.open("fn none<T>(value: &Option<T>) -> bool {");
    index.line("value.is_none()");
    index.close("}");
    index.doc("Whether a three-state field is left out of the JSON: absent, unlike null.");
    index.line("#[allow(dead_code)]");
    index.open("fn absent<T>(value: &crate::Nullable<T>) -> bool {");
    index.line("value.is_absent()");
    index.close("}");
    for (features, names) in &groups {
        let module = group_module(features);
        let module_ident = ident(&module);
        cfg_any(&mut index, features);
        index.line(format_args!("mod {module_ident};"));
        cfg_any(&mut index, features);
        index.line(format_args!("pub use {module_ident}::*;"));
        let only_unreferenced = features.iter().all(|feature| feature == UNREFERENCED);
        let mut code = Code::new();
        if only_unreferenced {
            code.inner_doc(&format!(
                "Types no operation uses, compiled with the `{UNREFERENCED}` feature."
            ));
        } else {
            code.inner_doc(&format!(
                "Types compiled with any of the features: {}.",
                features.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        code.line("#![allow(unused_imports)]");
        code.line("use super::*;");
        for name in names {
            if let Some(def) = api.types.get(*name) {
                emit_type(&mut code, name, def, &api.types, defaultable);
            }
        }
        files.insert(format!("types/{module}.rs"), code.into_string());
    }
    files.insert("types/mod.rs".to_owned(), index.into_string());
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
    code: &mut Code,
    name: &str,
    def: &TypeDef,
    types: &BTreeMap<String, TypeDef>,
    defaultable: &BTreeSet<&str>,
) {
    let name = ident(name);
    match &def.kind {
        TypeKind::Struct { fields } => {
            code.docs(def.docs.as_deref());
            let default = if defaultable.contains(name.as_str()) {
                "Default, "
            } else {
                ""
            };
            code.line(format_args!(
                "#[derive(Debug, Clone, PartialEq, {default}Serialize, Deserialize)]"
            ));
            if fields.is_empty() {
                code.line(format_args!("pub struct {name} {{}}"));
            } else {
                code.open(format_args!("pub struct {name} {{"));
                for field in fields {
                    emit_field(code, field);
                }
                code.close("}");
            }
        }
        TypeKind::StringEnum { variants, fallback } => {
            let variants = variants
                .iter()
                .map(|v| format!("{} = {},", ident(&v.name), lit(&v.value)));
            enum_macro(code, "string_enum", def, &name, variants, fallback);
        }
        TypeKind::IntegerEnum { variants, fallback } => {
            let variants = variants
                .iter()
                .map(|v| format!("{} = {},", ident(&v.name), v.value));
            enum_macro(code, "integer_enum", def, &name, variants, fallback);
        }
        TypeKind::Literal { value } => {
            code.open("crate::literal! {");
            code.docs(def.docs.as_deref());
            code.line(format_args!("pub struct {name} = {};", lit(value)));
            code.close("}");
        }
        TypeKind::TaggedUnion { tag, variants } => {
            code.open("crate::tagged_union! {");
            code.docs(def.docs.as_deref());
            code.open(format_args!("pub enum {name} {{"));
            code.line(format_args!("tag {};", lit(tag)));
            for v in variants {
                let ty = type_text(&boxed_if_struct(&v.ty, types), "");
                let tags: Vec<String> = v.tags.iter().map(|tag| lit(tag)).collect();
                code.array(&format!("{}({ty}) = ", ident(&v.name)), &tags, ",");
            }
            code.close("}");
            code.close("}");
        }
        TypeKind::UntaggedUnion { variants, fallback } => {
            code.docs(def.docs.as_deref());
            code.line("#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]");
            code.line("#[serde(untagged)]");
            code.open(format_args!("pub enum {name} {{"));
            for v in variants {
                if let Some((key, literal)) = literal_tag(&v.ty, types) {
                    code.line(format_args!(
                        "#[serde(tag = {}, literal = {})]",
                        lit(&key),
                        lit(&literal)
                    ));
                }
                let ty = type_text(&boxed_if_struct(&v.ty, types), "");
                code.line(format_args!("{}({ty}),", ident(&v.name)));
            }
            code.doc("Any JSON the variants above do not match, kept as is.");
            code.line(format_args!("{}(serde_json::Value),", ident(fallback)));
            code.close("}");
        }
        TypeKind::Alias { target } => {
            code.docs(def.docs.as_deref());
            code.line(format_args!("pub type {name} = {};", type_text(target, "")));
        }
    }
}

/// An open enum, written as a call of the runtime's macro that expands it.
fn enum_macro(
    code: &mut Code,
    macro_name: &str,
    def: &TypeDef,
    name: &str,
    variants: impl Iterator<Item = String>,
    fallback: &str,
) {
    code.open(format_args!("crate::{macro_name}! {{"));
    code.docs(def.docs.as_deref());
    let variants: Vec<String> = variants.collect();
    let one_line = format!("pub enum {name} {{ {} }}", variants.join(" "));
    if code.fits(&one_line) {
        code.line(one_line);
    } else {
        code.open(format_args!("pub enum {name} {{"));
        for variant in &variants {
            code.line(variant);
        }
        code.close("}");
    }
    code.line(format_args!("fallback {};", ident(fallback)));
    code.close("}");
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

fn emit_field(code: &mut Code, field: &Field) {
    let docs = field
        .docs
        .as_deref()
        .filter(|text| !restates_name(text, &field.wire_name));
    code.docs(docs);
    let mut serde_args = Vec::new();
    if field.rust_name != field.wire_name {
        serde_args.push(format!("rename = {}", lit(&field.wire_name)));
    }
    match &field.ty {
        TypeRef::Option(_) => {
            serde_args.push("default".to_owned());
            if !field.serialize_null {
                serde_args.push("skip_serializing_if = \"none\"".to_owned());
            }
        }
        // The derive starts a `Nullable` field as absent, as it starts an `Option` as `None`.
        TypeRef::Nullable(_) => serde_args.push("skip_serializing_if = \"absent\"".to_owned()),
        _ => {}
    }
    if !serde_args.is_empty() {
        code.line(format_args!("#[serde({})]", serde_args.join(", ")));
    }
    code.line(format_args!(
        "pub {}: {},",
        ident(&field.rust_name),
        type_text(&field.ty, "")
    ));
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
