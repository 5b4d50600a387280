//! Regenerate time: `posthog_codegen::generate_with_overlays` in-process on the pinned schema
//! with `schema/overlays/` applied, exactly as `cargo xtask regenerate` calls it, timed over
//! several runs (reading the files is outside the timing, as it is outside the generator).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;

use crate::lines::LineCount;
use crate::stats::Samples;

/// Our description of PostHog's public endpoints, merged in by the generator (as in xtask).
const PUBLIC_SCHEMA: &str = "schema/public-api.yaml";
/// The throttle-scope table (as in xtask).
const THROTTLE_TABLE: &str = "schema/throttle-scopes.toml";
/// The `@generated` header's command, the same as xtask's so that the output is byte for byte
/// what is committed and the freshness comparison below means something.
const COMMAND: &str = "cargo xtask regenerate";
/// Where the generator writes, relative to the workspace root.
pub const GENERATED_DIR: &str = "generated/src/generated";

/// What the regenerate runs measured.
#[derive(Debug, Clone)]
pub struct RegenResult {
    /// Wall time of each `generate` call (parse, normalize, lower, emit, format; no file I/O).
    pub times: Samples,
    /// Operations in the lowered API.
    pub operations: usize,
    /// Overlay files applied (the workspace's `schema/overlays/`).
    pub overlays: usize,
    /// Size of everything generated, server stubs included.
    pub output: LineCount,
    /// Generated files whose bytes differ from what is on disk (0: the committed tree is fresh,
    /// so the on-disk line counts and checks measure this generator's output).
    pub stale_files: usize,
}

/// Runs the generator `runs` times on `schema` and compares its output with `generated/`.
pub fn measure(root: &Path, schema: &Path, runs: usize) -> anyhow::Result<RegenResult> {
    let bytes = std::fs::read(schema)
        .with_context(|| format!("reading the schema {}", schema.display()))?;
    let public = read_optional(&root.join(PUBLIC_SCHEMA))?;
    let throttle = read_optional(&root.join(THROTTLE_TABLE))?
        .map(String::from_utf8)
        .transpose()
        .context("the throttle table is not UTF-8")?;
    let main = posthog_codegen::Input {
        source: source_name(root, schema),
        bytes: &bytes,
    };
    let public = public.as_deref().map(|bytes| posthog_codegen::Input {
        source: PUBLIC_SCHEMA.to_owned(),
        bytes,
    });
    let overlays = posthog_codegen::overlay_files::read_overlays(root)?;
    let overlay_inputs = posthog_codegen::overlay_files::inputs(&overlays);
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let output = posthog_codegen::generate_with_overlays(
            &main,
            &overlay_inputs,
            public.as_ref(),
            throttle.as_deref(),
            COMMAND,
        )
        .map_err(|diagnostics| anyhow::anyhow!("the generator failed:\n{diagnostics}"))?;
        times.push(started.elapsed());
        // Keep one output for the counts; dropping the others keeps memory flat across runs.
        last = Some(output);
    }
    let output = last.context("the generator never ran")?;
    let mut total = LineCount::default();
    let mut stale_files = 0;
    let dir = root.join(GENERATED_DIR);
    for (file, text) in &output.files {
        let count = LineCount::of_text(text);
        total.files += count.files;
        total.lines += count.lines;
        total.non_blank += count.non_blank;
        if std::fs::read(dir.join(file)).ok().as_deref() != Some(text.as_bytes()) {
            stale_files += 1;
        }
    }
    Ok(RegenResult {
        times: Samples::new(times),
        operations: output.api.operations.len(),
        overlays: overlays.len(),
        output: total,
        stale_files,
    })
}

/// The schema as the `@generated` header names it: relative to the workspace when it can be,
/// like xtask's pin (`../shared/schemas/posthog-2025.json`).
fn source_name(root: &Path, schema: &Path) -> String {
    let absolute = std::fs::canonicalize(schema).unwrap_or_else(|_| schema.to_path_buf());
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    if let Ok(inside) = absolute.strip_prefix(&root) {
        return inside.to_string_lossy().into_owned();
    }
    if let Some(beside) = root
        .parent()
        .and_then(|parent| absolute.strip_prefix(parent).ok())
    {
        return PathBuf::from("..")
            .join(beside)
            .to_string_lossy()
            .into_owned();
    }
    absolute.to_string_lossy().into_owned()
}

fn read_optional(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    if !path.exists() {
        return Ok(None);
    }
    std::fs::read(path)
        .map(Some)
        .with_context(|| format!("reading {}", path.display()))
}
