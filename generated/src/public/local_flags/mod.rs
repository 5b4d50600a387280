//! Local feature flag evaluation, as PostHog's server SDKs do it: the flag definitions
//! ([`FlagDefinitions`], polled by [`LocalFlags`] with ETag) decide flags in process with
//! PostHog's exact semantics, and only a flag they cannot decide goes to `/flags`.
//!
//! The semantics are posthog-python 7.91's (`feature_flags.py`, `client.py`); the test
//! `tests/tests/integration/local_flags.rs` replays the cases its own test suite checks.
//!
//! ```no_run
//! use posthog_api::public::local_flags::{EvaluationInput, FlagDefinitions};
//! # fn run(document: serde_json::Value) -> Result<(), String> {
//! let definitions = FlagDefinitions::from_json(&document)?;
//! let mut person = serde_json::Map::new();
//! person.insert("plan".into(), "pro".into());
//! let input = EvaluationInput::new("user-1").person_properties(&person);
//! let value = definitions.evaluate("new-onboarding", &input);
//! # Ok(()) }
//! ```

mod called;
mod definitions;
mod evaluate;
pub mod hash;
mod local;
mod poller;
mod properties;
mod values;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub use called::FlagCalledCache;
pub use definitions::{FlagDefinition, FlagDefinitions};
pub use local::{LocalFlags, LocalFlagsConfig, LocalValue, Source};
pub use poller::{DefinitionsPoll, DefinitionsSource};

use crate::public::FlagValue;

/// Why a flag could not be decided locally, in PostHog's order of precedence (the first one
/// that applies is reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unresolved {
    /// The flag keeps a user's value across identities, which only the server knows.
    ExperienceContinuity,
    /// The definition uses something local evaluation cannot (an unknown operator, a static
    /// cohort, a dialect-specific regex, ...).
    UnsupportedDefinition,
    /// A flag it depends on could not be decided.
    UnresolvedDependency,
    /// The call did not pass a property (or group) the flag needs.
    MissingContext,
}

/// A flag local evaluation could not decide; ask `/flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inconclusive {
    /// Why.
    pub reason: Unresolved,
    /// The server holds data the definitions lack (a static cohort): no later condition may
    /// decide the flag locally.
    pub requires_server: bool,
}

impl Inconclusive {
    fn new(reason: Unresolved) -> Self {
        Self {
            reason,
            requires_server: false,
        }
    }

    fn server(reason: Unresolved) -> Self {
        Self {
            reason,
            requires_server: true,
        }
    }

    /// The reason of higher precedence of the two.
    fn worst(current: Option<Inconclusive>, new: Inconclusive) -> Inconclusive {
        match current {
            Some(current) if current.reason <= new.reason => current,
            _ => new,
        }
    }
}

static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);
static NO_GROUPS: LazyLock<BTreeMap<String, String>> = LazyLock::new(BTreeMap::new);

/// Who a flag is evaluated for, and what is known about them.
#[derive(Debug, Clone, Copy)]
pub struct EvaluationInput<'a> {
    distinct_id: &'a str,
    device_id: Option<&'a str>,
    groups: &'a BTreeMap<String, String>,
    person_properties: &'a Map<String, Value>,
    group_properties: &'a Map<String, Value>,
    property_matching_version: i64,
    now: Option<DateTime<Utc>>,
}

impl<'a> EvaluationInput<'a> {
    /// `distinct_id`, with no properties or groups yet.
    pub fn new(distinct_id: &'a str) -> Self {
        Self {
            distinct_id,
            device_id: None,
            groups: &NO_GROUPS,
            person_properties: &EMPTY,
            group_properties: &EMPTY,
            property_matching_version: 1,
            now: None,
        }
    }

    /// The device id, for flags that bucket by device.
    pub fn device_id(mut self, device_id: &'a str) -> Self {
        self.device_id = Some(device_id);
        self
    }

    /// Group type to group key (e.g. `company` to `acme`).
    pub fn groups(mut self, groups: &'a BTreeMap<String, String>) -> Self {
        self.groups = groups;
        self
    }

    /// The person's properties.
    pub fn person_properties(mut self, properties: &'a Map<String, Value>) -> Self {
        self.person_properties = properties;
        self
    }

    /// Group type to that group's properties (an object each).
    pub fn group_properties(mut self, properties: &'a Map<String, Value>) -> Self {
        self.group_properties = properties;
        self
    }

    /// PostHog's `property_matching_version` (1 unless the definitions say otherwise).
    pub fn property_matching_version(mut self, version: i64) -> Self {
        self.property_matching_version = version;
        self
    }

    /// The time relative date filters count back from (now by default).
    pub fn now(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }
}

impl FlagDefinitions {
    /// Flag `key`'s value for `input`: `Ok(None)` when no such flag is defined.
    pub fn evaluate(
        &self,
        key: &str,
        input: &EvaluationInput<'_>,
    ) -> Result<Option<FlagValue>, Inconclusive> {
        let Some(flag) = self.get(key) else {
            return Ok(None);
        };
        let now = input.now.unwrap_or_else(Utc::now);
        evaluate::Evaluation::new(&self.inner, input, now)
            .flag(flag)
            .map(Some)
    }

    /// The payload the definitions give flag `key`'s `value` (`"true"` for an enabled boolean
    /// flag, else the variant key), decoded from the JSON text PostHog stores.
    pub fn payload(&self, key: &str, value: &FlagValue) -> Option<Value> {
        let flag = self.get(key)?;
        let lookup = match value {
            FlagValue::Boolean(enabled) => enabled.to_string(),
            FlagValue::Variant(variant) => variant.clone(),
        };
        let payload = flag.filters.payloads.get(&lookup)?;
        match payload {
            Value::Null => None,
            Value::String(text) => {
                Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone())))
            }
            other => Some(other.clone()),
        }
    }
}
