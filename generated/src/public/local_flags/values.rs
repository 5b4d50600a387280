//! Reading property and filter values the way PostHog's flag evaluation does: their text form
//! (compact JSON with sorted keys and Python-style floats for non-strings), numbers, dates
//! (absolute and relative), semantic versions and truthiness.
//!
//! Facts from posthog-python 7.91 `feature_flags.py` and its tests
//! (`test_match_properties_exact_uses_backend_*_stringification`, `TestRelativeDateParsing`,
//! `test_match_properties_semver_*`).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Number, Value};

/// The text PostHog compares for a value: a string as it is, anything else as compact JSON
/// with object keys sorted and floats spelled as Python's `repr` spells them.
pub(super) fn to_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => json_text(other),
    }
}

/// Compact JSON with sorted keys; strings are JSON-quoted (non-ASCII kept).
pub(super) fn json_text(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => out.push_str(&number_text(number)),
        Value::String(text) => out.push_str(&Value::String(text.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(member) = members.get(key) {
                    write_json(member, out);
                }
            }
            out.push('}');
        }
    }
}

/// An integer as written; a float as Python's `repr`, except that exponents lose their
/// padding (`1e+16`, `1.5e-7`) and `1e-5`-sized ones are written out (`0.00001`).
pub(super) fn number_text(number: &Number) -> String {
    if let Some(int) = number.as_i64() {
        return int.to_string();
    }
    if let Some(int) = number.as_u64() {
        return int.to_string();
    }
    let float = number.as_f64().unwrap_or(f64::NAN);
    float_text(float)
}

/// See [`number_text`].
pub(super) fn float_text(float: f64) -> String {
    // `{:e}` gives the shortest round-trip digits, as Python's repr does.
    let scientific = format!("{float:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-5..16).contains(&exponent) {
        // Fixed notation: place the decimal point `exponent + 1` digits in.
        let point = exponent + 1;
        let (integer, fraction) = if point <= 0 {
            (
                "0".to_owned(),
                format!(
                    "{}{digits}",
                    "0".repeat(usize::try_from(-point).unwrap_or(0))
                ),
            )
        } else {
            let point = usize::try_from(point).unwrap_or(0);
            if digits.len() <= point {
                (
                    format!("{digits}{}", "0".repeat(point - digits.len())),
                    "0".to_owned(),
                )
            } else {
                (digits[..point].to_owned(), digits[point..].to_owned())
            }
        };
        return format!("{sign}{integer}.{fraction}");
    }
    let mantissa_text = if digits.len() > 1 {
        format!("{}.{}", &digits[..1], &digits[1..])
    } else {
        digits
    };
    let plus = if exponent >= 0 { "+" } else { "" };
    format!("{sign}{mantissa_text}e{plus}{exponent}")
}

/// Python's `str()` of a filter value, for the operators that read it so (regex, dates,
/// semver): numbers and strings as written, booleans `True`/`False`; `None` for the rest.
pub(super) fn python_str(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number_text(number)),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Null => Some("None".into()),
        _ => None,
    }
}

/// Lowercases ASCII letters only, as the text operators do.
pub(super) fn ascii_lower(text: &str) -> String {
    text.to_ascii_lowercase()
}

/// A finite number from a JSON number or a numeric string (not a boolean).
pub(super) fn number(value: &Value) -> Option<f64> {
    let parsed = match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) if is_numeric_text(text) => text.parse::<f64>().ok(),
        _ => None,
    }?;
    parsed.is_finite().then_some(parsed)
}

/// `[+-]?(digits[.digits?] | .digits)([eE][+-]?digits)?`, the whole text.
fn is_numeric_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        at += 1;
    }
    let digits = |at: &mut usize| {
        let start = *at;
        while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        *at - start
    };
    let integer = digits(&mut at);
    let mut fraction = 0;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        fraction = digits(&mut at);
    }
    if integer == 0 && fraction == 0 {
        return false;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        if digits(&mut at) == 0 {
            return false;
        }
    }
    at == bytes.len()
}

/// Whether `value` reads as a boolean: `true`/`false`, their strings in any case, or a list of
/// such.
pub(super) fn is_boolean_like(value: &Value) -> bool {
    match value {
        Value::Bool(_) => true,
        Value::String(text) => {
            let lower = text.to_lowercase();
            lower == "true" || lower == "false"
        }
        Value::Array(items) => items.iter().all(is_boolean_like),
        _ => false,
    }
}

/// `true`, `"true"` in any case, or a list of only such values (an empty list too).
pub(super) fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Bool(flag) => *flag,
        Value::String(text) => text.to_lowercase() == "true",
        Value::Array(items) => items.iter().all(is_truthy),
        _ => false,
    }
}

/// A flag's date filter: relative (`-7d`, `3m`, ...) against `now`, else an absolute date.
pub(super) fn date_filter(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Some(relative) = relative_date(text, now) {
        return relative;
    }
    absolute_date(text, now)
}

/// `-?<number><h|d|w|m|y>` before `now`: `Some(None)` when it has that shape but cannot be
/// resolved (an unknown unit, a number of 10,000 or more), `None` when it is not relative.
fn relative_date(text: &str, now: DateTime<Utc>) -> Option<Option<DateTime<Utc>>> {
    let body = text.strip_prefix('-').unwrap_or(text);
    let unit = body.chars().last()?;
    let digits = &body[..body.len() - unit.len_utf8()];
    if !unit.is_ascii_lowercase()
        || digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let Ok(number) = digits.parse::<i64>() else {
        return Some(None);
    };
    if number >= 10_000 {
        return Some(None);
    }
    Some(match unit {
        'h' => now.checked_sub_signed(Duration::hours(number)),
        'd' => now.checked_sub_signed(Duration::days(number)),
        'w' => now.checked_sub_signed(Duration::weeks(number)),
        'm' => subtract_months(now, number),
        'y' => subtract_years(now, number),
        _ => None,
    })
}

/// `months` calendar months back, clamping the day at every step (March 31 less two months is
/// January 28, through February 28).
fn subtract_months(now: DateTime<Utc>, months: i64) -> Option<DateTime<Utc>> {
    let current = i64::from(now.year()) * 12 + i64::from(now.month0());
    let target = current - months;
    let year = i32::try_from(target.div_euclid(12)).ok()?;
    let month = u32::try_from(target.rem_euclid(12)).ok()? + 1;
    if !(1..=9999).contains(&year) {
        return None;
    }
    let mut day = now.day();
    let mut index = current - 1;
    while index >= target && day > 28 {
        let step_year = i32::try_from(index.div_euclid(12)).ok()?;
        let step_month = u32::try_from(index.rem_euclid(12)).ok()? + 1;
        day = day.min(days_in_month(step_year, step_month));
        index -= 1;
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    Some(Utc.from_utc_datetime(&date.and_time(now.time())))
}

fn subtract_years(now: DateTime<Utc>, years: i64) -> Option<DateTime<Utc>> {
    let year = i32::try_from(i64::from(now.year()) - years).ok()?;
    if !(1..=9999).contains(&year) {
        return None;
    }
    let day = if years > 0 && now.month() == 2 && now.day() == 29 {
        28
    } else {
        now.day()
    };
    let date = NaiveDate::from_ymd_opt(year, now.month(), day)?;
    Some(Utc.from_utc_datetime(&date.and_time(now.time())))
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|next| next.pred_opt())
        .map_or(28, |last| last.day())
}

/// An ISO 8601 date or date-time; without an offset it is UTC. A bare year is that year on
/// today's month and day.
pub(super) fn absolute_date(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut text = text.trim().to_owned();
    if let Some(stripped) = text.strip_suffix('Z') {
        text = format!("{stripped}+00:00");
    } else if text.len() >= 4 && text[text.len() - 4..].eq_ignore_ascii_case(" utc") {
        text = format!("{}+00:00", &text[..text.len() - 4]);
    } else if text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()) {
        let year = text.parse().ok()?;
        let date = NaiveDate::from_ymd_opt(year, now.month(), now.day())?;
        return Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?));
    }
    // "2024-01-01 10:00:00 +02:00": the space before the offset goes.
    let bytes = text.as_bytes();
    if bytes.len() > 7
        && bytes[bytes.len() - 7] == b' '
        && matches!(bytes[bytes.len() - 6], b'+' | b'-')
        && bytes[bytes.len() - 3] == b':'
    {
        text.remove(text.len() - 7);
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(parsed) = DateTime::parse_from_str(&text, format) {
            return Some(parsed.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H",
    ] {
        if let Ok(parsed) = NaiveDateTime::parse_from_str(&text, format) {
            return Some(Utc.from_utc_datetime(&parsed));
        }
    }
    for format in ["%Y-%m-%d", "%Y%m%d"] {
        if let Ok(date) = NaiveDate::parse_from_str(&text, format) {
            return Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?));
        }
    }
    None
}

/// A version as `(major, minor, patch)`: a `v` prefix, spaces and any pre-release or build
/// suffix are ignored, missing parts are 0, and a part with a leading zero is refused.
pub(super) type Version = (u64, u64, u64);

pub(super) fn semver(text: &str) -> Option<Version> {
    let text = text.trim().trim_start_matches(['v', 'V']);
    let text = text.split('-').next().unwrap_or("");
    let text = text.split('+').next().unwrap_or("");
    let parts: Vec<&str> = text.split('.').collect();
    let major = numeric_identifier(parts.first().copied().unwrap_or(""))?;
    let part = |index: usize| match parts.get(index) {
        Some(part) if !part.is_empty() => numeric_identifier(part),
        _ => Some(0),
    };
    Some((major, part(1)?, part(2)?))
}

fn numeric_identifier(part: &str) -> Option<u64> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if part.len() > 1 && part.starts_with('0') {
        return None;
    }
    part.parse().ok()
}

/// The `[lower, upper)` versions of `~`, `^` and `*` ranges.
pub(super) fn semver_range(operator: &str, text: &str) -> Option<(Version, Version)> {
    match operator {
        "semver_tilde" => {
            let (major, minor, patch) = semver(text)?;
            Some(((major, minor, patch), (major, minor.checked_add(1)?, 0)))
        }
        "semver_caret" => {
            let lower = semver(text)?;
            let upper = match lower {
                (major, _, _) if major > 0 => (major.checked_add(1)?, 0, 0),
                (0, minor, _) if minor > 0 => (0, minor.checked_add(1)?, 0),
                (_, _, patch) => (0, 0, patch.checked_add(1)?),
            };
            Some((lower, upper))
        }
        "semver_wildcard" => {
            let cleaned = text.trim().trim_start_matches(['v', 'V']).replace('*', "");
            let cleaned = cleaned.trim_end_matches('.');
            let parts: Vec<&str> = cleaned.split('.').filter(|part| !part.is_empty()).collect();
            match parts.as_slice() {
                [] => None,
                [major] => {
                    let major = numeric_identifier(major)?;
                    Some(((major, 0, 0), (major.checked_add(1)?, 0, 0)))
                }
                [major, minor] => {
                    let (major, minor) = (numeric_identifier(major)?, numeric_identifier(minor)?);
                    Some(((major, minor, 0), (major, minor.checked_add(1)?, 0)))
                }
                [major, minor, patch, ..] => {
                    let major = numeric_identifier(major)?;
                    let minor = numeric_identifier(minor)?;
                    let patch = numeric_identifier(patch)?;
                    Some(((major, minor, patch), (major, minor, patch.checked_add(1)?)))
                }
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_spelled_like_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-7"),
            (0.00001, "0.00001"),
            (0.0001, "0.0001"),
            (123.456, "123.456"),
            (1e15, "1000000000000000.0"),
        ];
        for (float, text) in cases {
            assert_eq!(float_text(float), text, "{float}");
        }
    }

    #[test]
    fn numeric_text_follows_the_sdk_pattern() {
        for yes in ["1", "-1.5", "+.5", "1.", "1e5", "2E-3"] {
            assert!(is_numeric_text(yes), "{yes}");
        }
        for no in ["", ".", "1e", "abc", "1_000", " 1", "inf", "nan"] {
            assert!(!is_numeric_text(no), "{no}");
        }
    }
}
