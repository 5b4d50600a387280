//! The throttle-scope table (`schema/throttle-scopes.toml`): which PostHog rate-limit scopes each
//! operation falls under, and each scope's budget.
//!
//! The table is data, not code, so a change to PostHog's limits is a reviewed one-line edit and
//! the whole mapping is snapshotted by `codegen/tests/throttle.rs`. Resolution is deterministic:
//! rules are tried in file order and the first match wins; the `[default]` scopes apply otherwise.

use std::collections::BTreeSet;

use crate::ir::ThrottleLimit;

use serde::Deserialize;
use toml::Spanned;

/// Where the table lives, relative to the workspace root.
pub const TABLE_PATH: &str = "schema/throttle-scopes.toml";

/// A parsed and validated throttle table.
#[derive(Debug, Clone)]
pub struct ThrottleTable {
    limits: Vec<ThrottleLimit>,
    rules: Vec<Rule>,
    default_scopes: Vec<String>,
}

/// Which rule decided an operation's scopes, and what they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution<'a> {
    /// The matching rule's name, or `None` when the default applied.
    pub rule: Option<&'a str>,
    /// The scopes, in table order; empty means the operation is not throttled.
    pub scopes: &'a [String],
}

/// Why a table could not be used. Every variant names the rule or scope, and [`line`] its line
/// (the diagnostic's source names the file and line, so the messages do not repeat them).
///
/// [`line`]: ThrottleTableError::line
#[derive(Debug, thiserror::Error)]
pub enum ThrottleTableError {
    /// The text is not TOML of the expected shape.
    #[error("{message}")]
    Syntax {
        /// 1-based line of the problem, 0 when TOML did not say.
        line: usize,
        /// What the TOML parser expected.
        message: String,
    },
    /// The table declares a version this code does not understand.
    #[error("version {found} is not supported (expected 1)")]
    Version {
        /// The version written in the file.
        found: u32,
    },
    /// Two scopes share a name.
    #[error("scope `{scope}` is declared twice")]
    DuplicateScope {
        /// The repeated name.
        scope: String,
        /// Line of the second declaration.
        line: usize,
    },
    /// A scope allows zero requests or has a zero-length period.
    #[error("scope `{scope}` needs requests > 0 and period_seconds > 0")]
    EmptyBudget {
        /// The scope at fault.
        scope: String,
        /// Its line.
        line: usize,
    },
    /// Two rules share a name, so snapshots and diagnostics could not tell them apart.
    #[error("rule `{rule}` is declared twice")]
    DuplicateRule {
        /// The repeated name.
        rule: String,
        /// Line of the second declaration.
        line: usize,
    },
    /// A rule (or the default, named `default`) refers to a scope the table does not declare.
    #[error("rule `{rule}` uses undeclared scope `{scope}`")]
    UnknownScope {
        /// The rule at fault.
        rule: String,
        /// The undeclared scope.
        scope: String,
        /// The rule's line.
        line: usize,
    },
    /// A rule selects nothing: it has neither `paths` nor `operation_ids`.
    #[error("rule `{rule}` has neither paths nor operation_ids")]
    EmptyRule {
        /// The rule at fault.
        rule: String,
        /// Its line.
        line: usize,
    },
    /// A path pattern cannot be compiled.
    #[error("rule `{rule}` has an invalid path pattern `{pattern}`: {reason}")]
    BadPattern {
        /// The rule at fault.
        rule: String,
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
        /// The rule's line.
        line: usize,
    },
    /// The default names no scope: every operation must be throttled by something unless a rule
    /// says otherwise explicitly.
    #[error("[default] must list at least one scope")]
    EmptyDefault,
}

impl ThrottleTableError {
    /// The 1-based line of the problem, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ThrottleTableError::Syntax { line, .. }
            | ThrottleTableError::DuplicateScope { line, .. }
            | ThrottleTableError::EmptyBudget { line, .. }
            | ThrottleTableError::DuplicateRule { line, .. }
            | ThrottleTableError::UnknownScope { line, .. }
            | ThrottleTableError::EmptyRule { line, .. }
            | ThrottleTableError::BadPattern { line, .. } => Some(*line).filter(|line| *line > 0),
            ThrottleTableError::Version { .. } | ThrottleTableError::EmptyDefault => None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    version: u32,
    #[serde(default)]
    scope: Vec<RawScope>,
    #[serde(default)]
    rule: Vec<RawRule>,
    default: RawDefault,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    name: Spanned<String>,
    requests: u32,
    period_seconds: u64,
    // Kept in the file for reviewers; the code does not need it.
    #[allow(dead_code)]
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    operation_ids: Vec<String>,
    scopes: Vec<String>,
    #[allow(dead_code)]
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefault {
    scopes: Vec<String>,
    #[allow(dead_code)]
    source: String,
}

#[derive(Debug, Clone)]
struct Rule {
    name: String,
    patterns: Vec<Pattern>,
    /// Upper-case methods; empty means any method.
    methods: Vec<String>,
    operation_ids: Vec<String>,
    scopes: Vec<String>,
}

/// A compiled path pattern: one matcher per segment.
#[derive(Debug, Clone)]
struct Pattern {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    /// `*`: any one segment.
    Any,
    /// `**` at the end: any number of segments, none included.
    Rest,
    /// One of these literals (`a|b`, or just `a`).
    Literal(Vec<String>),
}

impl ThrottleTable {
    /// Parses and validates the table's text.
    pub fn parse(text: &str) -> Result<ThrottleTable, ThrottleTableError> {
        let raw: RawTable = toml::from_str(text).map_err(|error| ThrottleTableError::Syntax {
            line: error.span().map_or(0, |span| line_of(text, span.start)),
            message: error.message().to_owned(),
        })?;
        if raw.version != 1 {
            return Err(ThrottleTableError::Version { found: raw.version });
        }

        let mut declared = BTreeSet::new();
        let mut limits = Vec::with_capacity(raw.scope.len());
        for scope in raw.scope {
            let line = line_of(text, scope.name.span().start);
            let name = scope.name.into_inner();
            if scope.requests == 0 || scope.period_seconds == 0 {
                return Err(ThrottleTableError::EmptyBudget { scope: name, line });
            }
            if !declared.insert(name.clone()) {
                return Err(ThrottleTableError::DuplicateScope { scope: name, line });
            }
            limits.push(ThrottleLimit {
                scope: name,
                requests: scope.requests,
                period_seconds: scope.period_seconds,
            });
        }

        let mut rule_names = BTreeSet::new();
        let mut rules = Vec::with_capacity(raw.rule.len());
        for rule in raw.rule {
            let line = line_of(text, rule.name.span().start);
            let name = rule.name.into_inner();
            if !rule_names.insert(name.clone()) {
                return Err(ThrottleTableError::DuplicateRule { rule: name, line });
            }
            if rule.paths.is_empty() && rule.operation_ids.is_empty() {
                return Err(ThrottleTableError::EmptyRule { rule: name, line });
            }
            check_scopes(&declared, &name, &rule.scopes, line)?;
            let mut patterns = Vec::with_capacity(rule.paths.len());
            for pattern in &rule.paths {
                patterns.push(Pattern::compile(pattern).map_err(|reason| {
                    ThrottleTableError::BadPattern {
                        rule: name.clone(),
                        pattern: pattern.clone(),
                        reason,
                        line,
                    }
                })?);
            }
            rules.push(Rule {
                name,
                patterns,
                methods: rule
                    .methods
                    .iter()
                    .map(|m| m.to_ascii_uppercase())
                    .collect(),
                operation_ids: rule.operation_ids,
                scopes: rule.scopes,
            });
        }

        if raw.default.scopes.is_empty() {
            return Err(ThrottleTableError::EmptyDefault);
        }
        let default_line = text.find("[default]").map_or(0, |at| line_of(text, at));
        check_scopes(&declared, "default", &raw.default.scopes, default_line)?;

        Ok(ThrottleTable {
            limits,
            rules,
            default_scopes: raw.default.scopes,
        })
    }

    /// Every scope's budget, in table order.
    pub fn limits(&self) -> &[ThrottleLimit] {
        &self.limits
    }

    /// The scopes an operation falls under; empty means it is not throttled.
    ///
    /// `method` is compared case-insensitively; `path` is the schema's path template
    /// (`/api/projects/{project_id}/insights/`); an operation matches a rule when its id is in the
    /// rule's `operation_ids`, or its path matches one of the rule's `paths` and its method is in
    /// `methods` (or the rule lists none). The first matching rule in file order wins.
    pub fn scopes_for(&self, method: &str, path: &str, operation_id: &str) -> Vec<String> {
        self.resolve(method, path, operation_id).scopes.to_vec()
    }

    /// Like [`Self::scopes_for`], and also says which rule decided.
    pub fn resolve(&self, method: &str, path: &str, operation_id: &str) -> Resolution<'_> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        for rule in &self.rules {
            if rule.matches(method, &segments, operation_id) {
                return Resolution {
                    rule: Some(&rule.name),
                    scopes: &rule.scopes,
                };
            }
        }
        Resolution {
            rule: None,
            scopes: &self.default_scopes,
        }
    }
}

impl Rule {
    fn matches(&self, method: &str, segments: &[&str], operation_id: &str) -> bool {
        if self.operation_ids.iter().any(|id| id == operation_id) {
            return true;
        }
        let method_ok =
            self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method));
        method_ok
            && self
                .patterns
                .iter()
                .any(|pattern| pattern.matches(segments))
    }
}

impl Pattern {
    fn compile(text: &str) -> Result<Pattern, &'static str> {
        if !text.starts_with('/') {
            return Err("patterns start with `/`");
        }
        let parts: Vec<&str> = text.split('/').filter(|s| !s.is_empty()).collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (index, part) in parts.iter().enumerate() {
            let segment = match *part {
                "**" if index + 1 == parts.len() => Segment::Rest,
                "**" => return Err("`**` is only allowed as the last segment"),
                "*" => Segment::Any,
                literal if literal.contains('*') => return Err("`*` must be a whole segment"),
                literal => {
                    let options: Vec<String> = literal.split('|').map(str::to_owned).collect();
                    if options.iter().any(String::is_empty) {
                        return Err("`|` separates non-empty alternatives");
                    }
                    Segment::Literal(options)
                }
            };
            segments.push(segment);
        }
        Ok(Pattern { segments })
    }

    fn matches(&self, path: &[&str]) -> bool {
        let mut rest = path;
        for segment in &self.segments {
            match segment {
                Segment::Rest => return true,
                Segment::Any => match rest.split_first() {
                    Some((_, tail)) => rest = tail,
                    None => return false,
                },
                Segment::Literal(options) => match rest.split_first() {
                    Some((head, tail)) if options.iter().any(|o| o == head) => rest = tail,
                    _ => return false,
                },
            }
        }
        rest.is_empty()
    }
}

fn check_scopes(
    declared: &BTreeSet<String>,
    rule: &str,
    scopes: &[String],
    line: usize,
) -> Result<(), ThrottleTableError> {
    match scopes.iter().find(|scope| !declared.contains(*scope)) {
        Some(scope) => Err(ThrottleTableError::UnknownScope {
            rule: rule.to_owned(),
            scope: scope.clone(),
            line,
        }),
        None => Ok(()),
    }
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
version = 1
[[scope]]
name = "a"
requests = 1
period_seconds = 1
source = "x"
[[rule]]
name = "r"
paths = ["/api/projects|environments/*/things/**"]
methods = ["get"]
scopes = ["a"]
source = "x"
[default]
scopes = ["a"]
source = "x"
"#;

    #[test]
    fn first_rule_then_default() {
        let table = ThrottleTable::parse(SMALL).map_err(|e| e.to_string());
        let table = match table {
            Ok(table) => table,
            Err(error) => panic!("{error}"),
        };
        let hit = table.resolve("GET", "/api/environments/{project_id}/things/{id}/", "x");
        assert_eq!(hit.rule, Some("r"));
        assert_eq!(
            table.resolve("POST", "/api/projects/1/things/", "x").rule,
            None
        );
        assert_eq!(
            table.resolve("GET", "/api/projects/1/thing/", "x").rule,
            None
        );
    }

    #[test]
    fn errors_name_rule_and_line() {
        let bad = SMALL.replace(
            "scopes = [\"a\"]\nsource = \"x\"\n[default]",
            "scopes = [\"b\"]\nsource = \"x\"\n[default]",
        );
        let found = ThrottleTable::parse(&bad)
            .map(|_| ())
            .map_err(|e| (e.line(), e.to_string()));
        assert_eq!(
            found,
            Err((Some(9), "rule `r` uses undeclared scope `b`".to_owned()))
        );
        let bad = SMALL.replace("/**", "/**/x");
        assert!(matches!(
            ThrottleTable::parse(&bad),
            Err(ThrottleTableError::BadPattern { line: 9, .. })
        ));
        let bad = SMALL.replace("requests = 1", "requests = \"1\"");
        assert!(matches!(
            ThrottleTable::parse(&bad),
            Err(ThrottleTableError::Syntax { line: 5, .. })
        ));
    }
}
