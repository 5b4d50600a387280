//! Header and cookie parameters, `application/x-www-form-urlencoded` bodies and the media type
//! of a `+json` body: what generated methods of schemas that declare them call.
//!
//! Values come from users, so each is checked before anything is sent: a header value must be
//! visible ASCII (no CR, LF or other control character that could end the header and start
//! another), a cookie value must be RFC 6265 cookie octets (no `;` that would add a cookie), and
//! a parameter may never name a header the pipeline owns (credentials, framing, the body's
//! encoding). The error names the parameter, never its value, which may be a secret.

use http::header::{self, HeaderName, HeaderValue};

use super::*;

/// Headers a parameter may not set: the pipeline's own, as in per-call options, plus `Accept`,
/// which the answer's decoding relies on (OpenAPI says to ignore an `Accept` parameter, and the
/// generator leaves it out).
pub(super) fn is_owned_header(name: &HeaderName) -> bool {
    *name == header::ACCEPT || options::RESERVED_HEADERS.contains(name)
}

impl RequestBuilder {
    /// Adds a header parameter; `None` adds nothing, arrays are joined with commas (OpenAPI's
    /// `simple` style), objects as `key,value` pairs.
    pub fn header<T: Serialize + ?Sized>(mut self, name: &'static str, value: &T) -> Self {
        let Some(text) = self.param_text(name, value) else {
            return self;
        };
        let parsed = match HeaderName::from_bytes(name.as_bytes()) {
            Ok(parsed) if is_owned_header(&parsed) => {
                return self.failed(
                    name,
                    "the client sets this header itself; a parameter cannot replace it",
                );
            }
            Ok(parsed) => parsed,
            Err(_) => return self.failed(name, "not a valid HTTP header name"),
        };
        // `HeaderValue` takes bytes past ASCII as opaque `obs-text`; servers read them in
        // different charsets (the stubs refuse them), so only ASCII is sent.
        match HeaderValue::from_str(&text)
            .ok()
            .filter(|_| text.is_ascii())
        {
            Some(mut value) => {
                // Header parameters carry CSRF tokens and the like: kept out of `Debug`.
                value.set_sensitive(true);
                self.headers.push((parsed, value));
                self
            }
            None => self.failed(
                name,
                "a header value must be visible ASCII, without CR, LF or other control characters",
            ),
        }
    }

    /// Adds a cookie parameter, sent with the others in one `Cookie` header; `None` adds
    /// nothing, arrays are joined with commas.
    pub fn cookie<T: Serialize + ?Sized>(mut self, name: &'static str, value: &T) -> Self {
        let Some(text) = self.param_text(name, value) else {
            return self;
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return self.failed(name, "not a valid cookie name");
        }
        if !text.bytes().all(|b| is_cookie_octet(b) || b == b',') {
            return self.failed(
                name,
                "a cookie value must be printable ASCII without spaces, `\"`, `;` or `\\` (RFC 6265)",
            );
        }
        self.cookies.push(format!("{name}={text}"));
        self
    }

    /// The text of a header or cookie parameter, `None` when it is absent (or a failure was
    /// recorded).
    fn param_text<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Option<String> {
        let value = match serde_json::to_value(value) {
            Ok(value) => value,
            Err(error) => {
                self.fail(name, error.to_string());
                return None;
            }
        };
        match value {
            serde_json::Value::Null => None,
            serde_json::Value::Array(items) => Some(
                items
                    .into_iter()
                    .map(scalar_text)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            serde_json::Value::Object(members) => Some(
                members
                    .into_iter()
                    .flat_map(|(key, value)| [key, scalar_text(value)])
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            other => Some(scalar_text(other)),
        }
    }

    /// Sets an `application/x-www-form-urlencoded` body: each top-level member of `body` is a
    /// field, arrays repeat the name (Django's `QueryDict.getlist`), objects are JSON text and
    /// `null` is left out, as in multipart bodies.
    pub fn form<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        let Some(members) = self.body_members(body, "a form body must be an object") else {
            return self;
        };
        let mut pairs = Vec::with_capacity(members.len());
        for (name, value) in members {
            match value {
                serde_json::Value::Null => {}
                serde_json::Value::Array(items)
                    if !items.iter().any(|i| i.is_object() || i.is_array()) =>
                {
                    pairs.extend(
                        items
                            .into_iter()
                            .map(|item| (name.clone(), scalar_text(item))),
                    );
                }
                serde_json::Value::String(text) => pairs.push((name, text)),
                other => pairs.push((name, other.to_string())),
            }
        }
        self.body = Body::Form(pairs);
        self
    }

    /// Sets a form body when there is one.
    // Only generated code of schemas that declare this calls it (PostHog's declares none).
    #[allow(dead_code)]
    pub fn form_opt<T: Serialize + ?Sized>(self, body: Option<&T>) -> Self {
        match body {
            Some(body) => self.form(body),
            None => self,
        }
    }

    /// The `Content-Type` of the JSON body when the schema names a `+json` type
    /// (`application/scim+json`); other bodies keep their own.
    pub fn content_type(mut self, media_type: &'static str) -> Self {
        match HeaderValue::from_str(media_type) {
            Ok(value) if media_type.contains('/') => self.content_type = Some(value),
            _ => return self.failed("content type", "not a media type"),
        }
        self
    }
}

/// The encoded bytes of a form body.
pub(super) fn encode_form(pairs: &[(String, String)]) -> Bytes {
    Bytes::from(
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish(),
    )
}

/// RFC 9110 `tchar`, the characters of a header or cookie name.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 6265 `cookie-octet`: printable ASCII except space, `"`, `,`, `;` and `\`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}
