//! Per-call options (timeout, extra headers and query parameters, retry policy) carried by a
//! cheap view of the client, and the metadata of an answer (status, headers, request id).
//!
//! Design: generated methods live on [`Client`] and build every request through one pipeline,
//! so options ride on the client itself (`Client::with_options` returns a clone whose shared
//! `Arc` also points at the options) and that pipeline reads them. No generated method is
//! doubled and the generated code is unchanged, so compile time does not move.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// The response header PostHog's request id would arrive in. PostHog's Django app does not
/// document one; `X-Request-Id` is what its ingress and most proxies set, so it is read when
/// present.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Headers the pipeline owns: credentials, framing and the body's encoding. An extra header
/// may not replace them, since that could send a second identity or a body the server reads
/// differently from what the client built.
pub(super) const RESERVED_HEADERS: &[HeaderName] = &[
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
    header::HOST,
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
];

/// Options for the calls made through a client view ([`Client::with_options`]): every request
/// such a view sends, generated methods and the raw layer alike, follows them; the client they
/// came from is unchanged.
///
/// ```no_run
/// use std::time::Duration;
/// use posthog_api::request::RequestOptions;
/// # async fn run(client: posthog_api::Client) -> posthog_api::Result<()> {
/// let options = RequestOptions::new()
///     .timeout(Duration::from_secs(5))
///     .header("Idempotency-Key", "3f1c0a")
///     .query("mode", "fast");
/// let me = client.with_options(options).users_retrieve("@me").await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct RequestOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) headers: HeaderMap,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) meta: Option<MetaSlot>,
    /// The first invalid setting, reported when a request is sent (setters stay chainable).
    pub(crate) error: Option<(String, String)>,
}

impl fmt::Debug for RequestOptions {
    // Header values are sensitive (see `header`); the values of query credentials (`token`)
    // are redacted here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestOptions")
            .field("timeout", &self.timeout)
            .field("headers", &self.headers)
            .field("query", &super::follow::DebugQuery(&self.query))
            .field("retry", &self.retry)
            .field("meta", &self.meta)
            .field("error", &self.error)
            .finish()
    }
}

impl RequestOptions {
    /// No options: the client's settings apply.
    pub fn new() -> Self {
        Self::default()
    }

    /// A timeout for each attempt of these calls, replacing the client's
    /// ([`crate::ClientBuilder::timeout`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a header (a tracing or idempotency header, ...). Headers the client owns
    /// (`Authorization`, `Cookie`, `Host`, `Content-Type`, `Content-Length`, `Content-Encoding`,
    /// ...) and names or values that are not valid HTTP make every call fail unsent with
    /// [`Error::InvalidArgument`].
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let parsed = HeaderName::try_from(name)
            .ok()
            .zip(HeaderValue::try_from(value).ok());
        match parsed {
            Some((name, _)) if RESERVED_HEADERS.contains(&name) => self.failed(
                format!("header `{name}`"),
                "the client sets this header itself; it cannot be replaced per call",
            ),
            Some((name, mut value)) => {
                // Per-call headers may carry CSRF tokens and the like: kept out of `Debug`.
                value.set_sensitive(true);
                self.headers.append(name, value);
                self
            }
            None => self.failed(
                format!("header `{name}`"),
                "not a valid HTTP header name and value",
            ),
        }
    }

    /// Adds a query parameter to every request, replacing a parameter of the same name a
    /// request (or a followed `next` link) already has. `personal_api_key` is refused at send,
    /// like any second key; a `token` selects the project instead of the client's.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The retry policy for these calls, replacing the client's.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Records the metadata of each successful answer into `slot` (the last one wins, e.g. the
    /// last page of a listing). [`Client::with_meta`] wraps this for a single call.
    pub fn record_meta(mut self, slot: &MetaSlot) -> Self {
        self.meta = Some(slot.clone());
        self
    }

    fn failed(mut self, field: String, reason: &str) -> Self {
        if self.error.is_none() {
            self.error = Some((field, reason.to_owned()));
        }
        self
    }

    /// The first invalid setting, as the error of a request for `operation`.
    pub(crate) fn check(&self, operation: &'static str) -> Result<()> {
        match &self.error {
            Some((field, reason)) => Err(Error::InvalidArgument {
                operation,
                field: field.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// What an answer said besides its body.
#[derive(Debug, Clone)]
pub struct ResponseMeta {
    /// The HTTP status.
    pub status: StatusCode,
    /// Every response header.
    pub headers: HeaderMap,
    /// PostHog's request id ([`REQUEST_ID_HEADER`]), when the answer carried one.
    pub request_id: Option<String>,
}

impl ResponseMeta {
    pub(crate) fn new(status: StatusCode, headers: &HeaderMap) -> Self {
        Self {
            status,
            headers: headers.clone(),
            request_id: request_id(headers),
        }
    }
}

/// The request id an answer carries, if any.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// A place calls made with [`RequestOptions::record_meta`] leave the metadata of their answer.
/// Cheap to clone; clones share the slot.
#[derive(Debug, Clone, Default)]
pub struct MetaSlot(Arc<Mutex<Option<ResponseMeta>>>);

impl MetaSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the metadata recorded last, leaving the slot empty.
    pub fn take(&self) -> Option<ResponseMeta> {
        // A panic elsewhere while holding the lock leaves valid data behind.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    pub(crate) fn record(&self, meta: ResponseMeta) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(meta);
    }
}

impl Client {
    /// A view of this client whose calls follow `options` (per-call timeout, headers, query
    /// parameters, retry policy). Costs one allocation; connections, rate-limit budgets and
    /// settings stay shared with this client, which is unchanged. Options given to a view of a
    /// view replace the earlier ones.
    pub fn with_options(&self, options: RequestOptions) -> Client {
        Client {
            inner: self.inner.clone(),
            options: Some(Arc::new(options)),
        }
    }

    /// The options of this view, if it is one.
    pub fn options(&self) -> Option<&RequestOptions> {
        self.options.as_deref()
    }

    /// Runs `call` on a view of this client that records the answer's metadata, and returns
    /// its value with the metadata of the last successful answer. Works with every method:
    ///
    /// ```no_run
    /// # async fn run(client: posthog_api::Client) -> posthog_api::Result<()> {
    /// let (me, meta) = client
    ///     .with_meta(|client| async move { client.users_retrieve("@me").await })
    ///     .await?;
    /// println!("{} {:?}", meta.status, meta.request_id);
    /// # Ok(()) }
    /// ```
    ///
    /// A call that sent no request (refused before sending) returns its error; one that
    /// returned a value without any answer is an [`Error::InvalidArgument`].
    pub async fn with_meta<T, F, Fut>(&self, call: F) -> Result<(T, ResponseMeta)>
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let slot = MetaSlot::new();
        let options = self
            .options()
            .cloned()
            .unwrap_or_default()
            .record_meta(&slot);
        let value = call(self.with_options(options)).await?;
        match slot.take() {
            Some(meta) => Ok((value, meta)),
            None => Err(Error::InvalidArgument {
                operation: "with_meta",
                field: "call".into(),
                reason: "the call received no answer to take metadata from".into(),
            }),
        }
    }
}
