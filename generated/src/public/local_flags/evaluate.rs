//! Deciding one flag from its definition, as PostHog's SDKs do locally (posthog-python 7.91
//! `feature_flags.py` `match_feature_flag_properties`, `match_cohort`,
//! `evaluate_flag_dependency`, and `client.py` `_compute_flag_locally`): conditions in order,
//! rollout and variant buckets, holdouts, feature enrollment, group and mixed targeting,
//! cohorts and flag dependencies. What cannot be decided is [`Inconclusive`], with the reason
//! of highest precedence.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::definitions::{Definitions, Filter, FlagDefinition, truthy_json};
use super::properties::match_property;
use super::{EvaluationInput, Inconclusive, Unresolved, hash, values};
use crate::public::FlagValue;

type Outcome<T> = Result<T, Inconclusive>;

/// What one condition came to.
#[derive(PartialEq)]
enum ConditionMatch {
    Match,
    NoMatch,
    OutOfRollout,
}

/// One evaluation: the definitions, what the call passed, and the values of flags already
/// evaluated for dependencies (`None`: inconclusive).
pub(super) struct Evaluation<'a> {
    definitions: &'a Definitions,
    input: &'a EvaluationInput<'a>,
    matching_version: i64,
    now: DateTime<Utc>,
    cache: HashMap<String, Option<FlagValue>>,
}

/// The context conditions are matched in: whose properties and which bucketing value.
struct Context<'a> {
    distinct_id: &'a str,
    properties: &'a Map<String, Value>,
    bucketing: &'a str,
    /// Only the top-level evaluation knows the groups; dependencies evaluate without them.
    with_groups: bool,
}

impl<'a> Evaluation<'a> {
    pub(super) fn new(
        definitions: &'a Definitions,
        input: &'a EvaluationInput<'a>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            definitions,
            input,
            matching_version: input.property_matching_version,
            now,
            cache: HashMap::new(),
        }
    }

    /// The flag's value, as `_compute_flag_locally` decides it.
    pub(super) fn flag(&mut self, flag: &FlagDefinition) -> Outcome<FlagValue> {
        if !flag.active {
            return Ok(FlagValue::Boolean(false));
        }
        if flag.continuity {
            return Err(Inconclusive::new(Unresolved::ExperienceContinuity));
        }
        if flag.filters.malformed {
            return Err(Inconclusive::new(Unresolved::UnsupportedDefinition));
        }
        let input = self.input;
        if let Some(index) = flag.filters.aggregation {
            let Some(group) = self.definitions.group_types.get(&index.to_string()) else {
                return Err(Inconclusive::new(Unresolved::UnsupportedDefinition));
            };
            // Without the group the flag is off, and the server would say the same.
            let Some(group_key) = input.groups.get(group) else {
                return Ok(FlagValue::Boolean(false));
            };
            let Some(Value::Object(properties)) = input.group_properties.get(group) else {
                return Err(Inconclusive::new(Unresolved::MissingContext));
            };
            let context = Context {
                distinct_id: group_key,
                properties,
                bucketing: group_key,
                with_groups: true,
            };
            return self.match_flag(flag, &context);
        }
        let bucketing = if flag.device_bucketing {
            input
                .device_id
                .filter(|id| !id.is_empty())
                .ok_or_else(|| Inconclusive::new(Unresolved::MissingContext))?
        } else {
            input.distinct_id
        };
        let context = Context {
            distinct_id: input.distinct_id,
            properties: input.person_properties,
            bucketing,
            with_groups: true,
        };
        self.match_flag(flag, &context)
    }

    /// `match_feature_flag_properties`: enrollment, then the holdout, then the conditions.
    fn match_flag(&mut self, flag: &FlagDefinition, context: &Context<'_>) -> Outcome<FlagValue> {
        let filters = &flag.filters;
        if filters.feature_enrollment {
            if filters.aggregation.is_some() {
                return Err(Inconclusive::new(Unresolved::UnsupportedDefinition));
            }
            let key = format!("$feature_enrollment/{}", flag.key);
            let Some(enrolled) = context.properties.get(&key) else {
                return Err(Inconclusive::new(Unresolved::MissingContext));
            };
            let on = *enrolled == Value::Bool(true) || enrolled.as_str() == Some("true");
            return Ok(FlagValue::Boolean(on));
        }
        if let Some((percentage, id)) = &filters.holdout {
            let percentage = percentage.clamp(0.0, 100.0);
            if percentage == 100.0 || hash::holdout_bucket(context.bucketing) <= percentage / 100.0
            {
                return Ok(FlagValue::Variant(format!("holdout-{id}")));
            }
        }
        let mut inconclusive: Option<Inconclusive> = None;
        for condition in &filters.conditions {
            let result = self.match_condition(flag, condition, context);
            match result {
                Ok((ConditionMatch::Match, Some(value))) => return Ok(value),
                Ok((ConditionMatch::OutOfRollout, _)) if filters.early_exit => break,
                Ok(_) => {}
                Err(error) if error.requires_server => return Err(error),
                Err(error) => inconclusive = Some(Inconclusive::worst(inconclusive, error)),
            }
        }
        match inconclusive {
            Some(error) => Err(error),
            None => Ok(FlagValue::Boolean(false)),
        }
    }

    fn match_condition(
        &mut self,
        flag: &FlagDefinition,
        condition: &super::definitions::Condition,
        context: &Context<'_>,
    ) -> Outcome<(ConditionMatch, Option<FlagValue>)> {
        let input = self.input;
        let flag_aggregation = flag.filters.aggregation;
        let condition_aggregation = condition.aggregation.unwrap_or(flag_aggregation);
        let (properties, bucketing) = match condition_aggregation {
            Some(index) if condition_aggregation != flag_aggregation => {
                let group = self
                    .definitions
                    .group_types
                    .get(&index.to_string())
                    .filter(|group| context.with_groups && input.groups.contains_key(*group));
                let Some(group) = group else {
                    return Ok((ConditionMatch::NoMatch, None));
                };
                let Some(Value::Object(properties)) = input.group_properties.get(group) else {
                    return Err(Inconclusive::new(Unresolved::MissingContext));
                };
                let key = input.groups.get(group).map_or("", String::as_str);
                (properties, key)
            }
            _ => (context.properties, context.bucketing),
        };
        let inner = Context {
            distinct_id: context.distinct_id,
            properties,
            bucketing,
            with_groups: context.with_groups,
        };
        let matched = self.condition_matches(flag, condition, &inner)?;
        if matched != ConditionMatch::Match {
            return Ok((matched, None));
        }
        let valid = |variant: &String| flag.filters.variants.iter().any(|(key, _)| key == variant);
        let variant = match &condition.variant {
            Some(variant) if valid(variant) => Some(variant.clone()),
            _ => matching_variant(flag, bucketing),
        };
        let value = variant.map_or(FlagValue::Boolean(true), FlagValue::Variant);
        Ok((ConditionMatch::Match, Some(value)))
    }

    /// `is_condition_match`: every filter, then the rollout bucket.
    fn condition_matches(
        &mut self,
        flag: &FlagDefinition,
        condition: &super::definitions::Condition,
        context: &Context<'_>,
    ) -> Outcome<ConditionMatch> {
        if !condition.properties.is_empty() {
            if !self.filters_match(&condition.properties, context)? {
                return Ok(ConditionMatch::NoMatch);
            }
            if condition.rollout.is_none() {
                return Ok(ConditionMatch::Match);
            }
        }
        if let Some(rollout) = condition.rollout
            && hash::bucket(&flag.key, context.bucketing, "") > rollout / 100.0
        {
            return Ok(ConditionMatch::OutOfRollout);
        }
        Ok(ConditionMatch::Match)
    }

    /// All filters of a condition: a definite miss wins; otherwise the first filter that needs
    /// the server, else the worst inconclusive reason, else a match.
    fn filters_match(&mut self, filters: &[Filter], context: &Context<'_>) -> Outcome<bool> {
        let mut inconclusive: Option<Inconclusive> = None;
        let mut server: Option<Inconclusive> = None;
        for filter in filters {
            match self.filter_matches(filter, context) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(error) => {
                    if error.requires_server && inconclusive.is_none() {
                        server = Some(error);
                    }
                    inconclusive = Some(Inconclusive::worst(inconclusive, error));
                }
            }
        }
        if let Some(server) = server {
            return Err(server);
        }
        match inconclusive {
            Some(error) => Err(Inconclusive {
                requires_server: false,
                ..error
            }),
            None => Ok(true),
        }
    }

    fn filter_matches(&mut self, filter: &Filter, context: &Context<'_>) -> Outcome<bool> {
        match filter.kind.as_deref() {
            Some("cohort") => self.cohort(filter, context),
            Some("flag") => self.dependency(filter, context),
            _ => match_property(filter, context.properties, self.matching_version, self.now),
        }
    }

    fn cohort(&mut self, filter: &Filter, context: &Context<'_>) -> Outcome<bool> {
        let id = values::python_str(&filter.value).unwrap_or_default();
        let Some(group) = self.definitions.cohorts.get(&id) else {
            return Err(Inconclusive::server(Unresolved::UnsupportedDefinition));
        };
        let operator = filter.operator.as_str();
        if !matches!(operator, "exact" | "in" | "not_in") {
            return Err(Inconclusive::new(Unresolved::UnsupportedDefinition));
        }
        let matched = self.property_group(group, context)?;
        Ok(if operator == "not_in" {
            !matched
        } else {
            matched
        })
    }

    /// An AND/OR group of filters and nested groups; a decisive member wins over an
    /// inconclusive one, but a member that needs the server always does.
    fn property_group(&mut self, group: &Value, context: &Context<'_>) -> Outcome<bool> {
        let Some(group) = group.as_object() else {
            return Err(Inconclusive::server(Unresolved::UnsupportedDefinition));
        };
        if group.is_empty() {
            return Ok(true);
        }
        let is_and = match group.get("type").and_then(Value::as_str) {
            Some("AND") => true,
            Some("OR") => false,
            _ => return Err(Inconclusive::server(Unresolved::UnsupportedDefinition)),
        };
        let Some(Value::Array(entries)) = group.get("values") else {
            return Err(Inconclusive::server(Unresolved::UnsupportedDefinition));
        };
        if entries.is_empty() {
            return Ok(true);
        }
        let mut decisive = None;
        let mut inconclusive: Option<Inconclusive> = None;
        for entry in entries {
            let Some(entry) = entry.as_object() else {
                return Err(Inconclusive::server(Unresolved::UnsupportedDefinition));
            };
            let nested = entry.is_empty()
                || entry.contains_key("values")
                || matches!(
                    entry.get("type").and_then(Value::as_str),
                    Some("AND" | "OR")
                );
            let result = if nested {
                self.property_group(&Value::Object(entry.clone()), context)
            } else {
                let filter = Filter::parse(entry);
                self.filter_matches(&filter, context)
                    .map(|matched| matched != filter.negation)
            };
            match result {
                Ok(matched) if matched != is_and => decisive = Some(matched),
                Ok(_) => {}
                Err(error) if error.requires_server => return Err(error),
                Err(error) => inconclusive = Some(Inconclusive::worst(inconclusive, error)),
            }
        }
        if let Some(decisive) = decisive {
            return Ok(decisive);
        }
        match inconclusive {
            Some(error) => Err(error),
            None => Ok(is_and),
        }
    }

    /// A `flag_evaluates_to` filter: evaluates the dependency chain in order (caching each
    /// value), then compares the referenced flag's value with the expected one.
    fn dependency(&mut self, filter: &Filter, context: &Context<'_>) -> Outcome<bool> {
        // A malformed shape is a definite miss, as on the server.
        let operator_ok =
            filter.raw.get("operator") == Some(&Value::String("flag_evaluates_to".into()));
        let key = filter.raw.get("key").filter(|key| truthy_json(key));
        let expected = filter.raw.get("value").filter(|value| !value.is_null());
        let (Some(key), Some(expected), true) = (key, expected, operator_ok) else {
            return Ok(false);
        };
        let key = values::python_str(key).unwrap_or_default();
        let Some(Value::Array(chain)) = filter.raw.get("dependency_chain") else {
            return Err(Inconclusive::new(Unresolved::UnsupportedDefinition));
        };
        if chain.is_empty() {
            return Err(Inconclusive::new(Unresolved::UnsupportedDefinition));
        }
        let chain: Vec<String> = chain
            .iter()
            .map(|member| values::python_str(member).unwrap_or_default())
            .collect();
        let definitions = self.definitions;
        let missing = chain.iter().find(|member| {
            !self.cache.contains_key(*member) && !definitions.by_key.contains_key(*member)
        });
        if let Some(missing) = missing {
            self.cache.insert(missing.clone(), None);
            return Err(Inconclusive::new(Unresolved::UnsupportedDefinition));
        }
        for member in &chain {
            if self.cache.contains_key(member) {
                continue;
            }
            let Some(flag) = definitions
                .by_key
                .get(member)
                .and_then(|index| definitions.flags.get(*index))
            else {
                continue;
            };
            self.dependency_value(flag, context)?;
        }
        match self.cache.get(&key) {
            Some(Some(actual)) => Ok(dependency_matches(expected, actual)),
            Some(None) if definitions.by_key.contains_key(&key) => {
                Err(Inconclusive::new(Unresolved::UnresolvedDependency))
            }
            _ => Err(Inconclusive::new(Unresolved::UnsupportedDefinition)),
        }
    }

    fn dependency_value(&mut self, flag: &FlagDefinition, context: &Context<'_>) -> Outcome<()> {
        if !flag.active {
            self.cache
                .insert(flag.key.clone(), Some(FlagValue::Boolean(false)));
            return Ok(());
        }
        if flag.continuity {
            self.cache.insert(flag.key.clone(), None);
            return Err(Inconclusive::new(Unresolved::UnresolvedDependency));
        }
        let bucketing = if flag.filters.aggregation.is_some() || !flag.device_bucketing {
            context.distinct_id
        } else {
            match self.input.device_id.filter(|id| !id.is_empty()) {
                Some(device) => device,
                None => {
                    self.cache.insert(flag.key.clone(), None);
                    return Err(Inconclusive::new(Unresolved::UnresolvedDependency));
                }
            }
        };
        let inner = Context {
            distinct_id: context.distinct_id,
            properties: context.properties,
            bucketing,
            with_groups: false,
        };
        let result = if flag.filters.malformed {
            Err(Inconclusive::new(Unresolved::UnsupportedDefinition))
        } else {
            self.match_flag(flag, &inner)
        };
        match result {
            Ok(value) => {
                self.cache.insert(flag.key.clone(), Some(value));
                Ok(())
            }
            Err(error) if error.requires_server => {
                Err(Inconclusive::server(Unresolved::UnresolvedDependency))
            }
            Err(_) => {
                self.cache.insert(flag.key.clone(), None);
                Err(Inconclusive::new(Unresolved::UnresolvedDependency))
            }
        }
    }
}

/// The variant whose bucket range holds the variant hash, if any.
fn matching_variant(flag: &FlagDefinition, bucketing: &str) -> Option<String> {
    if flag.filters.variants.is_empty() {
        return None;
    }
    let bucket = hash::bucket(&flag.key, bucketing, "variant");
    let mut lower = 0.0;
    for (key, percentage) in &flag.filters.variants {
        let upper = lower + percentage / 100.0;
        if bucket >= lower && bucket < upper {
            return Some(key.clone());
        }
        lower = upper;
    }
    None
}

/// Any variant matches `true`; a variant matches its own key (case-sensitively); a boolean
/// matches the same boolean.
fn dependency_matches(expected: &Value, actual: &FlagValue) -> bool {
    match actual {
        FlagValue::Variant(variant) if !variant.is_empty() => match expected {
            Value::Bool(expected) => *expected,
            Value::String(expected) => variant == expected,
            _ => false,
        },
        FlagValue::Variant(_) => false,
        FlagValue::Boolean(actual) => expected.as_bool() == Some(*actual),
    }
}
