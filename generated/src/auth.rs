//! Credentials and hosts: which key goes where, following PostHog's documented precedence.
//!
//! PostHog's private API reads a personal API key from the first of these it finds: the
//! `Authorization: Bearer` header, `personal_api_key` in the JSON body, `?personal_api_key=` in
//! the query string (`PersonalAPIKeyAuthentication.find_key_with_source` in `posthog/auth.py`).
//! The client puts the key in exactly one of them, the header by default, and refuses a request
//! that would carry a second key. Public endpoints take the project API key instead, and never
//! see the personal key.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::error::Error;

/// The name PostHog reads a personal API key from, in the JSON body and in the query string.
pub const PERSONAL_API_KEY_FIELD: &str = "personal_api_key";

/// Where the personal API key travels on each private request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyPlacement {
    /// `Authorization: Bearer <key>`: the documented default and the first place PostHog looks.
    #[default]
    Header,
    /// `personal_api_key` as the first member of the JSON body (or a multipart part), for
    /// environments that strip `Authorization`. A request without a body gets a JSON body holding
    /// only the key, because PostHog reads `request.data` whatever the method; a proxy that drops
    /// bodies of `GET` requests defeats this placement.
    Body,
    /// `?personal_api_key=` in the query string. Keys in URLs end up in proxy logs: last resort,
    /// and the client logs a warning the first time it is used. Servers older than the query
    /// placement read only the header and the body.
    Query,
}

/// The private-API credential: at most one, so two conflicting identities cannot be configured.
#[derive(Clone, Default)]
pub(crate) enum PrivateAuth {
    /// No private credential.
    #[default]
    None,
    /// A personal API key (`phx_...`).
    Personal(SecretString),
    /// Legacy HTTP Basic authentication.
    Basic {
        username: String,
        password: SecretString,
    },
}

/// How the client authenticates. Keys are held as secrets: they never appear in `Debug` output,
/// error messages or logs.
///
/// A client holds at most one private credential (a personal API key or Basic), plus optionally
/// the project API key for the public endpoints. The constructors cover one credential each;
/// [`Credentials::builder`] combines them:
///
/// ```
/// use posthog_api::{Credentials, KeyPlacement};
/// let both = Credentials::builder()
///     .personal_api_key("phx_...")
///     .project_api_key("phc_...")
///     .placement(KeyPlacement::Body)
///     .build();
/// assert!(both.has_private_credential() && both.has_project_api_key());
/// ```
#[derive(Clone, Default)]
pub struct Credentials {
    pub(crate) private: PrivateAuth,
    pub(crate) placement: KeyPlacement,
    pub(crate) project_key: Option<SecretString>,
}

impl Credentials {
    /// No credentials: only useful against endpoints that need none.
    pub fn none() -> Self {
        Self::default()
    }

    /// A personal API key (`phx_...`), sent as `Authorization: Bearer` (see
    /// [`CredentialsBuilder::placement`] for the other places).
    pub fn personal_api_key(key: impl Into<String>) -> Self {
        Self::builder().personal_api_key(key).build()
    }

    /// Legacy HTTP Basic authentication (username and password) accepted by older servers.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::builder().basic(username, password).build()
    }

    /// Only the project API key (`phc_...`), for clients that call public endpoints alone.
    pub fn project_api_key(key: impl Into<String>) -> Self {
        Self::builder().project_api_key(key).build()
    }

    /// Combines credentials: a private one (personal API key or Basic), the project API key,
    /// and where the personal key goes.
    pub fn builder() -> CredentialsBuilder {
        CredentialsBuilder::default()
    }

    /// Where the personal API key goes.
    pub fn placement(&self) -> KeyPlacement {
        self.placement
    }

    /// Whether a personal API key or Basic credentials are configured for the private API.
    pub fn has_private_credential(&self) -> bool {
        !matches!(self.private, PrivateAuth::None)
    }

    /// Whether a project API key is configured for the public endpoints.
    pub fn has_project_api_key(&self) -> bool {
        self.project_key.is_some()
    }

    /// A stable identifier of the private credential, for keying rate-limit buckets: the same
    /// credential gives the same id in every process, build and Rust release (a truncated
    /// SHA-256 with a domain tag, not `DefaultHasher`, whose output may change between releases),
    /// so workers sharing a budget through a store agree on it. It is a one-way hash of a
    /// high-entropy key, so it can be logged and used in store keys without revealing the key.
    pub fn bucket_id(&self) -> u64 {
        match &self.private {
            PrivateAuth::Personal(key) => stable_id(b"personal", key.expose_secret().as_bytes()),
            PrivateAuth::Basic { username, .. } => stable_id(b"basic", username.as_bytes()),
            PrivateAuth::None => stable_id(b"anonymous", b""),
        }
    }

    /// Checks the credentials once, when the client is built, so that a mistake fails early and
    /// a request never half-authenticates.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let invalid = |field: &str, reason: &str| Error::InvalidArgument {
            operation: "build_client",
            field: field.to_owned(),
            reason: reason.to_owned(),
        };
        match &self.private {
            PrivateAuth::Personal(key) if !is_sendable_key(key.expose_secret()) => {
                return Err(invalid(
                    "personal_api_key",
                    "the key is empty or contains whitespace or control characters",
                ));
            }
            PrivateAuth::Basic { username, password }
                if username.contains(':')
                    || username
                        .chars()
                        .chain(password.expose_secret().chars())
                        .any(char::is_control) =>
            {
                return Err(invalid(
                    "basic",
                    "the username must not contain `:` and neither part may contain control characters",
                ));
            }
            _ => {}
        }
        if let Some(key) = &self.project_key {
            check_project_key("project_api_key", key.expose_secret())?;
        }
        Ok(())
    }
}

/// Refuses a project key that is empty, unsendable, or is in fact a personal API key: project
/// keys travel to the public host and in URLs, where a personal key must never go.
pub(crate) fn check_project_key(field: &str, key: &str) -> Result<(), Error> {
    let reason = if !is_sendable_key(key) {
        "the key is empty or contains whitespace or control characters"
    } else if key.starts_with("phx_") {
        "this is a personal API key (`phx_`); project keys start with `phc_`, and a personal key must not be sent where project keys go"
    } else {
        return Ok(());
    };
    Err(Error::InvalidArgument {
        operation: "build_client",
        field: field.to_owned(),
        reason: reason.to_owned(),
    })
}

/// A stable 64-bit id of `(kind, value)`: the first eight bytes of SHA-256 over a versioned
/// domain tag and length-prefixed parts, so no two different inputs share a preimage layout.
pub(crate) fn stable_id(kind: &[u8], value: &[u8]) -> u64 {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"posthog-api/rate-limit-bucket/v1\0");
    for part in [kind, value] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Keys are opaque tokens: anything with whitespace or control characters is a copy-paste
/// mistake, and could not travel in a header anyway.
fn is_sendable_key(key: &str) -> bool {
    !key.is_empty() && !key.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Builds [`Credentials`] (see [`Credentials::builder`]). A private credential given twice
/// replaces the first: a client holds at most one.
// `Debug` is derived: it prints `Credentials`' own, which redacts every secret.
#[derive(Debug, Default)]
pub struct CredentialsBuilder {
    credentials: Credentials,
}

impl CredentialsBuilder {
    /// The personal API key (`phx_...`) for the private API.
    pub fn personal_api_key(mut self, key: impl Into<String>) -> Self {
        self.credentials.private = PrivateAuth::Personal(SecretString::from(key.into()));
        self
    }

    /// Legacy HTTP Basic authentication instead of a personal API key.
    pub fn basic(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials.private = PrivateAuth::Basic {
            username: username.into(),
            password: SecretString::from(password.into()),
        };
        self
    }

    /// The project API key (`phc_...`) used by the public endpoints.
    pub fn project_api_key(mut self, key: impl Into<String>) -> Self {
        self.credentials.project_key = Some(SecretString::from(key.into()));
        self
    }

    /// Where the personal API key goes in a request (default: the `Authorization` header).
    /// Basic credentials always travel in the `Authorization` header and ignore this.
    pub fn placement(mut self, placement: KeyPlacement) -> Self {
        self.credentials.placement = placement;
        self
    }

    /// The credentials.
    pub fn build(self) -> Credentials {
        self.credentials
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let private = match &self.private {
            PrivateAuth::None => "none",
            PrivateAuth::Personal(_) => "personal_api_key([redacted])",
            PrivateAuth::Basic { .. } => "basic([redacted])",
        };
        f.debug_struct("Credentials")
            .field("private", &format_args!("{private}"))
            .field("placement", &self.placement)
            .field(
                "project_api_key",
                &format_args!(
                    "{}",
                    if self.project_key.is_some() {
                        "[redacted]"
                    } else {
                        "none"
                    }
                ),
            )
            .finish()
    }
}

/// Where a server found a personal API key, and the key itself; see [`extract_personal_api_key`].
#[derive(Clone)]
pub struct KeySource {
    placement: KeyPlacement,
    key: SecretString,
}

impl KeySource {
    /// Which part of the request the key came from.
    pub fn placement(&self) -> KeyPlacement {
        self.placement
    }

    /// The key, for the caller to check. Named so that every use is visible in review.
    pub fn expose_key(&self) -> &str {
        self.key.expose_secret()
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySource")
            .field("placement", &self.placement)
            .field("key", &format_args!("[redacted]"))
            .finish()
    }
}

/// Finds the personal API key in a request the way PostHog's server does, for server stubs and
/// tests: the first candidate wins, in the order of `PersonalAPIKeyAuthentication` in
/// `posthog/auth.py`.
///
/// 1. An `Authorization` header matching `^Bearer\s+(\S.+)$` (case-sensitive `Bearer`; the
///    token is trimmed). A token starting with `pha_` (an OAuth access token) ends the search
///    with `None`, as PostHog leaves it to its OAuth authentication instead. Any other scheme,
///    such as `Basic`, is skipped and the search goes on.
/// 2. A `personal_api_key` member of a JSON object body. A non-string value is returned as its
///    JSON text, which matches no key: PostHog stops at it too, and then fails authentication.
/// 3. A `personal_api_key` parameter of the raw query string (`query`, with or without its
///    leading `?`); the last one wins when it repeats, as with Django's `QueryDict`, and an empty
///    value still counts as found.
///
/// Servers that predate the query placement stop after step 2.
pub fn extract_personal_api_key(
    headers: &http::HeaderMap,
    json_body: Option<&serde_json::Value>,
    query: Option<&str>,
) -> Option<KeySource> {
    let found = |placement, key: String| {
        Some(KeySource {
            placement,
            key: SecretString::from(key),
        })
    };
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        // Django hands header values over decoded as Latin-1, so every byte is one character.
        let text: String = value
            .as_bytes()
            .iter()
            .map(|&byte| char::from(byte))
            .collect();
        if let Some(token) = bearer_token(&text) {
            if token.starts_with("pha_") {
                return None;
            }
            return found(KeyPlacement::Header, token.to_owned());
        }
    }
    if let Some(serde_json::Value::Object(members)) = json_body
        && let Some(value) = members.get(PERSONAL_API_KEY_FIELD)
    {
        let key = match value {
            serde_json::Value::String(key) => key.clone(),
            other => other.to_string(),
        };
        return found(KeyPlacement::Body, key);
    }
    let query = query?;
    let query = query.strip_prefix('?').unwrap_or(query);
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == PERSONAL_API_KEY_FIELD)
        .last()
        .and_then(|(_, key)| found(KeyPlacement::Query, key.into_owned()))
}

/// The token of `^Bearer\s+(\S.+)$`, stripped, as Python's `re.match` and `str.strip` give it.
fn bearer_token(value: &str) -> Option<&str> {
    let rest = value.strip_prefix("Bearer")?;
    let token = rest.trim_start();
    // `\s+` needs at least one whitespace character; `\S.+` at least two characters, and `.`
    // does not match a line break.
    if token.len() == rest.len() || token.chars().count() < 2 || token.contains('\n') {
        return None;
    }
    Some(token.trim())
}

/// Where PostHog lives: a cloud region or a self-hosted instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Region {
    /// US Cloud: `https://us.posthog.com` and `https://us.i.posthog.com`.
    Us,
    /// EU Cloud: `https://eu.posthog.com` and `https://eu.i.posthog.com`.
    Eu,
    /// The legacy `https://app.posthog.com` (one host for both halves).
    Legacy,
    /// A self-hosted instance (or a test server): one base URL for both halves. It may carry a
    /// path prefix (`https://example.com/posthog`), but no credentials, query or fragment.
    SelfHosted(Url),
}

/// The two base URLs a client talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts {
    /// Base URL of the private API.
    pub private: Url,
    /// Base URL of the public ingestion endpoints.
    pub public: Url,
}

impl Region {
    /// A self-hosted instance at `base_url`, checked as [`crate::ClientBuilder::build`] would.
    pub fn self_hosted(base_url: &str) -> Result<Region, Error> {
        let url = Url::parse(base_url).map_err(|error| Error::InvalidArgument {
            operation: "build_client",
            field: "base_url".into(),
            reason: error.to_string(),
        })?;
        check_base_url("base_url", &url)?;
        Ok(Region::SelfHosted(url))
    }

    /// The base URLs of this region.
    pub fn hosts(&self) -> Hosts {
        // The presets are constants, so parsing them cannot fail on any input.
        let pair = |private: &str, public: &str| Hosts {
            private: Url::parse(private).expect("preset URLs are valid"),
            public: Url::parse(public).expect("preset URLs are valid"),
        };
        match self {
            Region::Us => pair("https://us.posthog.com", "https://us.i.posthog.com"),
            Region::Eu => pair("https://eu.posthog.com", "https://eu.i.posthog.com"),
            Region::Legacy => pair("https://app.posthog.com", "https://app.posthog.com"),
            Region::SelfHosted(url) => Hosts {
                private: url.clone(),
                public: url.clone(),
            },
        }
    }
}

impl Hosts {
    /// Checks both base URLs when the client is built.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        check_base_url("private_base_url", &self.private)?;
        check_base_url("public_base_url", &self.public)
    }
}

/// A base URL must be plain `http(s)://host[:port][/prefix]`: credentials in it would be sent as
/// a second `Authorization` and printed with the URL, and a query or fragment would be mangled
/// into every request.
fn check_base_url(field: &str, url: &Url) -> Result<(), Error> {
    let reason = if !matches!(url.scheme(), "http" | "https") {
        "the scheme must be http or https"
    } else if url.host_str().is_none_or(str::is_empty) {
        "the URL has no host"
    } else if !url.username().is_empty() || url.password().is_some() {
        "the URL must not carry a username or password; use Credentials instead"
    } else if url.query().is_some() || url.fragment().is_some() {
        "the URL must not carry a query or fragment"
    } else {
        return Ok(());
    };
    Err(Error::InvalidArgument {
        operation: "build_client",
        field: field.to_owned(),
        reason: reason.to_owned(),
    })
}

/// Logs, once per process, that keys are going into URLs.
pub(crate) fn warn_query_placement_once() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "the personal API key is sent in the query string; URLs end up in proxy and server logs, prefer KeyPlacement::Header"
        );
    });
}

/// Top-level member names of a JSON object body, or `None` when the body is not one. Values are
/// skipped without being built, so this costs one pass over the bytes.
pub(crate) fn json_object_members(bytes: &[u8]) -> Option<Vec<String>> {
    struct Members(Vec<String>);
    struct MembersVisitor;
    impl<'de> serde::de::Visitor<'de> for MembersVisitor {
        type Value = Members;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
            let mut names = Vec::new();
            while let Some(name) = map.next_key::<String>()? {
                map.next_value::<serde::de::IgnoredAny>()?;
                names.push(name);
            }
            Ok(Members(names))
        }
    }
    impl<'de> serde::Deserialize<'de> for Members {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Members, D::Error> {
            deserializer.deserialize_map(MembersVisitor)
        }
    }
    serde_json::from_slice::<Members>(bytes)
        .ok()
        .map(|members| members.0)
}

/// Whether a JSON body is an object with a top-level member `name`. Bodies that do not contain
/// the name literally, nor any `\u` escape that could spell it, are answered without parsing.
pub(crate) fn json_has_member(bytes: &[u8], name: &str) -> bool {
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|window| window == needle);
    if !contains(name.as_bytes()) && !contains(b"\\u") {
        return false;
    }
    json_object_members(bytes).is_some_and(|members| members.iter().any(|member| member == name))
}

/// The JSON object `bytes` with `"name": "value"` added as its first member, the rest of the
/// bytes unchanged; `None` when `bytes` is not a JSON object.
pub(crate) fn prepend_json_member(bytes: &[u8], name: &str, value: &str) -> Option<Vec<u8>> {
    let members = json_object_members(bytes)?;
    // A parsed object starts with `{` after optional whitespace.
    let brace = bytes.iter().position(|byte| !byte.is_ascii_whitespace())?;
    let mut out = Vec::with_capacity(bytes.len() + name.len() + value.len() + 8);
    out.extend_from_slice(&bytes[..=brace]);
    serde_json::to_writer(&mut out, name).ok()?;
    out.push(b':');
    serde_json::to_writer(&mut out, value).ok()?;
    if !members.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(&bytes[brace + 1..]);
    Some(out)
}
