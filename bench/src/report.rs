//! The Markdown report: one side-by-side table of every figure, a detail table of the checks,
//! what the schema needed for progenitor, and how each number was taken.

use std::fmt::Write as _;
use std::time::Duration;

use crate::check::CheckResult;
use crate::lines::LineCount;
use crate::progenitor_crate::ProgenitorOutput;
use crate::regen::RegenResult;

/// progenitor's figures as issue 3 quotes them, used (and labelled) only when it cannot be run.
const QUOTED_PROGENITOR_LINES: usize = 86_581;
/// The same issue's `cargo check` time for progenitor's output, in seconds.
const QUOTED_PROGENITOR_CHECK_SECS: f64 = 43.0;

/// Check labels, shared with the runner.
pub const ALL: &str = "posthog-api, all features";
/// The default features: every tag, no server stubs.
pub const DEFAULT: &str = "posthog-api, default (full client)";
/// One tag.
pub const FEATURE_FLAGS: &str = "posthog-api, feature_flags only";
/// No tag at all.
pub const NONE: &str = "posthog-api, no features";
/// progenitor's crate.
pub const PROGENITOR: &str = "progenitor positional";

/// A measurement that ran, failed (with why), or was not asked for.
#[derive(Debug, Clone)]
pub enum Outcome<T> {
    /// It ran.
    Measured(T),
    /// It could not run; the message says why.
    Failed(String),
    /// `--skip-...` left it out.
    Skipped,
}

/// The check results by label.
#[derive(Debug, Clone, Default)]
pub struct Checks(Vec<(String, Outcome<CheckResult>)>);

impl Checks {
    /// Wraps the runner's results.
    pub fn new(results: Vec<(String, Outcome<CheckResult>)>) -> Self {
        Self(results)
    }

    fn get(&self, label: &str) -> Option<&Outcome<CheckResult>> {
        self.0.iter().find(|(l, _)| l == label).map(|(_, o)| o)
    }

    fn measured(&self, label: &str) -> Option<&CheckResult> {
        match self.get(label) {
            Some(Outcome::Measured(result)) if !result.wall.is_empty() => Some(result),
            _ => None,
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// The schema generated from.
    pub schema: String,
    /// `uptime` before the first measurement.
    pub load_at_start: String,
    /// `uptime` after the last.
    pub load_at_end: String,
    /// Regenerate timings.
    pub regen: RegenResult,
    /// `generated/src/generated/` without `server/`.
    pub client_lines: LineCount,
    /// `generated/src/generated/server/`.
    pub server_lines: LineCount,
    /// progenitor's generation.
    pub progenitor: Outcome<ProgenitorOutput>,
    /// The `cargo check` timings.
    pub checks: Checks,
}

impl Report {
    /// The whole report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# posthog-api benchmark\n");
        let _ = writeln!(
            out,
            "Schema `{}`, {} CPU(s). Load (`uptime`) at start: `{}`; at end: `{}`.\n",
            self.schema,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.load_at_start,
            self.load_at_end
        );
        self.side_by_side(&mut out);
        self.check_detail(&mut out);
        self.progenitor_notes(&mut out);
        method_notes(&mut out);
        out
    }

    fn side_by_side(&self, out: &mut String) {
        let prog = match &self.progenitor {
            Outcome::Measured(p) => Some(p),
            _ => None,
        };
        let _ = writeln!(
            out,
            "| measure | posthog-api | progenitor 0.15 positional | ratio | target |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|");
        let regen = &self.regen;
        let _ = writeln!(
            out,
            "| regenerate, in-process ({} overlay files applied), median | {} | {} | {} | <= 1 s |",
            regen.overlays,
            regen.times.describe(),
            prog.map_or_else(
                || "-".to_owned(),
                |p| format!(
                    "{:.2} s (1 run, generate + format)",
                    p.generate_time.as_secs_f64()
                )
            ),
            prog.map_or_else(String::new, |p| ratio(
                regen.times.median(),
                p.generate_time
            )),
        );
        let (prog_lines, prog_lines_ratio) = match prog {
            Some(p) => (
                lines(p.lines),
                format!(
                    "{:.2}x",
                    self.client_lines.lines as f64 / p.lines.lines as f64
                ),
            ),
            None => (
                format!("{QUOTED_PROGENITOR_LINES} (quoted from issue 3, not measured)"),
                format!(
                    "{:.2}x (vs quoted)",
                    self.client_lines.lines as f64 / QUOTED_PROGENITOR_LINES as f64
                ),
            ),
        };
        let _ = writeln!(
            out,
            "| generated lines, client (`generated/src/generated/` less `server/`) | {} | {prog_lines} | {prog_lines_ratio} | <= 43k, <= 0.5x |",
            lines(self.client_lines)
        );
        let _ = writeln!(
            out,
            "| generated lines, server stubs (`server/`) | {} | - | | |",
            lines(self.server_lines)
        );
        let _ = writeln!(
            out,
            "| client methods | {} operations | {} | | all 772 |",
            regen.operations,
            prog.map_or_else(
                || "-".to_owned(),
                |p| format!("{} `pub async fn`", p.methods)
            ),
        );
        let progenitor_check = self.checks.measured(PROGENITOR);
        let progenitor_wall = progenitor_check.map(|c| c.wall.median());
        let progenitor_cell = match (progenitor_check, &self.progenitor) {
            (Some(c), _) => c.wall.describe(),
            (None, Outcome::Skipped) => "skipped".to_owned(),
            (None, _) => {
                format!("~{QUOTED_PROGENITOR_CHECK_SECS:.0} s (quoted from issue 3, not measured)")
            }
        };
        let progenitor_basis = progenitor_wall
            .unwrap_or_else(|| Duration::from_secs_f64(QUOTED_PROGENITOR_CHECK_SECS));
        let quoted = if progenitor_wall.is_some() {
            ""
        } else {
            " (vs quoted)"
        };
        let all = self.checks.measured(ALL).map(|c| c.wall.median());
        for (label, row, target) in [
            (
                ALL,
                "`cargo check` from scratch, all features",
                "<= 0.5x of progenitor",
            ),
            (
                DEFAULT,
                "`cargo check` from scratch, default (`full`: the client, no server)",
                "",
            ),
        ] {
            let ours = self.check_cell(label);
            let ratio_cell = self.checks.measured(label).map_or_else(String::new, |c| {
                format!("{}{quoted}", ratio(c.wall.median(), progenitor_basis))
            });
            let _ = writeln!(
                out,
                "| {row} | {ours} | {progenitor_cell} | {ratio_cell} | {target} |"
            );
        }
        for (label, row, target) in [
            (
                FEATURE_FLAGS,
                "`cargo check` from scratch, `feature_flags` only",
                "<= 0.1x of all features",
            ),
            (NONE, "`cargo check` from scratch, no features", ""),
        ] {
            let ratio_cell = match (self.checks.measured(label), all) {
                (Some(c), Some(all)) => format!("{} of all features", ratio(c.wall.median(), all)),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "| {row} | {} | - | {ratio_cell} | {target} |",
                self.check_cell(label)
            );
        }
        let progenitor_rss = progenitor_check.map(|c| c.peak_rss_kib);
        for (label, row) in [
            (ALL, "peak rustc RSS, all features"),
            (DEFAULT, "peak rustc RSS, default (`full`)"),
            (FEATURE_FLAGS, "peak rustc RSS, `feature_flags` only"),
            (NONE, "peak rustc RSS, no features"),
        ] {
            let ours = self.checks.measured(label).map(|c| c.peak_rss_kib);
            let with_progenitor = label == ALL || label == DEFAULT;
            let theirs = if with_progenitor {
                progenitor_rss.map_or_else(|| "-".to_owned(), mib)
            } else {
                "-".to_owned()
            };
            let ratio_cell = match (ours, progenitor_rss) {
                (Some(o), Some(p)) if with_progenitor && p > 0 => {
                    format!("{:.2}x", o as f64 / p as f64)
                }
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "| {row} | {} | {theirs} | {ratio_cell} | |",
                ours.map_or_else(|| "-".to_owned(), mib)
            );
        }
        let _ = writeln!(out);
        if regen.stale_files > 0 {
            let _ = writeln!(
                out,
                "Note: {} generated file(s) on disk differ from what the generator produces now; the line counts and checks above measure the files on disk.\n",
                regen.stale_files
            );
        }
    }

    fn check_cell(&self, label: &str) -> String {
        match self.checks.get(label) {
            Some(Outcome::Measured(c)) if !c.wall.is_empty() => c.wall.describe(),
            Some(Outcome::Failed(_)) => "failed (see below)".to_owned(),
            _ => "skipped".to_owned(),
        }
    }

    fn check_detail(&self, out: &mut String) {
        if self.checks.0.is_empty() {
            return;
        }
        let _ = writeln!(out, "## `cargo check` detail\n");
        let _ = writeln!(
            out,
            "| crate and features | `cargo check` wall, median (min–max, n) | its rustc alone, median | peak rustc RSS (max of runs) | 1-min load before each run |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|");
        for (label, outcome) in &self.checks.0 {
            match outcome {
                Outcome::Measured(c) => {
                    let loads: Vec<String> = c.loads.iter().map(|l| format!("{l:.2}")).collect();
                    let _ = writeln!(
                        out,
                        "| {label} | {} | {} | {} | {} |",
                        c.wall.describe(),
                        c.rustc.describe(),
                        mib(c.peak_rss_kib),
                        loads.join(", ")
                    );
                }
                Outcome::Failed(why) => {
                    let first = why.lines().next().unwrap_or_default();
                    let _ = writeln!(out, "| {label} | failed: {first} | | | |");
                }
                Outcome::Skipped => {}
            }
        }
        let _ = writeln!(out);
        for (label, outcome) in &self.checks.0 {
            if let Outcome::Failed(why) = outcome {
                let _ = writeln!(out, "{label} failed:\n\n```text\n{why}\n```\n");
            }
        }
    }

    fn progenitor_notes(&self, out: &mut String) {
        let _ = writeln!(out, "## What progenitor needed\n");
        match &self.progenitor {
            Outcome::Measured(p) => {
                let _ = writeln!(
                    out,
                    "Stock progenitor 0.15 panics on this schema; the bench's pre-processor rewrote, before generating:\n\n{}",
                    p.rewrites
                );
            }
            Outcome::Failed(why) => {
                let _ = writeln!(
                    out,
                    "progenitor could not generate even after the rewrites; its figures above are quoted from issue 3, not measured:\n\n```text\n{why}\n```\n"
                );
            }
            Outcome::Skipped => {
                let _ = writeln!(out, "Skipped (`--skip-progenitor`).\n");
            }
        }
    }
}

fn method_notes(out: &mut String) {
    let _ = writeln!(
        out,
        "## How these were measured\n\n\
         - Regenerate: `posthog_codegen::generate_with_overlays` called in-process (release build) on the schema, `schema/overlays/`, public-API and throttle files `cargo xtask regenerate` reads; apply the overlays, parse, normalize, lower, emit and format, no file I/O.\n\
         - Lines: every `.rs` file under `generated/src/generated/`, `server/` counted separately; progenitor's is its one `lib.rs` after prettyplease. Non-blank lines in brackets.\n\
         - `cargo check` from scratch: a dedicated `CARGO_TARGET_DIR` under `target/bench/`, dependencies built once untimed, then `cargo clean -p <crate>` and a timed `cargo check -p <crate>` per run; configurations run round-robin, one at a time. Wall time includes cargo's start-up.\n\
         - Peak rustc RSS: cargo runs this benchmark binary as `RUSTC_WORKSPACE_WRAPPER`; it starts the crate's rustc, waits, and reads `getrusage(RUSAGE_CHILDREN).ru_maxrss` (its only child), the same figure as `/usr/bin/time -v`'s \"Maximum resident set size\".\n\
         - progenitor: 0.15 as a library (`InterfaceStyle::Positional`) on the rewritten schema; its regenerate time runs from the rewritten document's JSON text to formatted code (read into `openapiv3`, `generate_tokens`, prettyplease), as ours runs from the schema's bytes; the rewrites are not timed. Written to `target/bench/progenitor-client/` with its own `[workspace]` and lock file."
    );
}

fn lines(count: LineCount) -> String {
    format!(
        "{} ({} non-blank)",
        thousands(count.lines),
        thousands(count.non_blank)
    )
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn ratio(ours: Duration, theirs: Duration) -> String {
    if theirs.is_zero() {
        return String::new();
    }
    format!("{:.2}x", ours.as_secs_f64() / theirs.as_secs_f64())
}

/// `uptime`'s line: load averages over 1, 5 and 15 minutes and how long the machine has been up.
pub fn uptime() -> String {
    std::process::Command::new("uptime")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .or_else(|| {
            std::fs::read_to_string("/proc/loadavg")
                .ok()
                .map(|l| format!("loadavg {}", l.trim()))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(86_581), "86,581");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
