//! What a server method learns about its request besides the typed inputs, with a `Debug` that
//! a handler can log (`{cx:?}`) without printing a key from any place a request can carry one.

use std::fmt;

use http::HeaderMap;
use http::header::{self, HeaderName, HeaderValue};

use crate::auth::KeySource;
use crate::operation::Operation;
use crate::server::dispatch::QueryMap;

/// What an implementation learns about a request besides its typed inputs.
///
/// Its `Debug` output names the operation and where the key came from, and shows the URI, the
/// headers and the query with secrets replaced by `[redacted]`: credential headers
/// ([`SENSITIVE_HEADERS`]), credential query parameters ([`SENSITIVE_QUERY_PARAMETERS`]), and
/// anything shaped like a PostHog key (`phx_...`, `phc_...`) wherever it appears.
pub struct Context {
    /// The operation being answered.
    pub operation: &'static Operation,
    /// The personal API key, from the first place PostHog looks that holds one.
    pub key: Option<KeySource>,
    /// The request's path and query, as sent (e.g. for building `next` links).
    pub uri: http::Uri,
    /// The request headers; the server marks [`SENSITIVE_HEADERS`] sensitive when it reads them.
    pub headers: HeaderMap,
    /// Every query parameter as sent, including ones the schema does not list.
    pub query: QueryMap,
}

/// Headers that carry credentials: never printed.
pub const SENSITIVE_HEADERS: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
    header::SET_COOKIE,
];

/// Query parameters that carry credentials: the personal API key, and the project key the public
/// endpoints read from `api_key` or `token`.
pub const SENSITIVE_QUERY_PARAMETERS: [&str; 3] =
    [crate::auth::PERSONAL_API_KEY_FIELD, "api_key", "token"];

const REDACTED: &str = "[redacted]";

impl Context {
    /// The key's text, when the request carried one.
    pub fn key_text(&self) -> Option<&str> {
        self.key.as_ref().map(KeySource::expose_key)
    }
}

/// Marks the values of [`SENSITIVE_HEADERS`] sensitive, so that `http`'s own `Debug` of the map
/// (and anything else honouring the flag) hides them too.
pub(crate) fn mark_sensitive_headers(headers: &mut HeaderMap) {
    for name in &SENSITIVE_HEADERS {
        if let header::Entry::Occupied(mut entry) = headers.entry(name) {
            for value in entry.iter_mut() {
                value.set_sensitive(true);
            }
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("operation", &self.operation.id)
            .field("key", &self.key)
            .field("uri", &format_args!("{}", redacted_uri(&self.uri)))
            .field("headers", &Headers(&self.headers))
            .field("query", &self.query)
            .finish()
    }
}

/// The path and query with credential parameters' values redacted.
fn redacted_uri(uri: &http::Uri) -> String {
    let path = crate::error::redact_keys(uri.path()).into_owned();
    match uri.query() {
        None => path,
        Some(query) => {
            let pairs = url::form_urlencoded::parse(query.as_bytes());
            let mut out = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in pairs {
                out.append_pair(&name, &redacted_parameter(&name, &value));
            }
            format!("{path}?{}", out.finish())
        }
    }
}

fn redacted_parameter(name: &str, value: &str) -> String {
    if SENSITIVE_QUERY_PARAMETERS.contains(&name) {
        REDACTED.to_owned()
    } else {
        crate::error::redact_keys(value).into_owned()
    }
}

struct Headers<'a>(&'a HeaderMap);

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |name: &HeaderName, value: &HeaderValue| -> String {
            if value.is_sensitive() || SENSITIVE_HEADERS.contains(name) {
                return REDACTED.to_owned();
            }
            let text = String::from_utf8_lossy(value.as_bytes());
            crate::error::redact_keys(&text).into_owned()
        };
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .map(|(name, value)| (name.as_str(), shown(name, value))),
            )
            .finish()
    }
}

impl fmt::Debug for QueryMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.pairs()
                    .map(|(name, value)| (name, redacted_parameter(name, value))),
            )
            .finish()
    }
}
