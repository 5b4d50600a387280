//! Shapes the types request bodies use, two passes over the reference graph:
//!
//! - `three_state_field`: in every type a request body reaches, an optional nullable field is
//!   `Nullable` (absent, null and a value differ: a PATCH can clear a field). Types only answers
//!   use keep `Option`, which is easier to read and loses nothing a reader needs.
//! - `read_only_in_request`: types that only request bodies reach (drf-spectacular's `Patched*`)
//!   lose the fields the schema marks `readOnly`, so a request cannot carry them. Types an
//!   answer (or a parameter) uses keep them: the server stubs write answers with the same types,
//!   and DRF ignores read-only members in a request, so sending one back is harmless.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::escape_segment;
use crate::ir::{Operation, TypeDef, TypeKind, TypeRef};
use crate::report::{Report, pass};

/// Runs both passes over `types`, given the operations that use them.
pub fn shape_request_types(
    operations: &[Operation],
    types: &mut BTreeMap<String, TypeDef>,
    report: &mut Report,
) {
    let mut bodies = Vec::new();
    let mut others = Vec::new();
    for op in operations {
        let body = op.body.as_ref().map(|body| &body.ty);
        let (sent, received) = op.type_refs();
        for ty in sent.into_iter().chain(received) {
            if body.is_some_and(|body| std::ptr::eq(body, ty)) {
                bodies.push(ty);
            } else {
                others.push(ty);
            }
        }
    }
    let requested = reachable(types, &bodies);
    let elsewhere = reachable(types, &others);
    for name in &requested {
        let only_requested = !elsewhere.contains(name);
        let Some(def) = types.get_mut(name) else {
            continue;
        };
        let TypeKind::Struct { fields } = &mut def.kind else {
            continue;
        };
        let pointer = &def.pointer;
        let at = |wire: &str| format!("{pointer}/properties/{}", escape_segment(wire));
        if only_requested {
            fields.retain(|field| {
                if field.presence.read_only {
                    report.touch(pass::READ_ONLY_IN_REQUEST, &at(&field.wire_name));
                }
                !field.presence.read_only
            });
        }
        for field in fields
            .iter_mut()
            .filter(|field| field.presence.three_state())
        {
            if let TypeRef::Option(inner) = &mut field.ty {
                let inner = std::mem::replace(inner, Box::new(TypeRef::Json));
                field.ty = TypeRef::Nullable(inner);
                report.touch(pass::THREE_STATE_FIELD, &at(&field.wire_name));
            }
        }
    }
}

/// The named types `roots` reach, transitively.
fn reachable(types: &BTreeMap<String, TypeDef>, roots: &[&TypeRef]) -> BTreeSet<String> {
    let mut pending = Vec::new();
    for root in roots {
        root.names(&mut pending);
    }
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.to_owned()) {
            continue;
        }
        if let Some(def) = types.get(name) {
            for ty in def.kind.type_refs() {
                ty.names(&mut pending);
            }
        }
    }
    seen
}
