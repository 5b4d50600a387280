//! HogQL queries over the generated `query_create` method: placeholders sent as HogQL `values`,
//! rows decoded by column name, background queries polled and cancelled, large results streamed.
//!
//! ```no_run
//! # async fn run(client: posthog_api::Client) -> Result<(), posthog_api::hogql::HogQlError> {
//! #[derive(serde::Deserialize)]
//! struct Count { event: String, #[serde(rename = "count()")] count: u64 }
//! let result = client
//!     .hogql("select event, count() from events where event = {e} group by event")
//!     .value("e", "$pageview")
//!     .await?;
//! let counts: Vec<Count> = result.rows_as()?;
//! # Ok(()) }
//! ```
//!
//! A syntax error's position: [`HogQlError::Syntax`] has `start`/`end` fields, but PostHog's
//! `POST /query/` does not send a position, so against PostHog they are `None`. Checked in
//! PostHog's server code: `posthog/api/query.py` (`QueryViewSet.create`) answers an
//! `ExposedHogQLError` with `ValidationError(str(e), e.code_name)`, a body of `type`, `code`
//! (`hogql_syntax_error`), `detail` (the message) and `attr` (null); the exception's
//! `start`/`end` (`BaseHogQLError` in `posthog/hogql/errors.py`) are not part of `str(e)` and
//! never reach the answer. The offsets are kept when a server does send `start`/`end` members.
//! PostHog reports positions only for a `HogQLMetadata` query (its `errors` are `HogQLNotice`s
//! with `start`, `end`, `message`, `fix`), which a caller can send through
//! [`Client::request`](crate::Client::request); it counts against the same `query` throttle.

mod error;
mod pending;

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::Nullable;
use crate::client::{Client, ProjectId};
use crate::generated::types;

pub use error::HogQlError;
pub use pending::PendingQuery;

/// A HogQL query being built: its text, the values of its `{placeholders}` and how to run it.
#[must_use = "a query does nothing until it is awaited, submitted or streamed"]
#[derive(Debug, Clone)]
pub struct HogQl<'a> {
    client: &'a Client,
    project: ProjectId,
    query: String,
    values: Map<String, Value>,
    name: Option<String>,
    client_query_id: Option<String>,
    refresh: Option<types::RefreshType>,
    /// The first value that could not be turned into JSON, reported when the query runs.
    invalid: Option<HogQlError>,
}

impl Client {
    /// Starts a HogQL query. `{name}` placeholders in `query` are filled by [`HogQl::value`],
    /// which PostHog substitutes as typed constants, so values never become SQL text.
    pub fn hogql(&self, query: impl Into<String>) -> HogQl<'_> {
        HogQl {
            client: self,
            project: ProjectId::Default,
            query: query.into(),
            values: Map::new(),
            name: None,
            client_query_id: None,
            refresh: None,
            invalid: None,
        }
    }
}

impl<'a> HogQl<'a> {
    /// The value of the placeholder `{name}`: any value serde turns into JSON (strings,
    /// numbers, booleans, lists, dates...).
    pub fn value(mut self, name: impl Into<String>, value: impl Serialize) -> Self {
        let name = name.into();
        match serde_json::to_value(value) {
            Ok(value) => {
                self.values.insert(name, value);
            }
            Err(error) => {
                self.invalid.get_or_insert(HogQlError::InvalidValue {
                    name,
                    message: error.to_string(),
                });
            }
        }
        self
    }

    /// Runs in this project instead of the client's default one.
    pub fn project(mut self, project: impl Into<ProjectId>) -> Self {
        self.project = project.into();
        self
    }

    /// A name for the query, to find it in PostHog's query log.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Our own id for the query, to poll or cancel it by (PostHog makes one up otherwise).
    pub fn client_query_id(mut self, id: impl Into<String>) -> Self {
        self.client_query_id = Some(id.into());
        self
    }

    /// How PostHog may use its cache (`blocking` by default; see [`types::RefreshType`]).
    pub fn refresh(mut self, refresh: types::RefreshType) -> Self {
        self.refresh = Some(refresh);
        self
    }

    /// The request body PostHog receives, for a query text.
    fn body(&self, query: String) -> types::HogQlQueryRequest {
        types::HogQlQueryRequest {
            query: types::HogQlQueryRequestQuery {
                kind: Default::default(),
                query,
                values: Nullable::value_or_absent((!self.values.is_empty()).then(|| {
                    self.values
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })),
                ..Default::default()
            },
            client_query_id: Nullable::value_or_absent(self.client_query_id.clone()),
            refresh: Nullable::value_or_absent(self.refresh.clone()),
            name: Nullable::value_or_absent(self.name.clone()),
            ..Default::default()
        }
    }

    async fn send(
        &self,
        body: &types::HogQlQueryRequest,
    ) -> Result<types::HogQlQueryResult, HogQlError> {
        if let Some(invalid) = &self.invalid {
            return Err(invalid.clone());
        }
        self.client
            .query_create(self.project.clone(), body)
            .await
            .map_err(HogQlError::from_api)
    }

    /// Runs the query and waits for its results (PostHog's `blocking` mode). Same as `.await`.
    pub async fn run(self) -> Result<HogQlResult, HogQlError> {
        let body = self.body(self.query.clone());
        let answer = self.send(&body).await?;
        HogQlResult::from_answer(answer)
    }

    /// Starts the query in the background (`refresh: async`) and returns a handle that polls
    /// `/query/{id}/` until it is done, or cancels it.
    pub async fn submit(mut self) -> Result<PendingQuery, HogQlError> {
        if self.refresh.is_none() {
            self.refresh = Some(types::RefreshType::Async);
        }
        let body = self.body(self.query.clone());
        let answer = self.send(&body).await?;
        PendingQuery::new(self.client.clone(), self.project.clone(), answer)
    }

    /// Every row of the query, fetched `page_size` rows at a time (the query is wrapped in
    /// `select * from (...) limit .. offset ..`). Give the query an `order by` so pages are
    /// stable. At most one page is held.
    pub fn stream(self, page_size: u32) -> impl Stream<Item = Result<Row, HogQlError>> + Send + 'a {
        use futures::StreamExt as _;
        self.pages(page_size).map(|item| item.map(|(_, row)| row))
    }

    /// [`HogQl::stream`], each row decoded into `T` by column name.
    pub fn stream_as<T: DeserializeOwned + 'a>(
        self,
        page_size: u32,
    ) -> impl Stream<Item = Result<T, HogQlError>> + Send + 'a {
        use futures::StreamExt as _;
        self.pages(page_size)
            .map(|item| item.and_then(|(columns, row)| row_as(&columns, row)))
    }

    /// Rows with the column names of their page.
    fn pages(
        self,
        page_size: u32,
    ) -> impl Stream<Item = Result<(Arc<Vec<String>>, Row), HogQlError>> + Send + 'a {
        let page_size = page_size.max(1);
        let empty = Arc::new(Vec::new());
        let state = (self, 0u64, empty, Vec::<Row>::new().into_iter(), false);
        futures::stream::try_unfold(
            state,
            move |(query, offset, columns, mut rows, done)| async move {
                if let Some(row) = rows.next() {
                    let item = (Arc::clone(&columns), row);
                    return Ok(Some((item, (query, offset, columns, rows, done))));
                }
                if done {
                    return Ok(None);
                }
                let text = format!(
                    "select * from ({}) limit {page_size} offset {offset}",
                    query.query
                );
                let body = query.body(text);
                let page = HogQlResult::from_answer(query.send(&body).await?)?;
                let fetched = page.rows.len() as u64;
                let last = fetched < u64::from(page_size) && !page.has_more;
                let columns = Arc::new(page.columns);
                let mut rows = page.rows.into_iter();
                Ok(rows.next().map(|row| {
                    let item = (Arc::clone(&columns), row);
                    (item, (query, offset + fetched, columns, rows, last))
                }))
            },
        )
    }
}

impl<'a> IntoFuture for HogQl<'a> {
    type Output = Result<HogQlResult, HogQlError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// One row: a value per column, in column order.
pub type Row = Vec<Value>;

/// A column's name and its ClickHouse type as PostHog reports it (e.g. `Nullable(String)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's name as the query's `select` wrote it (`count()`, `event`).
    pub name: String,
    /// Its type, when PostHog sent one.
    pub ty: Option<String>,
}

/// The results of a finished query.
#[derive(Debug, Clone, PartialEq)]
pub struct HogQlResult {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Column names and types, in order.
    pub types: Vec<Column>,
    /// The rows.
    pub rows: Vec<Row>,
    /// Whether PostHog cut the result at its row limit (ask with `limit`/`offset`, or stream).
    pub has_more: bool,
    /// The query as PostHog ran it (placeholders resolved), when it says.
    pub hogql: Option<String>,
}

impl HogQlResult {
    /// Reads a finished answer; an answer still running or failed is an error.
    pub(crate) fn from_answer(answer: types::HogQlQueryResult) -> Result<Self, HogQlError> {
        if let Some(status) = &answer.query_status
            && answer.results.is_none()
        {
            if status.error == Some(true) {
                return Err(HogQlError::Failed {
                    id: status.id.clone(),
                    message: status.error_message.clone().unwrap_or_default(),
                });
            }
            if status.complete != Some(true) {
                return Err(HogQlError::StillRunning {
                    id: status.id.clone(),
                });
            }
        }
        if let Some(error) = answer.error.filter(|e| !e.is_empty()) {
            return Err(HogQlError::Query {
                code: None,
                message: error,
            });
        }
        let columns: Vec<String> = answer
            .columns
            .unwrap_or_default()
            .into_iter()
            .map(|column| match column {
                Value::String(name) => name,
                other => other.to_string(),
            })
            .collect();
        let types = column_types(&columns, answer.types.unwrap_or_default());
        let rows = answer
            .results
            .unwrap_or_default()
            .into_iter()
            .map(|row| match row {
                Value::Array(values) => values,
                other => vec![other],
            })
            .collect();
        Ok(Self {
            columns,
            types,
            rows,
            has_more: answer.has_more.unwrap_or(false),
            hogql: answer.hogql,
        })
    }

    /// The rows decoded into `T`, each row as an object keyed by column name (so `T`'s fields
    /// match the `select`'s names; rename with `#[serde(rename = "count()")]` or `as` aliases).
    pub fn rows_as<T: DeserializeOwned>(&self) -> Result<Vec<T>, HogQlError> {
        self.rows
            .iter()
            .map(|row| row_as(&self.columns, row.clone()))
            .collect()
    }
}

/// PostHog writes `types` as `[name, type]` pairs; older answers as bare type strings.
fn column_types(columns: &[String], types: Vec<Value>) -> Vec<Column> {
    let mut out: Vec<Column> = columns
        .iter()
        .map(|name| Column {
            name: name.clone(),
            ty: None,
        })
        .collect();
    for (index, ty) in types.into_iter().enumerate() {
        let (name, ty) = match ty {
            Value::Array(pair) => {
                let mut pair = pair.into_iter();
                let name = pair.next().and_then(|n| n.as_str().map(str::to_owned));
                let ty = pair.next().and_then(|t| t.as_str().map(str::to_owned));
                (name, ty)
            }
            Value::String(ty) => (None, Some(ty)),
            _ => (None, None),
        };
        match out.get_mut(index) {
            Some(column) => column.ty = ty,
            None => out.push(Column {
                name: name.unwrap_or_default(),
                ty,
            }),
        }
    }
    out
}

fn row_as<T: DeserializeOwned>(columns: &[String], row: Row) -> Result<T, HogQlError> {
    let object: Map<String, Value> = columns.iter().cloned().zip(row).collect();
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|error| HogQlError::Row {
        column: error.path().to_string(),
        message: error.inner().to_string(),
    })
}
