//! The benchmark behind `cargo xtask bench`: regenerate time, generated line counts and the
//! from-scratch `cargo check` cost (time and peak rustc memory) of the generated crate, side by
//! side with progenitor's positional output for the same schema, as one Markdown table.
//!
//! progenitor is a dependency of this crate only, so it never enters the client's graph.

pub mod check;
pub mod lines;
pub mod progenitor_crate;
pub mod progenitor_prep;
pub mod regen;
pub mod report;
pub mod rss;
pub mod stats;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use check::{CheckResult, CheckTarget};
use report::{Checks, Outcome, Report};

/// Environment variable that points the default schema somewhere else (as for xtask).
const SCHEMA_ENV: &str = "POSTHOG_API_SCHEMA";
/// The pin that names the default schema.
const PIN: &str = "schema/posthog.pin.json";
/// The generated crate's package.
const OURS: &str = "posthog-api";

/// Command-line arguments.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "posthog-api-bench",
    about = "Regenerate time, line counts and cargo check cost of posthog-api, beside progenitor's"
)]
pub struct BenchArgs {
    /// Schema to generate from. Default: `$POSTHOG_API_SCHEMA`, else the pin's source.
    #[arg(long)]
    pub schema: Option<PathBuf>,
    /// Runs of the in-process generator (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub regen_runs: usize,
    /// Timed `cargo check` runs per configuration (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub check_runs: usize,
    /// Skip the `cargo check` timings (regenerate time and line counts only).
    #[arg(long)]
    pub skip_check: bool,
    /// Skip progenitor: its generation and its check.
    #[arg(long)]
    pub skip_progenitor: bool,
    /// Where to write the report. Default: `target/bench/report.md`.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The workspace root: this crate's parent directory, found at compile time.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// Runs every measurement one after another, prints the table and writes it to the report file.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let root = workspace_root();
    let bench_dir = root.join("target/bench");
    let logs = bench_dir.join("logs");
    let schema = schema_path(&root, args)?;
    let load_at_start = report::uptime();

    step(&format!("regenerate, {} runs", args.regen_runs));
    let regen = regen::measure(&root, &schema, args.regen_runs)?;
    let generated = root.join(regen::GENERATED_DIR);
    let server = generated.join("server");
    let client_lines = lines::count_rust(&generated, Some(&server))?;
    let server_lines = lines::count_rust(&server, None)?;

    let progenitor_dir = bench_dir.join("progenitor-client");
    let progenitor = if args.skip_progenitor {
        Outcome::Skipped
    } else {
        step("progenitor: rewrite the schema and generate the positional client");
        outcome(progenitor_crate::generate(
            &schema,
            &progenitor_dir,
            &root.join("Cargo.lock"),
        ))
    };

    let ours_target = |label: &str, features: &[&str]| CheckTarget {
        label: label.to_owned(),
        manifest: root.join("Cargo.toml"),
        package: OURS.to_owned(),
        features: features.iter().map(|f| (*f).to_owned()).collect(),
        target_dir: bench_dir.join("check-target"),
    };
    let mut targets = vec![
        ours_target(report::ALL, &["--all-features"]),
        ours_target(report::DEFAULT, &[]),
        ours_target(
            report::FEATURE_FLAGS,
            &["--no-default-features", "--features", "feature_flags"],
        ),
        ours_target(report::NONE, &["--no-default-features"]),
    ];
    if matches!(progenitor, Outcome::Measured(_)) {
        targets.push(CheckTarget {
            label: report::PROGENITOR.to_owned(),
            manifest: progenitor_dir.join("Cargo.toml"),
            package: progenitor_crate::PACKAGE.to_owned(),
            features: Vec::new(),
            target_dir: progenitor_dir.join("target"),
        });
    }
    let checks = if args.skip_check {
        Vec::new()
    } else {
        time_checks(&targets, args.check_runs, &logs)
    };
    let load_at_end = report::uptime();

    let report = Report {
        schema: schema.display().to_string(),
        load_at_start,
        load_at_end,
        regen,
        client_lines,
        server_lines,
        progenitor,
        checks: Checks::new(checks),
    };
    let markdown = report.to_markdown();
    println!("{markdown}");
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| bench_dir.join("report.md"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&out, markdown).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("Report written to {}.", out.display());
    Ok(())
}

/// Warms every target up, then times them round-robin, one check at a time, so that a burst of
/// load from other work on the machine spreads over all of them instead of skewing one.
fn time_checks(
    targets: &[CheckTarget],
    runs: usize,
    logs: &Path,
) -> Vec<(String, Outcome<CheckResult>)> {
    let mut results: Vec<(String, Outcome<CheckResult>)> = targets
        .iter()
        .map(|target| {
            step(&format!("warm up (dependencies): {}", target.label));
            let outcome = match check::warm_up(target, &logs.join(check::slug(&target.label))) {
                Ok(()) => Outcome::Measured(CheckResult::default()),
                Err(error) => Outcome::Failed(format!("{error:#}")),
            };
            (target.label.clone(), outcome)
        })
        .collect();
    for run in 1..=runs.max(1) {
        for (target, (_, outcome)) in targets.iter().zip(results.iter_mut()) {
            let Outcome::Measured(result) = outcome else {
                continue;
            };
            step(&format!("cargo check {}/{runs}: {}", run, target.label));
            if let Err(error) =
                check::run_once(target, &logs.join(check::slug(&target.label)), result)
            {
                *outcome = Outcome::Failed(format!("{error:#}"));
            }
        }
    }
    results
}

/// The schema: `--schema`, else `$POSTHOG_API_SCHEMA`, else the pin's source.
fn schema_path(root: &Path, args: &BenchArgs) -> anyhow::Result<PathBuf> {
    if let Some(path) = &args.schema {
        return Ok(path.clone());
    }
    if let Some(path) = std::env::var_os(SCHEMA_ENV) {
        return Ok(PathBuf::from(path));
    }
    let pin_path = root.join(PIN);
    let pin: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&pin_path).with_context(|| format!("reading {}", pin_path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", pin_path.display()))?;
    let source = pin
        .get("source")
        .and_then(serde_json::Value::as_str)
        .with_context(|| format!("{} names no source; pass --schema", pin_path.display()))?;
    if source.contains("://") {
        anyhow::bail!("the pin's source is a URL ({source}); pass --schema with a local copy");
    }
    Ok(root.join(source))
}

fn outcome<T>(result: anyhow::Result<T>) -> Outcome<T> {
    match result {
        Ok(value) => Outcome::Measured(value),
        Err(error) => {
            eprintln!("warning: {error:#}");
            Outcome::Failed(format!("{error:#}"))
        }
    }
}

/// Progress goes to stderr so that stdout is just the table.
fn step(what: &str) {
    let load = check::load_average().map_or_else(String::new, |l| format!(" (load {l:.2})"));
    eprintln!("==> {what}{load}");
}
