//! Header and cookie parameters, form-urlencoded bodies, conditional requests (304), `+json`,
//! `application/problem+json` and binary answers over loopback: what the generated methods of
//! the `header_cookie_params`, `form_body` and `media_types` fixtures call (PostHog's own schema
//! has none of these), asserted on what crosses the wire; and the server runtime decoding the
//! same parameters and bodies for generated stubs.

use std::sync::Arc;

use http::{Method, StatusCode};
use posthog_api::operation::Operation;
use posthog_api::request::{Conditional, RequestOptions};
use posthog_api::retry::RetryPolicy;
use posthog_api::server::dispatch as d;
use posthog_api::server::{Answer, Context, Reply, Routes, ServerError};
use posthog_api::{Client, Credentials, Error, Region};
use serde_json::{Value, json};

use crate::wire::{self, SendAs, Server, json_response};

const KEY: &str = "phx_ParamsWireTestKey0123456789";

static GET_ORG: Operation = Operation::private(
    "organizations_retrieve",
    Method::GET,
    "/api/organizations/{id}/",
    "organizations",
    &[],
    &[],
);

static PATCH_ORG: Operation = Operation::private(
    "organizations_partial_update",
    Method::PATCH,
    "/api/organizations/{id}/",
    "organizations",
    &[],
    &[],
);

static LOGIN: Operation = Operation::private(
    "login_create",
    Method::POST,
    "/api/login/",
    "login",
    &[],
    &[],
);

fn client_for(url: url::Url) -> Client {
    Client::builder(Region::SelfHosted(url))
        .credentials(Credentials::personal_api_key(KEY))
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("valid")
}

fn header<'a>(request: &'a wire::Captured, name: &str) -> Vec<&'a str> {
    request
        .headers
        .get_all(name)
        .iter()
        .map(|value| value.to_str().expect("ascii"))
        .collect()
}

#[tokio::test]
async fn header_and_cookie_parameters_arrive_as_headers_and_one_cookie() {
    let server = Server::ok().await;
    let client = client_for(server.url());
    let none: Option<String> = None;
    client
        .operation(&PATCH_ORG)
        .arg("id", 7)
        .header("X-Organization", "acme")
        .header("X-Request-Ids", &Some(vec![1, 2, 3]))
        .header("X-Absent", &none)
        .cookie("csrftoken", "tok-1")
        .cookie("sessionid", &Some("s1"))
        .cookie("absent", &none)
        .json(&json!({"name": "Acme"}))
        .send_json::<Value>()
        .await
        .expect("sent");
    let request = server.single();
    assert_eq!(request.path, "/api/organizations/7/");
    assert_eq!(header(&request, "x-organization"), ["acme"]);
    assert_eq!(header(&request, "x-request-ids"), ["1,2,3"]);
    assert!(header(&request, "x-absent").is_empty());
    assert_eq!(
        header(&request, "cookie"),
        ["csrftoken=tok-1; sessionid=s1"]
    );
    // Our credential, once, and the JSON body's own type.
    assert_eq!(
        header(&request, "authorization"),
        [format!("Bearer {KEY}").as_str()]
    );
    assert_eq!(header(&request, "content-type"), ["application/json"]);
}

#[tokio::test]
async fn header_values_with_cr_or_lf_are_refused_unsent_naming_the_parameter() {
    let server = Server::ok().await;
    let client = client_for(server.url());
    for (value, place) in [
        ("acme\r\nX-Injected: 1", "header"),
        ("acme\nX-Injected: 1", "header"),
        ("a\u{0}b", "header"),
        ("café", "header"),
        ("tok; admin=1", "cookie"),
        ("tok\r\nX-Injected: 1", "cookie"),
    ] {
        let request = client.operation(&GET_ORG).arg("id", 7);
        let request = if place == "header" {
            request.header("X-Organization", value)
        } else {
            request.cookie("csrftoken", value)
        };
        let error = request.send_json::<Value>().await.expect_err("refused");
        let Error::InvalidArgument { field, reason, .. } = &error else {
            panic!("{value:?}: {error:?}")
        };
        let expected = if place == "header" {
            "X-Organization"
        } else {
            "csrftoken"
        };
        assert_eq!(field, expected, "{value:?}");
        // The value itself may be a secret: it is not repeated in the error.
        assert!(!error.to_string().contains("Injected"), "{error}");
        assert!(!reason.contains(value), "{reason}");
    }
    assert!(server.requests().is_empty(), "nothing may be sent");
}

#[tokio::test]
async fn a_parameter_can_never_set_the_headers_the_client_owns() {
    let server = Server::ok().await;
    let client = client_for(server.url());
    for name in [
        "Authorization",
        "authorization",
        "Cookie",
        "Host",
        "Content-Type",
        "Accept",
        "Content-Length",
        "Transfer-Encoding",
        "Proxy-Authorization",
    ] {
        let error = client
            .operation(&GET_ORG)
            .arg("id", 7)
            .header(name, "Bearer phx_SomeoneElse")
            .send_json::<Value>()
            .await
            .expect_err("refused");
        assert!(
            matches!(&error, Error::InvalidArgument { field, .. } if field == name),
            "{name}: {error:?}"
        );
    }
    // Neither can a header name that is not one.
    let error = client
        .operation(&GET_ORG)
        .arg("id", 7)
        .header("X Bad:", "1")
        .send_json::<Value>()
        .await
        .expect_err("refused");
    assert!(matches!(&error, Error::InvalidArgument { field, .. } if field == "X Bad:"));
    assert!(server.requests().is_empty(), "nothing may be sent");
}

#[tokio::test]
async fn a_form_body_is_sent_urlencoded_with_arrays_repeated() {
    let server = Server::ok().await;
    let client = client_for(server.url());
    client
        .operation(&LOGIN)
        .form(&json!({
            "email": "a@example.com",
            "password": "p w&=é",
            "remember": true,
            "scopes": ["read", "write"],
            "absent": null,
            "filters": {"a": 1},
        }))
        .send_json::<Value>()
        .await
        .expect("sent");
    let request = server.single();
    assert_eq!(
        header(&request, "content-type"),
        ["application/x-www-form-urlencoded"]
    );
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("email", "a@example.com"),
            ("password", "p w&=é"),
            ("remember", "true"),
            ("scopes", "read"),
            ("scopes", "write"),
            ("filters", "{\"a\":1}"),
        ]
    );
    assert_eq!(
        header(&request, "content-length"),
        [request.body.len().to_string().as_str()]
    );
}

#[tokio::test]
async fn the_body_key_placement_adds_the_key_to_a_form_body() {
    let server = Server::ok().await;
    let client = Client::builder(Region::SelfHosted(server.url()))
        .credentials(
            Credentials::builder()
                .personal_api_key(KEY)
                .placement(posthog_api::KeyPlacement::Body)
                .build(),
        )
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("valid");
    client
        .operation(&LOGIN)
        .form(&json!({"email": "a@example.com"}))
        .send_json::<Value>()
        .await
        .expect("sent");
    let request = server.single();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert!(
        pairs.contains(&("personal_api_key".into(), KEY.into())),
        "{pairs:?}"
    );
    assert!(header(&request, "authorization").is_empty());
}

/// Answers 304 to `If-None-Match: "v2"` or an `If-Modified-Since`, else 200 with the
/// validators, as Django's `ConditionalGetMiddleware` does.
fn conditional_server(request: &wire::Captured) -> axum::response::Response {
    let matches = request
        .headers
        .get("if-none-match")
        .is_some_and(|tag| tag == "\"v2\"")
        || request.headers.contains_key("if-modified-since");
    let mut response = if matches {
        let mut response = axum::response::Response::new(axum::body::Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        json_response(StatusCode::OK, r#"{"id": 7, "name": "Acme"}"#)
    };
    let headers = response.headers_mut();
    headers.insert("etag", http::HeaderValue::from_static("\"v2\""));
    headers.insert(
        "last-modified",
        http::HeaderValue::from_static("Wed, 21 Oct 2026 07:28:00 GMT"),
    );
    response
}

#[tokio::test]
async fn a_conditional_get_answers_not_modified_with_the_validators() {
    let server = Server::start(conditional_server).await;
    let client = client_for(server.url());
    let none: Option<String> = None;
    let first = client
        .operation(&GET_ORG)
        .arg("id", 7)
        .header("If-None-Match", &none)
        .send_conditional_json::<Value>()
        .await
        .expect("200");
    let etag = first.etag().expect("an ETag").to_owned();
    assert_eq!(etag, "\"v2\"");
    assert_eq!(first.last_modified(), Some("Wed, 21 Oct 2026 07:28:00 GMT"));
    let Conditional::Modified { value, .. } = first else {
        panic!("the first answer is the value")
    };
    assert_eq!(value["name"], "Acme");

    let second = client
        .operation(&GET_ORG)
        .arg("id", 7)
        .header("If-None-Match", &Some(etag))
        .send_conditional_json::<Value>()
        .await
        .expect("304 is an answer, not an error");
    assert!(second.is_not_modified(), "{second:?}");
    assert_eq!(second.etag(), Some("\"v2\""));
    assert_eq!(second.into_value(), None);

    let requests = server.requests();
    assert!(header(&requests[0], "if-none-match").is_empty());
    assert_eq!(header(&requests[1], "if-none-match"), ["\"v2\""]);
}

#[tokio::test]
async fn a_304_to_a_method_without_a_conditional_answer_is_error_not_modified() {
    let server = Server::start(conditional_server).await;
    let client = client_for(server.url());
    let error = client
        .with_options(RequestOptions::new().header("If-None-Match", "\"v2\""))
        .operation(&GET_ORG)
        .arg("id", 7)
        .send_json::<Value>()
        .await
        .expect_err("304 is not a value");
    assert!(matches!(error, Error::NotModified(_)), "{error:?}");
    assert_eq!(error.status(), Some(StatusCode::NOT_MODIFIED));
    assert!(!error.to_string().contains("redirect"), "{error}");
    assert_eq!(server.requests().len(), 1, "a 304 is never retried");
}

#[tokio::test]
async fn problem_json_error_bodies_decode_into_the_typed_error() {
    let server = Server::start(|request| {
        let body = if request.path.ends_with("/8/") {
            r#"{"type": "about:blank", "title": "Conflict", "status": 409}"#
        } else {
            r#"{"type": "https://example.com/probs/invalid-user", "title": "Invalid user", "status": 400, "detail": "userName is required"}"#
        };
        let status = if request.path.ends_with("/8/") {
            StatusCode::CONFLICT
        } else {
            StatusCode::BAD_REQUEST
        };
        let mut response = json_response(status, body);
        response.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/problem+json"),
        );
        response
    })
    .await;
    let client = client_for(server.url());
    let error = client
        .operation(&PATCH_ORG)
        .arg("id", 7)
        .json(&json!({}))
        .content_type("application/scim+json")
        .accept("application/scim+json")
        .send_json::<Value>()
        .await
        .expect_err("400");
    assert!(matches!(error, Error::Validation(_)), "{error:?}");
    assert_eq!(error.detail(), Some("userName is required"));
    assert_eq!(
        error.error_type(),
        Some("https://example.com/probs/invalid-user")
    );
    assert!(
        error
            .api_error()
            .is_some_and(|e| e.raw.contains("Invalid user"))
    );
    let request = server.single();
    assert_eq!(header(&request, "content-type"), ["application/scim+json"]);
    assert_eq!(header(&request, "accept"), ["application/scim+json"]);
    // A problem without `detail`: its `title` says what happened.
    let error = client
        .operation(&GET_ORG)
        .arg("id", 8)
        .send_json::<Value>()
        .await
        .expect_err("409");
    assert_eq!(error.detail(), Some("Conflict"), "{error}");
    assert!(error.to_string().contains("Conflict"), "{error}");
}

#[tokio::test]
async fn a_content_type_that_is_not_json_cannot_be_set_on_a_json_body() {
    let server = Server::ok().await;
    let client = client_for(server.url());
    let error = client
        .operation(&PATCH_ORG)
        .arg("id", 7)
        .json(&json!({}))
        .content_type("text/plain\r\nX-Injected: 1")
        .send_json::<Value>()
        .await
        .expect_err("refused");
    assert!(matches!(error, Error::InvalidArgument { .. }), "{error:?}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn binary_answers_are_bytes_as_sent() {
    let bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let served = bytes.clone();
    let server = Server::start(move |_| {
        let mut response = axum::response::Response::new(axum::body::Body::from(served.clone()));
        response.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/zip"),
        );
        response
    })
    .await;
    let client = client_for(server.url());
    let got = client
        .operation(&GET_ORG)
        .arg("id", 7)
        .accept("application/zip, application/octet-stream")
        .send_bytes()
        .await
        .expect("bytes");
    assert_eq!(got, bytes);
    assert_eq!(
        header(&server.single(), "accept"),
        ["application/zip, application/octet-stream"]
    );
}

/// What the generator emits for `organizations_partial_update` of the `header_cookie_params`
/// fixture and `login_create` of `form_body`, written out: the server half.
#[derive(Debug, Clone, PartialEq, Default)]
struct OrgQuery {
    expand: Option<bool>,
    x_organization: String,
    x_request_ids: Option<Vec<i64>>,
    csrftoken: String,
    sessionid: Option<String>,
}

impl d::FromQuery for OrgQuery {
    fn from_query(q: &d::QueryMap) -> Result<Self, ServerError> {
        Self::from_request(q, &d::HeaderParams::default())
    }

    fn from_request(q: &d::QueryMap, h: &d::HeaderParams<'_>) -> Result<Self, ServerError> {
        Ok(Self {
            expand: q.get("expand")?,
            x_organization: h.header("X-Organization")?,
            x_request_ids: h.header("X-Request-Ids")?,
            csrftoken: h.cookie("csrftoken")?,
            sessionid: h.cookie("sessionid")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct Login {
    email: String,
    remember: Option<bool>,
    #[serde(default)]
    scopes: Vec<String>,
}

struct Service {
    seen: std::sync::Mutex<Vec<Value>>,
}

fn stub_routes(service: Arc<Service>) -> axum::Router {
    axum::Router::new()
        .route(
            "/api/organizations/{id}/",
            d::json(
                &GET_ORG,
                &service,
                |s: Arc<Service>, _cx: Context, (id,): (i64,), query: OrgQuery, ()| async move {
                    s.seen.lock().expect("lock").push(json!({
                        "id": id,
                        "expand": query.expand,
                        "org": query.x_organization,
                        "ids": query.x_request_ids,
                        "csrf": query.csrftoken,
                        "session": query.sessionid,
                    }));
                    Answer::<Value>::Ok(Reply::ok(json!({"id": id, "name": "Acme"})))
                },
            ),
        )
        .route(
            "/api/login/",
            d::json(
                &LOGIN,
                &service,
                |s: Arc<Service>,
                 _cx: Context,
                 (): (),
                 (): (),
                 d::UrlEncoded(body): d::UrlEncoded<Login>| async move {
                    s.seen.lock().expect("lock").push(json!({
                        "email": body.email,
                        "remember": body.remember,
                        "scopes": body.scopes,
                    }));
                    Answer::<Value>::Ok(Reply::ok(json!({"token": "t"})))
                },
            ),
        )
}

#[tokio::test]
async fn server_stubs_receive_header_cookie_and_form_parameters() {
    let service = Arc::new(Service {
        seen: std::sync::Mutex::new(Vec::new()),
    });
    let running = Routes::empty()
        .mount("params", stub_routes(service.clone()))
        .serve("127.0.0.1:0")
        .await
        .expect("serve");
    let client = client_for(running.base_url().clone());
    client
        .operation(&GET_ORG)
        .arg("id", 7)
        .query("expand", &true)
        .header("X-Organization", "acme")
        .header("X-Request-Ids", &[4, 5])
        .cookie("csrftoken", "tok-1")
        .cookie("sessionid", "s1")
        .send_json::<Value>()
        .await
        .expect("200");
    client
        .operation(&LOGIN)
        .form(&json!({"email": "a@example.com", "remember": true, "scopes": ["r", "w"]}))
        .send_json::<Value>()
        .await
        .expect("200");
    // A missing required header is a 400 naming it.
    let error = client
        .operation(&GET_ORG)
        .arg("id", 7)
        .cookie("csrftoken", "tok-1")
        .send_json::<Value>()
        .await
        .expect_err("400");
    assert_eq!(error.status(), Some(StatusCode::BAD_REQUEST), "{error}");
    assert_eq!(error.attr(), Some("X-Organization"), "{error}");
    let seen = service.seen.lock().expect("lock").clone();
    assert_eq!(
        seen,
        [
            json!({"id": 7, "expand": true, "org": "acme", "ids": [4, 5], "csrf": "tok-1", "session": "s1"}),
            json!({"email": "a@example.com", "remember": true, "scopes": ["r", "w"]}),
        ]
    );
}
