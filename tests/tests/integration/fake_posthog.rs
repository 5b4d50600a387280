//! The generated client against the fake PostHog (built on the generated server stubs) over real
//! HTTP on 127.0.0.1: feature flag CRUD, paginated streams, persons by offset and by cursor,
//! PostHog's key precedence, typed errors, throttling with retries, body limits and panics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt as _, TryStreamExt as _};
use posthog_api::api::feature_flags::FeatureFlagsListQuery;
use posthog_api::api::persons::PersonsListQuery;
use posthog_api::rate_limit::ScopeLimit;
use posthog_api::server::fake::{FAKE_PERSONAL_API_KEY, FakePostHog, RunningFake};
use posthog_api::server::feature_flags::FeatureFlagsApi;
use posthog_api::server::{Answer, Context, Routes, ServerRateLimiter};
use posthog_api::{Credentials, Error, KeyPlacement, types};
use serde_json::{Value, json};

fn flag(key: &str) -> types::FeatureFlag {
    types::FeatureFlag {
        key: key.to_owned(),
        name: Some(format!("{key} flag")),
        ..Default::default()
    }
}

fn url(fake: &RunningFake, path: &str) -> String {
    format!("{}{}", fake.base_url().as_str().trim_end_matches('/'), path)
}

#[tokio::test]
async fn feature_flags_create_retrieve_update_patch_list_and_delete() {
    let fake = FakePostHog::start().await.expect("fake");
    let client = fake.client().expect("client");
    let pid = fake.project_id();

    let created = client
        .feature_flags_create(pid, &flag("beta"))
        .await
        .expect("create");
    let id = created.id.expect("an id");
    assert_eq!(created.key, "beta");
    assert_eq!(created.active, Some(true));

    let fetched = client
        .feature_flags_retrieve(pid, id)
        .await
        .expect("retrieve");
    assert_eq!(fetched.name.as_deref(), Some("beta flag"));

    let patch = types::PatchedFeatureFlag {
        name: Some("renamed".into()),
        ..Default::default()
    };
    let patched = client
        .feature_flags_partial_update(pid, id, &patch)
        .await
        .expect("patch");
    assert_eq!(
        (patched.name.as_deref(), patched.key.as_str()),
        (Some("renamed"), "beta")
    );

    let replaced = client
        .feature_flags_update(pid, id, &flag("beta-2"))
        .await
        .expect("update");
    assert_eq!(replaced.key, "beta-2");

    let listed = client
        .feature_flags_list(pid, &FeatureFlagsListQuery::default())
        .await
        .expect("list");
    assert_eq!(listed.count, 1);
    assert_eq!(listed.results[0].key, "beta-2");

    client.feature_flags_destroy(pid, id).await.expect("delete");
    let gone = client
        .feature_flags_retrieve(pid, id)
        .await
        .expect_err("deleted");
    assert!(matches!(gone, Error::NotFound(_)), "{gone:?}");
}

#[tokio::test]
async fn feature_flags_stream_across_pages_of_thousands() {
    let fake = FakePostHog::default()
        .feature_flags(3_000)
        .serve()
        .await
        .expect("fake");
    let client = fake.client().expect("client");
    let query = FeatureFlagsListQuery::default();
    let ids: Vec<i64> = client
        .feature_flags_list_pages(fake.project_id(), &query)
        .page_size(250)
        .items()
        .map_ok(|flag| flag.id.unwrap_or_default())
        .try_collect()
        .await
        .expect("every page");
    assert_eq!(ids, (1..=3_000).collect::<Vec<_>>());
    // The plain `_stream` companion (PostHog's default page size) gives the same items.
    let count = client
        .feature_flags_list_stream(fake.project_id(), &query)
        .count()
        .await;
    assert_eq!(count, 3_000);
}

#[tokio::test]
async fn persons_page_by_offset_and_by_cursor() {
    let fake = FakePostHog::default()
        .persons(2_500)
        .serve()
        .await
        .expect("fake");
    let client = fake.client().expect("client");
    let query = PersonsListQuery::default();

    let tail: Vec<types::Person> = client
        .persons_list_pages(fake.project_id(), &query)
        .page_size(100)
        .offset(2_000)
        .items()
        .try_collect()
        .await
        .expect("offset");
    assert_eq!(tail.len(), 500);
    assert_eq!(tail[0].id, Some(2_001));

    let first = client
        .persons_list(
            fake.project_id(),
            &PersonsListQuery {
                limit: Some(300),
                ..Default::default()
            },
        )
        .await
        .expect("page");
    assert_eq!(first.count, Some(2_500));
    let next = first.next.expect("a next link");
    assert!(next.contains("offset=300"), "{next}");

    // A cursor listing: opaque positions in `next`, no `count`.
    let start = url(&fake, "/api/projects/1/persons/?cursor=&limit=400");
    let mut pages = client
        .persons_list_pages(fake.project_id(), &query)
        .resume_from(start);
    let mut seen = 0;
    while let Some(page) = pages.try_next().await.expect("cursor page") {
        assert_eq!(page.count, None);
        if page.next.is_some() {
            assert!(
                page.next_cursor()
                    .is_some_and(|cursor| cursor.starts_with('p'))
            );
        }
        seen += page.results.len();
    }
    assert_eq!(seen, 2_500);

    let filtered = client
        .persons_list(
            fake.project_id(),
            &PersonsListQuery {
                distinct_id: Some("user-42".into()),
                ..Default::default()
            },
        )
        .await
        .expect("filter");
    assert_eq!(filtered.results.map(|r| r.len()), Some(1));
}

#[tokio::test]
async fn personal_api_key_precedence_header_then_body_then_query() {
    let fake = FakePostHog::start().await.expect("fake");
    let http = reqwest::Client::new();
    let me = url(&fake, "/api/users/@me/");
    let good = FAKE_PERSONAL_API_KEY;
    let status = |request: reqwest::RequestBuilder| async move {
        request.send().await.expect("answer").status().as_u16()
    };

    // The header wins over a wrong key in the body and the query.
    let request = http
        .get(format!("{me}?personal_api_key=phx_wrong"))
        .bearer_auth(good)
        .json(&json!({"personal_api_key": "phx_wrong"}));
    assert_eq!(status(request).await, 200);
    // The body wins over the query: a wrong body key fails even with a good query key.
    let request = http
        .get(format!("{me}?personal_api_key={good}"))
        .json(&json!({"personal_api_key": "phx_wrong"}));
    assert_eq!(status(request).await, 401);
    // A non-Bearer Authorization is skipped, and the body key is used.
    let request = http
        .get(&me)
        .header("Authorization", "Basic Zm9vOmJhcg==")
        .json(&json!({"personal_api_key": good}));
    assert_eq!(status(request).await, 200);
    // The query alone.
    assert_eq!(
        status(http.get(format!("{me}?personal_api_key={good}"))).await,
        200
    );
    // A wrong Bearer key is not rescued by a good query key.
    assert_eq!(
        status(
            http.get(format!("{me}?personal_api_key={good}"))
                .bearer_auth("phx_wrong")
        )
        .await,
        401
    );
    // An OAuth access token (`pha_`) ends the search for a personal key.
    assert_eq!(
        status(
            http.get(format!("{me}?personal_api_key={good}"))
                .bearer_auth("pha_token")
        )
        .await,
        401
    );
    // Nothing at all.
    assert_eq!(status(http.get(&me)).await, 401);

    // The client's three placements all reach the fake.
    for placement in [
        KeyPlacement::Header,
        KeyPlacement::Body,
        KeyPlacement::Query,
    ] {
        let client = fake
            .client_with(
                Credentials::builder()
                    .personal_api_key(good)
                    .placement(placement)
                    .build(),
            )
            .expect("client");
        let flags = client
            .feature_flags_list(fake.project_id(), &FeatureFlagsListQuery::default())
            .await;
        assert!(flags.is_ok(), "{placement:?}: {flags:?}");
    }
}

#[tokio::test]
async fn errors_decode_to_the_clients_typed_variants() {
    let fake = FakePostHog::default()
        .key("phx_reader", &["feature_flag:read"])
        .serve()
        .await
        .expect("fake");
    let pid = fake.project_id();

    let stranger = fake
        .client_with(Credentials::personal_api_key("phx_unknown"))
        .expect("client");
    let error = stranger
        .feature_flags_list(pid, &FeatureFlagsListQuery::default())
        .await
        .expect_err("401");
    assert!(error.is_authentication(), "{error:?}");
    assert_eq!(error.code(), Some("authentication_failed"));

    let reader = fake
        .client_with(Credentials::personal_api_key("phx_reader"))
        .expect("client");
    reader
        .feature_flags_list(pid, &FeatureFlagsListQuery::default())
        .await
        .expect("read is allowed");
    let error = reader
        .feature_flags_create(pid, &flag("x"))
        .await
        .expect_err("403");
    assert!(matches!(error, Error::PermissionDenied(_)), "{error:?}");
    assert_eq!(error.missing_scopes(), vec!["feature_flag:write"]);

    let client = fake.client().expect("client");
    let error = client
        .feature_flags_retrieve(pid, 404)
        .await
        .expect_err("404");
    assert!(matches!(error, Error::NotFound(_)), "{error:?}");
    let error = client
        .feature_flags_list("2", &FeatureFlagsListQuery::default())
        .await
        .expect_err("other project");
    assert!(matches!(error, Error::NotFound(_)), "{error:?}");

    client
        .feature_flags_create(pid, &flag("taken"))
        .await
        .expect("create");
    let error = client
        .feature_flags_create(pid, &flag("taken"))
        .await
        .expect_err("400");
    assert!(matches!(error, Error::Validation(_)), "{error:?}");
    assert_eq!(
        (error.error_type(), error.attr()),
        (Some("validation_error"), Some("key"))
    );

    // What the typed client cannot send: bad JSON, wrong types, missing fields, bad path and
    // query values. Each names the field in `attr`.
    let http = reqwest::Client::new();
    let flags = url(&fake, "/api/projects/1/feature_flags/");
    let cases: Vec<(reqwest::RequestBuilder, Option<&str>)> = vec![
        // Malformed JSON names where the text broke off.
        (
            http.post(&flags)
                .header("content-type", "application/json")
                .body("{\"key\": "),
            Some("key"),
        ),
        (http.post(&flags).json(&json!({"key": 5})), Some("key")),
        (
            http.post(&flags).json(&json!({"name": "no key"})),
            Some("key"),
        ),
        (
            http.post(&flags)
                .json(&json!({"key": "k", "filters": {"groups": 3}, "rollout_percentage": "half"})),
            Some("rollout_percentage"),
        ),
        (
            http.get(url(&fake, "/api/projects/1/feature_flags/abc/")),
            Some("id"),
        ),
        (http.get(format!("{flags}?limit=many")), Some("limit")),
    ];
    for (request, attr) in cases {
        let answer = request
            .bearer_auth(FAKE_PERSONAL_API_KEY)
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 400);
        let body: Value = answer.json().await.expect("json");
        assert_eq!(body["type"], "validation_error", "{body}");
        assert_eq!(body["code"], "invalid_input", "{body}");
        assert_eq!(body["attr"].as_str(), attr, "{body}");
    }
}

#[tokio::test]
async fn throttled_answers_429_with_retry_after_and_the_client_retries() {
    let limits = [ScopeLimit {
        scope: "burst",
        requests: 3,
        period: Duration::from_secs(2),
    }];
    let fake = FakePostHog::default()
        .rate_limit(ServerRateLimiter::new(&limits))
        .serve()
        .await
        .expect("fake");
    let http = reqwest::Client::new();
    let me = url(&fake, "/api/users/@me/");
    let mut throttled = None;
    for _ in 0..4 {
        let answer = http
            .get(&me)
            .bearer_auth(FAKE_PERSONAL_API_KEY)
            .send()
            .await
            .expect("answer");
        if answer.status() == 429 {
            throttled = Some(answer);
            break;
        }
    }
    let answer = throttled.expect("the fourth request in two seconds is throttled");
    let retry_after: u64 = answer.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body["code"], "throttled");

    // Budgets are per key: another key is not throttled.
    let other = http
        .get(format!("{me}?personal_api_key=phx_other"))
        .send()
        .await
        .expect("answer");
    assert_eq!(other.status(), 401);

    // The client (its own limiter off) gets 429, waits `Retry-After` and succeeds.
    let client = fake.client().expect("client");
    let started = Instant::now();
    let flags = client
        .feature_flags_list(fake.project_id(), &FeatureFlagsListQuery::default())
        .await;
    assert!(flags.is_ok(), "{flags:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bodies_over_20_mb_are_refused_with_413() {
    let fake = FakePostHog::start().await.expect("fake");
    let http = reqwest::Client::new();
    let flags = url(&fake, "/api/projects/1/feature_flags/");
    let big = vec![b' '; 25 * 1024 * 1024];
    let answer = http
        .post(&flags)
        .bearer_auth(FAKE_PERSONAL_API_KEY)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 413);
    // Without a declared length the body is refused while it streams in.
    let chunks = futures::stream::iter(
        big.chunks(1024 * 1024)
            .map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec()))
            .collect::<Vec<_>>(),
    );
    let answer = http
        .post(&flags)
        .bearer_auth(FAKE_PERSONAL_API_KEY)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    // The server may answer before reading the rest, which some stacks see as a reset.
    if let Ok(answer) = answer {
        assert_eq!(answer.status(), 413);
    }
    // The client refuses to send one at all.
    let client = fake.client().expect("client");
    let huge = types::FeatureFlag {
        name: Some("x".repeat(21 * 1024 * 1024)),
        ..flag("huge")
    };
    let error = client
        .feature_flags_create(fake.project_id(), &huge)
        .await
        .expect_err("too large");
    assert!(matches!(error, Error::RequestTooLarge { .. }), "{error:?}");
}

#[tokio::test]
async fn query_endpoint_and_users_me() {
    let fake = FakePostHog::default()
        .persons(1_234)
        .serve()
        .await
        .expect("fake");
    let http = reqwest::Client::new();
    let body = json!({"query": {"kind": "HogQLQuery", "query": "select count() from persons"}});
    let answer: Value = http
        .post(url(&fake, "/api/projects/1/query/"))
        .bearer_auth(FAKE_PERSONAL_API_KEY)
        .json(&body)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["results"], json!([[1234]]));
    let client = fake.client().expect("client");
    let id = answer["query_status"]["id"].as_str().expect("an id");
    let status = client
        .query_retrieve(fake.project_id(), id)
        .await
        .expect("status");
    assert_eq!(status.query_status.complete, Some(true));

    let me: types::User = http
        .get(url(&fake, "/api/users/@me/"))
        .bearer_auth(FAKE_PERSONAL_API_KEY)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("user");
    let uuid = me.uuid.expect("a uuid");
    let again = client.users_retrieve(uuid).await.expect("by uuid");
    assert_eq!(again.email, me.email);
}

/// A server whose handler panics.
struct Panicky;

impl FeatureFlagsApi for Panicky {
    async fn feature_flags_retrieve(
        self: Arc<Self>,
        _cx: Context,
        _project_id: String,
        _id: i64,
    ) -> Answer<types::FeatureFlag> {
        panic!("a bug in the handler")
    }
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let server = Routes::new()
        .feature_flags(Arc::new(Panicky))
        .serve("127.0.0.1:0")
        .await
        .expect("bind");
    let base = server.base_url().as_str().trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let answer = http
            .get(format!("{base}/api/projects/1/feature_flags/1/"))
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 500);
        let body: Value = answer.json().await.expect("json");
        assert_eq!(body["type"], "server_error");
    }
    let other = http
        .get(format!("{base}/api/projects/1/feature_flags/"))
        .send()
        .await
        .expect("answer");
    assert_eq!(other.status(), 501);
}
