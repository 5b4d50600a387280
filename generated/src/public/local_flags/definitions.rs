//! The flag definitions PostHog serves for local evaluation (`flags`, `cohorts`,
//! `group_type_mapping`), read once into a form the evaluator walks without re-parsing.
//! A part it cannot read makes that flag (or filter) inconclusive, never a panic.

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;
use serde_json::{Map, Value};

/// Parsed flag definitions. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct FlagDefinitions {
    pub(super) inner: Arc<Definitions>,
}

#[derive(Debug, Default)]
pub(super) struct Definitions {
    pub(super) flags: Vec<FlagDefinition>,
    pub(super) by_key: HashMap<String, usize>,
    /// Cohort id (as text) to its property group, kept as JSON: cohorts are rare.
    pub(super) cohorts: HashMap<String, Value>,
    /// Group type index (as text) to its name.
    pub(super) group_types: HashMap<String, String>,
    /// How `exact` reads boolean-like filters (1 unless the answer says otherwise).
    pub(super) property_matching_version: i64,
}

/// One flag as the definitions describe it.
#[derive(Debug)]
pub struct FlagDefinition {
    /// The flag key.
    pub key: String,
    /// PostHog's id of the flag.
    pub id: Option<i64>,
    /// The definition's version.
    pub version: Option<i64>,
    pub(super) active: bool,
    pub(super) continuity: bool,
    pub(super) device_bucketing: bool,
    pub(super) filters: Filters,
}

#[derive(Debug, Default)]
pub(super) struct Filters {
    pub(super) conditions: Vec<Condition>,
    pub(super) variants: Vec<(String, f64)>,
    pub(super) aggregation: Option<i64>,
    pub(super) payloads: Map<String, Value>,
    /// `(exclusion percentage, holdout id)`.
    pub(super) holdout: Option<(f64, String)>,
    pub(super) early_exit: bool,
    pub(super) feature_enrollment: bool,
    /// Something in the filters could not be read: the flag is never decided locally.
    pub(super) malformed: bool,
}

#[derive(Debug)]
pub(super) struct Condition {
    pub(super) properties: Vec<Filter>,
    pub(super) rollout: Option<f64>,
    pub(super) variant: Option<String>,
    /// `None`: the flag's own; `Some(index)`: the condition sets it (`Some(None)` = persons).
    pub(super) aggregation: Option<Option<i64>>,
}

/// One property filter, with its regex compiled once.
#[derive(Debug)]
pub(super) struct Filter {
    pub(super) raw: Map<String, Value>,
    pub(super) key: Option<String>,
    pub(super) value: Value,
    /// `operator`, with a missing, null or empty one read as `exact` (dependencies read the
    /// raw member: see [`Filter::raw`]).
    pub(super) operator: String,
    pub(super) kind: Option<String>,
    pub(super) negation: bool,
    pub(super) regex: RegexState,
}

#[derive(Debug)]
pub(super) enum RegexState {
    /// Not a regex filter.
    None,
    /// The empty pattern, which matches everything.
    Empty,
    Compiled(Regex),
    /// Not valid in any dialect: the filter never matches.
    Invalid,
    /// Valid only in fancier dialects (look-around, back-references): the server decides.
    Unsupported,
}

impl Filter {
    pub(super) fn parse(raw: &Map<String, Value>) -> Filter {
        let operator = match raw.get("operator") {
            Some(Value::String(operator)) if !operator.is_empty() => operator.clone(),
            _ => "exact".to_owned(),
        };
        let value = raw.get("value").cloned().unwrap_or(Value::Null);
        let regex = if operator == "regex" || operator == "not_regex" {
            compile(&value)
        } else {
            RegexState::None
        };
        Filter {
            key: raw.get("key").and_then(Value::as_str).map(str::to_owned),
            kind: raw.get("type").and_then(Value::as_str).map(str::to_owned),
            negation: raw.get("negation").is_some_and(truthy_json),
            operator,
            value,
            regex,
            raw: raw.clone(),
        }
    }
}

/// Python truthiness of a JSON value, for members read with `if member:`.
pub(super) fn truthy_json(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(members) => !members.is_empty(),
    }
}

fn compile(value: &Value) -> RegexState {
    let Some(pattern) = super::values::python_str(value) else {
        return RegexState::Unsupported;
    };
    if pattern.is_empty() {
        return RegexState::Empty;
    }
    match Regex::new(&pattern) {
        Ok(regex) => RegexState::Compiled(regex),
        Err(_) if fancy_only(&pattern) => RegexState::Unsupported,
        Err(_) => RegexState::Invalid,
    }
}

/// Syntax the regex crate refuses but PostHog's server (fancy-regex) accepts.
fn fancy_only(pattern: &str) -> bool {
    [
        "(?=", "(?!", "(?<=", "(?<!", "(?>", "\\1", "\\2", "\\k<", "\\G", "\\K", "*+", "++", "?+",
    ]
    .iter()
    .any(|syntax| pattern.contains(syntax))
}

impl FlagDefinitions {
    /// Reads PostHog's definitions answer. Anything but an object with a `flags` array is an
    /// error naming what was wrong; inside it, unreadable parts only make flags inconclusive.
    pub fn from_json(document: &Value) -> Result<Self, String> {
        let Some(object) = document.as_object() else {
            return Err("the definitions are not a JSON object".into());
        };
        let Some(flags) = object.get("flags").and_then(Value::as_array) else {
            return Err("the definitions have no `flags` array".into());
        };
        let mut definitions = Definitions::default();
        for flag in flags {
            let Some(flag) = flag.as_object() else {
                continue;
            };
            let parsed = parse_flag(flag);
            if definitions.by_key.contains_key(&parsed.key) {
                continue;
            }
            definitions
                .by_key
                .insert(parsed.key.clone(), definitions.flags.len());
            definitions.flags.push(parsed);
        }
        if let Some(Value::Object(cohorts)) = object.get("cohorts") {
            definitions.cohorts = cohorts
                .iter()
                .map(|(id, group)| (id.clone(), group.clone()))
                .collect();
        }
        if let Some(Value::Object(mapping)) = object.get("group_type_mapping") {
            definitions.group_types = mapping
                .iter()
                .filter_map(|(index, name)| Some((index.clone(), name.as_str()?.to_owned())))
                .collect();
        }
        definitions.property_matching_version = object
            .get("property_matching_version")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        Ok(Self {
            inner: Arc::new(definitions),
        })
    }

    /// The flag `key`, if defined.
    pub fn get(&self, key: &str) -> Option<&FlagDefinition> {
        self.inner
            .by_key
            .get(key)
            .and_then(|index| self.inner.flags.get(*index))
    }

    /// Every flag, in the order PostHog sent them.
    pub fn flags(&self) -> impl Iterator<Item = &FlagDefinition> {
        self.inner.flags.iter()
    }

    /// How many flags are defined.
    pub fn len(&self) -> usize {
        self.inner.flags.len()
    }

    /// The `property_matching_version` the definitions ask for (1 by default).
    pub fn property_matching_version(&self) -> i64 {
        self.inner.property_matching_version
    }

    /// Whether no flag is defined.
    pub fn is_empty(&self) -> bool {
        self.inner.flags.is_empty()
    }
}

fn parse_flag(flag: &Map<String, Value>) -> FlagDefinition {
    let key = match flag.get("key") {
        Some(Value::String(key)) => key.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let filters_json = flag.get("filters").and_then(Value::as_object);
    let filters = filters_json.map(parse_filters).unwrap_or_default();
    let identifier = |object: Option<&Map<String, Value>>| {
        object
            .and_then(|object| object.get("bucketing_identifier"))
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    let bucketing = identifier(Some(flag)).or_else(|| identifier(filters_json));
    FlagDefinition {
        key,
        id: flag.get("id").and_then(Value::as_i64),
        version: flag.get("version").and_then(Value::as_i64),
        active: flag.get("active").is_some_and(truthy_json),
        continuity: flag
            .get("ensure_experience_continuity")
            .is_some_and(truthy_json),
        device_bucketing: bucketing.as_deref() == Some("device_id"),
        filters,
    }
}

fn parse_filters(filters: &Map<String, Value>) -> Filters {
    let mut parsed = Filters {
        aggregation: filters
            .get("aggregation_group_type_index")
            .and_then(Value::as_i64),
        early_exit: filters.get("early_exit").is_some_and(truthy_json),
        feature_enrollment: filters.get("feature_enrollment") == Some(&Value::Bool(true)),
        payloads: filters
            .get("payloads")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        ..Filters::default()
    };
    if filters
        .get("aggregation_group_type_index")
        .is_some_and(|index| !index.is_null() && !index.is_i64())
    {
        parsed.malformed = true;
    }
    if let Some(Value::Object(holdout)) = filters.get("holdout") {
        let percentage = holdout.get("exclusion_percentage").and_then(Value::as_f64);
        let id = holdout.get("id").filter(|id| !id.is_null());
        if let (Some(percentage), Some(id)) = (percentage, id) {
            parsed.holdout = Some((percentage, super::values::to_text(id)));
        }
    }
    match filters.get("multivariate") {
        Some(Value::Object(multivariate)) => match multivariate.get("variants") {
            Some(Value::Array(variants)) => {
                for variant in variants {
                    let key = variant.get("key").and_then(Value::as_str);
                    let percentage = variant.get("rollout_percentage").and_then(Value::as_f64);
                    match (key, percentage) {
                        (Some(key), Some(percentage)) => {
                            parsed.variants.push((key.to_owned(), percentage));
                        }
                        _ => parsed.malformed = true,
                    }
                }
            }
            None | Some(Value::Null) => {}
            Some(_) => parsed.malformed = true,
        },
        None | Some(Value::Null) => {}
        Some(_) => parsed.malformed = true,
    }
    match filters.get("groups") {
        Some(Value::Array(groups)) => {
            for group in groups {
                match group.as_object().and_then(parse_condition) {
                    Some(condition) => parsed.conditions.push(condition),
                    None => parsed.malformed = true,
                }
            }
        }
        None | Some(Value::Null) => {}
        Some(_) => parsed.malformed = true,
    }
    parsed
}

fn parse_condition(group: &Map<String, Value>) -> Option<Condition> {
    let properties = match group.get("properties") {
        Some(Value::Array(properties)) => properties
            .iter()
            .map(|filter| filter.as_object().map(Filter::parse))
            .collect::<Option<Vec<_>>>()?,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return None,
    };
    let rollout = match group.get("rollout_percentage") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_f64()?),
    };
    let aggregation = match group.get("aggregation_group_type_index") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(index) => Some(Some(index.as_i64()?)),
    };
    Some(Condition {
        properties,
        rollout,
        variant: group
            .get("variant")
            .and_then(Value::as_str)
            .filter(|variant| !variant.is_empty())
            .map(str::to_owned),
        aggregation,
    })
}
