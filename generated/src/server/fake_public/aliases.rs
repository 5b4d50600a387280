//! The other paths PostHog serves the public endpoints on, as its SDKs use them: `/flags/`
//! beside `/flags`, the catch-all capture paths (`/e/`, `/i/v0/e/`, `/capture`, `/track/`,
//! `/batch`) that take one event, a batch or an array, and capture v1
//! (`/i/v1/analytics/events`, the project key as a Bearer token, per-event results).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use http::header::{self, HeaderValue};
use http::{StatusCode, Uri};
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

use super::{CapturedEvent, FakePublic, invalid_payload};
use crate::client::MAX_BODY_BYTES;
use crate::server::ServerError;

/// Paths PostHog's capture service routes to one handler that reads a single event, a
/// `{"batch": [...]}` envelope or a bare array alike (posthog `rust/capture` router).
const CATCH_ALL_CAPTURE: &[&str] = &[
    "/e", "/e/", "/i/v0/e", "/i/v0/e/", "/capture", "/track", "/track/", "/batch", "/engage",
    "/engage/",
];

/// Capture v1's path (posthog-python 7.91 `capture_v1.py`).
pub const CAPTURE_V1_PATH: &str = "/i/v1/analytics/events";

/// `stubs` (the generated public routes) plus the alias paths, which forward to them.
pub(super) fn add(stubs: axum::Router, fake: FakePublic) -> axum::Router {
    let mut router = stubs.clone();
    for path in ["/flags/", "/decide"] {
        let target = if path == "/decide" {
            "/decide/"
        } else {
            "/flags"
        };
        let inner = stubs.clone();
        router = router.route(
            path,
            any(move |request: Request| forward(inner.clone(), target, request)),
        );
    }
    for path in CATCH_ALL_CAPTURE {
        let inner = stubs.clone();
        router = router.route(
            path,
            post(move |request: Request| catch_all(inner.clone(), request)),
        );
    }
    router.route(CAPTURE_V1_PATH, post(capture_v1).with_state(fake))
}

/// Sends `request` to `path` of `inner`, keeping its query, headers and body.
async fn forward(inner: axum::Router, path: &str, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    parts.uri = match path_and_query.parse::<Uri>() {
        Ok(uri) => uri,
        Err(_) => return ServerError::not_found().into_response(),
    };
    match inner.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// One event goes to `/capture/`, an envelope or an array to `/batch/` (an array carries its
/// key in its events, as `api_key` or `token`).
async fn catch_all(inner: axum::Router, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return ServerError::payload_too_large(MAX_BODY_BYTES).into_response();
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(error) => {
            return invalid_payload(format!("Malformed request data: {error}"), None)
                .into_response();
        }
    };
    let (target, body) = match value {
        Value::Array(events) => {
            let key = events
                .iter()
                .find_map(|event| event.get("api_key").or_else(|| event.get("token")))
                .cloned()
                .unwrap_or(Value::Null);
            ("/batch/", json!({ "api_key": key, "batch": events }))
        }
        Value::Object(mut object) => {
            if !object.contains_key("api_key")
                && let Some(token) = object.remove("token")
            {
                object.insert("api_key".into(), token);
            }
            let target = if object.contains_key("batch") {
                "/batch/"
            } else {
                "/capture/"
            };
            (target, Value::Object(object))
        }
        _ => {
            return invalid_payload("Malformed request data: not a JSON object or array.", None)
                .into_response();
        }
    };
    let bytes = body.to_string().into_bytes();
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    forward(inner, target, Request::from_parts(parts, Body::from(bytes))).await
}

/// Capture v1: authenticated by `Authorization: Bearer <project key>`, a `batch` of events with
/// a typed `options` object, answered with a result per event UUID.
async fn capture_v1(State(fake): State<FakePublic>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    if let Err(error) = fake.admit(bearer) {
        return error.into_response();
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return ServerError::payload_too_large(MAX_BODY_BYTES).into_response();
    };
    let batch = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut envelope)) => match envelope.remove("batch") {
            Some(Value::Array(batch)) => batch,
            _ => return invalid_payload("batch is missing", Some("batch")).into_response(),
        },
        Ok(_) => return invalid_payload("not a JSON object", None).into_response(),
        Err(error) => {
            return invalid_payload(format!("Malformed request data: {error}"), None)
                .into_response();
        }
    };
    let mut events = Vec::with_capacity(batch.len());
    let mut results = Map::new();
    for (index, item) in batch.into_iter().enumerate() {
        match v1_event(item) {
            Ok(event) => {
                let id = event.uuid.map(|uuid| uuid.to_string()).unwrap_or_default();
                results.insert(id, json!({ "result": "ok" }));
                events.push(event);
            }
            Err(field) => {
                return invalid_payload(
                    format!("Event field {field} is missing or invalid."),
                    Some(&format!("batch[{index}].{field}")),
                )
                .into_response();
            }
        }
    }
    fake.record_request(&parts.headers, events);
    (StatusCode::OK, axum::Json(json!({ "results": results }))).into_response()
}

/// One v1 event, or the name of the field that makes it unreadable. The options PostHog's v1
/// contract lifts out of the properties go back in, so tests read every event the same way.
fn v1_event(item: Value) -> Result<CapturedEvent, &'static str> {
    let Value::Object(mut item) = item else {
        return Err("event");
    };
    let text = |item: &Map<String, Value>, field: &str| {
        item.get(field)
            .and_then(Value::as_str)
            .filter(|text| !text.trim().is_empty())
            .map(str::to_owned)
    };
    let event = text(&item, "event").ok_or("event")?;
    let distinct_id = text(&item, "distinct_id").ok_or("distinct_id")?;
    let uuid = text(&item, "uuid")
        .and_then(|text| text.parse().ok())
        .ok_or("uuid")?;
    let timestamp = text(&item, "timestamp")
        .map(|text| chrono::DateTime::parse_from_rfc3339(&text))
        .transpose()
        .map_err(|_| "timestamp")?;
    let mut properties = match item.remove("properties") {
        Some(Value::Object(properties)) => properties,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err("properties"),
    };
    if let Some(Value::Object(options)) = item.remove("options") {
        for (option, property) in [
            ("process_person_profile", "$process_person_profile"),
            ("cookieless_mode", "$cookieless_mode"),
            ("disable_skew_correction", "$ignore_sent_at"),
            ("product_tour_id", "$product_tour_id"),
        ] {
            if let Some(value) = options.get(option) {
                properties.insert(property.into(), value.clone());
            }
        }
    }
    for (field, property) in [("session_id", "$session_id"), ("window_id", "$window_id")] {
        if let Some(value) = item.remove(field) {
            properties.insert(property.into(), value);
        }
    }
    Ok(CapturedEvent {
        event,
        distinct_id: Some(distinct_id),
        properties,
        set: None,
        set_once: None,
        timestamp,
        uuid: Some(uuid),
        request: 0,
    })
}
