//! The fake's public half speaks what PostHog's SDKs send, checked with raw HTTP on 127.0.0.1
//! (no SDK needed): `/flags/?v=4`, the catch-all capture paths, top-level `$set`, capture v1,
//! flag definitions with ETag, and `FakePostHog::start()` serving all of it.

use std::io::Write as _;

use posthog_api::server::fake::{FAKE_PROJECT_API_KEY, FAKE_PROJECT_SECRET_KEY, FakePostHog};
use posthog_api::server::fake_public::FakeFlag;
use serde_json::{Value, json};

async fn post(url: String, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn start_serves_the_public_endpoints_and_flags_with_a_trailing_slash() {
    let fake = FakePostHog::start().await.expect("start");
    fake.public().add_flag(FakeFlag::boolean("beta", true));
    let base = fake.base_url().as_str().trim_end_matches('/').to_owned();
    let answer = post(
        format!("{base}/flags/?v=4"),
        &json!({"api_key": FAKE_PROJECT_API_KEY, "distinct_id": "u"}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body["flags"]["beta"]["value"], json!(true), "{body}");
    assert_eq!(body["flags"]["beta"]["enabled"], json!(true), "{body}");
    assert_eq!(body["flags"]["beta"]["failed"], json!(false), "{body}");
    // The same fake's client has the project key and reaches the same half.
    let flags = fake
        .client()
        .expect("client")
        .flags("u", &Default::default())
        .await
        .expect("flags");
    assert!(flags.is_enabled("beta"));
}

#[tokio::test]
async fn catch_all_capture_paths_take_events_batches_and_arrays() {
    let fake = FakePostHog::start().await.expect("start");
    let base = fake.base_url().as_str().trim_end_matches('/').to_owned();
    for (index, path) in ["/i/v0/e/", "/e/", "/capture", "/batch"].iter().enumerate() {
        let single = json!({"api_key": FAKE_PROJECT_API_KEY, "event": format!("single-{index}"), "distinct_id": "u"});
        assert_eq!(
            post(format!("{base}{path}"), &single).await.status(),
            200,
            "{path}"
        );
        let batch = json!({"api_key": FAKE_PROJECT_API_KEY, "batch": [{"event": format!("batched-{index}"), "distinct_id": "u"}]});
        assert_eq!(
            post(format!("{base}{path}"), &batch).await.status(),
            200,
            "{path}"
        );
        let array = json!([{"token": FAKE_PROJECT_API_KEY, "event": format!("array-{index}"), "distinct_id": "u"}]);
        assert_eq!(
            post(format!("{base}{path}"), &array).await.status(),
            200,
            "{path}"
        );
    }
    let names: Vec<String> = fake
        .public()
        .events()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(names.len(), 12, "{names:?}");
    let wrong = json!({"api_key": "phc_wrong", "event": "x", "distinct_id": "u"});
    assert_eq!(post(format!("{base}/i/v0/e/"), &wrong).await.status(), 401);
}

#[tokio::test]
async fn top_level_set_and_set_once_of_a_batch_item_are_kept() {
    let fake = FakePostHog::start().await.expect("start");
    let base = fake.base_url().as_str().trim_end_matches('/').to_owned();
    let body = json!({"api_key": FAKE_PROJECT_API_KEY, "batch": [
        {"event": "$set", "distinct_id": "u", "$set": {"email": "a@b.c"}, "properties": {"$set": {"name": "A"}}},
        {"event": "$set_once", "distinct_id": "u", "$set_once": {"first": 1}},
    ]});
    assert_eq!(post(format!("{base}/batch/"), &body).await.status(), 200);
    let events = fake.public().events();
    assert_eq!(
        events[0].set,
        Some(
            json!({"email": "a@b.c"})
                .as_object()
                .cloned()
                .unwrap_or_default()
        )
    );
    assert_eq!(
        Value::Object(events[0].person_updates("$set")),
        json!({"name": "A", "email": "a@b.c"})
    );
    assert_eq!(
        Value::Object(events[1].person_updates("$set_once")),
        json!({"first": 1})
    );
}

#[tokio::test]
async fn capture_v1_takes_the_project_key_as_bearer_and_answers_per_event() {
    let fake = FakePostHog::start().await.expect("start");
    let base = fake.base_url().as_str().trim_end_matches('/').to_owned();
    let uuid = "0190b7a4-5f3c-7cc1-8a4e-2f1d3c4b5a69";
    let body = json!({"created_at": "2026-11-29T10:00:00Z", "batch": [{
        "event": "e", "uuid": uuid, "distinct_id": "u", "timestamp": "2026-11-29T10:00:00+00:00",
        "options": {"process_person_profile": false}, "properties": {"k": "v"}
    }]});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.to_string().as_bytes()).expect("gzip");
    let bytes = gz.finish().expect("gzip");
    let send = |key: &str| {
        reqwest::Client::new()
            .post(format!("{base}/i/v1/analytics/events"))
            .bearer_auth(key)
            .header("content-encoding", "gzip")
            .header("content-type", "application/json")
            .body(bytes.clone())
            .send()
    };
    assert_eq!(send("phc_wrong").await.expect("sent").status(), 401);
    let answer = send(FAKE_PROJECT_API_KEY).await.expect("sent");
    assert_eq!(answer.status(), 200);
    let results: Value = answer.json().await.expect("json");
    assert_eq!(results["results"][uuid]["result"], json!("ok"));
    let events = fake.public().events();
    assert_eq!(events.len(), 1);
    assert!(events[0].is_anonymous());
    assert_eq!(events[0].uuid.map(|u| u.to_string()).as_deref(), Some(uuid));
    assert!(
        !fake.public().requests()[1].personal_key,
        "the project key is no leak"
    );
}

#[tokio::test]
async fn definitions_need_a_secret_key_and_answer_304_to_their_etag() {
    let fake = FakePostHog::start().await.expect("start");
    let definitions = json!({"flags": [{"key": "f", "active": true, "filters": {"groups": []}}], "group_type_mapping": {}, "cohorts": {}});
    fake.public().set_definitions(&definitions);
    let base = fake.base_url().as_str().trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    for path in ["/flags/definitions", "/api/feature_flag/local_evaluation/"] {
        let url = format!("{base}{path}?token={FAKE_PROJECT_API_KEY}&send_cohorts");
        let anonymous = http.get(&url).send().await.expect("sent");
        assert_eq!(anonymous.status(), 401, "{path}");
        let first = http
            .get(&url)
            .bearer_auth(FAKE_PROJECT_SECRET_KEY)
            .send()
            .await
            .expect("sent");
        assert_eq!(first.status(), 200, "{path}");
        let etag = first.headers().get("etag").cloned().expect("an ETag");
        assert_eq!(first.json::<Value>().await.expect("json"), definitions);
        let again = http
            .get(&url)
            .bearer_auth(FAKE_PROJECT_SECRET_KEY)
            .header("if-none-match", etag.clone())
            .send()
            .await
            .expect("sent");
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers().get("etag"), Some(&etag));
    }
    let wrong_token = http
        .get(format!("{base}/flags/definitions?token=phc_other"))
        .bearer_auth(FAKE_PROJECT_SECRET_KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong_token.status(), 401);
    fake.public()
        .set_definitions(&json!({"flags": [], "group_type_mapping": {}, "cohorts": {}}));
    assert_eq!(fake.public().definitions_not_modified(), 2);
}
