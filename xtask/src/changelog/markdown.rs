//! Renders a [`Changelog`] as Markdown: a summary, operations by module, then types.

use std::fmt::Write as _;

use super::{
    ApiSummary, CannotCompare, Change, ChangeKind, Changelog, OperationChanges, Severity, Usage,
};

/// Writing to a String cannot fail, so the `fmt::Result`s below are dropped with `let _`.
pub(super) fn render(log: &Changelog) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# API changelog\n");
    let _ = writeln!(
        out,
        "From {} ({} operations, {} types) to {} ({} operations, {} types).\n",
        doc_name(&log.old),
        log.old.operations,
        log.old.types,
        doc_name(&log.new),
        log.new.operations,
        log.new.types,
    );
    if log.is_empty() {
        let _ = writeln!(out, "No changes a client user can see.");
        return out;
    }
    let ops = log.modules.values().flatten();
    let (mut added, mut removed, mut changed) = (0, 0, 0);
    for op in ops {
        match op.changes.first().map(|c| c.kind) {
            Some(ChangeKind::OperationAdded) => added += 1,
            Some(ChangeKind::OperationRemoved) => removed += 1,
            _ => changed += 1,
        }
    }
    let _ = writeln!(
        out,
        "**{} breaking**, {} compatible changes. Operations: {added} added, {removed} removed, \
         {changed} changed. Types: {} added, {} removed, {} changed.\n",
        log.breaking,
        log.compatible,
        log.types_added.len(),
        log.types_removed.len(),
        log.types.len(),
    );
    let _ = writeln!(
        out,
        "A **breaking** change can stop code written against the old client from compiling or \
         working; the others keep it working. Operations are listed under their module of \
         `posthog_api::api`, which is also their cargo feature; changes inside a type are listed \
         once, under Types, by the type's Rust name.\n"
    );

    if !log.modules.is_empty() {
        let _ = writeln!(out, "## Operations\n");
    }
    for (module, ops) in &log.modules {
        let _ = writeln!(out, "### {module}\n");
        for op in ops {
            operation(&mut out, op);
        }
        out.push('\n');
    }

    if log.types_added.is_empty() && log.types_removed.is_empty() && log.types.is_empty() {
        return out;
    }
    let _ = writeln!(out, "## Types\n");
    if !log.types_added.is_empty() {
        let _ = writeln!(
            out,
            "Added ({}): {}\n",
            log.types_added.len(),
            code_list(&log.types_added)
        );
    }
    if !log.types_removed.is_empty() {
        let _ = writeln!(
            out,
            "**breaking** Removed ({}): {}\n",
            log.types_removed.len(),
            code_list(&log.types_removed)
        );
    }
    for ty in &log.types {
        let usage = match ty.usage {
            Usage::Request => "request",
            Usage::Response => "response",
            Usage::Both => "request and response",
            Usage::Unused => "unused",
        };
        let _ = writeln!(out, "### `{}` ({usage})\n", ty.name);
        for text in lines(&ty.changes) {
            let _ = writeln!(out, "- {text}");
        }
        out.push('\n');
    }
    out
}

fn operation(out: &mut String, op: &OperationChanges) {
    let head = format!("`{} {}` (`{}`)", op.method, op.path, op.method_name);
    match op.changes.as_slice() {
        [only] if only.kind == ChangeKind::OperationAdded => {
            let _ = writeln!(out, "- added {head}");
        }
        [only] if only.kind == ChangeKind::OperationRemoved => {
            let _ = writeln!(out, "- **breaking** removed {head}");
        }
        changes => {
            let _ = writeln!(out, "- changed {head}:");
            for text in lines(changes) {
                let _ = writeln!(out, "  - {text}");
            }
        }
    }
}

/// At most this many enum values are spelled out in one line; the JSON has them all.
const ENUM_VALUES_SHOWN: usize = 12;

/// One line per change, except that enum values added to (or removed from) the same place are
/// gathered into one line: a timezone enum gaining 400 zones is one fact.
fn lines(changes: &[Change]) -> Vec<String> {
    let mut out = Vec::new();
    let mut index = 0;
    while let Some(change) = changes.get(index) {
        let is_enum = matches!(
            change.kind,
            ChangeKind::EnumValueAdded | ChangeKind::EnumValueRemoved
        );
        let run = changes[index..]
            .iter()
            .take_while(|next| {
                is_enum
                    && next.kind == change.kind
                    && next.place == change.place
                    && next.name == change.name
            })
            .count()
            .max(1);
        let text = if run > 1 {
            let values: Vec<&str> = changes[index..index + run]
                .iter()
                .filter_map(|c| c.new.as_deref().or(c.old.as_deref()))
                .collect();
            let mut shown = values
                .iter()
                .take(ENUM_VALUES_SHOWN)
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ");
            if values.len() > ENUM_VALUES_SHOWN {
                shown.push_str(&format!(" and {} more", values.len() - ENUM_VALUES_SHOWN));
            }
            let verb = if change.kind == ChangeKind::EnumValueAdded {
                "added"
            } else {
                "removed"
            };
            format!("{}{run} enum values {verb}: {shown}", about(change))
        } else {
            sentence(change)
        };
        out.push(match change.severity {
            Severity::Breaking => format!("**breaking** {text}"),
            Severity::Compatible => text,
        });
        index += run;
    }
    out
}

/// What a change is about, as a noun phrase: `query parameter `limit``,
/// `request body field `name``, `field `name``, or the body itself.
fn target(change: &Change) -> String {
    let (place, name) = (change.place.as_str(), change.name.as_str());
    if place.ends_with("parameter") || place == "variant" {
        format!("{place} `{name}`")
    } else if name.is_empty() {
        if place.is_empty() {
            "the type".to_owned()
        } else {
            place.to_owned()
        }
    } else if place.is_empty() {
        format!("field `{name}`")
    } else {
        format!("{place} field `{name}`")
    }
}

/// `target: ` for a change inside a field or parameter; nothing for the type itself.
fn about(change: &Change) -> String {
    if change.place.is_empty() && change.name.is_empty() {
        String::new()
    } else {
        format!("{}: ", target(change))
    }
}

fn sentence(change: &Change) -> String {
    let old = change.old.as_deref().unwrap_or("?");
    let new = change.new.as_deref().unwrap_or("?");
    let required = match change.required {
        Some(true) => "required, ",
        Some(false) => "optional, ",
        None => "",
    };
    let target = target(change);
    match change.kind {
        ChangeKind::OperationAdded => "operation added".to_owned(),
        ChangeKind::OperationRemoved => "operation removed".to_owned(),
        ChangeKind::MethodRenamed => format!("method renamed: `{old}` -> `{new}`"),
        ChangeKind::OperationMoved => {
            format!("moved from module and feature `{old}` to `{new}`")
        }
        ChangeKind::OperationDeprecated => "deprecated".to_owned(),
        ChangeKind::CompanionAdded => format!("method `{}` added", change.name),
        ChangeKind::CompanionRemoved => format!("method `{}` removed", change.name),
        ChangeKind::VariantAdded => format!("{target} added (`{new}`)"),
        ChangeKind::VariantRemoved => format!("{target} removed (was `{old}`)"),
        ChangeKind::FieldMadeNullable => format!("{target} is now nullable"),
        ChangeKind::FieldMadeNonNullable => format!("{target} is no longer nullable"),
        ChangeKind::ParameterAdded | ChangeKind::FieldAdded | ChangeKind::BodyAdded => {
            format!("{target} added ({required}`{new}`)")
        }
        ChangeKind::ParameterRemoved | ChangeKind::BodyRemoved => format!("{target} removed"),
        ChangeKind::FieldRemoved => format!("{target} removed (was `{old}`)"),
        ChangeKind::ParameterMadeRequired | ChangeKind::FieldMadeRequired => {
            format!("{target} is now required")
        }
        ChangeKind::ParameterMadeOptional | ChangeKind::FieldMadeOptional => {
            format!("{target} is now optional")
        }
        ChangeKind::ParameterRetyped | ChangeKind::FieldRetyped => {
            format!("{target} retyped: `{old}` -> `{new}`")
        }
        ChangeKind::EnumValueAdded => format!("{}enum value `{new}` added", about(change)),
        ChangeKind::EnumValueRemoved => format!("{}enum value `{old}` removed", about(change)),
    }
}

fn code_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The report when one side cannot be lowered.
pub(super) fn cannot_compare(refused: &CannotCompare) -> String {
    let which = if refused.side == "old" {
        "older"
    } else {
        "newer"
    };
    let mut out = format!(
        "# API changelog\n\nCannot compare: the {which} schema ({}) fails today's lowering, so \
         there is no API to compare it with. The generator would refuse it for the same reasons:\n\n",
        refused.origin
    );
    for diagnostic in &refused.diagnostics {
        let _ = writeln!(out, "- {diagnostic}");
    }
    out
}

fn doc_name(doc: &ApiSummary) -> String {
    match (doc.title.trim(), doc.version.trim()) {
        ("", "") => "**(untitled)**".to_owned(),
        (title, "") => format!("**{title}**"),
        (title, version) => format!("**{title} {version}**"),
    }
}
