//! The throttle-scope table against the real 2025 schema: every operation resolves to at least
//! one scope, known endpoints get PostHog's scopes, and the whole mapping is a reviewed snapshot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use posthog_codegen::throttle::{TABLE_PATH, ThrottleTable};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn table() -> ThrottleTable {
    let path = workspace_root().join(TABLE_PATH);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ThrottleTable::parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// (method, path, operationId) of every operation in the 2025 schema, in schema order.
fn operations() -> Vec<(String, String, String)> {
    let path = workspace_root().join("../shared/schemas/posthog-2025.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let Some(paths) = schema["paths"].as_object() else {
        panic!("schema has no paths")
    };
    for (route, item) in paths {
        for method in METHODS {
            if let Some(op) = item.get(*method) {
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {route} has no operationId"));
                out.push((method.to_ascii_uppercase(), route.clone(), id.to_owned()));
            }
        }
    }
    out
}

#[test]
fn every_2025_operation_resolves_to_a_scope() {
    let table = table();
    let operations = operations();
    assert_eq!(operations.len(), 772);
    let unthrottled: Vec<String> = operations
        .iter()
        .filter(|(method, path, id)| table.scopes_for(method, path, id).is_empty())
        .map(|(method, path, id)| format!("{id} ({method} {path})"))
        .collect();
    assert!(
        unthrottled.is_empty(),
        "operations with no scope: {unthrottled:#?}"
    );
    let declared: Vec<&str> = table.limits().iter().map(|l| l.scope.as_str()).collect();
    for (method, path, id) in &operations {
        for scope in table.scopes_for(method, path, id) {
            assert!(
                declared.contains(&scope.as_str()),
                "{id}: {scope} has no limit"
            );
        }
    }
}

#[test]
fn known_endpoints_get_posthogs_scopes() {
    let table = table();
    let scopes = |method: &str, path: &str, id: &str| table.scopes_for(method, path, id);
    // The query endpoint (not in the 2025 schema, but in others and in PostHog's docs).
    assert_eq!(
        scopes("POST", "/api/projects/{project_id}/query/", "query_create"),
        ["query"]
    );
    assert_eq!(
        scopes(
            "POST",
            "/api/environments/{project_id}/query/",
            "environments_query_create"
        ),
        ["query"]
    );
    assert_eq!(
        scopes(
            "GET",
            "/api/projects/{project_id}/query/{id}/",
            "query_retrieve"
        ),
        ["clickhouse_burst", "clickhouse_sustained"]
    );
    assert_eq!(
        scopes(
            "GET",
            "/api/projects/{project_id}/query/{id}/log/",
            "query_log_retrieve"
        ),
        ["api_queries_burst", "api_queries_sustained"]
    );
    assert_eq!(
        scopes(
            "GET",
            "/api/projects/{project_id}/insights/",
            "insights_list"
        ),
        ["clickhouse_burst", "clickhouse_sustained"]
    );
    assert_eq!(
        scopes(
            "GET",
            "/api/environments/{project_id}/persons/{id}/",
            "environments_persons_retrieve"
        ),
        ["clickhouse_burst", "persons_burst", "persons_sustained"]
    );
    assert_eq!(
        scopes(
            "GET",
            "/api/projects/{project_id}/feature_flags/local_evaluation/",
            "feature_flags_local_evaluation_retrieve"
        ),
        ["feature_flag_evaluations"]
    );
    assert_eq!(
        scopes(
            "GET",
            "/api/projects/{project_id}/events/values/",
            "events_values_retrieve"
        ),
        ["event_values_burst", "event_values_sustained"]
    );
    assert_eq!(
        scopes(
            "GET",
            "/api/projects/{project_id}/dashboards/",
            "dashboards_list"
        ),
        ["burst", "sustained"]
    );
    assert_eq!(
        scopes(
            "GET",
            "/api/projects/{project_id}/insights/{insight_id}/sharing/",
            "insights_sharing_list"
        ),
        ["burst", "sustained"]
    );
    assert!(scopes("POST", "/capture/", "capture").is_empty());
    assert!(scopes("POST", "/batch/", "batch").is_empty());
    let limits: BTreeMap<&str, (u32, u64)> = table
        .limits()
        .iter()
        .map(|l| (l.scope.as_str(), (l.requests, l.period_seconds)))
        .collect();
    assert_eq!(limits.get("burst"), Some(&(480, 60)));
    assert_eq!(limits.get("sustained"), Some(&(4800, 3600)));
    assert_eq!(limits.get("query"), Some(&(120, 3600)));
    assert_eq!(limits.get("feature_flag_evaluations"), Some(&(600, 60)));
    assert_eq!(limits.get("copy_flags_burst"), Some(&(120, 60)));
}

#[test]
fn whole_mapping_snapshot() {
    let table = table();
    let mut lines = BTreeMap::new();
    for (method, path, id) in operations() {
        let resolution = table.resolve(&method, &path, &id);
        let rule = resolution.rule.unwrap_or("default");
        lines.insert(
            id,
            format!("{} [{rule}] {method} {path}", resolution.scopes.join("+")),
        );
    }
    let text: String = lines
        .iter()
        .map(|(id, line)| format!("{id}: {line}\n"))
        .collect();
    insta::assert_snapshot!("throttle_scopes_2025", text);
}
