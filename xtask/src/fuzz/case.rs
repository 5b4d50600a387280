//! One fuzz case: the document made from `(seed, index)`, and the checks run on the generator's
//! answer to it (no panic, no internal error, the same output twice).

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use serde_json::Value;

use super::grammar::Grammar;
use super::mutate::Corpus;

/// How a case went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The generator panicked (message and location).
    Panic(String),
    /// The generator reported a bug of its own (`Kind::GeneratorBug`): e.g. it emitted code
    /// that does not parse.
    InternalError(String),
    /// Two runs on the same bytes gave different output.
    Nondeterministic,
    /// The process died (a stack overflow aborts it).
    Abort(String),
    /// The case took longer than allowed.
    Hang(String),
}

impl Failure {
    /// A short name for file names and summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Panic(_) => "panic",
            Failure::InternalError(_) => "internal-error",
            Failure::Nondeterministic => "nondeterministic",
            Failure::Abort(_) => "abort",
            Failure::Hang(_) => "hang",
        }
    }

    /// What happened, on one line.
    pub fn message(&self) -> String {
        match self {
            Failure::Panic(message)
            | Failure::InternalError(message)
            | Failure::Abort(message)
            | Failure::Hang(message) => message.replace('\n', " "),
            Failure::Nondeterministic => "two runs gave different output".to_owned(),
        }
    }
}

/// What a passing case did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passed {
    /// Generated code.
    Generated,
    /// Refused the input with diagnostics; the first one's message.
    Diagnosed(String),
}

/// The document of case `index` under `seed`: mostly from the grammar, sometimes a mutated
/// slice of a real schema; as JSON or (now and then) YAML bytes.
pub fn document(seed: u64, index: u64, corpus: &[Corpus]) -> (Value, bool) {
    let mut rng = Pcg64::seed_from_u64(splitmix(seed) ^ splitmix(index.wrapping_add(1)));
    let value = if !corpus.is_empty() && rng.random_bool(0.15) {
        let source = &corpus[rng.random_range(0..corpus.len())];
        source.mutant(&mut rng)
    } else {
        Grammar::new(&mut rng).document()
    };
    let yaml = rng.random_bool(0.1);
    (value, yaml)
}

/// Bytes of a document, as JSON or YAML.
pub fn encode(value: &Value, yaml: bool) -> Vec<u8> {
    if yaml && let Ok(text) = serde_yaml::to_string(value) {
        return text.into_bytes();
    }
    serde_json::to_vec(value).unwrap_or_default()
}

/// A well-mixed 64-bit value, so neighbouring seeds and indices give unrelated streams.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

thread_local! {
    /// The last panic's message on this thread, recorded by [`quiet_panics`]'s hook.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the panic hook with one that records the message instead of printing it, so a
/// fuzz run's output is its summary. Call once per process.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        LAST_PANIC.with(|last| *last.borrow_mut() = Some(format!("{payload}{location}")));
    }));
}

/// Runs the generator on `bytes` and checks its answer; `twice` also checks determinism.
pub fn check(bytes: &[u8], twice: bool) -> Result<Passed, Failure> {
    let run = || {
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            posthog_codegen::generate(
                &posthog_codegen::Input {
                    source: "fuzz".to_owned(),
                    bytes,
                },
                None,
                None,
                "cargo xtask fuzz",
            )
        }))
    };
    let first = run().map_err(|_| {
        Failure::Panic(
            LAST_PANIC
                .with(|last| last.borrow_mut().take())
                .unwrap_or_else(|| "a panic".to_owned()),
        )
    })?;
    match first {
        Ok(output) => {
            if twice {
                let again =
                    run().map_err(|_| Failure::Panic("a panic on the second run".into()))?;
                match again {
                    Ok(second) if second.files == output.files => {}
                    _ => return Err(Failure::Nondeterministic),
                }
            }
            // The emitter writes text: a file syn cannot read is the generator's bug (schema
            // text that escaped its literal or comment, a name that is not an identifier).
            for (path, text) in &output.files {
                if let Err(error) = syn::parse_file(text) {
                    return Err(Failure::InternalError(format!(
                        "the generated {path} does not parse: {error}"
                    )));
                }
            }
            Ok(Passed::Generated)
        }
        Err(diagnostics) => {
            if let Some(internal) = diagnostics
                .0
                .iter()
                .find(|d| d.kind == posthog_codegen::diagnostic::Kind::GeneratorBug)
            {
                return Err(Failure::InternalError(internal.to_string()));
            }
            let first = diagnostics.0.first().map(|d| d.message.clone());
            Ok(Passed::Diagnosed(first.unwrap_or_default()))
        }
    }
}
