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
        let options = self.client.options.as_deref();
        // A per-call parameter replaces one of the same name, also in a followed `next` link
        // (which repeats the parameters of the first page).
        if let Some(options) = options.filter(|options| !options.query.is_empty()) {
            let names: Vec<&str> = options
                .query
                .iter()
                .map(|(name, _)| name.as_str())
                .collect();
            query.retain(|(name, _)| !names.contains(&name.as_ref()));
            super::follow::remove_query_params(&mut url, &names);
            url.query_pairs_mut().extend_pairs(&options.query);
        }
        let mut headers = options
            .map(|options| options.headers.clone())
            .unwrap_or_default();
        // Header parameters replace a per-call header of the same name; neither can be one the
        // pipeline sets below (both are checked when given).
        for (name, _) in &self.headers {
            headers.remove(name);
        }
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        if !self.cookies.is_empty() {
            let mut cookie = HeaderValue::try_from(self.cookies.join("; ")).map_err(|_| {
                Error::InvalidArgument {
                    operation: op.id,
                    field: "cookie".into(),
                    reason: "the cookies cannot be sent in an HTTP header".into(),
                }
            })?;
            cookie.set_sensitive(true);
            headers.insert(header::COOKIE, cookie);
        }
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
                .extend_pairs(query.iter().map(|(k, v)| (k.as_ref(), v.as_str())));
        }
        // Checked again because a key placed in the body adds to it.
        self.check_size(&body)?;
        let body = match body {
            Body::None => None,
            Body::Json(json) => {
                headers.insert(
                    header::CONTENT_TYPE,
                    self.content_type
                        .clone()
                        .unwrap_or(HeaderValue::from_static("application/json")),
                );
                // Compressed last, once for every attempt, so the key placed above is inside
                // it and the 20 MB limit applies to the JSON the server will decode.
                if self.gzip {
                    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                    Some(gzip(&json).map_err(|error| Error::InvalidArgument {
                        operation: op.id,
                        field: "body".into(),
                        reason: format!("gzip failed: {error}"),
                    })?)
                } else {
                    Some(json)
                }
            }
            Body::Multipart(parts) => {
                let (bytes, content_type) =
                    super::multipart::encode(&parts).map_err(|error| Error::InvalidArgument {
                        operation: op.id,
                        field: "body".into(),
                        reason: format!("multipart encoding failed: {error}"),
                    })?;
                headers.insert(header::CONTENT_TYPE, content_type);
                Some(bytes)
            }
            Body::Form(pairs) => {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
                Some(super::params::encode_form(&pairs))
            }
        };
        Ok(Prepared {
            op,
            info: crate::error::RequestInfo {
                method: op.method.clone(),
                path: self.path_template(),
                request_id: None,
            },
            timeout: options.and_then(|options| options.timeout),
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
        query: &mut Vec<(std::borrow::Cow<'static, str>, String)>,
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
                    query.push((field.into(), key.expose_secret().to_owned()));
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
            query.push(("token".into(), token.expose_secret().to_owned()));
        }
        Ok(())
    }

    /// Places the project API key the way PostHog's `get_token` reads it: `?token=` on `GET`,
    /// otherwise `api_key` in the body. The personal key and Basic never go to the public host.
    /// A project key the caller already put in the request is left as the only one.
    pub(super) fn authenticate_public(
        &self,
        url: &url::Url,
        query: &mut Vec<(std::borrow::Cow<'static, str>, String)>,
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
                query.push(("token".into(), key.expose_secret().to_owned()));
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
    query: &[(std::borrow::Cow<'static, str>, String)],
    name: &str,
) -> bool {
    query.iter().any(|(key, _)| key == name) || url.query_pairs().any(|(key, _)| key == name)
}

impl Body {
    /// The size of the body on the wire, multipart framing included.
    pub(super) fn len(&self) -> usize {
        match self {
            Body::None => 0,
            Body::Json(bytes) => bytes.len(),
            Body::Multipart(parts) => super::multipart::encoded_len(parts),
            Body::Form(pairs) => super::params::encode_form(pairs).len(),
        }
    }

    /// Whether the body has a top-level member (or multipart part) called `name`.
    pub(super) fn has_member(&self, name: &str) -> bool {
        match self {
            Body::None => false,
            Body::Json(bytes) => crate::auth::json_has_member(bytes, name),
            Body::Multipart(parts) => parts.iter().any(|(part, _)| part == name),
            Body::Form(pairs) => pairs.iter().any(|(field, _)| field == name),
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
            Body::Form(pairs) => {
                let mut pairs = pairs.clone();
                pairs.push((name.to_owned(), value.to_owned()));
                Some(Body::Form(pairs))
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
    /// Method and path template, for errors.
    pub(super) info: crate::error::RequestInfo,
    /// A per-call timeout replacing the client's.
    pub(super) timeout: Option<std::time::Duration>,
    pub(super) method: http::Method,
    pub(super) url: url::Url,
    pub(super) headers: http::HeaderMap,
    /// The body's bytes exactly as sent; their media type is among the headers.
    pub(super) body: Option<Bytes>,
    /// The client's secrets, in the forms requests carry them, for redacting echoes.
    pub(super) secrets: std::sync::Arc<[SecretString]>,
}

impl Prepared {
    pub(super) fn build(&self, http: &reqwest::Client) -> Result<reqwest::Request> {
        let mut request = http
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone());
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        request
            .build()
            .map_err(|source| Error::transport(self.op.id, source))
    }
}

/// What error texts must never show for a client: its configured secrets, in every form a
/// request carries them (as given, percent-encoded in a query, escaped in a JSON string, and the
/// Basic token as it appears on the wire), plus the Basic username. Longest first, so that a
/// secret inside another is not redacted piecemeal. Computed once when the client is built.
pub(crate) fn redaction_secrets(
    credentials: &crate::auth::Credentials,
    project_token: Option<&SecretString>,
) -> std::sync::Arc<[SecretString]> {
    let mut plain: Vec<String> = credentials
        .project_key
        .iter()
        .chain(project_token)
        .map(|secret| secret.expose_secret().to_owned())
        .collect();
    match &credentials.private {
        PrivateAuth::None => {}
        PrivateAuth::Personal(key) => plain.push(key.expose_secret().to_owned()),
        PrivateAuth::Basic { username, password } => {
            plain.push(password.expose_secret().to_owned());
            plain.push(basic_token(username, password.expose_secret()));
            // A username of a few characters would shred every error text it occurs in; such a
            // name identifies little on its own.
            if username.chars().count() >= 4 {
                plain.push(username.clone());
            }
        }
    }
    let mut forms: Vec<String> = Vec::with_capacity(plain.len() * 3);
    for secret in plain {
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let escaped = serde_json::to_string(&secret).unwrap_or_default();
        let escaped = escaped
            .strip_prefix('"')
            .and_then(|inner| inner.strip_suffix('"'))
            .unwrap_or_default()
            .to_owned();
        forms.extend([encoded, escaped]);
        forms.push(secret);
    }
    forms.retain(|form| !form.is_empty());
    forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    forms.dedup();
    forms.into_iter().map(SecretString::from).collect()
}

impl RequestBuilder {
    /// The credential query parameters this request carries (`name=value` as sent), which a
    /// server building links from the request's query string echoes into its answer.
    pub(super) fn query_credentials(&self) -> Vec<String> {
        let inner = &self.client.inner;
        let mut pairs: Vec<(&str, &SecretString)> = Vec::new();
        if self.op.host == HostKind::Private {
            if let PrivateAuth::Personal(key) = &inner.credentials.private
                && inner.credentials.placement == KeyPlacement::Query
            {
                pairs.push((crate::auth::PERSONAL_API_KEY_FIELD, key));
            }
            if let Some(token) = &inner.project_token {
                pairs.push(("token", token));
            }
        }
        pairs
            .into_iter()
            .map(|(name, value)| {
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair(name, value.expose_secret())
                    .finish()
            })
            .collect()
    }
}

/// `body` with every echo of the request's query credentials (`needles`, each `name=value`)
/// removed together with one `&` beside it, so links in the answer (a listing's `next`) no longer
/// hold them; following such a link applies them afresh. Only UTF-8 bodies can hold a link, and
/// a body that does not contain a needle is returned untouched, without copying.
pub(super) fn strip_echoed_credentials(body: Bytes, needles: &[String]) -> Bytes {
    let Ok(text) = std::str::from_utf8(&body) else {
        return body;
    };
    if !needles.iter().any(|needle| text.contains(needle.as_str())) {
        return body;
    }
    let mut text = text.to_owned();
    for needle in needles {
        for pattern in [format!("&{needle}"), format!("{needle}&"), needle.clone()] {
            if text.contains(&pattern) {
                text = text.replace(&pattern, "");
            }
        }
    }
    Bytes::from(text)
}
