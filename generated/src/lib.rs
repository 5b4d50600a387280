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
//! PostHog reads a personal API key from the first place it finds one: the
//! `Authorization: Bearer` header, then `personal_api_key` in the JSON body, then
//! `?personal_api_key=` in the query. The client puts the key in exactly one place, the header
//! unless [`KeyPlacement`] says otherwise, and never sends it to the public ingestion host or
//! across a redirect to another host.

pub mod auth;
pub mod client;
mod enums;
pub mod error;
pub mod operation;
pub mod pagination;
pub mod rate_limit;
#[doc(hidden)]
pub mod request;
pub mod retry;
pub mod stream;

mod generated;

pub use auth::{Credentials, Hosts, KeyPlacement, Region};
pub use client::{Client, ClientBuilder, ProjectId, MAX_BODY_BYTES};
pub use error::{ApiError, ApiErrorBody, Error, Result};
pub use generated::{api, operations, types};
pub use operation::{HostKind, Operation};

#[doc(hidden)]
pub mod __private {
    pub use crate::request::path_segment;
    pub use serde;
    pub use serde_json;
}
