//! `same_shape_inline_type`: inline schemas that lower to the same shape become aliases of one
//! type, so each shape is defined (and derived, and type-checked) once.
//!
//! drf-spectacular writes pydantic's inline unions out again at every use: PostHog's query
//! models repeat one 18-member property-filter union 38 times (`ActionsNodePropertiesItem`,
//! `TrendsQueryPropertiesItem`, ...), and 177 of the 516 types behind `unreferenced_types` were
//! such copies, each with its own `Debug`, `Clone`, `PartialEq` and serde impls. Every copy keeps
//! its name as a `pub type` alias of the first one (by name), so users see the same names and
//! the same values; where a type refers to a copy, it still names the copy. The IR keeps each
//! copy's own shape (`Api::merged_shapes`): the names it referred to stay compiled wherever the
//! copy is, so merging never moves a name behind another feature, and the changelog compares
//! copies by their own shapes, so which copy comes first is never reported as a change.
//!
//! Only inline schemas are merged. A component schema is a name PostHog chose, and two of them
//! with the same members are still two types (a user may implement a trait for each); an inline
//! copy of a component's shape becomes an alias of the component (`QueryStatus`). Shapes are
//! compared with every reference read through the aliases made so far, and the pass repeats
//! until nothing changes, so unions of merged copies merge in turn (the 12 `*ConversionGoal`
//! unions). Literal types stay apart: a unit-like literal cannot be built through an alias.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::ir::{TypeDef, TypeKind, TypeRef};
use crate::report::{Report, pass};

/// Makes every inline type whose shape a component, or else an earlier inline type (by name),
/// already has an alias of that type. Returns, per alias made, the shape it had ([`crate::ir::Api::merged_shapes`]).
pub fn alias_same_shapes(
    types: &mut BTreeMap<String, TypeDef>,
    report: &mut Report,
) -> BTreeMap<String, TypeKind> {
    // What each merged copy now stands for.
    let mut canonical: BTreeMap<String, String> = BTreeMap::new();
    let mut own_shapes = BTreeMap::new();
    // Each candidate's shape key, kept across rounds: a key changes only when the type names a
    // copy merged in the round before, and rebuilding every key every round was most of the pass.
    let mut keys: HashMap<String, String> = HashMap::new();
    let mut merged_last_round: HashSet<String> = HashSet::new();
    loop {
        let candidates: Vec<_> = types
            .iter()
            .filter(|(name, def)| !canonical.contains_key(*name) && mergeable(&def.kind))
            .collect();
        for (name, def) in &candidates {
            let stale = !keys.contains_key(*name)
                || def
                    .kind
                    .type_refs()
                    .into_iter()
                    .any(|ty| names_any(ty, &merged_last_round));
            if stale {
                keys.insert((*name).clone(), shape_key(&def.kind, &canonical));
            }
        }
        let mut first_of_shape: HashMap<&str, &str> = HashMap::new();
        let mut merged = Vec::new();
        // Components first, so an inline copy of a component's shape names the component.
        let (inline, components): (Vec<_>, Vec<_>) =
            candidates.into_iter().partition(|(_, def)| is_inline(def));
        for (name, _) in components {
            first_of_shape.entry(&keys[name]).or_insert(name);
        }
        for (name, _) in inline {
            let shape = &keys[name];
            match first_of_shape.get(shape.as_str()) {
                Some(first) => merged.push((name.clone(), (*first).to_owned())),
                None => {
                    first_of_shape.insert(shape, name);
                }
            }
        }
        if merged.is_empty() {
            return own_shapes;
        }
        merged_last_round.clear();
        for (copy, first) in merged {
            if let Some(def) = types.get_mut(&copy) {
                let own = std::mem::replace(
                    &mut def.kind,
                    TypeKind::Alias {
                        target: TypeRef::Named(first.clone()),
                    },
                );
                own_shapes.insert(copy.clone(), own);
                report.touch(pass::SAME_SHAPE_INLINE_TYPE, &def.pointer);
            }
            keys.remove(&copy);
            merged_last_round.insert(copy.clone());
            canonical.insert(copy, first);
        }
    }
}

/// Whether a reference names (through options, boxes, lists and maps) one of `names`.
fn names_any(ty: &TypeRef, names: &HashSet<String>) -> bool {
    let mut named = Vec::new();
    ty.names(&mut named);
    named.iter().any(|name| names.contains(*name))
}

/// A component schema's pointer is `#/components/schemas/<name>`; anything deeper (a property,
/// an item, a union member) is a shape drf wrote inline.
fn is_inline(def: &TypeDef) -> bool {
    def.pointer
        .strip_prefix("#/components/schemas/")
        .is_none_or(|rest| rest.contains('/'))
}

/// Kinds an alias can stand for in every use: braced structs and enums (built, matched and named
/// through an alias alike). Literals are unit-like, and aliases are already aliases.
fn mergeable(kind: &TypeKind) -> bool {
    !matches!(kind, TypeKind::Literal { .. } | TypeKind::Alias { .. })
}

/// The shape as a comparable string: the kind with every reference to a merged copy read as the
/// type it stands for. Field and variant docs are part of it, so an alias never loses one.
fn shape_key(kind: &TypeKind, canonical: &BTreeMap<String, String>) -> String {
    let mut kind = kind.clone();
    for ty in kind.type_refs_mut() {
        through_aliases(ty, canonical);
    }
    format!("{kind:?}")
}

fn through_aliases(ty: &mut TypeRef, canonical: &BTreeMap<String, String>) {
    match ty {
        TypeRef::Named(name) => {
            if let Some(first) = canonical.get(name) {
                name.clone_from(first);
            }
        }
        TypeRef::Option(inner)
        | TypeRef::Nullable(inner)
        | TypeRef::Boxed(inner)
        | TypeRef::Vec(inner)
        | TypeRef::Map(inner) => through_aliases(inner, canonical),
        _ => {}
    }
}
