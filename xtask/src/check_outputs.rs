//! `cargo xtask check-outputs`: compiles what the generator makes of every fixture schema, and
//! of the older real PostHog schemas, with `#![deny(warnings)]` against the hand-written runtime.
//!
//! Each output becomes one member of a throwaway workspace under `target/check-outputs/`: a
//! crate with the runtime's manifest (its dependencies and non-tag features, read with
//! `cargo metadata`), a copy of the hand-written `generated/src/*` and the output as
//! `src/generated/`, so it has the exact layout the generated code expects (`crate::client`,
//! `crate::string_enum!`, `crate::generated::...`). One `cargo check` builds all members, so
//! the dependencies compile once; the target directory stays under `target/` and files are
//! rewritten only when their bytes change, so a second run only checks what changed. The 2025
//! schema's output is the committed `generated/` crate, which the workspace itself compiles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

/// Where the fixture schemas live, relative to the workspace root.
pub const FIXTURES_DIR: &str = "codegen/tests/fixtures";
/// The real schemas compiled besides the fixtures (the 2025 one is `generated/` itself).
pub const SCHEMAS: &[&str] = &[
    "../shared/schemas/posthog-2023-02.yaml",
    "../shared/schemas/posthog-2023-11.yaml",
];
/// The throwaway workspace and its target directory, relative to the workspace root.
pub const WORK_DIR: &str = "target/check-outputs";
/// The hand-written runtime, copied into every member except its `generated/` directory.
const RUNTIME_SRC: &str = "generated/src";
/// The runtime's package, whose manifest every member copies.
const RUNTIME_PACKAGE: &str = "posthog-api";
/// The feature enabling every tag; the generator says which tags an output has.
const FULL_FEATURE: &str = "full";
/// The feature of types no operation uses; checked alone because those types name others.
const UNREFERENCED: &str = posthog_codegen::UNREFERENCED_FEATURE;
/// The command named in `@generated` headers, as `cargo xtask regenerate` names it, so that
/// fixture outputs match their snapshots byte for byte.
const HEADER_COMMAND: &str = "cargo xtask regenerate";

/// Arguments of `cargo xtask check-outputs`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CheckOutputsArgs {
    /// Check only these fixtures (file stems, e.g. `naming`); repeatable.
    #[arg(long = "fixture")]
    pub fixtures: Vec<String>,
    /// Leave out the real schemas (they take most of the time).
    #[arg(long)]
    pub no_schemas: bool,
}

/// What a run checked and how long it took.
#[derive(Debug)]
pub struct Summary {
    /// Workspace member names, one per output.
    pub members: Vec<String>,
    /// Time spent generating.
    pub generate: Duration,
    /// Time spent in `cargo check`, per feature set.
    pub checks: Vec<(String, Duration)>,
}

/// Runs the command.
pub fn run(args: CheckOutputsArgs) -> anyhow::Result<()> {
    let root = crate::workspace_root();
    let started = Instant::now();
    let summary = check_outputs(&root, &args)?;
    println!(
        "{} output(s) compile with #![deny(warnings)] ({}; generated in {:.1?}, {:.1?} in all).",
        summary.members.len(),
        summary
            .checks
            .iter()
            .map(|(features, took)| format!("{features}: {took:.1?}"))
            .collect::<Vec<_>>()
            .join(", "),
        summary.generate,
        started.elapsed()
    );
    Ok(())
}

/// One schema to generate and compile.
struct Target {
    /// Workspace member (and package) name.
    member: String,
    /// The source named in `@generated` headers.
    source: String,
    /// The file to read.
    path: PathBuf,
}

/// Generates every target, writes the throwaway workspace and runs `cargo check` on it: with
/// every feature of the output, with none (a user who enables no tag still gets a crate that
/// compiles without warnings), and with only `unreferenced_types` (those types name types that
/// operations use, which must come along).
pub fn check_outputs(root: &Path, args: &CheckOutputsArgs) -> anyhow::Result<Summary> {
    let targets = targets(root, args)?;
    let work = root.join(WORK_DIR);
    let workspace = work.join("workspace");
    let manifest = RuntimeManifest::load(root)?;
    let runtime = runtime_files(&root.join(RUNTIME_SRC))?;

    let generate_started = Instant::now();
    let mut members = Vec::with_capacity(targets.len());
    for target in &targets {
        let bytes = std::fs::read(&target.path)
            .with_context(|| format!("reading {}", target.path.display()))?;
        // A fixture names the `regenerate` flags it is generated with (`# regenerate flags:`).
        let options = posthog_codegen::Options::from_fixture(&bytes)
            .map_err(|error| anyhow::anyhow!("{}: {error}", target.source))?;
        let output = posthog_codegen::generate_with_options(
            &posthog_codegen::Input {
                source: target.source.clone(),
                bytes: &bytes,
            },
            &[],
            None,
            None,
            HEADER_COMMAND,
            &options,
        )
        .map_err(|diagnostics| {
            anyhow::anyhow!("{} does not generate:\n{diagnostics}", target.source)
        })?;
        let mut files = runtime.clone();
        if let Some(lib) = files.get_mut(Path::new("src/lib.rs")) {
            // An inner attribute may precede the crate's `//!` docs (they are attributes too).
            let mut denied = b"#![deny(warnings)]\n".to_vec();
            denied.append(lib);
            *lib = denied;
        } else {
            bail!("{RUNTIME_SRC}/lib.rs is missing");
        }
        for (path, text) in output.files {
            files.insert(Path::new("src/generated").join(path), text.into_bytes());
        }
        files.insert(
            PathBuf::from("Cargo.toml"),
            manifest
                .member_manifest(&target.member, &output.features)
                .into_bytes(),
        );
        sync_tree(&workspace.join(&target.member), &files)?;
        members.push(target.member.clone());
    }
    let generate = generate_started.elapsed();

    write_workspace(root, &workspace, &members)?;
    let target_dir = work.join("target");
    let mut checks = Vec::new();
    let everything = manifest.everything();
    // Every tag and the server stubs without `unreferenced_types`: a type an operation uses
    // but feature placement missed compiles only in this configuration's absence.
    let tags_and_server = format!("{FULL_FEATURE},server");
    for (label, flags) in [
        ("all features", vec!["--features", everything.as_str()]),
        (
            "every tag and the server, no unreferenced types",
            vec![
                "--no-default-features",
                "--features",
                tags_and_server.as_str(),
            ],
        ),
        ("no features", vec!["--no-default-features"]),
        (
            "unreferenced types only",
            vec!["--no-default-features", "--features", UNREFERENCED],
        ),
    ] {
        let started = Instant::now();
        cargo_check(&workspace, &target_dir, &flags)
            .with_context(|| format!("checking the outputs with {label}"))?;
        checks.push((label.to_owned(), started.elapsed()));
    }
    Ok(Summary {
        members,
        generate,
        checks,
    })
}

/// The fixtures (all, or those asked for) and the real schemas.
fn targets(root: &Path, args: &CheckOutputsArgs) -> anyhow::Result<Vec<Target>> {
    let dir = root.join(FIXTURES_DIR);
    let mut fixtures = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "yaml")
            && let Some(stem) = path.file_stem().and_then(|stem| stem.to_str())
        {
            fixtures.insert(stem.to_owned());
        }
    }
    for wanted in &args.fixtures {
        if !fixtures.contains(wanted) {
            bail!("no fixture `{wanted}` in {FIXTURES_DIR} (have: {fixtures:?})");
        }
    }
    let mut targets: Vec<Target> = fixtures
        .into_iter()
        .filter(|name| args.fixtures.is_empty() || args.fixtures.contains(name))
        .map(|name| Target {
            member: format!("fixture-{}", name.replace('_', "-")),
            source: format!("{FIXTURES_DIR}/{name}.yaml"),
            path: dir.join(format!("{name}.yaml")),
        })
        .collect();
    if !args.no_schemas && args.fixtures.is_empty() {
        for schema in SCHEMAS {
            let path = root.join(schema);
            let stem = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .unwrap_or("schema");
            targets.push(Target {
                member: format!("schema-{stem}"),
                source: (*schema).to_owned(),
                path,
            });
        }
    }
    Ok(targets)
}

/// The runtime crate's manifest, as `cargo metadata` resolves it (workspace inheritance done).
struct RuntimeManifest {
    edition: String,
    /// `[dependencies]` lines, `name = { ... }`.
    dependencies: Vec<String>,
    /// Features other than the tag features and `full`, which depend on the schema.
    features: BTreeMap<String, Vec<String>>,
    /// The runtime's own tag features. Hand-written modules may be gated on them (the server
    /// fake on the 2025 schema's tags), so every member declares them, enabled or not, and
    /// `unexpected_cfgs` stays quiet.
    runtime_tags: Vec<String>,
}

impl RuntimeManifest {
    fn load(root: &Path) -> anyhow::Result<Self> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--manifest-path",
            ])
            .arg(root.join("Cargo.toml"))
            .output()
            .context("running cargo metadata")?;
        if !output.status.success() {
            bail!(
                "cargo metadata failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let metadata: Value =
            serde_json::from_slice(&output.stdout).context("parsing cargo metadata's output")?;
        let package = metadata["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|package| package["name"] == RUNTIME_PACKAGE)
            .with_context(|| format!("cargo metadata lists no package `{RUNTIME_PACKAGE}`"))?;
        let edition = package["edition"].as_str().unwrap_or("2024").to_owned();
        let mut dependencies = Vec::new();
        for dependency in package["dependencies"].as_array().into_iter().flatten() {
            // Dev and build dependencies do not matter to `cargo check` of the library.
            if !dependency["kind"].is_null() {
                continue;
            }
            if !dependency["target"].is_null() {
                bail!(
                    "{RUNTIME_PACKAGE} has a target-specific dependency ({}), which check-outputs does not copy yet",
                    dependency["name"]
                );
            }
            dependencies.push(dependency_line(dependency, root)?);
        }
        let all_features: BTreeMap<String, Vec<String>> =
            serde_json::from_value(package["features"].clone())
                .context("reading the runtime's features")?;
        let runtime_tags: Vec<String> = all_features.get(FULL_FEATURE).cloned().unwrap_or_default();
        let tags: BTreeSet<&String> = runtime_tags.iter().collect();
        let features = all_features
            .iter()
            .filter(|(name, _)| name.as_str() != FULL_FEATURE && !tags.contains(name))
            .map(|(name, enables)| (name.clone(), enables.clone()))
            .collect();
        Ok(Self {
            edition,
            dependencies,
            features,
            runtime_tags,
        })
    }

    /// The `--features` that turn on everything an output has: the runtime's own features
    /// (`server`, ...) and `full` (every tag of the output), but not the runtime's tags the
    /// output lacks, whose gated modules would name types the output does not have, nor a
    /// feature that enables some of them (`fake`, built on the 2025 schema's operations).
    fn everything(&self) -> String {
        let mut enabled: Vec<&str> = self
            .features
            .iter()
            .filter(|(name, enables)| {
                *name != "default" && !enables.iter().any(|f| self.runtime_tags.contains(f))
            })
            .map(|(name, _)| name.as_str())
            .collect();
        enabled.push(FULL_FEATURE);
        enabled.join(",")
    }

    /// A member's `Cargo.toml`: the runtime's dependencies and features, with the tag
    /// features of this output.
    fn member_manifest(&self, member: &str, tags: &[String]) -> String {
        let mut features = self.features.clone();
        features.insert(FULL_FEATURE.to_owned(), tags.to_vec());
        for tag in tags.iter().chain(&self.runtime_tags) {
            features.entry(tag.clone()).or_default();
        }
        let mut out = format!(
            "[package]\nname = \"{member}\"\nversion = \"0.0.0\"\nedition = \"{}\"\npublish = false\n\n[features]\n",
            self.edition
        );
        for (name, enables) in &features {
            out.push_str(&format!("{} = {}\n", toml_key(name), toml_strings(enables)));
        }
        out.push_str("\n[dependencies]\n");
        for line in &self.dependencies {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// One `[dependencies]` line from a `cargo metadata` dependency.
fn dependency_line(dependency: &Value, root: &Path) -> anyhow::Result<String> {
    let name = dependency["name"]
        .as_str()
        .context("a dependency without a name")?;
    let mut parts = vec![format!(
        "version = {}",
        toml_string(dependency["req"].as_str().unwrap_or("*"))
    )];
    if let Some(path) = dependency["path"].as_str() {
        // Relative paths would resolve against the throwaway workspace; cargo metadata gives
        // absolute ones, but be explicit.
        parts.push(format!(
            "path = {}",
            toml_string(&root.join(path).display().to_string())
        ));
    }
    if dependency["uses_default_features"] == false {
        parts.push("default-features = false".to_owned());
    }
    let features: Vec<String> = dependency["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect();
    if !features.is_empty() {
        parts.push(format!("features = {}", toml_strings(&features)));
    }
    if dependency["optional"] == true {
        parts.push("optional = true".to_owned());
    }
    let key = match dependency["rename"].as_str() {
        Some(rename) => {
            parts.push(format!("package = {}", toml_string(name)));
            rename
        }
        None => name,
    };
    Ok(format!("{} = {{ {} }}", toml_key(key), parts.join(", ")))
}

/// A TOML basic string. Cargo names, versions and paths hold no control characters, so
/// escaping quotes and backslashes is enough.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn toml_strings(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| toml_string(item)).collect();
    format!("[{}]", quoted.join(", "))
}

/// A TOML key: bare when it can be (feature and crate names usually are).
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        key.to_owned()
    } else {
        toml_string(key)
    }
}

/// The hand-written runtime: every file under `generated/src` outside `generated/src/generated`,
/// keyed by its path in a member (`src/...`).
fn runtime_files(src: &Path) -> anyhow::Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                if path != src.join("generated") {
                    pending.push(path);
                }
                continue;
            }
            let relative = path.strip_prefix(src).unwrap_or(&path);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            files.insert(Path::new("src").join(relative), bytes);
        }
    }
    Ok(files)
}

/// Makes `dir` hold exactly `files`: writes those whose bytes differ (so cargo's mtime-based
/// freshness sees only real changes) and deletes the rest.
fn sync_tree(dir: &Path, files: &BTreeMap<PathBuf, Vec<u8>>) -> anyhow::Result<()> {
    for (relative, bytes) in files {
        let path = dir.join(relative);
        if std::fs::read(&path).is_ok_and(|old| &old == bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in
            std::fs::read_dir(&current).with_context(|| format!("listing {}", current.display()))?
        {
            let path = entry?.path();
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            if path.is_dir() {
                if files.keys().any(|file| file.starts_with(relative)) {
                    pending.push(path);
                } else {
                    std::fs::remove_dir_all(&path)
                        .with_context(|| format!("removing {}", path.display()))?;
                }
            } else if !files.contains_key(relative) {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// The workspace manifest, the main workspace's lock file (so members build with the exact
/// dependency versions `generated/` does), and no member directories beyond `members`.
fn write_workspace(root: &Path, workspace: &Path, members: &[String]) -> anyhow::Result<()> {
    let quoted: Vec<String> = members.iter().map(|m| toml_string(m)).collect();
    let manifest = format!(
        "# Written by `cargo xtask check-outputs`; rewritten on every run.\n[workspace]\nresolver = \"3\"\nmembers = [{}]\n",
        quoted.join(", ")
    );
    write_if_changed(&workspace.join("Cargo.toml"), manifest.as_bytes())?;
    let lock = std::fs::read(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    write_if_changed(&workspace.join("Cargo.lock"), &lock)?;
    let keep: BTreeSet<&str> = members.iter().map(String::as_str).collect();
    for entry in
        std::fs::read_dir(workspace).with_context(|| format!("listing {}", workspace.display()))?
    {
        let path = entry?.path();
        let stale = path.is_dir()
            && path
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| !keep.contains(name));
        if stale {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// `cargo check` of every member, output to the terminal.
fn cargo_check(workspace: &Path, target_dir: &Path, features: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .arg("check")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(["--workspace", "--lib"])
        .args(features)
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .context("running cargo check")?;
    if !status.success() {
        bail!(
            "cargo check failed on the generated outputs in {} ({status}); reproduce with `cargo xtask check-outputs`",
            workspace.display()
        );
    }
    Ok(())
}
