//! The fake's query endpoint: HogQL results registered per query by a test, a few `select`
//! shapes over the fake's persons, background queries that complete after a number of polls,
//! cancellation, and PostHog's error answers (syntax errors, timeouts, memory limits).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};

use http::StatusCode;
use serde_json::{Value, json};

use super::{State, typed};
use crate::Nullable;
use crate::generated::types;
use crate::server::hogql::HogqlApi;
use crate::server::query::QueryApi;
use crate::server::{Answer, Context, Reply, ServerError};

/// What the fake answers to one HogQL query text (compared after trimming and collapsing
/// whitespace), registered with [`super::FakePostHog::hogql_result`] and friends.
#[derive(Debug, Clone, PartialEq)]
pub enum HogQlAnswer {
    /// These columns and rows.
    Rows {
        /// Column names.
        columns: Vec<String>,
        /// Rows, a value per column.
        rows: Vec<Vec<Value>>,
    },
    /// PostHog's 400 for a syntax error (`hogql_syntax_error`) with this message.
    SyntaxError(String),
    /// PostHog's 504 for a query that hit ClickHouse's time limit.
    Timeout,
    /// PostHog's 513 `clickhouse_memory_limit_exceeded`.
    MemoryLimit,
}

/// Queries run or running in the fake.
#[derive(Debug, Default)]
pub(super) struct Queries {
    /// Registered answers by normalized query text.
    pub(super) registered: BTreeMap<String, HogQlAnswer>,
    /// How many polls a background query takes to complete.
    pub(super) async_polls: u32,
    /// Query id to its state.
    pub(super) runs: BTreeMap<String, Run>,
}

/// One query the fake has seen.
#[derive(Debug, Clone)]
pub(super) struct Run {
    response: Value,
    polls_left: u32,
    cancelled: bool,
}

/// Whitespace-insensitive form of a query text, the key answers are registered under.
pub(super) fn normalize(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl State {
    fn queries(&self) -> std::sync::MutexGuard<'_, Queries> {
        // Every write is one insert or field update, so a poisoned map is still consistent.
        self.queries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer to a HogQL text: registered results first, then the shapes the fake knows.
    fn evaluate(&self, text: &str) -> Result<Value, ServerError> {
        let key = normalize(text);
        let registered = self.queries().registered.get(&key).cloned();
        if let Some(answer) = registered {
            return match answer {
                HogQlAnswer::Rows { columns, rows } => Ok(response(text, columns, rows)),
                HogQlAnswer::SyntaxError(message) => Err(syntax_error(&message)),
                HogQlAnswer::Timeout => Err(ServerError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "server_error",
                    "error",
                    "Query has hit the max execution time before completing.",
                    None,
                )),
                HogQlAnswer::MemoryLimit => Err(ServerError::new(
                    StatusCode::from_u16(513).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    "server_error",
                    "clickhouse_memory_limit_exceeded",
                    "This query ran out of memory before it could finish.",
                    None,
                )),
            };
        }
        let lower = key.to_lowercase();
        if !lower.starts_with("select ") && !lower.starts_with("with ") {
            let at = key.find(' ').unwrap_or(key.len());
            return Err(syntax_error(&format!(
                "mismatched input '{}' expecting SELECT or WITH",
                &key[..at]
            )));
        }
        // `select * from (<q>) limit N offset M`: the paging wrapper of `HogQl::stream`.
        if let Some((inner, limit, offset)) = paged(&key) {
            let mut page = self.evaluate(inner)?;
            if let Some(Value::Array(rows)) = page.get_mut("results") {
                let kept: Vec<Value> = rows.drain(..).skip(offset).take(limit).collect();
                *rows = kept;
            }
            page["hogql"] = Value::from(text);
            return Ok(page);
        }
        if lower.contains("count()") && lower.contains("from persons") {
            return Ok(response(
                text,
                vec!["count()".into()],
                vec![vec![json!(self.persons.len())]],
            ));
        }
        if lower.contains("from persons") {
            let rows = self
                .persons
                .iter()
                .map(|p| vec![json!(p.id), json!(p.name)])
                .collect();
            return Ok(response(text, vec!["id".into(), "name".into()], rows));
        }
        Ok(response(text, Vec::new(), Vec::new()))
    }

    fn run_query(
        &self,
        cx: &Context,
        project_id: &str,
        body: types::HogQlQueryRequest,
    ) -> Answer<types::HogQlQueryResult> {
        self.authorize(cx, Some(project_id))?;
        let mut answer = self.evaluate(&body.query.query)?;
        let id = body
            .client_query_id
            .value()
            .cloned()
            .unwrap_or_else(|| format!("{:032x}", uuid::Uuid::new_v4().as_u128()));
        let background = body.r#async == Nullable::Value(true)
            || matches!(
                body.refresh,
                Nullable::Value(types::RefreshType::Async | types::RefreshType::ForceAsync)
            );
        let mut queries = self.queries();
        let polls_left = if background { queries.async_polls } else { 0 };
        queries.runs.insert(
            id.clone(),
            Run {
                response: answer.clone(),
                polls_left,
                cancelled: false,
            },
        );
        drop(queries);
        if background && polls_left > 0 {
            let status = json!({"id": id, "team_id": 1, "complete": false, "query_async": true});
            let pending = json!({"cache_key": format!("cache_{id}"), "query_status": status});
            return Ok(Reply::with_status(StatusCode::ACCEPTED, typed(pending)?));
        }
        answer["query_status"] =
            json!({"id": id, "team_id": 1, "complete": true, "query_async": true});
        Ok(Reply::ok(typed(answer)?))
    }

    fn query_status(&self, cx: &Context, project_id: &str, id: &str) -> Result<Value, ServerError> {
        self.authorize(cx, Some(project_id))?;
        let mut queries = self.queries();
        let run = queries
            .runs
            .get_mut(id)
            .ok_or_else(ServerError::not_found)?;
        if run.cancelled {
            return Ok(
                json!({"id": id, "team_id": 1, "complete": true, "error": true,
                "error_message": "Query cancelled", "query_async": true}),
            );
        }
        if run.polls_left > 0 {
            run.polls_left -= 1;
            return Ok(json!({"id": id, "team_id": 1, "complete": false, "query_async": true}));
        }
        Ok(
            json!({"id": id, "team_id": 1, "complete": true, "query_async": true,
            "results": run.response}),
        )
    }

    fn cancel(
        &self,
        cx: &Context,
        project_id: &str,
        id: &str,
    ) -> Answer<types::QueryCancelResponse> {
        self.authorize(cx, Some(project_id))?;
        let mut queries = self.queries();
        let run = queries
            .runs
            .get_mut(id)
            .ok_or_else(ServerError::not_found)?;
        run.cancelled = true;
        Ok(Reply::ok(types::QueryCancelResponse {
            message: Some("Query cancelled".to_owned()),
        }))
    }
}

/// A HogQLQueryResponse for `columns` and `rows`, with types PostHog would report.
fn response(text: &str, columns: Vec<String>, rows: Vec<Vec<Value>>) -> Value {
    let types: Vec<Value> = columns
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let ty = match rows.first().and_then(|row| row.get(index)) {
                Some(Value::Number(n)) if n.is_f64() => "Float64",
                Some(Value::Number(_)) => "UInt64",
                Some(Value::Bool(_)) => "Bool",
                _ => "String",
            };
            json!([name, ty])
        })
        .collect();
    json!({
        "columns": columns,
        "types": types,
        "results": rows,
        "hasMore": false,
        "hogql": text,
        "is_cached": false,
    })
}

/// PostHog's answer to an `ExposedHogQLError` (posthog/api/query.py raises
/// `ValidationError(str(e), code_name)`).
fn syntax_error(message: &str) -> ServerError {
    ServerError::new(
        StatusCode::BAD_REQUEST,
        "validation_error",
        "hogql_syntax_error",
        message,
        None,
    )
}

/// `select * from (<inner>) limit N offset M` split into its parts.
fn paged(query: &str) -> Option<(&str, usize, usize)> {
    let rest = query.strip_prefix("select * from (")?;
    let close = rest.rfind(") limit ")?;
    let inner = &rest[..close];
    let mut words = rest[close + ") limit ".len()..].split(' ');
    let limit = words.next()?.parse().ok()?;
    let offset = match (words.next(), words.next()) {
        (Some("offset"), Some(n)) => n.parse().ok()?,
        _ => 0,
    };
    Some((inner, limit, offset))
}

impl HogqlApi for State {
    async fn query_create(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        body: types::HogQlQueryRequest,
    ) -> Answer<types::HogQlQueryResult> {
        self.run_query(&cx, &project_id, body)
    }

    async fn environments_query_create(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        body: types::HogQlQueryRequest,
    ) -> Answer<types::HogQlQueryResult> {
        self.run_query(&cx, &project_id, body)
    }
}

impl QueryApi for State {
    async fn query_retrieve(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        id: String,
    ) -> Answer<types::QueryRetrieveResponse> {
        let status = self.query_status(&cx, &project_id, &id)?;
        // PostHog's statuses: 202 running, 200 done, 400 failed with a message.
        let code = if status["error"] == json!(true) {
            StatusCode::BAD_REQUEST
        } else if status["complete"] == json!(true) {
            StatusCode::OK
        } else {
            StatusCode::ACCEPTED
        };
        Ok(Reply::with_status(
            code,
            typed(json!({ "query_status": status }))?,
        ))
    }

    async fn query_destroy(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        id: String,
    ) -> Answer<types::QueryCancelResponse> {
        self.cancel(&cx, &project_id, &id)
    }

    async fn environments_query_destroy(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        id: String,
    ) -> Answer<types::QueryCancelResponse> {
        self.cancel(&cx, &project_id, &id)
    }
}
