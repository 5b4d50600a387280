//! Per-request control over loopback: the raw layer (any path, any body, status and headers
//! back), per-call options on a client view, response metadata, and errors that name the
//! method, path template and request id.

use std::time::Duration;

use futures::TryStreamExt as _;
use http::{Method, StatusCode};
use posthog_api::pagination::PaginationStyle;
use posthog_api::request::RequestOptions;
use posthog_api::retry::RetryPolicy;
use posthog_api::{Client, Credentials, Error, ProjectId, Region};
use serde_json::{Value, json};

use crate::wire::{self, Server, json_response};

const KEY: &str = "phx_RawLayerTestKey0123456789";

fn client_for(server: &Server) -> Client {
    Client::builder(Region::SelfHosted(server.url()))
        .credentials(Credentials::personal_api_key(KEY))
        .project_id("42")
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("valid")
}

/// A response with a request id and one more header.
fn answer_with_id(status: StatusCode, body: &str, id: &str) -> axum::response::Response {
    let mut response = json_response(status, body);
    let headers = response.headers_mut();
    headers.insert(
        "x-request-id",
        http::HeaderValue::from_str(id).expect("ascii"),
    );
    headers.insert("x-custom", http::HeaderValue::from_static("yes"));
    response
}

#[tokio::test]
async fn raw_request_sends_any_json_body_to_a_path_the_schema_lacks() {
    let server = Server::ok().await;
    let client = client_for(&server);
    let body = json!({"anything": [1, {"nested": null}], "dry_run": true});
    let answer = client
        .request(
            Method::POST,
            "/api/projects/{project_id}/not_in_schema/{id}/run/",
        )
        .arg("id", "a b/c")
        .query("verbose", &true)
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), StatusCode::OK);
    let request = server.single();
    assert_eq!(request.method, Method::POST);
    // The project comes from the default; the argument stays one segment.
    assert_eq!(
        request.path,
        "/api/projects/42/not_in_schema/a%20b%2Fc/run/"
    );
    assert_eq!(request.query_values("verbose"), ["true"]);
    assert_eq!(request.json(), Some(body));
    assert_eq!(
        request.headers.get("authorization").map(|v| v.as_bytes()),
        Some(format!("Bearer {KEY}").as_bytes())
    );
    assert_eq!(
        request.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
}

/// A raw request's header and cookie parameters carry CSRF tokens and session cookies: its
/// `Debug` names each parameter and its kind, never its value, while the wire still gets both.
#[tokio::test]
async fn raw_request_debug_names_header_and_cookie_parameters_without_their_values() {
    let server = Server::ok().await;
    let client = client_for(&server);
    let request = client
        .request(Method::POST, "/api/projects/{project_id}/not_in_schema/")
        .header("X-CSRFToken", "secret-csrf")
        .cookie("sessionid", "secret-session");
    let debug = format!("{request:?}");
    assert!(!debug.contains("secret-csrf"), "{debug}");
    assert!(!debug.contains("secret-session"), "{debug}");
    assert!(debug.contains("X-CSRFToken"), "{debug}");
    assert!(debug.contains("sessionid"), "{debug}");
    request.send().await.expect("sent");
    let sent = server.single();
    assert_eq!(sent.headers["x-csrftoken"], "secret-csrf");
    assert_eq!(sent.headers["cookie"], "sessionid=secret-session");
}

/// Per-call headers can carry the same tokens: a client view's `Debug` (and so a raw request
/// made from it) never prints their values, while the wire still gets them.
#[tokio::test]
async fn per_call_header_values_stay_out_of_debug() {
    let server = Server::ok().await;
    let view = client_for(&server)
        .with_options(RequestOptions::new().header("X-CSRFToken", "secret-csrf"));
    let request = view.request(Method::GET, "/api/projects/{project_id}/not_in_schema/");
    for debug in [format!("{view:?}"), format!("{request:?}")] {
        assert!(!debug.contains("secret-csrf"), "{debug}");
        assert!(debug.contains("x-csrftoken"), "{debug}");
    }
    request.send().await.expect("sent");
    assert_eq!(server.single().headers["x-csrftoken"], "secret-csrf");
}

/// Query credentials (`token`, `personal_api_key`) given to a raw request or to per-call
/// options, and a body that may hold one, stay out of `Debug`; other query values show.
#[test]
fn query_credentials_and_bodies_stay_out_of_debug() {
    let client = Client::builder(Region::SelfHosted(
        url::Url::parse("http://127.0.0.1:9").expect("url"),
    ))
    .credentials(Credentials::personal_api_key(KEY))
    .build()
    .expect("valid");
    let view = client.with_options(RequestOptions::new().query("token", "phc_secret-option"));
    let request = view
        .request(Method::POST, "/api/projects/{project_id}/not_in_schema/")
        .query("token", "phc_secret-query")
        .query("personal_api_key", "phx_secret-query")
        .query("verbose", "shown-value")
        .json(&json!({"personal_api_key": "phx_secret-body"}));
    for debug in [format!("{view:?}"), format!("{request:?}")] {
        for secret in [
            "phc_secret-option",
            "phc_secret-query",
            "phx_secret-query",
            "phx_secret-body",
        ] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("token"), "{debug}");
    }
    assert!(format!("{request:?}").contains("shown-value"));
}

#[tokio::test]
async fn raw_response_reads_status_headers_request_id_and_body() {
    let server =
        Server::start(|_| answer_with_id(StatusCode::ACCEPTED, r#"{"queued": 3}"#, "req-abc-123"))
            .await;
    let client = client_for(&server);
    let answer = client
        .request(Method::GET, "/api/projects/{project_id}/queue/")
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    assert_eq!(
        answer.headers().get("x-custom").map(|v| v.as_bytes()),
        Some(&b"yes"[..])
    );
    assert_eq!(answer.request_id(), Some("req-abc-123"));
    assert_eq!(answer.bytes().as_ref(), br#"{"queued": 3}"#);
    assert_eq!(answer.json::<Value>().expect("json"), json!({"queued": 3}));
    assert!(answer.error_for_status().is_ok());
}

#[tokio::test]
async fn raw_non_success_comes_back_and_error_for_status_types_it() {
    let server = Server::start(|_| {
        answer_with_id(
            StatusCode::NOT_FOUND,
            r#"{"type": "invalid_request", "code": "not_found", "detail": "Not found."}"#,
            "req-404",
        )
    })
    .await;
    let client = client_for(&server);
    let answer = client
        .request(Method::DELETE, "/api/projects/{project_id}/gone/{id}/")
        .arg("id", 7)
        .send()
        .await
        .expect("an answer, whatever its status");
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let error = answer.error_for_status().expect_err("404");
    assert!(matches!(error, Error::NotFound(_)), "{error:?}");
    assert_eq!(error.method(), Some(&Method::DELETE));
    assert_eq!(
        error.path_template(),
        Some("/api/projects/{project_id}/gone/{id}/")
    );
    assert_eq!(error.request_id(), Some("req-404"));
    assert_eq!(error.code(), Some("not_found"));
}

#[tokio::test]
async fn raw_request_refuses_dot_segments_and_unknown_placeholders_unsent() {
    let server = Server::ok().await;
    let client = client_for(&server);
    for value in ["..", ".", "%2e%2E", ""] {
        let error = client
            .request(
                Method::GET,
                "/api/projects/{project_id}/feature_flags/{id}/",
            )
            .arg("id", value)
            .send()
            .await
            .expect_err("refused");
        let Error::InvalidArgument { field, .. } = &error else {
            panic!("{value:?}: {error:?}");
        };
        assert_eq!(field, "id", "{value:?}");
    }
    let missing = client
        .request(Method::GET, "/api/projects/{project_id}/x/{id}/")
        .send()
        .await
        .expect_err("no id");
    assert!(matches!(missing, Error::InvalidArgument { ref field, .. } if field == "id"));
    let stray = client
        .request(Method::GET, "/api/projects/{project_id}/x/")
        .arg("idd", 1)
        .send()
        .await
        .expect_err("unused argument");
    assert!(matches!(stray, Error::InvalidArgument { ref field, .. } if field == "idd"));
    for template in [
        "/api/projects/{project_id}/../users/",
        "/api/projects/{project_id}\\..\\users/",
        "/api/projects/{project_id}/%2e%2e/users/",
        "api/no-leading-slash/",
        "/api/x/?personal_api_key=phx_1",
    ] {
        let error = client
            .request(Method::GET, template)
            .send()
            .await
            .expect_err("refused template");
        assert!(
            matches!(error, Error::InvalidArgument { ref field, .. } if field == "path"),
            "{template}: {error:?}"
        );
    }
    assert!(server.requests().is_empty(), "nothing may be sent");
}

#[tokio::test]
async fn raw_operation_takes_any_body_for_a_known_operation() {
    let server = Server::ok().await;
    let client = client_for(&server);
    client
        .operation(&posthog_api::operations::FEATURE_FLAGS_PARTIAL_UPDATE)
        .project("9")
        .arg("id", 5)
        .json(&json!({"ensure_experience_continuity": null}))
        .send()
        .await
        .expect("sent")
        .error_for_status()
        .expect("200");
    let request = server.single();
    assert_eq!(request.method, Method::PATCH);
    assert_eq!(request.path, "/api/projects/9/feature_flags/5/");
    assert_eq!(request.body, br#"{"ensure_experience_continuity":null}"#);
}

#[tokio::test]
async fn raw_layer_pages_follow_next_links() {
    let server = Server::start(|request| {
        let body = if request.query_values("offset") == ["1"] {
            r#"{"count": 2, "next": null, "results": [{"id": 2}]}"#.to_owned()
        } else {
            r#"{"count": 2, "next": "/api/projects/42/things/?offset=1", "results": [{"id": 1}]}"#
                .to_owned()
        };
        json_response(StatusCode::OK, &body)
    })
    .await;
    let client = client_for(&server);
    let items: Vec<Value> = client
        .request(Method::GET, "/api/projects/{project_id}/things/")
        .pages::<Value>(PaginationStyle::LimitOffset)
        .items()
        .try_collect()
        .await
        .expect("two pages");
    assert_eq!(items, [json!({"id": 1}), json!({"id": 2})]);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn extra_header_and_query_parameter_arrive_on_a_generated_method() {
    let server = Server::start(|_| {
        json_response(
            StatusCode::OK,
            r#"{"count": 0, "next": null, "results": []}"#,
        )
    })
    .await;
    let client = client_for(&server);
    let options = RequestOptions::new()
        .header("Idempotency-Key", "abc-1")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .query("mode", "fast")
        .query("limit", "5");
    let query = posthog_api::api::feature_flags::FeatureFlagsListQuery {
        limit: Some(100),
        ..Default::default()
    };
    client
        .with_options(options)
        .feature_flags_list(ProjectId::Default, &query)
        .await
        .expect("listed");
    // The client the view came from is unchanged.
    client
        .feature_flags_list(ProjectId::Default, &query)
        .await
        .expect("listed");
    let requests = server.requests();
    let with = &requests[0];
    assert_eq!(
        with.headers.get("idempotency-key").map(|v| v.as_bytes()),
        Some(&b"abc-1"[..])
    );
    assert!(with.headers.contains_key("traceparent"));
    assert_eq!(with.query_values("mode"), ["fast"]);
    // A per-call parameter replaces the method's own of the same name.
    assert_eq!(with.query_values("limit"), ["5"]);
    let without = &requests[1];
    assert!(!without.headers.contains_key("idempotency-key"));
    assert!(without.query_values("mode").is_empty());
    assert_eq!(without.query_values("limit"), ["100"]);
}

#[tokio::test]
async fn per_call_options_refuse_reserved_headers_and_a_second_key_unsent() {
    let server = Server::ok().await;
    let client = client_for(&server);
    let cases = [
        (
            RequestOptions::new().header("Authorization", "Bearer phx_other"),
            "header `authorization`",
        ),
        (
            RequestOptions::new().query("personal_api_key", "phx_other"),
            "credentials",
        ),
    ];
    for (options, expected) in cases {
        let error = client
            .with_options(options)
            .users_retrieve("@me")
            .await
            .expect_err("refused");
        assert!(
            matches!(&error, Error::InvalidArgument { field, .. } if field == expected),
            "{error:?}"
        );
        assert!(!error.to_string().contains("phx_other"), "{error}");
    }
    assert!(server.requests().is_empty());
}

/// A server whose every answer takes `delay`.
async fn slow_server(delay: Duration) -> url::Url {
    let app = axum::Router::new().fallback(move || async move {
        tokio::time::sleep(delay).await;
        json_response(StatusCode::OK, r#"{"ok": true}"#)
    });
    wire::serve(app).await
}

#[tokio::test]
async fn per_call_timeout_fires_while_the_client_default_does_not() {
    let url = slow_server(Duration::from_millis(600)).await;
    let client = Client::builder(Region::SelfHosted(url))
        .credentials(Credentials::personal_api_key(KEY))
        .timeout(Duration::from_secs(30))
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("valid");
    let error = client
        .with_options(RequestOptions::new().timeout(Duration::from_millis(50)))
        .users_retrieve("@me")
        .await
        .expect_err("the per-call timeout fires");
    let Error::Transport { source, .. } = &error else {
        panic!("expected a timeout, got {error:?}");
    };
    assert!(source.is_timeout(), "{error:?}");
    // Through the raw layer too, and the default still waits the answer out.
    let raw = client
        .with_options(RequestOptions::new().timeout(Duration::from_millis(50)))
        .request(Method::GET, "/api/users/@me/")
        .send()
        .await
        .expect_err("timeout");
    assert!(matches!(raw, Error::Transport { ref source, .. } if source.is_timeout()));
    let answer = client
        .request(Method::GET, "/api/users/@me/")
        .send()
        .await
        .expect("the client's 30 s timeout does not fire");
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test]
async fn per_call_retry_policy_replaces_the_clients() {
    let server = Server::start(|_| json_response(StatusCode::SERVICE_UNAVAILABLE, "{}")).await;
    let client = client_for(&server);
    let policy = RetryPolicy::default()
        .max_attempts(3)
        .delays(Duration::from_millis(1), Duration::from_millis(1));
    let error = client
        .with_options(RequestOptions::new().retry_policy(policy))
        .users_retrieve("@me")
        .await
        .expect_err("503");
    assert!(matches!(error, Error::Server(_)));
    assert_eq!(server.requests().len(), 3, "the view's policy retried");
    client.users_retrieve("@me").await.expect_err("503");
    assert_eq!(server.requests().len(), 4, "the client's policy did not");
}

#[tokio::test]
async fn with_meta_returns_value_and_metadata_of_any_method() {
    let server =
        Server::start(|_| answer_with_id(StatusCode::OK, r#"{"results": []}"#, "req-meta")).await;
    let client = client_for(&server);
    let (value, meta) = client
        .with_meta(|client| async move {
            client
                .request(Method::GET, "/api/projects/{project_id}/x/")
                .send()
                .await?
                .json::<Value>()
        })
        .await
        .expect("answered");
    assert_eq!(value, json!({"results": []}));
    assert_eq!(meta.status, StatusCode::OK);
    assert_eq!(meta.request_id.as_deref(), Some("req-meta"));
    assert_eq!(
        meta.headers.get("x-custom").map(|v| v.as_bytes()),
        Some(&b"yes"[..])
    );
    let (_, meta) = client
        // A generated method.
        .with_meta(|client| async move {
            client
                .feature_flags_activity_retrieve(ProjectId::Default, &Default::default())
                .await
        })
        .await
        .expect("answered");
    assert_eq!(meta.request_id.as_deref(), Some("req-meta"));
}

#[tokio::test]
async fn errors_of_generated_methods_carry_method_path_template_and_request_id() {
    let server = Server::start(|_| {
        answer_with_id(
            StatusCode::FORBIDDEN,
            r#"{"type": "authentication_error", "code": "permission_denied", "detail": "no"}"#,
            "req-403-xyz",
        )
    })
    .await;
    let client = client_for(&server);
    let error = client
        .feature_flags_retrieve("4242", 31337)
        .await
        .expect_err("403");
    assert!(matches!(error, Error::PermissionDenied(_)), "{error:?}");
    assert_eq!(error.status(), Some(StatusCode::FORBIDDEN));
    assert_eq!(error.method(), Some(&Method::GET));
    assert_eq!(
        error.path_template(),
        Some("/api/projects/{project_id}/feature_flags/{id}/")
    );
    assert_eq!(error.request_id(), Some("req-403-xyz"));
    let text = error.to_string();
    assert!(
        text.contains("GET /api/projects/{project_id}/feature_flags/{id}/"),
        "{text}"
    );
    assert!(text.contains("req-403-xyz"), "{text}");
    // The template, never the filled path.
    assert!(!text.contains("4242") && !text.contains("31337"), "{text}");
}
