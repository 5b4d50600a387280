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

mod diff;
mod markdown;
mod walk;

use diff::*;
use walk::*;

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
    /// Compare the documents as published, without applying `schema/overlays/` (by default
    /// both are overlaid, as the generator sees them).
    #[arg(long)]
    pub raw: bool,
}

/// The command: read both schemas and print the changelog.
pub fn run(args: ChangelogArgs) -> anyhow::Result<()> {
    let (old, new) = if args.raw {
        (read_openapi(&args.old)?, read_openapi(&args.new)?)
    } else {
        let overlays = crate::overlays::read_overlays(&crate::workspace_root())?;
        let read = |path: &std::path::Path| -> anyhow::Result<openapiv3::OpenAPI> {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            crate::overlays::overlaid_openapi(&bytes, &path.display().to_string(), &overlays)
        };
        (read(&args.old)?, read(&args.new)?)
    };
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
