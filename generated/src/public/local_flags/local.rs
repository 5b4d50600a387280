//! [`LocalFlags`]: definitions kept fresh by a background poller, flags decided locally, the
//! remote `/flags` call only for what the definitions cannot decide, and one
//! `$feature_flag_called` event per (distinct id, flag, value) through a [`CaptureQueue`].

use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Map, Value};
use tokio::sync::Notify;
use url::Url;

use super::called::FlagCalledCache;
use super::poller::{self, DefinitionsPoll, DefinitionsSource};
use super::{EvaluationInput, FlagDefinitions, Inconclusive};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::public::{CaptureQueue, Event, FlagValue, FlagsOptions};

/// How [`LocalFlags`] polls and reports.
#[derive(Debug, Clone)]
pub struct LocalFlagsConfig {
    poll_interval: Duration,
    fallback_to_remote: bool,
    called_capacity: usize,
    base_url: Option<Url>,
}

impl Default for LocalFlagsConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(30),
            fallback_to_remote: true,
            called_capacity: 50_000,
            base_url: None,
        }
    }
}

impl LocalFlagsConfig {
    /// Polls every 30 s, falls back to `/flags`, remembers 50,000 distinct ids' flag calls.
    pub fn new() -> Self {
        Self::default()
    }

    /// How often the definitions are polled (at least 1 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_secs(1));
        self
    }

    /// Whether a flag the definitions cannot decide is asked of `/flags` (else it reads as
    /// undecided: `None`), like the SDKs' `only_evaluate_locally`.
    pub fn fallback_to_remote(mut self, fallback: bool) -> Self {
        self.fallback_to_remote = fallback;
        self
    }

    /// How many distinct ids' `$feature_flag_called` events are remembered for deduplication.
    pub fn called_capacity(mut self, capacity: usize) -> Self {
        self.called_capacity = capacity.max(1);
        self
    }

    /// Where the definitions are fetched. By default the client's private host, so the secret
    /// key never travels to the public capture host (PostHog's SDKs send it to their one host,
    /// the ingestion host; a private host without `/flags/definitions` answers the older
    /// `/api/feature_flag/local_evaluation/`, which this falls back to).
    pub fn base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Decided from the definitions.
    Local,
    /// Asked of `/flags`.
    Remote,
}

/// One flag's value for one distinct id.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalValue {
    /// The value.
    pub value: FlagValue,
    /// Its payload.
    pub payload: Option<Value>,
    /// Where it came from.
    pub source: Source,
}

struct Inner {
    client: Client,
    secret: SecretString,
    base: Url,
    config: LocalFlagsConfig,
    definitions: RwLock<FlagDefinitions>,
    etag: Mutex<Option<String>>,
    source: Mutex<DefinitionsSource>,
    called: FlagCalledCache,
    queue: Option<CaptureQueue>,
    stop: Notify,
}

/// Flags evaluated in process; see the module documentation. Cheap to clone.
#[derive(Clone)]
pub struct LocalFlags {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LocalFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalFlags")
            .field("flags", &self.definitions().len())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Client {
    /// Starts local evaluation: loads the definitions with `secret_key` (a project secret key
    /// `phs_...` or a personal API key, sent only on the definitions request, to the private
    /// host unless [`LocalFlagsConfig::base_url`] says otherwise) and polls them
    /// in the background. `queue` carries the `$feature_flag_called` events (none are sent
    /// without one). Needs the project API key and a tokio runtime.
    pub async fn local_flags(
        &self,
        secret_key: impl Into<String>,
        config: LocalFlagsConfig,
        queue: Option<CaptureQueue>,
    ) -> Result<LocalFlags> {
        let secret = SecretString::from(secret_key.into());
        let base = config
            .base_url
            .clone()
            .unwrap_or_else(|| self.inner.hosts.private.clone());
        let inner = Arc::new(Inner {
            client: self.clone(),
            secret,
            base,
            called: FlagCalledCache::new(config.called_capacity),
            config,
            definitions: RwLock::default(),
            etag: Mutex::new(None),
            source: Mutex::new(DefinitionsSource::Flags),
            queue,
            stop: Notify::new(),
        });
        let flags = LocalFlags { inner };
        flags.reload().await?;
        let weak = Arc::downgrade(&flags.inner);
        tokio::spawn(poll(weak, flags.inner.config.poll_interval));
        Ok(flags)
    }
}

/// Polls until the [`LocalFlags`] is dropped or stopped; a failed poll keeps the last
/// definitions and is logged.
async fn poll(inner: Weak<Inner>, interval: Duration) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = strong.stop.notified() => return,
        }
        let flags = LocalFlags { inner: strong };
        if let Err(error) = flags.reload().await {
            tracing::warn!(%error, "polling the flag definitions failed; keeping the last ones");
        }
    }
}

impl LocalFlags {
    /// Fetches the definitions now (conditionally on the last ETag).
    pub async fn reload(&self) -> Result<DefinitionsPoll> {
        let inner = &self.inner;
        let etag = lock(&inner.etag).clone();
        let source = *lock(&inner.source);
        let mut answer = poller::fetch(
            &inner.client,
            &inner.base,
            source,
            &inner.secret,
            etag.as_deref(),
        )
        .await;
        if source == DefinitionsSource::Flags && matches!(answer, Err(Error::NotFound(_))) {
            tracing::debug!(
                "no /flags/definitions here; trying /api/feature_flag/local_evaluation/"
            );
            answer = poller::fetch(
                &inner.client,
                &inner.base,
                DefinitionsSource::LocalEvaluation,
                &inner.secret,
                None,
            )
            .await;
            if answer.is_ok() {
                *lock(&inner.source) = DefinitionsSource::LocalEvaluation;
            }
        }
        match &answer {
            Ok(DefinitionsPoll::Updated { definitions, etag }) => {
                *inner
                    .definitions
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = definitions.clone();
                *lock(&inner.etag) = etag.clone();
            }
            Ok(DefinitionsPoll::NotModified) => {}
            // Over quota, PostHog's SDKs stop evaluating locally.
            Err(error) if error.status().is_some_and(|status| status.as_u16() == 402) => {
                *inner
                    .definitions
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    FlagDefinitions::default();
                *lock(&inner.etag) = None;
            }
            Err(_) => {}
        }
        answer
    }

    /// The definitions in use.
    pub fn definitions(&self) -> FlagDefinitions {
        read(&self.inner.definitions)
    }

    /// Stops the background poller.
    pub fn stop(&self) {
        self.inner.stop.notify_waiters();
    }

    /// Flag `key` for `distinct_id`: decided from the definitions when they can, else (unless
    /// configured off) by `/flags`; `Ok(None)` when neither knows the flag. Sends
    /// `$feature_flag_called` once per (distinct id, flag, value) through the queue.
    pub async fn get_flag(
        &self,
        key: &str,
        distinct_id: &str,
        options: &FlagsOptions,
    ) -> Result<Option<LocalValue>> {
        let local = self.evaluate(key, distinct_id, options);
        let value = match local {
            Ok(Some(value)) => {
                let payload = self.definitions().payload(key, &value);
                Some(LocalValue {
                    value,
                    payload,
                    source: Source::Local,
                })
            }
            Ok(None) | Err(_) if self.inner.config.fallback_to_remote => {
                let flags = self.inner.client.flags(distinct_id, options).await?;
                flags.get(key).map(|flag| LocalValue {
                    value: flag.value.clone(),
                    payload: flag.payload.clone(),
                    source: Source::Remote,
                })
            }
            Ok(None) | Err(_) => None,
        };
        if let Some(value) = &value {
            self.report_call(key, distinct_id, options, value);
        }
        Ok(value)
    }

    /// Flag `key` decided from the definitions alone: `Ok(None)` when it is not defined.
    /// Adds `distinct_id` to the person properties and `$group_key` to each group's, as the
    /// SDKs do.
    pub fn evaluate(
        &self,
        key: &str,
        distinct_id: &str,
        options: &FlagsOptions,
    ) -> std::result::Result<Option<FlagValue>, Inconclusive> {
        let mut person: Map<String, Value> = options
            .person_properties_map()
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        person
            .entry("distinct_id")
            .or_insert_with(|| Value::String(distinct_id.to_owned()));
        let groups = options.groups_map();
        let mut group_properties = Map::new();
        for (group, group_key) in groups {
            let mut properties = Map::new();
            properties.insert("$group_key".into(), Value::String(group_key.clone()));
            if let Some(given) = options.group_properties_map().get(group) {
                properties.extend(
                    given
                        .iter()
                        .map(|(name, value)| (name.clone(), value.clone())),
                );
            }
            group_properties.insert(group.clone(), Value::Object(properties));
        }
        let definitions = self.definitions();
        let input = EvaluationInput::new(distinct_id)
            .groups(groups)
            .person_properties(&person)
            .group_properties(&group_properties)
            .property_matching_version(definitions.property_matching_version());
        definitions.evaluate(key, &input)
    }

    fn report_call(
        &self,
        key: &str,
        distinct_id: &str,
        options: &FlagsOptions,
        value: &LocalValue,
    ) {
        let Some(queue) = &self.inner.queue else {
            return;
        };
        let response = match &value.value {
            FlagValue::Boolean(enabled) => Value::Bool(*enabled),
            FlagValue::Variant(variant) => Value::String(variant.clone()),
        };
        let text = match &response {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        if !self.inner.called.first_time(distinct_id, key, &text) {
            return;
        }
        let mut event = Event::new("$feature_flag_called", distinct_id)
            .property("$feature_flag", key)
            .property("$feature_flag_response", response.clone())
            .property(format!("$feature/{key}"), response)
            .property("locally_evaluated", value.source == Source::Local);
        if let Some(flag) = self.definitions().get(key) {
            if let Some(id) = flag.id {
                event = event.property("$feature_flag_id", id);
            }
            if let Some(version) = flag.version {
                event = event.property("$feature_flag_version", version);
            }
        }
        for (group, group_key) in options.groups_map() {
            event = event.group(group.clone(), group_key.clone());
        }
        if let Err(error) = queue.capture(event) {
            tracing::debug!(%error, "the $feature_flag_called event was not queued");
        }
    }
}
