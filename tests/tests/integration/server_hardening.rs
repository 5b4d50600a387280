//! The server stubs and the fake against hostile requests over 127.0.0.1: keys never reach a
//! handler's `{cx:?}`, positions and versions at the integer limits answer 400 instead of
//! overflowing, and a client that stops halfway through its headers is disconnected.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use posthog_api::server::fake::{FAKE_PERSONAL_API_KEY, FakePostHog, RunningFake};
use posthog_api::server::feature_flags::FeatureFlagsApi;
use posthog_api::server::{Answer, Context, Reply, Routes};
use posthog_api::types;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn url(fake: &RunningFake, path: &str) -> String {
    format!("{}{}", fake.base_url().as_str().trim_end_matches('/'), path)
}

async fn status_and_body(answer: reqwest::Response) -> (u16, Value) {
    let status = answer.status().as_u16();
    let body = answer.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn a_cursor_at_the_end_of_memory_answers_400_naming_it() {
    let fake = FakePostHog::default()
        .persons(10)
        .serve()
        .await
        .expect("fake");
    let http = reqwest::Client::new();
    // Past `usize::MAX` once the page size (100) is added.
    for cursor in ["p18446744073709551615", "p18446744073709551600"] {
        let answer = http
            .get(url(
                &fake,
                &format!("/api/projects/1/persons/?cursor={cursor}"),
            ))
            .bearer_auth(FAKE_PERSONAL_API_KEY)
            .send()
            .await
            .expect("answer");
        let (status, body) = status_and_body(answer).await;
        assert_eq!(status, 400, "{cursor}: {body}");
        assert_eq!(body["attr"], "cursor", "{body}");
    }
    // A huge offset is an empty page, not an overflow.
    let answer = http
        .get(url(
            &fake,
            "/api/projects/1/persons/?offset=9223372036854775807&limit=1000",
        ))
        .bearer_auth(FAKE_PERSONAL_API_KEY)
        .send()
        .await
        .expect("answer");
    let (status, body) = status_and_body(answer).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"], json!([]));
    assert_eq!(body["next"], Value::Null);
}

#[tokio::test]
async fn a_flag_version_that_cannot_grow_answers_400_naming_it() {
    let fake = FakePostHog::start().await.expect("fake");
    let http = reqwest::Client::new();
    let flags = url(&fake, "/api/projects/1/feature_flags/");
    let created: Value = http
        .post(&flags)
        .bearer_auth(FAKE_PERSONAL_API_KEY)
        .json(&json!({ "key": "beta" }))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("created");
    let flag = format!("{flags}{}/", created["id"]);
    let answer = http
        .patch(&flag)
        .bearer_auth(FAKE_PERSONAL_API_KEY)
        .json(&json!({ "version": i64::MAX }))
        .send()
        .await
        .expect("answer");
    let (status, body) = status_and_body(answer).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["attr"], "version", "{body}");
    // The flag is unchanged and still updates.
    let answer = http
        .patch(&flag)
        .bearer_auth(FAKE_PERSONAL_API_KEY)
        .json(&json!({ "name": "renamed" }))
        .send()
        .await
        .expect("answer");
    let (status, body) = status_and_body(answer).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
}

/// A flags service that keeps what a careless handler would log.
#[derive(Default)]
struct Logging {
    logged: Mutex<Vec<(String, String)>>,
}

impl FeatureFlagsApi for Logging {
    async fn feature_flags_retrieve(
        self: Arc<Self>,
        cx: Context,
        _project_id: String,
        id: i64,
    ) -> Answer<types::FeatureFlag> {
        // The context, and its parts on their own (`http`'s `Debug` of the header map hides the
        // values the server marked sensitive).
        let line = format!("{cx:?}");
        let parts = format!("{:?} {:?}", cx.headers, cx.query);
        self.logged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((line, parts));
        Ok(Reply::ok(types::FeatureFlag {
            id: Some(id),
            key: "beta".into(),
            ..Default::default()
        }))
    }
}

#[tokio::test]
async fn a_logged_context_shows_no_key_from_any_place_a_request_carries_one() {
    let service = Arc::new(Logging::default());
    let server = Routes::new()
        .feature_flags(Arc::clone(&service))
        .serve("127.0.0.1:0")
        .await
        .expect("server");
    let base = server.base_url().as_str().trim_end_matches('/').to_owned();
    let flag = format!("{base}/api/projects/1/feature_flags/7/");
    let http = reqwest::Client::new();
    let secrets = [
        "phx_headersecret123",
        "phx_querysecret456",
        "phc_projecttoken789",
        "legacysecretinbody",
        "sessioncookievalue",
        "proxypassword",
    ];
    let requests = [
        http.get(format!("{flag}?personal_api_key=phx_querysecret456&token=phc_projecttoken789&api_key=phc_projecttoken789&other=phx_querysecret456"))
            .bearer_auth("phx_headersecret123")
            .header("Cookie", "session=sessioncookievalue")
            .header("Proxy-Authorization", "Basic proxypassword"),
        // The key in the body (an unprefixed legacy key, which no shape check recognises).
        http.get(&flag)
            .json(&json!({ "personal_api_key": "legacysecretinbody" })),
        http.get(format!("{flag}?personal_api_key=phx_querysecret456"))
            .header("X-Forwarded-For", "phx_headersecret123"),
    ];
    for request in requests {
        let answer = request.send().await.expect("answer");
        assert_eq!(answer.status(), 200);
    }
    let logged = service
        .logged
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert_eq!(logged.len(), 3);
    for (index, (line, parts)) in logged.iter().enumerate() {
        for secret in secrets {
            assert!(!line.contains(secret), "{secret} printed in {line}");
            // A key-shaped value in an ordinary header (the third request) is redacted by the
            // context's `Debug` only; credential headers and parameters in every `Debug`.
            if index < 2 {
                assert!(!parts.contains(secret), "{secret} printed in {parts}");
            }
        }
        assert!(line.contains("feature_flags_retrieve"), "{line}");
        assert!(line.contains("[redacted]"), "{line}");
    }
    // What is not secret stays readable.
    let first = &logged[0].0;
    assert!(
        first.contains("/api/projects/1/feature_flags/7/"),
        "{first}"
    );
    assert!(first.contains("other="), "{first}");
    assert!(first.contains("placement: Header"), "{first}");
    assert!(logged[1].0.contains("placement: Body"), "{}", logged[1].0);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_client_stalling_inside_its_headers_is_disconnected() {
    let server = Routes::new()
        .header_read_timeout(Duration::from_millis(300))
        .serve("127.0.0.1:0")
        .await
        .expect("server");
    for sent in [
        &b"GET /api/users/@me/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "[..],
        &b""[..],
    ] {
        let mut stream = tokio::net::TcpStream::connect(server.address())
            .await
            .expect("connect");
        stream.write_all(sent).await.expect("half a header");
        // The server closes the connection (possibly after a 408); without a header timeout
        // it would wait for the rest forever, and this guard would fire.
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
            .await
            .expect("the server closed the stalled connection");
        let text = String::from_utf8_lossy(&answer);
        assert!(
            read.is_err() || answer.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }
    // A complete request on a fresh connection is still served.
    let answer = reqwest::get(format!(
        "{}api/projects/1/feature_flags/",
        server.base_url()
    ))
    .await
    .expect("answer");
    assert_eq!(answer.status(), 501);
    server.shutdown().await.expect("shutdown");
}
