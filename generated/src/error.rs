//! The error every client call returns, shaped after PostHog's `{type, code, detail, attr}` bodies
//! (and RFC 9457 `application/problem+json` ones, whose `type`, `title` and `detail` land in the
//! same fields).

use std::fmt;
use std::time::Duration;

use http::StatusCode;
use serde::{Deserialize, Serialize};

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// PostHog's error body. Every member is optional because older endpoints answer only `detail`.
/// An RFC 9457 problem (`application/problem+json`) decodes into it too: its `type` URI into
/// `kind`, its `detail` as it is, or its `title` when it has no `detail` (the whole body stays in
/// [`ApiError::raw`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WireErrorBody")]
pub struct ApiErrorBody {
    /// Error class, e.g. `authentication_error`, `validation_error`, `throttled`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Machine-readable code, e.g. `invalid_personal_api_key`, `invalid_project`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request field the error is about, for validation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attr: Option<String>,
}

/// An error body as it arrives: PostHog's members plus an RFC 9457 `title`, which fills
/// `detail` when that is missing. A separate type rather than a fifth member, which would make
/// every `Result<_, ServerError>` too large for clippy's `result_large_err`.
#[derive(Deserialize)]
struct WireErrorBody {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    attr: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

impl From<WireErrorBody> for ApiErrorBody {
    fn from(wire: WireErrorBody) -> Self {
        Self {
            kind: wire.kind,
            code: wire.code,
            detail: wire.detail.or(wire.title),
            attr: wire.attr,
        }
    }
}

/// Which request an answer was to: method, path template and PostHog's request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// The HTTP method.
    pub method: http::Method,
    /// The path template (`/api/projects/{project_id}/feature_flags/{id}/`), never the filled
    /// path, whose arguments may be data the caller does not want in logs.
    pub path: std::borrow::Cow<'static, str>,
    /// PostHog's request id (the `X-Request-Id` answer header), when the answer carried one:
    /// quote it when asking PostHog about a failure.
    pub request_id: Option<String>,
}

/// A non-success HTTP answer, with everything PostHog said about it.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The operation that failed (its `operationId`; `request` for a raw request to a path no
    /// operation has).
    pub operation: &'static str,
    /// The method, path template and request id (boxed to keep [`Error`] small).
    pub request: Box<RequestInfo>,
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// PostHog's error body when the answer carried one (boxed to keep [`Error`] small).
    pub body: Box<ApiErrorBody>,
    /// The raw body text, kept whole so nothing the server said is lost.
    pub raw: String,
    /// Personal API key scopes the operation requires (from the schema).
    pub required_scopes: &'static [&'static str],
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` ({} {}) answered {}",
            self.operation, self.request.method, self.request.path, self.status
        )?;
        if let Some(kind) = &self.body.kind {
            write!(f, " {kind}")?;
        }
        if let Some(code) = &self.body.code {
            write!(f, "/{code}")?;
        }
        match (
            &self.body.detail,
            self.body.kind.is_some() || self.body.code.is_some(),
        ) {
            (Some(detail), _) => write!(f, ": {detail}")?,
            (None, false) if !self.raw.is_empty() => write!(f, ": {}", truncate(&self.raw, 200))?,
            _ => {}
        }
        if let Some(attr) = &self.body.attr {
            write!(f, " (field `{attr}`)")?;
        }
        if self.status == StatusCode::FORBIDDEN && !self.required_scopes.is_empty() {
            write!(
                f,
                "; this operation requires the scopes {}",
                self.required_scopes.join(", ")
            )?;
        }
        if self.status.is_redirection() && self.status != StatusCode::NOT_MODIFIED {
            write!(
                f,
                "; redirects are followed only within the configured base URL, so credentials are never forwarded elsewhere"
            )?;
        }
        if let Some(after) = self.retry_after {
            write!(f, "; retry after {}s", after.as_secs())?;
        }
        if let Some(id) = &self.request.request_id {
            write!(f, "; request id {id}")?;
        }
        Ok(())
    }
}

fn truncate(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

/// Every way a call can fail. Match on the variant; the details are in the payload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401: missing, malformed or revoked key (`authentication_error`).
    #[error("authentication failed: {0}")]
    Authentication(ApiError),
    /// 403: the key lacks a scope or the user lacks access; `required_scopes` says which scopes.
    #[error("permission denied: {0}")]
    PermissionDenied(ApiError),
    /// 404: no such object, or not visible to this key.
    #[error("not found: {0}")]
    NotFound(ApiError),
    /// 400: the server rejected the request; `body.attr` names the field.
    #[error("invalid request: {0}")]
    Validation(ApiError),
    /// 429: throttled; `retry_after` says when to come back.
    #[error("throttled: {0}")]
    Throttled(ApiError),
    /// 413: the server refused the body as too large.
    #[error("payload too large: {0}")]
    PayloadTooLarge(ApiError),
    /// 5xx: the server failed, e.g. 503 `server_error`/`fetch_team_fail` while PostHog cannot load
    /// the project; [`Error::is_retryable`] is true.
    #[error("server error: {0}")]
    Server(ApiError),
    /// 304: the resource has not changed since the `If-None-Match` / `If-Modified-Since` the
    /// request carried (a per-call header). Methods whose schema declares those parameters
    /// return [`crate::request::Conditional`] instead, with the validators to send next time.
    #[error("not modified: {0}")]
    NotModified(ApiError),
    /// Any other non-success status.
    #[error("unexpected answer: {0}")]
    Api(ApiError),
    /// The request body is over PostHog's 20 MB cap; nothing was sent.
    #[error(
        "`{operation}`: request body is {size} bytes, over the {limit} byte limit; nothing was sent"
    )]
    RequestTooLarge {
        /// The operation that was not called.
        operation: &'static str,
        /// Size of the encoded body.
        size: usize,
        /// The limit it exceeds.
        limit: usize,
    },
    /// The request could not be built from the arguments given.
    #[error("`{operation}`: invalid argument `{field}`: {reason}")]
    InvalidArgument {
        /// The operation that was not called.
        operation: &'static str,
        /// The argument or body field at fault.
        field: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The request never got an HTTP answer (connection, timeout, TLS).
    #[error("`{operation}`: transport error: {source}")]
    Transport {
        /// The operation being called.
        operation: &'static str,
        /// The underlying error, with the URL removed so no query-string key can leak.
        #[source]
        source: reqwest::Error,
    },
    /// The answer did not match the schema's type for it.
    #[error("`{operation}`: could not decode the {status} answer at `{path}`: {message}")]
    Decode {
        /// The operation being called.
        operation: &'static str,
        /// HTTP status of the answer.
        status: StatusCode,
        /// Where in the body decoding failed, as a serde path (`results[3].filters`).
        path: String,
        /// What serde expected.
        message: String,
        /// The raw body, kept so nothing is lost.
        body: String,
    },
    /// A pagination `next` link pointed somewhere other than the listing itself: another
    /// host, or another route (or application) on the configured host.
    #[error(
        "`{operation}`: refused to follow `next` to {origin}, which is not the listing at {expected}"
    )]
    ForeignNextUrl {
        /// The operation being paginated.
        operation: &'static str,
        /// Scheme, host and port of the refused link, followed by its path when only the path
        /// differs (never the query, which may hold data).
        origin: String,
        /// Scheme, host and port the client is configured with, followed by the listing's path
        /// when only the path differs.
        expected: String,
    },
    /// A pagination `next` link named a page this listing had already fetched: following it
    /// would fetch the same pages forever.
    #[error(
        "`{operation}`: the `next` link {url} repeats a page this listing already fetched; stopped instead of looping"
    )]
    PaginationLoop {
        /// The operation being paginated.
        operation: &'static str,
        /// The repeated link, without credentials.
        url: String,
    },
    /// The answer's body was over the client's cap (counted after decompression); reading
    /// stopped there and nothing of it is kept.
    #[error(
        "`{operation}`: the {status} answer is over the {limit} byte limit; raise ClientBuilder::max_response_bytes if it is expected"
    )]
    ResponseTooLarge {
        /// The operation being called.
        operation: &'static str,
        /// HTTP status of the answer.
        status: StatusCode,
        /// The cap it passed.
        limit: usize,
    },
    /// The shared rate-limit store (e.g. Redis) could not be reached and the limiter is set to
    /// [`crate::rate_limit::StoreFailure::FailRequest`]: the request was not sent.
    #[error(transparent)]
    RateLimitStore(#[from] crate::rate_limit::StoreError),
    /// Fetching one page of a paginated listing failed; `url` names the page (without
    /// credentials) so the listing can be resumed from it, and `source` says what went wrong.
    #[error("page {url}: {source}")]
    Page {
        /// The page's URL, with `personal_api_key` and `token` removed.
        url: String,
        /// Why the page could not be fetched or decoded.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// The API error details, for variants that carry an HTTP answer.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Authentication(e)
            | Error::PermissionDenied(e)
            | Error::NotFound(e)
            | Error::Validation(e)
            | Error::Throttled(e)
            | Error::PayloadTooLarge(e)
            | Error::Server(e)
            | Error::NotModified(e)
            | Error::Api(e) => Some(e),
            Error::Page { source, .. } => source.api_error(),
            _ => None,
        }
    }

    /// HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        self.api_error().map(|e| e.status)
    }

    /// The HTTP method of the request that got a non-success answer.
    pub fn method(&self) -> Option<&http::Method> {
        self.api_error().map(|e| &e.request.method)
    }

    /// The path template of the request that got a non-success answer (never the filled path).
    pub fn path_template(&self) -> Option<&str> {
        self.api_error().map(|e| e.request.path.as_ref())
    }

    /// PostHog's request id for a non-success answer, when it sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.api_error()
            .and_then(|e| e.request.request_id.as_deref())
    }

    /// Classifies a non-success answer into its variant.
    pub(crate) fn from_answer(error: ApiError) -> Error {
        match error.status.as_u16() {
            401 => Error::Authentication(error),
            403 => Error::PermissionDenied(error),
            404 => Error::NotFound(error),
            400 | 422 => Error::Validation(error),
            413 => Error::PayloadTooLarge(error),
            429 => Error::Throttled(error),
            304 => Error::NotModified(error),
            500..=599 => Error::Server(error),
            _ => Error::Api(error),
        }
    }

    pub(crate) fn transport(operation: &'static str, source: reqwest::Error) -> Error {
        Error::Transport {
            operation,
            source: source.without_url(),
        }
    }

    /// The operation that failed (its `operationId`), or `build_client` for configuration errors.
    pub fn operation(&self) -> &'static str {
        match self {
            Error::RequestTooLarge { operation, .. }
            | Error::InvalidArgument { operation, .. }
            | Error::Transport { operation, .. }
            | Error::Decode { operation, .. }
            | Error::ForeignNextUrl { operation, .. }
            | Error::PaginationLoop { operation, .. }
            | Error::ResponseTooLarge { operation, .. } => operation,
            Error::Page { source, .. } => source.operation(),
            other => other.api_error().map_or("", |e| e.operation),
        }
    }

    /// PostHog's error class (`type`), e.g. `validation_error`, `authentication_error`, `throttled`.
    pub fn error_type(&self) -> Option<&str> {
        self.api_error().and_then(|e| e.body.kind.as_deref())
    }

    /// PostHog's machine-readable `code`, e.g. `invalid_project`, `invalid_personal_api_key`,
    /// `fetch_team_fail`.
    pub fn code(&self) -> Option<&str> {
        self.api_error().and_then(|e| e.body.code.as_deref())
    }

    /// PostHog's human-readable `detail`.
    pub fn detail(&self) -> Option<&str> {
        self.api_error().and_then(|e| e.body.detail.as_deref())
    }

    /// The request field a validation error is about (PostHog's `attr`).
    pub fn attr(&self) -> Option<&str> {
        self.api_error().and_then(|e| e.body.attr.as_deref())
    }

    /// How long the server asked the client to wait (`Retry-After`), when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api_error().and_then(|e| e.retry_after)
    }

    /// The scopes the failed operation requires (from the schema), on a 403.
    pub fn required_scopes(&self) -> &'static [&'static str] {
        match self {
            Error::PermissionDenied(e) => e.required_scopes,
            _ => &[],
        }
    }

    /// The scopes a 403 says the key lacks: those of the operation's required scopes that
    /// PostHog's `detail` names, or all of them when it names none.
    pub fn missing_scopes(&self) -> Vec<&'static str> {
        let required = self.required_scopes();
        let named: Vec<&'static str> = match self.detail() {
            Some(detail) => required
                .iter()
                .copied()
                .filter(|scope| detail.contains(scope))
                .collect(),
            None => Vec::new(),
        };
        if named.is_empty() {
            required.to_vec()
        } else {
            named
        }
    }

    /// Whether the same request may succeed later without changes: throttling, a server error
    /// (503 `fetch_team_fail` included) or a failed connection. The client's [`crate::retry::RetryPolicy`]
    /// already retried idempotent requests before returning.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Throttled(_) | Error::Server(_) => true,
            Error::Page { source, .. } => source.is_retryable(),
            Error::Transport { source, .. } => {
                source.is_timeout() || source.is_connect() || source.is_request()
            }
            _ => false,
        }
    }

    /// Whether the key itself was refused (401), as opposed to lacking permission (403).
    pub fn is_authentication(&self) -> bool {
        matches!(self, Error::Authentication(_))
    }
}

/// `text` without any of `secrets` (the client's own, in every form it sends them: see
/// `request::redaction_secrets`), nor anything shaped like a PostHog key. Every error text that
/// holds something a server sent goes through here.
pub(crate) fn redact(secrets: &[secrecy::SecretString], text: &str) -> String {
    use secrecy::ExposeSecret as _;
    let mut text = std::borrow::Cow::Borrowed(text);
    for secret in secrets {
        let secret = secret.expose_secret();
        if !secret.is_empty() && text.contains(secret) {
            text = std::borrow::Cow::Owned(text.replace(secret, "[redacted]"));
        }
    }
    redact_keys(&text).into_owned()
}

/// Replaces anything shaped like a PostHog key (`phx_`, `phc_`, `phs_` or `pha_` followed by key
/// characters) with its prefix and `[redacted]`, so that a server or proxy echoing a request back
/// cannot put a key into an error message. Keys without these prefixes (very old personal keys)
/// are not recognised; the client's own messages never hold them.
pub(crate) fn redact_keys(text: &str) -> std::borrow::Cow<'_, str> {
    const PREFIXES: [&str; 4] = ["phx_", "phc_", "phs_", "pha_"];
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !PREFIXES.iter().any(|prefix| text.contains(prefix)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((index, prefix)) = PREFIXES
        .iter()
        .filter_map(|prefix| rest.find(prefix).map(|index| (index, *prefix)))
        .min_by_key(|(index, _)| *index)
    {
        out.push_str(&rest[..index]);
        out.push_str(prefix);
        let after = &rest[index + prefix.len()..];
        let key_len = after.find(|c: char| !is_key_char(c)).unwrap_or(after.len());
        if key_len > 0 {
            out.push_str("[redacted]");
        }
        rest = &after[key_len..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}
