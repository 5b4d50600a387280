//! Credential placement: resolves a request's URL, puts the key where the configuration says
//! (and nowhere else), and keeps the request's secrets so errors can redact them.

use super::*;

impl RequestBuilder {
    /// Resolves the URL and places the credentials, once for every attempt.
    pub(super) fn prepare(&self) -> Result<Prepared> {
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
            secrets: self.client.inner.secrets.clone(),
        })
    }

    pub(super) fn check_size(&self, body: &Body) -> Result<()> {
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
    pub(super) fn authenticate_private(
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
    pub(super) fn authenticate_public(
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

    pub(super) fn sensitive_header(&self, value: String) -> Result<HeaderValue> {
        // The parse error is dropped unread: it must not carry the key into an error message.
        let mut value = HeaderValue::try_from(value).map_err(|_| {
            self.invalid_credentials("the key cannot be sent in an HTTP header".into())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    pub(super) fn invalid_credentials(&self, reason: String) -> Error {
        Error::InvalidArgument {
            operation: self.op.id,
            field: "credentials".into(),
            reason,
        }
    }
}

/// Whether the request's query (the builder's parameters or a followed link's) has `name`.
pub(super) fn has_query_param(
    url: &url::Url,
    query: &[(&'static str, String)],
    name: &str,
) -> bool {
    query.iter().any(|(key, _)| *key == name) || url.query_pairs().any(|(key, _)| key == name)
}

impl Body {
    pub(super) fn len(&self) -> usize {
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
                            MultipartValue::FilePart(file) => file.bytes().len(),
                        }
                })
                .sum(),
        }
    }

    /// Whether the body has a top-level member (or multipart part) called `name`.
    pub(super) fn has_member(&self, name: &str) -> bool {
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
    pub(super) fn with_member(&self, name: &str, value: &str) -> Option<Body> {
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
pub(super) fn gzip(bytes: &[u8]) -> std::io::Result<Bytes> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 8),
        flate2::Compression::fast(),
    );
    encoder.write_all(bytes)?;
    encoder.finish().map(Bytes::from)
}

/// The `Basic` credential: base64 of `user:password` (RFC 7617).
pub(super) fn basic_token(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// A request ready to send, rebuilt into a fresh `reqwest::Request` for every attempt.
pub(super) struct Prepared {
    pub(super) op: &'static Operation,
    pub(super) method: http::Method,
    pub(super) url: url::Url,
    pub(super) headers: http::HeaderMap,
    pub(super) body: Body,
    /// Every secret this request carries, in the forms it carries them, for redacting echoes.
    pub(super) secrets: std::sync::Arc<[SecretString]>,
}

impl Prepared {
    /// `text` without this request's secrets, nor anything shaped like a PostHog key.
    pub(super) fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in self.secrets.iter() {
            let secret = secret.expose_secret();
            if !secret.is_empty() && text.contains(secret) {
                text = text.replace(secret, "[redacted]");
            }
        }
        crate::error::redact_keys(&text).into_owned()
    }
}

impl Prepared {
    pub(super) fn build(&self, http: &reqwest::Client) -> Result<reqwest::Request> {
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
                        MultipartValue::FilePart(file) => {
                            let part = || {
                                reqwest::multipart::Part::stream(file.bytes().clone())
                                    .file_name(file.file_name().to_owned())
                            };
                            // `file_part` refused invalid content types; the fallback is unreachable.
                            form.part(
                                name.clone(),
                                part()
                                    .mime_str(file.content_type())
                                    .unwrap_or_else(|_| part()),
                            )
                        }
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

/// What error texts must never show for a client: its configured secrets, and the Basic token
/// as it appears on the wire. Computed once when the client is built, not per request.
pub(crate) fn redaction_secrets(
    credentials: &crate::auth::Credentials,
    project_token: Option<&SecretString>,
) -> std::sync::Arc<[SecretString]> {
    let mut secrets: Vec<SecretString> = credentials
        .project_key
        .iter()
        .chain(project_token)
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
    secrets.into()
}
