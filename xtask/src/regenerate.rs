//! `cargo xtask regenerate`: schema in, `generated/src/generated/` out, and a report of what changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::pin::{self, PIN_PATH, Pin};

/// The directory the generator owns: it writes nothing elsewhere and deletes strays here.
pub const GENERATED_DIR: &str = "generated/src/generated";
/// The generated crate's manifest, whose tag-feature block the generator keeps in step.
pub const GENERATED_MANIFEST: &str = "generated/Cargo.toml";
/// First line of that block.
const FEATURES_BEGIN: &str =
    "# @generated tag features begin: `cargo xtask regenerate` writes this block";
/// Last line of that block.
const FEATURES_END: &str = "# @generated tag features end";
/// Our description of PostHog's public endpoints, merged into the main schema.
pub const PUBLIC_SCHEMA: &str = "schema/public-api.yaml";
/// The throttle-scope table.
pub const THROTTLE_TABLE: &str = "schema/throttle-scopes.toml";
/// Environment variable that points the default schema somewhere else.
pub const SCHEMA_ENV: &str = "POSTHOG_API_SCHEMA";
/// The command named in every `@generated` header.
const COMMAND: &str = "cargo xtask regenerate";

/// Arguments of `cargo xtask regenerate`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RegenerateArgs {
    /// Schema file (JSON or YAML). Default: `$POSTHOG_API_SCHEMA`, else the pin's source.
    #[arg(long, conflicts_with = "url")]
    pub schema: Option<PathBuf>,
    /// Download the schema from a PostHog instance, e.g. https://us.posthog.com/api/schema/?format=json
    #[arg(long)]
    pub url: Option<String>,
    /// Fail if `generated/` is not what the pinned schema generates; write nothing.
    #[arg(long)]
    pub check: bool,
    /// Do not apply `schema/overlays/` (for a schema they were not written for, e.g. an older
    /// PostHog's, where their actions would match nothing).
    #[arg(long)]
    pub no_overlays: bool,
    /// Generate the rest when an operation cannot be lowered: each one left out is listed, with
    /// its JSON pointer and reason, here and in the generated `api` module's docs. Pass it to
    /// `--check` too.
    #[arg(long)]
    pub skip_unsupported: bool,
    /// What to make of a `$ref` to another document (a URL or a file): `refuse` (a diagnostic)
    /// or `json` (typed as `serde_json::Value`, with a warning).
    #[arg(long, value_enum, default_value_t = ExternalRefs::Refuse)]
    pub external_refs: ExternalRefs,
}

/// `--external-refs`: how `$ref`s to other documents are treated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ExternalRefs {
    /// A diagnostic naming each one.
    #[default]
    Refuse,
    /// Free-form JSON, with a warning in the report.
    Json,
}

impl RegenerateArgs {
    /// The generator options these flags ask for.
    pub fn options(&self) -> posthog_codegen::Options {
        posthog_codegen::Options {
            skip_unsupported: self.skip_unsupported,
            external_refs: match self.external_refs {
                ExternalRefs::Refuse => posthog_codegen::ExternalRefs::Refuse,
                ExternalRefs::Json => posthog_codegen::ExternalRefs::Json,
            },
        }
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Files whose bytes changed (or would change, with `--check`), relative to the workspace.
    pub changed: Vec<String>,
    /// Files deleted (or that would be, with `--check`), relative to the workspace.
    pub deleted: Vec<String>,
    /// Files already up to date.
    pub unchanged: usize,
}

/// Runs the command.
pub fn run(args: RegenerateArgs) -> anyhow::Result<()> {
    let root = crate::workspace_root();
    let started = Instant::now();
    let summary = regenerate(&root, &args)?;
    let elapsed = started.elapsed();
    if args.check {
        if summary.changed.is_empty() && summary.deleted.is_empty() {
            println!("generated/ is up to date ({} files).", summary.unchanged);
            return Ok(());
        }
        bail!(
            "generated/ is stale: {} file(s) differ and {} would be deleted ({}).\nRun `cargo xtask regenerate` and commit the result.",
            summary.changed.len(),
            summary.deleted.len(),
            summary
                .changed
                .iter()
                .chain(&summary.deleted)
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "{} file(s) written, {} deleted, {} unchanged in {:.2?}.",
        summary.changed.len(),
        summary.deleted.len(),
        summary.unchanged,
        elapsed
    );
    for file in &summary.changed {
        println!("  wrote   {file}");
    }
    for file in &summary.deleted {
        println!("  deleted {file}");
    }
    Ok(())
}

/// The schema to generate from, and where it came from.
struct Schema {
    source: String,
    bytes: Vec<u8>,
}

fn read_schema(root: &Path, args: &RegenerateArgs, pin: Option<&Pin>) -> anyhow::Result<Schema> {
    if let Some(url) = &args.url {
        let parsed =
            reqwest::Url::parse(url).with_context(|| format!("--url {url} is not a URL"))?;
        let bytes = crate::fetch_schema::download(&parsed, None, Duration::from_secs(120))?;
        return Ok(Schema {
            source: url.clone(),
            bytes,
        });
    }
    let (source, path) = match (&args.schema, std::env::var_os(SCHEMA_ENV), pin) {
        (Some(path), _, _) => (crate::fetch_schema::relative_path(root, path), path.clone()),
        (None, Some(path), _) => {
            let path = PathBuf::from(path);
            (crate::fetch_schema::relative_path(root, &path), path)
        }
        (None, None, Some(pin)) if !pin.source.contains("://") => {
            (pin.source.clone(), root.join(&pin.source))
        }
        (None, None, Some(pin)) => bail!(
            "the pin's source is a URL ({}); pass --url to download it again or --schema for a local copy",
            pin.source
        ),
        (None, None, None) => {
            bail!("no schema: pass --schema PATH or --url URL (there is no {PIN_PATH} yet)")
        }
    };
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "reading the schema {} (set --schema, or {SCHEMA_ENV}, to point elsewhere)",
            path.display()
        )
    })?;
    Ok(Schema { source, bytes })
}

/// Regenerates (or checks) `generated/`. Writes nothing when the generator reports problems.
pub fn regenerate(root: &Path, args: &RegenerateArgs) -> anyhow::Result<Summary> {
    let pin_path = root.join(PIN_PATH);
    let pin = if pin_path.exists() {
        Some(Pin::load(&pin_path)?)
    } else {
        None
    };
    let schema = read_schema(root, args, pin.as_ref())?;
    let sha = pin::sha256_hex(&schema.bytes);
    if args.check
        && let Some(pin) = &pin
        && pin.sha256 != sha
    {
        bail!(
            "the schema at {} (sha256 {sha}) is not the pinned one (sha256 {}).\nRun `cargo xtask regenerate` to update the pin and generated/.",
            schema.source,
            pin.sha256
        );
    }
    let public = read_optional(root, PUBLIC_SCHEMA)?;
    let throttle = read_optional(root, THROTTLE_TABLE)?;
    let throttle_text = throttle
        .as_deref()
        .map(std::str::from_utf8)
        .transpose()
        .context("schema/throttle-scopes.toml is not UTF-8")?;
    let main_input = posthog_codegen::Input {
        source: schema.source.clone(),
        bytes: &schema.bytes,
    };
    let public_input = public.as_deref().map(|bytes| posthog_codegen::Input {
        source: PUBLIC_SCHEMA.to_owned(),
        bytes,
    });
    let overlays = if args.no_overlays {
        Vec::new()
    } else {
        crate::overlays::read_overlays(root)?
    };
    let options = args.options();
    let output = posthog_codegen::generate_with_options(
        &main_input,
        &crate::overlays::inputs(&overlays),
        public_input.as_ref(),
        throttle_text,
        COMMAND,
        &options,
    )
    .map_err(|diagnostics| {
        let hint = if options.skip_unsupported {
            ""
        } else {
            "Pass --skip-unsupported to generate the other operations (listing those left out), and the same flag to --check.\n"
        };
        anyhow::anyhow!("{diagnostics}{hint}no files were written.")
    })?;
    if args.check {
        // The report is printed only when writing; what the opt-ins let through is worth
        // seeing in a check too.
        for warning in &output.report.warnings {
            println!("warning: {warning}");
        }
        if !output.report.skipped.is_empty() {
            println!(
                "{} operations left out (--skip-unsupported).",
                output.report.skipped.len()
            );
        }
    }
    let mut summary = sync_directory(root, GENERATED_DIR, &output.files, args.check)?;
    if sync_features(&root.join(GENERATED_MANIFEST), &output.features, args.check)? {
        summary.changed.push(GENERATED_MANIFEST.to_owned());
    }
    if !args.check {
        report_schema_change(root, pin.as_ref(), &schema, &sha, &overlays, &options)?;
        let operations = output
            .api
            .operations
            .iter()
            .filter(|op| op.host == posthog_codegen::ir::Host::Private)
            .count();
        let new_pin = Pin {
            source: schema.source.clone(),
            sha256: sha.clone(),
            operations,
            overlays: crate::overlays::hashes(&overlays),
            fetched_at: pin
                .as_ref()
                .filter(|p| p.sha256 == sha)
                .and_then(|p| p.fetched_at.clone()),
        };
        new_pin.save(&pin_path)?;
        let lines: usize = output.files.values().map(|text| text.lines().count()).sum();
        println!(
            "{} operations, {} types, {} lines of Rust from {} (sha256 {}).",
            output.api.operations.len(),
            output.api.types.len(),
            lines,
            schema.source,
            short(&sha)
        );
        println!("Normalization passes:\n{}", output.report);
    }
    Ok(summary)
}

fn read_optional(root: &Path, relative: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let path = root.join(relative);
    if !path.exists() {
        return Ok(None);
    }
    std::fs::read(&path)
        .map(Some)
        .with_context(|| format!("reading {}", path.display()))
}

/// Prints the API changelog against the pinned schema when the schema changed, and caches the
/// new one so the next change can be diffed too.
fn report_schema_change(
    root: &Path,
    pin: Option<&Pin>,
    schema: &Schema,
    sha: &str,
    overlays: &[crate::overlays::OverlayFile],
    options: &posthog_codegen::Options,
) -> anyhow::Result<()> {
    pin::cache_schema(root, sha, &schema.bytes)?;
    let Some(pin) = pin else { return Ok(()) };
    if pin.sha256 == sha {
        return Ok(());
    }
    println!(
        "The schema changed since the pin (sha256 {} -> {}).",
        short(&pin.sha256),
        short(sha)
    );
    let Some(old_bytes) = pin.schema_bytes(root) else {
        println!(
            "The pinned schema is not available on this machine, so there is no changelog to show."
        );
        return Ok(());
    };
    let old = crate::changelog::Schema::new("the pinned schema", old_bytes);
    let new = crate::changelog::Schema::new("the new schema", schema.bytes.clone());
    println!(
        "{}",
        crate::changelog::review(&old, &new, overlays, options)
    );
    Ok(())
}

/// Makes `root/dir` hold exactly `files`: writes changed files, deletes strays, and reports them
/// under `dir`. With `check`, only reports what it would do.
fn sync_directory(
    root: &Path,
    dir: &str,
    files: &BTreeMap<String, String>,
    check: bool,
) -> anyhow::Result<Summary> {
    let label = dir;
    let dir = &root.join(dir);
    let mut summary = Summary::default();
    for (relative, text) in files {
        let path = dir.join(relative);
        let current = std::fs::read(&path).ok();
        if current.as_deref() == Some(text.as_bytes()) {
            summary.unchanged += 1;
            continue;
        }
        summary.changed.push(format!("{label}/{relative}"));
        if !check {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    for existing in list_files(dir)? {
        if !files.contains_key(&existing) {
            summary.deleted.push(format!("{label}/{existing}"));
            if !check {
                let path = dir.join(&existing);
                std::fs::remove_file(&path)
                    .with_context(|| format!("deleting {}", path.display()))?;
            }
        }
    }
    Ok(summary)
}

/// Every file under `dir`, as `/`-separated relative paths.
fn list_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => {
                return Err(error).with_context(|| format!("listing {}", current.display()));
            }
        };
        for entry in entries {
            let path = entry
                .with_context(|| format!("listing {}", current.display()))?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The first 12 hex digits of a hash, for messages.
fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Rewrites the block of tag features in the generated crate's manifest: `full` enabling every
/// tag, the feature of types no operation uses, then one feature per tag. Returns whether the
/// manifest changed (or would, with `check`).
fn sync_features(manifest: &Path, features: &[String], check: bool) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let (Some(begin), Some(end)) = (text.find(FEATURES_BEGIN), text.find(FEATURES_END)) else {
        bail!(
            "{} has no `{FEATURES_BEGIN}` ... `{FEATURES_END}` block under [features] for the tag features",
            manifest.display()
        );
    };
    let quoted: Vec<String> = features.iter().map(|f| format!("\"{f}\"")).collect();
    let mut block = format!(
        "{FEATURES_BEGIN}\nfull = [{}]\n# Types no operation uses (PostHog's query-language models: HogQLQuery, TrendsQuery, ...);\n# not in `full`, they would double its compile time.\n{} = []\n",
        quoted.join(", "),
        posthog_codegen::UNREFERENCED_FEATURE,
    );
    for feature in features {
        block.push_str(&format!("{feature} = []\n"));
    }
    let updated = format!("{}{block}{}", &text[..begin], &text[end..]);
    if updated == text {
        return Ok(false);
    }
    if !check {
        std::fs::write(manifest, updated)
            .with_context(|| format!("writing {}", manifest.display()))?;
    }
    Ok(true)
}
