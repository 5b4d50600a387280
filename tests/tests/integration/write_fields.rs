//! What request bodies say on the wire (over loopback): a three-state field sends `null` when
//! told to and nothing when absent, an answer's `null` decodes as null rather than absent, and
//! fields the schema marks `readOnly` are not sent in bodies that only requests use.

use http::{Method, StatusCode};
use posthog_api::retry::RetryPolicy;
use posthog_api::server::fake::FakePostHog;
use posthog_api::types::{FeatureFlag, PatchedFeatureFlag};
use posthog_api::{Client, Credentials, Nullable, ProjectId, Region};
use serde_json::json;

use crate::wire::{Server, json_response};

fn client_for(server: &Server) -> Client {
    Client::builder(Region::SelfHosted(server.url()))
        .credentials(Credentials::personal_api_key(
            "phx_WriteFieldsTestKey0123456789",
        ))
        .project_id("42")
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("valid")
}

/// A feature flag answer as PostHog writes it, with `ensure_experience_continuity` null and
/// `performed_rollback` (also optional and nullable) absent.
const FLAG_ANSWER: &str = r#"{"id": 7, "key": "beta", "ensure_experience_continuity": null,
    "rollout_percentage": null, "can_edit": true, "created_by": null, "experiment_set": "",
    "features": {}, "is_simple_flag": true, "last_modified_by": null, "status": "ACTIVE",
    "surveys": {}, "updated_at": null, "usage_dashboard": 1, "user_access_level": null}"#;

#[tokio::test]
async fn patch_with_an_explicit_null_sends_null_and_no_absent_field() {
    let server = Server::start(|_| json_response(StatusCode::OK, FLAG_ANSWER)).await;
    let client = client_for(&server);
    let patch = PatchedFeatureFlag {
        ensure_experience_continuity: Nullable::Null,
        has_enriched_analytics: Nullable::Value(true),
        name: Some("renamed".to_owned()),
        ..Default::default()
    };
    client
        .feature_flags_partial_update(ProjectId::Default, 7, &patch)
        .await
        .expect("patched");
    let request = server.single();
    assert_eq!(request.method, Method::PATCH);
    assert_eq!(request.path, "/api/projects/42/feature_flags/7/");
    // Exactly these members: the null is sent, every absent field is left out.
    assert_eq!(
        request.json().expect("a JSON body"),
        json!({"name": "renamed", "ensure_experience_continuity": null, "has_enriched_analytics": true})
    );
}

#[tokio::test]
async fn an_empty_patch_sends_an_empty_object() {
    let server = Server::start(|_| json_response(StatusCode::OK, FLAG_ANSWER)).await;
    let client = client_for(&server);
    client
        .feature_flags_partial_update(ProjectId::Default, 7, &PatchedFeatureFlag::default())
        .await
        .expect("patched");
    assert_eq!(server.single().json().expect("a JSON body"), json!({}));
}

#[tokio::test]
async fn a_null_in_an_answer_decodes_as_null_and_a_missing_member_as_absent() {
    let server = Server::start(|_| json_response(StatusCode::OK, FLAG_ANSWER)).await;
    let client = client_for(&server);
    let flag = client
        .feature_flags_retrieve(ProjectId::Default, 7)
        .await
        .expect("decoded");
    assert_eq!(flag.ensure_experience_continuity, Nullable::Null);
    assert!(flag.ensure_experience_continuity.is_null());
    assert_eq!(flag.performed_rollback, Nullable::Absent);
    assert!(flag.performed_rollback.is_absent());
    // Fields that are required and nullable stay `Option`: they are always there.
    assert_eq!(flag.updated_at, None);
}

#[tokio::test]
async fn read_only_fields_are_not_sent_in_request_only_bodies() {
    let server = Server::start(|_| json_response(StatusCode::OK, FLAG_ANSWER)).await;
    let client = client_for(&server);
    // A patch read from JSON that carries server-set members: the request-only type has no
    // field for them, so they cannot travel back.
    let patch: PatchedFeatureFlag = serde_json::from_value(json!({
        "id": 7, "can_edit": true, "is_simple_flag": false, "rollout_percentage": 50,
        "status": "ACTIVE", "usage_dashboard": 3, "user_access_level": "editor",
        "key": "beta", "ensure_experience_continuity": null
    }))
    .expect("a patch decodes from JSON with extra members");
    client
        .feature_flags_partial_update(ProjectId::Default, 7, &patch)
        .await
        .expect("patched");
    assert_eq!(
        server.single().json().expect("a JSON body"),
        json!({"key": "beta", "ensure_experience_continuity": null})
    );
}

#[tokio::test]
async fn a_value_round_trips_through_the_fake_and_null_clears_it() {
    let fake = FakePostHog::start().await.expect("fake");
    let client = fake.client().expect("client");
    let pid = fake.project_id();
    let created = client
        .feature_flags_create(
            pid,
            &FeatureFlag {
                key: "continuity".to_owned(),
                ensure_experience_continuity: Nullable::Value(true),
                ..Default::default()
            },
        )
        .await
        .expect("created");
    assert_eq!(created.ensure_experience_continuity, Nullable::Value(true));
    let id = created.id.expect("an id");

    // A patch that leaves the field out keeps it.
    let renamed = client
        .feature_flags_partial_update(
            pid,
            id,
            &PatchedFeatureFlag {
                name: Some("renamed".to_owned()),
                ..Default::default()
            },
        )
        .await
        .expect("renamed");
    assert_eq!(renamed.ensure_experience_continuity, Nullable::Value(true));

    // A patch with null clears it.
    let cleared = client
        .feature_flags_partial_update(
            pid,
            id,
            &PatchedFeatureFlag {
                ensure_experience_continuity: Nullable::Null,
                ..Default::default()
            },
        )
        .await
        .expect("cleared");
    assert_eq!(cleared.ensure_experience_continuity, Nullable::Null);
    assert_eq!(cleared.name.as_deref(), Some("renamed"));
}

#[test]
fn nullable_decodes_and_encodes_three_states() {
    let decode = |text: &str| serde_json::from_str::<PatchedFeatureFlag>(text).expect("decodes");
    assert_eq!(decode("{}").ensure_experience_continuity, Nullable::Absent);
    assert_eq!(
        decode(r#"{"ensure_experience_continuity": null}"#).ensure_experience_continuity,
        Nullable::Null
    );
    assert_eq!(
        decode(r#"{"ensure_experience_continuity": false}"#).ensure_experience_continuity,
        Nullable::Value(false)
    );
    let error =
        serde_json::from_str::<PatchedFeatureFlag>(r#"{"ensure_experience_continuity": "yes"}"#)
            .expect_err("a string is not a bool");
    assert!(error.to_string().contains("expected a boolean"), "{error}");
    for text in [
        "{}",
        r#"{"ensure_experience_continuity":null}"#,
        r#"{"ensure_experience_continuity":true}"#,
    ] {
        assert_eq!(serde_json::to_string(&decode(text)).expect("encodes"), text);
    }
}
