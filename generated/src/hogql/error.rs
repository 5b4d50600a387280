//! What can go wrong with a HogQL query, told apart the way PostHog's query API tells them
//! apart (`posthog/api/query.py`, `posthog/hogql/errors.py`, `posthog/exceptions.py`).

use http::StatusCode;

/// A HogQL query's failure.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum HogQlError {
    /// The query is not valid HogQL (`hogql_syntax_error`). `start`/`end` are character
    /// offsets into the query when the answer carries them; PostHog's `POST /query/` does not
    /// (see the [module docs](crate::hogql)), so against PostHog they are `None`.
    #[error("HogQL syntax error{}: {message}", span(*.start, *.end))]
    Syntax {
        /// PostHog's message.
        message: String,
        /// Where the error starts in the query, when known.
        start: Option<usize>,
        /// Where it ends, when known.
        end: Option<usize>,
    },
    /// The query is valid HogQL but cannot run (`hogql_query_error`, an unknown table or
    /// function, a type mismatch...): PostHog's 400 with its code.
    #[error("HogQL query error{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Query {
        /// PostHog's error code, e.g. `hogql_query_error`, `unknown_function`.
        code: Option<String>,
        /// PostHog's message.
        message: String,
    },
    /// ClickHouse stopped the query at its time limit (504), or refused it as too slow (512).
    #[error("the query timed out: {message}")]
    Timeout {
        /// PostHog's message.
        message: String,
    },
    /// ClickHouse ran out of memory for the query (`clickhouse_memory_limit_exceeded`).
    #[error("the query hit the memory limit: {message}")]
    MemoryLimit {
        /// PostHog's message.
        message: String,
    },
    /// A background query finished with an error.
    #[error("query {id} failed: {message}")]
    Failed {
        /// The query's id.
        id: String,
        /// `query_status.error_message`.
        message: String,
    },
    /// The answer is a background query's status, not results: use [`super::HogQl::submit`].
    #[error("query {id} is still running")]
    StillRunning {
        /// The query's id, to poll.
        id: String,
    },
    /// Polling gave up after the deadline; the query may still be running.
    #[error("query {id} did not finish within {seconds}s")]
    Deadline {
        /// The query's id.
        id: String,
        /// The deadline.
        seconds: u64,
    },
    /// A placeholder value could not be turned into JSON.
    #[error("the value of placeholder `{name}` cannot be sent: {message}")]
    InvalidValue {
        /// The placeholder.
        name: String,
        /// Why.
        message: String,
    },
    /// A row did not fit the type asked for.
    #[error("a row does not decode at `{column}`: {message}")]
    Row {
        /// The column (field path) that did not fit.
        column: String,
        /// Why.
        message: String,
    },
    /// Any other failure of the call (authentication, rate limit, transport...).
    #[error(transparent)]
    Api(std::sync::Arc<crate::Error>),
}

fn span(start: Option<usize>, end: Option<usize>) -> String {
    match (start, end) {
        (Some(start), Some(end)) => format!(" at {start}..{end}"),
        (Some(start), None) => format!(" at {start}"),
        _ => String::new(),
    }
}

impl HogQlError {
    /// Sorts a failed call into the HogQL errors PostHog's query API answers with.
    pub(crate) fn from_api(error: crate::Error) -> Self {
        let Some(api) = error.api_error() else {
            return Self::Api(std::sync::Arc::new(error));
        };
        let code = api.body.code.as_deref();
        let message = api.body.detail.clone().unwrap_or_else(|| api.raw.clone());
        match (api.status, code) {
            (_, Some("hogql_syntax_error")) => {
                // PostHog's detail is the message; a server that also sends the span (as the
                // HogQL metadata answers do) gets it kept.
                let raw: serde_json::Value = serde_json::from_str(&api.raw).unwrap_or_default();
                let offset = |key: &str| raw.get(key).and_then(serde_json::Value::as_u64);
                Self::Syntax {
                    message,
                    start: offset("start").and_then(|n| usize::try_from(n).ok()),
                    end: offset("end").and_then(|n| usize::try_from(n).ok()),
                }
            }
            (_, Some("clickhouse_memory_limit_exceeded")) => Self::MemoryLimit { message },
            (status, _) if status.as_u16() == 513 => Self::MemoryLimit { message },
            (StatusCode::GATEWAY_TIMEOUT, _) => Self::Timeout { message },
            (status, _) if status.as_u16() == 512 => Self::Timeout { message },
            (StatusCode::BAD_REQUEST, code) => Self::Query {
                code: code.map(str::to_owned),
                message,
            },
            _ => Self::Api(std::sync::Arc::new(error)),
        }
    }

    /// The underlying client error, for failures that are not HogQL's own.
    pub fn api(&self) -> Option<&crate::Error> {
        match self {
            Self::Api(error) => Some(error),
            _ => None,
        }
    }
}
