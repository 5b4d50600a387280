//! Authentication and hosts over real HTTP on 127.0.0.1: where each key lands on the wire,
//! PostHog's precedence, host routing, `?token=` selection, redirects and redaction.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use posthog_api::auth::{KeyPlacement, extract_personal_api_key};
use posthog_api::retry::RetryPolicy;
use posthog_api::{Client, Credentials, Error, Operation, Region};
use serde_json::{Value, json};

use crate::wire::{self, Captured, FLAGS_CREATE, FLAGS_LIST, SendAs as _, Server, json_response};

/// Distinctive keys: any of these in captured output is a leak.
const PERSONAL_KEY: &str = "phx_LeakCanaryPersonal0123456789abcdef";
const PROJECT_KEY: &str = "phc_LeakCanaryProject0123456789abcdef";
const LEGACY_KEY: &str = "LegacyLeakCanary0123456789abcdef";
const PASSWORD: &str = "BasicLeakCanaryPassword";

static PUBLIC_GET: Operation = Operation::public(
    "flags_remote_config",
    Method::GET,
    "/api/feature_flag/local_evaluation",
    "public",
);

static PUBLIC_POST: Operation =
    Operation::public("capture_batch", Method::POST, "/batch/", "public");

fn client(server: &Server, credentials: Credentials) -> Client {
    // Every test that may send a key logs through the capturing subscriber, so that
    // `keys_never_print` searches what all of them logged.
    wire::capture_logs();
    Client::builder(Region::SelfHosted(server.url()))
        .credentials(credentials)
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("a valid test client")
}

fn personal(placement: KeyPlacement) -> Credentials {
    Credentials::builder()
        .personal_api_key(PERSONAL_KEY)
        .placement(placement)
        .build()
}

/// The personal key in the header and the project key.
fn personal_and_project() -> Credentials {
    Credentials::builder()
        .personal_api_key(PERSONAL_KEY)
        .project_api_key(PROJECT_KEY)
        .build()
}

async fn get(client: &Client) -> Result<Value, Error> {
    client
        .operation(&FLAGS_LIST)
        .project("1")
        .send_json::<Value>()
        .await
}

async fn post(client: &Client, body: &Value) -> Result<Value, Error> {
    client
        .operation(&FLAGS_CREATE)
        .project("1")
        .json(body)
        .send_json::<Value>()
        .await
}

/// How many times `needle` occurs in every byte of the captured request.
fn occurrences(request: &Captured, needle: &str) -> usize {
    request.all_text().matches(needle).count()
}

fn authorization(request: &Captured) -> Option<String> {
    request
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

#[tokio::test]
async fn header_placement_puts_the_key_only_in_authorization() {
    let server = Server::ok().await;
    let client = client(&server, personal(KeyPlacement::Header));
    get(&client).await.expect("200");
    post(&client, &json!({"key": "beta"})).await.expect("200");
    for request in server.requests() {
        assert_eq!(
            authorization(&request).as_deref(),
            Some(format!("Bearer {PERSONAL_KEY}").as_str())
        );
        assert_eq!(
            occurrences(&request, PERSONAL_KEY),
            1,
            "{}",
            request.all_text()
        );
        assert!(request.query_values("personal_api_key").is_empty());
    }
    let [get, post] = <[Captured; 2]>::try_from(server.requests()).expect("two requests");
    assert!(
        get.body.is_empty(),
        "a GET gets no body under header placement"
    );
    assert_eq!(
        post.body, br#"{"key":"beta"}"#,
        "the caller's body is sent unchanged"
    );
}

#[tokio::test]
async fn body_placement_puts_the_key_only_in_the_json_body() {
    let server = Server::ok().await;
    let client = client(&server, personal(KeyPlacement::Body));
    post(&client, &json!({"key": "beta", "active": true}))
        .await
        .expect("200");
    post(&client, &json!({})).await.expect("200");
    get(&client).await.expect("200");
    let [with_members, empty, bodiless] =
        <[Captured; 3]>::try_from(server.requests()).expect("three requests");
    // The key is the first member; the caller's bytes follow unchanged.
    assert_eq!(
        String::from_utf8_lossy(&with_members.body),
        format!(r#"{{"personal_api_key":"{PERSONAL_KEY}","key":"beta","active":true}}"#)
    );
    assert_eq!(
        String::from_utf8_lossy(&empty.body),
        format!(r#"{{"personal_api_key":"{PERSONAL_KEY}"}}"#)
    );
    // A request without a body gets a JSON body holding only the key, as `posthog/auth.py` reads
    // `request.data` whatever the method.
    assert_eq!(bodiless.method, Method::GET);
    assert_eq!(
        String::from_utf8_lossy(&bodiless.body),
        format!(r#"{{"personal_api_key":"{PERSONAL_KEY}"}}"#)
    );
    assert_eq!(
        bodiless
            .headers
            .get(http::header::CONTENT_TYPE)
            .map(HeaderValue::as_bytes),
        Some(&b"application/json"[..])
    );
    for request in server.requests() {
        assert_eq!(authorization(&request), None);
        assert_eq!(
            occurrences(&request, PERSONAL_KEY),
            1,
            "{}",
            request.all_text()
        );
    }
}

#[tokio::test]
async fn body_placement_refuses_a_non_object_body_unsent() {
    let server = Server::ok().await;
    let client = client(&server, personal(KeyPlacement::Body));
    let error = post(&client, &json!(["a", "b"]))
        .await
        .expect_err("an array body cannot hold the key");
    assert!(
        matches!(&error, Error::InvalidArgument { field, .. } if field == "credentials"),
        "{error:?}"
    );
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn query_placement_puts_the_key_only_in_the_query_and_warns_once() {
    // The warning is logged once per process, and other tests of this binary use query
    // placement too: counting it means a process where this test runs alone.
    if !wire::run_alone(
        module_path!(),
        "query_placement_puts_the_key_only_in_the_query_and_warns_once",
    ) {
        return;
    }
    wire::capture_logs();
    let server = Server::ok().await;
    let client = client(&server, personal(KeyPlacement::Query));
    get(&client).await.expect("200");
    post(&client, &json!({"key": "beta"})).await.expect("200");
    for request in server.requests() {
        assert_eq!(request.query_values("personal_api_key"), [PERSONAL_KEY]);
        assert_eq!(authorization(&request), None);
        assert_eq!(
            occurrences(&request, PERSONAL_KEY),
            1,
            "{}",
            request.all_text()
        );
    }
    assert_eq!(server.requests()[1].body, br#"{"key":"beta"}"#);
    let warnings = wire::captured_logs()
        .matches("the personal API key is sent in the query string")
        .count();
    assert_eq!(
        warnings, 1,
        "the query placement warning is logged once per process"
    );
}

#[tokio::test]
async fn basic_credentials_travel_only_in_authorization() {
    use base64::Engine as _;
    let server = Server::ok().await;
    let client = client(&server, Credentials::basic("ada@example.com", PASSWORD));
    post(&client, &json!({"key": "beta"})).await.expect("200");
    let request = server.single();
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("ada@example.com:{PASSWORD}"));
    assert_eq!(authorization(&request), Some(format!("Basic {expected}")));
    assert_eq!(request.body, br#"{"key":"beta"}"#);
    assert!(request.query.is_none());
}

/// PostHog's precedence over real requests: each case is sent with plain reqwest, captured on the
/// server, and the captured headers, body and query are given to `extract_personal_api_key`.
#[tokio::test]
async fn precedence_table_follows_posthog_auth_py() {
    struct Case {
        name: &'static str,
        header: Option<&'static str>,
        body: Option<Value>,
        query: Option<&'static str>,
        expected: Option<(KeyPlacement, &'static str)>,
    }
    let cases = [
        Case {
            name: "header only",
            header: Some("Bearer phx_h"),
            body: None,
            query: None,
            expected: Some((KeyPlacement::Header, "phx_h")),
        },
        Case {
            name: "body only",
            header: None,
            body: Some(json!({"personal_api_key": "phx_b"})),
            query: None,
            expected: Some((KeyPlacement::Body, "phx_b")),
        },
        Case {
            name: "query only",
            header: None,
            body: None,
            query: Some("personal_api_key=phx_q"),
            expected: Some((KeyPlacement::Query, "phx_q")),
        },
        Case {
            name: "header + body",
            header: Some("Bearer phx_h"),
            body: Some(json!({"personal_api_key": "phx_b"})),
            query: None,
            expected: Some((KeyPlacement::Header, "phx_h")),
        },
        Case {
            name: "body + query",
            header: None,
            body: Some(json!({"personal_api_key": "phx_b"})),
            query: Some("personal_api_key=phx_q"),
            expected: Some((KeyPlacement::Body, "phx_b")),
        },
        Case {
            name: "header + query",
            header: Some("Bearer phx_h"),
            body: None,
            query: Some("personal_api_key=phx_q"),
            expected: Some((KeyPlacement::Header, "phx_h")),
        },
        Case {
            name: "all three",
            header: Some("Bearer phx_h"),
            body: Some(json!({"personal_api_key": "phx_b"})),
            query: Some("personal_api_key=phx_q"),
            expected: Some((KeyPlacement::Header, "phx_h")),
        },
        Case {
            name: "none",
            header: None,
            body: Some(json!({"name": "x"})),
            query: Some("limit=10"),
            expected: None,
        },
        Case {
            name: "Basic is skipped, the body is next",
            header: Some("Basic dXNlcjpwYXNz"),
            body: Some(json!({"personal_api_key": "phx_b"})),
            query: None,
            expected: Some((KeyPlacement::Body, "phx_b")),
        },
        Case {
            name: "lowercase bearer is not the scheme",
            header: Some("bearer phx_h"),
            body: None,
            query: Some("personal_api_key=phx_q"),
            expected: Some((KeyPlacement::Query, "phx_q")),
        },
        Case {
            name: "one-character token does not match",
            header: Some("Bearer x"),
            body: None,
            query: Some("personal_api_key=phx_q"),
            expected: Some((KeyPlacement::Query, "phx_q")),
        },
        Case {
            name: "token is trimmed",
            header: Some("Bearer   phx_h  "),
            body: None,
            query: None,
            expected: Some((KeyPlacement::Header, "phx_h")),
        },
        Case {
            name: "OAuth token ends the search",
            header: Some("Bearer pha_oauth"),
            body: Some(json!({"personal_api_key": "phx_b"})),
            query: Some("personal_api_key=phx_q"),
            expected: None,
        },
        Case {
            name: "array body is not searched",
            header: None,
            body: Some(json!(["personal_api_key"])),
            query: Some("personal_api_key=phx_q"),
            expected: Some((KeyPlacement::Query, "phx_q")),
        },
        Case {
            name: "non-string body key stops the search",
            header: None,
            body: Some(json!({"personal_api_key": 42})),
            query: Some("personal_api_key=phx_q"),
            expected: Some((KeyPlacement::Body, "42")),
        },
        Case {
            name: "repeated query key: the last wins",
            header: None,
            body: None,
            query: Some("personal_api_key=phx_1&personal_api_key=phx_2"),
            expected: Some((KeyPlacement::Query, "phx_2")),
        },
        Case {
            name: "percent-encoded query key",
            header: None,
            body: None,
            query: Some("personal_api_key=phx%5Fq%2B"),
            expected: Some((KeyPlacement::Query, "phx_q+")),
        },
        Case {
            name: "empty query key is still found",
            header: None,
            body: None,
            query: Some("personal_api_key="),
            expected: Some((KeyPlacement::Query, "")),
        },
    ];
    let server = Server::ok().await;
    let http = reqwest::Client::new();
    for case in &cases {
        let mut url = server.url().join("/api/projects/").expect("a path joins");
        url.set_query(case.query);
        let mut request = http.get(url);
        if let Some(header) = case.header {
            request = request.header(http::header::AUTHORIZATION, header);
        }
        if let Some(body) = &case.body {
            request = request.json(body);
        }
        request.send().await.expect("the capture server answers");
    }
    let captured = server.requests();
    assert_eq!(captured.len(), cases.len());
    for (case, request) in cases.iter().zip(&captured) {
        let found = extract_personal_api_key(
            &request.headers,
            request.json().as_ref(),
            request.query.as_deref(),
        );
        let found = found
            .as_ref()
            .map(|source| (source.placement(), source.expose_key()));
        assert_eq!(found, case.expected, "case `{}`", case.name);
    }
}

#[test]
fn extract_accepts_a_query_with_its_question_mark() {
    let found = extract_personal_api_key(&HeaderMap::new(), None, Some("?personal_api_key=phx_q"));
    assert_eq!(
        found.map(|source| source.expose_key().to_owned()),
        Some("phx_q".to_owned())
    );
    assert!(extract_personal_api_key(&HeaderMap::new(), None, None).is_none());
}

/// Every placement the client produces is read back by PostHog's rule as exactly that placement.
#[tokio::test]
async fn each_client_placement_is_what_the_server_finds() {
    for placement in [
        KeyPlacement::Header,
        KeyPlacement::Body,
        KeyPlacement::Query,
    ] {
        let server = Server::ok().await;
        let client = client(&server, personal(placement));
        post(&client, &json!({"key": "beta"})).await.expect("200");
        let request = server.single();
        let found = extract_personal_api_key(
            &request.headers,
            request.json().as_ref(),
            request.query.as_deref(),
        )
        .expect("the server finds the key");
        assert_eq!(
            (found.placement(), found.expose_key()),
            (placement, PERSONAL_KEY)
        );
    }
}

#[tokio::test]
async fn a_second_personal_key_in_the_request_is_refused_unsent() {
    let server = Server::ok().await;
    for credentials in [
        personal(KeyPlacement::Header),
        personal(KeyPlacement::Body),
        Credentials::basic("ada", PASSWORD),
    ] {
        let client = client(&server, credentials);
        let error = post(
            &client,
            &json!({"personal_api_key": "phx_other", "key": "beta"}),
        )
        .await
        .expect_err("two keys");
        assert!(
            matches!(&error, Error::InvalidArgument { field, .. } if field == "credentials"),
            "{error:?}"
        );
        let error = client
            .operation(&FLAGS_LIST)
            .project("1")
            .query("personal_api_key", "phx_other")
            .send_json::<Value>()
            .await
            .expect_err("two keys");
        assert!(error.to_string().contains("two keys"), "{error}");
    }
    assert_eq!(server.connections(), 0, "nothing was sent");
    // Without client credentials, a key the caller puts in the body is the only one, and goes.
    let anonymous = client(&server, Credentials::none());
    post(&anonymous, &json!({"personal_api_key": "phx_other"}))
        .await
        .expect("200");
    assert_eq!(authorization(&server.single()), None);
}

#[tokio::test]
async fn public_operations_get_the_project_key_on_the_public_host_and_never_the_personal_key() {
    let private = Server::ok().await;
    let public = Server::ok().await;
    let client = Client::builder(Region::SelfHosted(private.url()))
        .public_base_url(public.url())
        .credentials(personal_and_project())
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("valid");
    client
        .operation(&PUBLIC_GET)
        .send_json::<Value>()
        .await
        .expect("200");
    client
        .operation(&PUBLIC_POST)
        .json(&json!({"batch": [{"event": "$pageview"}]}))
        .send_json::<Value>()
        .await
        .expect("200");
    get(&client).await.expect("200");

    let [public_get, public_post] =
        <[Captured; 2]>::try_from(public.requests()).expect("two public requests");
    assert_eq!(
        public_get.query_values("token"),
        [PROJECT_KEY],
        "GET: `?token=` as PostHog's get_token reads it"
    );
    assert!(public_get.body.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&public_post.body),
        format!(r#"{{"api_key":"{PROJECT_KEY}","batch":[{{"event":"$pageview"}}]}}"#),
        "POST: `api_key` in the body"
    );
    for request in public.requests() {
        assert_eq!(authorization(&request), None);
        assert!(
            !request.all_text().contains("LeakCanaryPersonal"),
            "{}",
            request.all_text()
        );
    }
    let private_request = private.single();
    assert_eq!(private_request.path, "/api/projects/1/feature_flags/");
    assert_eq!(
        authorization(&private_request),
        Some(format!("Bearer {PERSONAL_KEY}"))
    );
    assert!(!private_request.all_text().contains("LeakCanaryProject"));
}

#[tokio::test]
async fn public_operations_keep_a_project_key_the_caller_supplied() {
    let server = Server::ok().await;
    let client = client(&server, Credentials::project_api_key(PROJECT_KEY));
    let body = json!({"token": "phc_caller", "event": "x"});
    client
        .operation(&PUBLIC_POST)
        .json(&body)
        .send_json::<Value>()
        .await
        .expect("200");
    assert_eq!(
        server.single().json(),
        Some(body),
        "no second project key is added"
    );
}

#[test]
fn region_presets_are_the_documented_hosts() {
    let cases = [
        (
            Region::Us,
            "https://us.posthog.com/",
            "https://us.i.posthog.com/",
        ),
        (
            Region::Eu,
            "https://eu.posthog.com/",
            "https://eu.i.posthog.com/",
        ),
        (
            Region::Legacy,
            "https://app.posthog.com/",
            "https://app.posthog.com/",
        ),
        (
            Region::self_hosted("https://posthog.example.com").expect("valid"),
            "https://posthog.example.com/",
            "https://posthog.example.com/",
        ),
    ];
    for (region, private, public) in cases {
        let client = Client::new(region.clone(), Credentials::personal_api_key(PERSONAL_KEY))
            .expect("valid");
        assert_eq!(client.hosts().private.as_str(), private, "{region:?}");
        assert_eq!(client.hosts().public.as_str(), public, "{region:?}");
    }
}

#[tokio::test]
async fn self_hosted_base_path_prefixes_every_request() {
    let server = Server::ok().await;
    let base = server.url().join("/posthog/").expect("joins");
    let client = Client::builder(Region::self_hosted(base.as_str()).expect("valid"))
        .credentials(personal(KeyPlacement::Header))
        .build()
        .expect("valid");
    get(&client).await.expect("200");
    assert_eq!(
        server.single().path,
        "/posthog/api/projects/1/feature_flags/"
    );
}

#[tokio::test]
async fn project_token_selects_the_project_unless_the_call_overrides_it() {
    let server = Server::ok().await;
    let client = Client::builder(Region::SelfHosted(server.url()))
        .credentials(personal(KeyPlacement::Header))
        .project_token(PROJECT_KEY)
        .build()
        .expect("valid");
    get(&client).await.expect("200");
    client
        .operation(&FLAGS_LIST)
        .project("1")
        .query("token", "phc_other")
        .send_json::<Value>()
        .await
        .expect("200");
    let [default, overridden] = <[Captured; 2]>::try_from(server.requests()).expect("two requests");
    assert_eq!(default.query_values("token"), [PROJECT_KEY]);
    assert_eq!(
        authorization(&default),
        Some(format!("Bearer {PERSONAL_KEY}"))
    );
    assert_eq!(
        overridden.query_values("token"),
        ["phc_other"],
        "one `token`, the caller's"
    );
}

#[tokio::test]
async fn invalid_configuration_is_refused_at_build() {
    let base = || Client::builder(Region::Us);
    let cases: [(&str, Result<Client, Error>); 6] = [
        (
            "personal key as project key",
            base()
                .credentials(Credentials::project_api_key(PERSONAL_KEY))
                .build(),
        ),
        (
            "personal key as project token",
            base().project_token(PERSONAL_KEY).build(),
        ),
        (
            "key with a line break",
            base()
                .credentials(Credentials::personal_api_key(format!("{PERSONAL_KEY}\n")))
                .build(),
        ),
        (
            "empty key",
            base()
                .credentials(Credentials::personal_api_key(""))
                .build(),
        ),
        (
            "base URL with credentials",
            base()
                .private_base_url(
                    url::Url::parse(&format!("https://user:{PASSWORD}@example.com")).expect("url"),
                )
                .build(),
        ),
        (
            "base URL with a query",
            base()
                .private_base_url(url::Url::parse("https://example.com/?a=b").expect("url"))
                .build(),
        ),
    ];
    for (name, result) in cases {
        let error = result.expect_err(name);
        assert!(
            matches!(
                error,
                Error::InvalidArgument {
                    operation: "build_client",
                    ..
                }
            ),
            "{name}: {error:?}"
        );
        let text = format!("{error} {error:?}");
        assert!(!text.contains("LeakCanary"), "{name}: {text}");
    }
    assert!(Region::self_hosted("ftp://example.com").is_err());
    assert!(Region::self_hosted("not a url").is_err());
}

/// Also with a caller's `reqwest::ClientBuilder` set to follow every redirect and send `Referer`
/// (issue 14): the client replaces both settings.
#[tokio::test]
async fn a_cross_host_redirect_never_carries_credentials() {
    let placements = [
        KeyPlacement::Header,
        KeyPlacement::Body,
        KeyPlacement::Query,
    ];
    for (placement, custom) in placements
        .into_iter()
        .flat_map(|placement| [(placement, false), (placement, true)])
    {
        let elsewhere = Server::ok().await;
        let target = elsewhere
            .url()
            .join("/api/projects/1/feature_flags/")
            .expect("joins")
            .to_string();
        let status = if custom {
            StatusCode::PERMANENT_REDIRECT
        } else {
            StatusCode::TEMPORARY_REDIRECT
        };
        let redirecting = Server::start(move |_| wire::redirect(status, &target)).await;
        let client = if custom {
            wire::capture_logs();
            Client::builder(Region::SelfHosted(redirecting.url()))
                .credentials(personal(placement))
                .retry_policy(RetryPolicy::never())
                .http_client_builder(
                    reqwest::Client::builder()
                        .redirect(reqwest::redirect::Policy::limited(10))
                        .referer(true),
                )
                .build()
                .expect("a valid test client")
        } else {
            client(&redirecting, personal(placement))
        };
        let error = post(&client, &json!({"key": "beta"}))
            .await
            .expect_err("the redirect is not followed");
        assert_eq!(error.status(), Some(status), "{error}");
        assert_eq!(redirecting.requests().len(), 1);
        assert_eq!(
            elsewhere.connections(),
            0,
            "{placement:?}, custom client {custom}: the other host is never contacted"
        );
    }
}

#[tokio::test]
async fn a_same_host_redirect_is_followed() {
    let server = Server::start(|request| {
        if request.path == "/old/" {
            wire::redirect(
                StatusCode::TEMPORARY_REDIRECT,
                "/api/projects/1/feature_flags/",
            )
        } else {
            json_response(StatusCode::OK, "{}")
        }
    })
    .await;
    let client = client(&server, personal(KeyPlacement::Header));
    client
        .request(Method::GET, "/old/")
        .send_json::<Value>()
        .await
        .expect("followed");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        authorization(&requests[1]),
        Some(format!("Bearer {PERSONAL_KEY}"))
    );
    assert!(
        requests[1].headers.get(http::header::REFERER).is_none(),
        "no Referer repeats the previous URL"
    );
}

/// Keys never show in `Debug`, `Display`, errors or logs, for every placement, including an
/// error answer that echoes the whole request back and a transport failure with the key in the URL.
#[tokio::test]
async fn keys_never_print() {
    wire::capture_logs();
    let echo = Server::start(|request| {
        json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"detail": request.all_text()}).to_string(),
        )
    })
    .await;
    let mut printed = Vec::new();
    for credentials in [
        personal_and_project(),
        personal(KeyPlacement::Body),
        personal(KeyPlacement::Query),
        Credentials::personal_api_key(LEGACY_KEY),
        Credentials::builder()
            .basic("ada", PASSWORD)
            .project_api_key(PROJECT_KEY)
            .build(),
    ] {
        printed.push(format!("{credentials:?}"));
        let builder = Client::builder(Region::SelfHosted(echo.url()))
            .credentials(credentials.clone())
            .project_token(PROJECT_KEY)
            .retry_policy(RetryPolicy::never());
        printed.push(format!("{builder:?}"));
        let client = builder.build().expect("valid");
        printed.push(format!("{client:?}"));
        let error = post(&client, &json!({"key": "beta"}))
            .await
            .expect_err("401");
        assert!(matches!(error, Error::Authentication(_)));
        // The echo really held the secrets: the redaction is what keeps them out.
        assert!(
            echo.requests()
                .last()
                .is_some_and(|r| r.all_text().contains("LeakCanary"))
        );
        printed.push(format!("{error} {error:?}"));
        // A connection that fails, with the key in the URL under query placement.
        let dead = Client::builder(Region::SelfHosted(
            url::Url::parse("http://127.0.0.1:9").expect("url"),
        ))
        .credentials(credentials)
        .project_token(PROJECT_KEY)
        .retry_policy(RetryPolicy::never())
        .timeout(Duration::from_secs(5))
        .build()
        .expect("valid");
        let error = get(&dead).await.expect_err("nothing listens on port 9");
        assert!(matches!(error, Error::Transport { .. }), "{error:?}");
        printed.push(format!("{error} {error:?}"));
    }
    for builder in [
        Credentials::builder()
            .personal_api_key(PERSONAL_KEY)
            .project_api_key(PROJECT_KEY),
        Credentials::builder().basic("ada", PASSWORD),
    ] {
        printed.push(format!("{builder:?}"));
    }
    let source = extract_personal_api_key(
        &HeaderMap::new(),
        Some(&json!({"personal_api_key": PERSONAL_KEY})),
        None,
    );
    printed.push(format!("{source:?}"));
    printed.push(wire::captured_logs());
    let printed = printed.join("\n");
    use base64::Engine as _;
    let basic_token = base64::engine::general_purpose::STANDARD.encode(format!("ada:{PASSWORD}"));
    for needle in ["LeakCanary", PASSWORD, basic_token.as_str()] {
        assert!(!printed.contains(needle), "`{needle}` printed:\n{printed}");
    }
    assert!(printed.contains("[redacted]"));
}
