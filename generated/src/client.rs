//! The client handle: configuration, and the shared state every clone uses.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::auth::{Credentials, Hosts, Region};
use crate::error::{Error, Result};
use crate::rate_limit::RateLimiter;
use crate::retry::RetryPolicy;

/// PostHog refuses request bodies over 20 MB; the client refuses them before sending.
pub const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// The default cap on an answer's body, counted after decompression (see
/// [`ClientBuilder::max_response_bytes`]): far above any JSON page PostHog sends, and room for
/// sizeable CSV exports, while a hostile or broken server cannot make the client allocate
/// without bound.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Which project a project-scoped call applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProjectId {
    /// The client's default project (see [`ClientBuilder::project_id`]).
    #[default]
    Default,
    /// This project.
    Id(String),
}

impl From<&str> for ProjectId {
    fn from(id: &str) -> Self {
        ProjectId::Id(id.to_owned())
    }
}

impl From<String> for ProjectId {
    fn from(id: String) -> Self {
        ProjectId::Id(id)
    }
}

impl From<&String> for ProjectId {
    fn from(id: &String) -> Self {
        ProjectId::Id(id.clone())
    }
}

impl From<i64> for ProjectId {
    fn from(id: i64) -> Self {
        ProjectId::Id(id.to_string())
    }
}

impl From<u64> for ProjectId {
    fn from(id: u64) -> Self {
        ProjectId::Id(id.to_string())
    }
}

/// An async PostHog API client. Cheap to clone: clones share connections, rate-limit budgets
/// and configuration.
///
/// One method per operation of PostHog's schema, named by its `operationId` and documented
/// under its tag's module in [`crate::api`].
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
    /// Per-call options of a view made by [`Client::with_options`]; `None` on a built client.
    pub(crate) options: Option<Arc<crate::request::RequestOptions>>,
}

#[derive(Debug)]
pub(crate) struct ClientInner {
    pub(crate) http: reqwest::Client,
    pub(crate) hosts: Hosts,
    pub(crate) credentials: Credentials,
    pub(crate) project_id: Option<String>,
    pub(crate) project_token: Option<secrecy::SecretString>,
    pub(crate) limiter: RateLimiter,
    pub(crate) retry: RetryPolicy,
    /// `credentials.bucket_id()`, computed once: every request keys its rate-limit buckets by it.
    pub(crate) bucket_id: u64,
    /// Secrets to redact from error texts, computed once.
    pub(crate) secrets: Arc<[secrecy::SecretString]>,
    /// The largest answer body read, after decompression.
    pub(crate) max_response_bytes: usize,
}

impl Client {
    /// A client for `region` authenticated with `credentials`, with default settings.
    pub fn new(region: Region, credentials: Credentials) -> Result<Client> {
        Client::builder(region).credentials(credentials).build()
    }

    /// Starts configuring a client for `region`.
    pub fn builder(region: Region) -> ClientBuilder {
        ClientBuilder {
            hosts: region.hosts(),
            credentials: Credentials::none(),
            timeout: Some(Duration::from_secs(60)),
            http: None,
            project_id: None,
            project_token: None,
            limiter: None,
            retry: RetryPolicy::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// The base URLs this client talks to.
    pub fn hosts(&self) -> &Hosts {
        &self.inner.hosts
    }

    /// The default project, if one was configured.
    pub fn default_project_id(&self) -> Option<&str> {
        self.inner.project_id.as_deref()
    }

    /// The rate limiter every clone of this client shares.
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    /// `project`, or the client's default project; an error naming `operation` without one.
    pub(crate) fn __project_id(
        &self,
        operation: &'static str,
        project: ProjectId,
    ) -> Result<String> {
        match project {
            ProjectId::Id(id) => Ok(id),
            ProjectId::Default => self.inner.project_id.clone().ok_or_else(|| Error::InvalidArgument {
                operation,
                field: "project_id".into(),
                reason: "ProjectId::Default was given but the client has no default project; set ClientBuilder::project_id".into(),
            }),
        }
    }
}

/// Configures a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    hosts: Hosts,
    credentials: Credentials,
    timeout: Option<Duration>,
    http: Option<reqwest::ClientBuilder>,
    project_id: Option<String>,
    project_token: Option<secrecy::SecretString>,
    limiter: Option<RateLimiter>,
    retry: RetryPolicy,
    max_response_bytes: usize,
}

impl ClientBuilder {
    /// The credentials to authenticate with.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Overrides the private API base URL (the public one stays as the region set it).
    pub fn private_base_url(mut self, url: Url) -> Self {
        self.hosts.private = url;
        self
    }

    /// Overrides the public ingestion base URL.
    pub fn public_base_url(mut self, url: Url) -> Self {
        self.hosts.public = url;
        self
    }

    /// Per-request timeout (default 60 s). Applies to a client given with
    /// [`Self::http_client_builder`] too, replacing a timeout set there.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// No per-request timeout: a request waits as long as the server takes (streams, long
    /// exports). Also replaces a timeout set on [`Self::http_client_builder`]'s builder.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// Builds the HTTP client from this `reqwest::ClientBuilder` (proxies, TLS settings,
    /// connection pools, ...). The client then replaces two of its settings, because a key must
    /// never follow a request elsewhere: redirects are followed only within the configured base
    /// URLs (scheme, host, port and path prefix), and no `Referer` is sent. A built
    /// `reqwest::Client` is not accepted, since the redirects it follows are invisible here.
    pub fn http_client_builder(mut self, builder: reqwest::ClientBuilder) -> Self {
        self.http = Some(builder);
        self
    }

    /// The largest answer body the client reads (default [`DEFAULT_MAX_RESPONSE_BYTES`], 64 MiB),
    /// counted after decompression, so a small gzip body cannot inflate without bound. A longer
    /// answer is an [`Error::ResponseTooLarge`]. Raise it for very large CSV exports; streamed
    /// answers (`*_event_stream`) are never buffered and have no cap.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// The project that project-scoped calls use when given [`ProjectId::Default`].
    pub fn project_id(mut self, id: impl Into<String>) -> Self {
        self.project_id = Some(id.into());
        self
    }

    /// Selects the project by its project API key: every private request carries `?token=`.
    pub fn project_token(mut self, token: impl Into<String>) -> Self {
        self.project_token = Some(secrecy::SecretString::from(token.into()));
        self
    }

    /// Replaces the rate limiter (e.g. with raised limits, or [`RateLimiter::disabled`]).
    /// Pass the same limiter to several clients to make them share one budget.
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Shares PostHog's budget with every process using the same key through `store` (e.g. a
    /// `rate_limit::RedisStore`, feature `redis`), with the default limits and store-failure
    /// policy; use [`RateLimiter::builder`] with [`Self::rate_limiter`] to change them.
    pub fn shared_rate_limit(self, store: Arc<dyn crate::rate_limit::SharedStore>) -> Self {
        self.rate_limiter(RateLimiter::shared(store))
    }

    /// Replaces the retry policy.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Builds the client, after checking the credentials and base URLs: a personal key given as
    /// a project key, a key with whitespace, or a base URL holding credentials is refused here
    /// rather than sent.
    pub fn build(self) -> Result<Client> {
        self.credentials.validate()?;
        if let Some(token) = &self.project_token {
            crate::auth::check_project_key(
                "project_token",
                secrecy::ExposeSecret::expose_secret(token),
            )?;
        }
        self.hosts.validate()?;
        tls::check(&self.hosts)?;
        // No `Referer`: on a followed redirect it would repeat the previous URL, query-string key
        // included. Set on the caller's builder too, overriding what it said.
        let mut builder = self
            .http
            .unwrap_or_default()
            .referer(false)
            .redirect(crate::request::redirects_within(&self.hosts));
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        let http = builder
            .build()
            .map_err(|source| Error::transport("build_client", source))?;
        let secrets =
            crate::request::redaction_secrets(&self.credentials, self.project_token.as_ref());
        Ok(Client {
            inner: Arc::new(ClientInner {
                bucket_id: self.credentials.bucket_id(),
                secrets,
                http,
                hosts: self.hosts,
                credentials: self.credentials,
                project_id: self.project_id,
                project_token: self.project_token,
                limiter: self.limiter.unwrap_or_default(),
                retry: self.retry,
                max_response_bytes: self.max_response_bytes,
            }),
            options: None,
        })
    }
}

/// The TLS stack the crate's features chose (see the crate docs, "TLS").
mod tls {
    use crate::auth::Hosts;
    use crate::error::Result;

    /// Readies TLS for building a `reqwest::Client`. Under `rustls-ring` alone reqwest takes the
    /// process's default rustls provider, so ring is installed as that default unless the
    /// program installed one already (which is then kept).
    #[cfg(any(feature = "rustls", feature = "rustls-ring", feature = "native-tls"))]
    pub(super) fn check(_hosts: &Hosts) -> Result<()> {
        #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Fails only when another thread installed a provider first, which then serves.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        Ok(())
    }

    /// Without a TLS feature only `http://` base URLs work: an `https://` one is refused here,
    /// naming the features, instead of failing at the first request.
    #[cfg(not(any(feature = "rustls", feature = "rustls-ring", feature = "native-tls")))]
    pub(super) fn check(hosts: &Hosts) -> Result<()> {
        for (field, url) in [
            ("private_base_url", &hosts.private),
            ("public_base_url", &hosts.public),
        ] {
            if url.scheme() == "https" {
                return Err(crate::error::Error::InvalidArgument {
                    operation: "build_client",
                    field: field.into(),
                    reason: "an https base URL needs TLS, and posthog-api was built without a TLS feature; enable `rustls` (the default), `rustls-ring` or `native-tls`".into(),
                });
            }
        }
        Ok(())
    }
}
