//! Operations whose request or answer `schema/overlays/` corrects, over HTTP on 127.0.0.1: what
//! each sends on the wire (method, path, query, body) and that PostHog's answer, as its view
//! code writes it, decodes.

use http::{Method, StatusCode};
use posthog_api::api::environments::EnvironmentsErrorTrackingSymbolSetsStartUploadCreateQuery;
use posthog_api::api::persons::{PersonsActivityRetrieveQuery, PersonsDeletePropertyCreateQuery};
use posthog_api::rate_limit::RateLimiter;
use posthog_api::{Client, Credentials, Region, types};
use serde_json::{Value, json};

use crate::wire::{Server, json_response};

/// A server answering each request with the canned answer of its path (404 otherwise), and a
/// client for project 7 on it.
async fn serve(answers: Vec<(&'static str, StatusCode, Value)>) -> (Server, Client) {
    let server = Server::start(move |request| {
        answers
            .iter()
            .find(|(path, _, _)| *path == request.path)
            .map_or_else(
                || json_response(StatusCode::NOT_FOUND, r#"{"detail": "Not found."}"#),
                |(_, status, body)| json_response(*status, &body.to_string()),
            )
    })
    .await;
    let client = Client::builder(Region::SelfHosted(server.url()))
        .credentials(Credentials::personal_api_key("phx_test"))
        .project_id("7")
        .rate_limiter(RateLimiter::disabled())
        .build()
        .expect("client");
    (server, client)
}

/// A cohort as CohortSerializer writes it, trimmed to what the answer needs.
fn cohort() -> Value {
    json!({
        "id": 41, "name": "Users with feature flag beta enabled at 2025-06-01 10:00:00",
        "is_static": true, "is_calculating": true, "count": null, "created_by": null,
        "created_at": "2025-06-01T10:00:00Z", "last_calculation": null,
        "errors_calculating": 0, "experiment_set": [], "deleted": false, "groups": [],
        "filters": null, "query": null, "version": null, "pending_version": null
    })
}

#[tokio::test]
async fn feature_flag_dashboard_and_static_cohort_send_no_body_and_decode_their_answers() {
    let (server, client) = serve(vec![
        (
            "/api/projects/7/feature_flags/12/dashboard/",
            StatusCode::OK,
            json!({"success": true}),
        ),
        (
            "/api/projects/7/feature_flags/12/create_static_cohort_for_flag/",
            StatusCode::CREATED,
            json!({"cohort": cohort()}),
        ),
    ])
    .await;

    let dashboard = client
        .feature_flags_dashboard_create("7", 12)
        .await
        .expect("dashboard");
    assert!(dashboard.success);
    assert_eq!(dashboard.error, None);
    let cohort = client
        .feature_flags_create_static_cohort_for_flag_create("7", 12)
        .await
        .expect("static cohort")
        .cohort;
    assert_eq!(cohort.id, Some(41));
    assert_eq!(cohort.is_static, Some(true));

    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    for (request, path) in seen.iter().zip([
        "/api/projects/7/feature_flags/12/dashboard/",
        "/api/projects/7/feature_flags/12/create_static_cohort_for_flag/",
    ]) {
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.target(), path);
        // PostHog reads no body here; the FeatureFlag drf documented is not sent.
        assert!(request.body.is_empty(), "{:?}", request.body);
        assert_eq!(request.headers.get(http::header::CONTENT_TYPE), None);
    }
}

#[tokio::test]
async fn a_failed_usage_dashboard_is_an_error_with_posthogs_message() {
    let (_server, client) = serve(vec![(
        "/api/projects/7/feature_flags/12/dashboard/",
        StatusCode::BAD_REQUEST,
        json!({"success": false, "error": "Unable to generate usage dashboard"}),
    )])
    .await;
    let error = client
        .feature_flags_dashboard_create("7", 12)
        .await
        .expect_err("400");
    assert!(
        error
            .to_string()
            .contains("Unable to generate usage dashboard"),
        "{error}"
    );
}

#[tokio::test]
async fn symbol_set_start_upload_sends_its_query_and_no_body_and_decodes_the_presigned_post() {
    let id = "0197a0c2-7b1e-7000-8000-00000000abcd";
    let (server, client) = serve(vec![(
        "/api/environments/7/error_tracking/symbol_sets/start_upload/",
        StatusCode::CREATED,
        json!({
            "presigned_url": {
                "url": "https://bucket.s3.amazonaws.com/",
                "fields": {"key": "symbolsets/0197a0c2", "policy": "eyJ...", "x-amz-signature": "ab12"}
            },
            "symbol_set_id": id
        }),
    )])
    .await;
    let started = client
        .environments_error_tracking_symbol_sets_start_upload_create(
            "7",
            &EnvironmentsErrorTrackingSymbolSetsStartUploadCreateQuery {
                chunk_id: "chunk-1".into(),
                release_id: Some("rel 2".into()),
            },
        )
        .await
        .expect("start upload");
    assert_eq!(started.symbol_set_id.to_string(), id);
    let post = started.presigned_url.expect("a presigned POST");
    assert_eq!(post.url, "https://bucket.s3.amazonaws.com/");
    assert_eq!(
        post.fields.get("key").map(String::as_str),
        Some("symbolsets/0197a0c2")
    );

    let seen = server.requests();
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(
        seen[0].target(),
        "/api/environments/7/error_tracking/symbol_sets/start_upload/?chunk_id=chunk-1&release_id=rel+2"
    );
    assert!(seen[0].body.is_empty());
}

#[tokio::test]
async fn bulk_symbol_set_upload_sends_its_chunks_and_decodes_the_upload_targets() {
    let (server, client) = serve(vec![(
        "/api/environments/7/error_tracking/symbol_sets/bulk_start_upload/",
        StatusCode::CREATED,
        json!({"id_map": {"chunk-1": {
            "presigned_url": {"url": "https://bucket/", "fields": {"key": "k"}},
            "symbol_set_id": "0197a0c2-7b1e-7000-8000-00000000abcd"
        }}}),
    )])
    .await;
    let targets = client
        .environments_error_tracking_symbol_sets_bulk_start_upload_create(
            "7",
            &types::SymbolSetBulkStartUploadRequest {
                symbol_sets: Some(vec![types::SymbolSetUploadChunk {
                    chunk_id: "chunk-1".into(),
                    release_id: posthog_api::Nullable::Absent,
                    content_hash: posthog_api::Nullable::Value("9f8e".into()),
                }]),
                ..Default::default()
            },
        )
        .await
        .expect("bulk start");
    assert!(targets.id_map.contains_key("chunk-1"));
    let body: Value = serde_json::from_slice(&server.requests()[0].body).expect("JSON body");
    assert_eq!(
        body,
        json!({"symbol_sets": [{"chunk_id": "chunk-1", "content_hash": "9f8e"}]})
    );
}

#[tokio::test]
async fn person_delete_property_sends_unset_in_the_body() {
    let (server, client) = serve(vec![(
        "/api/projects/7/persons/3/delete_property/",
        StatusCode::CREATED,
        json!({"success": true}),
    )])
    .await;
    let done = client
        .persons_delete_property_create(
            "7",
            3,
            &PersonsDeletePropertyCreateQuery::default(),
            &types::PersonDeletePropertyRequest {
                dollar_unset: "plan".into(),
            },
        )
        .await
        .expect("delete property");
    assert!(done.success);
    let seen = server.requests();
    assert_eq!(
        seen[0].target(),
        "/api/projects/7/persons/3/delete_property/"
    );
    let body: Value = serde_json::from_slice(&seen[0].body).expect("JSON body");
    assert_eq!(body, json!({"$unset": "plan"}));
}

#[tokio::test]
async fn activity_log_pages_are_numbered_and_decode() {
    let (server, client) = serve(vec![(
        "/api/projects/7/persons/activity/",
        StatusCode::OK,
        json!({
            "results": [{
                "id": "0197a0c2-7b1e-7000-8000-000000000001",
                "user": {"id": 1, "uuid": "0197a0c2-7b1e-7000-8000-000000000002",
                         "email": "a@example.com", "hedgehog_config": null},
                "unread": false, "activity": "deleted", "scope": "Person",
                "item_id": "3", "detail": {"name": "p"}, "created_at": "2025-06-01T10:00:00Z"
            }],
            "next": null, "previous": null, "total_count": 1
        }),
    )])
    .await;
    let page = client
        .persons_activity_retrieve(
            "7",
            &PersonsActivityRetrieveQuery {
                limit: Some(5),
                page: Some(2),
                ..Default::default()
            },
        )
        .await
        .expect("activity");
    assert_eq!(page.total_count, Some(1));
    assert_eq!(page.results[0].activity, "deleted");
    assert_eq!(
        server.requests()[0].target(),
        "/api/projects/7/persons/activity/?limit=5&page=2"
    );
}
