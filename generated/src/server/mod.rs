//! Server side of the API (cargo feature `server`): generated stubs, the axum routes that mount
//! them, and the hand-written request handling they share.
//!
//! Every tag module has a trait (`feature_flags::FeatureFlagsApi`, `persons::PersonsApi`, ...)
//! with one async method per operation, taking typed path, query and body inputs and answering
//! [`Answer<T>`]. Each method answers 501 unless implemented, so a server writes only what it
//! needs. Methods take `self: Arc<Self>`, so their futures own the service (and may be spawned);
//! the routes then hand the trait's future to axum as is, without wrapping each in an `async`
//! block of their own (see ARCHITECTURE.md for what that saved).
//!
//! ```no_run
//! # #[cfg(feature = "feature_flags")] {
//! use std::sync::Arc;
//! use posthog_api::server::{feature_flags::FeatureFlagsApi, Answer, Context, Reply, Routes};
//! use posthog_api::types;
//!
//! struct Flags;
//!
//! impl FeatureFlagsApi for Flags {
//!     async fn feature_flags_retrieve(self: Arc<Self>, _cx: Context, _project_id: String, id: i64) -> Answer<types::FeatureFlag> {
//!         Ok(Reply::ok(types::FeatureFlag { id: Some(id), key: "beta".into(), ..Default::default() }))
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let running = Routes::new().feature_flags(Arc::new(Flags)).serve("127.0.0.1:0").await?;
//! println!("listening on {}", running.base_url());
//! # Ok(()) }
//! # }
//! ```
//!
//! Request handling ([`dispatch`]) follows PostHog: the personal API key is looked for in the
//! `Authorization: Bearer` header, then `personal_api_key` in a JSON body, then the query string
//! ([`crate::auth::extract_personal_api_key`]) and handed over in [`Context::key`]; bad input
//! answers 400 `validation_error` naming the field in `attr`; bodies over 20 MB answer 413
//! without being buffered; unknown routes 404, wrong methods 405, and a panicking handler 500.
//! [`ServerRateLimiter`] adds PostHog's throttle scopes, answering 429 with `Retry-After`.
//!
//! Architecture invariant: generated server code only declares (traits, routes, query
//! decoding); everything that looks at bytes on the wire is here, hand-written.

mod context;
pub mod dispatch;
mod error;
#[cfg(feature = "fake")]
pub mod fake;
#[cfg(feature = "fake")]
pub mod fake_public;
mod routes;
mod text;
mod throttle;

use http::StatusCode;

pub use crate::generated::server::*;
pub use context::Context;
pub use error::ServerError;
pub use routes::{DEFAULT_HEADER_READ_TIMEOUT, Routes, RunningServer};
pub use throttle::{DEFAULT_MAX_LOGS, ServerRateLimiter, ThrottleStats};

/// What an operation method answers: a typed reply, or PostHog's error body.
pub type Answer<T> = Result<Reply<T>, ServerError>;

/// The body of a `text/event-stream` answer, streamed as it is produced.
pub type EventStream = axum::body::Body;

/// A typed answer: the status and the body (encoded as the operation's schema says: JSON,
/// `text/csv`, an event stream, or nothing for `()`).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<T> {
    /// HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: T,
}

impl<T> Reply<T> {
    /// 200 with `body`.
    pub fn ok(body: T) -> Self {
        Self {
            status: StatusCode::OK,
            body,
        }
    }

    /// 201 with `body`, as PostHog answers a create.
    pub fn created(body: T) -> Self {
        Self {
            status: StatusCode::CREATED,
            body,
        }
    }

    /// Any status with `body`.
    pub fn with_status(status: StatusCode, body: T) -> Self {
        Self { status, body }
    }
}

impl Reply<()> {
    /// 204 without a body.
    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: (),
        }
    }
}
