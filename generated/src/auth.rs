//! Credentials and hosts: which key goes where, following PostHog's documented precedence.
//!
//! PostHog's private API reads a personal API key from the first of these it finds: the
//! `Authorization: Bearer` header, `personal_api_key` in the JSON body, `?personal_api_key=` in
//! the query string. The client puts the key in exactly one of them, the header by default.
//! Public endpoints take the project API key instead, and never see the personal key.

use std::fmt;
use std::hash::{Hash, Hasher};

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Where the personal API key travels on each private request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyPlacement {
    /// `Authorization: Bearer <key>`: the documented default and the first place PostHog looks.
    #[default]
    Header,
    /// `personal_api_key` in the JSON body, for environments that strip `Authorization`.
    Body,
    /// `?personal_api_key=` in the query string. Keys in URLs end up in proxy logs: last resort.
    Query,
}

/// How the client authenticates. Keys are held as secrets: they never appear in `Debug` output.
#[derive(Clone, Default)]
pub struct Credentials {
    pub(crate) personal: Option<SecretString>,
    pub(crate) placement: KeyPlacement,
    pub(crate) project_key: Option<SecretString>,
    pub(crate) basic: Option<(String, SecretString)>,
}

impl Credentials {
    /// No credentials: only useful against endpoints that need none.
    pub fn none() -> Self {
        Self::default()
    }

    /// A personal API key (`phx_...`), sent as `Authorization: Bearer`.
    pub fn personal_api_key(key: impl Into<String>) -> Self {
        Self {
            personal: Some(SecretString::from(key.into())),
            ..Self::default()
        }
    }

    /// Legacy HTTP Basic authentication (username and password) accepted by older servers.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            basic: Some((username.into(), SecretString::from(password.into()))),
            ..Self::default()
        }
    }

    /// Moves the personal API key to another place in the request.
    pub fn with_placement(mut self, placement: KeyPlacement) -> Self {
        self.placement = placement;
        self
    }

    /// Adds the project API key (`phc_...`) used by the public endpoints.
    pub fn with_project_api_key(mut self, key: impl Into<String>) -> Self {
        self.project_key = Some(SecretString::from(key.into()));
        self
    }

    /// Where the personal API key goes.
    pub fn placement(&self) -> KeyPlacement {
        self.placement
    }

    /// A stable identifier of the private credential, for keying rate-limit buckets. It is a
    /// hash, so it can be logged without revealing the key.
    pub fn bucket_id(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        if let Some(key) = &self.personal {
            ("personal", key.expose_secret()).hash(&mut hasher);
        } else if let Some((user, _)) = &self.basic {
            ("basic", user).hash(&mut hasher);
        } else {
            "anonymous".hash(&mut hasher);
        }
        hasher.finish()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |present: bool| if present { "[redacted]" } else { "none" };
        f.debug_struct("Credentials")
            .field("personal_api_key", &redacted(self.personal.is_some()))
            .field("placement", &self.placement)
            .field("project_api_key", &redacted(self.project_key.is_some()))
            .field(
                "basic",
                &self.basic.as_ref().map(|(user, _)| (user.as_str(), "[redacted]")),
            )
            .finish()
    }
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
    /// A self-hosted instance (or a test server): one base URL for both halves.
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
    /// The base URLs of this region.
    pub fn hosts(&self) -> Hosts {
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

/// Logs, once per process, that keys are going into URLs.
pub(crate) fn warn_query_placement_once() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "the personal API key is sent in the query string; URLs end up in proxy and server logs, prefer KeyPlacement::Header"
        );
    });
}
