//! What the changelog reports: changes, each classified, grouped by operation and by type.

use std::collections::BTreeMap;

use serde::Serialize;

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
