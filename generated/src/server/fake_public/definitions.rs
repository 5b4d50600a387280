//! The flag definitions for local evaluation, as PostHog serves them to server SDKs:
//! `GET /flags/definitions?token=<project key>&send_cohorts` (and the older
//! `/api/feature_flag/local_evaluation/`), authenticated by a project secret key (`phs_...`) or
//! a personal API key as a Bearer token, answered with an `ETag` and 304 to a matching
//! `If-None-Match` (posthog-python 7.91 `client.py` `_request_flag_definitions`, `request.py`
//! `get`).

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use http::header::{self, HeaderValue};
use serde_json::Value;

use super::{FakePublic, invalid_api_key, stable_hash};
use crate::server::ServerError;

/// The paths the definitions are served on.
pub const DEFINITIONS_PATHS: &[&str] = &[
    "/flags/definitions",
    "/flags/definitions/",
    "/api/feature_flag/local_evaluation",
    "/api/feature_flag/local_evaluation/",
];

/// What the fake answers before any definitions are set: no flags.
pub(super) fn empty() -> Value {
    serde_json::json!({ "flags": [], "group_type_mapping": {}, "cohorts": {} })
}

/// The routes of the definitions.
pub(super) fn add(router: axum::Router, fake: FakePublic) -> axum::Router {
    let mut router = router;
    for path in DEFINITIONS_PATHS {
        router = router.route(path, get(definitions).with_state(fake.clone()));
    }
    router
}

/// A strong ETag of the body: the same definitions give the same tag.
pub(super) fn etag(body: &str) -> String {
    format!("\"{:016x}\"", stable_hash(body))
}

async fn definitions(State(fake): State<FakePublic>, request: Request) -> Response {
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let token = request.uri().query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "token")
            .map(|(_, value)| value.into_owned())
    });
    if let Some(error) = fake.take_failure() {
        return error.into_response();
    }
    if !bearer.is_some_and(|key| fake.accepts_definitions_key(key)) {
        return ServerError::invalid_key().into_response();
    }
    if token.as_deref() != Some(fake.project_api_key()) {
        return invalid_api_key().into_response();
    }
    let (body, tag) = fake.definitions_body();
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|sent| sent.split(',').any(|one| one.trim() == tag));
    fake.count_definitions_request(matches);
    let tag_header = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""));
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag_header)]).into_response();
    }
    (
        StatusCode::OK,
        [
            (header::ETAG, tag_header),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        body,
    )
        .into_response()
}
