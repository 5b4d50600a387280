//! `cargo xtask changelog OLD NEW`: what changed between two schemas, for a user of the
//! generated client.
//!
//! Both schemas go through the generator's own front end (`posthog_codegen::lower_inputs`:
//! loading, `schema/overlays/`, lowering) and the comparison is `posthog_codegen::diff` on the two
//! lowered APIs, so the changelog speaks in the crate's names (methods, types, modules, cargo
//! features) and field shapes. This module fetches the inputs and renders the result as Markdown
//! or JSON. A schema that today's lowering refuses is reported as "cannot compare", with the
//! diagnostics that say why.

mod markdown;

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use posthog_codegen::diagnostic::Diagnostics;
use posthog_codegen::ir::Api;
use serde::Serialize;

pub use posthog_codegen::diff::{
    ApiSummary, Change, ChangeKind, Changelog, OperationChanges, Severity, TypeChanges, Usage,
};

use crate::overlays::OverlayFile;

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
    let overlays = if args.raw {
        Vec::new()
    } else {
        crate::overlays::read_overlays(&crate::workspace_root())?
    };
    let read = |path: &std::path::Path| -> anyhow::Result<Schema> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Schema::new(path.display().to_string(), bytes))
    };
    let comparison = compare(
        &read(&args.old)?,
        &read(&args.new)?,
        &overlays,
        &posthog_codegen::Options::default(),
    );
    let text = if args.json {
        comparison.to_json() + "\n"
    } else {
        comparison.to_markdown()
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // `cargo xtask changelog A B | head` closing the pipe early is not a failure.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
        result => result.context("writing the changelog to stdout")?,
    }
    if let Comparison::CannotCompare(refused) = &comparison {
        let hint = if args.raw || overlays.is_empty() {
            ""
        } else {
            " (if an overlay is what fails, --raw compares the schemas as published)"
        };
        anyhow::bail!(
            "cannot compare: {} fails today's lowering{hint}",
            refused.origin
        );
    }
    Ok(())
}

/// One schema to compare: its bytes and where they came from.
#[derive(Debug, Clone)]
pub struct Schema {
    /// A path or label for messages.
    pub origin: String,
    /// JSON or YAML.
    pub bytes: Vec<u8>,
}

impl Schema {
    /// A schema's bytes, named `origin` in messages.
    pub fn new(origin: impl Into<String>, bytes: Vec<u8>) -> Self {
        Schema {
            origin: origin.into(),
            bytes,
        }
    }
}

/// The result of comparing two schemas.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Both lowered; what changed.
    Compared(Changelog),
    /// A side that today's lowering refuses, and why.
    CannotCompare(CannotCompare),
}

/// A schema the generator's front end refuses, so there are no two APIs to compare.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CannotCompare {
    /// `old` or `new`.
    pub side: &'static str,
    /// Where the schema came from.
    pub origin: String,
    /// The diagnostics, one line each (source, pointer, message).
    pub diagnostics: Vec<String>,
}

impl Comparison {
    /// The changelog, if both sides lowered.
    pub fn changelog(&self) -> Option<&Changelog> {
        match self {
            Comparison::Compared(log) => Some(log),
            Comparison::CannotCompare(_) => None,
        }
    }

    /// For humans.
    pub fn to_markdown(&self) -> String {
        match self {
            Comparison::Compared(log) => to_markdown(log),
            Comparison::CannotCompare(refused) => markdown::cannot_compare(refused),
        }
    }

    /// For tools: the changelog's JSON, or `{"cannot_compare": {...}}`.
    pub fn to_json(&self) -> String {
        match self {
            Comparison::Compared(log) => to_json(log),
            // Strings, lists and maps only, which serde_json always serializes.
            other => serde_json::to_string_pretty(other).unwrap_or_default(),
        }
    }
}

/// Lowers one schema with the generator's front end, overlays applied as the generator applies
/// them (none for `--raw`), with the generator's opt-ins (`regenerate --skip-unsupported`...).
pub fn lower(
    schema: &Schema,
    overlays: &[OverlayFile],
    options: &posthog_codegen::Options,
) -> Result<Api, Diagnostics> {
    let input = posthog_codegen::Input {
        source: schema.origin.clone(),
        bytes: &schema.bytes,
    };
    posthog_codegen::lower_inputs(
        &input,
        &crate::overlays::inputs(overlays),
        None,
        None,
        options,
    )
    .map(|(api, _report)| api)
}

/// Lowers both schemas and compares them.
pub fn compare(
    old: &Schema,
    new: &Schema,
    overlays: &[OverlayFile],
    options: &posthog_codegen::Options,
) -> Comparison {
    let refused = |side: &'static str, schema: &Schema, diagnostics: Diagnostics| {
        Comparison::CannotCompare(CannotCompare {
            side,
            origin: schema.origin.clone(),
            diagnostics: diagnostics.0.iter().map(ToString::to_string).collect(),
        })
    };
    let old_api = match lower(old, overlays, options) {
        Ok(api) => api,
        Err(diagnostics) => return refused("old", old, diagnostics),
    };
    match lower(new, overlays, options) {
        Ok(new_api) => Comparison::Compared(posthog_codegen::diff::diff(&old_api, &new_api)),
        Err(diagnostics) => refused("new", new, diagnostics),
    }
}

/// The Markdown `regenerate` and `fetch-schema` print when the schema moved from `old` (the
/// pinned one) to `new`, lowered with the options the generator ran with. Both are overlaid;
/// when the overlays do not apply to the older schema (an action written for a path it lacks),
/// both are compared as published instead, said so, so the two sides always go through the
/// front end the same way.
pub fn review(
    old: &Schema,
    new: &Schema,
    overlays: &[OverlayFile],
    options: &posthog_codegen::Options,
) -> String {
    let refuses_old = |comparison: &Comparison| matches!(comparison, Comparison::CannotCompare(refused) if refused.side == "old");
    let overlaid = compare(old, new, overlays, options);
    if overlays.is_empty() || !refuses_old(&overlaid) {
        return overlaid.to_markdown();
    }
    let published = compare(old, new, &[], options);
    if refuses_old(&published) {
        return overlaid.to_markdown();
    }
    format!(
        "The overlays do not apply to the older schema ({}); both are compared as published.\n\n{}",
        old.origin,
        published.to_markdown()
    )
}

/// The changelog for humans: a summary, operations by module, then types.
pub fn to_markdown(log: &Changelog) -> String {
    markdown::render(log)
}

/// The changelog for tools: pretty JSON with a stable key order.
pub fn to_json(log: &Changelog) -> String {
    // Every field is a string, number, bool, list or string-keyed map, which serde_json always
    // serializes.
    serde_json::to_string_pretty(log).unwrap_or_default()
}
