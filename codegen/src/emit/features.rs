//! Cargo features: one per tag module, and for every type the set of features that reach it,
//! computed from the IR's reference graph so a type compiles when any user of it does.

use std::collections::{BTreeMap, BTreeSet};

use crate::emit::api::tag_module;
use crate::emit::code::{Code, lit};
use crate::ir::Api;

/// The feature that enables every tag.
pub const FULL: &str = "full";

/// The feature that enables the types no operation uses (for PostHog: its query-language
/// models). Not part of `full`: they were ~40% of the crate's compile time and most users never
/// name them.
pub const UNREFERENCED: &str = "unreferenced_types";

/// Feature names, one per tag module, sorted.
pub fn tag_features(api: &Api) -> Vec<String> {
    let features: BTreeSet<String> = api
        .operations
        .iter()
        .map(|op| tag_module(&op.tag))
        .collect();
    features.into_iter().collect()
}

/// For every named type, the features that compile it: the tag features whose operations reach
/// it, plus `unreferenced_types` for the types no operation reaches and everything they use (so
/// that feature alone compiles: those types name types that operations use too).
pub fn type_features(api: &Api) -> BTreeMap<&str, BTreeSet<String>> {
    let mut reached: BTreeMap<&str, BTreeSet<String>> = api
        .types
        .keys()
        .map(|name| (name.as_str(), BTreeSet::new()))
        .collect();
    for op in &api.operations {
        let mut roots: Vec<&str> = Vec::new();
        let (sent, received) = op.type_refs();
        for ty in sent.into_iter().chain(received) {
            ty.names(&mut roots);
        }
        mark_reachable(api, &mut reached, roots, &tag_module(&op.tag));
    }
    let unreferenced: Vec<&str> = reached
        .iter()
        .filter(|(_, features)| features.is_empty())
        .map(|(name, _)| *name)
        .collect();
    mark_reachable(api, &mut reached, unreferenced, UNREFERENCED);
    reached
}

/// Adds `feature` to the types in `pending` and to every type they reference, transitively.
fn mark_reachable<'a>(
    api: &'a Api,
    reached: &mut BTreeMap<&'a str, BTreeSet<String>>,
    mut pending: Vec<&'a str>,
    feature: &str,
) {
    while let Some(name) = pending.pop() {
        let Some(features) = reached.get_mut(name) else {
            continue;
        };
        if !features.insert(feature.to_owned()) {
            continue;
        }
        if let Some(def) = api.types.get(name) {
            for ty in def.kind.type_refs() {
                ty.names(&mut pending);
            }
        }
        if let Some(own) = api.merged_shapes.get(name) {
            for ty in own.type_refs() {
                ty.names(&mut pending);
            }
        }
    }
}

/// `#[cfg(...)]` enabling an item for any of `features` ([`type_features`] gives every type at
/// least one).
pub fn cfg_any(code: &mut Code, features: &BTreeSet<String>) {
    match features.iter().next() {
        Some(feature) if features.len() == 1 => {
            code.line(format_args!("#[cfg(feature = {})]", lit(feature)));
        }
        _ => {
            let features: Vec<String> = features
                .iter()
                .map(|feature| format!("feature = {}", lit(feature)))
                .collect();
            code.list("#[cfg(any", &features, ")]");
        }
    }
}
