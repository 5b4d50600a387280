//! The public endpoints end to end: the client's capture, batch, identify/alias/group events and
//! flag evaluation against the fake PostHog's public endpoints over real HTTP on 127.0.0.1,
//! asserting on what the server received.

use std::collections::HashSet;

use posthog_api::public::{BatchOptions, Event, FlagValue, FlagsEndpoint, FlagsOptions};
use posthog_api::server::RunningServer;
use posthog_api::server::fake_public::{
    self, CapturedEvent, FakeFlag, FakePublic, ReceivedRequest,
};
use posthog_api::{Client, Credentials, Error, KeyPlacement, MAX_BODY_BYTES, Region};
use serde_json::{Value, json};

const PROJECT_KEY: &str = "phc_PublicTestProjectKey0123456789";
const PERSONAL_KEY: &str = "phx_PublicTestPersonalKey0123456789";

/// The fake's public endpoints on a free port, and a client with only the project key.
async fn setup() -> (FakePublic, RunningServer, Client) {
    let fake = FakePublic::new(PROJECT_KEY);
    let server = fake.serve("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let client = client_with(&server, Credentials::project_api_key(PROJECT_KEY));
    (fake, server, client)
}

fn client_with(server: &RunningServer, credentials: Credentials) -> Client {
    Client::new(Region::SelfHosted(server.base_url().clone()), credentials).expect("valid client")
}

fn only_event(fake: &FakePublic) -> CapturedEvent {
    let mut events = fake.events();
    assert_eq!(events.len(), 1, "{events:?}");
    events.remove(0)
}

fn invalid_field(error: &Error) -> &str {
    match error {
        Error::InvalidArgument { field, .. } => field,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[tokio::test]
async fn capture_sends_one_stamped_event_with_the_project_key() {
    let (fake, _server, client) = setup().await;
    client
        .capture(Event::new("signed_up", "user-1").property("plan", "pro"))
        .await
        .expect("captured");
    let event = only_event(&fake);
    assert_eq!(event.event, "signed_up");
    assert_eq!(event.distinct_id.as_deref(), Some("user-1"));
    assert_eq!(event.properties.get("plan"), Some(&json!("pro")));
    assert!(event.uuid.is_some(), "a UUID is generated when absent");
    assert!(
        event.timestamp.is_some(),
        "a timestamp is generated when absent"
    );
    assert!(!event.is_anonymous());
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/capture/");
    assert_eq!(requests[0].content_encoding, None);
}

#[tokio::test]
async fn capture_keeps_a_given_uuid_and_timestamp() {
    let (fake, _server, client) = setup().await;
    let uuid = "0191c6f1-6b0e-7cc4-8d1e-2a4e57a0b8f1"
        .parse()
        .expect("uuid");
    let timestamp =
        chrono::DateTime::parse_from_rfc3339("2024-05-01T12:00:00+02:00").expect("time");
    client
        .capture(Event::new("e", "u").uuid(uuid).timestamp(timestamp))
        .await
        .expect("captured");
    let event = only_event(&fake);
    assert_eq!(event.uuid, Some(uuid));
    assert_eq!(event.timestamp, Some(timestamp));
}

#[tokio::test]
async fn identify_sends_set_and_set_once() {
    let (fake, _server, client) = setup().await;
    client
        .capture(
            Event::identify("user-2")
                .set("email", "max@example.com")
                .set("plan", "pro")
                .set_once("first_seen", "2024-01-01"),
        )
        .await
        .expect("identified");
    let event = only_event(&fake);
    assert_eq!(event.event, "$identify");
    assert_eq!(event.distinct_id.as_deref(), Some("user-2"));
    assert_eq!(
        event.properties.get("$set"),
        Some(&json!({"email": "max@example.com", "plan": "pro"}))
    );
    assert_eq!(
        event.properties.get("$set_once"),
        Some(&json!({"first_seen": "2024-01-01"}))
    );
}

#[tokio::test]
async fn alias_and_group_identify_are_special_events() {
    let (fake, _server, client) = setup().await;
    client
        .capture(Event::alias("user-3", "anon-3"))
        .await
        .expect("aliased");
    let mut company = serde_json::Map::new();
    company.insert("name".into(), json!("Acme"));
    client
        .capture(Event::group_identify("company", "acme", company))
        .await
        .expect("group identified");
    client
        .capture(Event::new("paid", "user-3").group("company", "acme"))
        .await
        .expect("captured");
    let events = fake.events();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].event, "$create_alias");
    assert_eq!(events[0].properties.get("alias"), Some(&json!("anon-3")));
    assert_eq!(events[1].event, "$groupidentify");
    assert_eq!(events[1].distinct_id.as_deref(), Some("$company_acme"));
    assert_eq!(
        events[1].properties.get("$group_type"),
        Some(&json!("company"))
    );
    assert_eq!(events[1].properties.get("$group_key"), Some(&json!("acme")));
    assert_eq!(
        events[1].properties.get("$group_set"),
        Some(&json!({"name": "Acme"}))
    );
    assert_eq!(
        events[2].properties.get("$groups"),
        Some(&json!({"company": "acme"}))
    );
}

#[tokio::test]
async fn anonymous_capture_skips_the_person_profile() {
    let (fake, _server, client) = setup().await;
    client
        .capture(Event::new("page_view", "anon-1").anonymous())
        .await
        .expect("captured");
    let event = only_event(&fake);
    assert!(event.is_anonymous());
    assert_eq!(
        event.properties.get("$process_person_profile"),
        Some(&json!(false))
    );
}

/// 100,000 events of about 450 bytes of JSON each: about 45 MB, so at least three requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_of_100k_events_arrives_split_under_the_limit_exactly_once_in_order() {
    let (fake, _server, client) = setup().await;
    let padding = "p".repeat(300);
    let events = (0..100_000).map(|i| {
        Event::new("bulk", format!("user-{}", i % 97))
            .property("seq", i)
            .property("padding", padding.as_str())
    });
    // Plain JSON here (gzip has its own test) so the request sizes are the JSON sizes.
    let report = client
        .batch_with(events, &BatchOptions::new().gzip(false))
        .await
        .expect("batch sent");
    assert_eq!(report.events, 100_000);
    assert!(report.requests >= 3, "{report:?}");

    let requests: Vec<ReceivedRequest> = fake.requests();
    assert_eq!(requests.len(), report.requests);
    for request in &requests {
        assert_eq!(request.path, "/batch/");
        assert!(request.json_bytes < MAX_BODY_BYTES, "{request:?}");
        assert!(request.events > 0);
    }
    assert_eq!(requests.iter().map(|r| r.events).sum::<usize>(), 100_000);

    let received = fake.events();
    let sequence: Vec<i64> = received
        .iter()
        .map(|event| {
            event
                .properties
                .get("seq")
                .and_then(Value::as_i64)
                .unwrap_or(-1)
        })
        .collect();
    let expected: Vec<i64> = (0..100_000).collect();
    assert!(
        sequence == expected,
        "events arrive exactly once and in order"
    );
    let uuids: HashSet<_> = received.iter().filter_map(|event| event.uuid).collect();
    assert_eq!(uuids.len(), 100_000, "every event has its own UUID");
    // Requests arrive in order too: event n came in a request no later than event n+1's.
    assert!(
        received
            .windows(2)
            .all(|pair| pair[0].request <= pair[1].request)
    );
}

#[tokio::test]
async fn gzip_bodies_are_decoded_by_the_server() {
    let (fake, _server, client) = setup().await;
    let events = (0..5_000).map(|i| Event::new("gz", format!("user-{i}")).property("seq", i));
    // A small cap so that the gzip path also splits.
    let options = BatchOptions::new().max_body_bytes(100_000);
    let report = client
        .batch_with(events, &options)
        .await
        .expect("batch sent");
    assert!(report.requests > 1, "{report:?}");
    let requests = fake.requests();
    for request in &requests {
        assert_eq!(request.content_encoding.as_deref(), Some("gzip"));
        assert!(request.wire_bytes * 3 < request.json_bytes, "{request:?}");
        assert!(request.json_bytes <= 100_000, "{request:?}");
    }
    let sequence: Vec<i64> = fake
        .events()
        .iter()
        .filter_map(|event| event.properties.get("seq").and_then(Value::as_i64))
        .collect();
    assert_eq!(sequence, (0..5_000).collect::<Vec<i64>>());
}

#[tokio::test]
async fn the_fake_also_reads_the_gzip_js_query_parameter() {
    let (fake, server, _client) = setup().await;
    use std::io::Write as _;
    let body = json!({"api_key": PROJECT_KEY, "batch": [{"event": "e", "distinct_id": "u"}]});
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(body.to_string().as_bytes())
        .expect("gzip");
    let compressed = encoder.finish().expect("gzip");
    let url = server
        .base_url()
        .join("/batch/?compression=gzip-js")
        .expect("url");
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(compressed)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(fake.event_count(), 1);
}

#[tokio::test]
async fn a_stamped_batch_sent_twice_repeats_its_uuids() {
    let (fake, _server, client) = setup().await;
    let events: Vec<Event> = (0..10)
        .map(|i| Event::new("e", format!("u{i}")).stamp())
        .collect();
    client.batch(events.clone()).await.expect("first");
    client.batch(events).await.expect("retry");
    let received = fake.events();
    assert_eq!(received.len(), 20);
    let (first, second) = received.split_at(10);
    let uuids = |events: &[CapturedEvent]| events.iter().map(|e| e.uuid).collect::<Vec<_>>();
    assert_eq!(
        uuids(first),
        uuids(second),
        "the server can recognise the retry"
    );
    assert!(first.iter().all(|e| e.uuid.is_some()));
}

fn flag_fixtures(fake: &FakePublic) {
    fake.add_flag(FakeFlag::boolean("beta", true).payload("true", json!({"color": "blue"})));
    fake.add_flag(FakeFlag::boolean("off", false));
    fake.add_flag(FakeFlag::boolean("staff-only", true).only_for(["staff-1"]));
    fake.add_flag(
        FakeFlag::multivariate("checkout", [("control", 50), ("test", 50)])
            .variant_for("user-1", "test")
            .payload("test", json!({"price": 9})),
    );
}

#[tokio::test]
async fn flags_have_boolean_and_multivariate_values_with_payloads() {
    let (fake, _server, client) = setup().await;
    flag_fixtures(&fake);
    let flags = client
        .flags(
            "user-1",
            &FlagsOptions::new().person_property("plan", "pro"),
        )
        .await
        .expect("evaluated");
    assert_eq!(flags.endpoint, FlagsEndpoint::Flags);
    assert_eq!(flags.len(), 4);
    assert!(flags.is_enabled("beta"));
    assert_eq!(flags.payload("beta"), Some(&json!({"color": "blue"})));
    assert_eq!(
        flags.get("off").map(|f| &f.value),
        Some(&FlagValue::Boolean(false))
    );
    assert!(!flags.is_enabled("staff-only"));
    assert_eq!(flags.variant("checkout"), Some("test"));
    assert_eq!(flags.payload("checkout"), Some(&json!({"price": 9})));
    assert_eq!(
        flags.get("beta").and_then(|f| f.reason.as_deref()),
        Some("condition_match")
    );
    assert!(!flags.is_enabled("missing"));
    assert!(flags.request_id.is_some());

    let staff = client
        .flags("staff-1", &FlagsOptions::new())
        .await
        .expect("evaluated");
    assert!(staff.is_enabled("staff-only"));
    // Everyone gets some variant of a 50/50 flag.
    assert!(matches!(
        staff.get("checkout").map(|f| &f.value),
        Some(FlagValue::Variant(variant)) if variant == "control" || variant == "test"
    ));
    let requests = fake.requests();
    assert_eq!(requests[0].path, "/flags");
    assert_eq!(requests[0].query.as_deref(), Some("v=4"));
}

#[tokio::test]
async fn flags_fall_back_to_decide_when_the_server_has_no_flags_endpoint() {
    let (fake, _server, client) = setup().await;
    flag_fixtures(&fake);
    fake.without_flags_endpoint();
    let flags = client
        .flags("user-1", &FlagsOptions::new())
        .await
        .expect("evaluated");
    assert_eq!(flags.endpoint, FlagsEndpoint::Decide);
    assert!(flags.is_enabled("beta"));
    assert_eq!(flags.payload("beta"), Some(&json!({"color": "blue"})));
    assert_eq!(
        flags.get("off").map(|f| &f.value),
        Some(&FlagValue::Boolean(false))
    );
    assert_eq!(flags.variant("checkout"), Some("test"));
    assert_eq!(flags.payload("checkout"), Some(&json!({"price": 9})));
    let paths: Vec<(String, Option<String>)> = fake
        .requests()
        .into_iter()
        .map(|r| (r.path, r.query))
        .collect();
    assert_eq!(
        paths,
        [
            ("/flags".to_owned(), Some("v=4".to_owned())),
            ("/decide/".to_owned(), Some("v=3".to_owned()))
        ]
    );
}

#[tokio::test]
async fn flags_config_asks_for_configuration() {
    let (fake, _server, client) = setup().await;
    client
        .flags("u", &FlagsOptions::new().config(true))
        .await
        .expect("evaluated");
    assert_eq!(fake.requests()[0].query.as_deref(), Some("v=4&config=true"));
}

#[tokio::test]
async fn each_documented_error_answer_is_decoded_to_its_variant() {
    let (fake, server, client) = setup().await;

    fake.fail_next(fake_public::invalid_project());
    let error = client.capture(Event::new("e", "u")).await.expect_err("400");
    assert!(matches!(error, Error::Validation(_)), "{error:?}");
    assert_eq!(error.code(), Some("invalid_project"));
    assert_eq!(error.error_type(), Some("validation_error"));
    assert_eq!(error.attr(), Some("project_id"));

    fake.fail_next(fake_public::fetch_team_fail());
    let error = client.batch([Event::new("e", "u")]).await.expect_err("503");
    assert!(matches!(error, Error::Server(_)), "{error:?}");
    assert_eq!(error.code(), Some("fetch_team_fail"));
    assert!(error.is_retryable());

    let wrong_key = client_with(
        &server,
        Credentials::project_api_key("phc_NotTheProjectKey"),
    );
    let error = wrong_key
        .capture(Event::new("e", "u"))
        .await
        .expect_err("401");
    assert!(matches!(error, Error::Authentication(_)), "{error:?}");
    assert_eq!(error.code(), Some("invalid_api_key"));
    assert!(!error.to_string().contains("NotTheProjectKey"), "{error}");
    let error = wrong_key
        .flags("u", &FlagsOptions::new())
        .await
        .expect_err("401");
    assert_eq!(error.code(), Some("invalid_api_key"));

    fake.fail_next(fake_public::invalid_payload(
        "Malformed request data.",
        None,
    ));
    let error = client
        .flags("u", &FlagsOptions::new())
        .await
        .expect_err("400");
    assert!(matches!(error, Error::Validation(_)), "{error:?}");
    assert_eq!(error.code(), Some("invalid_payload"));
    assert!(fake.events().is_empty());
}

#[tokio::test]
async fn a_malformed_body_is_invalid_payload() {
    let (_fake, server, _client) = setup().await;
    let url = server.base_url().join("/capture/").expect("url");
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(format!(r#"{{"api_key": "{PROJECT_KEY}", "event": 5}}"#))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["type"], "validation_error");
    assert_eq!(body["code"], "invalid_payload");
}

#[tokio::test]
async fn bad_input_is_refused_before_sending() {
    let (fake, server, client) = setup().await;
    let error = client
        .capture(Event::new("", "u"))
        .await
        .expect_err("empty name");
    assert_eq!(invalid_field(&error), "event");
    let error = client
        .capture(Event::new("e", " "))
        .await
        .expect_err("empty id");
    assert_eq!(invalid_field(&error), "distinct_id");
    let error = client
        .capture(Event::alias("u", ""))
        .await
        .expect_err("empty alias");
    assert_eq!(invalid_field(&error), "properties.alias");
    let error = client
        .flags("", &FlagsOptions::new())
        .await
        .expect_err("empty id");
    assert_eq!(invalid_field(&error), "distinct_id");

    let events = vec![
        Event::new("ok", "u"),
        Event::new("ok", "u"),
        Event::new("", "u"),
    ];
    let error = client.batch(events).await.expect_err("third event");
    assert_eq!(invalid_field(&error), "events[2].event");

    // One event over 20 MB: refused, and the valid events before it are not sent either.
    let huge = Event::new("huge", "u").property("blob", "x".repeat(MAX_BODY_BYTES + 1));
    let error = client
        .batch([Event::new("ok", "u"), huge])
        .await
        .expect_err("too large");
    assert_eq!(invalid_field(&error), "events[1]");
    assert!(error.to_string().contains("nothing was sent"), "{error}");
    let huge = Event::new("huge", "u").property("blob", "x".repeat(MAX_BODY_BYTES + 1));
    let error = client.capture(huge).await.expect_err("too large");
    assert!(matches!(error, Error::RequestTooLarge { .. }), "{error:?}");

    let no_key = client_with(&server, Credentials::none());
    let error = no_key
        .capture(Event::new("e", "u"))
        .await
        .expect_err("no project key");
    assert_eq!(invalid_field(&error), "project_api_key");

    assert!(fake.requests().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn the_personal_key_never_reaches_the_public_host() {
    let (fake, server, _client) = setup().await;
    flag_fixtures(&fake);
    for placement in [
        KeyPlacement::Header,
        KeyPlacement::Body,
        KeyPlacement::Query,
    ] {
        let client = client_with(
            &server,
            Credentials::builder()
                .personal_api_key(PERSONAL_KEY)
                .placement(placement)
                .project_api_key(PROJECT_KEY)
                .build(),
        );
        client
            .capture(Event::new("e", "u"))
            .await
            .expect("captured");
        client.batch([Event::new("e", "u")]).await.expect("batched");
        client
            .batch_with([Event::new("e", "u")], &BatchOptions::new().gzip(false))
            .await
            .expect("batched");
        client
            .flags("u", &FlagsOptions::new())
            .await
            .expect("evaluated");
    }
    let requests = fake.requests();
    assert_eq!(requests.len(), 12);
    for request in &requests {
        assert!(!request.personal_key, "{request:?}");
        assert!(
            !request.query.as_deref().unwrap_or("").contains("phx_"),
            "{request:?}"
        );
    }
    for event in fake.events() {
        assert!(
            !Value::Object(event.properties)
                .to_string()
                .contains(PERSONAL_KEY)
        );
    }
}

/// The public endpoints mounted into the whole fake PostHog: one host serves both halves, the
/// client holds both keys, and each half sees only its own key.
#[tokio::test]
async fn public_endpoints_mount_into_the_whole_fake_posthog() {
    use posthog_api::server::fake::{FAKE_PERSONAL_API_KEY, FAKE_PROJECT_ID, FakePostHog};
    let public = FakePublic::new(PROJECT_KEY);
    public.add_flag(FakeFlag::boolean("beta", true));
    let server = public
        .mount(FakePostHog::default().routes())
        .serve("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let client = client_with(
        &server,
        Credentials::builder()
            .personal_api_key(FAKE_PERSONAL_API_KEY)
            .project_api_key(PROJECT_KEY)
            .build(),
    );
    client
        .feature_flags_list(
            FAKE_PROJECT_ID,
            &posthog_api::api::feature_flags::FeatureFlagsListQuery::default(),
        )
        .await
        .expect("private call with the personal key");
    client
        .capture(Event::new("e", "u"))
        .await
        .expect("captured");
    assert!(
        client
            .flags("u", &FlagsOptions::new())
            .await
            .expect("flags")
            .is_enabled("beta")
    );
    let requests = public.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests.iter().all(|request| !request.personal_key),
        "{requests:?}"
    );
}
