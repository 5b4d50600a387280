//! Peak memory of one rustc process: this binary wraps rustc (`RUSTC_WORKSPACE_WRAPPER`), waits
//! for it, and logs `getrusage(RUSAGE_CHILDREN).ru_maxrss`, which with a single child is exactly
//! that rustc's peak resident set.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// Set by the benchmark for the cargo it starts: the file the wrapper appends its records to.
pub const LOG_ENV: &str = "POSTHOG_API_BENCH_RSS_LOG";

/// One rustc invocation seen by the wrapper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustcRecord {
    /// The `--crate-name` rustc was given.
    pub crate_name: String,
    /// Peak resident set size of the rustc process, in KiB.
    pub peak_rss_kib: u64,
    /// Wall time of the rustc process alone (no cargo start-up or fingerprinting).
    pub wall: Duration,
}

/// Runs rustc and records it if this process was started as the wrapper; `None` otherwise.
///
/// Cargo calls a workspace wrapper as `WRAPPER RUSTC ARGS...`, only for workspace members, so
/// dependencies (prebuilt and excluded from the timing) never pass through here.
pub fn run_as_wrapper() -> Option<anyhow::Result<i32>> {
    let log = std::env::var_os(LOG_ENV)?;
    let mut args = std::env::args_os().skip(1);
    let rustc = args.next()?;
    let rest: Vec<_> = args.collect();
    Some(wrap(Path::new(&log), &rustc, &rest))
}

fn wrap(log: &Path, rustc: &std::ffi::OsStr, args: &[std::ffi::OsString]) -> anyhow::Result<i32> {
    let started = Instant::now();
    let status = Command::new(rustc)
        .args(args)
        .status()
        .with_context(|| format!("starting {}", rustc.to_string_lossy()))?;
    let wall = started.elapsed();
    let crate_name = args
        .iter()
        .position(|arg| arg == "--crate-name")
        .and_then(|at| args.get(at + 1))
        .map(|name| name.to_string_lossy().into_owned());
    // Probes such as `rustc -vV` name no crate and are not worth a record.
    if let (Some(crate_name), Some(peak_rss_kib)) = (crate_name, children_peak_rss_kib()) {
        let record = RustcRecord {
            crate_name,
            peak_rss_kib,
            wall,
        };
        append(log, &record)?;
    }
    // A rustc killed by a signal has no code; cargo only needs to see a failure.
    Ok(status.code().unwrap_or(101))
}

/// The largest peak RSS among this process's waited-for children, in KiB (Linux units).
fn children_peak_rss_kib() -> Option<u64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: the pointer is valid, aligned and large enough for the `rusage` getrusage writes.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: getrusage returned 0, so it filled the struct (which was zeroed before anyway).
    let usage = unsafe { usage.assume_init() };
    u64::try_from(usage.ru_maxrss).ok()
}

fn append(log: &Path, record: &RustcRecord) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    // One short write per line, so records from rustc processes running side by side stay whole.
    let line = format!(
        "{}\t{}\t{}\n",
        record.crate_name,
        record.peak_rss_kib,
        record.wall.as_millis()
    );
    file.write_all(line.as_bytes())
        .with_context(|| format!("writing {}", log.display()))
}

/// Reads the records a wrapped cargo run left in `log`; lines that do not parse are skipped.
pub fn read_log(log: &Path) -> anyhow::Result<Vec<RustcRecord>> {
    if !log.exists() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    Ok(text.lines().filter_map(parse_line).collect())
}

fn parse_line(line: &str) -> Option<RustcRecord> {
    let mut fields = line.split('\t');
    let crate_name = fields.next()?.to_owned();
    let peak_rss_kib = fields.next()?.parse().ok()?;
    let millis = fields.next()?.parse().ok()?;
    Some(RustcRecord {
        crate_name,
        peak_rss_kib,
        wall: Duration::from_millis(millis),
    })
}

/// This executable, to hand to cargo as the wrapper.
pub fn wrapper_exe() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("finding the benchmark's own executable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_round_trip() {
        assert_eq!(
            parse_line("posthog_api\t1048576\t1500"),
            Some(RustcRecord {
                crate_name: "posthog_api".to_owned(),
                peak_rss_kib: 1_048_576,
                wall: Duration::from_millis(1500),
            })
        );
        assert_eq!(parse_line("garbage"), None);
    }
}
