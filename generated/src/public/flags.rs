//! Flag evaluation for one distinct id: `/flags?v=4` (what PostHog's SDKs send today) with a
//! fallback to `/decide/?v=3`, both answers turned into one typed [`Flags`].

use std::collections::BTreeMap;

use serde_json::Value;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::generated::api::public::{PublicDecideQuery, PublicFlagsQuery};
use crate::generated::operations::PUBLIC_FLAGS;
use crate::generated::types;

/// The `/flags` answer version PostHog's SDKs ask for (posthog-python 7.91 posts `/flags/?v=4`).
pub const FLAGS_API_VERSION: i64 = 4;

/// The value a flag has for one distinct id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagValue {
    /// A boolean flag, or a multivariate flag that is off (`false`).
    Boolean(bool),
    /// The variant key of a multivariate flag that is on.
    Variant(String),
}

impl FlagValue {
    /// Whether the flag is on: `true`, or any variant.
    pub fn is_enabled(&self) -> bool {
        match self {
            FlagValue::Boolean(enabled) => *enabled,
            FlagValue::Variant(_) => true,
        }
    }

    /// The variant key, for a multivariate flag that is on.
    pub fn variant(&self) -> Option<&str> {
        match self {
            FlagValue::Variant(variant) => Some(variant),
            FlagValue::Boolean(_) => None,
        }
    }
}

/// One flag's evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    /// The flag key.
    pub key: String,
    /// Its value for the distinct id.
    pub value: FlagValue,
    /// The payload of that value, decoded from the JSON text PostHog stores it as (a payload that
    /// is not valid JSON stays a string).
    pub payload: Option<Value>,
    /// Why it has this value (`condition_match`, ...), when the server says (`/flags` only).
    pub reason: Option<String>,
}

impl Flag {
    /// One entry of a `/flags` answer. A `v=4` entry's typed `value` decides: a boolean is
    /// on/off, a string the variant, a number or object is on with itself as the payload, and a
    /// `failed` entry is off without a payload (as posthog-python 7.91 reads them). An entry
    /// without `value` is a `v=2` one: `enabled` and `variant`.
    fn from_detail(key: String, detail: types::FlagDetail) -> Self {
        let failed = detail.failed == Some(true);
        let reason = detail.reason.and_then(|reason| reason.code);
        let stored_payload = detail
            .metadata
            .and_then(|metadata| metadata.payload)
            .and_then(decode_payload);
        let (value, payload) = match (failed, detail.value) {
            (true, _) => (FlagValue::Boolean(false), None),
            (false, Some(Value::Bool(enabled))) => (
                FlagValue::Boolean(enabled),
                stored_payload.filter(|_| enabled),
            ),
            (false, Some(Value::String(variant))) => (FlagValue::Variant(variant), stored_payload),
            (false, Some(Value::Null)) => (FlagValue::Boolean(false), None),
            (false, Some(typed)) => (FlagValue::Boolean(true), Some(typed)),
            (false, None) => {
                let value = match detail.variant {
                    Some(variant) if detail.enabled => FlagValue::Variant(variant),
                    _ => FlagValue::Boolean(detail.enabled),
                };
                (value, stored_payload)
            }
        };
        Self {
            key,
            value,
            payload,
            reason,
        }
    }
}

/// Which endpoint answered [`Client::flags`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagsEndpoint {
    /// `/flags?v=4`.
    Flags,
    /// `/decide/?v=3`, because the server had no `/flags` (404).
    Decide,
}

/// Every flag's value for one distinct id.
#[derive(Debug, Clone, PartialEq)]
pub struct Flags {
    flags: BTreeMap<String, Flag>,
    /// Whether some flags could not be evaluated (they are missing here).
    pub errors_while_computing_flags: bool,
    /// Products whose quota is exhausted (`feature_flags` means no flag was evaluated).
    pub quota_limited: Vec<String>,
    /// The server's identifier of the evaluation (`/flags` only).
    pub request_id: Option<String>,
    /// The endpoint that answered.
    pub endpoint: FlagsEndpoint,
}

impl Flags {
    /// One flag, if the server evaluated it.
    pub fn get(&self, key: &str) -> Option<&Flag> {
        self.flags.get(key)
    }

    /// Whether flag `key` is on; `false` for a flag the server did not return.
    pub fn is_enabled(&self, key: &str) -> bool {
        self.get(key).is_some_and(|flag| flag.value.is_enabled())
    }

    /// The variant of multivariate flag `key`, if it is on.
    pub fn variant(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|flag| flag.value.variant())
    }

    /// The payload of flag `key`'s value.
    pub fn payload(&self, key: &str) -> Option<&Value> {
        self.get(key).and_then(|flag| flag.payload.as_ref())
    }

    /// Every flag, by key.
    pub fn iter(&self) -> impl Iterator<Item = &Flag> {
        self.flags.values()
    }

    /// How many flags were evaluated.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// Whether no flag was evaluated.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    fn from_flags(answer: types::FlagsResponse) -> Self {
        let flags = answer
            .flags
            .into_iter()
            .map(|(key, detail)| {
                let flag = Flag::from_detail(key.clone(), detail);
                (key, flag)
            })
            .collect();
        Self {
            flags,
            errors_while_computing_flags: answer.errors_while_computing_flags.unwrap_or(false),
            quota_limited: answer.quota_limited.unwrap_or_default(),
            request_id: answer.request_id,
            endpoint: FlagsEndpoint::Flags,
        }
    }

    fn from_decide(answer: types::DecideResponse) -> Self {
        let mut payloads = answer.feature_flag_payloads.unwrap_or_default();
        let values = answer.feature_flags.unwrap_or_default();
        let flags = values
            .into_iter()
            .filter_map(|(key, value)| {
                // decide answers `true`/`false` or the variant key; anything else is not a value.
                let value = match value {
                    Value::Bool(enabled) => FlagValue::Boolean(enabled),
                    Value::String(variant) => FlagValue::Variant(variant),
                    _ => return None,
                };
                let payload = payloads.remove(&key).and_then(decode_payload);
                Some((
                    key.clone(),
                    Flag {
                        key,
                        value,
                        payload,
                        reason: None,
                    },
                ))
            })
            .collect();
        Self {
            flags,
            errors_while_computing_flags: answer.errors_while_computing_flags.unwrap_or(false),
            quota_limited: answer.quota_limited.unwrap_or_default(),
            request_id: None,
            endpoint: FlagsEndpoint::Decide,
        }
    }
}

/// PostHog stores payloads as JSON text and answers them as a string holding it; the value
/// inside is what the user configured. `null` means no payload.
fn decode_payload(payload: Value) -> Option<Value> {
    match payload {
        Value::Null => None,
        Value::String(text) => Some(serde_json::from_str(&text).unwrap_or(Value::String(text))),
        other => Some(other),
    }
}

/// What else [`Client::flags`] evaluates with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FlagsOptions {
    groups: BTreeMap<String, String>,
    person_properties: BTreeMap<String, Value>,
    group_properties: BTreeMap<String, BTreeMap<String, Value>>,
    evaluation_environments: Vec<String>,
    config: bool,
}

impl FlagsOptions {
    /// Nothing beyond the distinct id.
    pub fn new() -> Self {
        Self::default()
    }

    /// The group of type `group_type` the user belongs to, for group-based flags.
    pub fn group(mut self, group_type: impl Into<String>, group_key: impl Into<String>) -> Self {
        self.groups.insert(group_type.into(), group_key.into());
        self
    }

    /// A person property to evaluate with, besides the stored ones.
    pub fn person_property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.person_properties.insert(key.into(), value.into());
        self
    }

    /// A property of the user's group of type `group_type` to evaluate with.
    pub fn group_property(
        mut self,
        group_type: impl Into<String>,
        key: impl Into<String>,
        value: impl Into<Value>,
    ) -> Self {
        self.group_properties
            .entry(group_type.into())
            .or_default()
            .insert(key.into(), value.into());
        self
    }

    /// Evaluates only flags tagged with this environment (or with none); may be repeated.
    pub fn evaluation_environment(mut self, environment: impl Into<String>) -> Self {
        self.evaluation_environments.push(environment.into());
        self
    }

    /// Asks `/flags` for the project's client configuration too (`config=true`); the client
    /// keeps only the flags of the answer.
    pub fn config(mut self, config: bool) -> Self {
        self.config = config;
        self
    }

    /// The groups given (type to key).
    pub(crate) fn groups_map(&self) -> &BTreeMap<String, String> {
        &self.groups
    }

    /// The person properties given.
    pub(crate) fn person_properties_map(&self) -> &BTreeMap<String, Value> {
        &self.person_properties
    }

    /// The group properties given, per group type.
    pub(crate) fn group_properties_map(&self) -> &BTreeMap<String, BTreeMap<String, Value>> {
        &self.group_properties
    }

    fn request(&self, distinct_id: &str) -> types::FlagsRequest {
        types::FlagsRequest {
            api_key: None,
            distinct_id: distinct_id.to_owned(),
            groups: (!self.groups.is_empty()).then(|| self.groups.clone()),
            person_properties: (!self.person_properties.is_empty())
                .then(|| self.person_properties.clone()),
            group_properties: (!self.group_properties.is_empty())
                .then(|| self.group_properties.clone()),
            evaluation_environments: (!self.evaluation_environments.is_empty())
                .then(|| self.evaluation_environments.clone()),
        }
    }
}

impl Client {
    /// Evaluates every flag for `distinct_id` with `/flags?v=4`, or with `/decide/?v=3` when
    /// the server has no `/flags` (it answers 404).
    pub async fn flags(&self, distinct_id: &str, options: &FlagsOptions) -> Result<Flags> {
        let operation = PUBLIC_FLAGS.id;
        self.require_project_key(operation)?;
        if distinct_id.trim().is_empty() {
            return Err(Error::InvalidArgument {
                operation,
                field: "distinct_id".into(),
                reason: "the distinct id is empty".into(),
            });
        }
        let body = options.request(distinct_id);
        let query = PublicFlagsQuery {
            v: FLAGS_API_VERSION,
            config: options.config.then_some(true),
        };
        match self.public_flags(&query, &body).await {
            Ok(answer) => Ok(Flags::from_flags(answer)),
            Err(Error::NotFound(_)) => {
                tracing::debug!("the server has no /flags; evaluating with /decide/?v=3");
                let answer = self
                    .public_decide(&PublicDecideQuery { v: 3 }, &body)
                    .await?;
                Ok(Flags::from_decide(answer))
            }
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_decoded_from_json_text() {
        assert_eq!(
            decode_payload(Value::from("{\"a\":1}")),
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            decode_payload(Value::from("not json")),
            Some(Value::from("not json"))
        );
        assert_eq!(decode_payload(Value::Null), None);
    }
}
