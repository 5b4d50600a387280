//! Diagnostics: what is wrong with the input, in which document and where in it (a JSON
//! pointer), and the context that collects them with the pass counts and must be checked.

use std::fmt;

use crate::report::Report;

/// The document a diagnostic points into.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Source {
    /// PostHog's schema, the main document (the default).
    #[default]
    Schema,
    /// Our description of the public endpoints (`schema/public-api.yaml`), merged into it.
    PublicDocument,
    /// An overlay file (`schema/overlays/10-query.yaml`), and the action the pointer is in.
    Overlay {
        /// The overlay's path as given to the generator.
        file: String,
        /// The index of the action, when the problem is inside one.
        action: Option<usize>,
    },
    /// The throttle-scope table (`schema/throttle-scopes.toml`), and the line when known.
    ThrottleTable {
        /// 1-based line.
        line: Option<usize>,
    },
    /// The generator itself: not a problem of the input (see [`Kind::GeneratorBug`]).
    Generator,
}

impl Source {
    /// The overlay `file`, with the action read from a pointer such as `#/actions/2/target`.
    pub fn overlay(file: &str, pointer: &str) -> Source {
        let action = pointer
            .strip_prefix("#/actions/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|index| index.parse().ok());
        Source::Overlay {
            file: file.to_owned(),
            action,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Schema => f.write_str("the schema"),
            Source::PublicDocument => f.write_str(crate::merge::PUBLIC_DOCUMENT),
            Source::Overlay { file, .. } => f.write_str(file),
            Source::ThrottleTable { line: Some(line) } => {
                write!(f, "{}:{line}", crate::throttle::TABLE_PATH)
            }
            Source::ThrottleTable { line: None } => f.write_str(crate::throttle::TABLE_PATH),
            Source::Generator => f.write_str("the generator"),
        }
    }
}

/// Whether the input or the generator is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Kind {
    /// Something in an input document that the generator cannot use.
    #[default]
    Input,
    /// A generator bug (an invariant broken, such as a phase stopping without a diagnostic): no
    /// input change is the fix, and the message says to report it.
    GeneratorBug,
}

/// One problem found in the input documents, or in the generator.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// Whether the input or the generator is at fault.
    pub kind: Kind,
    /// The document `pointer` points into.
    pub source: Source,
    /// JSON pointer into `source`, e.g. `#/paths/~1api~1projects~1/get/responses/200` (empty
    /// for the throttle table, whose place is a line).
    pub pointer: String,
    /// What was expected and what was found.
    pub message: String,
}

impl Diagnostic {
    /// A problem at `pointer` in PostHog's schema, the main document.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self::in_source(Source::Schema, pointer, message)
    }

    /// A problem at `pointer` in `source`.
    pub fn in_source(
        source: Source,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind: Kind::Input,
            source,
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// A generator bug, with the place it was found (a generated file, a pass).
    pub fn bug(place: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: Kind::GeneratorBug,
            source: Source::Generator,
            pointer: place.into(),
            message: message.into(),
        }
    }

    /// The same problem, pointing into `source`.
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Diagnostic {
            kind,
            source,
            pointer,
            message,
        } = self;
        match (kind, source) {
            (Kind::GeneratorBug, _) => write!(
                f,
                "generator bug at {pointer} (not a problem of the schema; please report it): {message}"
            ),
            // The main document's pointers read as before: `#/paths/...: message`.
            (Kind::Input, Source::Schema) => write!(f, "{pointer}: {message}"),
            (Kind::Input, source) => write!(f, "{source}{pointer}: {message}"),
        }
    }
}

/// Every problem found in one phase. A phase that produced any stops the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Every diagnostic pointing into `source` instead (a whole document read for another role).
    pub fn with_source(self, source: Source) -> Self {
        Diagnostics(
            self.0
                .into_iter()
                .map(|d| d.with_source(source.clone()))
                .collect(),
        )
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        let only_schema = self.0.iter().all(|d| d.source == Source::Schema);
        writeln!(
            f,
            "{count} problem{} in the {}:",
            if count == 1 { "" } else { "s" },
            if only_schema { "schema" } else { "inputs" }
        )?;
        for diagnostic in &self.0 {
            writeln!(f, "  {diagnostic}")?;
        }
        Ok(())
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Diagnostics(vec![diagnostic])
    }
}

/// The context one generator run collects into: diagnostics of every phase and the counts of
/// every normalization pass. It must be consumed by [`Ctxt::check`], which turns it into the
/// report or the diagnostics; a context dropped unchecked is a generator bug (a phase whose
/// diagnostics nobody looked at), and debug builds panic on it, as serde_derive's `Ctxt` does.
///
/// Why a check in `Drop` and not only `#[must_use]`: `#[must_use]` is satisfied as soon as the
/// context is bound to a variable, and a context is always bound (every phase borrows it), so
/// it would not notice an early return that drops it. The `Drop` check sees every path the
/// tests and the fuzzer drive; release builds skip it, so no input can make it panic there.
#[must_use = "a Ctxt must be consumed by check(), or its diagnostics are lost"]
#[derive(Debug, Default)]
pub struct Ctxt {
    diagnostics: Vec<Diagnostic>,
    report: Report,
    checked: bool,
}

impl Ctxt {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one diagnostic.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// The value of a phase that returns its own diagnostics: `Some` on success, `None` (with
    /// the diagnostics recorded) on failure, so the caller stops at the first failing phase.
    pub fn take<T>(&mut self, result: Result<T, Diagnostics>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(diagnostics) => {
                self.diagnostics.extend(diagnostics.0);
                None
            }
        }
    }

    /// The pass counts so far.
    pub fn report(&mut self) -> &mut Report {
        &mut self.report
    }

    /// Both halves, for a pass that records diagnostics and counts at once.
    pub fn parts(&mut self) -> (&mut Vec<Diagnostic>, &mut Report) {
        (&mut self.diagnostics, &mut self.report)
    }

    /// Whether any diagnostic was recorded.
    pub fn has_diagnostics(&self) -> bool {
        !self.diagnostics.is_empty()
    }

    /// Consumes the context: the pass counts when nothing was reported, else every diagnostic,
    /// sorted and without repeats.
    pub fn check(mut self) -> Result<Report, Diagnostics> {
        self.checked = true;
        let mut diagnostics = std::mem::take(&mut self.diagnostics);
        let report = std::mem::take(&mut self.report);
        if diagnostics.is_empty() {
            return Ok(report);
        }
        diagnostics.sort();
        diagnostics.dedup();
        Err(Diagnostics(diagnostics))
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if cfg!(debug_assertions) && !self.checked && !std::thread::panicking() {
            panic!(
                "generator bug: a diagnostics context was dropped without check() ({} diagnostic(s) unseen)",
                self.diagnostics.len()
            );
        }
    }
}

/// Escapes one JSON pointer segment (RFC 6901: `~` is `~0`, `/` is `~1`).
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Builds a pointer from segments, escaping each one.
pub fn pointer<I, S>(segments: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = String::from("#");
    for segment in segments {
        out.push('/');
        out.push_str(&escape_segment(segment.as_ref()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_sorts_and_dedups_and_returns_the_counts() {
        let mut cx = Ctxt::new();
        cx.report().touch("pass", "#/a");
        assert_eq!(cx.check().map(|r| r.count("pass")), Ok(1));
        let mut cx = Ctxt::new();
        cx.push(Diagnostic::new("#/b", "two"));
        cx.push(Diagnostic::new("#/a", "one"));
        cx.push(Diagnostic::new("#/b", "two"));
        let found = cx.check().err().map(|d| d.0).unwrap_or_default();
        let pointers: Vec<&str> = found.iter().map(|d| d.pointer.as_str()).collect();
        assert_eq!(pointers, ["#/a", "#/b"]);
    }

    /// A context nobody checked is a generator bug that debug builds (every test and the fuzzer)
    /// catch wherever it happens.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "dropped without check()")]
    fn an_unchecked_context_panics_in_debug_builds() {
        let mut cx = Ctxt::new();
        cx.push(Diagnostic::new("#", "lost"));
        drop(cx);
    }

    #[test]
    fn an_overlay_source_reads_the_action_from_the_pointer() {
        let at = |pointer: &str| Source::overlay("o.yaml", pointer);
        let action = |source: Source| match source {
            Source::Overlay { action, .. } => action,
            _ => None,
        };
        assert_eq!(action(at("#/actions/12/target")), Some(12));
        assert_eq!(action(at("#/actions/3")), Some(3));
        assert_eq!(action(at("#/info/title")), None);
    }
}
