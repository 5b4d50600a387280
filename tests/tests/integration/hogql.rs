//! HogQL queries and the overlaid operations over HTTP on 127.0.0.1: the exact JSON a query
//! with a placeholder sends, typed rows, the background path (poll until done, cancel with
//! DELETE), typed errors, `bulk_keys`' `{"ids": [...]}` body, and the same
//! round trip against the fake PostHog.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use futures::TryStreamExt as _;
use posthog_api::hogql::HogQlError;
use posthog_api::rate_limit::RateLimiter;
use posthog_api::server::fake::{FakePostHog, HogQlAnswer};
use posthog_api::{Client, Credentials, Region, types};
use serde_json::{Value, json};

use crate::wire;

/// What the server saw: `METHOD path` lines and JSON bodies.
#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    bodies: Vec<Value>,
    polls: u32,
}

type Shared = Arc<Mutex<Seen>>;

fn seen_lock(seen: &Shared) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A PostHog-shaped query endpoint: answers `select event, count() ...` with two rows, a
/// `refresh: async` body with a running status (done on the third poll), `selec` with a
/// syntax error, and records everything.
async fn serve(seen: Shared) -> url::Url {
    let app = Router::new()
        .route(
            "/api/projects/{project}/query/",
            post(
                |State(seen): State<Shared>,
                 Path(project): Path<String>,
                 axum::Json(body): axum::Json<Value>| async move {
                    let mut s = seen_lock(&seen);
                    s.requests.push(format!("POST /api/projects/{project}/query/"));
                    s.bodies.push(body.clone());
                    let text = body["query"]["query"].as_str().unwrap_or_default();
                    if text.starts_with("selec ") {
                        return (
                            StatusCode::BAD_REQUEST,
                            axum::Json(json!({"type": "validation_error", "code": "hogql_syntax_error",
                                "detail": "mismatched input 'selec' expecting {SELECT, WITH}", "attr": null})),
                        )
                            .into_response();
                    }
                    if body["refresh"] == json!("async") {
                        return (
                            StatusCode::ACCEPTED,
                            axum::Json(json!({"cache_key": "c1", "query_status": {"id": "q-123", "team_id": 1, "complete": false, "query_async": true}})),
                        )
                            .into_response();
                    }
                    axum::Json(json!({
                        "columns": ["event", "count()"],
                        "types": [["event", "String"], ["count()", "UInt64"]],
                        "results": [["$pageview", 42]],
                        "hasMore": false,
                        "hogql": "SELECT event, count() FROM events WHERE equals(event, '$pageview') GROUP BY event LIMIT 100",
                        "is_cached": false
                    }))
                    .into_response()
                },
            ),
        )
        .route(
            "/api/projects/{project}/query/{id}/",
            get(
                |State(seen): State<Shared>, Path((project, id)): Path<(String, String)>| async move {
                    let mut s = seen_lock(&seen);
                    s.requests.push(format!("GET /api/projects/{project}/query/{id}/"));
                    s.polls += 1;
                    if s.polls < 3 {
                        return (
                            StatusCode::ACCEPTED,
                            axum::Json(json!({"query_status": {"id": id, "team_id": 1, "complete": false}})),
                        )
                            .into_response();
                    }
                    axum::Json(json!({"query_status": {"id": id, "team_id": 1, "complete": true,
                        "results": {"columns": ["n"], "types": [["n", "UInt64"]], "results": [[1], [2]]}}}))
                    .into_response()
                },
            )
            .delete(
                |State(seen): State<Shared>, Path((project, id)): Path<(String, String)>| async move {
                    seen_lock(&seen)
                        .requests
                        .push(format!("DELETE /api/projects/{project}/query/{id}/"));
                    axum::Json(json!({"message": "Query cancelled"}))
                },
            ),
        )
        .route(
            "/api/projects/{project}/feature_flags/bulk_keys/",
            post(
                |State(seen): State<Shared>, axum::Json(body): axum::Json<Value>| async move {
                    let mut s = seen_lock(&seen);
                    s.requests.push("POST bulk_keys".to_owned());
                    s.bodies.push(body);
                    axum::Json(json!({"keys": {"1": "alpha", "2": "beta"}}))
                },
            ),
        )
        .with_state(seen);
    wire::serve(app).await
}

fn client(base: url::Url) -> Client {
    Client::builder(Region::SelfHosted(base))
        .credentials(Credentials::personal_api_key("phx_test"))
        .project_id("7")
        .rate_limiter(RateLimiter::disabled())
        .build()
        .expect("client")
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct EventCount {
    event: String,
    #[serde(rename = "count()")]
    count: u64,
}

#[tokio::test]
async fn a_placeholder_goes_in_values_and_rows_come_back_typed() {
    let seen = Shared::default();
    let client = client(serve(Arc::clone(&seen)).await);
    let result = client
        .hogql("select event, count() from events where event = {e} group by event")
        .value("e", "$pageview")
        .await
        .expect("query");
    let s = seen_lock(&seen);
    assert_eq!(s.requests, ["POST /api/projects/7/query/"]);
    assert_eq!(
        s.bodies[0],
        json!({"query": {
            "kind": "HogQLQuery",
            "query": "select event, count() from events where event = {e} group by event",
            "values": {"e": "$pageview"}
        }})
    );
    assert_eq!(result.columns, ["event", "count()"]);
    assert_eq!(result.types[1].ty.as_deref(), Some("UInt64"));
    assert_eq!(result.rows, [vec![json!("$pageview"), json!(42)]]);
    let rows: Vec<EventCount> = result.rows_as().expect("rows");
    assert_eq!(
        rows,
        [EventCount {
            event: "$pageview".into(),
            count: 42
        }]
    );
    // A struct that does not fit names the column.
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        event: u64,
    }
    match result.rows_as::<Wrong>() {
        Err(HogQlError::Row { column, .. }) => assert_eq!(column, "event"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_background_query_is_polled_until_done_and_cancel_sends_delete() {
    let seen = Shared::default();
    let client = client(serve(Arc::clone(&seen)).await);
    let pending = client
        .hogql("select 1 as n")
        .submit()
        .await
        .expect("submit");
    assert_eq!(pending.id(), "q-123");
    assert_eq!(seen_lock(&seen).bodies[0]["refresh"], json!("async"));
    let result = pending.clone().wait().await.expect("done");
    assert_eq!(result.rows, [vec![json!(1)], vec![json!(2)]]);
    let message = pending.cancel().await.expect("cancel");
    assert_eq!(message.as_deref(), Some("Query cancelled"));
    assert_eq!(
        seen_lock(&seen).requests,
        [
            "POST /api/projects/7/query/",
            "GET /api/projects/7/query/q-123/",
            "GET /api/projects/7/query/q-123/",
            "GET /api/projects/7/query/q-123/",
            "DELETE /api/projects/7/query/q-123/",
        ]
    );
}

#[tokio::test]
async fn a_syntax_error_is_a_typed_error() {
    let seen = Shared::default();
    let client = client(serve(seen).await);
    match client.hogql("selec 1").await {
        Err(HogQlError::Syntax { message, .. }) => {
            assert_eq!(message, "mismatched input 'selec' expecting {SELECT, WITH}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bulk_keys_sends_ids() {
    let seen = Shared::default();
    let client = client(serve(Arc::clone(&seen)).await);
    let answer = client
        .feature_flags_bulk_keys_create("7", &types::FeatureFlagBulkKeysRequest { ids: vec![1, 2] })
        .await
        .expect("bulk_keys");
    assert_eq!(seen_lock(&seen).bodies[0], json!({"ids": [1, 2]}));
    assert_eq!(answer.keys.get("2").map(String::as_str), Some("beta"));
}

#[tokio::test]
async fn hogql_against_the_fake() {
    let fake = FakePostHog::default()
        .persons(30)
        .hogql_result(
            "select event, count() from events where event = {e} group by event",
            &["event", "count()"],
            vec![vec![json!("$pageview"), json!(7)]],
        )
        .hogql_answer("select boom", HogQlAnswer::Timeout)
        .hogql_answer("select big", HogQlAnswer::MemoryLimit)
        .async_polls(2)
        .serve()
        .await
        .expect("fake");
    let client = fake.client().expect("client");
    let rows: Vec<EventCount> = client
        .hogql("select event,  count() from events where event = {e} group by event")
        .value("e", "$pageview")
        .await
        .expect("query")
        .rows_as()
        .expect("rows");
    assert_eq!(rows[0].count, 7);

    // A shape the fake knows, streamed 8 rows a page.
    #[derive(serde::Deserialize)]
    struct Person {
        id: i64,
    }
    let ids: Vec<i64> = client
        .hogql("select id, name from persons order by id")
        .stream_as::<Person>(8)
        .map_ok(|p| p.id)
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(ids, (1..=30).collect::<Vec<i64>>());

    let pending = client
        .hogql("select count() from persons")
        .submit()
        .await
        .expect("submit");
    let done = pending.wait().await.expect("wait");
    assert_eq!(done.rows, [vec![json!(30)]]);

    assert!(matches!(
        client.hogql("select boom").await,
        Err(HogQlError::Timeout { .. })
    ));
    assert!(matches!(
        client.hogql("select big").await,
        Err(HogQlError::MemoryLimit { .. })
    ));
    assert!(matches!(
        client.hogql("delete from events").await,
        Err(HogQlError::Syntax { .. })
    ));
}
