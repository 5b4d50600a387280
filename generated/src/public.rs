//! Ergonomics over the generated public endpoints: capture one event, send a batch split into
//! requests under PostHog's 20 MB limit, identify / alias / group events, and typed flag values
//! from `/flags?v=4` with a fallback to `/decide/?v=3`.
//!
//! These calls go to the public host with only the project API key (see [`crate::auth`]), so the
//! client needs [`crate::CredentialsBuilder::project_api_key`]. Every event gets a UUID and a
//! timestamp when it has none, before anything is sent, so that PostHog can recognise an event
//! a retried request sends twice.
//!
//! ```no_run
//! use posthog_api::public::{Event, FlagsOptions};
//! use posthog_api::{Client, Credentials, Region};
//! # async fn run() -> posthog_api::Result<()> {
//! let client = Client::new(Region::Eu, Credentials::project_api_key("phc_..."))?;
//! client.capture(Event::new("signed_up", "user-1").property("plan", "pro")).await?;
//! client.capture(Event::identify("user-1").set("email", "a@example.com")).await?;
//! let flags = client.flags("user-1", &FlagsOptions::new()).await?;
//! if flags.is_enabled("new-onboarding") { /* ... */ }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

mod capture_queue;
mod flags;
pub mod local_flags;

pub use capture_queue::{
    BeforeSend, CaptureQueue, CaptureQueueConfig, Captured, DropReason, Overflow, QueueStats,
};
pub use flags::{FLAGS_API_VERSION, Flag, FlagValue, Flags, FlagsEndpoint, FlagsOptions};

use crate::client::{Client, MAX_BODY_BYTES};
use crate::error::{Error, Result};
use crate::generated::operations::{PUBLIC_BATCH, PUBLIC_CAPTURE};
use crate::generated::types;

/// Room left in every batch request for what the client adds around the events: the
/// `api_key` member (project keys are about 50 characters) and the envelope
/// `{"historical_migration":false,"batch":[...]}`. Generous, so a long self-hosted key fits too.
pub const BATCH_ENVELOPE_RESERVE: usize = 4 * 1024;

/// One event to capture. Built with [`Event::new`] or one of the special-event constructors,
/// and checked when sent: an empty name or distinct id is refused before any request.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    name: String,
    distinct_id: String,
    properties: Map<String, Value>,
    timestamp: Option<DateTime<FixedOffset>>,
    uuid: Option<Uuid>,
}

impl Event {
    /// An event called `name` done by `distinct_id`. Identified by default: PostHog creates or
    /// updates the person profile (see [`Event::anonymous`]).
    pub fn new(name: impl Into<String>, distinct_id: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            distinct_id: distinct_id.into(),
            properties: Map::new(),
            timestamp: None,
            uuid: None,
        }
    }

    /// `$identify` for `distinct_id`; add person properties with [`Event::set`] and
    /// [`Event::set_once`].
    pub fn identify(distinct_id: impl Into<String>) -> Self {
        Self::new("$identify", distinct_id)
    }

    /// `$create_alias`: makes `alias` another distinct id of the person `distinct_id` is.
    pub fn alias(distinct_id: impl Into<String>, alias: impl Into<String>) -> Self {
        Self::new("$create_alias", distinct_id).property("alias", alias.into())
    }

    /// `$groupidentify`: sets `properties` on the group `group_key` of type `group_type`
    /// (e.g. `company`, `acme`). The distinct id is `$<type>_<key>`, as PostHog's SDKs send it,
    /// because the event describes the group rather than a person.
    pub fn group_identify(
        group_type: impl Into<String>,
        group_key: impl Into<String>,
        properties: Map<String, Value>,
    ) -> Self {
        let group_type = group_type.into();
        let group_key = group_key.into();
        let distinct_id = format!("${group_type}_{group_key}");
        Self::new("$groupidentify", distinct_id)
            .property("$group_type", group_type)
            .property("$group_key", group_key)
            .property("$group_set", Value::Object(properties))
    }

    /// Adds (or replaces) one event property.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Adds every member of `properties`, replacing properties with the same names.
    pub fn properties(mut self, properties: Map<String, Value>) -> Self {
        self.properties.extend(properties);
        self
    }

    /// Sets a person property (`$set`), overwriting its value.
    pub fn set(self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.nested("$set", key.into(), value.into())
    }

    /// Sets a person property only if the person has no value for it yet (`$set_once`).
    pub fn set_once(self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.nested("$set_once", key.into(), value.into())
    }

    /// Associates the event with the group `group_key` of type `group_type` (`$groups`).
    pub fn group(self, group_type: impl Into<String>, group_key: impl Into<String>) -> Self {
        self.nested(
            "$groups",
            group_type.into(),
            Value::String(group_key.into()),
        )
    }

    /// Makes the event anonymous: PostHog does not create or update a person profile for it
    /// (`"$process_person_profile": false`).
    pub fn anonymous(self) -> Self {
        self.property("$process_person_profile", false)
    }

    /// When the event happened; the time it is sent when not given.
    pub fn timestamp(mut self, timestamp: impl Into<DateTime<FixedOffset>>) -> Self {
        self.timestamp = Some(timestamp.into());
        self
    }

    /// The event's identity; a random (v4) UUID when not given.
    pub fn uuid(mut self, uuid: Uuid) -> Self {
        self.uuid = Some(uuid);
        self
    }

    /// Fills in the UUID and timestamp now, if absent. Keep the stamped events to resend them
    /// after a failure: PostHog recognises the repeated UUIDs.
    pub fn stamp(mut self) -> Self {
        self.stamp_at(Utc::now().fixed_offset());
        self
    }

    /// The event's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who did it.
    pub fn distinct_id(&self) -> &str {
        &self.distinct_id
    }

    /// The properties given so far.
    pub fn properties_map(&self) -> &Map<String, Value> {
        &self.properties
    }

    /// The UUID, if given or stamped.
    pub fn event_uuid(&self) -> Option<Uuid> {
        self.uuid
    }

    fn stamp_at(&mut self, now: DateTime<FixedOffset>) {
        self.timestamp.get_or_insert(now);
        self.uuid.get_or_insert_with(Uuid::new_v4);
    }

    /// Inserts `key: value` into the object property `outer`, replacing a non-object value,
    /// since PostHog reads `$set`, `$set_once` and `$groups` only as objects.
    fn nested(mut self, outer: &str, key: String, value: Value) -> Self {
        let slot = self
            .properties
            .entry(outer.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        if let Value::Object(members) = slot {
            members.insert(key, value);
        }
        self
    }

    /// Refuses what PostHog would drop or reject, naming the field; `place` says which event of
    /// a batch it is (`events[3].`), empty for a single event.
    fn check(&self, operation: &'static str, place: &str) -> Result<()> {
        let invalid = |field: &str, reason: &str| Error::InvalidArgument {
            operation,
            field: format!("{place}{field}"),
            reason: reason.to_owned(),
        };
        if self.name.trim().is_empty() {
            return Err(invalid("event", "the event name is empty"));
        }
        if self.distinct_id.trim().is_empty() {
            return Err(invalid("distinct_id", "the distinct id is empty"));
        }
        if self.name == "$create_alias"
            && self
                .properties
                .get("alias")
                .and_then(Value::as_str)
                .is_none_or(|alias| alias.trim().is_empty())
        {
            return Err(invalid(
                "properties.alias",
                "an alias event needs a non-empty alias",
            ));
        }
        if self.name == "$groupidentify" {
            for field in ["$group_type", "$group_key"] {
                let value = self.properties.get(field).and_then(Value::as_str);
                if value.is_none_or(|text| text.trim().is_empty()) {
                    return Err(invalid(
                        &format!("properties.{field}"),
                        "a group identify event needs a non-empty group type and key",
                    ));
                }
            }
        }
        Ok(())
    }

    fn properties_value(properties: Map<String, Value>) -> Option<BTreeMap<String, Value>> {
        (!properties.is_empty()).then(|| properties.into_iter().collect())
    }

    fn into_capture(self) -> types::CaptureRequest {
        types::CaptureRequest {
            api_key: None,
            event: self.name,
            distinct_id: self.distinct_id,
            properties: Self::properties_value(self.properties),
            timestamp: self.timestamp,
            uuid: self.uuid,
            dollar_set: None,
            dollar_set_once: None,
        }
    }

    fn into_batch_item(self) -> types::CaptureEvent {
        types::CaptureEvent {
            event: self.name,
            distinct_id: Some(self.distinct_id),
            properties: Self::properties_value(self.properties),
            timestamp: self.timestamp,
            uuid: self.uuid,
            dollar_set: None,
            dollar_set_once: None,
        }
    }
}

/// How [`Client::batch_with`] sends events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOptions {
    gzip: bool,
    historical_migration: bool,
    max_body_bytes: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            gzip: true,
            historical_migration: false,
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}

impl BatchOptions {
    /// gzip-compressed requests, not a historical migration, requests up to 20 MB of JSON.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether request bodies are gzip-compressed (`Content-Encoding: gzip`, which PostHog's
    /// capture endpoints accept). On by default: event JSON shrinks about tenfold.
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// Marks the events as a back-fill of past data (`historical_migration`), which PostHog
    /// ingests apart from live events.
    pub fn historical_migration(mut self, historical: bool) -> Self {
        self.historical_migration = historical;
        self
    }

    /// Caps the JSON size of each request below the 20 MB PostHog allows (larger values are
    /// treated as 20 MB). The cap applies before compression, which is what the server
    /// decodes and limits.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes.min(MAX_BODY_BYTES);
        self
    }
}

/// What [`Client::batch`] sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchReport {
    /// Events sent, all of them.
    pub events: usize,
    /// Requests they took.
    pub requests: usize,
    /// JSON bytes of the events and envelopes, before the key and any compression.
    pub json_bytes: usize,
}

/// A writer that only counts, for measuring an event's JSON without keeping it.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON size of `value`; a value serde cannot encode is an invalid argument.
fn json_len<T: serde::Serialize>(value: &T, operation: &'static str, field: &str) -> Result<usize> {
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value).map_err(|error| Error::InvalidArgument {
        operation,
        field: field.to_owned(),
        reason: format!("cannot be encoded as JSON: {error}"),
    })?;
    Ok(counter.0)
}

/// Consecutive runs of events, each run's request body under `budget` bytes of JSON.
#[derive(Debug)]
struct Chunk {
    events: Vec<types::CaptureEvent>,
    json_bytes: usize,
}

/// Splits `events` into chunks in order, checking and stamping each one first: nothing is sent
/// unless every event is valid and fits in a request on its own.
fn split_batch(
    events: impl IntoIterator<Item = Event>,
    options: &BatchOptions,
    now: DateTime<FixedOffset>,
) -> Result<Vec<Chunk>> {
    let operation = PUBLIC_BATCH.id;
    let envelope = types::BatchRequest {
        api_key: None,
        historical_migration: Some(options.historical_migration),
        batch: Vec::new(),
    };
    let envelope_bytes = json_len(&envelope, operation, "batch")?;
    let budget = options
        .max_body_bytes
        .saturating_sub(BATCH_ENVELOPE_RESERVE)
        .saturating_sub(envelope_bytes);
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut current = Chunk {
        events: Vec::new(),
        json_bytes: 0,
    };
    for (index, mut event) in events.into_iter().enumerate() {
        let place = format!("events[{index}].");
        event.check(operation, &place)?;
        event.stamp_at(now);
        let item = event.into_batch_item();
        let size = json_len(&item, operation, &format!("events[{index}]"))?;
        if size > budget {
            return Err(Error::InvalidArgument {
                operation,
                field: format!("events[{index}]"),
                reason: format!(
                    "this event alone encodes to {size} bytes, over the {budget} bytes a batch request has room for under the {} byte limit; nothing was sent",
                    options.max_body_bytes
                ),
            });
        }
        // One comma between items.
        let separator = usize::from(!current.events.is_empty());
        if current.json_bytes + separator + size > budget {
            chunks.push(std::mem::replace(
                &mut current,
                Chunk {
                    events: Vec::new(),
                    json_bytes: 0,
                },
            ));
        }
        current.json_bytes += usize::from(!current.events.is_empty()) + size;
        current.events.push(item);
    }
    if !current.events.is_empty() {
        chunks.push(current);
    }
    for chunk in &mut chunks {
        chunk.json_bytes += envelope_bytes;
    }
    Ok(chunks)
}

impl Client {
    /// Captures one event (`POST /capture/`), stamping its UUID and timestamp when absent.
    /// A success means PostHog received a well-formed event, not that it was ingested yet.
    pub async fn capture(&self, event: Event) -> Result<()> {
        let operation = PUBLIC_CAPTURE.id;
        self.require_project_key(operation)?;
        let mut event = event;
        event.check(operation, "")?;
        event.stamp_at(Utc::now().fixed_offset());
        // The answer is only `{"status": 1}`, and ingestion services have answered other shapes
        // over time, so any 2xx counts as received rather than failing to decode it.
        self.__op(&PUBLIC_CAPTURE, &[])
            .json(&event.into_capture())
            .send_value()
            .await
            .map(|_| ())
    }

    /// Captures `events` through `/batch/` with [`BatchOptions::default`] (gzip on): see
    /// [`Client::batch_with`].
    pub async fn batch(&self, events: impl IntoIterator<Item = Event>) -> Result<BatchReport> {
        self.batch_with(events, &BatchOptions::default()).await
    }

    /// Captures `events` through `/batch/`, in order, in as many requests as it takes to keep
    /// each body under 20 MB of JSON. Every event is checked and stamped (UUID, timestamp)
    /// before the first request, so invalid input or an event too large for any request sends
    /// nothing. Requests go one after the other, so the server receives events in order.
    ///
    /// If a request fails, the earlier ones were delivered and the error is returned; to resend
    /// without duplicates, [`Event::stamp`] the events first and send the same events again:
    /// PostHog recognises their UUIDs.
    pub async fn batch_with(
        &self,
        events: impl IntoIterator<Item = Event>,
        options: &BatchOptions,
    ) -> Result<BatchReport> {
        let operation = PUBLIC_BATCH.id;
        self.require_project_key(operation)?;
        let chunks = split_batch(events, options, Utc::now().fixed_offset())?;
        let mut report = BatchReport::default();
        let total = chunks.len();
        for chunk in chunks {
            let count = chunk.events.len();
            let body = types::BatchRequest {
                api_key: None,
                historical_migration: Some(options.historical_migration),
                batch: chunk.events,
            };
            let mut request = self.__op(&PUBLIC_BATCH, &[]).json(&body);
            if options.gzip {
                request = request.__gzip();
            }
            if let Err(error) = request.send_value().await {
                tracing::warn!(
                    operation,
                    delivered_events = report.events,
                    delivered_requests = report.requests,
                    requests = total,
                    "a batch request failed after earlier ones were delivered"
                );
                return Err(error);
            }
            report.events += count;
            report.requests += 1;
            report.json_bytes += chunk.json_bytes;
        }
        Ok(report)
    }

    /// Public calls need the project key: without it PostHog answers 401, so say so unsent.
    fn require_project_key(&self, operation: &'static str) -> Result<()> {
        if self.inner.credentials.project_key.is_some() || self.inner.project_token.is_some() {
            return Ok(());
        }
        Err(Error::InvalidArgument {
            operation,
            field: "project_api_key".into(),
            reason: "public endpoints authenticate with the project API key; add it with Credentials::builder().project_api_key(..)".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<FixedOffset> {
        Utc::now().fixed_offset()
    }

    #[test]
    fn split_keeps_order_and_every_event_under_the_budget() {
        let events = (0..1000)
            .map(|i| Event::new("e", format!("user-{i}")).property("pad", "x".repeat(100)));
        let options = BatchOptions::new().max_body_bytes(BATCH_ENVELOPE_RESERVE + 20_000);
        let chunks = split_batch(events, &options, now()).unwrap_or_default();
        assert!(chunks.len() > 5);
        let ids: Vec<String> = chunks
            .iter()
            .flat_map(|chunk| chunk.events.iter().filter_map(|e| e.distinct_id.clone()))
            .collect();
        let expected: Vec<String> = (0..1000).map(|i| format!("user-{i}")).collect();
        assert_eq!(ids, expected);
        for chunk in &chunks {
            let body = types::BatchRequest {
                api_key: None,
                historical_migration: Some(false),
                batch: chunk.events.clone(),
            };
            let len = serde_json::to_vec(&body)
                .map(|bytes| bytes.len())
                .unwrap_or(usize::MAX);
            assert_eq!(len, chunk.json_bytes);
            assert!(len <= 20_000);
        }
    }
}
