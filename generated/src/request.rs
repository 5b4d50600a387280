//! The request pipeline every generated method runs through: encode, authenticate, limit,
//! send, retry, and decode or classify the answer.

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

mod credentials;
mod follow;

pub(crate) use credentials::redaction_secrets;
use credentials::*;

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

/// Percent-encodes one path parameter so that `/` or `?` in a value cannot change the route.
fn path_segment(value: &dyn std::fmt::Display) -> String {
    utf8_percent_encode(&value.to_string(), PATH_SEGMENT).to_string()
}

/// A path argument. `Sync`, so the temporary slice of them a generated method builds does not
/// stop the method's future from being `Send` (users spawn these futures on multi-threaded
/// runtimes).
#[doc(hidden)]
pub type PathArg<'a> = &'a (dyn std::fmt::Display + Sync);

/// Fills a path template: `{project_id}` from `project` when given, every other placeholder
/// from `args` in order, each percent-encoded as one segment.
fn fill_path(template: &str, project: Option<&str>, args: &[PathArg<'_>]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut args = args.iter();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(length) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + length];
        match (name, project) {
            ("project_id", Some(project)) => out.push_str(&path_segment(&project)),
            _ => {
                if let Some(arg) = args.next() {
                    out.push_str(&path_segment(*arg));
                }
            }
        }
        rest = &rest[start + length + 1..];
    }
    out.push_str(rest);
    out
}

/// A redirect policy that follows only redirects to the same scheme, host and port, so a
/// redirect can never carry credentials to another host.
pub(crate) fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if same_origin {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// A request body, kept in a form that can be sent again on retry.
#[derive(Debug, Clone)]
enum Body {
    None,
    Json(Bytes),
    Multipart(Vec<(String, MultipartValue)>),
}

#[derive(Debug, Clone)]
enum MultipartValue {
    Text(String),
    File(Bytes),
    /// A `format: binary` member, with its file name and content type.
    FilePart(crate::multipart::FilePart),
}

/// One request being built by a generated method.
#[doc(hidden)]
#[derive(Debug)]
pub struct RequestBuilder {
    client: Client,
    op: &'static Operation,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Body,
    accept: &'static str,
    error: Option<Error>,
    /// A pagination `next` link that replaces base URL, path and query (see [`Self::__follow`]).
    absolute: Option<url::Url>,
    /// Send the JSON body gzip-compressed (see [`Self::__gzip`]).
    gzip: bool,
}

impl Client {
    /// Starts a request for `op`, filling the path template's placeholders with `args` in order.
    #[doc(hidden)]
    pub fn __op(&self, op: &'static Operation, args: &[PathArg<'_>]) -> RequestBuilder {
        self.__request_at(op, Ok(fill_path(op.path, None, args)))
    }

    /// Same as [`Self::__op`] for project-scoped operations: `{project_id}` takes `project`,
    /// or the client's default project.
    #[doc(hidden)]
    pub fn __project_op(
        &self,
        op: &'static Operation,
        project: crate::client::ProjectId,
        args: &[PathArg<'_>],
    ) -> RequestBuilder {
        let path = self
            .__project_id(op.id, project)
            .map(|project| fill_path(op.path, Some(&project), args));
        self.__request_at(op, path)
    }

    /// Starts a request for `op` at `path` (relative to the operation's host).
    #[doc(hidden)]
    pub fn __request(&self, op: &'static Operation, path: String) -> RequestBuilder {
        self.__request_at(op, Ok(path))
    }

    /// Starts a request for `op`; generated methods pass the path they built, or the error
    /// that stopped them building it (reported when the request is sent).
    #[doc(hidden)]
    pub fn __request_at(&self, op: &'static Operation, path: Result<String>) -> RequestBuilder {
        let (path, error) = match path {
            Ok(path) => (path, None),
            Err(error) => (String::new(), Some(error)),
        };
        RequestBuilder {
            client: self.clone(),
            op,
            path,
            query: Vec::new(),
            body: Body::None,
            accept: "application/json",
            error,
            absolute: None,
            gzip: false,
        }
    }
}

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

    fn push_query<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T, explode: bool) {
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
                    self.query.push((name, scalar_text(item)));
                }
            }
            Ok(serde_json::Value::Array(items)) => {
                let joined: Vec<String> = items.into_iter().map(scalar_text).collect();
                self.query.push((name, joined.join(",")));
            }
            Ok(other) => self.query.push((name, scalar_text(other))),
            Err(error) => self.fail(name, error.to_string()),
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
        let members = match serde_json::to_value(body) {
            Ok(serde_json::Value::Object(members)) => members,
            Ok(_) => return self.failed("body", "a multipart body must be an object"),
            Err(error) => return self.failed("body", &error.to_string()),
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
    #[doc(hidden)]
    pub fn __gzip(mut self) -> Self {
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
        let op = self.op;
        let answer = self.send().await?;
        decode_json(op, answer.status, &answer.body)
    }

    /// Sends the request and returns the answer as JSON, whatever its shape (an empty body is
    /// `null`): used where the schema documents no response body but servers send one anyway.
    pub async fn send_value(self) -> Result<serde_json::Value> {
        let op = self.op;
        let answer = self.send().await?;
        if answer.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        decode_json(op, answer.status, &answer.body)
    }

    /// Sends the request and returns the answer as text (`text/csv`).
    pub async fn send_text(self) -> Result<String> {
        let op = self.op;
        let answer = self.send().await?;
        String::from_utf8(answer.body.to_vec()).map_err(|error| Error::Decode {
            operation: op.id,
            status: answer.status,
            path: ".".into(),
            message: format!("the answer is not UTF-8 text: {error}"),
            body: String::from_utf8_lossy(&answer.body).into_owned(),
        })
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
        let op = self.op;
        let response = self.send_raw().await?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::transport(op.id, e))?;
        Ok(Answer { status, body })
    }

    /// Sends the request with authentication, rate limiting and retries, and returns the first
    /// successful response; non-success answers become [`Error`]s.
    async fn send_raw(self) -> Result<reqwest::Response> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let prepared = self.prepare()?;
        let inner = &self.client.inner;
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
                    .await;
            }
            let result = inner.http.execute(prepared.build(&inner.http)?).await;
            let (outcome, error) = match result {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let error = answer_error(&prepared, response).await;
                    let outcome = match error.api_error() {
                        Some(api) => Outcome::Status(api.status, api.retry_after),
                        // The body broke off while being read: the connection failed.
                        None => Outcome::Connection,
                    };
                    (outcome, error)
                }
                Err(source) => {
                    let outcome = if source.is_timeout() {
                        Outcome::Timeout
                    } else {
                        Outcome::Connection
                    };
                    (outcome, Error::transport(prepared.op.id, source))
                }
            };
            match inner
                .retry
                .decide(prepared.op, attempt, started.elapsed(), &outcome)
            {
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
                    return Err(error);
                }
            }
        }
    }
}

/// A successful answer, buffered.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

/// Decodes JSON, naming the path inside the body where it failed.
pub(crate) fn decode_json<T: DeserializeOwned>(
    op: &Operation,
    status: StatusCode,
    body: &[u8],
) -> Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| Error::Decode {
        operation: op.id,
        status,
        path: error.path().to_string(),
        // serde quotes the offending value, which may be a key the answer holds.
        message: crate::error::redact_keys(&error.inner().to_string()).into_owned(),
        body: crate::error::redact_keys(&String::from_utf8_lossy(body)).into_owned(),
    })
}

/// Turns a non-success response into its typed error, keeping the whole body (with any of the
/// request's keys a server or proxy echoed back redacted).
async fn answer_error(prepared: &Prepared, response: reqwest::Response) -> Error {
    let op = prepared.op;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(crate::retry::parse_retry_after);
    let raw = match response.bytes().await {
        // A server or proxy echoing the request must not put a key into the error.
        Ok(bytes) => prepared.redact(&String::from_utf8_lossy(&bytes)),
        Err(error) => return Error::transport(op.id, error),
    };
    let body = Box::new(serde_json::from_str::<ApiErrorBody>(&raw).unwrap_or_default());
    Error::from_answer(ApiError {
        operation: op.id,
        status,
        body,
        raw,
        required_scopes: op.scopes,
        retry_after,
    })
}

fn scalar_text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    }
}
