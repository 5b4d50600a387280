//! Decoding and encoding speed of generated types (posthog-api's own derives) against the same
//! shapes derived by serde_derive: a page of 100 feature flags as PostHog sends it, unknown
//! fields included. The lean derives were made for compile time; this keeps them honest at run
//! time. Enums and maps are the generated ones on both sides, so only the struct derives differ.

use std::collections::BTreeMap;

use criterion::{Criterion, criterion_group, criterion_main};
use posthog_api::types::{
    CreationContextEnum, EvaluationRuntimeEnum, PaginatedFeatureFlagList, RoleAtOrganizationEnum,
};
use serde_json::{Value, json};

type Map = BTreeMap<String, Value>;
type Time = chrono::DateTime<chrono::FixedOffset>;

/// `PaginatedFeatureFlagList` with serde_derive, field for field.
#[derive(serde::Deserialize, serde::Serialize)]
struct SerdePage {
    count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<String>,
    results: Vec<SerdeFlag>,
}

/// `FeatureFlag` with serde_derive, field for field (optional fields as generated).
#[derive(serde::Deserialize, serde::Serialize)]
struct SerdeFlag {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filters: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_by: Option<SerdeUser>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_modified_by: Option<SerdeUser>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_simple_flag: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rollout_percentage: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ensure_experience_continuity: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    experiment_set: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    surveys: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    features: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rollback_conditions: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    performed_rollback: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    can_edit: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evaluation_tags: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usage_dashboard: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    analytics_dashboards: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    has_enriched_analytics: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_access_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    creation_context: Option<CreationContextEnum>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_remote_configuration: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    has_encrypted_payloads: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evaluation_runtime: Option<EvaluationRuntimeEnum>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_called_at: Option<Time>,
    #[serde(
        rename = "_create_in_folder",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    create_in_folder: Option<String>,
    #[serde(
        rename = "_should_create_usage_dashboard",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    should_create_usage_dashboard: Option<bool>,
}

/// `UserBasic` with serde_derive.
#[derive(serde::Deserialize, serde::Serialize)]
struct SerdeUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uuid: Option<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    distinct_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_name: Option<String>,
    email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hedgehog_config: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role_at_organization: Option<RoleAtOrganizationEnum>,
}

/// A page of 100 flags shaped like PostHog's answers, with two fields the schema does not list.
fn page() -> String {
    let user = json!({
        "id": 1, "uuid": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "distinct_id": "d1",
        "first_name": "Ada", "last_name": "L", "email": "ada@example.com",
        "is_email_verified": true, "hedgehog_config": null, "role_at_organization": "engineering",
    });
    let results: Vec<Value> = (0..100)
        .map(|i| {
            json!({
                "id": i, "name": format!("Flag {i}"), "key": format!("flag-{i}"),
                "filters": { "groups": [{ "properties": [], "rollout_percentage": 50 }],
                             "multivariate": null, "payloads": {} },
                "deleted": false, "active": true, "created_by": user,
                "created_at": "2025-03-01T10:00:00.123456Z",
                "updated_at": "2025-03-02T11:30:00Z", "version": 3,
                "last_modified_by": user, "is_simple_flag": true, "rollout_percentage": 50,
                "ensure_experience_continuity": false, "experiment_set": "",
                "surveys": {}, "features": {}, "rollback_conditions": null,
                "performed_rollback": false, "can_edit": true, "tags": ["growth"],
                "evaluation_tags": [], "usage_dashboard": 17, "analytics_dashboards": [17, 18],
                "has_enriched_analytics": false, "user_access_level": "editor",
                "creation_context": "feature_flags", "is_remote_configuration": false,
                "has_encrypted_payloads": false, "status": "ACTIVE",
                "evaluation_runtime": "all", "last_called_at": "2025-03-03T09:00:00Z",
                "bucketing_identifier": "distinct_id", "added_later": { "nested": [1, 2, 3] },
            })
        })
        .collect();
    json!({ "count": 100, "next": null, "previous": null, "results": results }).to_string()
}

fn decode(c: &mut Criterion) {
    let text = page();
    let ours: PaginatedFeatureFlagList = serde_json::from_str(&text).expect("generated decode");
    let serde: SerdePage = serde_json::from_str(&text).expect("serde_derive decode");
    assert_eq!(ours.results.len(), serde.results.len());
    // Same bytes out from both, so the encode comparison is like for like.
    assert_eq!(
        serde_json::to_string(&ours).expect("encode"),
        serde_json::to_string(&serde).expect("encode")
    );

    let mut group = c.benchmark_group("decode_100_feature_flags");
    group.throughput(criterion::Throughput::Bytes(text.len() as u64));
    group.bench_function("posthog_api_derive", |b| {
        b.iter(|| serde_json::from_str::<PaginatedFeatureFlagList>(&text).expect("decode"));
    });
    group.bench_function("serde_derive", |b| {
        b.iter(|| serde_json::from_str::<SerdePage>(&text).expect("decode"));
    });
    group.finish();

    let mut group = c.benchmark_group("encode_100_feature_flags");
    group.bench_function("posthog_api_derive", |b| {
        b.iter(|| serde_json::to_vec(&ours).expect("encode"));
    });
    group.bench_function("serde_derive", |b| {
        b.iter(|| serde_json::to_vec(&serde).expect("encode"));
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
