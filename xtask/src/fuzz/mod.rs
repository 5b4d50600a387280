//! `cargo xtask fuzz`: runs the generator on generated and mutated OpenAPI documents and reports
//! any panic, internal error, nondeterminism, abort (a stack overflow) or hang as a minimized
//! schema file.
//!
//! Cases are numbered; case `i` of seed `s` is always the same document, so a failure is
//! reproduced from `(s, i)` alone. The parent process runs cases in worker processes (one per
//! core) because a stack overflow aborts the whole process, even on its own thread: a worker
//! prints each case's number before running it, so when one dies the parent knows which case
//! killed it, records it, and starts a new worker after it. Each worker runs its cases on a
//! thread with a bounded stack (`--stack-kib`, default the 2 MiB of a spawned thread).

pub mod case;
mod grammar;
mod minimize;
mod mutate;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

pub use case::{Failure, Passed};

/// The real schemas mutated besides the grammar's documents, relative to the workspace root.
const CORPUS: &[&str] = &[
    "../shared/schemas/posthog-2025.json",
    "../shared/schemas/posthog-2023-11.yaml",
    "../shared/schemas/posthog-2023-02.yaml",
];

/// Every how many cases the output is generated twice and compared.
const DETERMINISM_EVERY: u64 = 16;

/// Arguments of `cargo xtask fuzz`.
#[derive(Debug, Clone, clap::Args)]
pub struct FuzzArgs {
    /// How many cases to run.
    #[arg(long, default_value_t = 10_000)]
    pub cases: u64,
    /// The seed: the same seed and case number always give the same document.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The first case number (to resume or re-run a range).
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// Worker processes (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Stack of the thread each case runs on, in KiB.
    #[arg(long, default_value_t = 2048)]
    pub stack_kib: usize,
    /// A case taking longer than this many seconds is a hang.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Where minimized failures are written.
    #[arg(long, default_value = "target/fuzz")]
    pub out: PathBuf,
    /// Leave out the mutated real schemas.
    #[arg(long)]
    pub no_corpus: bool,
    /// Internal: run cases `start..start + cases` in this process and report on stdout.
    #[arg(long, hide = true)]
    pub worker: bool,
    /// Run the generator on one schema file (exit code 1 on a failure): reproduces a failure.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
}

/// Counts of one run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Cases run.
    pub cases: u64,
    /// Cases that generated code.
    pub generated: u64,
    /// Cases refused with diagnostics.
    pub diagnosed: u64,
    /// Failing cases by number.
    pub failures: Vec<(u64, Failure)>,
    /// How many refused cases' first diagnostic starts with each message shape (its words
    /// before the first quote or colon), to show what the grammar reaches.
    pub refusals: std::collections::BTreeMap<String, u64>,
}

/// The shape of a diagnostic message: its words up to the first quoted or variable part.
fn message_shape(message: &str) -> String {
    let end = message
        .find(['`', ':', '"', '(', '{'])
        .unwrap_or(message.len())
        .min(60);
    let mut end = end;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message[..end].trim().to_owned()
}

/// Runs the command.
pub fn run(args: FuzzArgs) -> anyhow::Result<()> {
    if let Some(file) = &args.replay {
        return replay(file, args.stack_kib);
    }
    if args.worker {
        return worker(&args);
    }
    let root = crate::workspace_root();
    let started = Instant::now();
    let summary = supervise(&args)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "fuzz: {} cases (seed {}, from {}) in {seconds:.1} s: {:.0} cases/s; {} generated, {} refused with diagnostics, {} failures",
        summary.cases,
        args.seed,
        args.start,
        summary.cases as f64 / seconds.max(1e-9),
        summary.generated,
        summary.diagnosed,
        summary.failures.len()
    );
    let mut refusals: Vec<(&String, &u64)> = summary.refusals.iter().collect();
    refusals.sort_by_key(|(_, count)| std::cmp::Reverse(**count));
    for (shape, count) in refusals.iter().take(8) {
        println!("  refused {count:>8}: {shape} ...");
    }
    if summary.failures.is_empty() {
        return Ok(());
    }
    let corpus = load_corpus(&root, args.no_corpus);
    let out = root.join(&args.out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // One minimized file per distinct failure; the rest are listed.
    let mut seen = std::collections::BTreeSet::new();
    for (index, failure) in &summary.failures {
        println!("  case {index}: {}: {}", failure.kind(), failure.message());
        if !seen.insert((failure.kind(), failure.message())) || seen.len() > 10 {
            continue;
        }
        let (document, _) = case::document(args.seed, *index, &corpus);
        let minimized = minimize_failure(&document, failure, &args)?;
        let path = out.join(format!(
            "{}-seed{}-case{index}.json",
            failure.kind(),
            args.seed
        ));
        let text = serde_json::to_string_pretty(&minimized)?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("    minimized: {}", path.display());
    }
    bail!("{} failing case(s)", summary.failures.len())
}

/// Runs cases `start..start + cases` of `seed` on the calling thread, mutating the real schemas
/// in `corpus` (paths relative to the workspace root; missing ones are skipped). Aborts are not
/// caught here (they end the process): the generator's depth limits are what keeps them from
/// happening. For tests.
pub fn run_in_process(seed: u64, start: u64, cases: u64, corpus: &[&str]) -> Summary {
    let corpus = parse_corpus(&crate::workspace_root(), corpus);
    let mut summary = Summary::default();
    for index in start..start + cases {
        let (document, yaml) = case::document(seed, index, &corpus);
        let bytes = case::encode(&document, yaml);
        summary.cases += 1;
        match case::check(&bytes, index % DETERMINISM_EVERY == 0) {
            Ok(Passed::Generated) => summary.generated += 1,
            Ok(Passed::Diagnosed(message)) => {
                summary.diagnosed += 1;
                *summary.refusals.entry(message_shape(&message)).or_default() += 1;
            }
            Err(failure) => summary.failures.push((index, failure)),
        }
    }
    summary
}

/// The real schemas that exist beside the checkout, parsed.
fn load_corpus(root: &Path, skip: bool) -> Vec<mutate::Corpus> {
    if skip {
        return Vec::new();
    }
    parse_corpus(root, CORPUS)
}

/// The schemas at `paths` (relative to `root`) that exist, parsed.
fn parse_corpus(root: &Path, paths: &[&str]) -> Vec<mutate::Corpus> {
    paths
        .iter()
        .filter_map(|path| std::fs::read(root.join(path)).ok())
        .filter_map(|bytes| posthog_codegen::load::parse_value(&bytes).ok())
        .filter_map(|value| mutate::Corpus::new(&value))
        .collect()
}

/// Runs `body` on a thread with a stack of `stack_kib` KiB.
fn on_bounded_stack<T: Send + 'static>(
    stack_kib: usize,
    body: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    std::thread::Builder::new()
        .name("fuzz-case".to_owned())
        .stack_size(stack_kib * 1024)
        .spawn(body)
        .context("starting the case thread")?
        .join()
        .map_err(|_| anyhow::anyhow!("the case thread panicked outside a case"))
}

/// `--replay FILE`: one document through the same checks.
fn replay(file: &Path, stack_kib: usize) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    case::quiet_panics();
    let result = on_bounded_stack(stack_kib, move || case::check(&bytes, true))?;
    match result {
        Ok(passed) => {
            println!("{}: {passed:?}", file.display());
            Ok(())
        }
        Err(failure) => bail!(
            "{}: {}: {}",
            file.display(),
            failure.kind(),
            failure.message()
        ),
    }
}

/// `--worker`: runs a range of cases, printing `case N` before each one, then `ok generated`,
/// `ok diagnosed` or `fail N KIND MESSAGE` after it, and `done` at the end.
fn worker(args: &FuzzArgs) -> anyhow::Result<()> {
    let root = crate::workspace_root();
    let corpus = load_corpus(&root, args.no_corpus);
    case::quiet_panics();
    let (seed, start, cases) = (args.seed, args.start, args.cases);
    on_bounded_stack(args.stack_kib, move || -> anyhow::Result<()> {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for index in start..start + cases {
            writeln!(out, "case {index}")?;
            out.flush()?;
            let (document, yaml) = case::document(seed, index, &corpus);
            let bytes = case::encode(&document, yaml);
            match case::check(&bytes, index % DETERMINISM_EVERY == 0) {
                Ok(Passed::Generated) => writeln!(out, "ok generated")?,
                Ok(Passed::Diagnosed(message)) => writeln!(
                    out,
                    "ok diagnosed {}",
                    message_shape(&message).replace('\n', " ")
                )?,
                Err(failure) => {
                    writeln!(out, "fail {index} {} {}", failure.kind(), failure.message())?
                }
            }
        }
        writeln!(out, "done")?;
        out.flush()?;
        Ok(())
    })?
}

/// Runs the cases in worker processes, restarting a worker after the case that killed it.
fn supervise(args: &FuzzArgs) -> anyhow::Result<Summary> {
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1) as u64;
    let per_job = args.cases.div_ceil(jobs);
    let exe = std::env::current_exe().context("finding the xtask binary")?;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut handles = Vec::new();
    for job in 0..jobs {
        let start = args.start + job * per_job;
        let end = (start + per_job).min(args.start + args.cases);
        if start >= end {
            continue;
        }
        let args = args.clone();
        let exe = exe.clone();
        let done = done.clone();
        handles.push(std::thread::spawn(move || {
            run_range(&exe, &args, start, end, &done)
        }));
    }
    // Progress on stderr now and then, for long runs.
    let started = Instant::now();
    let mut reported = Instant::now();
    while !handles.iter().all(|handle| handle.is_finished()) {
        std::thread::sleep(Duration::from_millis(200));
        if reported.elapsed() >= Duration::from_secs(30) {
            reported = Instant::now();
            let cases = done.load(std::sync::atomic::Ordering::Relaxed);
            eprintln!(
                "fuzz: {cases} of {} cases, {:.0} cases/s",
                args.cases,
                cases as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let mut summary = Summary::default();
    for handle in handles {
        let part = handle
            .join()
            .map_err(|_| anyhow::anyhow!("a supervisor thread panicked"))??;
        summary.cases += part.cases;
        summary.generated += part.generated;
        summary.diagnosed += part.diagnosed;
        summary.failures.extend(part.failures);
        for (shape, count) in part.refusals {
            *summary.refusals.entry(shape).or_default() += count;
        }
    }
    summary.failures.sort_by_key(|(index, _)| *index);
    Ok(summary)
}

/// Runs cases `start..end` in a worker, and in a new one after each case that kills a worker.
fn run_range(
    exe: &Path,
    args: &FuzzArgs,
    mut start: u64,
    end: u64,
    done: &std::sync::atomic::AtomicU64,
) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    while start < end {
        let mut command = Command::new(exe);
        command
            .args(["fuzz", "--worker", "--seed", &args.seed.to_string()])
            .args([
                "--start",
                &start.to_string(),
                "--cases",
                &(end - start).to_string(),
            ])
            .args(["--stack-kib", &args.stack_kib.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if args.no_corpus {
            command.arg("--no-corpus");
        }
        let mut child = command.spawn().context("starting a fuzz worker")?;
        let stdout = child.stdout.take().context("the worker's stdout")?;
        let (lines, receive) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut current: Option<u64> = None;
        let mut finished = false;
        let timeout = Duration::from_secs(args.timeout);
        loop {
            match receive.recv_timeout(timeout) {
                Ok(Ok(line)) => {
                    let mut words = line.splitn(4, ' ');
                    match (words.next(), words.next(), words.next(), words.next()) {
                        (Some("case"), Some(index), _, _) => {
                            current = index.parse().ok();
                            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        (Some("ok"), Some("generated"), _, _) => {
                            summary.cases += 1;
                            summary.generated += 1;
                        }
                        (Some("ok"), Some(_), first, rest) => {
                            summary.cases += 1;
                            summary.diagnosed += 1;
                            let shape = [first.unwrap_or_default(), rest.unwrap_or_default()]
                                .join(" ")
                                .trim()
                                .to_owned();
                            *summary.refusals.entry(shape).or_default() += 1;
                        }
                        (Some("fail"), Some(index), Some(kind), message) => {
                            let message = message.unwrap_or_default().to_owned();
                            let failure = match kind {
                                "panic" => Failure::Panic(message),
                                "internal-error" => Failure::InternalError(message),
                                _ => Failure::Nondeterministic,
                            };
                            summary.cases += 1;
                            summary.failures.push((index.parse().unwrap_or(0), failure));
                        }
                        (Some("done"), _, _, _) => finished = true,
                        _ => {}
                    }
                }
                Ok(Err(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    if let Some(index) = current {
                        summary.cases += 1;
                        summary.failures.push((
                            index,
                            Failure::Hang(format!("no answer within {} s", args.timeout)),
                        ));
                    }
                    break;
                }
            }
        }
        let status = child.wait().context("waiting for a fuzz worker")?;
        if finished {
            break;
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        let Some(index) = current else {
            bail!("a fuzz worker died before its first case ({status}): {stderr}");
        };
        if !summary.failures.iter().any(|(i, _)| *i == index) {
            summary.cases += 1;
            let last_line = stderr.lines().last().unwrap_or_default().to_owned();
            summary
                .failures
                .push((index, Failure::Abort(format!("{status}: {last_line}"))));
        }
        start = index + 1;
    }
    Ok(summary)
}

/// Shrinks a failing document while it still fails the same way: in this process for panics
/// and internal errors, through `--replay` in a child for aborts and hangs.
fn minimize_failure(document: &Value, failure: &Failure, args: &FuzzArgs) -> anyhow::Result<Value> {
    match failure {
        Failure::Abort(_) | Failure::Hang(_) => {
            let exe = std::env::current_exe().context("finding the xtask binary")?;
            let scratch = crate::workspace_root()
                .join(&args.out)
                .join("candidate.json");
            if let Some(parent) = scratch.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let timeout = args.timeout;
            let stack = args.stack_kib;
            let minimized = minimize::minimize(document, 200, |candidate| {
                let Ok(text) = serde_json::to_vec(candidate) else {
                    return false;
                };
                if std::fs::write(&scratch, text).is_err() {
                    return false;
                }
                replay_dies(&exe, &scratch, stack, timeout)
            });
            let _ = std::fs::remove_file(&scratch);
            Ok(minimized)
        }
        _ => {
            case::quiet_panics();
            let wanted = failure.clone();
            let document = document.clone();
            on_bounded_stack(args.stack_kib.max(8192), move || {
                minimize::minimize(&document, 3000, |candidate| {
                    let Ok(bytes) = serde_json::to_vec(candidate) else {
                        return false;
                    };
                    let twice = matches!(wanted, Failure::Nondeterministic);
                    match (case::check(&bytes, twice), &wanted) {
                        (Err(Failure::Panic(a)), Failure::Panic(b)) => same_place(&a, b),
                        (Err(found), wanted) => found.kind() == wanted.kind(),
                        (Ok(_), _) => false,
                    }
                })
            })
        }
    }
}

/// Whether two panic messages come from the same place (`... at file:line`).
fn same_place(a: &str, b: &str) -> bool {
    a.rsplit(" at ").next() == b.rsplit(" at ").next()
}

/// Whether `--replay file` dies (a signal) or outlives `timeout` seconds.
fn replay_dies(exe: &Path, file: &Path, stack_kib: usize, timeout: u64) -> bool {
    let Ok(mut child) = Command::new(exe)
        .args(["fuzz", "--stack-kib", &stack_kib.to_string(), "--replay"])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code().is_none(),
            Ok(None) if started.elapsed() > Duration::from_secs(timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                return true;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => return false,
        }
    }
}
