//! Boxing of recursive types: a struct that contains itself (directly or through others)
//! needs a `Box` somewhere on the cycle to have a size.

use std::collections::{BTreeMap, BTreeSet};

use crate::ir::{TypeDef, TypeKind, TypeRef};
use crate::report::{Report, pass};

/// Boxes every by-value reference that stays inside a strongly connected component of the
/// "contains by value" graph. `Vec` and maps already allocate, so they break cycles themselves.
pub fn box_cycles(types: &mut BTreeMap<String, TypeDef>, report: &mut Report) {
    let graph: BTreeMap<&str, BTreeSet<&str>> = types
        .iter()
        .map(|(name, def)| {
            let mut edges = BTreeSet::new();
            for ty in def.kind.type_refs() {
                by_value_names(ty, &mut edges);
            }
            (name.as_str(), edges)
        })
        .collect();
    let component_of = strongly_connected(&graph);
    let mut to_box: Vec<(String, usize)> = Vec::new();
    for (name, def) in types.iter() {
        let own = component_of.get(name.as_str());
        for (index, ty) in def.kind.type_refs().into_iter().enumerate() {
            let mut targets = BTreeSet::new();
            by_value_names(ty, &mut targets);
            let cyclic = targets.iter().any(|target| component_of.get(target) == own);
            if cyclic && is_in_cycle(name, &graph, &component_of) {
                to_box.push((name.clone(), index));
            }
        }
    }
    for (name, index) in to_box {
        if let Some(def) = types.get_mut(&name) {
            report.touch(pass::BOX_RECURSION, &def.pointer);
            if let Some(ty) = def.kind.type_refs_mut().into_iter().nth(index) {
                box_in_place(ty);
            }
        }
    }
}

/// Cycles made only of aliases, each as its member names in order, starting from the smallest
/// (`["A", "B"]` for `A -> B -> A`). Rust expands a type alias eagerly, so such a cycle does not
/// compile whatever wraps the references (`Box`, `Vec`, `Option`); only a struct or enum on the
/// way breaks it. In a schema, these are `$ref`s (or `allOf` wrappers) that name only each other.
pub fn alias_cycles(types: &BTreeMap<String, TypeDef>) -> Vec<Vec<String>> {
    let graph: BTreeMap<&str, BTreeSet<&str>> = types
        .iter()
        .filter_map(|(name, def)| match &def.kind {
            TypeKind::Alias { target } => {
                let mut names = Vec::new();
                target.names(&mut names);
                let mut edges: BTreeSet<&str> = names.into_iter().collect();
                edges.retain(|to| {
                    matches!(
                        types.get(*to).map(|d| &d.kind),
                        Some(TypeKind::Alias { .. })
                    )
                });
                Some((name.as_str(), edges))
            }
            _ => None,
        })
        .collect();
    let component_of = strongly_connected(&graph);
    let mut members: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (name, component) in &component_of {
        members.entry(*component).or_default().push(name);
    }
    let mut cycles = Vec::new();
    for names in members.values() {
        let Some(&start) = names.first() else {
            continue;
        };
        if !is_in_cycle(start, &graph, &component_of) {
            continue;
        }
        // Walk from the smallest name along edges inside the component, for a readable path.
        let mut path = vec![start.to_owned()];
        let mut at = start;
        while let Some(next) = graph.get(at).and_then(|edges| {
            edges.iter().find(|to| {
                component_of.get(*to) == component_of.get(at) && !path.iter().any(|p| p == *to)
            })
        }) {
            path.push((*next).to_owned());
            at = next;
        }
        cycles.push(path);
    }
    cycles
}

fn is_in_cycle(
    name: &str,
    graph: &BTreeMap<&str, BTreeSet<&str>>,
    component_of: &BTreeMap<&str, usize>,
) -> bool {
    let own = component_of.get(name);
    let members = component_of.values().filter(|c| Some(*c) == own).count();
    members > 1 || graph.get(name).is_some_and(|edges| edges.contains(name))
}

/// Names reached without passing through an allocation.
fn by_value_names<'t>(ty: &'t TypeRef, out: &mut BTreeSet<&'t str>) {
    match ty {
        TypeRef::Named(name) => {
            out.insert(name);
        }
        TypeRef::Option(inner) | TypeRef::Nullable(inner) => by_value_names(inner, out),
        _ => {}
    }
}

fn box_in_place(ty: &mut TypeRef) {
    match ty {
        TypeRef::Option(inner) | TypeRef::Nullable(inner) => box_in_place(inner),
        TypeRef::Named(_) => {
            let named = std::mem::replace(ty, TypeRef::Json);
            *ty = TypeRef::Boxed(Box::new(named));
        }
        _ => {}
    }
}

/// Tarjan's algorithm, iterative so deep schemas cannot overflow the stack.
fn strongly_connected<'g>(
    graph: &BTreeMap<&'g str, BTreeSet<&'g str>>,
) -> BTreeMap<&'g str, usize> {
    let mut index_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut low: BTreeMap<&str, usize> = BTreeMap::new();
    let mut on_stack: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&str> = Vec::new();
    let mut component_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut next_index = 0;
    let mut next_component = 0;
    for &root in graph.keys() {
        if index_of.contains_key(root) {
            continue;
        }
        let mut work: Vec<(&str, Vec<&str>)> = Vec::new();
        index_of.insert(root, next_index);
        low.insert(root, next_index);
        next_index += 1;
        stack.push(root);
        on_stack.insert(root);
        work.push((
            root,
            graph[root]
                .iter()
                .rev()
                .copied()
                .filter(|n| graph.contains_key(n))
                .collect(),
        ));
        while let Some((node, pending)) = work.last_mut() {
            let node = *node;
            if let Some(next) = pending.pop() {
                if !index_of.contains_key(next) {
                    index_of.insert(next, next_index);
                    low.insert(next, next_index);
                    next_index += 1;
                    stack.push(next);
                    on_stack.insert(next);
                    work.push((
                        next,
                        graph[next]
                            .iter()
                            .rev()
                            .copied()
                            .filter(|n| graph.contains_key(n))
                            .collect(),
                    ));
                } else if on_stack.contains(next) {
                    let candidate = index_of[next];
                    if let Some(l) = low.get_mut(node) {
                        *l = (*l).min(candidate);
                    }
                }
                continue;
            }
            work.pop();
            if let Some((parent, _)) = work.last() {
                let child_low = low[node];
                if let Some(l) = low.get_mut(parent) {
                    *l = (*l).min(child_low);
                }
            }
            if low[node] == index_of[node] {
                while let Some(member) = stack.pop() {
                    on_stack.remove(member);
                    component_of.insert(member, next_component);
                    if member == node {
                        break;
                    }
                }
                next_component += 1;
            }
        }
    }
    component_of
}
