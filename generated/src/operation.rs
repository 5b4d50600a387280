//! Static facts about each API operation, emitted by codegen and read by the request pipeline.

use http::Method;

/// Which host an operation is served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostKind {
    /// The private API (`us.posthog.com`), authenticated with a personal API key.
    Private,
    /// The public ingestion API (`us.i.posthog.com`), authenticated with the project API key.
    Public,
}

/// Everything the runtime needs to know about one operation of the schema: the entries of
/// [`crate::operations`], or one of your own for [`Client::operation`](crate::Client::operation)
/// (built with [`Operation::private`] or [`Operation::public`]), read through its accessors.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Operation {
    /// The schema's `operationId`, which is also the client method's name.
    pub(crate) id: &'static str,
    /// The HTTP method.
    pub(crate) method: Method,
    /// The path template exactly as the schema writes it, e.g. `/api/projects/{project_id}/`.
    pub(crate) path: &'static str,
    /// The tag the operation is grouped under (its module and cargo feature).
    pub(crate) tag: &'static str,
    /// Personal API key scopes the schema's `security` section requires, e.g. `feature_flag:read`.
    pub(crate) scopes: &'static [&'static str],
    /// PostHog throttle scopes (from `schema/throttle-scopes.toml`) that apply to the operation.
    pub(crate) throttle_scopes: &'static [&'static str],
    /// Which host serves the operation.
    pub(crate) host: HostKind,
}

impl Operation {
    /// An operation of the private API, authenticated with the personal API key and counted
    /// against `throttle_scopes` (what [`crate::operations`] is made of). `const`, so that it
    /// can be a `static` for [`Client::operation`](crate::Client::operation).
    pub const fn private(
        id: &'static str,
        method: Method,
        path: &'static str,
        tag: &'static str,
        scopes: &'static [&'static str],
        throttle_scopes: &'static [&'static str],
    ) -> Operation {
        Operation {
            id,
            method,
            path,
            tag,
            scopes,
            throttle_scopes,
            host: HostKind::Private,
        }
    }

    /// An operation of the public ingestion endpoints: never throttled, no personal-key scopes.
    pub const fn public(
        id: &'static str,
        method: Method,
        path: &'static str,
        tag: &'static str,
    ) -> Operation {
        Operation {
            id,
            method,
            path,
            tag,
            scopes: &[],
            throttle_scopes: &[],
            host: HostKind::Public,
        }
    }

    /// The schema's `operationId`, which is also the client method's name.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path template exactly as the schema writes it, e.g. `/api/projects/{project_id}/`.
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The tag the operation is grouped under (its module and cargo feature).
    pub fn tag(&self) -> &'static str {
        self.tag
    }

    /// Personal API key scopes the operation requires, e.g. `feature_flag:read`.
    pub fn scopes(&self) -> &'static [&'static str] {
        self.scopes
    }

    /// PostHog throttle scopes (from `schema/throttle-scopes.toml`) that apply to it.
    pub fn throttle_scopes(&self) -> &'static [&'static str] {
        self.throttle_scopes
    }

    /// Which host serves the operation.
    pub fn host(&self) -> HostKind {
        self.host
    }

    /// Whether a retry of this operation cannot repeat a side effect (RFC 9110 idempotent methods).
    pub fn is_idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        )
    }
}
