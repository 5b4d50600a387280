//! progenitor's positional client for the same schema, written as a throwaway crate whose
//! `cargo check` is timed beside ours.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use progenitor::{GenerationSettings, Generator, InterfaceStyle};

use crate::lines::LineCount;
use crate::progenitor_prep::{self, Rewrites};

/// The throwaway crate's package name (its directory is `target/bench/progenitor-client/`).
pub const PACKAGE: &str = "posthog-progenitor-positional";

/// The crate's manifest: its own `[workspace]` so that cargo does not take it for a member of
/// ours, and the dependencies progenitor's output names (as cargo-progenitor lists them).
const MANIFEST: &str = r#"[package]
name = "posthog-progenitor-positional"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
bytes = "1"
chrono = { version = "0.4", default-features = false, features = ["serde"] }
futures-core = "0.3"
progenitor-client = "0.15"
regress = "0.12"
reqwest = { version = "0.13", default-features = false, features = ["json", "query", "stream"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
serde_urlencoded = "0.7"
uuid = { version = "1", features = ["serde", "v4"] }
"#;

/// What generating progenitor's client took and gave.
#[derive(Debug, Clone)]
pub struct ProgenitorOutput {
    /// What the pre-processor rewrote before progenitor could run.
    pub rewrites: Rewrites,
    /// Wall time of reading the rewritten document from JSON text into `openapiv3`,
    /// `generate_tokens` and prettyplease: the work our measured `generate` call does too (it
    /// starts from the schema's bytes). The pre-processor's rewrites are left out.
    pub generate_time: Duration,
    /// Size of the formatted `src/lib.rs`.
    pub lines: LineCount,
    /// Client methods generated (`pub async fn`), to compare with our operation count.
    pub methods: usize,
}

/// Rewrites the schema, runs progenitor (positional interface) and writes the crate to `dir`.
///
/// A panic inside progenitor is caught and returned as an error naming its message and place,
/// so that the rest of the benchmark still reports.
pub fn generate(
    schema: &Path,
    dir: &Path,
    workspace_lock: &Path,
) -> anyhow::Result<ProgenitorOutput> {
    let text = std::fs::read(schema).with_context(|| format!("reading {}", schema.display()))?;
    let mut value: serde_json::Value = serde_json::from_slice(&text).with_context(|| {
        format!(
            "{} is not JSON (the pre-processor reads JSON only)",
            schema.display()
        )
    })?;
    let rewrites = progenitor_prep::prepare(&mut value);
    let rewritten = serde_json::to_string(&value).context("writing the rewritten schema")?;
    drop(value);

    // Timed from the document's text, as our `generate` is (and as progenitor's CLI reads it).
    let started = Instant::now();
    let spec: openapiv3::OpenAPI = serde_json::from_str(&rewritten)
        .context("the rewritten schema is not an OpenAPI 3.0 document openapiv3 accepts")?;
    let tokens = catch_panic(|| {
        let mut settings = GenerationSettings::default();
        settings.with_interface(InterfaceStyle::Positional);
        Generator::new(&settings).generate_tokens(&spec)
    })
    .and_then(|generated| generated.context("progenitor rejected the rewritten schema"))
    .with_context(|| format!("after these rewrites:\n{rewrites}"))?;
    let file: syn::File =
        syn::parse2(tokens).context("progenitor's output does not parse as a Rust file")?;
    let code = prettyplease::unparse(&file);
    let generate_time = started.elapsed();

    write_if_changed(&dir.join("Cargo.toml"), MANIFEST)?;
    write_if_changed(&dir.join("src/lib.rs"), &code)?;
    // Start from the workspace's lock so that shared dependencies resolve to the same versions
    // and no index lookup is needed for them; cargo adds what is missing.
    let lock = dir.join("Cargo.lock");
    if !lock.exists() && workspace_lock.exists() {
        std::fs::copy(workspace_lock, &lock)
            .with_context(|| format!("writing {}", lock.display()))?;
    }
    Ok(ProgenitorOutput {
        rewrites,
        generate_time,
        lines: LineCount::of_text(&code),
        methods: code.matches("pub async fn ").count(),
    })
}

/// Runs `f`, turning a panic into an error with the panic's message and location.
fn catch_panic<T>(f: impl FnOnce() -> T + std::panic::UnwindSafe) -> anyhow::Result<T> {
    let seen: Arc<Mutex<Option<String>>> = Arc::default();
    let hook_seen = Arc::clone(&seen);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut slot) = hook_seen.lock() {
            *slot = Some(info.to_string());
        }
    }));
    let outcome = std::panic::catch_unwind(f);
    std::panic::set_hook(previous);
    match outcome {
        Ok(value) => Ok(value),
        Err(_) => {
            let message = seen
                .lock()
                .ok()
                .and_then(|mut slot| slot.take())
                .unwrap_or_else(|| "a panic with no message".to_owned());
            bail!("progenitor panicked: {message}")
        }
    }
}

/// Writes only when the bytes differ, so an unchanged crate keeps its timestamps.
fn write_if_changed(path: &Path, text: &str) -> anyhow::Result<()> {
    if std::fs::read(path).ok().as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
