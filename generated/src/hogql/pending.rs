//! A query running in the background: polled at `/query/{id}/` with backoff, or cancelled.

use std::time::Duration;

use crate::client::{Client, ProjectId};
use crate::generated::types;

use super::{HogQlError, HogQlResult};

/// First wait between polls; doubled each time up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(100);
/// Longest wait between polls.
const MAX_POLL: Duration = Duration::from_secs(5);
/// How long [`PendingQuery::wait`] polls before giving up (PostHog's longest query limit is
/// well under this).
const DEFAULT_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// A query submitted with `refresh: async`.
#[derive(Debug, Clone)]
pub struct PendingQuery {
    client: Client,
    project: ProjectId,
    id: String,
    /// Results PostHog already had (a cache hit completes at once).
    done: Option<HogQlResult>,
    deadline: Duration,
}

impl PendingQuery {
    pub(super) fn new(
        client: Client,
        project: ProjectId,
        answer: types::HogQlQueryResult,
    ) -> Result<Self, HogQlError> {
        let id = answer
            .query_status
            .as_ref()
            .map(|status| status.id.clone())
            .unwrap_or_default();
        let done = match HogQlResult::from_answer(answer) {
            Ok(result) => Some(result),
            Err(HogQlError::StillRunning { .. }) => None,
            Err(error) => return Err(error),
        };
        Ok(Self {
            client,
            project,
            id,
            done,
            deadline: DEFAULT_DEADLINE,
        })
    }

    /// The query's id (`query_status.id`, or the `client_query_id` given).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Gives up polling after `deadline` instead of 15 minutes.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Polls `/query/{id}/` with exponential backoff (100 ms doubling to 5 s) until the query
    /// completes, and returns its results.
    pub async fn wait(self) -> Result<HogQlResult, HogQlError> {
        if let Some(done) = self.done {
            return Ok(done);
        }
        let started = tokio::time::Instant::now();
        let mut pause = FIRST_POLL;
        loop {
            tokio::time::sleep(pause).await;
            if let Some(result) = self.poll().await? {
                return Ok(result);
            }
            if started.elapsed() >= self.deadline {
                return Err(HogQlError::Deadline {
                    id: self.id.clone(),
                    seconds: self.deadline.as_secs(),
                });
            }
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    /// Asks once: the results when the query is done, `None` while it runs.
    pub async fn poll(&self) -> Result<Option<HogQlResult>, HogQlError> {
        let answer = self
            .client
            .query_retrieve(self.project.clone(), &self.id)
            .await;
        let status = match answer {
            Ok(answer) => answer.query_status,
            // PostHog answers 400 with the status when the query failed with a message.
            Err(error) => return Err(failed(&self.id, error)),
        };
        if status.error == Some(true) {
            return Err(HogQlError::Failed {
                id: self.id.clone(),
                message: status.error_message.unwrap_or_default(),
            });
        }
        if status.complete != Some(true) {
            return Ok(None);
        }
        // `results` holds the whole query response (columns, types, results...).
        let response = match status.results {
            Some(value @ serde_json::Value::Object(_)) => value,
            Some(rows @ serde_json::Value::Array(_)) => serde_json::json!({ "results": rows }),
            _ => serde_json::json!({ "results": [] }),
        };
        let answer: types::HogQlQueryResult =
            serde_json::from_value(response).map_err(|error| HogQlError::Row {
                column: "query_status.results".to_owned(),
                message: error.to_string(),
            })?;
        HogQlResult::from_answer(answer).map(Some)
    }

    /// Cancels the query (`DELETE /query/{id}/`) and returns PostHog's message.
    pub async fn cancel(self) -> Result<Option<String>, HogQlError> {
        self.client
            .query_destroy(self.project, &self.id)
            .await
            .map(|answer| answer.message)
            .map_err(HogQlError::from_api)
    }
}

/// A failed poll: PostHog's 400 carrying a failed `query_status` is the query's own error.
fn failed(id: &str, error: crate::Error) -> HogQlError {
    if let Some(api) = error.api_error()
        && let Ok(value) = serde_json::from_str::<serde_json::Value>(&api.raw)
        && let Some(message) = value
            .pointer("/query_status/error_message")
            .and_then(serde_json::Value::as_str)
    {
        return HogQlError::Failed {
            id: id.to_owned(),
            message: message.to_owned(),
        };
    }
    HogQlError::from_api(error)
}
