//! One property filter against the properties a call passed, with PostHog's exact operator
//! semantics (posthog-python 7.91 `feature_flags.py` `match_property` and
//! `TestMatchProperties`): equality with boolean and JSON-text rules, ASCII case-insensitive
//! text operators, regex, numeric comparison, dates (absolute and relative) and semver.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::definitions::{Filter, RegexState};
use super::values;
use super::{Inconclusive, Unresolved};

const OPERATORS: &[&str] = &[
    "exact",
    "is_not",
    "is_set",
    "is_not_set",
    "icontains",
    "not_icontains",
    "regex",
    "not_regex",
    "starts_with",
    "not_starts_with",
    "ends_with",
    "not_ends_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_date_before",
    "is_date_after",
    "semver_eq",
    "semver_neq",
    "semver_gt",
    "semver_gte",
    "semver_lt",
    "semver_lte",
    "semver_tilde",
    "semver_caret",
    "semver_wildcard",
];

const TEXT_OPERATORS: &[&str] = &[
    "icontains",
    "not_icontains",
    "starts_with",
    "not_starts_with",
    "ends_with",
    "not_ends_with",
];

fn unsupported() -> Inconclusive {
    Inconclusive::new(Unresolved::UnsupportedDefinition)
}

fn missing() -> Inconclusive {
    Inconclusive::new(Unresolved::MissingContext)
}

/// Whether `properties` match `filter`. A property the call did not pass is missing context,
/// unless the filter itself is unusable, which outranks it.
pub(super) fn match_property(
    filter: &Filter,
    properties: &Map<String, Value>,
    matching_version: i64,
    now: DateTime<Utc>,
) -> Result<bool, Inconclusive> {
    match match_value(filter, properties, matching_version, now) {
        Err(error) if error.reason == Unresolved::MissingContext => {
            check_filter(filter, now)?;
            Err(error)
        }
        other => other,
    }
}

fn match_value(
    filter: &Filter,
    properties: &Map<String, Value>,
    matching_version: i64,
    now: DateTime<Utc>,
) -> Result<bool, Inconclusive> {
    let operator = filter.operator.as_str();
    if !OPERATORS.contains(&operator) {
        return Err(unsupported());
    }
    let Some(actual) = filter.key.as_deref().and_then(|key| properties.get(key)) else {
        return Err(missing());
    };
    match operator {
        "is_set" => return Ok(true),
        "is_not_set" => return Ok(false),
        "gt" | "gte" | "lt" | "lte" => return numeric(operator, &filter.value, actual),
        _ => {}
    }
    let null_allowed = operator == "is_not" || operator == "exact" || is_string_operator(operator);
    if actual.is_null() && !null_allowed {
        return Ok(false);
    }
    match operator {
        "exact" => Ok(exact(&filter.value, actual, matching_version)),
        "is_not" => Ok(!exact(&filter.value, actual, matching_version)),
        "regex" | "not_regex" => {
            let matched = match &filter.regex {
                RegexState::Empty => true,
                RegexState::Compiled(regex) => regex.is_match(&values::to_text(actual)),
                RegexState::Invalid | RegexState::None => return Ok(false),
                RegexState::Unsupported => return Err(unsupported()),
            };
            Ok(if operator == "not_regex" {
                !matched
            } else {
                matched
            })
        }
        "is_date_before" | "is_date_after" => date(operator, &filter.value, actual, now),
        _ if TEXT_OPERATORS.contains(&operator) => Ok(text(operator, &filter.value, actual)),
        _ => semver(operator, &filter.value, actual),
    }
}

fn is_string_operator(operator: &str) -> bool {
    TEXT_OPERATORS.contains(&operator) || operator == "regex" || operator == "not_regex"
}

/// Raises what makes the filter unusable whatever the call passes.
fn check_filter(filter: &Filter, now: DateTime<Utc>) -> Result<(), Inconclusive> {
    let operator = filter.operator.as_str();
    if !OPERATORS.contains(&operator) {
        return Err(unsupported());
    }
    match operator {
        "regex" | "not_regex" if matches!(filter.regex, RegexState::Unsupported) => {
            Err(unsupported())
        }
        "gt" | "gte" | "lt" | "lte" => values::number(&filter.value)
            .map(|_| ())
            .ok_or_else(unsupported),
        "is_date_before" | "is_date_after" => date_filter(&filter.value, now).map(|_| ()),
        _ if operator.starts_with("semver_") => semver_filter(operator, &filter.value).map(|_| ()),
        _ => Ok(()),
    }
}

fn numeric(operator: &str, expected: &Value, actual: &Value) -> Result<bool, Inconclusive> {
    let expected = values::number(expected).ok_or_else(unsupported)?;
    let Some(actual) = values::number(actual) else {
        return Ok(false);
    };
    Ok(match operator {
        "gt" => actual > expected,
        "gte" => actual >= expected,
        "lt" => actual < expected,
        _ => actual <= expected,
    })
}

/// `exact`: an empty list filter asks for a truthy value; a boolean-like filter compares
/// truthiness (matching version 1); otherwise case-insensitive text equality with any member
/// of a list filter.
fn exact(expected: &Value, actual: &Value, matching_version: i64) -> bool {
    if matches!(expected, Value::Array(items) if items.is_empty()) {
        return values::is_truthy(actual);
    }
    if matching_version != 2 && values::is_boolean_like(expected) {
        return values::is_truthy(expected) == values::is_truthy(actual);
    }
    let actual = values::to_text(actual).to_lowercase();
    match expected {
        Value::Array(candidates) => candidates
            .iter()
            .any(|candidate| values::to_text(candidate).to_lowercase() == actual),
        other => values::to_text(other).to_lowercase() == actual,
    }
}

fn text(operator: &str, expected: &Value, actual: &Value) -> bool {
    let actual = values::ascii_lower(&values::to_text(actual));
    let expected = values::ascii_lower(&values::to_text(expected));
    let matched = match operator {
        "icontains" | "not_icontains" => actual.contains(&expected),
        "starts_with" | "not_starts_with" => actual.starts_with(&expected),
        _ => actual.ends_with(&expected),
    };
    if operator.starts_with("not_") {
        !matched
    } else {
        matched
    }
}

fn date_filter(expected: &Value, now: DateTime<Utc>) -> Result<DateTime<Utc>, Inconclusive> {
    let text = values::python_str(expected).ok_or_else(unsupported)?;
    values::date_filter(&text, now).ok_or_else(unsupported)
}

fn date(
    operator: &str,
    expected: &Value,
    actual: &Value,
    now: DateTime<Utc>,
) -> Result<bool, Inconclusive> {
    let expected = date_filter(expected, now)?;
    let Value::String(actual) = actual else {
        return Err(missing());
    };
    let actual = values::absolute_date(actual, now).ok_or_else(missing)?;
    Ok(if operator == "is_date_before" {
        actual < expected
    } else {
        actual > expected
    })
}

enum SemverFilter {
    Version(values::Version),
    Range(values::Version, values::Version),
}

fn semver_filter(operator: &str, expected: &Value) -> Result<SemverFilter, Inconclusive> {
    let text = values::python_str(expected).ok_or_else(unsupported)?;
    match operator {
        "semver_tilde" | "semver_caret" | "semver_wildcard" => {
            values::semver_range(operator, &text)
                .map(|(lower, upper)| SemverFilter::Range(lower, upper))
                .ok_or_else(unsupported)
        }
        _ => values::semver(&text)
            .map(SemverFilter::Version)
            .ok_or_else(unsupported),
    }
}

fn semver(operator: &str, expected: &Value, actual: &Value) -> Result<bool, Inconclusive> {
    let expected = semver_filter(operator, expected)?;
    let actual = values::python_str(actual)
        .and_then(|text| values::semver(&text))
        .ok_or_else(missing)?;
    Ok(match expected {
        SemverFilter::Range(lower, upper) => lower <= actual && actual < upper,
        SemverFilter::Version(expected) => match operator {
            "semver_eq" => actual == expected,
            "semver_neq" => actual != expected,
            "semver_gt" => actual > expected,
            "semver_gte" => actual >= expected,
            "semver_lt" => actual < expected,
            _ => actual <= expected,
        },
    })
}
