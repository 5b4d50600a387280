//! The raw layer: a request to any path (or any entry of [`crate::operations`]) with any body,
//! sent through the same pipeline as generated methods, answered with status, headers and
//! bytes instead of a decoded type.

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, Method};

use super::*;
use crate::client::ProjectId;
use crate::pagination::{Pages, PaginationStyle};

/// PostHog's default throttles for personal-key requests, which a path no operation describes
/// is counted against too.
const DEFAULT_THROTTLES: &[&str] = &["burst", "sustained"];

/// Operations for raw requests to paths the schema lacks, one per method: private host,
/// default throttles, no known scopes. `request` is the operation name their errors carry.
static RAW_OPERATIONS: [Operation; 7] = [
    Operation::private("request", Method::GET, "", "", &[], DEFAULT_THROTTLES),
    Operation::private("request", Method::POST, "", "", &[], DEFAULT_THROTTLES),
    Operation::private("request", Method::PUT, "", "", &[], DEFAULT_THROTTLES),
    Operation::private("request", Method::PATCH, "", "", &[], DEFAULT_THROTTLES),
    Operation::private("request", Method::DELETE, "", "", &[], DEFAULT_THROTTLES),
    Operation::private("request", Method::HEAD, "", "", &[], DEFAULT_THROTTLES),
    Operation::private("request", Method::OPTIONS, "", "", &[], DEFAULT_THROTTLES),
];

impl Client {
    /// A request to `path`, a path template relative to the private API's base URL, e.g.
    /// `/api/projects/{project_id}/feature_flags/{id}/`: for operations the schema lacks or
    /// types wrongly. It goes through the same authentication, host routing, rate limits,
    /// retries and redaction as generated methods; when `method` and `path` are those of an
    /// operation in [`crate::operations`], that operation's host, scopes and throttles apply.
    ///
    /// `{project_id}` is filled from [`RawRequest::project`] or the client's default project,
    /// every other `{name}` from [`RawRequest::arg`], each percent-encoded as one segment and
    /// refused when empty or a dot segment (`..`), like generated methods' path arguments.
    ///
    /// ```no_run
    /// use posthog_api::request::Method;
    /// # async fn run(client: posthog_api::Client) -> posthog_api::Result<()> {
    /// let answer = client
    ///     .request(Method::POST, "/api/projects/{project_id}/hog_flows/{id}/run/")
    ///     .arg("id", 42)
    ///     .json(&serde_json::json!({"dry_run": true}))
    ///     .send()
    ///     .await?
    ///     .error_for_status()?;
    /// println!("{} {:?}", answer.status(), answer.request_id());
    /// let value: serde_json::Value = answer.json()?;
    /// # Ok(()) }
    /// ```
    pub fn request(&self, method: Method, path: &str) -> RawRequest {
        let known = crate::operations::ALL
            .iter()
            .copied()
            .find(|op| op.method == method && op.path == path);
        let fallback = RAW_OPERATIONS.iter().find(|op| op.method == method);
        let (op, error) = match (known, fallback) {
            (Some(op), _) | (None, Some(op)) => (op, None),
            (None, None) => (
                &RAW_OPERATIONS[1],
                Some(format!(
                    "`{method}` is not a method PostHog's API uses (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)"
                )),
            ),
        };
        let mut raw = RawRequest::new(self, op, Arc::from(path));
        if let Some(reason) = error {
            raw.error = Some(raw.invalid("method", reason));
        }
        raw
    }

    /// A raw request for `op` (any entry of [`crate::operations`]), with whatever body and
    /// query the caller sets: the operation's method, path template, host, scopes and
    /// throttles, its path arguments given by name with [`RawRequest::arg`].
    pub fn operation(&self, op: &'static Operation) -> RawRequest {
        RawRequest::new(self, op, Arc::from(op.path))
    }
}

/// A request built by hand ([`Client::request`], [`Client::operation`]). Nothing is sent until
/// [`send`](Self::send) (or [`pages`](Self::pages) is polled); invalid arguments are reported
/// then, before anything is sent.
pub struct RawRequest {
    client: Client,
    op: &'static Operation,
    template: Arc<str>,
    project: ProjectId,
    args: Vec<(String, String)>,
    query: Vec<(String, serde_json::Value)>,
    params: Vec<RawParam>,
    body: Option<RawBody>,
    content_type: Option<&'static str>,
    accept: &'static str,
    error: Option<Error>,
}

impl fmt::Debug for RawRequest {
    // A raw request is the caller's to print, and may hold keys: header and cookie values are
    // redacted (see `RawParam`), so are query credentials, and the body is left out (as in
    // `RawResponse`), since a key may be one of its members.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.body.as_ref().map(|body| match body {
            RawBody::Json(_) => "json",
            RawBody::Form(_) => "form",
        });
        f.debug_struct("RawRequest")
            .field("client", &self.client)
            .field("op", &self.op)
            .field("template", &self.template)
            .field("project", &self.project)
            .field("args", &self.args)
            .field("query", &super::follow::DebugQuery(&self.query))
            .field("params", &self.params)
            .field("body", &body)
            .field("content_type", &self.content_type)
            .field("accept", &self.accept)
            .field("error", &self.error)
            .finish()
    }
}

/// A header or cookie parameter of a [`RawRequest`], checked as generated methods check theirs.
enum RawParam {
    Header(&'static str, serde_json::Value),
    Cookie(&'static str, serde_json::Value),
}

impl fmt::Debug for RawParam {
    // Header and cookie parameters carry CSRF tokens and session cookies, and a `RawRequest`
    // is the caller's to print: its `Debug` names each one, never its value (as the generated
    // path marks its header values sensitive).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, name) = match self {
            RawParam::Header(name, _) => ("Header", name),
            RawParam::Cookie(name, _) => ("Cookie", name),
        };
        f.debug_tuple(kind)
            .field(name)
            .field(&format_args!("[redacted]"))
            .finish()
    }
}

/// A [`RawRequest`]'s body and its encoding.
enum RawBody {
    Json(serde_json::Value),
    Form(serde_json::Value),
}

impl RawRequest {
    fn new(client: &Client, op: &'static Operation, template: Arc<str>) -> Self {
        Self {
            client: client.clone(),
            op,
            template,
            project: ProjectId::Default,
            args: Vec::new(),
            query: Vec::new(),
            params: Vec::new(),
            body: None,
            content_type: None,
            accept: "application/json",
            error: None,
        }
    }

    fn invalid(&self, field: &str, reason: String) -> Error {
        Error::InvalidArgument {
            operation: self.op.id,
            field: field.to_owned(),
            reason,
        }
    }

    fn fail(&mut self, field: &str, reason: String) {
        if self.error.is_none() {
            self.error = Some(self.invalid(field, reason));
        }
    }

    /// The project `{project_id}` stands for (default: the client's default project).
    pub fn project(mut self, project: impl Into<ProjectId>) -> Self {
        self.project = project.into();
        self
    }

    /// The value of the placeholder `{name}`, sent percent-encoded as one path segment.
    pub fn arg(mut self, name: &str, value: impl fmt::Display) -> Self {
        self.args.push((name.to_owned(), value.to_string()));
        self
    }

    /// Adds a query parameter; `None` adds nothing, arrays repeat the name.
    pub fn query<T: Serialize + ?Sized>(mut self, name: &str, value: &T) -> Self {
        match serde_json::to_value(value) {
            Ok(value) => self.query.push((name.to_owned(), value)),
            Err(error) => self.fail(name, error.to_string()),
        }
        self
    }

    /// Adds a header parameter; `None` adds nothing, arrays are joined with commas. The value
    /// must be visible ASCII and the name may not be a header the client sets itself
    /// (credentials, `Accept`, `Content-Type`, framing): either is an
    /// [`Error::InvalidArgument`] naming the header, and nothing is sent.
    pub fn header<T: Serialize + ?Sized>(mut self, name: &'static str, value: &T) -> Self {
        match serde_json::to_value(value) {
            Ok(value) => self.params.push(RawParam::Header(name, value)),
            Err(error) => self.fail(name, error.to_string()),
        }
        self
    }

    /// Adds a cookie, sent with the others in one `Cookie` header; `None` adds nothing. A value
    /// that is not RFC 6265 cookie octets (a `;`, a space, ...) is refused like a bad header.
    pub fn cookie<T: Serialize + ?Sized>(mut self, name: &'static str, value: &T) -> Self {
        match serde_json::to_value(value) {
            Ok(value) => self.params.push(RawParam::Cookie(name, value)),
            Err(error) => self.fail(name, error.to_string()),
        }
        self
    }

    /// Sets a JSON body: any value, whatever the schema says of the operation.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_value(body) {
            Ok(body) => self.body = Some(RawBody::Json(body)),
            Err(error) => self.fail("body", error.to_string()),
        }
        self
    }

    /// Sets an `application/x-www-form-urlencoded` body from an object's members (arrays repeat
    /// the name, as Django reads lists).
    pub fn form<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_value(body) {
            Ok(body) => self.body = Some(RawBody::Form(body)),
            Err(error) => self.fail("body", error.to_string()),
        }
        self
    }

    /// Sends the JSON body under another JSON media type (`application/scim+json`, ...); anything
    /// but a JSON type is refused before sending.
    pub fn content_type(mut self, media_type: &'static str) -> Self {
        self.content_type = Some(media_type);
        self
    }

    /// Asks for another representation of the answer (`text/csv`, ...).
    pub fn accept(mut self, media_type: &'static str) -> Self {
        self.accept = media_type;
        self
    }

    /// The path template filled with the project and the arguments, or why it cannot be.
    fn fill(&self) -> Result<String> {
        let template = self.template.as_ref();
        if !template.starts_with('/') || template.contains(['?', '#']) {
            return Err(self.invalid(
                "path",
                "a path template starts with `/` and holds no query or fragment; use `query` for parameters".into(),
            ));
        }
        let mut used = vec![false; self.args.len()];
        let mut out = String::with_capacity(template.len() + 16);
        let mut rest = template;
        loop {
            let (literal, after) = match rest.find('{') {
                Some(start) => (&rest[..start], Some(&rest[start + 1..])),
                None => (rest, None),
            };
            // The template is the caller's, yet a dot segment in it would still leave the route
            // it names once a proxy normalizes the path; URLs of http(s) also split on `\`.
            if literal.contains('}')
                || literal
                    .split(['/', '\\'])
                    .any(|segment| !segment.is_empty() && segment_problem(segment).is_some())
            {
                return Err(self.invalid(
                    "path",
                    "the path template has a stray `}` or a dot segment (`.`, `..`)".into(),
                ));
            }
            out.push_str(literal);
            let Some(after) = after else { break };
            let Some(end) = after.find('}') else {
                return Err(self.invalid("path", "the path template has an unclosed `{`".into()));
            };
            let name = &after[..end];
            let value = match self.args.iter().position(|(arg, _)| arg == name) {
                Some(index) => {
                    used[index] = true;
                    self.args[index].1.clone()
                }
                None if name == "project_id" => {
                    self.client.__project_id(self.op.id, self.project.clone())?
                }
                None => {
                    return Err(self.invalid(
                        name,
                        "the path template names this placeholder and no `arg` gives it".into(),
                    ));
                }
            };
            out.push_str(&path_segment(self.op, name, &value)?);
            rest = &after[end + 1..];
        }
        if let Some(index) = used.iter().position(|used| !used) {
            return Err(self.invalid(
                &self.args[index].0,
                "no placeholder of the path template has this name".into(),
            ));
        }
        Ok(out)
    }

    /// The request for the pipeline.
    fn into_builder(mut self) -> RequestBuilder {
        let path = match self.error.take() {
            Some(error) => Err(error),
            None => self.fill(),
        };
        let mut builder = self.client.__request_at(self.op, path);
        builder.template = Some(self.template);
        builder.accept = self.accept;
        for (name, value) in &self.query {
            builder.push_query(name.clone(), value, true);
        }
        for param in &self.params {
            builder = match param {
                RawParam::Header(name, value) => builder.header(name, value),
                RawParam::Cookie(name, value) => builder.cookie(name, value),
            };
        }
        if let Some(media_type) = self.content_type {
            builder = builder.content_type(media_type);
        }
        match &self.body {
            Some(RawBody::Json(body)) => builder.json(body),
            Some(RawBody::Form(body)) => builder.form(body),
            None => builder,
        }
    }

    /// Sends a conditional request (with `If-None-Match` / `If-Modified-Since` set through
    /// [`header`](Self::header)): a `304` is [`Conditional::NotModified`], any other success is
    /// decoded as JSON into `T`; both carry the answer's validators for the next call.
    pub async fn send_conditional_json<T: serde::de::DeserializeOwned>(
        self,
    ) -> Result<super::Conditional<T>> {
        self.into_builder().send_conditional_json().await
    }

    /// Sends the request (retrying like a generated method would) and returns the answer,
    /// whatever its status: [`RawResponse::error_for_status`] turns a non-success one into the
    /// typed [`Error`]. Errors are those that stop an answer: invalid arguments (nothing is
    /// sent), transport failures, an answer over the size cap.
    pub async fn send(self) -> Result<RawResponse> {
        let mut builder = self.into_builder();
        builder.keep_answer = true;
        let op = builder.op;
        let info = crate::error::RequestInfo {
            method: op.method.clone(),
            path: builder.path_template(),
            request_id: None,
        };
        let limit = builder.client.inner.max_response_bytes;
        let secrets = builder.client.inner.secrets.clone();
        let echoes = builder.query_credentials();
        let response = builder.send_raw().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = strip_echoed_credentials(read_capped(op, response, limit).await?, &echoes);
        let mut info = info;
        info.request_id = options::request_id(&headers);
        Ok(RawResponse {
            answer: Answer {
                op,
                status,
                body,
                secrets,
            },
            headers,
            info,
        })
    }

    /// The pages of a listing this request asks for the first page of, following `next`
    /// links with the same checks as generated `*_pages` methods.
    pub fn pages<T: serde::de::DeserializeOwned + Send + 'static>(
        self,
        style: PaginationStyle,
    ) -> Pages<T> {
        Pages::new(self.into_builder(), style)
    }
}

/// An answer to a [`RawRequest`], buffered: status, headers, request id and body.
pub struct RawResponse {
    answer: Answer,
    headers: HeaderMap,
    info: crate::error::RequestInfo,
}

impl fmt::Debug for RawResponse {
    // The body is left out: it may echo what the request carried.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawResponse")
            .field("status", &self.answer.status)
            .field("headers", &self.headers)
            .field("request_id", &self.info.request_id)
            .field("body_len", &self.answer.body.len())
            .finish()
    }
}

impl RawResponse {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.answer.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// PostHog's request id (the `X-Request-Id` header), when the answer carried one.
    pub fn request_id(&self) -> Option<&str> {
        self.info.request_id.as_deref()
    }

    /// Status, headers and request id together.
    pub fn meta(&self) -> ResponseMeta {
        ResponseMeta::new(self.answer.status, &self.headers)
    }

    /// The body as received (after decompression), with query credentials a server echoed
    /// into it removed.
    pub fn bytes(&self) -> &Bytes {
        &self.answer.body
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<String> {
        self.answer.text()
    }

    /// The body decoded as JSON into `T`; a mismatch is an [`Error::Decode`] naming where.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        self.answer.decode_json()
    }

    /// The answer itself when its status is a success, else the typed [`Error`] a generated
    /// method would have returned (with method, path template and request id).
    pub fn error_for_status(self) -> Result<Self> {
        if self.answer.status.is_success() {
            return Ok(self);
        }
        Err(classify(
            self.answer.op,
            &self.info,
            self.answer.status,
            &self.headers,
            &self.answer.body,
            &self.answer.secrets,
        ))
    }
}
