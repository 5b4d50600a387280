//! Typed async client for PostHog's API, generated from PostHog's own OpenAPI schema.
//!
//! ```no_run
//! use posthog_api::{Client, Credentials, Region, ProjectId};
//! # async fn run() -> posthog_api::Result<()> {
//! let client = Client::builder(Region::Us)
//!     .credentials(Credentials::personal_api_key("phx_..."))
//!     .project_id("12345")
//!     .build()?;
//! let me = client.users_retrieve("@me").await?;
//! # Ok(()) }
//! ```
//!
//! Every operation of the schema is a method on [`Client`] named by its `operationId`; the
//! [`api`] module documents them by tag, and [`types`] holds the schema's types.
//!
//! # Authentication
//! ```no_run
//! use posthog_api::{Client, Credentials, KeyPlacement, Region};
//! # fn run() -> posthog_api::Result<()> {
//! // US Cloud (us.posthog.com, public endpoints on us.i.posthog.com).
//! let us = Client::new(Region::Us, Credentials::personal_api_key("phx_..."))?;
//! // EU Cloud, with the project key for the public endpoints too.
//! let eu = Client::new(
//!     Region::Eu,
//!     Credentials::builder().personal_api_key("phx_...").project_api_key("phc_...").build(),
//! )?;
//! // Self-hosted: one base URL for both halves; here behind a proxy that strips `Authorization`.
//! let own = Client::new(
//!     Region::self_hosted("https://posthog.example.com")?,
//!     Credentials::builder().personal_api_key("phx_...").placement(KeyPlacement::Body).build(),
//! )?;
//! # Ok(()) }
//! ```
//!
//! **Precedence.** PostHog's server (`PersonalAPIKeyAuthentication` in `posthog/auth.py`) tries
//! only the first personal API key it finds, in this order:
//!
//! 1. the `Authorization: Bearer <key>` header;
//! 2. `personal_api_key` in the request body (JSON member or form field), for any method;
//! 3. `?personal_api_key=` in the query string (older servers stop after the body).
//!
//! The client puts the key in exactly one of them: the header by default, or the body or query
//! as [`KeyPlacement`] says. Under `Body`, a request without a body gets a JSON body holding only
//! the key. `Query` logs a warning once, because URLs end up in proxy logs. A request that
//! already carries a `personal_api_key` of the caller's is refused unsent rather than sent with
//! two keys, and a client holds at most one private credential (a personal key or legacy Basic).
//! [`auth::extract_personal_api_key`] implements the server's side of the same order.
//!
//! **Hosts.** Private operations go to the private host with the private credential; public
//! operations ([`HostKind::Public`]) go to the public host with only the project key (`?token=` on
//! `GET`, `api_key` in the body otherwise, as PostHog's `get_token` reads it). A personal key
//! never goes to the public host, and [`ClientBuilder::build`] refuses a `phx_` key given as a
//! project key. [`ClientBuilder::project_token`] adds `?token=` to private requests to select the
//! project; a `token` given for one call wins over it.
//!
//! **Secrets.** Keys never appear in `Debug` output, error messages or logs: they are held as
//! [`secrecy`] secrets, `Authorization` is marked sensitive, transport errors drop their URL, and
//! error texts built from an answer (error bodies, decode errors) have the client's secrets
//! redacted. Query credentials a server echoes into an answer's links are removed, and links
//! handed back (pages, resume URLs) carry none. Redirects are followed only within the
//! configured base URL (scheme, host, port and path prefix), also with a caller's
//! [`reqwest::ClientBuilder`], so no key reaches another host or application, and no `Referer`
//! is sent.
//!
//! # TLS
//! The cargo features choose the TLS stack for `https://` base URLs (every PostHog Cloud region):
//!
//! - `rustls` (default): rustls with the aws-lc-rs crypto provider (reqwest's own `rustls`)
//!   and the platform's certificate verifier.
//! - `rustls-ring`: rustls with the *ring* provider, which builds several times faster than
//!   aws-lc-rs's C library (no post-quantum key exchange, no FIPS mode). reqwest then has no
//!   built-in provider, so [`ClientBuilder::build`] installs ring as the process's default
//!   rustls provider unless the program installed one first. Another `reqwest::Client` built
//!   in the same program *before* any posthog-api client, by code that enables no rustls
//!   provider of its own, would find none and panic inside reqwest: install one at start-up
//!   (`rustls::crypto::ring::default_provider().install_default()`) in such programs.
//! - `native-tls`: the platform's TLS library (OpenSSL on Linux, Security.framework on macOS,
//!   SChannel on Windows); when enabled together with a rustls feature, reqwest uses it.
//!
//! With `default-features = false` and none of them, the client speaks plain HTTP only (a local
//! proxy, tests): [`ClientBuilder::build`] refuses an `https://` base URL with an
//! [`Error::InvalidArgument`] naming these features.
//!
//! # Errors
//! Every call returns [`Error`]: match on `Authentication` (401), `PermissionDenied` (403, its
//! message lists the scopes the operation requires), `NotFound`, `Validation` (with PostHog's
//! `attr`), `Throttled` (with `Retry-After`), `PayloadTooLarge`, `Server` (e.g. 503
//! `fetch_team_fail`), `Transport`, `Decode`, or the client-side `RequestTooLarge` (bodies over
//! 20 MB are refused before sending), `InvalidArgument` (e.g. a path argument
//! that is empty or `..`), `ResponseTooLarge`, and the pagination errors `ForeignNextUrl` and
//! `PaginationLoop`. [`Error::code`], [`Error::detail`],
//! [`Error::attr`], [`Error::retry_after`] and [`Error::is_retryable`] read PostHog's answer;
//! [`Error::method`], [`Error::path_template`] (never the filled path) and
//! [`Error::request_id`] say which request it answered.
//!
//! # Per-call options, response metadata, and the raw layer
//! ```no_run
//! use std::time::Duration;
//! use posthog_api::request::{Method, RequestOptions};
//! # async fn run(client: posthog_api::Client) -> posthog_api::Result<()> {
//! // Any generated method, on a cheap view of the client with its own options.
//! let slow = client.with_options(RequestOptions::new().timeout(Duration::from_secs(120)));
//! let me = slow.users_retrieve("@me").await?;
//! // The value and the answer's status, headers and request id, from any method.
//! let (me, meta) = client.with_meta(|c| async move { c.users_retrieve("@me").await }).await?;
//! // Any path, any body, through the same auth, hosts, limits, retries and redaction.
//! let answer = client
//!     .request(Method::GET, "/api/projects/{project_id}/feature_flags/{id}/")
//!     .arg("id", 7)
//!     .send()
//!     .await?;
//! println!("{} {:?}", answer.status(), answer.request_id());
//! let flag: serde_json::Value = answer.error_for_status()?.json()?;
//! # Ok(()) }
//! ```
//! See [`request`] for the options and [`Client::request`], [`Client::operation`] and
//! [`request::RawRequest::pages`] for the raw layer.

pub mod auth;
pub mod client;
// With no tag feature on, no generated type uses it.
#[allow(dead_code)]
mod codec;
// Only generated types use its macros; which ones depends on the schema and the tag features.
#[allow(unused_macros)]
mod enums;
// What generated code declares its enums, literals and unions with (`crate::string_enum!`, ...).
#[allow(unused_imports)]
pub(crate) use enums::{integer_enum, literal, string_enum, tagged_union};
pub mod error;
// `hogql` is the tag of the overlaid `POST /query/` (schema/overlays/10-query.yaml).
#[cfg(all(feature = "hogql", feature = "query"))]
pub mod hogql;
pub mod multipart;
mod nullable;
pub mod operation;
pub mod pagination;
#[cfg(feature = "public")]
pub mod public;
pub mod rate_limit;
pub mod request;
pub mod retry;
#[cfg(feature = "server")]
pub mod server;
pub mod stream;

// Generated code is formatted by prettyplease when it is written; rustfmt leaves it alone.
#[rustfmt::skip]
mod generated;

pub use auth::{Credentials, CredentialsBuilder, Hosts, KeyPlacement, Region};
pub use client::{Client, ClientBuilder, DEFAULT_MAX_RESPONSE_BYTES, MAX_BODY_BYTES, ProjectId};
pub use error::{ApiError, ApiErrorBody, Error, RequestInfo, Result};
pub use generated::{api, operations, types};
pub use nullable::Nullable;

// The workspace README's Rust examples compile as doctests (`cargo test --doc` with the features
// they use), so they cannot drift from the API.
#[cfg(all(doctest, feature = "full", feature = "redis"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
pub use operation::{HostKind, Operation};
/// The URL type [`ClientBuilder::private_base_url`] and [`ClientBuilder::public_base_url`] take.
pub use url::Url;
