//! The one request handler behind every generated route: read the body within the size limit,
//! find the personal API key, throttle, decode the typed inputs, call the implementation and
//! encode its answer. Generated routes call [`json`], [`text`], [`events`] or [`empty`] with
//! the operation and a closure that forwards the inputs to the tag trait's method.
//!
//! Only the last step is generic over the operation's types; everything that touches bytes is
//! in [`prepare`], compiled once, which keeps the cost of 772 routes in the generated crate small.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use bytes::Bytes;
use futures::StreamExt as _;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::MAX_BODY_BYTES;
use crate::operation::Operation;
use crate::server::text::{Text, Values};
use crate::server::{Answer, Context, Reply, ServerError, ServerRateLimiter};

/// Query parameters as sent, in order, percent-decoded. Its `Debug` redacts credentials (see
/// [`crate::server::Context`]).
#[derive(Clone, Default)]
pub struct QueryMap {
    pairs: Vec<(String, String)>,
}

impl QueryMap {
    /// Parses a raw query string (without the `?`).
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .map(|query| {
                url::form_urlencoded::parse(query.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self { pairs }
    }

    /// The last value of `name`, as Django's `QueryDict` reads a scalar.
    pub fn last(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every parameter, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// Decodes parameter `name` (repeated for arrays) into a field's type; 400 naming it when the
    /// values do not fit, or when a required one is missing.
    pub fn get<T: DeserializeOwned>(&self, name: &'static str) -> Result<T, ServerError> {
        self.decode(name, false)
    }

    /// Same as [`Self::get`] for arrays sent as one comma-separated value (`explode: false`).
    pub fn csv<T: DeserializeOwned>(&self, name: &'static str) -> Result<T, ServerError> {
        self.decode(name, true)
    }

    fn decode<T: DeserializeOwned>(
        &self,
        name: &'static str,
        comma_separated: bool,
    ) -> Result<T, ServerError> {
        let values: Vec<&str> = self
            .pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect();
        T::deserialize(Values {
            values: &values,
            comma_separated,
        })
        .map_err(|error| ServerError::validation(Some(name.to_owned()), error.to_string()))
    }
}

/// An operation's query parameter type, decoded from the query string (and, for operations
/// that declare them, header and cookie parameters). Implemented by generated code for every
/// `*Query` type; `()` for operations without parameters.
pub trait FromQuery: Sized {
    /// Decodes every field from the query string alone (header and cookie parameters absent).
    fn from_query(query: &QueryMap) -> Result<Self, ServerError>;

    /// Decodes every field from the query string and the request's headers; what routes call.
    /// Types with header or cookie parameters implement it; the others read the query only.
    fn from_request(query: &QueryMap, headers: &HeaderParams<'_>) -> Result<Self, ServerError> {
        let _ = headers;
        Self::from_query(query)
    }
}

/// The header and cookie parameters of a request, read by name into a field's type: arrays
/// as one comma-joined value (OpenAPI's `simple` style) or repeated headers; 400 naming the
/// parameter when the value does not fit, or a required one is missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderParams<'a> {
    headers: Option<&'a HeaderMap>,
}

impl<'a> HeaderParams<'a> {
    /// The parameters of a request with these headers.
    pub fn new(headers: &'a HeaderMap) -> Self {
        Self {
            headers: Some(headers),
        }
    }

    /// Decodes header `name`; every occurrence counts, joined as HTTP joins them.
    pub fn header<T: DeserializeOwned>(&self, name: &'static str) -> Result<T, ServerError> {
        let mut values = Vec::new();
        for value in self.all(name) {
            match value.to_str() {
                Ok(text) => values.push(text),
                Err(_) => {
                    return Err(ServerError::validation(
                        Some(name.to_owned()),
                        "The header value must be visible ASCII.",
                    ));
                }
            }
        }
        decode_values(name, &values)
    }

    /// Decodes cookie `name` from the `Cookie` headers (the last one when it repeats).
    pub fn cookie<T: DeserializeOwned>(&self, name: &'static str) -> Result<T, ServerError> {
        let values: Vec<&str> = self
            .all(header::COOKIE.as_str())
            .filter_map(|value| value.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(key, _)| *key == name)
            .map(|(_, value)| value.trim_matches('"'))
            .collect();
        decode_values(name, &values)
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &'a HeaderValue> {
        self.headers
            .into_iter()
            .flat_map(move |headers| headers.get_all(name).iter())
    }
}

fn decode_values<T: DeserializeOwned>(name: &str, values: &[&str]) -> Result<T, ServerError> {
    T::deserialize(Values {
        values,
        comma_separated: true,
    })
    .map_err(|error| ServerError::validation(Some(name.to_owned()), error.to_string()))
}

impl FromQuery for () {
    fn from_query(_: &QueryMap) -> Result<Self, ServerError> {
        Ok(())
    }
}

/// An operation's path parameters as a tuple, in template order.
pub trait FromPath: Sized {
    /// Decodes every parameter; 400 naming the one that does not fit its type.
    fn from_path(params: &[(&str, &str)]) -> Result<Self, ServerError>;
}

fn path_param<T: DeserializeOwned>(
    params: &[(&str, &str)],
    index: usize,
) -> Result<T, ServerError> {
    let Some((name, value)) = params.get(index) else {
        return Err(ServerError::validation(
            None,
            "A path parameter is missing.",
        ));
    };
    T::deserialize(Text(value))
        .map_err(|error| ServerError::validation(Some((*name).to_owned()), error.to_string()))
}

macro_rules! tuple_from_path {
    ($(($($name:ident $index:tt),*))*) => {
        $(impl<$($name: DeserializeOwned),*> FromPath for ($($name,)*) {
            #[allow(unused_variables)]
            fn from_path(params: &[(&str, &str)]) -> Result<Self, ServerError> {
                Ok(($(path_param::<$name>(params, $index)?,)*))
            }
        })*
    };
}

tuple_from_path! {
    ()
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
}

/// How an operation's request body is encoded, which decides how much of it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body is documented (it is still read, when JSON, for a `personal_api_key`).
    None,
    /// `application/json`.
    Json,
    /// `multipart/form-data`.
    Form,
    /// `application/x-www-form-urlencoded`.
    UrlEncoded,
}

/// An operation's request body, decoded.
pub trait FromBody: Sized {
    /// The encoding.
    const KIND: BodyKind;
    /// Decodes the body; 400 naming the field that does not fit.
    fn from_body(body: &RawBody) -> Result<Self, ServerError>;
}

/// The body as read: JSON bytes, or multipart or form fields as text.
#[derive(Debug, Default)]
pub struct RawBody {
    bytes: Bytes,
    parts: Vec<(String, String)>,
}

impl FromBody for () {
    const KIND: BodyKind = BodyKind::None;

    fn from_body(_: &RawBody) -> Result<Self, ServerError> {
        Ok(())
    }
}

/// A required JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Json<T>(pub T);

/// An optional JSON body: `None` when the request has none.
#[derive(Debug, Clone, PartialEq)]
pub struct MaybeJson<T>(pub Option<T>);

/// A required multipart body (each part a member: strings as text, other values as JSON text).
#[derive(Debug, Clone, PartialEq)]
pub struct Form<T>(pub T);

/// An optional multipart body.
#[derive(Debug, Clone, PartialEq)]
pub struct MaybeForm<T>(pub Option<T>);

impl<T: DeserializeOwned> FromBody for Json<T> {
    const KIND: BodyKind = BodyKind::Json;

    fn from_body(body: &RawBody) -> Result<Self, ServerError> {
        decode_json(&body.bytes).map(Json)
    }
}

impl<T: DeserializeOwned> FromBody for MaybeJson<T> {
    const KIND: BodyKind = BodyKind::Json;

    fn from_body(body: &RawBody) -> Result<Self, ServerError> {
        if body.bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(MaybeJson(None));
        }
        decode_json(&body.bytes).map(|value| MaybeJson(Some(value)))
    }
}

impl<T: DeserializeOwned> FromBody for Form<T> {
    const KIND: BodyKind = BodyKind::Form;

    fn from_body(body: &RawBody) -> Result<Self, ServerError> {
        decode_form(&body.parts).map(Form)
    }
}

impl<T: DeserializeOwned> FromBody for MaybeForm<T> {
    const KIND: BodyKind = BodyKind::Form;

    fn from_body(body: &RawBody) -> Result<Self, ServerError> {
        if body.parts.is_empty() {
            return Ok(MaybeForm(None));
        }
        decode_form(&body.parts).map(|value| MaybeForm(Some(value)))
    }
}

/// A required `application/x-www-form-urlencoded` body (a repeated name is an array).
#[derive(Debug, Clone, PartialEq)]
pub struct UrlEncoded<T>(pub T);

/// An optional `application/x-www-form-urlencoded` body.
#[derive(Debug, Clone, PartialEq)]
pub struct MaybeUrlEncoded<T>(pub Option<T>);

impl<T: DeserializeOwned> FromBody for UrlEncoded<T> {
    const KIND: BodyKind = BodyKind::UrlEncoded;

    fn from_body(body: &RawBody) -> Result<Self, ServerError> {
        decode_fields(&body.parts).map(UrlEncoded)
    }
}

impl<T: DeserializeOwned> FromBody for MaybeUrlEncoded<T> {
    const KIND: BodyKind = BodyKind::UrlEncoded;

    fn from_body(body: &RawBody) -> Result<Self, ServerError> {
        if body.parts.is_empty() {
            return Ok(MaybeUrlEncoded(None));
        }
        decode_fields(&body.parts).map(|value| MaybeUrlEncoded(Some(value)))
    }
}

/// Decodes form fields, each name with every value it was given, so a repeated name fills an
/// array (and a scalar takes the last, as Django's `QueryDict` reads it).
fn decode_fields<T: DeserializeOwned>(parts: &[(String, String)]) -> Result<T, ServerError> {
    let mut fields: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, value) in parts {
        match fields.iter_mut().find(|(field, _)| field == name) {
            Some((_, values)) => values.push(value),
            None => fields.push((name, vec![value])),
        }
    }
    let deserializer = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
        fields.iter().map(|(name, values)| {
            (
                *name,
                Values {
                    values,
                    comma_separated: false,
                },
            )
        }),
    );
    serde_path_to_error::deserialize(deserializer).map_err(path_error)
}

/// Decodes JSON, naming the field at fault the way DRF does in `attr` (`filters.groups[0]`).
fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ServerError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(path_error)?;
    deserializer
        .end()
        .map_err(|error| ServerError::validation(None, format!("JSON parse error - {error}")))?;
    Ok(value)
}

fn decode_form<T: DeserializeOwned>(parts: &[(String, String)]) -> Result<T, ServerError> {
    let deserializer = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
        parts
            .iter()
            .map(|(name, value)| (name.as_str(), Text(value))),
    );
    serde_path_to_error::deserialize(deserializer).map_err(path_error)
}

/// A decoding error as a 400: serde reports a missing field at the object holding it, so the
/// field's own name is appended to the path.
fn path_error<E: std::fmt::Display>(error: serde_path_to_error::Error<E>) -> ServerError {
    let message = error.inner().to_string();
    let mut attr = error.path().to_string();
    if attr == "." {
        attr.clear();
    }
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .filter(|name| !name.is_empty());
    let detail = match missing {
        Some(name) => {
            if !attr.is_empty() {
                attr.push('.');
            }
            attr.push_str(name);
            "This field is required.".to_owned()
        }
        None => message,
    };
    ServerError::validation((!attr.is_empty()).then_some(attr), detail)
}

/// Everything [`prepare`] read from a request.
struct Prepared {
    cx: Context,
    params: RawPathParams,
    body: RawBody,
}

/// The non-generic part of every request: path parameters, query, body within the limit, the
/// personal API key, and throttling.
async fn prepare(
    op: &'static Operation,
    request: Request,
    kind: BodyKind,
) -> Result<Prepared, ServerError> {
    let (mut parts, body) = request.into_parts();
    crate::server::context::mark_sensitive_headers(&mut parts.headers);
    let params = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .map_err(|_| ServerError::validation(None, "The path parameters could not be read."))?;
    let query_text = parts.uri.query();
    let query = QueryMap::parse(query_text);
    let header_key = crate::auth::extract_personal_api_key(&parts.headers, None, None);
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let is_json = content_type.starts_with("application/json");
    // Without a key in the header, PostHog reads `request.data` for one whatever the method.
    let read_json = kind == BodyKind::Json || (header_key.is_none() && is_json);
    let mut raw = RawBody::default();
    // A multipart operation sent no form (or something else) has no parts: an optional body is
    // then absent, and a required one misses its fields.
    if kind == BodyKind::Form && content_type.starts_with("multipart/form-data") {
        check_length(&parts.headers)?;
        let request = Request::from_parts(parts.clone(), body);
        raw.parts = read_form(request).await?;
    } else if kind == BodyKind::UrlEncoded
        && content_type.starts_with("application/x-www-form-urlencoded")
    {
        let bytes = read_limited(&parts.headers, body).await?;
        raw.parts = url::form_urlencoded::parse(&bytes).into_owned().collect();
    } else if read_json {
        raw.bytes = read_limited(&parts.headers, body).await?;
    }
    let key = match header_key {
        Some(key) => Some(key),
        None => {
            let json = if is_json && may_hold_key(&raw.bytes) {
                body_key_member(&raw.bytes)
            } else {
                None
            };
            let form_key = raw
                .parts
                .iter()
                .find(|(name, _)| name == crate::auth::PERSONAL_API_KEY_FIELD);
            let json =
                json.or_else(|| form_key.map(|(name, value)| serde_json::json!({ name: value })));
            crate::auth::extract_personal_api_key(&parts.headers, json.as_ref(), query_text)
        }
    };
    if let Some(limiter) = parts.extensions.get::<ServerRateLimiter>() {
        limiter.check(key.as_ref(), op.throttle_scopes)?;
    }
    let cx = Context {
        operation: op,
        key,
        uri: parts.uri,
        headers: parts.headers,
        query,
    };
    Ok(Prepared {
        cx,
        params,
        body: raw,
    })
}

/// Whether a JSON body can hold a `personal_api_key` member (possibly spelled with escapes),
/// so that bodies that cannot are not parsed twice.
fn may_hold_key(bytes: &[u8]) -> bool {
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|window| window == needle);
    !bytes.is_empty()
        && (contains(crate::auth::PERSONAL_API_KEY_FIELD.as_bytes()) || contains(b"\\u"))
}

/// `{"personal_api_key": value}` when the body is a JSON object with that member (the last one
/// when it repeats, as Django's parsed `request.data` keeps). The body is read as a stream and
/// nothing but the member is built: parsing a 20 MB body into a `Value` to look at one member
/// took about 40 times the body in memory. A value that is not a string matches no key (PostHog
/// then fails authentication), so an array or object is kept only as an empty one.
fn body_key_member(bytes: &[u8]) -> Option<serde_json::Value> {
    use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};

    struct FindKey;

    impl<'de> Visitor<'de> for FindKey {
        type Value = Option<serde_json::Value>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if name == crate::auth::PERSONAL_API_KEY_FIELD {
                    found = Some(map.next_value::<KeyValue>()?.0);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }

    /// The member's value: strings and scalars as they are, arrays and objects skipped.
    struct KeyValue(serde_json::Value);

    impl<'de> serde::Deserialize<'de> for KeyValue {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(KeyValueVisitor)
        }
    }

    struct KeyValueVisitor;

    impl<'de> Visitor<'de> for KeyValueVisitor {
        type Value = KeyValue;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<KeyValue, E> {
            Ok(KeyValue(text.into()))
        }

        fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<KeyValue, E> {
            Ok(KeyValue(value.into()))
        }

        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<KeyValue, E> {
            Ok(KeyValue(value.into()))
        }

        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<KeyValue, E> {
            Ok(KeyValue(value.into()))
        }

        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<KeyValue, E> {
            Ok(KeyValue(value.into()))
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<KeyValue, E> {
            Ok(KeyValue(serde_json::Value::Null))
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<KeyValue, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(KeyValue(serde_json::Value::Array(Vec::new())))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyValue, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(KeyValue(serde_json::Value::Object(serde_json::Map::new())))
        }
    }

    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let member = deserializer.deserialize_map(FindKey).ok()??;
    // Trailing bytes make the body invalid JSON, which PostHog's parser refuses as a whole.
    deserializer.end().ok()?;
    let mut object = serde_json::Map::new();
    object.insert(crate::auth::PERSONAL_API_KEY_FIELD.to_owned(), member);
    Some(serde_json::Value::Object(object))
}

/// Refuses a body whose declared length is over the limit before reading any of it.
fn check_length(headers: &HeaderMap) -> Result<(), ServerError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length) if length > MAX_BODY_BYTES as u64 => {
            Err(ServerError::payload_too_large(MAX_BODY_BYTES))
        }
        _ => Ok(()),
    }
}

/// Reads the body, stopping with 413 as soon as it passes the limit, so an oversized body is
/// never held in memory.
async fn read_limited(headers: &HeaderMap, body: Body) -> Result<Bytes, ServerError> {
    check_length(headers)?;
    let mut stream = body.into_data_stream();
    let mut first: Option<Bytes> = None;
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|_| ServerError::validation(None, "The request body could not be read."))?;
        let held = first.as_ref().map_or(0, Bytes::len) + buffer.len();
        if held + chunk.len() > MAX_BODY_BYTES {
            return Err(ServerError::payload_too_large(MAX_BODY_BYTES));
        }
        // The usual single-chunk body is kept as it came, without a copy.
        match first.take() {
            None if buffer.is_empty() => first = Some(chunk),
            None => buffer.extend_from_slice(&chunk),
            Some(earlier) => {
                buffer.extend_from_slice(&earlier);
                buffer.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(buffer)))
}

/// Reads a multipart body into `(name, text)` parts; file parts become their (lossy UTF-8) text,
/// as the client's file members are strings. axum's multipart reader applies the
/// `DefaultBodyLimit` that [`crate::server::Routes`] sets to 20 MB.
async fn read_form(request: Request) -> Result<Vec<(String, String)>, ServerError> {
    let mut multipart = axum::extract::Multipart::from_request(request, &())
        .await
        .map_err(|rejection| ServerError::validation(None, rejection.body_text()))?;
    let mut parts = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ServerError::payload_too_large(MAX_BODY_BYTES));
            }
            Err(error) => return Err(ServerError::validation(None, error.body_text())),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|error| {
            if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ServerError::payload_too_large(MAX_BODY_BYTES)
            } else {
                ServerError::validation(Some(name.clone()), error.body_text())
            }
        })?;
        parts.push((name, String::from_utf8_lossy(&bytes).into_owned()));
    }
    Ok(parts)
}

/// The default answer of every stub method.
pub fn unimplemented<T>(op: &'static Operation) -> std::future::Ready<Answer<T>> {
    std::future::ready(Err(ServerError::not_implemented(op)))
}

/// Mounts a JSON-answering operation (also the undocumented ones, answering `serde_json::Value`).
pub fn json<S, P, Q, B, T, F, Fut>(
    op: &'static Operation,
    service: &Arc<S>,
    call: F,
) -> MethodRouter
where
    S: Send + Sync + 'static,
    P: FromPath + Send + 'static,
    Q: FromQuery + Send + 'static,
    B: FromBody + Send + 'static,
    T: Serialize + Send + 'static,
    F: Fn(Arc<S>, Context, P, Q, B) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Answer<T>> + Send + 'static,
{
    handler(op, service, call, encode_json::<T>)
}

/// Mounts a `text/csv` operation.
pub fn text<S, P, Q, B, F, Fut>(op: &'static Operation, service: &Arc<S>, call: F) -> MethodRouter
where
    S: Send + Sync + 'static,
    P: FromPath + Send + 'static,
    Q: FromQuery + Send + 'static,
    B: FromBody + Send + 'static,
    F: Fn(Arc<S>, Context, P, Q, B) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Answer<String>> + Send + 'static,
{
    handler(op, service, call, |reply: Reply<String>| {
        encoded(
            reply.status,
            "text/csv; charset=utf-8",
            Body::from(reply.body),
        )
    })
}

/// Mounts a `text/event-stream` operation; the body streams as the implementation produces it.
pub fn events<S, P, Q, B, F, Fut>(op: &'static Operation, service: &Arc<S>, call: F) -> MethodRouter
where
    S: Send + Sync + 'static,
    P: FromPath + Send + 'static,
    Q: FromQuery + Send + 'static,
    B: FromBody + Send + 'static,
    F: Fn(Arc<S>, Context, P, Q, B) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Answer<Body>> + Send + 'static,
{
    handler(op, service, call, |reply: Reply<Body>| {
        encoded(reply.status, "text/event-stream", reply.body)
    })
}

/// Mounts an operation answering bytes (`application/octet-stream`, archives, spreadsheets).
pub fn binary<S, P, Q, B, F, Fut>(op: &'static Operation, service: &Arc<S>, call: F) -> MethodRouter
where
    S: Send + Sync + 'static,
    P: FromPath + Send + 'static,
    Q: FromQuery + Send + 'static,
    B: FromBody + Send + 'static,
    F: Fn(Arc<S>, Context, P, Q, B) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Answer<Bytes>> + Send + 'static,
{
    handler(op, service, call, |reply: Reply<Bytes>| {
        encoded(
            reply.status,
            "application/octet-stream",
            Body::from(reply.body),
        )
    })
}

/// Mounts an operation answering without a body.
pub fn empty<S, P, Q, B, F, Fut>(op: &'static Operation, service: &Arc<S>, call: F) -> MethodRouter
where
    S: Send + Sync + 'static,
    P: FromPath + Send + 'static,
    Q: FromQuery + Send + 'static,
    B: FromBody + Send + 'static,
    F: Fn(Arc<S>, Context, P, Q, B) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Answer<()>> + Send + 'static,
{
    handler(op, service, call, |reply: Reply<()>| {
        reply.status.into_response()
    })
}

fn encode_json<T: Serialize>(reply: Reply<T>) -> Response {
    // Undocumented answers are `serde_json::Value`; a 204 or 304 of one carries no body.
    if matches!(
        reply.status,
        StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
    ) {
        return reply.status.into_response();
    }
    match serde_json::to_vec(&reply.body) {
        Ok(bytes) => encoded(reply.status, "application/json", Body::from(bytes)),
        Err(error) => {
            tracing::error!(%error, "a server answer could not be encoded as JSON");
            ServerError::internal().into_response()
        }
    }
}

fn encoded(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The method filter of an operation; methods axum cannot route get none (405 everywhere).
fn method_filter(method: &Method) -> Option<MethodFilter> {
    MethodFilter::try_from(method.clone()).ok()
}

fn handler<S, P, Q, B, T, F, Fut>(
    op: &'static Operation,
    service: &Arc<S>,
    call: F,
    encode: fn(Reply<T>) -> Response,
) -> MethodRouter
where
    S: Send + Sync + 'static,
    P: FromPath + Send + 'static,
    Q: FromQuery + Send + 'static,
    B: FromBody + Send + 'static,
    T: Send + 'static,
    F: Fn(Arc<S>, Context, P, Q, B) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Answer<T>> + Send + 'static,
{
    let service = Arc::clone(service);
    let handle = move |request: Request| {
        let service = Arc::clone(&service);
        let call = call.clone();
        async move {
            let prepared = match prepare(op, request, B::KIND).await {
                Ok(prepared) => prepared,
                Err(error) => return error.into_response(),
            };
            let params: Vec<(&str, &str)> = prepared.params.iter().collect();
            let inputs = P::from_path(&params)
                .and_then(|path| {
                    let headers = HeaderParams::new(&prepared.cx.headers);
                    Ok((path, Q::from_request(&prepared.cx.query, &headers)?))
                })
                .and_then(|(path, query)| Ok((path, query, B::from_body(&prepared.body)?)));
            let (path, query, body) = match inputs {
                Ok(inputs) => inputs,
                Err(error) => return error.into_response(),
            };
            drop(params);
            match call(service, prepared.cx, path, query, body).await {
                Ok(reply) => encode(reply),
                Err(error) => error.into_response(),
            }
        }
    };
    match method_filter(&op.method) {
        Some(filter) => axum::routing::on(filter, handle),
        None => MethodRouter::new(),
    }
}
