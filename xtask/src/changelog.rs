//! `cargo xtask changelog OLD NEW`: what changed between two OpenAPI schemas, grouped by tag,
//! with every change classified as breaking or compatible for a user of the generated client.
//!
//! Components are shared by many operations, so a change inside a component is reported once,
//! under "Types", with the direction it travels in (request, response or both). An operation
//! only lists what is its own: parameters, body and response presence, inline schemas, and the
//! field differences when its body or response switches from one component to another.
//!
//! Classification, from the point of view of code written against the old client:
//! - breaking: it may stop compiling, or a request it sends may now be refused, or a response
//!   may lack something it relied on (an operation, parameter, field, enum value or type is
//!   removed; something is retyped; a request field or parameter becomes required; a response
//!   field becomes optional or nullable);
//! - compatible: everything else. New enum values in responses count as compatible because the
//!   generated enums keep values they do not know in a fallback variant.

mod markdown;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use openapiv3::{
    AdditionalProperties, OpenAPI, Operation, Parameter, ParameterSchemaOrContent, ReferenceOr,
    Schema, SchemaKind, StatusCode, Type,
};
use serde::Serialize;

use crate::schema_file::read_openapi;

/// Arguments of `cargo xtask changelog`.
#[derive(Debug, Clone, clap::Args)]
pub struct ChangelogArgs {
    /// The older schema (JSON or YAML).
    pub old: PathBuf,
    /// The newer schema (JSON or YAML).
    pub new: PathBuf,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
}

/// The command: read both schemas and print the changelog.
pub fn run(args: ChangelogArgs) -> anyhow::Result<()> {
    let old = read_openapi(&args.old)?;
    let new = read_openapi(&args.new)?;
    let log = changelog(&old, &new);
    let text = if args.json {
        log.to_json() + "\n"
    } else {
        log.to_markdown()
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // `cargo xtask changelog A B | head` closing the pipe early is not a failure.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("writing the changelog to stdout"),
    }
}

/// Whether a change can break code written against the old client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Breaking,
    Compatible,
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    OperationAdded,
    OperationRemoved,
    ParameterAdded,
    ParameterRemoved,
    ParameterMadeRequired,
    ParameterMadeOptional,
    ParameterRetyped,
    BodyAdded,
    BodyRemoved,
    ResponseAdded,
    ResponseRemoved,
    FieldAdded,
    FieldRemoved,
    FieldRetyped,
    FieldMadeRequired,
    FieldMadeOptional,
    EnumValueAdded,
    EnumValueRemoved,
}

/// Which way a type's values travel, which decides whether a change to it is breaking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    Request,
    Response,
    Both,
    /// No operation reaches the type (it may still be generated).
    Unused,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub severity: Severity,
    pub kind: ChangeKind,
    /// The part of an operation the change is in (`query parameter`, `request body`,
    /// `response 200`); empty for a change inside a type.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub place: String,
    /// The parameter name, field path (`a.b[]`), or status code the change is about; empty for
    /// the body or type itself.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The old type or removed enum value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// The new type or added enum value.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    pub changes: Vec<Change>,
}

/// The changes inside one component schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeChanges {
    pub name: String,
    pub usage: Usage,
    pub changes: Vec<Change>,
}

/// What a schema is, in a line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocSummary {
    pub title: String,
    pub version: String,
    pub operations: usize,
    pub types: usize,
}

/// The changelog between two schemas.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changelog {
    pub old: DocSummary,
    pub new: DocSummary,
    pub breaking: usize,
    pub compatible: usize,
    /// Operations with changes, by tag (an operation's most specific, that is last, tag).
    pub tags: BTreeMap<String, Vec<OperationChanges>>,
    /// Component schemas only in the newer schema (compatible).
    pub types_added: Vec<String>,
    /// Component schemas only in the older schema (breaking).
    pub types_removed: Vec<String>,
    /// Component schemas in both whose shape changed.
    pub types: Vec<TypeChanges>,
}

impl Changelog {
    /// Whether the two schemas differ in nothing a client user can see.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
            && self.types_added.is_empty()
            && self.types_removed.is_empty()
            && self.types.is_empty()
    }

    /// The changelog for humans.
    pub fn to_markdown(&self) -> String {
        markdown::render(self)
    }

    /// The changelog for tools: pretty JSON with a stable key order.
    pub fn to_json(&self) -> String {
        // Every field is a string, number, bool, list or string-keyed map, which serde_json
        // always serializes.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// All changes, from operations and types, for counting and tests.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        let in_operations = self.tags.values().flatten().flat_map(|op| &op.changes);
        let in_types = self.types.iter().flat_map(|ty| &ty.changes);
        in_operations.chain(in_types)
    }

    /// The changes of the operation `method path` (as in the newer schema), if any.
    pub fn operation(&self, method: &str, path: &str) -> Option<&OperationChanges> {
        self.tags
            .values()
            .flatten()
            .find(|op| op.method.eq_ignore_ascii_case(method) && op.path == path)
    }

    /// The changes inside the component `name`, if any.
    pub fn type_changes(&self, name: &str) -> Option<&TypeChanges> {
        self.types.iter().find(|ty| ty.name == name)
    }
}

/// Compares two schemas.
pub fn changelog(old: &OpenAPI, new: &OpenAPI) -> Changelog {
    let old_ops = operations(old);
    let new_ops = operations(new);
    let flows = Flows::new(old, new);
    let mut tags: BTreeMap<String, Vec<OperationChanges>> = BTreeMap::new();

    let keys: BTreeSet<&OpKey> = old_ops.keys().chain(new_ops.keys()).collect();
    for key in keys {
        let (entry, changes) = match (old_ops.get(key), new_ops.get(key)) {
            (Some(before), None) => (
                before,
                vec![op_change(Severity::Breaking, ChangeKind::OperationRemoved)],
            ),
            (None, Some(after)) => (
                after,
                vec![op_change(Severity::Compatible, ChangeKind::OperationAdded)],
            ),
            (Some(before), Some(after)) => {
                let mut diff = Diff {
                    old,
                    new,
                    changes: Vec::new(),
                };
                diff.operation(before, after);
                (after, diff.changes)
            }
            (None, None) => continue,
        };
        if changes.is_empty() {
            continue;
        }
        tags.entry(entry.tag()).or_default().push(OperationChanges {
            method: entry.method.to_ascii_uppercase(),
            path: entry.path.to_owned(),
            operation_id: entry.op.operation_id.clone(),
            changes,
        });
    }

    let old_types = component_schemas(old);
    let new_types = component_schemas(new);
    let types_added: Vec<String> = new_types
        .keys()
        .filter(|name| !old_types.contains_key(*name))
        .map(|name| (*name).to_owned())
        .collect();
    let types_removed: Vec<String> = old_types
        .keys()
        .filter(|name| !new_types.contains_key(*name))
        .map(|name| (*name).to_owned())
        .collect();
    let mut types = Vec::new();
    for (name, before) in &old_types {
        let Some(after) = new_types.get(name) else {
            continue;
        };
        let flow = flows.of(name);
        let mut diff = Diff {
            old,
            new,
            changes: Vec::new(),
        };
        diff.root(before, after, "", flow);
        if !diff.changes.is_empty() {
            types.push(TypeChanges {
                name: (*name).to_owned(),
                usage: flow.usage(),
                changes: diff.changes,
            });
        }
    }

    let mut log = Changelog {
        old: summary(old, old_ops.len(), old_types.len()),
        new: summary(new, new_ops.len(), new_types.len()),
        breaking: 0,
        compatible: 0,
        tags,
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

fn summary(doc: &OpenAPI, operations: usize, types: usize) -> DocSummary {
    DocSummary {
        title: doc.info.title.clone(),
        version: doc.info.version.clone(),
        operations,
        types,
    }
}

fn op_change(severity: Severity, kind: ChangeKind) -> Change {
    Change {
        severity,
        kind,
        place: String::new(),
        name: String::new(),
        old: None,
        new: None,
        required: None,
    }
}

/// Operations are matched on method and path template with parameter names blanked out, so
/// that `{parent_lookup_organization_id}` becoming `{organization_id}` is the same operation.
type OpKey = (String, usize);

struct OpEntry<'a> {
    method: &'a str,
    path: &'a str,
    op: &'a Operation,
    /// Path-level parameters, which the operation's own override.
    shared: &'a [ReferenceOr<Parameter>],
}

impl OpEntry<'_> {
    fn tag(&self) -> String {
        self.op
            .tags
            .last()
            .cloned()
            .unwrap_or_else(|| "(untagged)".to_owned())
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn operations(doc: &OpenAPI) -> BTreeMap<OpKey, OpEntry<'_>> {
    let mut out = BTreeMap::new();
    for (path, item) in &doc.paths.paths {
        let Some(item) = item.as_item() else { continue };
        let template = blank_parameters(path);
        for (method, op) in item.iter() {
            let index = METHODS
                .iter()
                .position(|m| *m == method)
                .unwrap_or(METHODS.len());
            let entry = OpEntry {
                method,
                path,
                op,
                shared: &item.parameters,
            };
            // Two paths that differ only in parameter names keep their own keys.
            let key = if out.contains_key(&(template.clone(), index)) {
                (path.clone(), index)
            } else {
                (template.clone(), index)
            };
            out.insert(key, entry);
        }
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

fn component_schemas(doc: &OpenAPI) -> BTreeMap<&str, &ReferenceOr<Schema>> {
    doc.components
        .iter()
        .flat_map(|components| &components.schemas)
        .map(|(name, schema)| (name.as_str(), schema))
        .collect()
}

/// The component name a `$ref` points at.
fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

fn lookup_schema<'a>(doc: &'a OpenAPI, reference: &str) -> Option<&'a Schema> {
    let name = reference.strip_prefix("#/components/schemas/")?;
    doc.components.as_ref()?.schemas.get(name)?.as_item()
}

/// A schema position: a reference or an inline schema, whichever box it came in.
#[derive(Clone, Copy)]
enum Node<'a> {
    Ref(&'a str),
    Inline(&'a Schema),
}

impl<'a> Node<'a> {
    fn of(schema: &'a ReferenceOr<Schema>) -> Node<'a> {
        match schema {
            ReferenceOr::Reference { reference } => Node::Ref(reference),
            ReferenceOr::Item(schema) => Node::Inline(schema),
        }
    }

    fn of_boxed(schema: &'a ReferenceOr<Box<Schema>>) -> Node<'a> {
        match schema {
            ReferenceOr::Reference { reference } => Node::Ref(reference),
            ReferenceOr::Item(schema) => Node::Inline(schema),
        }
    }
}

/// Which way values travel: into the server, out of it, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Flow {
    request: bool,
    response: bool,
}

impl Flow {
    const REQUEST: Flow = Flow {
        request: true,
        response: false,
    };
    const RESPONSE: Flow = Flow {
        request: false,
        response: true,
    };

    fn usage(self) -> Usage {
        match (self.request, self.response) {
            (true, true) => Usage::Both,
            (true, false) => Usage::Request,
            (false, true) => Usage::Response,
            (false, false) => Usage::Unused,
        }
    }

    /// Narrows a flow for a field: drf-spectacular marks response-only fields `readOnly` and
    /// request-only ones `writeOnly` inside types used both ways.
    fn for_field(self, schema: Option<&Schema>) -> Flow {
        match schema.map(|s| (s.schema_data.read_only, s.schema_data.write_only)) {
            Some((true, _)) => Flow {
                request: false,
                ..self
            },
            Some((_, true)) => Flow {
                response: false,
                ..self
            },
            _ => self,
        }
    }
}

/// The flow of every component, in either schema, found by walking from the operations.
struct Flows {
    by_name: BTreeMap<String, Flow>,
}

impl Flows {
    fn new(old: &OpenAPI, new: &OpenAPI) -> Flows {
        let mut by_name = BTreeMap::new();
        for doc in [old, new] {
            for (direction, roots) in [
                (Flow::REQUEST, request_roots(doc)),
                (Flow::RESPONSE, response_roots(doc)),
            ] {
                let mut seen = BTreeSet::new();
                let mut stack: Vec<&str> = Vec::new();
                for root in roots {
                    collect_refs(root, &mut stack);
                }
                while let Some(reference) = stack.pop() {
                    let name = ref_name(reference);
                    if !seen.insert(name.to_owned()) {
                        continue;
                    }
                    let flow: &mut Flow = by_name.entry(name.to_owned()).or_default();
                    flow.request |= direction.request;
                    flow.response |= direction.response;
                    if let Some(schema) = lookup_schema(doc, reference) {
                        collect_refs(Node::Inline(schema), &mut stack);
                    }
                }
            }
        }
        Flows { by_name }
    }

    fn of(&self, name: &str) -> Flow {
        self.by_name.get(name).copied().unwrap_or_default()
    }
}

fn request_roots(doc: &OpenAPI) -> Vec<Node<'_>> {
    let mut roots = Vec::new();
    for item in doc.paths.paths.values().filter_map(ReferenceOr::as_item) {
        let shared = item.parameters.iter();
        for (_, op) in item.iter() {
            for parameter in shared.clone().chain(&op.parameters) {
                if let Some(ParameterSchemaOrContent::Schema(schema)) =
                    resolve_parameter(doc, parameter).map(|p| &p.parameter_data_ref().format)
                {
                    roots.push(Node::of(schema));
                }
            }
            if let Some(body) = op.request_body.as_ref().and_then(|b| resolve_body(doc, b)) {
                roots.extend(
                    body.content
                        .values()
                        .filter_map(|m| m.schema.as_ref())
                        .map(Node::of),
                );
            }
        }
    }
    roots
}

fn response_roots(doc: &OpenAPI) -> Vec<Node<'_>> {
    let mut roots = Vec::new();
    for item in doc.paths.paths.values().filter_map(ReferenceOr::as_item) {
        for (_, op) in item.iter() {
            for response in op.responses.responses.values().chain(&op.responses.default) {
                if let Some(response) = resolve_response(doc, response) {
                    roots.extend(
                        response
                            .content
                            .values()
                            .filter_map(|m| m.schema.as_ref())
                            .map(Node::of),
                    );
                }
            }
        }
    }
    roots
}

/// Pushes every `$ref` reachable from `node` without crossing into another component.
fn collect_refs<'a>(node: Node<'a>, out: &mut Vec<&'a str>) {
    let schema = match node {
        Node::Ref(reference) => {
            out.push(reference);
            return;
        }
        Node::Inline(schema) => schema,
    };
    let mut children: Vec<Node<'a>> = Vec::new();
    match &schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => {
            children.extend(object.properties.values().map(Node::of_boxed));
            if let Some(AdditionalProperties::Schema(extra)) = &object.additional_properties {
                children.push(Node::of(extra));
            }
        }
        SchemaKind::Type(Type::Array(array)) => {
            children.extend(array.items.as_ref().map(Node::of_boxed))
        }
        SchemaKind::Type(_) => {}
        SchemaKind::OneOf { one_of: all }
        | SchemaKind::AllOf { all_of: all }
        | SchemaKind::AnyOf { any_of: all } => {
            children.extend(all.iter().map(Node::of));
        }
        SchemaKind::Not { not } => children.push(Node::of(not)),
        SchemaKind::Any(any) => {
            children.extend(any.properties.values().map(Node::of_boxed));
            children.extend(any.items.as_ref().map(Node::of_boxed));
            if let Some(AdditionalProperties::Schema(extra)) = &any.additional_properties {
                children.push(Node::of(extra));
            }
            children.extend(
                any.one_of
                    .iter()
                    .chain(&any.all_of)
                    .chain(&any.any_of)
                    .map(Node::of),
            );
            children.extend(any.not.as_deref().map(Node::of));
        }
    }
    for child in children {
        collect_refs(child, out);
    }
}

fn resolve_parameter<'a>(
    doc: &'a OpenAPI,
    parameter: &'a ReferenceOr<Parameter>,
) -> Option<&'a Parameter> {
    match parameter {
        ReferenceOr::Item(parameter) => Some(parameter),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/parameters/")?;
            doc.components.as_ref()?.parameters.get(name)?.as_item()
        }
    }
}

fn resolve_body<'a>(
    doc: &'a OpenAPI,
    body: &'a ReferenceOr<openapiv3::RequestBody>,
) -> Option<&'a openapiv3::RequestBody> {
    match body {
        ReferenceOr::Item(body) => Some(body),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/requestBodies/")?;
            doc.components.as_ref()?.request_bodies.get(name)?.as_item()
        }
    }
}

fn resolve_response<'a>(
    doc: &'a OpenAPI,
    response: &'a ReferenceOr<openapiv3::Response>,
) -> Option<&'a openapiv3::Response> {
    match response {
        ReferenceOr::Item(response) => Some(response),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/responses/")?;
            doc.components.as_ref()?.responses.get(name)?.as_item()
        }
    }
}

/// The schema a client encodes or decodes: the JSON one when there is a choice (drf-spectacular
/// offers JSON, form and multipart twins of the same body), else the first.
fn main_schema(content: &indexmap::IndexMap<String, openapiv3::MediaType>) -> Option<Node<'_>> {
    let media = content
        .get("application/json")
        .or_else(|| {
            content
                .iter()
                .find(|(name, _)| name.contains("json"))
                .map(|(_, m)| m)
        })
        .or_else(|| content.values().next())?;
    media.schema.as_ref().map(Node::of)
}

/// A type in a line, and whether null is allowed.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    text: String,
    nullable: bool,
}

impl Shape {
    fn display(&self) -> String {
        if self.nullable {
            format!("{} | null", self.text)
        } else {
            self.text.clone()
        }
    }
}

fn shape(node: Node<'_>) -> Shape {
    match node {
        Node::Ref(reference) => Shape {
            text: ref_name(reference).to_owned(),
            nullable: false,
        },
        Node::Inline(schema) => shape_of(schema),
    }
}

fn shape_of(schema: &Schema) -> Shape {
    let mut nullable = schema.schema_data.nullable;
    let with_format = |base: &str, format: &dyn erased_format::Format| match format.text() {
        Some(format) => format!("{base}({format})"),
        None => base.to_owned(),
    };
    let text = match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) => {
            let base = with_format("string", &s.format);
            if s.enumeration.is_empty() {
                base
            } else {
                format!("enum<{base}>")
            }
        }
        SchemaKind::Type(Type::Number(n)) => {
            let base = with_format("number", &n.format);
            if n.enumeration.is_empty() {
                base
            } else {
                format!("enum<{base}>")
            }
        }
        SchemaKind::Type(Type::Integer(i)) => {
            let base = with_format("integer", &i.format);
            if i.enumeration.is_empty() {
                base
            } else {
                format!("enum<{base}>")
            }
        }
        SchemaKind::Type(Type::Boolean(_)) => "boolean".to_owned(),
        SchemaKind::Type(Type::Object(object)) => object_text(
            !object.properties.is_empty(),
            object.additional_properties.as_ref(),
        ),
        SchemaKind::Type(Type::Array(array)) => match &array.items {
            Some(items) => format!("array<{}>", shape(Node::of_boxed(items)).display()),
            None => "array".to_owned(),
        },
        SchemaKind::OneOf { one_of } => {
            // drf-spectacular spells "this enum, or blank, or null" as
            // oneOf[XEnum, BlankEnum, NullEnum]; fold it so that adding the blank or null
            // member reads as what it is (nullability) rather than as a new type.
            let mut members = Vec::new();
            for member in one_of {
                match member {
                    ReferenceOr::Reference { reference } if ref_name(reference) == "NullEnum" => {
                        nullable = true
                    }
                    ReferenceOr::Reference { reference } if ref_name(reference) == "BlankEnum" => {}
                    member => members.push(shape(Node::of(member)).display()),
                }
            }
            match members.as_slice() {
                [one] => one.clone(),
                _ => format!("oneOf<{}>", members.join(", ")),
            }
        }
        SchemaKind::AllOf { all_of } => {
            let members: Vec<String> = all_of
                .iter()
                .map(|m| shape(Node::of(m)).display())
                .collect();
            match members.as_slice() {
                // drf-spectacular wraps a `$ref` in allOf to attach nullable or a description.
                [one] => one.clone(),
                _ => format!("allOf<{}>", members.join(", ")),
            }
        }
        SchemaKind::AnyOf { any_of } => {
            let members: Vec<String> = any_of
                .iter()
                .map(|m| shape(Node::of(m)).display())
                .collect();
            format!("anyOf<{}>", members.join(", "))
        }
        SchemaKind::Not { .. } => "not".to_owned(),
        SchemaKind::Any(any) => {
            if !any.enumeration.is_empty() {
                "enum<any>".to_owned()
            } else if !any.properties.is_empty() || any.additional_properties.is_some() {
                object_text(
                    !any.properties.is_empty(),
                    any.additional_properties.as_ref(),
                )
            } else if let Some(items) = &any.items {
                format!("array<{}>", shape(Node::of_boxed(items)).display())
            } else {
                any.typ.clone().unwrap_or_else(|| "any".to_owned())
            }
        }
    };
    Shape { text, nullable }
}

fn object_text(has_properties: bool, extra: Option<&AdditionalProperties>) -> String {
    match (has_properties, extra) {
        (false, Some(AdditionalProperties::Schema(values))) => {
            format!("map<{}>", shape(Node::of(values)).display())
        }
        (false, Some(AdditionalProperties::Any(true))) => "map<any>".to_owned(),
        _ => "object".to_owned(),
    }
}

/// The formats of the scalar types are different enums; all serialize to their spelling.
mod erased_format {
    use openapiv3::VariantOrUnknownOrEmpty;
    use serde::Serialize;

    pub trait Format {
        fn text(&self) -> Option<String>;
    }

    impl<T: Serialize> Format for VariantOrUnknownOrEmpty<T> {
        fn text(&self) -> Option<String> {
            match self {
                VariantOrUnknownOrEmpty::Item(item) => match serde_json::to_value(item) {
                    Ok(serde_json::Value::String(text)) => Some(text),
                    _ => None,
                },
                VariantOrUnknownOrEmpty::Unknown(text) => Some(text.clone()),
                VariantOrUnknownOrEmpty::Empty => None,
            }
        }
    }
}

/// The enum values of a schema as JSON literals, in schema order.
fn enum_values(schema: &Schema) -> Vec<String> {
    fn literal<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).unwrap_or_default()
    }
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) => s.enumeration.iter().map(literal).collect(),
        SchemaKind::Type(Type::Integer(i)) => i.enumeration.iter().map(literal).collect(),
        SchemaKind::Type(Type::Number(n)) => n.enumeration.iter().map(literal).collect(),
        SchemaKind::Type(Type::Boolean(b)) => b.enumeration.iter().map(literal).collect(),
        SchemaKind::Any(any) => any.enumeration.iter().map(literal).collect(),
        _ => Vec::new(),
    }
}

/// The properties of an object schema.
type Properties = indexmap::IndexMap<String, ReferenceOr<Box<Schema>>>;

/// The properties and required list of an object schema, if it has any.
fn properties(schema: &Schema) -> Option<(&Properties, &[String])> {
    match &schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => Some((&object.properties, &object.required)),
        SchemaKind::Any(any) if !any.properties.is_empty() => {
            Some((&any.properties, &any.required))
        }
        _ => None,
    }
}

fn items(schema: &Schema) -> Option<Node<'_>> {
    match &schema.schema_kind {
        SchemaKind::Type(Type::Array(array)) => array.items.as_ref().map(Node::of_boxed),
        SchemaKind::Any(any) => any.items.as_ref().map(Node::of_boxed),
        _ => None,
    }
}

/// The differences found so far, and the two documents to resolve references in.
struct Diff<'a> {
    old: &'a OpenAPI,
    new: &'a OpenAPI,
    changes: Vec<Change>,
}

impl<'a> Diff<'a> {
    fn push(
        &mut self,
        severity: Severity,
        kind: ChangeKind,
        place: &str,
        name: &str,
    ) -> &mut Change {
        self.changes.push(Change {
            severity,
            kind,
            place: place.to_owned(),
            name: name.to_owned(),
            old: None,
            new: None,
            required: None,
        });
        let last = self.changes.len() - 1;
        &mut self.changes[last]
    }

    fn operation(&mut self, before: &OpEntry<'a>, after: &OpEntry<'a>) {
        self.parameters(before, after);
        self.request_body(before.op, after.op);
        self.responses(before.op, after.op);
    }

    fn parameters(&mut self, before: &OpEntry<'a>, after: &OpEntry<'a>) {
        let old = parameter_map(self.old, before);
        let new = parameter_map(self.new, after);
        let keys: BTreeSet<&(u8, String)> = old.keys().chain(new.keys()).collect();
        for key in keys {
            match (old.get(key), new.get(key)) {
                (Some((name, p)), None) => {
                    let place = parameter_place(p);
                    self.push(
                        Severity::Breaking,
                        ChangeKind::ParameterRemoved,
                        place,
                        name,
                    );
                }
                (None, Some((name, p))) => {
                    let data = p.parameter_data_ref();
                    let severity = if data.required {
                        Severity::Breaking
                    } else {
                        Severity::Compatible
                    };
                    let ty = parameter_shape(data).map(|s| s.display());
                    let change = self.push(
                        severity,
                        ChangeKind::ParameterAdded,
                        parameter_place(p),
                        name,
                    );
                    change.new = ty;
                    change.required = Some(data.required);
                }
                (Some((_, a)), Some((name, b))) => {
                    let place = parameter_place(b);
                    let (da, db) = (a.parameter_data_ref(), b.parameter_data_ref());
                    if !da.required && db.required {
                        self.push(
                            Severity::Breaking,
                            ChangeKind::ParameterMadeRequired,
                            place,
                            name,
                        );
                    } else if da.required && !db.required {
                        self.push(
                            Severity::Compatible,
                            ChangeKind::ParameterMadeOptional,
                            place,
                            name,
                        );
                    }
                    let (sa, sb) = (parameter_shape(da), parameter_shape(db));
                    if sa.as_ref().map(|s| &s.text) != sb.as_ref().map(|s| &s.text) {
                        let change = self.push(
                            Severity::Breaking,
                            ChangeKind::ParameterRetyped,
                            place,
                            name,
                        );
                        change.old = sa.map(|s| s.display());
                        change.new = sb.map(|s| s.display());
                    } else if let (
                        ParameterSchemaOrContent::Schema(ReferenceOr::Item(sa)),
                        ParameterSchemaOrContent::Schema(ReferenceOr::Item(sb)),
                    ) = (&da.format, &db.format)
                    {
                        self.enum_values(sa, sb, place, name);
                    }
                }
                (None, None) => {}
            }
        }
    }

    fn request_body(&mut self, before: &'a Operation, after: &'a Operation) {
        let old = before
            .request_body
            .as_ref()
            .and_then(|b| resolve_body(self.old, b));
        let new = after
            .request_body
            .as_ref()
            .and_then(|b| resolve_body(self.new, b));
        let place = "request body";
        match (
            old.and_then(|b| main_schema(&b.content)),
            new.and_then(|b| main_schema(&b.content)),
        ) {
            (None, None) => {}
            (Some(_), None) => {
                self.push(Severity::Breaking, ChangeKind::BodyRemoved, place, "");
            }
            (None, Some(schema)) => {
                let required = new.is_some_and(|b| b.required);
                let severity = if required {
                    Severity::Breaking
                } else {
                    Severity::Compatible
                };
                let change = self.push(severity, ChangeKind::BodyAdded, place, "");
                change.new = Some(shape(schema).display());
                change.required = Some(required);
            }
            (Some(a), Some(b)) => self.top(a, b, place, Flow::REQUEST),
        }
    }

    fn responses(&mut self, before: &'a Operation, after: &'a Operation) {
        let old = response_map(&before.responses);
        let new = response_map(&after.responses);
        let codes: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for code in codes {
            let success = code.starts_with('2') || code == "default";
            let gone = if success {
                Severity::Breaking
            } else {
                Severity::Compatible
            };
            match (old.get(code), new.get(code)) {
                (Some(_), None) => {
                    self.push(gone, ChangeKind::ResponseRemoved, "responses", code);
                }
                (None, Some(_)) => {
                    self.push(
                        Severity::Compatible,
                        ChangeKind::ResponseAdded,
                        "responses",
                        code,
                    );
                }
                (Some(a), Some(b)) => {
                    let a = resolve_response(self.old, a).and_then(|r| main_schema(&r.content));
                    let b = resolve_response(self.new, b).and_then(|r| main_schema(&r.content));
                    let place = format!("response {code}");
                    let body = format!("response {code} body");
                    match (a, b) {
                        (None, None) => {}
                        (Some(_), None) => {
                            self.push(gone, ChangeKind::BodyRemoved, &body, "");
                        }
                        (None, Some(schema)) => {
                            let change =
                                self.push(Severity::Compatible, ChangeKind::BodyAdded, &body, "");
                            change.new = Some(shape(schema).display());
                        }
                        (Some(a), Some(b)) => self.top(a, b, &place, Flow::RESPONSE),
                    }
                }
                (None, None) => {}
            }
        }
    }

    /// Compares the schema of a body or response. The same component on both sides is left to
    /// the "types" section; two different ones are compared field by field here.
    fn top(&mut self, old: Node<'a>, new: Node<'a>, place: &str, flow: Flow) {
        if let (Node::Ref(a), Node::Ref(b)) = (old, new)
            && ref_name(a) == ref_name(b)
        {
            return;
        }
        let a = self.resolve(self.old, old);
        let b = self.resolve(self.new, new);
        match (a, b) {
            (Some(a), Some(b)) => self.schema(a, b, place, "", flow),
            _ => self.retyped_if_different(shape(old), shape(new), place, "", flow),
        }
    }

    /// Compares a component with its namesake.
    fn root(
        &mut self,
        old: &'a ReferenceOr<Schema>,
        new: &'a ReferenceOr<Schema>,
        place: &str,
        flow: Flow,
    ) {
        let a = self.resolve(self.old, Node::of(old));
        let b = self.resolve(self.new, Node::of(new));
        if let (Some(a), Some(b)) = (a, b) {
            self.schema(a, b, place, "", flow);
        }
    }

    fn resolve(&self, doc: &'a OpenAPI, node: Node<'a>) -> Option<&'a Schema> {
        match node {
            Node::Inline(schema) => Some(schema),
            Node::Ref(reference) => lookup_schema(doc, reference),
        }
    }

    /// Compares two inline schemas at `path` (a field path inside the body or type).
    fn schema(&mut self, old: &'a Schema, new: &'a Schema, place: &str, path: &str, flow: Flow) {
        if named(Node::Inline(old)).is_some() || named(Node::Inline(new)).is_some() {
            self.field(Node::Inline(old), Node::Inline(new), place, path, flow);
            return;
        }
        let (sa, sb) = (shape_of(old), shape_of(new));
        if sa.text != sb.text {
            self.retyped(sa, sb, place, path, flow);
            return;
        }
        if sa.nullable != sb.nullable {
            self.retyped(sa, sb, place, path, flow);
        }
        self.contents(old, new, place, path, flow);
    }

    /// Compares what two schemas of the same shape hold: enum values, properties, items.
    fn contents(&mut self, old: &'a Schema, new: &'a Schema, place: &str, path: &str, flow: Flow) {
        self.enum_values(old, new, place, path);
        if let (Some((pa, ra)), Some((pb, rb))) = (properties(old), properties(new)) {
            let names: BTreeSet<&String> = pa.keys().chain(pb.keys()).collect();
            for name in names {
                let field = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                match (pa.get(name), pb.get(name)) {
                    (Some(a), None) => {
                        let field_flow = flow.for_field(inline(a));
                        let severity = if field_flow.usage() == Usage::Unused {
                            Severity::Compatible
                        } else {
                            Severity::Breaking
                        };
                        let change = self.push(severity, ChangeKind::FieldRemoved, place, &field);
                        change.old = Some(shape(Node::of_boxed(a)).display());
                    }
                    (None, Some(b)) => {
                        let field_flow = flow.for_field(inline(b));
                        let required = rb.contains(name);
                        let severity = if required && field_flow.request {
                            Severity::Breaking
                        } else {
                            Severity::Compatible
                        };
                        let change = self.push(severity, ChangeKind::FieldAdded, place, &field);
                        change.new = Some(shape(Node::of_boxed(b)).display());
                        change.required = Some(required);
                    }
                    (Some(a), Some(b)) => {
                        let field_flow = flow.for_field(inline(b));
                        match (ra.contains(name), rb.contains(name)) {
                            (false, true) => {
                                let severity = if field_flow.request {
                                    Severity::Breaking
                                } else {
                                    Severity::Compatible
                                };
                                self.push(severity, ChangeKind::FieldMadeRequired, place, &field);
                            }
                            (true, false) => {
                                let severity = if field_flow.response {
                                    Severity::Breaking
                                } else {
                                    Severity::Compatible
                                };
                                self.push(severity, ChangeKind::FieldMadeOptional, place, &field);
                            }
                            _ => {}
                        }
                        self.field(
                            Node::of_boxed(a),
                            Node::of_boxed(b),
                            place,
                            &field,
                            field_flow,
                        );
                    }
                    (None, None) => {}
                }
            }
        }
        if let (Some(a), Some(b)) = (items(old), items(new)) {
            self.field(a, b, place, &format!("{path}[]"), flow);
        }
    }

    /// Compares a field's schemas. Two named types compare by name (their insides are the
    /// types section's business); two inline ones in depth. An inline schema that became a
    /// named type, or the reverse (drf-spectacular extracting `XEnum`s), compares by what the
    /// named type holds, so that only real differences are reported. This recursion ends: it
    /// only ever descends the inline side, which is finite.
    fn field(&mut self, old: Node<'a>, new: Node<'a>, place: &str, path: &str, flow: Flow) {
        let (na, nb) = (named(old), named(new));
        match (old, new, na, nb) {
            (Node::Inline(a), Node::Inline(b), None, None) => self.schema(a, b, place, path, flow),
            (_, _, Some(x), Some(y)) if x != y => {
                self.retyped(shape(old), shape(new), place, path, flow);
            }
            (_, _, Some(_), Some(_)) => {
                self.retyped_if_different(shape(old), shape(new), place, path, flow)
            }
            _ => {
                let (sa, sb) = (shape(old), shape(new));
                let targets = (self.target(self.old, old), self.target(self.new, new));
                match targets {
                    (Some(ta), Some(tb)) if shape_of(ta).text == shape_of(tb).text => {
                        // Same values under a new name: only nullability can make it breaking.
                        let severity = if sa.nullable == sb.nullable {
                            Severity::Compatible
                        } else if sb.nullable {
                            if flow.response {
                                Severity::Breaking
                            } else {
                                Severity::Compatible
                            }
                        } else if flow.request {
                            Severity::Breaking
                        } else {
                            Severity::Compatible
                        };
                        let change = self.push(severity, ChangeKind::FieldRetyped, place, path);
                        change.old = Some(sa.display());
                        change.new = Some(sb.display());
                        self.contents(ta, tb, place, path, flow);
                    }
                    _ => self.retyped(sa, sb, place, path, flow),
                }
            }
        }
    }

    /// The schema a field's values follow: the named type's, or the inline one.
    fn target(&self, doc: &'a OpenAPI, node: Node<'a>) -> Option<&'a Schema> {
        match (node, named_ref(node)) {
            (_, Some(reference)) => lookup_schema(doc, reference),
            (Node::Inline(schema), None) => Some(schema),
            (Node::Ref(_), None) => None,
        }
    }

    fn retyped_if_different(
        &mut self,
        old: Shape,
        new: Shape,
        place: &str,
        path: &str,
        flow: Flow,
    ) {
        if old != new {
            self.retyped(old, new, place, path, flow);
        }
    }

    fn retyped(&mut self, old: Shape, new: Shape, place: &str, path: &str, flow: Flow) {
        // Only nullability changed: allowing null hurts readers, forbidding it hurts writers.
        let severity = if old.text == new.text {
            let hurts = if new.nullable {
                flow.response
            } else {
                flow.request
            };
            if hurts {
                Severity::Breaking
            } else {
                Severity::Compatible
            }
        } else {
            Severity::Breaking
        };
        let change = self.push(severity, ChangeKind::FieldRetyped, place, path);
        change.old = Some(old.display());
        change.new = Some(new.display());
    }

    /// Added values are compatible in either direction: a server accepts more, and the
    /// generated enums decode values they do not know. A removed value is breaking even in a
    /// response, since its variant disappears from the generated enum.
    fn enum_values(&mut self, old: &Schema, new: &Schema, place: &str, name: &str) {
        let (va, vb) = (enum_values(old), enum_values(new));
        // An enum appearing or disappearing is a retyping, reported by the caller.
        if va == vb || va.is_empty() || vb.is_empty() {
            return;
        }
        for value in vb.iter().filter(|v| !va.contains(v)) {
            let change = self.push(
                Severity::Compatible,
                ChangeKind::EnumValueAdded,
                place,
                name,
            );
            change.new = Some(value.clone());
        }
        for value in va.iter().filter(|v| !vb.contains(v)) {
            let change = self.push(
                Severity::Breaking,
                ChangeKind::EnumValueRemoved,
                place,
                name,
            );
            change.old = Some(value.clone());
        }
    }
}

/// The `$ref` a position stands for: itself, or the one member of drf-spectacular's
/// `allOf: [$ref]` and `oneOf: [$ref, BlankEnum, NullEnum]` wrappers.
fn named_ref(node: Node<'_>) -> Option<&str> {
    let schema = match node {
        Node::Ref(reference) => return Some(reference),
        Node::Inline(schema) => schema,
    };
    let members = match &schema.schema_kind {
        SchemaKind::AllOf { all_of } if all_of.len() == 1 => all_of,
        SchemaKind::OneOf { one_of } => one_of,
        _ => return None,
    };
    let mut found = None;
    for member in members {
        match member {
            ReferenceOr::Reference { reference }
                if matches!(ref_name(reference), "BlankEnum" | "NullEnum") => {}
            ReferenceOr::Reference { reference } if found.is_none() => {
                found = Some(reference.as_str())
            }
            _ => return None,
        }
    }
    found
}

fn named(node: Node<'_>) -> Option<&str> {
    named_ref(node).map(ref_name)
}

fn inline(schema: &ReferenceOr<Box<Schema>>) -> Option<&Schema> {
    match schema {
        ReferenceOr::Item(schema) => Some(schema),
        ReferenceOr::Reference { .. } => None,
    }
}

/// The parameters of an operation by location and name; path parameters by position, so that a
/// renamed path parameter is the same parameter.
fn parameter_map<'a>(
    doc: &'a OpenAPI,
    entry: &OpEntry<'a>,
) -> BTreeMap<(u8, String), (String, &'a Parameter)> {
    let positions: Vec<&str> = entry
        .path
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split('}').next())
        .collect();
    let mut out = BTreeMap::new();
    for parameter in entry.shared.iter().chain(&entry.op.parameters) {
        let Some(parameter) = resolve_parameter(doc, parameter) else {
            continue;
        };
        let name = parameter.parameter_data_ref().name.clone();
        let key = match parameter {
            Parameter::Path { .. } => {
                let index = positions
                    .iter()
                    .position(|p| *p == name)
                    .unwrap_or(usize::MAX);
                (0, format!("{index:04}"))
            }
            Parameter::Query { .. } => (1, name.clone()),
            Parameter::Header { .. } => (2, name.to_ascii_lowercase()),
            Parameter::Cookie { .. } => (3, name.clone()),
        };
        // An operation's own parameter overrides the path item's one (inserted later).
        out.insert(key, (name, parameter));
    }
    out
}

fn parameter_place(parameter: &Parameter) -> &'static str {
    match parameter {
        Parameter::Path { .. } => "path parameter",
        Parameter::Query { .. } => "query parameter",
        Parameter::Header { .. } => "header parameter",
        Parameter::Cookie { .. } => "cookie parameter",
    }
}

fn parameter_shape(data: &openapiv3::ParameterData) -> Option<Shape> {
    match &data.format {
        ParameterSchemaOrContent::Schema(schema) => Some(shape(Node::of(schema))),
        ParameterSchemaOrContent::Content(content) => main_schema(content).map(shape),
    }
}

fn response_map(
    responses: &openapiv3::Responses,
) -> BTreeMap<String, &ReferenceOr<openapiv3::Response>> {
    let mut out: BTreeMap<String, _> = responses
        .responses
        .iter()
        .map(|(code, response)| (status_text(code), response))
        .collect();
    if let Some(default) = &responses.default {
        out.insert("default".to_owned(), default);
    }
    out
}

fn status_text(code: &StatusCode) -> String {
    code.to_string()
}
