//! The public endpoints of the fake PostHog, on the generated `PublicApi` stubs plus the other
//! paths PostHog serves them on ([`aliases`]: `/flags/`, `/e/`, `/i/v0/e/`, capture v1) and the
//! flag definitions for local evaluation ([`definitions`]): it records every event it receives,
//! so tests can assert on them, and evaluates simple boolean and multivariate flags it was given.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use posthog_api::server::fake_public::{FakeFlag, FakePublic};
//!
//! let fake = FakePublic::new("phc_test");
//! fake.add_flag(FakeFlag::boolean("beta", true));
//! let server = fake.serve("127.0.0.1:0").await?;
//! // ... point a client at server.base_url(), then:
//! let events = fake.events();
//! # Ok(()) }
//! ```
//!
//! Like PostHog's capture endpoints, it accepts gzip bodies (`Content-Encoding: gzip` or
//! `?compression=gzip-js`), answers 401 `invalid_api_key` for a missing or unknown project key
//! and 400 `invalid_payload` for a body it cannot read. [`FakePublic::fail_next`] makes it give
//! the other documented answers (400 `invalid_project`, 503 `fetch_team_fail`).

use std::collections::{BTreeMap, VecDeque};
use std::io::Read as _;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset};
use http::StatusCode;
use http::header::{self, HeaderValue};
use serde_json::{Map, Value};

use crate::client::MAX_BODY_BYTES;
use crate::generated::api::public::{PublicDecideQuery, PublicFlagsQuery};
use crate::generated::types;
use crate::server::public::PublicApi;
use crate::server::{Answer, Context, Reply, Routes, RunningServer, ServerError};

pub mod aliases;
pub mod definitions;

/// The header the decoding layer uses to tell the handler which recorded request it is in.
const REQUEST_ID_HEADER: &str = "x-posthog-fake-request";

/// One event as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedEvent {
    /// The event name.
    pub event: String,
    /// The distinct id (from the event, or from its properties in a batch).
    pub distinct_id: Option<String>,
    /// The event properties.
    pub properties: Map<String, Value>,
    /// `$set` sent as a top-level member of the event (as posthog-python's `set()` does).
    pub set: Option<Map<String, Value>>,
    /// `$set_once` sent as a top-level member of the event.
    pub set_once: Option<Map<String, Value>>,
    /// The timestamp, if the event had one.
    pub timestamp: Option<DateTime<FixedOffset>>,
    /// The UUID, if the event had one.
    pub uuid: Option<uuid::Uuid>,
    /// Index of the request it came in (see [`FakePublic::requests`]).
    pub request: usize,
}

impl CapturedEvent {
    /// Whether PostHog would skip the person profile for it (`$process_person_profile: false`).
    pub fn is_anonymous(&self) -> bool {
        self.properties.get("$process_person_profile") == Some(&Value::Bool(false))
    }

    /// The person properties the event sets: `properties.$set`, then the top-level `$set` over
    /// it (`"$set_once"` for the other kind).
    pub fn person_updates(&self, kind: &str) -> Map<String, Value> {
        let mut merged = match self.properties.get(kind) {
            Some(Value::Object(members)) => members.clone(),
            _ => Map::new(),
        };
        let top = match kind {
            "$set" => self.set.as_ref(),
            "$set_once" => self.set_once.as_ref(),
            _ => None,
        };
        if let Some(top) = top {
            merged.extend(top.clone());
        }
        merged
    }
}

/// One request to a public endpoint, as it crossed the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// The path, e.g. `/batch/`.
    pub path: String,
    /// The raw query string.
    pub query: Option<String>,
    /// The `Content-Encoding` header, if any.
    pub content_encoding: Option<String>,
    /// Body bytes as received (compressed, if it was).
    pub wire_bytes: usize,
    /// Body bytes after decompression: what the 20 MB limit applies to.
    pub json_bytes: usize,
    /// Whether the request carried anything that looks like a personal API key: an
    /// `Authorization` header, or `personal_api_key` in the query or body.
    pub personal_key: bool,
    /// Events recorded from it.
    pub events: usize,
}

/// A flag the fake evaluates.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeFlag {
    key: String,
    kind: FakeFlagKind,
    /// Distinct ids the flag is restricted to; empty means everyone.
    only: Vec<String>,
    /// Payload per value: `"true"` for a boolean flag, the variant key for a multivariate one.
    payloads: BTreeMap<String, Value>,
    /// Forced variants per distinct id.
    overrides: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
enum FakeFlagKind {
    Boolean(bool),
    /// Variant keys with their rollout percentages, in order.
    Multivariate(Vec<(String, u32)>),
}

impl FakeFlag {
    /// A boolean flag that is `enabled` for everyone.
    pub fn boolean(key: impl Into<String>, enabled: bool) -> Self {
        Self::with_kind(key.into(), FakeFlagKind::Boolean(enabled))
    }

    /// A multivariate flag: each distinct id gets one of `variants` (key, percentage), chosen
    /// by a stable hash of the flag key and distinct id, as PostHog buckets users.
    pub fn multivariate<K: Into<String>>(
        key: impl Into<String>,
        variants: impl IntoIterator<Item = (K, u32)>,
    ) -> Self {
        let variants = variants
            .into_iter()
            .map(|(key, percent)| (key.into(), percent))
            .collect();
        Self::with_kind(key.into(), FakeFlagKind::Multivariate(variants))
    }

    fn with_kind(key: String, kind: FakeFlagKind) -> Self {
        Self {
            key,
            kind,
            only: Vec::new(),
            payloads: BTreeMap::new(),
            overrides: BTreeMap::new(),
        }
    }

    /// Restricts the flag to these distinct ids; everyone else gets `false`.
    pub fn only_for<S: Into<String>>(mut self, distinct_ids: impl IntoIterator<Item = S>) -> Self {
        self.only = distinct_ids.into_iter().map(Into::into).collect();
        self
    }

    /// Gives `distinct_id` this variant whatever the hash says.
    pub fn variant_for(
        mut self,
        distinct_id: impl Into<String>,
        variant: impl Into<String>,
    ) -> Self {
        self.overrides.insert(distinct_id.into(), variant.into());
        self
    }

    /// The payload of value `value` (`"true"` for a boolean flag, else a variant key).
    pub fn payload(mut self, value: impl Into<String>, payload: Value) -> Self {
        self.payloads.insert(value.into(), payload);
        self
    }

    /// The flag's value for `distinct_id`: whether it is on, and the variant of a multivariate flag.
    fn evaluate(&self, distinct_id: &str) -> (bool, Option<String>) {
        if !self.only.is_empty() && !self.only.iter().any(|id| id == distinct_id) {
            return (false, None);
        }
        match &self.kind {
            FakeFlagKind::Boolean(enabled) => (*enabled, None),
            FakeFlagKind::Multivariate(variants) => {
                if let Some(variant) = self.overrides.get(distinct_id) {
                    return (true, Some(variant.clone()));
                }
                let bucket = stable_hash(&format!("{}.{distinct_id}", self.key)) % 100;
                let mut upper = 0u64;
                for (variant, percent) in variants {
                    upper += u64::from(*percent);
                    if bucket < upper {
                        return (true, Some(variant.clone()));
                    }
                }
                (false, None)
            }
        }
    }

    fn payload_for(&self, enabled: bool, variant: Option<&str>) -> Option<&Value> {
        match (enabled, variant) {
            (true, Some(variant)) => self.payloads.get(variant),
            (true, None) => self.payloads.get("true"),
            (false, _) => None,
        }
    }
}

/// FNV-1a: stable across runs and platforms, which is all bucketing in a fake needs.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Debug, Default)]
struct Recorded {
    events: Vec<CapturedEvent>,
    requests: Vec<ReceivedRequest>,
    flags: BTreeMap<String, FakeFlag>,
    failures: VecDeque<ServerError>,
    without_flags_endpoint: bool,
    /// The flag definitions' JSON text and its ETag (`None`: no flags).
    definitions: Option<(String, String)>,
    /// Bearer keys accepted for the definitions.
    definition_keys: Vec<String>,
    definitions_requests: usize,
    definitions_not_modified: usize,
}

/// The fake's public endpoints. Cheap to clone: clones share the recorded events and flags.
#[derive(Debug, Clone)]
pub struct FakePublic {
    project_api_key: Arc<str>,
    state: Arc<Mutex<Recorded>>,
}

impl FakePublic {
    /// A fake that accepts `project_api_key` and no other.
    pub fn new(project_api_key: impl Into<String>) -> Self {
        Self {
            project_api_key: Arc::from(project_api_key.into()),
            state: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Recorded> {
        // A handler that panicked mid-update leaves plain data behind, still worth reading.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds (or replaces) a flag.
    pub fn add_flag(&self, flag: FakeFlag) {
        self.lock().flags.insert(flag.key.clone(), flag);
    }

    /// Makes `/flags` answer 404, as servers older than it do, so clients fall back to `/decide/`.
    pub fn without_flags_endpoint(&self) {
        self.lock().without_flags_endpoint = true;
    }

    /// The next request to a public endpoint answers `error` instead (once per call; queued).
    pub fn fail_next(&self, error: ServerError) {
        self.lock().failures.push_back(error);
    }

    /// Accepts `key` (a project secret key `phs_...` or a personal API key) as the Bearer
    /// token of the flag definitions.
    pub fn definitions_key(&self, key: impl Into<String>) {
        self.lock().definition_keys.push(key.into());
    }

    /// Serves `definitions` (PostHog's answer: `flags`, `group_type_mapping`, `cohorts`) for
    /// local evaluation; its ETag changes when they do.
    pub fn set_definitions(&self, definitions: &Value) {
        let text = definitions.to_string();
        let tag = definitions::etag(&text);
        self.lock().definitions = Some((text, tag));
    }

    /// How many times the definitions were asked for (304 answers included).
    pub fn definitions_requests(&self) -> usize {
        self.lock().definitions_requests
    }

    /// Every `$feature_flag_called` event received: (distinct id, flag key, response value).
    pub fn flag_calls(&self) -> Vec<(String, String, Value)> {
        self.lock()
            .events
            .iter()
            .filter(|event| event.event == "$feature_flag_called")
            .map(|event| {
                let property = |name: &str| event.properties.get(name).cloned();
                (
                    event.distinct_id.clone().unwrap_or_default(),
                    property("$feature_flag")
                        .and_then(|flag| flag.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    property("$feature_flag_response").unwrap_or(Value::Null),
                )
            })
            .collect()
    }

    fn project_api_key(&self) -> &str {
        &self.project_api_key
    }

    fn accepts_definitions_key(&self, key: &str) -> bool {
        self.lock().definition_keys.iter().any(|known| known == key)
    }

    fn definitions_body(&self) -> (String, String) {
        self.lock().definitions.clone().unwrap_or_else(|| {
            let text = definitions::empty().to_string();
            let tag = definitions::etag(&text);
            (text, tag)
        })
    }

    fn count_definitions_request(&self, not_modified: bool) {
        let mut state = self.lock();
        state.definitions_requests += 1;
        state.definitions_not_modified += usize::from(not_modified);
    }

    /// How many definitions requests were answered 304 Not Modified.
    pub fn definitions_not_modified(&self) -> usize {
        self.lock().definitions_not_modified
    }

    fn take_failure(&self) -> Option<ServerError> {
        self.lock().failures.pop_front()
    }

    /// Every event received so far, in the order received.
    pub fn events(&self) -> Vec<CapturedEvent> {
        self.lock().events.clone()
    }

    /// How many events were received so far.
    pub fn event_count(&self) -> usize {
        self.lock().events.len()
    }

    /// Every request to a public endpoint so far, in order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.lock().requests.clone()
    }

    /// Forgets recorded events and requests (flags stay).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.events.clear();
        state.requests.clear();
    }

    /// The public routes and their other paths, with gzip decoding and request recording in
    /// front of them.
    pub fn router(&self) -> axum::Router {
        let stubs = crate::server::public::routes(Arc::new(self.clone()));
        let routes = definitions::add(aliases::add(stubs, self.clone()), self.clone());
        routes.layer(axum::middleware::from_fn_with_state(
            self.clone(),
            decode_and_record,
        ))
    }

    /// Adds the public routes to `routes` (e.g. the rest of a fake PostHog).
    pub fn mount(&self, routes: Routes) -> Routes {
        routes.mount("public", self.router())
    }

    /// Serves only the public endpoints on `address` (e.g. `127.0.0.1:0`).
    pub async fn serve(
        &self,
        address: impl tokio::net::ToSocketAddrs,
    ) -> std::io::Result<RunningServer> {
        self.mount(Routes::empty()).serve(address).await
    }

    /// The injected failure if one is queued, else 401 unless the body carries the project key.
    fn admit(&self, api_key: Option<&str>) -> Result<(), ServerError> {
        if let Some(error) = self.take_failure() {
            return Err(error);
        }
        match api_key {
            Some(key) if key == &*self.project_api_key => Ok(()),
            _ => Err(invalid_api_key()),
        }
    }

    fn record(&self, cx: &Context, events: Vec<CapturedEvent>) {
        self.record_events(request_index(&cx.headers), cx.key.is_some(), events);
    }

    /// Records events of a request not answered through the stubs (capture v1).
    fn record_request(&self, headers: &http::HeaderMap, events: Vec<CapturedEvent>) {
        self.record_events(request_index(headers), false, events);
    }

    fn record_events(&self, request: Option<usize>, personal: bool, events: Vec<CapturedEvent>) {
        let mut state = self.lock();
        if let Some(record) = request.and_then(|index| state.requests.get_mut(index)) {
            record.events += events.len();
            record.personal_key |= personal;
        }
        let index = request.unwrap_or(usize::MAX);
        state
            .events
            .extend(events.into_iter().map(|event| CapturedEvent {
                request: index,
                ..event
            }));
    }

    fn evaluate(&self, distinct_id: &str) -> Vec<(FakeFlag, bool, Option<String>)> {
        self.lock()
            .flags
            .values()
            .map(|flag| {
                let (enabled, variant) = flag.evaluate(distinct_id);
                (flag.clone(), enabled, variant)
            })
            .collect()
    }
}

fn request_index(headers: &http::HeaderMap) -> Option<usize> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse().ok())
}

fn object(value: Option<BTreeMap<String, Value>>) -> Map<String, Value> {
    value
        .map(|members| members.into_iter().collect())
        .unwrap_or_default()
}

fn check_distinct_id(distinct_id: Option<&str>) -> Result<(), ServerError> {
    if distinct_id.is_none_or(|id| id.trim().is_empty()) {
        return Err(invalid_payload(
            "Event field distinct_id is missing or empty.",
            Some("distinct_id"),
        ));
    }
    Ok(())
}

/// 400 `invalid_project`, as PostHog answers when the request names no usable project.
pub fn invalid_project() -> ServerError {
    ServerError::new(
        StatusCode::BAD_REQUEST,
        "validation_error",
        "invalid_project",
        "Invalid Project ID.",
        Some("project_id".into()),
    )
}

/// 400 `invalid_payload`: the body could not be read as the endpoint expects.
pub fn invalid_payload(detail: impl Into<String>, attr: Option<&str>) -> ServerError {
    ServerError::new(
        StatusCode::BAD_REQUEST,
        "validation_error",
        "invalid_payload",
        detail,
        attr.map(str::to_owned),
    )
}

/// 401 `invalid_api_key`: the project API key is missing or unknown.
pub fn invalid_api_key() -> ServerError {
    ServerError::new(
        StatusCode::UNAUTHORIZED,
        "authentication_error",
        "invalid_api_key",
        "Project API key invalid. You can find your project API key in PostHog project settings.",
        None,
    )
}

/// 503 `fetch_team_fail`: the server could not load the project (a deprecated answer).
pub fn fetch_team_fail() -> ServerError {
    ServerError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_error",
        "fetch_team_fail",
        "Unable to fetch team from database.",
        None,
    )
}

impl PublicApi for FakePublic {
    async fn public_capture(
        self: Arc<Self>,
        cx: Context,
        body: types::CaptureRequest,
    ) -> Answer<types::CaptureResponse> {
        self.admit(body.api_key.as_deref())?;
        if body.event.trim().is_empty() {
            return Err(invalid_payload(
                "Event field event is missing or empty.",
                Some("event"),
            ));
        }
        check_distinct_id(Some(&body.distinct_id))?;
        let event = CapturedEvent {
            event: body.event,
            distinct_id: Some(body.distinct_id),
            properties: object(body.properties),
            set: body.dollar_set.map(|set| set.into_iter().collect()),
            set_once: body.dollar_set_once.map(|set| set.into_iter().collect()),
            timestamp: body.timestamp,
            uuid: body.uuid,
            request: 0,
        };
        self.record(&cx, vec![event]);
        Ok(Reply::ok(types::CaptureResponse { status: 1 }))
    }

    async fn public_batch(
        self: Arc<Self>,
        cx: Context,
        body: types::BatchRequest,
    ) -> Answer<types::CaptureResponse> {
        self.admit(body.api_key.as_deref())?;
        let mut events = Vec::with_capacity(body.batch.len());
        for (index, item) in body.batch.into_iter().enumerate() {
            let properties = object(item.properties);
            // PostHog takes the distinct id from the event, else from its properties.
            let distinct_id = item.distinct_id.or_else(|| {
                properties
                    .get("distinct_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            if item.event.trim().is_empty() {
                return Err(invalid_payload(
                    "Event field event is missing or empty.",
                    Some(&format!("batch[{index}].event")),
                ));
            }
            check_distinct_id(distinct_id.as_deref())?;
            events.push(CapturedEvent {
                event: item.event,
                distinct_id,
                properties,
                set: item.dollar_set.map(|set| set.into_iter().collect()),
                set_once: item.dollar_set_once.map(|set| set.into_iter().collect()),
                timestamp: item.timestamp,
                uuid: item.uuid,
                request: 0,
            });
        }
        self.record(&cx, events);
        Ok(Reply::ok(types::CaptureResponse { status: 1 }))
    }

    async fn public_flags(
        self: Arc<Self>,
        cx: Context,
        query: PublicFlagsQuery,
        body: types::FlagsRequest,
    ) -> Answer<types::FlagsResponse> {
        let typed = query.v >= 4;
        if self.lock().without_flags_endpoint {
            return Err(ServerError::not_found());
        }
        self.admit(body.api_key.as_deref())?;
        check_distinct_id(Some(&body.distinct_id))?;
        self.record(&cx, Vec::new());
        let flags = self
            .evaluate(&body.distinct_id)
            .into_iter()
            .map(|(flag, enabled, variant)| {
                // PostHog answers payloads as the JSON text it stores them as.
                let payload = flag
                    .payload_for(enabled, variant.as_deref())
                    .map(|payload| Value::String(payload.to_string()));
                let reason = if enabled {
                    "condition_match"
                } else {
                    "no_condition_match"
                };
                // v4 entries carry the typed value; the SDKs read it before `enabled`.
                let value = typed.then(|| match &variant {
                    Some(variant) => Value::String(variant.clone()),
                    None => Value::Bool(enabled),
                });
                let detail = types::FlagDetail {
                    key: flag.key.clone(),
                    enabled,
                    variant,
                    value,
                    failed: typed.then_some(false),
                    reason: Some(types::FlagReason {
                        code: Some(reason.into()),
                        condition_index: Some(0),
                        description: None,
                    }),
                    metadata: Some(types::FlagMetadata {
                        id: None,
                        version: Some(1),
                        description: None,
                        payload,
                    }),
                };
                (flag.key, detail)
            })
            .collect();
        Ok(Reply::ok(types::FlagsResponse {
            flags,
            errors_while_computing_flags: Some(false),
            quota_limited: None,
            request_id: Some(uuid::Uuid::new_v4().to_string()),
        }))
    }

    async fn public_decide(
        self: Arc<Self>,
        cx: Context,
        _query: PublicDecideQuery,
        body: types::FlagsRequest,
    ) -> Answer<types::DecideResponse> {
        self.admit(body.api_key.as_deref())?;
        check_distinct_id(Some(&body.distinct_id))?;
        self.record(&cx, Vec::new());
        let mut values = BTreeMap::new();
        let mut payloads = BTreeMap::new();
        for (flag, enabled, variant) in self.evaluate(&body.distinct_id) {
            if let Some(payload) = flag.payload_for(enabled, variant.as_deref()) {
                payloads.insert(flag.key.clone(), Value::String(payload.to_string()));
            }
            let value = match variant {
                Some(variant) => Value::String(variant),
                None => Value::Bool(enabled),
            };
            values.insert(flag.key, value);
        }
        Ok(Reply::ok(types::DecideResponse {
            feature_flags: Some(values),
            feature_flag_payloads: Some(payloads),
            errors_while_computing_flags: Some(false),
            quota_limited: None,
        }))
    }
}

/// In front of the public routes: records the request as it crossed the wire, decompresses a
/// gzip body (within the 20 MB limit, so a small compressed body cannot expand without bound),
/// and renames the stubs' `invalid_input` to the `invalid_payload` PostHog's capture answers.
async fn decode_and_record(
    State(fake): State<FakePublic>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return ServerError::payload_too_large(MAX_BODY_BYTES).into_response(),
    };
    let encoding = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let query = parts.uri.query().map(str::to_owned);
    let gzip_query = query.as_deref().is_some_and(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .any(|(name, value)| name == "compression" && value.starts_with("gzip"))
    });
    let decoded = match encoding.as_deref() {
        Some("gzip") => inflate(flate2::read::GzDecoder::new(&bytes[..])),
        Some("deflate") => inflate(flate2::read::ZlibDecoder::new(&bytes[..])),
        _ if gzip_query => inflate(flate2::read::GzDecoder::new(&bytes[..])),
        _ => Ok(bytes.to_vec()),
    };
    let decoded = match decoded {
        Ok(decoded) => decoded,
        Err(error) => return error.into_response(),
    };
    // Capture v1 sends the project key as its Bearer token; only another key is a leak.
    let project_bearer = format!("Bearer {}", fake.project_api_key);
    let foreign_authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .is_some_and(|value| value.as_bytes() != project_bearer.as_bytes());
    let personal_key = foreign_authorization
        || query
            .as_deref()
            .is_some_and(|query| query.contains(crate::auth::PERSONAL_API_KEY_FIELD))
        || contains(&decoded, crate::auth::PERSONAL_API_KEY_FIELD.as_bytes());
    let index = {
        let mut state = fake.lock();
        state.requests.push(ReceivedRequest {
            path: parts.uri.path().to_owned(),
            query,
            content_encoding: encoding,
            wire_bytes: bytes.len(),
            json_bytes: decoded.len(),
            personal_key,
            events: 0,
        });
        state.requests.len() - 1
    };
    parts.headers.remove(header::CONTENT_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(decoded.len()));
    parts
        .headers
        .insert(REQUEST_ID_HEADER, HeaderValue::from(index));
    let response = next
        .run(Request::from_parts(parts, Body::from(decoded)))
        .await;
    rename_invalid_input(response).await
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Decompresses a gzip or deflate body, refusing one that expands past the 20 MB limit.
fn inflate(decoder: impl std::io::Read) -> Result<Vec<u8>, ServerError> {
    let mut decoded = Vec::new();
    let limit = u64::try_from(MAX_BODY_BYTES).unwrap_or(u64::MAX) + 1;
    decoder
        .take(limit)
        .read_to_end(&mut decoded)
        .map_err(|error| {
            invalid_payload(
                format!(
                    "Malformed request data: the compressed body could not be decompressed ({error})."
                ),
                None,
            )
        })?;
    if decoded.len() > MAX_BODY_BYTES {
        return Err(ServerError::payload_too_large(MAX_BODY_BYTES));
    }
    Ok(decoded)
}

/// The generated decoder calls an unreadable body `invalid_input`; PostHog's public endpoints
/// call it `invalid_payload`.
async fn rename_invalid_input(response: Response) -> Response {
    if response.status() != StatusCode::BAD_REQUEST {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return ServerError::internal().into_response();
    };
    match serde_json::from_slice::<crate::error::ApiErrorBody>(&bytes) {
        Ok(error) if error.code.as_deref() == Some("invalid_input") => {
            let detail = format!(
                "Malformed request data: {}",
                error.detail.unwrap_or_default()
            );
            invalid_payload(detail, error.attr.as_deref()).into_response()
        }
        _ => Response::from_parts(parts, Body::from(bytes)),
    }
}
