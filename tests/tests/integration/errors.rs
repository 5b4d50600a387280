//! Every error PostHog documents, served over real HTTP on 127.0.0.1 and decoded to its variant,
//! with PostHog's `type`/`code`/`detail`/`attr` preserved; plus the client-side refusals.

use std::time::Duration;

use http::StatusCode;
use posthog_api::retry::RetryPolicy;
use posthog_api::{Client, Credentials, Error, MAX_BODY_BYTES, Region};
use serde_json::{Value, json};

use crate::wire::{FLAGS_CREATE, SendAs as _, Server, json_response};

/// A client for a server that answers every request with `status`, `body` and `headers`.
async fn answering(
    status: StatusCode,
    body: &'static str,
    headers: &'static [(&'static str, &'static str)],
) -> (Server, Client) {
    let server = Server::start(move |_| {
        let mut response = json_response(status, body);
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::try_from(*name),
                http::HeaderValue::try_from(*value),
            ) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    })
    .await;
    let client = Client::builder(Region::SelfHosted(server.url()))
        .credentials(Credentials::personal_api_key("phx_ErrorsTestKey0123456789"))
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("valid");
    (server, client)
}

async fn call(client: &Client) -> Error {
    client
        .operation(&FLAGS_CREATE)
        .project("1")
        .json(&json!({"key": "beta"}))
        .send_json::<Value>()
        .await
        .expect_err("the server answers with an error")
}

#[tokio::test]
async fn validation_error_keeps_type_code_detail_and_attr() {
    let (_server, client) = answering(
        StatusCode::BAD_REQUEST,
        r#"{"type":"validation_error","code":"invalid_project","detail":"Invalid Project ID.","attr":"project_id"}"#,
        &[],
    )
    .await;
    let error = call(&client).await;
    assert!(matches!(error, Error::Validation(_)), "{error:?}");
    assert_eq!(error.error_type(), Some("validation_error"));
    assert_eq!(error.code(), Some("invalid_project"));
    assert_eq!(error.detail(), Some("Invalid Project ID."));
    assert_eq!(error.attr(), Some("project_id"));
    assert_eq!(error.status(), Some(StatusCode::BAD_REQUEST));
    assert!(!error.is_retryable());
    let text = error.to_string();
    assert!(
        text.contains("validation_error/invalid_project: Invalid Project ID. (field `project_id`)"),
        "{text}"
    );
}

#[tokio::test]
async fn authentication_errors_decode_to_authentication() {
    let bodies = [
        (
            r#"{"type":"authentication_error","code":"invalid_api_key","detail":"Invalid API key.","attr":null}"#,
            Some("invalid_api_key"),
        ),
        (
            r#"{"type":"authentication_error","code":"invalid_personal_api_key","detail":"Personal API key found in request Authorization header is invalid.","attr":null}"#,
            Some("invalid_personal_api_key"),
        ),
        (
            r#"{"detail":"Authentication credentials were not provided."}"#,
            None,
        ),
    ];
    for (body, code) in bodies {
        let (_server, client) = answering(StatusCode::UNAUTHORIZED, body, &[]).await;
        let error = call(&client).await;
        assert!(
            matches!(error, Error::Authentication(_)) && error.is_authentication(),
            "{error:?}"
        );
        assert_eq!(error.code(), code);
        assert!(error.detail().is_some());
        assert_eq!(error.api_error().map(|e| e.raw.as_str()), Some(body));
        assert!(!error.is_retryable());
    }
}

#[tokio::test]
async fn permission_denied_names_the_required_scopes() {
    let (_server, client) = answering(
        StatusCode::FORBIDDEN,
        r#"{"detail":"You do not have permission to perform this action."}"#,
        &[],
    )
    .await;
    let error = call(&client).await;
    assert!(matches!(error, Error::PermissionDenied(_)), "{error:?}");
    assert_eq!(error.required_scopes(), ["feature_flag:write"]);
    assert_eq!(error.missing_scopes(), ["feature_flag:write"]);
    let text = error.to_string();
    assert!(
        text.contains("You do not have permission to perform this action."),
        "{text}"
    );
    assert!(
        text.contains("requires the scopes feature_flag:write"),
        "{text}"
    );
}

#[tokio::test]
async fn not_found_decodes_to_not_found() {
    let (_server, client) = answering(
        StatusCode::NOT_FOUND,
        r#"{"type":"invalid_request","code":"not_found","detail":"Not found.","attr":null}"#,
        &[],
    )
    .await;
    let error = call(&client).await;
    assert!(matches!(error, Error::NotFound(_)), "{error:?}");
    assert_eq!(error.code(), Some("not_found"));
}

#[tokio::test]
async fn throttled_carries_retry_after() {
    let (server, client) = answering(
        StatusCode::TOO_MANY_REQUESTS,
        r#"{"type":"throttled","code":"throttled","detail":"Request was throttled. Expected available in 7 seconds.","attr":null}"#,
        &[("retry-after", "7")],
    )
    .await;
    let error = call(&client).await;
    assert!(matches!(error, Error::Throttled(_)), "{error:?}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(error.code(), Some("throttled"));
    assert!(error.is_retryable());
    assert!(error.to_string().contains("retry after 7s"), "{error}");
    assert_eq!(server.requests().len(), 1, "RetryPolicy::never sends once");
}

#[tokio::test]
async fn fetch_team_fail_is_a_retryable_server_error() {
    let (_server, client) = answering(
        StatusCode::SERVICE_UNAVAILABLE,
        r#"{"type":"server_error","code":"fetch_team_fail","detail":"Unable to fetch team from database.","attr":null}"#,
        &[],
    )
    .await;
    let error = call(&client).await;
    assert!(matches!(error, Error::Server(_)), "{error:?}");
    assert_eq!(
        (error.error_type(), error.code()),
        (Some("server_error"), Some("fetch_team_fail"))
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn payload_too_large_from_the_server() {
    let (_server, client) = answering(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request Entity Too Large",
        &[],
    )
    .await;
    let error = call(&client).await;
    assert!(matches!(error, Error::PayloadTooLarge(_)), "{error:?}");
}

#[tokio::test]
async fn a_non_json_body_is_kept_raw() {
    let html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    let (_server, client) = answering(StatusCode::BAD_GATEWAY, html, &[]).await;
    let error = call(&client).await;
    assert!(matches!(error, Error::Server(_)), "{error:?}");
    assert_eq!(error.api_error().map(|e| e.raw.as_str()), Some(html));
    assert_eq!((error.code(), error.detail()), (None, None));
    assert!(error.to_string().contains("502 Bad Gateway"), "{error}");
}

#[tokio::test]
async fn an_unexpected_status_is_api() {
    let (_server, client) = answering(
        StatusCode::IM_A_TEAPOT,
        r#"{"detail":"short and stout"}"#,
        &[],
    )
    .await;
    let error = call(&client).await;
    assert!(matches!(error, Error::Api(_)), "{error:?}");
    assert_eq!(error.detail(), Some("short and stout"));
}

#[tokio::test]
async fn an_answer_that_does_not_decode_is_decode_with_its_path() {
    let (_server, client) = answering(
        StatusCode::OK,
        r#"{"results":[{"id":"not a number"}]}"#,
        &[],
    )
    .await;
    #[derive(Debug, serde::Deserialize)]
    struct Flag {
        #[allow(dead_code)]
        id: u64,
    }
    #[derive(Debug, serde::Deserialize)]
    struct Page {
        #[allow(dead_code)]
        results: Vec<Flag>,
    }
    let error = client
        .operation(&FLAGS_CREATE)
        .project("1")
        .json(&json!({}))
        .send_json::<Page>()
        .await
        .expect_err("a string is not a u64");
    match &error {
        Error::Decode { path, status, .. } => {
            assert_eq!(path, "results[0].id");
            assert_eq!(*status, StatusCode::OK);
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_refused_connection_is_transport() {
    let client = Client::builder(Region::SelfHosted(
        url::Url::parse("http://127.0.0.1:9").expect("url"),
    ))
    .retry_policy(RetryPolicy::never())
    .build()
    .expect("valid");
    let error = call(&client).await;
    assert!(
        matches!(
            error,
            Error::Transport {
                operation: "feature_flags_create",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(error.operation(), "feature_flags_create");
}

#[tokio::test]
async fn an_oversized_body_fails_before_any_byte_is_sent() {
    let server = Server::ok().await;
    let client = Client::builder(Region::SelfHosted(server.url()))
        .credentials(Credentials::personal_api_key("phx_ErrorsTestKey0123456789"))
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("valid");
    let big = json!({ "blob": "x".repeat(MAX_BODY_BYTES) });
    let error = client
        .operation(&FLAGS_CREATE)
        .project("1")
        .json(&big)
        .send_json::<Value>()
        .await
        .expect_err("over 20 MB");
    match error {
        Error::RequestTooLarge {
            operation,
            size,
            limit,
        } => {
            assert_eq!(operation, "feature_flags_create");
            assert!(size > limit && limit == MAX_BODY_BYTES);
        }
        other => panic!("expected RequestTooLarge, got {other:?}"),
    }
    assert_eq!(server.connections(), 0, "no connection was opened");
    // The same server does see a request under the limit, so the count above means something.
    client
        .operation(&FLAGS_CREATE)
        .project("1")
        .json(&json!({"blob": "small"}))
        .send_json::<Value>()
        .await
        .expect("200");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn an_echoed_key_is_redacted_from_the_error() {
    let (_server, client) = answering(
        StatusCode::BAD_REQUEST,
        r#"{"detail":"bad key phx_ErrorsTestKey0123456789 and phc_SomeProjectKey"}"#,
        &[],
    )
    .await;
    let error = call(&client).await;
    let text = format!("{error} {error:?}");
    assert!(
        !text.contains("ErrorsTestKey") && !text.contains("SomeProjectKey"),
        "{text}"
    );
    assert!(text.contains("[redacted]"), "{text}");
}
