//! Fetching the flag definitions as PostHog's server SDKs do (posthog-python 7.91
//! `client.py` `_request_flag_definitions`, `request.py` `get`):
//! `GET /flags/definitions?token=<project key>&send_cohorts` with the project secret key
//! (`phs_...`) or a personal API key as `Authorization: Bearer`, `If-None-Match` with the last
//! `ETag` (304: keep what we have), and the client's `feature_flag_evaluations` rate scope
//! (600/minute, PostHog's `LocalEvaluationThrottle`). Servers without that path (404) are asked
//! the older `/api/feature_flag/local_evaluation/` with the same parameters.

use http::StatusCode;
use http::header;
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use super::FlagDefinitions;
use crate::client::Client;
use crate::error::{ApiError, ApiErrorBody, Error, Result};

/// The name errors and logs give the definitions request.
pub(super) const OPERATION: &str = "flag_definitions";

/// The rate scope of the definitions (schema/throttle-scopes.toml).
const SCOPE: &[&str] = &["feature_flag_evaluations"];

/// Where the definitions were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionsSource {
    /// `/flags/definitions` (current servers).
    Flags,
    /// `/api/feature_flag/local_evaluation/` (older self-hosted servers).
    LocalEvaluation,
}

impl DefinitionsSource {
    fn path(self) -> &'static str {
        match self {
            DefinitionsSource::Flags => "flags/definitions",
            DefinitionsSource::LocalEvaluation => "api/feature_flag/local_evaluation/",
        }
    }
}

/// What one poll brought.
#[derive(Debug, Clone)]
pub enum DefinitionsPoll {
    /// New definitions, with their ETag.
    Updated {
        /// The definitions.
        definitions: FlagDefinitions,
        /// Their `ETag`, sent as `If-None-Match` next time.
        etag: Option<String>,
    },
    /// 304: the definitions did not change.
    NotModified,
}

/// One conditional request for the definitions at `base` (the host's base URL).
pub(super) async fn fetch(
    client: &Client,
    base: &Url,
    source: DefinitionsSource,
    secret: &SecretString,
    etag: Option<&str>,
) -> Result<DefinitionsPoll> {
    let invalid = |reason: String| Error::InvalidArgument {
        operation: OPERATION,
        field: "definitions_url".into(),
        reason,
    };
    let project_key = client
        .inner
        .credentials
        .project_key
        .as_ref()
        .or(client.inner.project_token.as_ref())
        .ok_or_else(|| invalid("the definitions need the project API key as `token`".into()))?;
    let mut url = base
        .join(source.path())
        .map_err(|error| invalid(format!("cannot join the path: {error}")))?;
    url.query_pairs_mut()
        .append_pair("token", project_key.expose_secret())
        .append_key_only("send_cohorts");
    let bucket = crate::Credentials::personal_api_key(secret.expose_secret()).bucket_id();
    client.inner.limiter.acquire(bucket, SCOPE).await?;
    let mut request = client
        .inner
        .http
        .get(url)
        .bearer_auth(secret.expose_secret())
        .header(header::ACCEPT, "application/json");
    if let Some(etag) = etag {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    let response = request
        .send()
        .await
        .map_err(|error| Error::transport(OPERATION, error.without_url()))?;
    let status = response.status();
    let answered_etag = response
        .headers()
        .get(header::ETAG)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if status == StatusCode::NOT_MODIFIED {
        return Ok(DefinitionsPoll::NotModified);
    }
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(crate::retry::parse_retry_after);
    let request_id = crate::request::request_id(response.headers());
    let bytes = response
        .bytes()
        .await
        .map_err(|error| Error::transport(OPERATION, error.without_url()))?;
    if !status.is_success() {
        // A server echoing the request must not put the secret into the error.
        let text = String::from_utf8_lossy(&bytes).replace(secret.expose_secret(), "[redacted]");
        let raw = crate::error::redact_keys(&text).into_owned();
        let body = Box::new(serde_json::from_str::<ApiErrorBody>(&raw).unwrap_or_default());
        return Err(Error::from_answer(ApiError {
            operation: OPERATION,
            request: Box::new(crate::error::RequestInfo {
                method: http::Method::GET,
                path: std::borrow::Cow::Owned(format!("/{}", source.path())),
                request_id,
            }),
            status,
            body,
            raw,
            required_scopes: &["feature_flag:read"],
            retry_after,
        }));
    }
    let document: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|error| Error::Decode {
            operation: OPERATION,
            status,
            path: String::new(),
            message: error.to_string(),
            body: String::new(),
        })?;
    let definitions = FlagDefinitions::from_json(&document).map_err(|message| Error::Decode {
        operation: OPERATION,
        status,
        path: "flags".into(),
        message,
        body: String::new(),
    })?;
    Ok(DefinitionsPoll::Updated {
        definitions,
        etag: answered_etag,
    })
}
