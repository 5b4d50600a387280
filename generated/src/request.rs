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
pub fn path_segment(value: &dyn std::fmt::Display) -> String {
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
        let bucket = inner.credentials.bucket_id();
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

    /// Resolves the URL and places the credentials, once for every attempt.
    fn prepare(&self) -> Result<Prepared> {
        let inner = &self.client.inner;
        let op = self.op;
        let base = match op.host {
            HostKind::Private => &inner.hosts.private,
            HostKind::Public => &inner.hosts.public,
        };
        let mut url = self.target_url(base);
        let mut query = self.query.clone();
        let mut headers = http::HeaderMap::new();
        let mut body = self.body.clone();
        headers.insert(header::ACCEPT, HeaderValue::from_static(self.accept));
        // Refuse an oversized body before anything else looks at it (placement scans JSON).
        self.check_size(&body)?;
        match op.host {
            HostKind::Private => {
                self.authenticate_private(&url, &mut query, &mut headers, &mut body)?
            }
            HostKind::Public => self.authenticate_public(&url, &mut query, &mut body)?,
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        // Checked again because a key placed in the body adds to it.
        self.check_size(&body)?;
        // Compressed last, once for every attempt, so the key placed above is inside it and the
        // 20 MB limit applies to the JSON the server will decode.
        if self.gzip
            && let Body::Json(json) = &body
        {
            body = Body::Json(gzip(json).map_err(|error| Error::InvalidArgument {
                operation: op.id,
                field: "body".into(),
                reason: format!("gzip failed: {error}"),
            })?);
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(Prepared {
            op,
            method: op.method.clone(),
            url,
            headers,
            body,
            secrets: self.secrets(),
        })
    }

    /// The configured secrets, and the Basic token as it appears on the wire.
    fn secrets(&self) -> Vec<SecretString> {
        let inner = &self.client.inner;
        let credentials = &inner.credentials;
        let mut secrets: Vec<SecretString> = credentials
            .project_key
            .iter()
            .chain(&inner.project_token)
            .cloned()
            .collect();
        match &credentials.private {
            PrivateAuth::None => {}
            PrivateAuth::Personal(key) => secrets.push(key.clone()),
            PrivateAuth::Basic { username, password } => {
                secrets.push(password.clone());
                secrets.push(SecretString::from(basic_token(
                    username,
                    password.expose_secret(),
                )));
            }
        }
        secrets
    }

    fn check_size(&self, body: &Body) -> Result<()> {
        let size = body.len();
        if size > MAX_BODY_BYTES {
            return Err(Error::RequestTooLarge {
                operation: self.op.id,
                size,
                limit: MAX_BODY_BYTES,
            });
        }
        Ok(())
    }

    /// Places the private credential, one key in exactly one place, and the `?token=` project
    /// selector. A `personal_api_key` the caller put in the request would be a second identity
    /// that PostHog might pick over the configured one, so such a request is refused unsent.
    fn authenticate_private(
        &self,
        url: &url::Url,
        query: &mut Vec<(&'static str, String)>,
        headers: &mut http::HeaderMap,
        body: &mut Body,
    ) -> Result<()> {
        let inner = &self.client.inner;
        let credentials = &inner.credentials;
        let field = crate::auth::PERSONAL_API_KEY_FIELD;
        if credentials.has_private_credential() {
            let place = if has_query_param(url, query, field) {
                Some("query")
            } else if body.has_member(field) {
                Some("body")
            } else {
                None
            };
            if let Some(place) = place {
                return Err(self.invalid_credentials(format!(
                    "the request already carries `{field}` in its {place}; with the client's credentials it would hold two keys, so nothing was sent"
                )));
            }
        }
        match &credentials.private {
            PrivateAuth::None => {}
            PrivateAuth::Personal(key) => match credentials.placement {
                KeyPlacement::Header => {
                    let value = self.sensitive_header(format!("Bearer {}", key.expose_secret()))?;
                    headers.insert(header::AUTHORIZATION, value);
                }
                KeyPlacement::Body => {
                    *body = body.with_member(field, key.expose_secret()).ok_or_else(|| {
                        self.invalid_credentials(
                            "KeyPlacement::Body needs a JSON object or multipart body, and this request's body is neither; use another placement".into(),
                        )
                    })?;
                }
                KeyPlacement::Query => {
                    crate::auth::warn_query_placement_once();
                    query.push((field, key.expose_secret().to_owned()));
                }
            },
            PrivateAuth::Basic { username, password } => {
                let value = self.sensitive_header(format!(
                    "Basic {}",
                    basic_token(username, password.expose_secret())
                ))?;
                headers.insert(header::AUTHORIZATION, value);
            }
        }
        // A `token` the caller gave for this call selects the project instead of the default.
        if let Some(token) = &inner.project_token
            && !has_query_param(url, query, "token")
        {
            query.push(("token", token.expose_secret().to_owned()));
        }
        Ok(())
    }

    /// Places the project API key the way PostHog's `get_token` reads it: `?token=` on `GET`,
    /// otherwise `api_key` in the body. The personal key and Basic never go to the public host.
    /// A project key the caller already put in the request is left as the only one.
    fn authenticate_public(
        &self,
        url: &url::Url,
        query: &mut Vec<(&'static str, String)>,
        body: &mut Body,
    ) -> Result<()> {
        let inner = &self.client.inner;
        let Some(key) = inner
            .credentials
            .project_key
            .as_ref()
            .or(inner.project_token.as_ref())
        else {
            return Ok(());
        };
        if matches!(self.op.method, http::Method::GET | http::Method::HEAD) {
            if !has_query_param(url, query, "token") && !has_query_param(url, query, "api_key") {
                query.push(("token", key.expose_secret().to_owned()));
            }
        } else if !["api_key", "token", "$token"]
            .iter()
            .any(|name| body.has_member(name))
        {
            // A JSON array body (a batch) carries its own key: PostHog reads it from the first
            // element, which the client does not rewrite.
            if let Some(with_key) = body.with_member("api_key", key.expose_secret()) {
                *body = with_key;
            }
        }
        Ok(())
    }

    fn sensitive_header(&self, value: String) -> Result<HeaderValue> {
        // The parse error is dropped unread: it must not carry the key into an error message.
        let mut value = HeaderValue::try_from(value).map_err(|_| {
            self.invalid_credentials("the key cannot be sent in an HTTP header".into())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn invalid_credentials(&self, reason: String) -> Error {
        Error::InvalidArgument {
            operation: self.op.id,
            field: "credentials".into(),
            reason,
        }
    }
}

/// Whether the request's query (the builder's parameters or a followed link's) has `name`.
fn has_query_param(url: &url::Url, query: &[(&'static str, String)], name: &str) -> bool {
    query.iter().any(|(key, _)| *key == name) || url.query_pairs().any(|(key, _)| key == name)
}

impl Body {
    fn len(&self) -> usize {
        match self {
            Body::None => 0,
            Body::Json(bytes) => bytes.len(),
            Body::Multipart(parts) => parts
                .iter()
                .map(|(name, value)| {
                    name.len()
                        + match value {
                            MultipartValue::Text(text) => text.len(),
                            MultipartValue::File(bytes) => bytes.len(),
                        }
                })
                .sum(),
        }
    }

    /// Whether the body has a top-level member (or multipart part) called `name`.
    fn has_member(&self, name: &str) -> bool {
        match self {
            Body::None => false,
            Body::Json(bytes) => crate::auth::json_has_member(bytes, name),
            Body::Multipart(parts) => parts.iter().any(|(part, _)| part == name),
        }
    }

    /// The body with `name: value` added where PostHog's `request.data` finds it: first member of
    /// a JSON object (the caller's bytes otherwise unchanged), or a text part of a multipart
    /// form. A request without a body gets a JSON body holding only the member, because DRF parses
    /// `request.data` for every method (`posthog/auth.py` reads the key from it for `GET` too).
    /// `None` when the body is JSON but not an object.
    fn with_member(&self, name: &str, value: &str) -> Option<Body> {
        match self {
            Body::None => crate::auth::prepend_json_member(b"{}", name, value)
                .map(|bytes| Body::Json(Bytes::from(bytes))),
            Body::Json(bytes) => crate::auth::prepend_json_member(bytes, name, value)
                .map(|bytes| Body::Json(Bytes::from(bytes))),
            Body::Multipart(parts) => {
                let mut parts = parts.clone();
                parts.push((name.to_owned(), MultipartValue::Text(value.to_owned())));
                Some(Body::Multipart(parts))
            }
        }
    }
}

/// `bytes` gzip-compressed, at the fast level: capture bodies are repetitive JSON, which the
/// lowest levels already shrink about tenfold.
fn gzip(bytes: &[u8]) -> std::io::Result<Bytes> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 8),
        flate2::Compression::fast(),
    );
    encoder.write_all(bytes)?;
    encoder.finish().map(Bytes::from)
}

/// The `Basic` credential: base64 of `user:password` (RFC 7617).
fn basic_token(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// A request ready to send, rebuilt into a fresh `reqwest::Request` for every attempt.
struct Prepared {
    op: &'static Operation,
    method: http::Method,
    url: url::Url,
    headers: http::HeaderMap,
    body: Body,
    /// Every secret this request carries, in the forms it carries them, for redacting echoes.
    secrets: Vec<SecretString>,
}

impl Prepared {
    /// `text` without this request's secrets, nor anything shaped like a PostHog key.
    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            let secret = secret.expose_secret();
            if !secret.is_empty() && text.contains(secret) {
                text = text.replace(secret, "[redacted]");
            }
        }
        crate::error::redact_keys(&text).into_owned()
    }
}

impl Prepared {
    fn build(&self, http: &reqwest::Client) -> Result<reqwest::Request> {
        let mut request = http
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone());
        request = match &self.body {
            Body::None => request,
            Body::Json(bytes) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(bytes.clone()),
            Body::Multipart(parts) => {
                let mut form = reqwest::multipart::Form::new();
                for (name, value) in parts {
                    form = match value {
                        MultipartValue::Text(text) => form.text(name.clone(), text.clone()),
                        MultipartValue::File(bytes) => form.part(
                            name.clone(),
                            reqwest::multipart::Part::stream(bytes.clone()).file_name(name.clone()),
                        ),
                    };
                }
                request.multipart(form)
            }
        };
        request
            .build()
            .map_err(|source| Error::transport(self.op.id, source))
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

/// Query parameters that carry credentials; they are stripped from followed links (and added
/// afresh by `prepare`) and from every URL put in an error.
const CREDENTIAL_PARAMS: &[&str] = &["personal_api_key", "token"];

// Pagination support: re-targeting a request at a `next` link. Kept in this file because it
// needs the builder's fields, and kept apart so `prepare` only calls `target_url`.
impl RequestBuilder {
    /// The URL the request goes to before the query is appended: the pagination link when the
    /// request follows one, else the base URL joined with the path.
    fn target_url(&self, base: &url::Url) -> url::Url {
        if let Some(absolute) = &self.absolute {
            return absolute.clone();
        }
        let mut url = base.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{}", self.path));
        url
    }

    /// A copy of this request, aimed at the pagination link `next` when one is given. The link
    /// is taken as given, but only if it has the scheme, host and port of the operation's
    /// configured base URL, so a foreign link never receives credentials; credential query
    /// parameters and user info in it are dropped because `prepare` applies authentication
    /// afresh, exactly as for the first page.
    #[doc(hidden)]
    pub fn __follow(&self, next: Option<&str>) -> Result<RequestBuilder> {
        let (absolute, query) = match next {
            Some(next) => (Some(self.checked_link(next)?), Vec::new()),
            None => (self.absolute.clone(), self.query.clone()),
        };
        // Only `fail` sets `error`, always to `InvalidArgument`; the fallback arm keeps the
        // copy honest should that change.
        let error = self.error.as_ref().map(|error| match error {
            Error::InvalidArgument {
                operation,
                field,
                reason,
            } => Error::InvalidArgument {
                operation,
                field: field.clone(),
                reason: reason.clone(),
            },
            other => Error::InvalidArgument {
                operation: self.op.id,
                field: "request".into(),
                reason: other.to_string(),
            },
        });
        Ok(RequestBuilder {
            client: self.client.clone(),
            op: self.op,
            path: self.path.clone(),
            query,
            body: self.body.clone(),
            accept: self.accept,
            error,
            absolute,
            gzip: self.gzip,
        })
    }

    /// Sets a query parameter, replacing any value it already has (in the builder's query or
    /// in a followed link): used for page size and resume positions.
    #[doc(hidden)]
    pub fn __replace_query<T: Serialize + ?Sized>(mut self, name: &'static str, value: &T) -> Self {
        self.query.retain(|(key, _)| *key != name);
        if let Some(url) = &mut self.absolute {
            remove_query_params(url, &[name]);
        }
        self.push_query(name, value, true);
        self
    }

    /// The URL this request fetches, without credentials: for naming a page in errors.
    pub(crate) fn display_url(&self) -> String {
        let mut url = self.target_url(self.base());
        if !self.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(self.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        without_credentials(&url).to_string()
    }

    pub(crate) fn operation(&self) -> &'static Operation {
        self.op
    }

    fn base(&self) -> &url::Url {
        match self.op.host {
            HostKind::Private => &self.client.inner.hosts.private,
            HostKind::Public => &self.client.inner.hosts.public,
        }
    }

    fn checked_link(&self, next: &str) -> Result<url::Url> {
        let base = self.base();
        // `join` takes an absolute link as it is and resolves a relative one against the base.
        let url = base.join(next).map_err(|error| Error::InvalidArgument {
            operation: self.op.id,
            field: "next".into(),
            reason: format!("the pagination link is not a URL: {error}"),
        })?;
        if url.origin() != base.origin() {
            return Err(Error::ForeignNextUrl {
                operation: self.op.id,
                origin: url.origin().ascii_serialization(),
                expected: base.origin().ascii_serialization(),
            });
        }
        Ok(without_credentials(&url))
    }
}

/// `url` without user info, fragment and credential query parameters. Other parameters keep
/// their exact encoding unless one had to be removed.
pub(crate) fn without_credentials(url: &url::Url) -> url::Url {
    let mut url = url.clone();
    // Both setters only fail on URLs that cannot have user info, which then has none to drop.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    remove_query_params(&mut url, CREDENTIAL_PARAMS);
    url
}

fn remove_query_params(url: &mut url::Url, names: &[&str]) {
    if !url
        .query_pairs()
        .any(|(key, _)| names.contains(&key.as_ref()))
    {
        return;
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| !names.contains(&key.as_ref()))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
}
