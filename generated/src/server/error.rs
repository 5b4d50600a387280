//! Error answers in PostHog's `{type, code, detail, attr}` format, as its exception handler
//! writes them, so that the client decodes a stub's errors exactly like the real server's.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{self, HeaderValue};

use crate::error::ApiErrorBody;
use crate::operation::Operation;

/// A non-success answer: status, PostHog's error body and, for 429, how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// HTTP status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: ApiErrorBody,
    /// Sent as `Retry-After` (whole seconds, rounded up).
    pub retry_after: Option<Duration>,
}

impl ServerError {
    /// Any status and body.
    pub fn new(
        status: StatusCode,
        kind: &str,
        code: &str,
        detail: impl Into<String>,
        attr: Option<String>,
    ) -> Self {
        Self {
            status,
            body: ApiErrorBody {
                kind: Some(kind.to_owned()),
                code: Some(code.to_owned()),
                detail: Some(detail.into()),
                attr,
            },
            retry_after: None,
        }
    }

    /// 501: the default answer of every stub.
    pub fn not_implemented(operation: &Operation) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "server_error",
            "not_implemented",
            format!(
                "`{}` ({} {}) is not implemented by this server.",
                operation.id, operation.method, operation.path
            ),
            None,
        )
    }

    /// 400 `validation_error`/`invalid_input` about the request field `attr`.
    pub fn validation(attr: Option<String>, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "validation_error",
            "invalid_input",
            detail,
            attr,
        )
    }

    /// 401 when the request carries no credentials.
    pub fn not_authenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "not_authenticated",
            "Authentication credentials were not provided.",
            None,
        )
    }

    /// 401 when the personal API key is not one the server knows.
    pub fn invalid_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "authentication_failed",
            "Personal API key found in request is invalid.",
            None,
        )
    }

    /// 403 when the key lacks `scope`, worded as PostHog words it (the client reads the scope
    /// back out of `detail`).
    pub fn missing_scope(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "authentication_error",
            "permission_denied",
            format!("API key missing required scope '{scope}'"),
            None,
        )
    }

    /// 404.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "not_found",
            "Not found.",
            None,
        )
    }

    /// 405.
    pub fn method_not_allowed(method: &http::Method) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "method_not_allowed",
            format!("Method \"{method}\" not allowed."),
            None,
        )
    }

    /// 413: the body is over `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "payload_too_large",
            format!("The request body is over the {limit} byte limit."),
            None,
        )
    }

    /// 429 with `Retry-After`.
    pub fn throttled(wait: Duration) -> Self {
        let seconds = whole_seconds(wait);
        let unit = if seconds == 1 { "second" } else { "seconds" };
        Self {
            retry_after: Some(wait),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled_error",
                "throttled",
                format!("Request was throttled. Expected available in {seconds} {unit}."),
                None,
            )
        }
    }

    /// 500, for failures of the server itself (a panic, an answer that cannot be encoded).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "error",
            "A server error occurred.",
            None,
        )
    }
}

/// `Retry-After` takes whole seconds; rounding up never invites a client back too early.
fn whole_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs();
    if wait.subsec_nanos() > 0 {
        seconds + 1
    } else {
        seconds.max(1)
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(wait) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(whole_seconds(wait)));
        }
        response
    }
}
