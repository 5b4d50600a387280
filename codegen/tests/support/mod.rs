//! Helpers shared by the generator's integration tests: where inputs live, and one way to run
//! the generator on them.

#![allow(dead_code)] // Each test crate uses a different subset of these helpers.

use std::path::{Path, PathBuf};

use posthog_codegen::diagnostic::Diagnostics;
use posthog_codegen::{Input, Options, Output};

/// The command named in every `@generated` header, as `cargo xtask regenerate` names it.
pub const COMMAND: &str = "cargo xtask regenerate";

/// The workspace root (codegen's parent directory).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// The real PostHog schemas, kept outside the project (`<workspace>/../shared/schemas`).
pub fn schemas_dir() -> PathBuf {
    workspace_root().join("../shared/schemas")
}

/// Our fixture schemas.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Reads a file the test cannot do without.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// Runs the whole generator on `bytes` (no public endpoints, no throttle table), naming `source`
/// in the headers.
pub fn generate(source: &str, bytes: &[u8]) -> Result<Output, Diagnostics> {
    posthog_codegen::generate(
        &Input {
            source: source.to_owned(),
            bytes,
        },
        None,
        None,
        COMMAND,
    )
}

/// [`generate`] with `regenerate`'s options (`--skip-unsupported`, `--external-refs`).
pub fn generate_with(source: &str, bytes: &[u8], options: &Options) -> Result<Output, Diagnostics> {
    posthog_codegen::generate_with_options(
        &Input {
            source: source.to_owned(),
            bytes,
        },
        &[],
        None,
        None,
        COMMAND,
        options,
    )
}

/// Same as [`generate`] for input that must generate; the diagnostics are the failure message.
pub fn generate_ok(source: &str, bytes: &[u8]) -> Output {
    generate_ok_with(source, bytes, &Options::default())
}

/// Same as [`generate_with`] for input that must generate.
pub fn generate_ok_with(source: &str, bytes: &[u8], options: &Options) -> Output {
    let output = generate_with(source, bytes, options)
        .unwrap_or_else(|diagnostics| panic!("{source} does not generate:\n{diagnostics}"));
    assert_parses(source, &output);
    output
}

/// Every generated file is Rust syn can read: the emitter writes text, so this is the check
/// that no schema text escaped its literal or comment and every name is an identifier.
pub fn assert_parses(source: &str, output: &Output) {
    for (path, text) in &output.files {
        if let Err(error) = syn::parse_file(text) {
            panic!("{source}: the generated {path} does not parse: {error}");
        }
    }
}

/// Every generated file in path order, each after a `// ---- <path> ----` marker: the text
/// snapshots hold and tests search.
pub fn concatenated(output: &Output) -> String {
    let mut out = String::new();
    for (path, text) in &output.files {
        out.push_str(&format!("// ---- {path} ----\n"));
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// One operation of a schema document: its method, path and `operationId`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchemaOperation {
    pub method: String,
    pub path: String,
    pub operation_id: Option<String>,
}

/// HTTP methods a path item may hold, as OpenAPI 3.0 spells them.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation of a document, walked from its JSON (or YAML) form without the generator's
/// help, so the tests compare against an independent count.
pub fn schema_operations(bytes: &[u8]) -> Vec<SchemaOperation> {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(_) => serde_yaml::from_slice(bytes)
            .unwrap_or_else(|error| panic!("schema is neither JSON nor YAML: {error}")),
    };
    let mut out = Vec::new();
    let paths = value.get("paths").and_then(serde_json::Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        for method in METHODS {
            if let Some(op) = item.get(*method) {
                out.push(SchemaOperation {
                    method: (*method).to_owned(),
                    path: path.clone(),
                    operation_id: op
                        .get("operationId")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned),
                });
            }
        }
    }
    out
}
