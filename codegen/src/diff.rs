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
mod shapes;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::emit::tag_module;
use crate::ir::{Api, Operation, Presence, TypeKind, TypeRef};
use flows::{Flow, Flows};
use shapes::{body_shape, display, inner, kind_name, response_shape};

/// Whether a change can break code written against the old client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// It may stop compiling or working.
    Breaking,
    /// It keeps working.
    Compatible,
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum ChangeKind {
    OperationAdded,
    OperationRemoved,
    /// The operation's method has another name (its `operationId` changed).
    MethodRenamed,
    /// The operation is filed under another module and cargo feature.
    OperationMoved,
    OperationDeprecated,
    CompanionAdded,
    CompanionRemoved,
    ParameterAdded,
    ParameterRemoved,
    ParameterMadeRequired,
    ParameterMadeOptional,
    ParameterRetyped,
    BodyAdded,
    BodyRemoved,
    FieldAdded,
    FieldRemoved,
    FieldRetyped,
    FieldMadeRequired,
    FieldMadeOptional,
    FieldMadeNullable,
    FieldMadeNonNullable,
    EnumValueAdded,
    EnumValueRemoved,
    VariantAdded,
    VariantRemoved,
}

/// Which way a type's values travel, which decides whether a change to it is breaking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    /// Only sent.
    Request,
    /// Only received.
    Response,
    /// Sent and received.
    Both,
    /// No operation reaches the type (it is still generated, behind `unreferenced_types`).
    Unused,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Breaking or compatible.
    pub severity: Severity,
    /// What changed.
    pub kind: ChangeKind,
    /// The part of an operation or type the change is in (`path parameter`, `query parameter`,
    /// `request body`, `response`, `variant`, `method`, `module`); empty for a field of a type or
    /// the type itself.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub place: String,
    /// The parameter, field (wire name), variant or companion method the change is about; empty
    /// for the body, answer or type itself.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The old type, name or removed value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// The new type, name or added value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    /// For an added parameter, field or body: whether it is required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// The changes of one operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationChanges {
    /// Upper-case HTTP method.
    pub method: String,
    /// The path in the newer schema (the older one for a removed operation).
    pub path: String,
    /// The schema's `operationId`.
    pub operation_id: String,
    /// The `Client` method.
    pub method_name: String,
    /// The module of `posthog_api::api` it is in, which is also its cargo feature.
    pub module: String,
    /// What changed.
    pub changes: Vec<Change>,
}

/// The changes inside one named type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeChanges {
    /// Its Rust name.
    pub name: String,
    /// Which way its values travel.
    pub usage: Usage,
    /// What changed.
    pub changes: Vec<Change>,
}

/// What an API is, in a line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiSummary {
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// Operations (methods, without companions).
    pub operations: usize,
    /// Named types, the inline shapes that needed a name included.
    pub types: usize,
}

/// The changelog between two APIs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changelog {
    /// The older API.
    pub old: ApiSummary,
    /// The newer API.
    pub new: ApiSummary,
    /// Breaking changes, removed types included.
    pub breaking: usize,
    /// Compatible changes, added types included.
    pub compatible: usize,
    /// Operations with changes, by module (= cargo feature) in the newer API.
    pub modules: BTreeMap<String, Vec<OperationChanges>>,
    /// Types only in the newer API (compatible).
    pub types_added: Vec<String>,
    /// Types only in the older API (breaking).
    pub types_removed: Vec<String>,
    /// Types in both whose shape changed.
    pub types: Vec<TypeChanges>,
}

impl Changelog {
    /// Whether the two APIs differ in nothing a client user can see.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
            && self.types_added.is_empty()
            && self.types_removed.is_empty()
            && self.types.is_empty()
    }

    /// All changes, from operations and types.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        let in_operations = self.modules.values().flatten().flat_map(|op| &op.changes);
        let in_types = self.types.iter().flat_map(|ty| &ty.changes);
        in_operations.chain(in_types)
    }

    /// The changes of the operation `method path` (as in the newer API), if any.
    pub fn operation(&self, method: &str, path: &str) -> Option<&OperationChanges> {
        self.modules
            .values()
            .flatten()
            .find(|op| op.method.eq_ignore_ascii_case(method) && op.path == path)
    }

    /// The changes inside the type `name`, if any.
    pub fn type_changes(&self, name: &str) -> Option<&TypeChanges> {
        self.types.iter().find(|ty| ty.name == name)
    }
}

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
    for (name, before) in &old.types {
        let Some(after) = new.types.get(name) else {
            continue;
        };
        let flow = flows.of(name);
        let mut changes = Changes::default();
        changes.kind(&before.kind, &after.kind, flow);
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

    fn replaced(
        &mut self,
        severity: Severity,
        kind: ChangeKind,
        place: &str,
        name: &str,
        old: Option<String>,
        new: Option<String>,
    ) {
        let change = self.push(severity, kind, place, name);
        change.old = old;
        change.new = new;
    }

    fn operation(&mut self, before: &Operation, after: &Operation) {
        if before.method_name != after.method_name {
            let (old, new) = (before.method_name.clone(), after.method_name.clone());
            self.replaced(
                Severity::Breaking,
                ChangeKind::MethodRenamed,
                "method",
                "",
                Some(old),
                Some(new),
            );
        }
        let (old_module, new_module) = (tag_module(&before.tag), tag_module(&after.tag));
        if old_module != new_module {
            self.replaced(
                Severity::Breaking,
                ChangeKind::OperationMoved,
                "module",
                "",
                Some(old_module),
                Some(new_module),
            );
        }
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
                (Some(a), Some(b)) if display(&a.ty) != display(&b.ty) => self.replaced(
                    Severity::Breaking,
                    ChangeKind::ParameterRetyped,
                    place,
                    &b.wire_name,
                    Some(display(&a.ty)),
                    Some(display(&b.ty)),
                ),
                (Some(a), None) => {
                    self.push(
                        Severity::Breaking,
                        ChangeKind::ParameterRemoved,
                        place,
                        &a.wire_name,
                    );
                }
                (None, Some(b)) => {
                    let change = self.push(
                        Severity::Breaking,
                        ChangeKind::ParameterAdded,
                        place,
                        &b.wire_name,
                    );
                    change.new = Some(display(&b.ty));
                    change.required = Some(true);
                }
                _ => {}
            }
        }
    }

    /// Query parameters are fields of the operation's query struct, by wire name.
    fn query_parameters(&mut self, before: &Operation, after: &Operation) {
        let place = "query parameter";
        let old: BTreeMap<&str, &TypeRef> = before
            .query_params
            .iter()
            .map(|p| (p.wire_name.as_str(), &p.ty))
            .collect();
        let new: BTreeMap<&str, &TypeRef> = after
            .query_params
            .iter()
            .map(|p| (p.wire_name.as_str(), &p.ty))
            .collect();
        let names: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
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
                    let change = self.push(
                        breaking_if(required),
                        ChangeKind::ParameterAdded,
                        place,
                        name,
                    );
                    change.new = Some(display(inner(ty)));
                    change.required = Some(required);
                }
                (Some(a), Some(b)) => {
                    match (a.is_option(), b.is_option()) {
                        (true, false) => {
                            self.push(
                                Severity::Breaking,
                                ChangeKind::ParameterMadeRequired,
                                place,
                                name,
                            );
                        }
                        (false, true) => {
                            self.push(
                                Severity::Compatible,
                                ChangeKind::ParameterMadeOptional,
                                place,
                                name,
                            );
                        }
                        _ => {}
                    }
                    let (a, b) = (display(inner(a)), display(inner(b)));
                    if a != b {
                        self.replaced(
                            Severity::Breaking,
                            ChangeKind::ParameterRetyped,
                            place,
                            name,
                            Some(a),
                            Some(b),
                        );
                    }
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
                let change =
                    self.push(breaking_if(body.required), ChangeKind::BodyAdded, place, "");
                change.new = Some(body_shape(body));
                change.required = Some(body.required);
            }
            (Some(a), Some(b)) => {
                if !a.required && b.required {
                    self.push(Severity::Breaking, ChangeKind::FieldMadeRequired, place, "");
                } else if a.required && !b.required {
                    self.push(
                        Severity::Compatible,
                        ChangeKind::FieldMadeOptional,
                        place,
                        "",
                    );
                }
                let (a, b) = (body_shape(a), body_shape(b));
                if a != b {
                    self.replaced(
                        Severity::Breaking,
                        ChangeKind::FieldRetyped,
                        place,
                        "",
                        Some(a),
                        Some(b),
                    );
                }
            }
        }
    }

    fn response(&mut self, before: &Operation, after: &Operation) {
        // The method's return type: any change to it is one the caller's code sees, including
        // an answer that lost (or gained) its documented type.
        let (a, b) = (
            response_shape(&before.response),
            response_shape(&after.response),
        );
        if a != b {
            self.replaced(
                Severity::Breaking,
                ChangeKind::FieldRetyped,
                "response",
                "",
                Some(a),
                Some(b),
            );
        }
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
                let old: BTreeMap<&str, (&TypeRef, Presence)> = a
                    .iter()
                    .map(|f| (f.wire_name.as_str(), (&f.ty, f.presence)))
                    .collect();
                let new: BTreeMap<&str, (&TypeRef, Presence)> = b
                    .iter()
                    .map(|f| (f.wire_name.as_str(), (&f.ty, f.presence)))
                    .collect();
                let names: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
                for name in names {
                    self.field(name, old.get(name).copied(), new.get(name).copied(), flow);
                }
            }
            (
                TypeKind::StringEnum { variants: a, .. },
                TypeKind::StringEnum { variants: b, .. },
            ) => {
                let quote = |v: &String| serde_json::to_string(v).unwrap_or_default();
                self.values(
                    a.iter().map(|v| quote(&v.value)).collect(),
                    b.iter().map(|v| quote(&v.value)).collect(),
                );
            }
            (
                TypeKind::IntegerEnum { variants: a, .. },
                TypeKind::IntegerEnum { variants: b, .. },
            ) => {
                self.values(
                    a.iter().map(|v| v.value.to_string()).collect(),
                    b.iter().map(|v| v.value.to_string()).collect(),
                );
            }
            (
                TypeKind::TaggedUnion { variants: a, .. },
                TypeKind::TaggedUnion { variants: b, .. },
            )
            | (
                TypeKind::UntaggedUnion { variants: a, .. },
                TypeKind::UntaggedUnion { variants: b, .. },
            ) => {
                let old: BTreeMap<&str, &TypeRef> =
                    a.iter().map(|v| (v.name.as_str(), &v.ty)).collect();
                let new: BTreeMap<&str, &TypeRef> =
                    b.iter().map(|v| (v.name.as_str(), &v.ty)).collect();
                let names: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
                for name in names {
                    match (old.get(name), new.get(name)) {
                        (Some(ty), None) => {
                            let change = self.push(
                                Severity::Breaking,
                                ChangeKind::VariantRemoved,
                                "variant",
                                name,
                            );
                            change.old = Some(display(ty));
                        }
                        (None, Some(ty)) => {
                            let change = self.push(
                                Severity::Compatible,
                                ChangeKind::VariantAdded,
                                "variant",
                                name,
                            );
                            change.new = Some(display(ty));
                        }
                        (Some(x), Some(y)) if display(x) != display(y) => {
                            self.replaced(
                                Severity::Breaking,
                                ChangeKind::FieldRetyped,
                                "variant",
                                name,
                                Some(display(x)),
                                Some(display(y)),
                            );
                        }
                        _ => {}
                    }
                }
            }
            (a, b) => {
                let (a, b) = (kind_name(a), kind_name(b));
                if a != b {
                    self.replaced(
                        Severity::Breaking,
                        ChangeKind::FieldRetyped,
                        "",
                        "",
                        Some(a),
                        Some(b),
                    );
                }
            }
        }
    }

    /// Added values are compatible in either direction: a server accepts more, and the
    /// generated enums decode values they do not know. A removed value is breaking even in a
    /// response, since its variant disappears from the generated enum.
    fn values(&mut self, old: Vec<String>, new: Vec<String>) {
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
        old: Option<(&TypeRef, Presence)>,
        new: Option<(&TypeRef, Presence)>,
        flow: Flow,
    ) {
        match (old, new) {
            (Some((ty, presence)), None) => {
                let used = flow.for_field(presence).usage() != Usage::Unused;
                let change = self.push(breaking_if(used), ChangeKind::FieldRemoved, "", name);
                change.old = Some(display(inner(ty)));
            }
            (None, Some((ty, presence))) => {
                let sent = flow.for_field(presence).request;
                let change = self.push(
                    breaking_if(presence.required && sent),
                    ChangeKind::FieldAdded,
                    "",
                    name,
                );
                change.new = Some(display(inner(ty)));
                change.required = Some(presence.required);
            }
            (Some((a, pa)), Some((b, pb))) => {
                let flow = flow.for_field(pb);
                match (pa.required, pb.required) {
                    (false, true) => {
                        self.push(
                            breaking_if(flow.request),
                            ChangeKind::FieldMadeRequired,
                            "",
                            name,
                        );
                    }
                    (true, false) => {
                        self.push(
                            breaking_if(flow.response),
                            ChangeKind::FieldMadeOptional,
                            "",
                            name,
                        );
                    }
                    _ => {}
                }
                // Allowing null hurts readers; forbidding it hurts writers.
                match (pa.nullable, pb.nullable) {
                    (false, true) => {
                        self.push(
                            breaking_if(flow.response),
                            ChangeKind::FieldMadeNullable,
                            "",
                            name,
                        );
                    }
                    (true, false) => {
                        self.push(
                            breaking_if(flow.request),
                            ChangeKind::FieldMadeNonNullable,
                            "",
                            name,
                        );
                    }
                    _ => {}
                }
                let (a, b) = (display(inner(a)), display(inner(b)));
                if a != b {
                    self.replaced(
                        Severity::Breaking,
                        ChangeKind::FieldRetyped,
                        "",
                        name,
                        Some(a),
                        Some(b),
                    );
                }
            }
            (None, None) => {}
        }
    }
}
