//! The API changelog: what changed between two lowered APIs, in the names the generated crate
//! uses (methods, types, modules and cargo features) and the shapes its fields have after the
//! lowering's folds, each change classified as breaking or compatible.
//!
//! Both sides go through the generator's own front end ([`crate::lower_inputs`]), so the
//! changelog and the generator cannot disagree on a tag, a name or an overlay. Types are shared
//! by many operations, so a change inside a type is reported once, under its name, with the
//! direction its values travel in (request, response or both). An operation lists only what is
//! its own: method name, module, parameters, body, answer and companion methods.
//!
//! Classification, from the point of view of code written against the old client:
//! - breaking: it may stop compiling, or a request it sends may now be refused, or an answer may
//!   lack something it relied on (an operation, method, parameter, field, enum value, variant or
//!   type is removed or renamed; something is retyped; an operation moves to another module and
//!   feature; a request field or parameter becomes required or non-nullable; a response field
//!   becomes optional or nullable);
//! - compatible: everything else. New enum values and union variants count as compatible
//!   because the generated enums and unions keep what they do not know in a fallback variant.

mod flows;
mod model;
mod shapes;

pub use model::*;

use std::collections::{BTreeMap, BTreeSet};

use crate::emit::tag_module;
use crate::ir::{Api, EnumVariant, Field, Operation, Presence, TypeKind, TypeRef, UnionVariant};
use flows::{Flow, Flows};
use shapes::{body_shape, display, inner, kind_name, response_shape};

/// Compares two lowered APIs.
pub fn diff(old: &Api, new: &Api) -> Changelog {
    let flows = Flows::new(old, new);
    let old_ops = operations_by_route(old);
    let new_ops = operations_by_route(new);
    let mut modules: BTreeMap<String, Vec<OperationChanges>> = BTreeMap::new();
    let keys: BTreeSet<&RouteKey> = old_ops.keys().chain(new_ops.keys()).collect();
    for key in keys {
        let (op, changes) = match (old_ops.get(key), new_ops.get(key)) {
            (Some(before), None) => (
                *before,
                vec![change(
                    Severity::Breaking,
                    ChangeKind::OperationRemoved,
                    "",
                    "",
                )],
            ),
            (None, Some(after)) => (
                *after,
                vec![change(
                    Severity::Compatible,
                    ChangeKind::OperationAdded,
                    "",
                    "",
                )],
            ),
            (Some(before), Some(after)) => {
                let mut changes = Changes::default();
                changes.operation(before, after);
                (*after, changes.0)
            }
            (None, None) => continue,
        };
        if changes.is_empty() {
            continue;
        }
        let module = tag_module(&op.tag);
        modules
            .entry(module.clone())
            .or_default()
            .push(OperationChanges {
                method: op.method.clone(),
                path: op.path.clone(),
                operation_id: op.id.clone(),
                method_name: op.method_name.clone(),
                module,
                changes,
            });
    }

    let types_added: Vec<String> = new
        .types
        .keys()
        .filter(|name| !old.types.contains_key(*name))
        .cloned()
        .collect();
    let types_removed: Vec<String> = old
        .types
        .keys()
        .filter(|name| !new.types.contains_key(*name))
        .cloned()
        .collect();
    let mut types = Vec::new();
    // Shapes as the schema wrote them: an inline copy merged into a same-shape type compares by
    // its own shape, so which copy comes first is never reported as a change.
    for name in old.types.keys() {
        let (Some(before), Some(after)) = (old.own_shape(name), new.own_shape(name)) else {
            continue;
        };
        let flow = flows.of(name);
        let mut changes = Changes::default();
        changes.kind(before, after, flow);
        if !changes.0.is_empty() {
            types.push(TypeChanges {
                name: name.clone(),
                usage: flow.usage(),
                changes: changes.0,
            });
        }
    }

    let mut log = Changelog {
        old: summary(old),
        new: summary(new),
        breaking: 0,
        compatible: 0,
        modules,
        types_added,
        types_removed,
        types,
    };
    let (breaking, compatible) =
        log.changes()
            .fold((0, 0), |(b, c), change| match change.severity {
                Severity::Breaking => (b + 1, c),
                Severity::Compatible => (b, c + 1),
            });
    log.breaking = breaking + log.types_removed.len();
    log.compatible = compatible + log.types_added.len();
    log
}

fn summary(api: &Api) -> ApiSummary {
    ApiSummary {
        title: api.title.clone(),
        version: api.version.clone(),
        operations: api.operations.len(),
        types: api.types.len(),
    }
}

/// Operations are matched on path template with parameter names blanked out and HTTP method
/// (in OpenAPI's order), so that `{parent_lookup_organization_id}` becoming `{organization_id}`
/// is the same operation (path arguments are positional in the client).
type RouteKey = (String, usize);

fn operations_by_route(api: &Api) -> BTreeMap<RouteKey, &Operation> {
    let mut out = BTreeMap::new();
    for op in &api.operations {
        let method = crate::load::METHODS
            .iter()
            .position(|m| m.eq_ignore_ascii_case(&op.method))
            .unwrap_or(crate::load::METHODS.len());
        let blanked = (blank_parameters(&op.path), method);
        // Two paths that differ only in parameter names keep their own keys.
        let key = if out.contains_key(&blanked) {
            (op.path.clone(), method)
        } else {
            blanked
        };
        out.insert(key, op);
    }
    out
}

fn blank_parameters(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_name = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_name = true;
                out.push_str("{}");
            }
            '}' => in_name = false,
            _ if in_name => {}
            _ => out.push(c),
        }
    }
    out
}

fn change(severity: Severity, kind: ChangeKind, place: &str, name: &str) -> Change {
    Change {
        severity,
        kind,
        place: place.to_owned(),
        name: name.to_owned(),
        old: None,
        new: None,
        required: None,
    }
}

/// Breaking when `hurts`, else compatible.
fn breaking_if(hurts: bool) -> Severity {
    if hurts {
        Severity::Breaking
    } else {
        Severity::Compatible
    }
}

/// The changes found so far.
#[derive(Default)]
struct Changes(Vec<Change>);

impl Changes {
    fn push(
        &mut self,
        severity: Severity,
        kind: ChangeKind,
        place: &str,
        name: &str,
    ) -> &mut Change {
        self.0.push(change(severity, kind, place, name));
        let last = self.0.len() - 1;
        &mut self.0[last]
    }

    /// A breaking `kind` from `old` to `new` when they differ: a type, name or module that code
    /// written against the old client spells.
    fn retyped(&mut self, kind: ChangeKind, place: &str, name: &str, old: String, new: String) {
        if old != new {
            let change = self.push(Severity::Breaking, kind, place, name);
            change.old = Some(old);
            change.new = Some(new);
        }
    }

    /// A yes/no property (required, nullable) that turned on (`on`: its kind, and whether that
    /// hurts) or off (`off`).
    fn flag(
        &mut self,
        (before, after): (bool, bool),
        place: &str,
        name: &str,
        on: (ChangeKind, bool),
        off: (ChangeKind, bool),
    ) {
        let (kind, hurts) = match (before, after) {
            (false, true) => on,
            (true, false) => off,
            _ => return,
        };
        self.push(breaking_if(hurts), kind, place, name);
    }

    fn operation(&mut self, before: &Operation, after: &Operation) {
        self.retyped(
            ChangeKind::MethodRenamed,
            "method",
            "",
            before.method_name.clone(),
            after.method_name.clone(),
        );
        self.retyped(
            ChangeKind::OperationMoved,
            "module",
            "",
            tag_module(&before.tag),
            tag_module(&after.tag),
        );
        if !before.deprecated && after.deprecated {
            self.push(
                Severity::Compatible,
                ChangeKind::OperationDeprecated,
                "",
                "",
            );
        }
        self.path_parameters(before, after);
        self.query_parameters(before, after);
        self.body(before, after);
        self.response(before, after);
        self.companions(before, after);
    }

    /// Path parameters are positional arguments: compared by position, so a renamed one is the
    /// same argument.
    fn path_parameters(&mut self, before: &Operation, after: &Operation) {
        let place = "path parameter";
        let count = before.path_params.len().max(after.path_params.len());
        for index in 0..count {
            match (before.path_params.get(index), after.path_params.get(index)) {
                (Some(a), Some(b)) => self.retyped(
                    ChangeKind::ParameterRetyped,
                    place,
                    &b.wire_name,
                    display(&a.ty),
                    display(&b.ty),
                ),
                (Some(a), None) => {
                    let kind = ChangeKind::ParameterRemoved;
                    self.push(Severity::Breaking, kind, place, &a.wire_name);
                }
                (None, Some(b)) => {
                    let kind = ChangeKind::ParameterAdded;
                    let change = self.push(Severity::Breaking, kind, place, &b.wire_name);
                    change.new = Some(display(&b.ty));
                    change.required = Some(true);
                }
                (None, None) => {}
            }
        }
    }

    /// Query parameters are fields of the operation's query struct, by wire name.
    fn query_parameters(&mut self, before: &Operation, after: &Operation) {
        let place = "query parameter";
        let by_name = |op: &Operation| -> BTreeMap<String, TypeRef> {
            op.query_params
                .iter()
                .map(|p| (p.wire_name.clone(), p.ty.clone()))
                .collect()
        };
        let (old, new) = (by_name(before), by_name(after));
        let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for name in names {
            match (old.get(name), new.get(name)) {
                (Some(_), None) => {
                    self.push(
                        Severity::Breaking,
                        ChangeKind::ParameterRemoved,
                        place,
                        name,
                    );
                }
                (None, Some(ty)) => {
                    let required = !ty.is_option();
                    let kind = ChangeKind::ParameterAdded;
                    let change = self.push(breaking_if(required), kind, place, name);
                    change.new = Some(display(inner(ty)));
                    change.required = Some(required);
                }
                (Some(a), Some(b)) => {
                    self.flag(
                        (!a.is_option(), !b.is_option()),
                        place,
                        name,
                        (ChangeKind::ParameterMadeRequired, true),
                        (ChangeKind::ParameterMadeOptional, false),
                    );
                    let kind = ChangeKind::ParameterRetyped;
                    self.retyped(kind, place, name, display(inner(a)), display(inner(b)));
                }
                (None, None) => {}
            }
        }
    }

    fn body(&mut self, before: &Operation, after: &Operation) {
        let place = "request body";
        match (&before.body, &after.body) {
            (None, None) => {}
            (Some(_), None) => {
                self.push(Severity::Breaking, ChangeKind::BodyRemoved, place, "");
            }
            (None, Some(body)) => {
                let kind = ChangeKind::BodyAdded;
                let change = self.push(breaking_if(body.required), kind, place, "");
                change.new = Some(body_shape(body));
                change.required = Some(body.required);
            }
            (Some(a), Some(b)) => {
                self.flag(
                    (a.required, b.required),
                    place,
                    "",
                    (ChangeKind::FieldMadeRequired, true),
                    (ChangeKind::FieldMadeOptional, false),
                );
                let kind = ChangeKind::FieldRetyped;
                self.retyped(kind, place, "", body_shape(a), body_shape(b));
            }
        }
    }

    /// The method's return type: any change to it is one the caller's code sees, including an
    /// answer that lost (or gained) its documented type.
    fn response(&mut self, before: &Operation, after: &Operation) {
        self.retyped(
            ChangeKind::FieldRetyped,
            "response",
            "",
            response_shape(&before.response),
            response_shape(&after.response),
        );
    }

    /// Pages, items, CSV and event-stream companion methods.
    fn companions(&mut self, before: &Operation, after: &Operation) {
        let names = |op: &Operation| -> BTreeSet<String> {
            let c = &op.companions;
            [&c.pages, &c.items, &c.csv, &c.event_stream]
                .into_iter()
                .flatten()
                .cloned()
                .collect()
        };
        let (old, new) = (names(before), names(after));
        for name in old.difference(&new) {
            self.push(
                Severity::Breaking,
                ChangeKind::CompanionRemoved,
                "method",
                name,
            );
        }
        for name in new.difference(&old) {
            self.push(
                Severity::Compatible,
                ChangeKind::CompanionAdded,
                "method",
                name,
            );
        }
    }

    /// Compares a type with its namesake.
    fn kind(&mut self, before: &TypeKind, after: &TypeKind, flow: Flow) {
        match (before, after) {
            (TypeKind::Struct { fields: a }, TypeKind::Struct { fields: b }) => {
                let by_name = |fields: &[Field]| -> BTreeMap<String, (TypeRef, Presence)> {
                    fields
                        .iter()
                        .map(|f| (f.wire_name.clone(), (f.ty.clone(), f.presence)))
                        .collect()
                };
                let (old, new) = (by_name(a), by_name(b));
                let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
                for name in names {
                    self.field(name, old.get(name), new.get(name), flow);
                }
            }
            (
                TypeKind::StringEnum { variants: a, .. },
                TypeKind::StringEnum { variants: b, .. },
            ) => {
                let quoted = |variants: &[EnumVariant<String>]| -> Vec<String> {
                    let quote = |v: &String| serde_json::to_string(v).unwrap_or_default();
                    variants.iter().map(|v| quote(&v.value)).collect()
                };
                self.values(&quoted(a), &quoted(b));
            }
            (
                TypeKind::IntegerEnum { variants: a, .. },
                TypeKind::IntegerEnum { variants: b, .. },
            ) => {
                let spelled = |variants: &[EnumVariant<i64>]| -> Vec<String> {
                    variants.iter().map(|v| v.value.to_string()).collect()
                };
                self.values(&spelled(a), &spelled(b));
            }
            (
                TypeKind::TaggedUnion { variants: a, .. },
                TypeKind::TaggedUnion { variants: b, .. },
            )
            | (
                TypeKind::UntaggedUnion { variants: a, .. },
                TypeKind::UntaggedUnion { variants: b, .. },
            ) => self.variants(a, b),
            (a, b) => self.retyped(ChangeKind::FieldRetyped, "", "", kind_name(a), kind_name(b)),
        }
    }

    /// Union variants by name: a new one is compatible (unions keep unknown shapes in their
    /// fallback variant), a removed or retyped one breaking.
    fn variants(&mut self, before: &[UnionVariant], after: &[UnionVariant]) {
        let by_name = |variants: &[UnionVariant]| -> BTreeMap<String, String> {
            variants
                .iter()
                .map(|v| (v.name.clone(), display(&v.ty)))
                .collect()
        };
        let (old, new) = (by_name(before), by_name(after));
        let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for name in names {
            match (old.get(name), new.get(name)) {
                (Some(ty), None) => {
                    let kind = ChangeKind::VariantRemoved;
                    let change = self.push(Severity::Breaking, kind, "variant", name);
                    change.old = Some(ty.clone());
                }
                (None, Some(ty)) => {
                    let kind = ChangeKind::VariantAdded;
                    let change = self.push(Severity::Compatible, kind, "variant", name);
                    change.new = Some(ty.clone());
                }
                (Some(x), Some(y)) => {
                    let kind = ChangeKind::FieldRetyped;
                    self.retyped(kind, "variant", name, x.clone(), y.clone());
                }
                (None, None) => {}
            }
        }
    }

    /// Added values are compatible in either direction: a server accepts more, and the
    /// generated enums decode values they do not know. A removed value is breaking even in a
    /// response, since its variant disappears from the generated enum.
    fn values(&mut self, old: &[String], new: &[String]) {
        for value in new.iter().filter(|v| !old.contains(v)) {
            let change = self.push(Severity::Compatible, ChangeKind::EnumValueAdded, "", "");
            change.new = Some(value.clone());
        }
        for value in old.iter().filter(|v| !new.contains(v)) {
            let change = self.push(Severity::Breaking, ChangeKind::EnumValueRemoved, "", "");
            change.old = Some(value.clone());
        }
    }

    /// One field of a struct, by wire name, in a type whose values travel `flow`.
    fn field(
        &mut self,
        name: &str,
        old: Option<&(TypeRef, Presence)>,
        new: Option<&(TypeRef, Presence)>,
        flow: Flow,
    ) {
        match (old, new) {
            (Some((ty, presence)), None) => {
                let used = flow.for_field(*presence).usage() != Usage::Unused;
                let change = self.push(breaking_if(used), ChangeKind::FieldRemoved, "", name);
                change.old = Some(display(inner(ty)));
            }
            (None, Some((ty, presence))) => {
                let hurts = presence.required && flow.for_field(*presence).request;
                let change = self.push(breaking_if(hurts), ChangeKind::FieldAdded, "", name);
                change.new = Some(display(inner(ty)));
                change.required = Some(presence.required);
            }
            (Some((a, pa)), Some((b, pb))) => {
                let flow = flow.for_field(*pb);
                // Requiring a field hurts writers, dropping the requirement hurts readers.
                self.flag(
                    (pa.required, pb.required),
                    "",
                    name,
                    (ChangeKind::FieldMadeRequired, flow.request),
                    (ChangeKind::FieldMadeOptional, flow.response),
                );
                // Allowing null hurts readers; forbidding it hurts writers.
                self.flag(
                    (pa.nullable, pb.nullable),
                    "",
                    name,
                    (ChangeKind::FieldMadeNullable, flow.response),
                    (ChangeKind::FieldMadeNonNullable, flow.request),
                );
                let (a, b) = (display(inner(a)), display(inner(b)));
                self.retyped(ChangeKind::FieldRetyped, "", name, a, b);
            }
            (None, None) => {}
        }
    }
}
