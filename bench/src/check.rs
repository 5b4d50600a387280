//! `cargo check` of one crate from scratch: its dependencies prebuilt in a dedicated target
//! directory (and so excluded from the timing), the crate itself cleaned before every run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::rss::{self, RustcRecord};
use crate::stats::Samples;

/// One crate in one feature configuration.
#[derive(Debug, Clone)]
pub struct CheckTarget {
    /// How the report names it.
    pub label: String,
    /// The `Cargo.toml` cargo is pointed at (the workspace's, or the throwaway crate's).
    pub manifest: PathBuf,
    /// The package to check and clean (`-p`).
    pub package: String,
    /// Feature flags for `cargo check`, e.g. `--no-default-features --features feature_flags`.
    pub features: Vec<String>,
    /// The dedicated `CARGO_TARGET_DIR`.
    pub target_dir: PathBuf,
}

impl CheckTarget {
    /// The name rustc knows the crate by (`--crate-name`), to pick its records from the log.
    fn crate_name(&self) -> String {
        self.package.replace('-', "_")
    }
}

/// What the timed runs of one target measured.
#[derive(Debug, Clone, Default)]
pub struct CheckResult {
    /// Wall time of each `cargo check` (cargo start-up and fingerprinting included).
    pub wall: Samples,
    /// Wall time of the crate's rustc process alone, each run.
    pub rustc: Samples,
    /// The highest peak RSS of the crate's rustc over the runs, in KiB.
    pub peak_rss_kib: u64,
    /// 1-minute load average just before each run.
    pub loads: Vec<f64>,
}

/// Builds the target once untimed (dependencies included), so later runs only redo the crate.
pub fn warm_up(target: &CheckTarget, logs: &Path) -> anyhow::Result<()> {
    cargo(target, "check", &target.features, &logs.join("warm-up.log"))
        .with_context(|| format!("warming up {}", target.label))?;
    Ok(())
}

/// One timed run: clean the crate, check it, and read its rustc's record.
pub fn run_once(target: &CheckTarget, logs: &Path, result: &mut CheckResult) -> anyhow::Result<()> {
    let package = ["-p".to_owned(), target.package.clone()];
    cargo(target, "clean", &package, &logs.join("clean.log"))?;
    let rss_log = logs.join(format!("rustc-{}.tsv", slug(&target.label)));
    // The log holds this run's records only.
    if rss_log.exists() {
        std::fs::remove_file(&rss_log)
            .with_context(|| format!("removing {}", rss_log.display()))?;
    }
    result.loads.push(load_average().unwrap_or(f64::NAN));
    let started = Instant::now();
    let mut command = cargo_command(target, "check", &target.features);
    command
        .env("RUSTC_WORKSPACE_WRAPPER", rss::wrapper_exe()?)
        .env(rss::LOG_ENV, &rss_log);
    run_logged(
        command,
        &logs.join(format!("check-{}.log", slug(&target.label))),
    )?;
    let wall = started.elapsed();
    let crate_name = target.crate_name();
    let records: Vec<RustcRecord> = rss::read_log(&rss_log)?
        .into_iter()
        .filter(|record| record.crate_name == crate_name)
        .collect();
    let Some(record) = records.into_iter().max_by_key(|record| record.peak_rss_kib) else {
        bail!(
            "{}: cargo check did not run rustc for {crate_name}; was it really cleaned?",
            target.label
        );
    };
    result.wall.push(wall);
    result.rustc.push(record.wall);
    result.peak_rss_kib = result.peak_rss_kib.max(record.peak_rss_kib);
    Ok(())
}

fn cargo(
    target: &CheckTarget,
    subcommand: &str,
    args: &[String],
    log: &Path,
) -> anyhow::Result<()> {
    let mut command = cargo_command(target, subcommand, args);
    if subcommand == "check" {
        // The warm-up goes through the same wrapper as the timed runs, so that nothing in the
        // environment differs between them.
        command
            .env("RUSTC_WORKSPACE_WRAPPER", rss::wrapper_exe()?)
            .env(rss::LOG_ENV, log.with_extension("tsv"));
    }
    run_logged(command, log)
}

fn cargo_command(target: &CheckTarget, subcommand: &str, args: &[String]) -> Command {
    // Inside `cargo run`, `CARGO` names the cargo that started us; use the same toolchain.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg(subcommand)
        .arg("--manifest-path")
        .arg(&target.manifest)
        .args(args)
        .env("CARGO_TARGET_DIR", &target.target_dir)
        .env("CARGO_TERM_COLOR", "never")
        // Nothing from an outer build may change how the crate is compiled.
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER");
    if subcommand == "check" {
        command.arg("-p").arg(&target.package);
    }
    command
}

/// Runs a command with its output sent to `log`; on failure, the error quotes the log's tail.
fn run_logged(mut command: Command, log: &Path) -> anyhow::Result<()> {
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out
        .try_clone()
        .with_context(|| format!("opening {}", log.display()))?;
    let status = command
        .stdout(out)
        .stderr(err)
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "{command:?} failed ({status}); see {}:\n{}",
            log.display(),
            tail.join("\n")
        );
    }
    Ok(())
}

/// The 1-minute load average, from `/proc/loadavg` (Linux).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A file-name-safe version of a label, for log names.
pub fn slug(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}
