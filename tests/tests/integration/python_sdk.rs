//! PostHog's official Python SDK (pinned in `.ci/run`) against the fake PostHog: what the SDK
//! sends must be what the fake understands, and the SDK must read the fake's answers right.
//!
//! The test needs `POSTHOG_PYTHON`, a Python with `posthog` installed (`.ci/run` makes one).
//! Under CI (`CI` set) a missing interpreter or SDK fails the test; elsewhere it is skipped
//! with a message (see the README for running it locally).

use std::process::Command;

use posthog_api::server::fake::{FAKE_PROJECT_API_KEY, FAKE_PROJECT_SECRET_KEY, FakePostHog};
use posthog_api::server::fake_public::FakeFlag;
use serde_json::{Value, json};

/// The posthog-python release `.ci/run` installs; the script reports the one it ran.
const PINNED_SDK: &str = "7.91.1";

fn python() -> Option<String> {
    match std::env::var("POSTHOG_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var_os("CI").is_some() => {
            panic!("POSTHOG_PYTHON is not set: .ci/run must install the Python SDK for this test")
        }
        _ => {
            eprintln!(
                "skipped: set POSTHOG_PYTHON to a Python with posthog=={PINNED_SDK} installed"
            );
            None
        }
    }
}

fn definitions() -> Value {
    json!({
        "flags": [{
            "id": 1,
            "key": "local-flag",
            "name": "Pro users",
            "active": true,
            "ensure_experience_continuity": false,
            "filters": {
                "groups": [{
                    "properties": [
                        {"key": "plan", "value": ["pro"], "operator": "exact", "type": "person"}
                    ],
                    "rollout_percentage": 100
                }]
            }
        }],
        "group_type_mapping": {"0": "company"},
        "cohorts": {}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_against_the_fake() {
    let Some(python) = python() else { return };
    let fake = FakePostHog::start().await.expect("fake starts");
    let public = fake.public().clone();
    public.add_flag(FakeFlag::boolean("beta", true));
    public.add_flag(
        FakeFlag::multivariate("experiment", [("control", 50), ("test", 50)])
            .variant_for("user-1", "test")
            .payload("test", json!({"color": "blue"})),
    );
    public.set_definitions(&definitions());

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/sdk_conformance.py");
    let base = fake.base_url().as_str().trim_end_matches('/').to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            .args([script, &base, FAKE_PROJECT_API_KEY, FAKE_PROJECT_SECRET_KEY])
            .output()
    })
    .await
    .expect("join")
    .unwrap_or_else(|error| panic!("cannot run the Python SDK script: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the script failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let said: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON line from the script:\n{stdout}\n{stderr}"));

    // What the SDK read from the fake.
    assert_eq!(said["version"], PINNED_SDK, "{said}");
    assert_eq!(said["errors"], json!([]), "{said}\n{stderr}");
    assert_eq!(said["beta"], json!(true), "remote boolean flag: {said}");
    assert_eq!(said["variant"], json!("test"), "remote variant: {said}");
    assert_eq!(said["payload"], json!({"color": "blue"}), "{said}");
    assert_eq!(said["local_pro"], json!(true), "local evaluation: {said}");
    assert_eq!(said["local_free"], json!(false), "local evaluation: {said}");
    assert_eq!(said["after_reload"], json!(true), "after a 304: {said}");

    // What crossed the wire.
    let requests = public.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert!(paths.contains(&"/batch/"), "{paths:?}");
    assert!(
        paths.contains(&"/flags/"),
        "the SDK posts /flags/: {paths:?}"
    );
    assert!(
        requests
            .iter()
            .filter(|r| r.path == "/flags/")
            .all(|r| r.query.as_deref() == Some("v=4")),
        "{requests:?}"
    );
    assert!(paths.contains(&"/i/v1/analytics/events"), "{paths:?}");
    assert!(
        requests
            .iter()
            .filter(|r| r.path == "/batch/")
            .all(|r| r.content_encoding.as_deref() == Some("gzip")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .filter(|r| r.path != "/flags/definitions")
            .all(|r| !r.personal_key),
        "a secret key reached a capture or flags request: {requests:?}"
    );
    assert!(
        public.definitions_requests() >= 2,
        "initial load and reload"
    );
    assert!(
        public.definitions_not_modified() >= 1,
        "the reload is a 304"
    );
    let events = public.events();
    let find = |name: &str| {
        events
            .iter()
            .filter(|event| event.event == name)
            .collect::<Vec<_>>()
    };
    let signed_up = find("signed_up");
    assert_eq!(signed_up.len(), 1, "exactly once: {events:?}");
    assert_eq!(
        signed_up[0].uuid.map(|uuid| uuid.to_string()),
        said["captured_uuid"].as_str().map(str::to_owned)
    );
    assert_eq!(signed_up[0].properties["plan"], json!("pro"));
    assert_eq!(signed_up[0].properties["seats"], json!(3));

    let set = find("$set");
    assert_eq!(set.len(), 1);
    assert_eq!(
        set[0].person_updates("$set")["email"],
        json!("a@example.com")
    );
    let set_once = find("$set_once");
    assert_eq!(set_once.len(), 1);
    assert_eq!(
        set_once[0].person_updates("$set_once")["first_seen"],
        json!("2026-01-01")
    );

    let group = find("$groupidentify");
    assert_eq!(group.len(), 1);
    assert_eq!(group[0].properties["$group_type"], json!("company"));
    assert_eq!(group[0].properties["$group_key"], json!("acme"));
    assert_eq!(group[0].properties["$group_set"]["name"], json!("Acme"));

    let alias = find("$create_alias");
    assert_eq!(alias.len(), 1);
    // posthog-python sends the previous id as the event's distinct id, the new one as `alias`.
    assert_eq!(alias[0].properties["alias"], json!("user-1"));
    assert_eq!(alias[0].distinct_id.as_deref(), Some("anon-1"));

    let v1 = find("v1_event");
    assert_eq!(v1.len(), 1);
    assert!(v1[0].is_anonymous(), "{:?}", v1[0]);
    assert_eq!(
        v1[0].uuid.map(|uuid| uuid.to_string()),
        said["v1_uuid"].as_str().map(str::to_owned)
    );

    let calls = public.flag_calls();
    let count = |flag: &str, user: &str| {
        calls
            .iter()
            .filter(|(id, key, _)| key == flag && id == user)
            .count()
    };
    assert_eq!(count("beta", "user-1"), 1, "{calls:?}");
    assert_eq!(count("experiment", "user-1"), 1, "{calls:?}");
    assert_eq!(count("local-flag", "user-1"), 1, "deduplicated: {calls:?}");
    assert_eq!(count("local-flag", "user-2"), 1, "{calls:?}");
    fake.shutdown().await.expect("shutdown");
}
