//! The generated client against real-shaped PostHog answers over HTTP on 127.0.0.1: typed
//! decoding of list, retrieve, create, delete and CSV operations, and tolerance of fields and
//! enum values the schema does not know yet.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use posthog_api::api::batch_exports::BatchExportsListQuery;
use posthog_api::api::persons::PersonsListQuery;
use posthog_api::types::{self, IntervalEnum, ModelEnum};
use posthog_api::{Client, Credentials, ProjectId, Region};
use serde_json::{Value, json};

use crate::wire;

/// What the server saw, for assertions on the wire.
#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    bodies: Vec<Value>,
}

type Shared = Arc<Mutex<Seen>>;

fn record(seen: &Shared, line: String) {
    if let Ok(mut seen) = seen.lock() {
        seen.requests.push(line);
    }
}

fn flag(id: i64, key: &str) -> Value {
    json!({
        "id": id,
        "name": format!("Flag {key}"),
        "key": key,
        "filters": {"groups": [{"properties": [], "rollout_percentage": 50}]},
        "deleted": false,
        "active": true,
        "created_by": {"id": 1, "uuid": "0189a5f4-3c8f-0000-b2a8-d5d2e6d3f5a1", "distinct_id": "u1", "first_name": "Ada", "email": "ada@example.com"},
        "created_at": "2025-03-01T10:00:00.123456Z",
        "version": 3,
        // Not in the schema: a field PostHog added later must not break decoding.
        "brand_new_field": {"nested": [1, 2, 3]}
    })
}

async fn serve(seen: Shared) -> url::Url {
    let app = Router::new()
        .route(
            "/api/projects/{project_id}/feature_flags/",
            get(
                |State(seen): State<Shared>,
                 Path(project): Path<String>,
                 Query(query): Query<Vec<(String, String)>>| async move {
                    record(
                        &seen,
                        format!("GET flags project={project} query={query:?}"),
                    );
                    axum::Json(json!({
                        "count": 2,
                        "next": null,
                        "previous": null,
                        "results": [flag(1, "alpha"), flag(2, "beta")]
                    }))
                },
            )
            .post(
                |State(seen): State<Shared>,
                 Path(project): Path<String>,
                 axum::Json(body): axum::Json<Value>| async move {
                    record(&seen, format!("POST flags project={project}"));
                    let key = body["key"].as_str().unwrap_or_default().to_owned();
                    if let Ok(mut seen) = seen.lock() {
                        seen.bodies.push(body);
                    }
                    (StatusCode::CREATED, axum::Json(flag(42, &key)))
                },
            ),
        )
        .route(
            "/api/projects/{project_id}/feature_flags/{id}/",
            get(
                |State(seen): State<Shared>, Path((project, id)): Path<(String, i64)>| async move {
                    record(&seen, format!("GET flag project={project} id={id}"));
                    axum::Json(flag(id, "alpha"))
                },
            )
            .delete(
                |State(seen): State<Shared>, Path((project, id)): Path<(String, i64)>| async move {
                    record(&seen, format!("DELETE flag project={project} id={id}"));
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/api/organizations/{organization_id}/batch_exports/",
            get(|| async {
                axum::Json(json!({
                    "count": 1, "next": null, "previous": null,
                    "results": [{
                        "id": "0189a5f4-3c8f-0000-b2a8-d5d2e6d3f5a2",
                        "team_id": 7,
                        "name": "nightly",
                        "model": "brand_new_model",
                        "destination": {"type": "S3", "config": {"bucket_name": "b"}},
                        "interval": "every 7 minutes",
                        "paused": false,
                        "created_at": "2025-03-01T10:00:00+02:00"
                    }]
                }))
            }),
        )
        .route(
            "/api/projects/{project_id}/persons/",
            get(
                |State(seen): State<Shared>,
                 headers: HeaderMap,
                 Query(query): Query<Vec<(String, String)>>| async move {
                    let accept = headers
                        .get("accept")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    record(
                        &seen,
                        format!("GET persons accept={accept} query={query:?}"),
                    );
                    (
                        [("content-type", "text/csv")],
                        "distinct_id,email\nu1,ada@example.com\n",
                    )
                        .into_response()
                },
            ),
        )
        .with_state(seen);
    wire::serve(app).await
}

async fn client(seen: &Shared) -> Client {
    let base = serve(seen.clone()).await;
    Client::builder(Region::SelfHosted(base))
        .credentials(Credentials::personal_api_key("phx_decode_test"))
        .project_id("99")
        .build()
        .expect("client builds")
}

#[tokio::test]
async fn list_decodes_typed_items_and_ignores_unknown_fields() {
    let seen = Shared::default();
    let client = client(&seen).await;
    let query = posthog_api::api::feature_flags::FeatureFlagsListQuery {
        limit: Some(2),
        search: Some("al pha".into()),
        ..Default::default()
    };
    let page = client
        .feature_flags_list(ProjectId::Default, &query)
        .await
        .expect("list decodes");
    assert_eq!(page.count, 2);
    let keys: Vec<&str> = page.results.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["alpha", "beta"]);
    let created_at = page.results[0].created_at.expect("timestamp decoded");
    assert_eq!(created_at.timestamp_subsec_micros(), 123_456);
    let requests = &seen.lock().expect("lock").requests;
    assert_eq!(
        requests[0], r#"GET flags project=99 query=[("limit", "2"), ("search", "al pha")]"#,
        "default project used, None parameters left out, values encoded"
    );
}

#[tokio::test]
async fn retrieve_create_and_delete_round_trip() {
    let seen = Shared::default();
    let client = client(&seen).await;
    let flag = client
        .feature_flags_retrieve("12", 5)
        .await
        .expect("retrieve decodes");
    assert_eq!((flag.id, flag.key.as_str()), (Some(5), "alpha"));

    let new_flag = types::FeatureFlag {
        key: "gamma".into(),
        name: Some("Gamma".into()),
        active: Some(true),
        ..serde_json::from_value(json!({"key": "gamma"})).expect("minimal flag")
    };
    let created = client
        .feature_flags_create(ProjectId::Default, &new_flag)
        .await
        .expect("create decodes");
    assert_eq!((created.id, created.key.as_str()), (Some(42), "gamma"));

    client
        .feature_flags_destroy(ProjectId::Default, 42)
        .await
        .expect("204 decodes");

    let seen = seen.lock().expect("lock");
    assert_eq!(
        seen.requests,
        [
            "GET flag project=12 id=5",
            "POST flags project=99",
            "DELETE flag project=99 id=42"
        ]
    );
    // Read-only and absent optional fields are not sent.
    assert_eq!(
        seen.bodies[0],
        json!({"name": "Gamma", "key": "gamma", "active": true})
    );
}

#[tokio::test]
async fn unknown_enum_values_are_kept_and_round_trip() {
    let seen = Shared::default();
    let client = client(&seen).await;
    let page = client
        .batch_exports_list("org-1", &BatchExportsListQuery::default())
        .await
        .expect("list with unknown enum values decodes");
    let export = &page.results[0];
    assert_eq!(
        export.model,
        posthog_api::Nullable::Value(ModelEnum::Other("brand_new_model".into()))
    );
    assert_eq!(
        export.interval,
        IntervalEnum::Other("every 7 minutes".into())
    );
    let back = serde_json::to_value(export).expect("serializes");
    assert_eq!(back["model"], "brand_new_model");
    assert_eq!(back["interval"], "every 7 minutes");
    assert_eq!(
        back["created_at"], "2025-03-01T10:00:00+02:00",
        "offset preserved"
    );
}

#[tokio::test]
async fn csv_companion_returns_text() {
    let seen = Shared::default();
    let client = client(&seen).await;
    let csv = client
        .persons_list_csv(ProjectId::Default, &PersonsListQuery::default())
        .await
        .expect("csv arrives as text");
    assert_eq!(csv, "distinct_id,email\nu1,ada@example.com\n");
    assert!(seen.lock().expect("lock").requests[0].starts_with("GET persons accept=text/csv"));
}

#[tokio::test]
async fn missing_default_project_is_a_clear_error() {
    let seen = Shared::default();
    let base = serve(seen.clone()).await;
    let client = Client::builder(Region::SelfHosted(base))
        .build()
        .expect("client builds");
    let error = client
        .feature_flags_retrieve(ProjectId::Default, 1)
        .await
        .expect_err("no project configured");
    let message = error.to_string();
    assert!(
        message.contains("feature_flags_retrieve") && message.contains("project_id"),
        "{message}"
    );
    assert!(
        seen.lock().expect("lock").requests.is_empty(),
        "nothing was sent"
    );
}

/// Users spawn client calls on multi-threaded runtimes, so every future and stream the client
/// returns must be `Send` (a compile-time property; the test fails by not compiling).
#[test]
fn client_futures_and_streams_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let client = Client::builder(Region::Us).build().expect("client builds");
    let user = uuid::Uuid::nil();
    assert_send(&client.users_retrieve("@me"));
    assert_send(&client.users_retrieve(user));
    assert_send(&client.feature_flags_retrieve(ProjectId::Default, 1));
    assert_send(&client.feature_flags_create(
        "1",
        &serde_json::from_value(json!({"key": "k"})).expect("flag"),
    ));
    let query = posthog_api::api::feature_flags::FeatureFlagsListQuery::default();
    assert_send(&client.feature_flags_list_stream(ProjectId::Default, &query));
    assert_send(&client.persons_list_csv(ProjectId::Default, &PersonsListQuery::default()));
}

#[tokio::test]
async fn path_values_are_one_segment_each_and_at_signs_stay_literal() {
    let paths = Shared::default();
    let seen = paths.clone();
    let app = Router::new().fallback(move |uri: axum::http::Uri| {
        let seen = seen.clone();
        async move {
            record(&seen, uri.path().to_owned());
            axum::Json(json!({}))
        }
    });
    let client = Client::builder(Region::SelfHosted(wire::serve(app).await))
        .build()
        .expect("client builds");
    let _ = client.users_retrieve("@me").await;
    let _ = client.feature_flags_retrieve("a/b?c", 1).await;
    assert_eq!(
        paths.lock().expect("lock").requests,
        [
            "/api/users/@me/",
            "/api/projects/a%2Fb%3Fc/feature_flags/1/"
        ]
    );
}
