//! `cargo xtask bench`: builds and runs the `posthog-api-bench` binary (release), which measures
//! regenerate time, line counts and `cargo check` cost beside progenitor's output.
//!
//! The benchmark lives in its own crate so that progenitor stays out of xtask's dependencies.

use std::process::Command;

use anyhow::{Context as _, bail};

/// Arguments of `cargo xtask bench`, passed through to the benchmark binary.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BenchArgs {
    /// Arguments for `posthog-api-bench` (see `cargo xtask bench -- --help`), e.g.
    /// `--check-runs 5` or `--skip-progenitor`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// Runs the command.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let root = crate::workspace_root();
    // Inside `cargo xtask`, `CARGO` names the cargo that started us; use the same toolchain.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "posthog-api-bench",
            "--",
        ])
        .args(&args.args)
        .status()
        .context("starting cargo run -p posthog-api-bench")?;
    if !status.success() {
        bail!("the benchmark failed ({status})");
    }
    Ok(())
}
