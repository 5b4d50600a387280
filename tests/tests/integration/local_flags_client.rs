//! `LocalFlags` against the fake PostHog on 127.0.0.1: definitions fetched with the secret key
//! and polled with ETag, flags decided locally without `/flags`, inconclusive ones asked
//! remotely, payloads, `$feature_flag_called` once per (distinct id, flag, value), and the
//! secret key on no request but the definitions.

use std::time::Duration;

use posthog_api::Client;
use posthog_api::public::local_flags::{DefinitionsPoll, LocalFlags, LocalFlagsConfig, Source};
use posthog_api::public::{CaptureQueue, CaptureQueueConfig, FlagValue, FlagsOptions};
use posthog_api::server::fake::{FAKE_PROJECT_SECRET_KEY, FakePostHog, RunningFake};
use posthog_api::server::fake_public::FakeFlag;
use serde_json::{Value, json};

fn definitions() -> Value {
    json!({
        "flags": [
            {
                "id": 7, "version": 3, "key": "pro-only", "active": true,
                "filters": {
                    "groups": [
                        {"properties": [{"key": "plan", "value": ["pro"], "operator": "exact", "type": "person"}], "rollout_percentage": 100},
                        {"properties": [{"key": "email", "value": "@posthog.com", "operator": "icontains", "type": "person"}], "rollout_percentage": 100},
                        {"properties": [{"key": "age", "value": 40, "operator": "gt", "type": "person"}], "rollout_percentage": 100}
                    ],
                    "payloads": {"true": "{\"color\": \"blue\"}"}
                }
            },
            {
                "key": "company-flag", "active": true,
                "filters": {
                    "aggregation_group_type_index": 0,
                    "groups": [{"properties": [{"key": "size", "value": 10, "operator": "gte", "type": "group", "group_type_index": 0}], "rollout_percentage": 100}]
                }
            },
            {
                "key": "static-cohort-flag", "active": true,
                "filters": {"groups": [{"properties": [{"key": "id", "value": 99, "type": "cohort"}], "rollout_percentage": 100}]}
            }
        ],
        "group_type_mapping": {"0": "company"},
        "cohorts": {}
    })
}

/// `LocalFlags` for `client` with the fake's secret key and default settings, its
/// `$feature_flag_called` events going through `queue` when one is given.
async fn local_flags(client: &Client, queue: Option<CaptureQueue>) -> LocalFlags {
    client
        .local_flags(FAKE_PROJECT_SECRET_KEY, LocalFlagsConfig::new(), queue)
        .await
        .expect("definitions load")
}

async fn fake() -> RunningFake {
    let fake = FakePostHog::start().await.expect("fake");
    fake.public().set_definitions(&definitions());
    fake.public()
        .add_flag(FakeFlag::boolean("static-cohort-flag", true));
    fake
}

#[tokio::test]
async fn flags_are_decided_locally_without_a_flags_request() {
    let fake = fake().await;
    let client = fake.client().expect("client");
    let flags = local_flags(&client, None).await;
    assert_eq!(flags.definitions().len(), 3);
    let pro = FlagsOptions::new().person_property("plan", "pro");
    let value = flags
        .get_flag("pro-only", "user-1", &pro)
        .await
        .expect("evaluated")
        .expect("defined");
    assert_eq!(value.value, FlagValue::Boolean(true));
    assert_eq!(value.source, Source::Local);
    assert_eq!(value.payload, Some(json!({"color": "blue"})));
    let free = FlagsOptions::new()
        .person_property("plan", "free")
        .person_property("email", "a@example.com")
        .person_property("age", 30);
    let value = flags
        .get_flag("pro-only", "user-2", &free)
        .await
        .expect("evaluated")
        .expect("defined");
    assert_eq!(
        (value.value, value.source),
        (FlagValue::Boolean(false), Source::Local)
    );
    let acme = FlagsOptions::new()
        .group("company", "acme")
        .group_property("company", "size", 12);
    let value = flags
        .get_flag("company-flag", "user-1", &acme)
        .await
        .expect("evaluated")
        .expect("defined");
    assert_eq!(
        (value.value, value.source),
        (FlagValue::Boolean(true), Source::Local)
    );
    assert!(
        !fake
            .public()
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/flags") && r.path != "/flags/definitions"),
        "no remote evaluation: {:?}",
        fake.public().requests()
    );
}

#[tokio::test]
async fn inconclusive_flags_fall_back_to_the_remote_call() {
    let fake = fake().await;
    let client = fake.client().expect("client");
    let flags = local_flags(&client, None).await;
    // A static cohort (not in the definitions) needs the server.
    let value = flags
        .get_flag("static-cohort-flag", "user-1", &FlagsOptions::new())
        .await
        .expect("evaluated")
        .expect("the server knows it");
    assert_eq!(
        (value.value, value.source),
        (FlagValue::Boolean(true), Source::Remote)
    );
    let remote: Vec<_> = fake
        .public()
        .requests()
        .into_iter()
        .filter(|r| r.path == "/flags")
        .collect();
    assert_eq!(remote.len(), 1);
    assert!(!remote[0].personal_key, "the secret key stays off /flags");
    // Only local: undecided.
    let local_only = client
        .local_flags(
            FAKE_PROJECT_SECRET_KEY,
            LocalFlagsConfig::new().fallback_to_remote(false),
            None,
        )
        .await
        .expect("definitions load");
    let value = local_only
        .get_flag("static-cohort-flag", "user-1", &FlagsOptions::new())
        .await
        .expect("evaluated");
    assert_eq!(value, None);
}

#[tokio::test]
async fn definitions_are_polled_with_their_etag() {
    let fake = fake().await;
    let client = fake.client().expect("client");
    let flags = local_flags(&client, None).await;
    assert!(matches!(
        flags.reload().await.expect("reload"),
        DefinitionsPoll::NotModified
    ));
    assert_eq!(fake.public().definitions_not_modified(), 1);
    let mut changed = definitions();
    changed["flags"][0]["active"] = json!(false);
    fake.public().set_definitions(&changed);
    assert!(matches!(
        flags.reload().await.expect("reload"),
        DefinitionsPoll::Updated { .. }
    ));
    let value = flags
        .get_flag(
            "pro-only",
            "u",
            &FlagsOptions::new().person_property("plan", "pro"),
        )
        .await
        .expect("evaluated")
        .expect("defined");
    assert_eq!(
        value.value,
        FlagValue::Boolean(false),
        "the new definitions are used"
    );
    let wrong = client
        .local_flags("phs_wrong", LocalFlagsConfig::new(), None)
        .await
        .expect_err("an unknown secret key is refused");
    assert_eq!(wrong.status().map(|s| s.as_u16()), Some(401));
    assert!(
        !format!("{wrong} {wrong:?}").contains("phs_wrong"),
        "{wrong:?}"
    );
}

#[tokio::test]
async fn feature_flag_called_is_sent_once_per_user_flag_and_value() {
    let fake = fake().await;
    let client = fake.client().expect("client");
    let queue = client
        .capture_queue(CaptureQueueConfig::new().flush_interval(Duration::from_secs(3600)))
        .expect("queue");
    let flags = local_flags(&client, Some(queue.clone())).await;
    let pro = FlagsOptions::new().person_property("plan", "pro");
    for _ in 0..3 {
        flags
            .get_flag("pro-only", "user-1", &pro)
            .await
            .expect("ok");
    }
    flags
        .get_flag("pro-only", "user-2", &pro)
        .await
        .expect("ok");
    let free = FlagsOptions::new()
        .person_property("plan", "free")
        .person_property("email", "a@example.com")
        .person_property("age", 30);
    flags
        .get_flag("pro-only", "user-1", &free)
        .await
        .expect("ok");
    queue.flush().await;
    let calls = fake.public().flag_calls();
    assert_eq!(
        calls,
        [
            ("user-1".to_owned(), "pro-only".to_owned(), json!(true)),
            ("user-2".to_owned(), "pro-only".to_owned(), json!(true)),
            ("user-1".to_owned(), "pro-only".to_owned(), json!(false)),
        ]
    );
    let event = &fake.public().events()[0];
    assert_eq!(event.properties["locally_evaluated"], json!(true));
    assert_eq!(event.properties["$feature_flag_id"], json!(7));
    assert!(
        fake.public()
            .requests()
            .iter()
            .filter(|r| r.path == "/batch/")
            .all(|r| !r.personal_key),
        "the secret key stays off capture"
    );
}

#[tokio::test]
async fn the_secret_key_goes_to_the_private_host_only() {
    use posthog_api::server::fake_public::FakePublic;
    use posthog_api::{Client, Credentials, Region};
    const PROJECT: &str = "phc_TwoHostsProjectKey0123456789";
    let public = FakePublic::new(PROJECT);
    let private = FakePublic::new(PROJECT);
    private.definitions_key(FAKE_PROJECT_SECRET_KEY);
    private.set_definitions(&definitions());
    let public_server = public.serve("127.0.0.1:0").await.expect("bind");
    let private_server = private.serve("127.0.0.1:0").await.expect("bind");
    let client = Client::builder(Region::SelfHosted(private_server.base_url().clone()))
        .public_base_url(public_server.base_url().clone())
        .credentials(Credentials::project_api_key(PROJECT))
        .build()
        .expect("client");
    let queue = client
        .capture_queue(CaptureQueueConfig::new())
        .expect("queue");
    let flags = local_flags(&client, Some(queue.clone())).await;
    flags
        .get_flag(
            "pro-only",
            "u",
            &FlagsOptions::new().person_property("plan", "pro"),
        )
        .await
        .expect("evaluated");
    flags
        .get_flag("static-cohort-flag", "u", &FlagsOptions::new())
        .await
        .expect("asked remotely");
    queue.shutdown().await;
    let paths: Vec<String> = public.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths.contains(&"/batch/".to_owned()) && paths.contains(&"/flags".to_owned()),
        "{paths:?}"
    );
    assert!(
        public.requests().iter().all(|r| !r.personal_key),
        "{:?}",
        public.requests()
    );
    assert_eq!(public.definitions_requests(), 0);
    assert_eq!(private.definitions_requests(), 1);
}
