//! The request pipeline every generated method runs through: encode, authenticate, limit,
//! send, retry, and decode or classify the answer; and its documented doors: per-call
//! [`RequestOptions`] with [`ResponseMeta`] (see [`Client::with_options`],
//! [`Client::with_meta`]), and the raw layer ([`Client::request`], [`Client::operation`]) for
//! what the schema lacks. What generated methods call (`RequestBuilder`, `Client::__op` and
//! the other `__` constructors) is crate-private: all generated code lives in this crate.

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::{KeyPlacement, PrivateAuth};
use crate::client::{Client, MAX_BODY_BYTES};
use crate::error::{ApiError, ApiErrorBody, Error, Result};
use crate::operation::{HostKind, Operation};
use crate::retry::Outcome;

mod conditional;
mod credentials;
mod follow;
mod multipart;
mod options;
mod params;
mod raw;

pub use conditional::{Conditional, Validators};
pub use http::Method;
pub use options::{MetaSlot, REQUEST_ID_HEADER, RequestOptions, ResponseMeta};
pub use raw::{RawRequest, RawResponse};

pub(crate) use credentials::redaction_secrets;
use credentials::*;
pub(crate) use follow::link_without_credentials;
// The flag-definitions poller reads the request id of its own requests.
#[cfg(feature = "public")]
pub(crate) use options::request_id;

/// Characters left as they are in a path segment: RFC 3986's unreserved characters plus `@` and
/// `:`, which a segment may hold literally and which PostHog routes match literally
/// (`/api/users/@me/`).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b':');

/// Percent-encodes one path argument as one segment, so that `/`, `?`, `#` or `\` in a value
/// cannot change the route; refuses a value that would still leave it (see [`segment_problem`]).
fn path_segment(op: &Operation, name: &str, value: &str) -> Result<String> {
    if let Some(reason) = segment_problem(value) {
        return Err(Error::InvalidArgument {
            operation: op.id,
            field: name.to_owned(),
            reason: reason.to_owned(),
        });
    }
    Ok(utf8_percent_encode(value, PATH_SEGMENT).to_string())
}

/// Why `value` cannot be a path segment: empty, or a dot segment (`.`, `..`) either as given or
/// once percent-decoded. The URL standard resolves `%2e` like `.`, and every server or proxy
/// that decodes the path once more could turn `%252e` into one, so each decoding is checked
/// until nothing changes. Encoding `.` would not help: `%2E` is a dot segment too.
fn segment_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return Some("an empty path segment would address the parent route");
    }
    // Decoding only ever turns `%` and hex digits into other characters, so a value holding
    // anything else can never decode to a dot segment: most values stop here.
    if !value
        .chars()
        .all(|c| c == '.' || c == '%' || c.is_ascii_hexdigit())
    {
        return None;
    }
    let mut text = std::borrow::Cow::Borrowed(value);
    loop {
        if matches!(text.as_ref(), "." | "..") {
            return Some(
                "`.` and `..` (also percent-encoded, e.g. `%2e`) would address another route",
            );
        }
        let decoded = percent_encoding::percent_decode_str(&text).decode_utf8_lossy();
        // A decoding that changes anything shortens the text, so this loop ends.
        if decoded.len() == text.len() {
            return None;
        }
        text = std::borrow::Cow::Owned(decoded.into_owned());
    }
}

// Used through `Client::__op`, which generated methods and `public` call: dead code in a build
// without any of their features.
#[allow(dead_code)]
/// A path argument. `Sync`, so the temporary slice of them a generated method builds does not
/// stop the method's future from being `Send` (users spawn these futures on multi-threaded
/// runtimes).
pub(crate) type PathArg<'a> = &'a (dyn std::fmt::Display + Sync);

// Used through `Client::__op`, which generated methods and `public` call: dead code in a build
// without any of their features.
#[allow(dead_code)]
/// Fills `op`'s path template: `{project_id}` from `project` when given, every other
/// placeholder from `args` in order, each percent-encoded as one segment. A value that cannot
/// be one segment is an [`Error::InvalidArgument`] naming its placeholder.
fn fill_path(op: &Operation, project: Option<&str>, args: &[PathArg<'_>]) -> Result<String> {
    let template = op.path;
    let mut out = String::with_capacity(template.len() + 16);
    let mut args = args.iter();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(length) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + length];
        let value = match (name, project) {
            ("project_id", Some(project)) => project.to_owned(),
            _ => args.next().map(ToString::to_string).unwrap_or_default(),
        };
        out.push_str(&path_segment(op, name, &value)?);
        rest = &rest[start + length + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A redirect policy that follows a redirect only when it stays within the configured base URL
/// the request was sent under (scheme, host, port and path prefix), so a redirect never
/// carries credentials to another host, nor to another application on the same host.
pub(crate) fn redirects_within(hosts: &crate::auth::Hosts) -> reqwest::redirect::Policy {
    let bases = [hosts.private.clone(), hosts.public.clone()];
    reqwest::redirect::Policy::custom(move |attempt| {
        let allowed = attempt
            .previous()
            .first()
            .and_then(|first| bases.iter().find(|base| within(first, base)))
            .is_some_and(|base| within(attempt.url(), base));
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if allowed {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Whether `url` is under `base`: same origin, and a path inside the base's path prefix.
pub(crate) fn within(url: &url::Url, base: &url::Url) -> bool {
    let prefix = base.path().trim_end_matches('/');
    url.origin() == base.origin()
        && url
            .path()
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

// Multipart bodies are built only by generated methods of tags that upload files: dead code
// in a build without those features.
#[allow(dead_code)]
/// A request body, kept in a form that can be sent again on retry.
#[derive(Debug, Clone)]
enum Body {
    None,
    Json(Bytes),
    Multipart(Vec<(String, MultipartValue)>),
    /// `application/x-www-form-urlencoded` fields, in order.
    Form(Vec<(String, String)>),
}

// Multipart bodies are built only by generated methods of tags that upload files: dead code
// in a build without those features.
#[allow(dead_code)]
#[derive(Debug, Clone)]
enum MultipartValue {
    Text(String),
    File(Bytes),
    /// A `format: binary` member, with its file name and content type.
    FilePart(crate::multipart::FilePart),
}

/// One request being built by a generated method.
#[derive(Debug)]
pub(crate) struct RequestBuilder {
    client: Client,
    op: &'static Operation,
    /// The path template errors name, when it is not `op.path` (a raw request's own).
    template: Option<std::sync::Arc<str>>,
    path: String,
    query: Vec<(std::borrow::Cow<'static, str>, String)>,
    body: Body,
    accept: &'static str,
    /// Header parameters, checked (see [`Self::header`]).
    headers: Vec<(http::HeaderName, HeaderValue)>,
    /// Cookie parameters as `name=value`, checked (see [`Self::cookie`]).
    cookies: Vec<String>,
    /// The JSON body's media type when it is not `application/json`.
    content_type: Option<HeaderValue>,
    /// Take `304 Not Modified` as an answer rather than an error ([`Conditional`]).
    not_modified_ok: bool,
    error: Option<Error>,
    /// A pagination `next` link that replaces base URL, path and query (see [`Self::__follow`]).
    absolute: Option<url::Url>,
    /// Send the JSON body gzip-compressed (see [`Self::__gzip`]).
    gzip: bool,
    /// Hand back a non-success answer (after retries) instead of turning it into an error: the
    /// raw layer's `send`.
    keep_answer: bool,
}

// Generated methods, `public` and the raw layer call these; which of them a build uses depends
// on the tag features (and the schema), so some are dead code in builds without those features.
#[allow(dead_code)]
impl Client {
    /// Starts a request for `op`, filling the path template's placeholders with `args` in order.
    pub(crate) fn __op(&self, op: &'static Operation, args: &[PathArg<'_>]) -> RequestBuilder {
        self.__request_at(op, fill_path(op, None, args))
    }

    /// Same as [`Self::__op`] for project-scoped operations: `{project_id}` takes `project`,
    /// or the client's default project.
    pub(crate) fn __project_op(
        &self,
        op: &'static Operation,
        project: crate::client::ProjectId,
        args: &[PathArg<'_>],
    ) -> RequestBuilder {
        let path = self
            .__project_id(op.id, project)
            .and_then(|project| fill_path(op, Some(&project), args));
        self.__request_at(op, path)
    }

    /// Starts a request for `op`; [`Self::__op`], [`Self::__project_op`] and the raw layer pass
    /// the path they built, or the error that stopped them building it (reported when the
    /// request is sent).
    pub(crate) fn __request_at(
        &self,
        op: &'static Operation,
        path: Result<String>,
    ) -> RequestBuilder {
        let (path, error) = match path {
            Ok(path) => (path, None),
            Err(error) => (String::new(), Some(error)),
        };
        RequestBuilder {
            client: self.clone(),
            op,
            template: None,
            path,
            query: Vec::new(),
            body: Body::None,
            accept: "application/json",
            headers: Vec::new(),
            cookies: Vec::new(),
            content_type: None,
            not_modified_ok: false,
            error,
            absolute: None,
            gzip: false,
            keep_answer: false,
        }
    }
}

// Generated methods, `public` and the raw layer call these; which of them a build uses depends
// on the tag features (and the schema), so some are dead code in builds without those features.
#[allow(dead_code)]
impl RequestBuilder {
    /// Adds a query parameter; `None` adds nothing, arrays repeat the name (`explode`).
    pub fn query<T: Serialize + ?Sized>(mut self, name: &'static str, value: &T) -> Self {
        self.push_query(name, value, true);
        self
    }

    /// Adds an array query parameter as one comma-separated value (`explode: false`).
    pub fn query_csv<T: Serialize + ?Sized>(mut self, name: &'static str, value: &T) -> Self {
        self.push_query(name, value, false);
        self
    }

    fn push_query<T: Serialize + ?Sized>(
        &mut self,
        name: impl Into<std::borrow::Cow<'static, str>>,
        value: &T,
        explode: bool,
    ) {
        let name = name.into();
        match serde_json::to_value(value) {
            Ok(serde_json::Value::Null) => {}
            // drf reads arrays of objects (e.g. `properties` filters) as one JSON-encoded value.
            Ok(serde_json::Value::Array(items))
                if items.iter().any(|i| i.is_object() || i.is_array()) =>
            {
                self.query
                    .push((name, serde_json::Value::Array(items).to_string()));
            }
            Ok(serde_json::Value::Array(items)) if explode => {
                for item in items {
                    self.query.push((name.clone(), scalar_text(item)));
                }
            }
            Ok(serde_json::Value::Array(items)) => {
                let joined: Vec<String> = items.into_iter().map(scalar_text).collect();
                self.query.push((name, joined.join(",")));
            }
            Ok(other) => self.query.push((name, scalar_text(other))),
            Err(error) => self.fail(&name, error.to_string()),
        }
    }

    /// Sets a JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => self.body = Body::Json(Bytes::from(bytes)),
            Err(error) => self.fail("body", error.to_string()),
        }
        self
    }

    /// Sets a JSON body when there is one.
    pub fn json_opt<T: Serialize + ?Sized>(self, body: Option<&T>) -> Self {
        match body {
            Some(body) => self.json(body),
            None => self,
        }
    }

    /// Sets a `multipart/form-data` body when there is one.
    pub fn multipart_opt<T: Serialize + ?Sized>(self, body: Option<&T>, files: &[&str]) -> Self {
        match body {
            Some(body) => self.multipart(body, files),
            None => self,
        }
    }

    /// Sets a `multipart/form-data` body: each top-level member of `body` becomes a part, strings
    /// as text and other values as JSON text, and members named in `files` as file parts.
    pub fn multipart<T: Serialize + ?Sized>(mut self, body: &T, files: &[&str]) -> Self {
        let Some(members) = self.body_members(body, "a multipart body must be an object") else {
            return self;
        };
        let mut parts = Vec::with_capacity(members.len());
        for (name, value) in members {
            let part = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(text) if files.contains(&name.as_str()) => {
                    MultipartValue::File(Bytes::from(text.into_bytes()))
                }
                serde_json::Value::String(text) => MultipartValue::Text(text),
                other => MultipartValue::Text(other.to_string()),
            };
            parts.push((name, part));
        }
        self.body = Body::Multipart(parts);
        self
    }

    /// The top-level members of a multipart or form body; `None` (with the failure recorded)
    /// when it is not an object.
    fn body_members<T: Serialize + ?Sized>(
        &mut self,
        body: &T,
        not_object: &str,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        match serde_json::to_value(body) {
            Ok(serde_json::Value::Object(members)) => Some(members),
            Ok(_) => {
                self.fail("body", not_object.to_owned());
                None
            }
            Err(error) => {
                self.fail("body", error.to_string());
                None
            }
        }
    }

    /// Adds the file parts of a `format: binary` body member (after [`Self::multipart`]).
    pub fn file_part<P: crate::multipart::FileParts + ?Sized>(
        mut self,
        name: &'static str,
        parts: &P,
    ) -> Self {
        let mut files = Vec::new();
        parts.file_parts(&mut files);
        for file in files {
            if reqwest::multipart::Part::bytes(Vec::new())
                .mime_str(file.content_type())
                .is_err()
            {
                return self.failed(name, "the file's content type is not a valid media type");
            }
            if let Body::Multipart(body) = &mut self.body {
                body.push((name.to_owned(), MultipartValue::FilePart(file.clone())));
            }
        }
        self
    }

    /// Sends the JSON body gzip-compressed with `Content-Encoding: gzip`, for endpoints that
    /// accept it (PostHog's capture and batch endpoints). Other bodies are sent as they are.
    pub(crate) fn __gzip(mut self) -> Self {
        self.gzip = true;
        self
    }

    /// Asks for another representation of the answer (`text/csv`, `text/event-stream`).
    pub fn accept(mut self, media_type: &'static str) -> Self {
        self.accept = media_type;
        self
    }

    fn fail(&mut self, field: &str, reason: String) {
        if self.error.is_none() {
            self.error = Some(Error::InvalidArgument {
                operation: self.op.id,
                field: field.to_owned(),
                reason,
            });
        }
    }

    fn failed(mut self, field: &str, reason: &str) -> Self {
        self.fail(field, reason.to_owned());
        self
    }

    /// Sends the request and decodes a JSON answer into `T`.
    pub async fn send_json<T: DeserializeOwned>(self) -> Result<T> {
        self.send().await?.decode_json()
    }

    /// Sends the request and returns the answer as JSON, whatever its shape (an empty body is
    /// `null`): used where the schema documents no response body but servers send one anyway.
    pub async fn send_value(self) -> Result<serde_json::Value> {
        self.send().await?.value()
    }

    /// Sends the request and returns the answer's bytes as they came (binary downloads:
    /// spreadsheets, archives, `application/octet-stream`), within `max_response_bytes`.
    pub async fn send_bytes(self) -> Result<Bytes> {
        Ok(self.send().await?.body)
    }

    /// Sends the request and returns the answer as text (`text/csv`).
    pub async fn send_text(self) -> Result<String> {
        self.send().await?.text()
    }

    /// Sends the request and ignores the (empty) answer body.
    pub async fn send_empty(self) -> Result<()> {
        self.send().await.map(|_| ())
    }

    /// Sends the request and returns the answer's body as a stream of chunks
    /// (`text/event-stream`), without buffering it.
    pub async fn send_stream(self) -> Result<crate::stream::ByteStream> {
        let op = self.op;
        let response = self.send_raw().await?;
        Ok(crate::stream::ByteStream::new(op.id, response))
    }

    /// Sends the request and buffers the whole successful answer.
    pub(crate) async fn send(self) -> Result<Answer> {
        let reader = self.reader();
        let response = self.send_raw().await?;
        reader.read(response).await
    }

    /// What reading this request's answer needs once the builder is spent.
    fn reader(&self) -> AnswerReader {
        AnswerReader {
            op: self.op,
            limit: self.client.inner.max_response_bytes,
            secrets: self.client.inner.secrets.clone(),
            echoes: self.query_credentials(),
        }
    }

    /// Sends the request with authentication, rate limiting and retries, and returns the first
    /// successful response; non-success answers become [`Error`]s (or, for the raw layer, the
    /// last one is returned as it is).
    async fn send_raw(self) -> Result<reqwest::Response> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let options = self.client.options.clone();
        if let Some(options) = &options {
            options.check(self.op.id)?;
        }
        let prepared = self.prepare()?;
        let inner = &self.client.inner;
        let retry = options
            .as_ref()
            .and_then(|options| options.retry.as_ref())
            .unwrap_or(&inner.retry);
        let record = |response: &reqwest::Response| {
            if let Some(slot) = options.as_ref().and_then(|options| options.meta.as_ref()) {
                slot.record(ResponseMeta::new(response.status(), response.headers()));
            }
        };
        // tokio's clock, not std's, so the time budget follows a paused test clock too.
        let started = tokio::time::Instant::now();
        let bucket = inner.bucket_id;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            if prepared.op.host == HostKind::Private {
                inner
                    .limiter
                    .acquire(bucket, prepared.op.throttle_scopes)
                    .await?;
            }
            let result = inner.http.execute(prepared.build(&inner.http)?).await;
            let (outcome, error, kept) = match result {
                Ok(response)
                    if response.status().is_success()
                        || (self.not_modified_ok
                            && response.status() == StatusCode::NOT_MODIFIED) =>
                {
                    record(&response);
                    return Ok(response);
                }
                // The raw layer decides on status and `Retry-After` alone and keeps the body
                // unread for the caller.
                Ok(response) if self.keep_answer => {
                    let outcome =
                        Outcome::Status(response.status(), retry_after(response.headers()));
                    (outcome, None, Some(response))
                }
                Ok(response) => {
                    let error = answer_error(&prepared, response, inner.max_response_bytes).await;
                    if matches!(error, Error::ResponseTooLarge { .. }) {
                        // The same answer would come again, as large.
                        return Err(error);
                    }
                    let outcome = match error.api_error() {
                        Some(api) => Outcome::Status(api.status, api.retry_after),
                        // The body broke off while being read: the connection failed.
                        None => Outcome::Connection,
                    };
                    (outcome, Some(error), None)
                }
                Err(source) => {
                    let outcome = if source.is_timeout() {
                        Outcome::Timeout
                    } else {
                        Outcome::Connection
                    };
                    (
                        outcome,
                        Some(Error::transport(prepared.op.id, source)),
                        None,
                    )
                }
            };
            match retry.decide(prepared.op, attempt, started.elapsed(), &outcome) {
                Ok(delay) => {
                    tracing::warn!(
                        operation = prepared.op.id,
                        attempt,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        outcome = ?outcome,
                        "retrying PostHog request"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(reason) => {
                    if attempt > 1 || reason != crate::retry::GiveUp::NotRetryable {
                        tracing::debug!(
                            operation = prepared.op.id,
                            attempt,
                            reason = ?reason,
                            outcome = ?outcome,
                            "not retrying PostHog request"
                        );
                    }
                    return match (kept, error) {
                        (Some(response), _) => {
                            record(&response);
                            Ok(response)
                        }
                        (None, Some(error)) => Err(error),
                        // Every arm above sets one of the two.
                        (None, None) => Err(Error::InvalidArgument {
                            operation: prepared.op.id,
                            field: "request".into(),
                            reason: "no answer".into(),
                        }),
                    };
                }
            }
        }
    }

    /// The path template errors name: the raw request's own, or the operation's.
    pub(crate) fn path_template(&self) -> std::borrow::Cow<'static, str> {
        match &self.template {
            Some(template) => std::borrow::Cow::Owned(template.to_string()),
            None => std::borrow::Cow::Borrowed(self.op.path),
        }
    }
}

/// The `Retry-After` of an answer, when it has a readable one.
fn retry_after(headers: &http::HeaderMap) -> Option<std::time::Duration> {
    headers
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(crate::retry::parse_retry_after)
}

/// Reads a successful answer: within the size cap, with echoed query credentials removed.
struct AnswerReader {
    op: &'static Operation,
    limit: usize,
    secrets: std::sync::Arc<[SecretString]>,
    echoes: Vec<String>,
}

impl AnswerReader {
    async fn read(self, response: reqwest::Response) -> Result<Answer> {
        let status = response.status();
        let body = read_capped(self.op, response, self.limit).await?;
        Ok(Answer {
            op: self.op,
            status,
            body: strip_echoed_credentials(body, &self.echoes),
            secrets: self.secrets,
        })
    }
}

/// A successful answer, buffered, with what its errors must not show.
pub(crate) struct Answer {
    op: &'static Operation,
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    secrets: std::sync::Arc<[SecretString]>,
}

impl Answer {
    /// Decodes JSON, naming the path inside the body where it failed.
    pub(crate) fn decode_json<T: DeserializeOwned>(&self) -> Result<T> {
        let mut deserializer = serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            // serde quotes the offending value, which may be a key the answer echoes.
            let message = error.inner().to_string();
            self.decode_error(error.path().to_string(), &message)
        })
    }

    /// The answer as JSON, whatever its shape; an empty body is `null`.
    pub(crate) fn value(&self) -> Result<serde_json::Value> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        self.decode_json()
    }

    /// The answer as UTF-8 text.
    pub(crate) fn text(&self) -> Result<String> {
        match std::str::from_utf8(&self.body) {
            Ok(text) => Ok(text.to_owned()),
            Err(error) => Err(self.decode_error(
                ".".into(),
                &format!("the answer is not UTF-8 text: {error}"),
            )),
        }
    }

    /// A decode error keeping the body, with the client's secrets redacted from it and from
    /// serde's message.
    fn decode_error(&self, path: String, message: &str) -> Error {
        Error::Decode {
            operation: self.op.id,
            status: self.status,
            path,
            message: crate::error::redact(&self.secrets, message),
            body: crate::error::redact(&self.secrets, &String::from_utf8_lossy(&self.body)),
        }
    }
}

/// Reads a whole answer body, stopping with [`Error::ResponseTooLarge`] past `limit` bytes as
/// they come out of decompression (a gzip body a thousand times smaller than its content cannot
/// get around the cap).
async fn read_capped(
    op: &Operation,
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes> {
    let status = response.status();
    let too_large = || Error::ResponseTooLarge {
        operation: op.id,
        status,
        limit,
    };
    // Set only for an uncompressed body: refuse it before reading a byte.
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::transport(op.id, e))?
    {
        if chunk.len() > limit - body.len() {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Turns a non-success response into its typed error, keeping the whole body (with any of the
/// client's secrets a server or proxy echoed back redacted).
async fn answer_error(prepared: &Prepared, response: reqwest::Response, limit: usize) -> Error {
    let status = response.status();
    let headers = response.headers().clone();
    match read_capped(prepared.op, response, limit).await {
        Ok(bytes) => classify(
            prepared.op,
            &prepared.info,
            status,
            &headers,
            &bytes,
            &prepared.secrets,
        ),
        Err(error) => error,
    }
}

/// The typed error for a non-success answer: PostHog's error body when it is one, the raw body
/// (secrets redacted) always, and which request it answered.
pub(crate) fn classify(
    op: &'static Operation,
    info: &crate::error::RequestInfo,
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    secrets: &[SecretString],
) -> Error {
    // A server or proxy echoing the request must not put a key into the error.
    let raw = crate::error::redact(secrets, &String::from_utf8_lossy(body));
    let parsed = Box::new(serde_json::from_str::<ApiErrorBody>(&raw).unwrap_or_default());
    let mut info = info.clone();
    info.request_id = options::request_id(headers);
    Error::from_answer(ApiError {
        operation: op.id,
        request: Box::new(info),
        status,
        body: parsed,
        raw,
        required_scopes: op.scopes,
        retry_after: retry_after(headers),
    })
}

fn scalar_text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Credentials, Region};

    /// What a multipart body's members become before they are encoded (the encoding itself is
    /// checked on the wire by `tests/tests/integration/hardening.rs`): strings stay text, members named as
    /// files become file parts, other values become their JSON text, and `null` sends nothing.
    #[test]
    fn multipart_members_become_text_file_and_json_text_parts() {
        static UPLOAD: Operation =
            Operation::private("upload", http::Method::POST, "/up/", "t", &[], &[]);
        let client =
            Client::new(Region::Us, Credentials::personal_api_key("phx_unit")).expect("client");
        let body = serde_json::json!({"file": "x", "title": "t", "count": 3, "gone": null});
        let builder = client.__op(&UPLOAD, &[]).multipart(&body, &["file"]);
        let Body::Multipart(parts) = builder.body else {
            panic!("{:?}", builder.body);
        };
        let parts: Vec<String> = parts
            .iter()
            .map(|(name, value)| match value {
                MultipartValue::Text(text) => format!("{name}=text:{text}"),
                MultipartValue::File(bytes) => format!("{name}=file:{bytes:?}"),
                MultipartValue::FilePart(_) => format!("{name}=part"),
            })
            .collect();
        assert_eq!(parts, ["file=file:b\"x\"", "title=text:t", "count=text:3"]);
    }
}
