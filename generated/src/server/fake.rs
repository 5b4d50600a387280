//! A ready in-memory fake PostHog built on the server stubs, for users' own tests (cargo feature
//! `fake`, which enables `server` and the tags below): feature flags
//! (create, list, retrieve, update, partial update, delete), persons listed with limit/offset
//! or cursor pagination, HogQL queries (see [`HogQlAnswer`]), and `users/@me`. Every other operation
//! answers the stubs' 501.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let fake = posthog_api::server::fake::FakePostHog::start().await?;
//! let client = fake.client()?;
//! let flags = client.feature_flags_list(fake.project_id(), &Default::default()).await?;
//! # Ok(()) }
//! ```
//!
//! Requests authenticate like PostHog's: a personal API key from the header, the JSON body or
//! the query string; unknown keys answer 401, keys without an operation's scope 403, other
//! projects 404.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use http::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth::{Credentials, Region};
use crate::client::Client;
use crate::generated::api::feature_flags::FeatureFlagsListQuery;
use crate::generated::api::persons::{PersonsListQuery, PersonsRetrieveQuery};
use crate::generated::types;
use crate::operation::{HostKind, Operation};
use crate::rate_limit::RateLimiter;
use crate::server::dispatch;
use crate::server::feature_flags::FeatureFlagsApi;
use crate::server::persons::PersonsApi;
use crate::server::users::UsersApi;
use crate::server::{
    Answer, Context, Reply, Routes, RunningServer, ServerError, ServerRateLimiter,
};

#[path = "fake_query.rs"]
mod hogql;
pub use hogql::HogQlAnswer;

/// The personal API key the fake accepts by default, with every scope.
pub const FAKE_PERSONAL_API_KEY: &str = "phx_fake_personal_api_key";

/// The fake's project.
pub const FAKE_PROJECT_ID: &str = "1";

/// The project API key the fake's public endpoints accept (`phc_...`).
pub const FAKE_PROJECT_API_KEY: &str = "phc_fake_project_api_key";

/// The project secret key the fake serves flag definitions to (`phs_...`); the personal key
/// works there too.
pub const FAKE_PROJECT_SECRET_KEY: &str = "phs_fake_project_secret_key";

/// `GET /api/users/@me/`: the schema types `{uuid}` as a UUID, which `@me` is not.
static USERS_ME: Operation = Operation {
    id: "users_me_retrieve",
    method: Method::GET,
    path: "/api/users/@me/",
    tag: "users",
    scopes: &["user:read"],
    throttle_scopes: &["burst", "sustained"],
    host: HostKind::Private,
};

/// Configures and starts a fake PostHog.
#[derive(Debug, Clone)]
pub struct FakePostHog {
    keys: HashMap<String, Vec<String>>,
    persons: usize,
    feature_flags: usize,
    limiter: Option<ServerRateLimiter>,
    public: crate::server::fake_public::FakePublic,
    hogql: BTreeMap<String, HogQlAnswer>,
    async_polls: u32,
}

impl Default for FakePostHog {
    fn default() -> Self {
        Self {
            keys: HashMap::from([(FAKE_PERSONAL_API_KEY.to_owned(), vec!["*".to_owned()])]),
            persons: 2_500,
            feature_flags: 0,
            limiter: None,
            public: {
                let public = crate::server::fake_public::FakePublic::new(FAKE_PROJECT_API_KEY);
                public.definitions_key(FAKE_PROJECT_SECRET_KEY);
                public.definitions_key(FAKE_PERSONAL_API_KEY);
                public
            },
            hogql: BTreeMap::new(),
            async_polls: 0,
        }
    }
}

impl FakePostHog {
    /// Starts the default fake on a random loopback port.
    pub async fn start() -> std::io::Result<RunningFake> {
        Self::default().serve().await
    }

    /// Accepts `key` with these scopes (`*` for all; `x:write` implies `x:read`).
    pub fn key(mut self, key: &str, scopes: &[&str]) -> Self {
        self.keys.insert(
            key.to_owned(),
            scopes.iter().map(|scope| (*scope).to_owned()).collect(),
        );
        self
    }

    /// How many persons the project holds (2,500 by default).
    pub fn persons(mut self, count: usize) -> Self {
        self.persons = count;
        self
    }

    /// Feature flags the project starts with (`flag-1`, `flag-2`, ...; none by default).
    pub fn feature_flags(mut self, count: usize) -> Self {
        self.feature_flags = count;
        self
    }

    /// Throttles requests with PostHog's scopes, answering 429.
    pub fn rate_limit(mut self, limiter: ServerRateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The public half (capture, flags, definitions): add flags, read what was captured.
    pub fn public(&self) -> &crate::server::fake_public::FakePublic {
        &self.public
    }

    /// Answers the HogQL query `query` (whitespace aside) with these columns and rows.
    pub fn hogql_result(self, query: &str, columns: &[&str], rows: Vec<Vec<Value>>) -> Self {
        let columns = columns.iter().map(|c| (*c).to_owned()).collect();
        self.hogql_answer(query, HogQlAnswer::Rows { columns, rows })
    }

    /// Answers the HogQL query `query` (whitespace aside) with `answer`.
    pub fn hogql_answer(mut self, query: &str, answer: HogQlAnswer) -> Self {
        self.hogql.insert(hogql::normalize(query), answer);
        self
    }

    /// Background queries (`refresh: async`) complete after this many polls (0, the default:
    /// at once).
    pub fn async_polls(mut self, polls: u32) -> Self {
        self.async_polls = polls;
        self
    }

    /// The routes of this fake, to serve or wrap yourself.
    pub fn routes(self) -> Routes {
        let queries = hogql::Queries {
            registered: self.hogql,
            async_polls: self.async_polls,
            ..Default::default()
        };
        let state = Arc::new(State::new(
            self.keys,
            self.persons,
            self.feature_flags,
            queries,
        ));
        let me = Arc::clone(&state);
        let extra = axum::Router::new().route(
            USERS_ME.path,
            dispatch::json(&USERS_ME, &me, |s, cx, (), (), ()| async move {
                s.authorize(&cx, None)?;
                Ok(Reply::ok(s.me.clone()))
            }),
        );
        let routes = Routes::new()
            .feature_flags(Arc::clone(&state))
            .persons(Arc::clone(&state))
            .query(Arc::clone(&state))
            .hogql(Arc::clone(&state))
            .users(state)
            .merge(extra);
        let routes = self.public.mount(routes);
        match self.limiter {
            Some(limiter) => routes.rate_limit(limiter),
            None => routes,
        }
    }

    /// Starts serving on a random loopback port.
    pub async fn serve(self) -> std::io::Result<RunningFake> {
        let public = self.public.clone();
        let server = self.routes().serve("127.0.0.1:0").await?;
        Ok(RunningFake { server, public })
    }
}

/// A fake PostHog serving on `127.0.0.1`; dropping it stops the server.
#[derive(Debug)]
pub struct RunningFake {
    server: RunningServer,
    public: crate::server::fake_public::FakePublic,
}

impl RunningFake {
    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &url::Url {
        self.server.base_url()
    }

    /// The fake's project id.
    pub fn project_id(&self) -> &'static str {
        FAKE_PROJECT_ID
    }

    /// The personal API key with every scope.
    pub fn personal_api_key(&self) -> &'static str {
        FAKE_PERSONAL_API_KEY
    }

    /// The public endpoints' recorded events, flags and definitions (same base URL).
    pub fn public(&self) -> &crate::server::fake_public::FakePublic {
        &self.public
    }

    /// A client for this fake: its URL, both keys and project, and no client-side rate limit
    /// (the fake throttles only when asked to).
    pub fn client(&self) -> crate::Result<Client> {
        let credentials = Credentials::builder()
            .personal_api_key(FAKE_PERSONAL_API_KEY)
            .project_api_key(FAKE_PROJECT_API_KEY)
            .build();
        self.client_with(credentials)
    }

    /// A client for this fake with other credentials.
    pub fn client_with(&self, credentials: Credentials) -> crate::Result<Client> {
        Client::builder(Region::SelfHosted(self.base_url().clone()))
            .credentials(credentials)
            .project_id(FAKE_PROJECT_ID)
            .rate_limiter(RateLimiter::disabled())
            .build()
    }

    /// Stops the server, letting open requests finish.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.server.shutdown().await
    }
}

/// The fake's data.
struct State {
    keys: HashMap<String, Vec<String>>,
    flags: RwLock<BTreeMap<i64, types::FeatureFlag>>,
    persons: Vec<types::Person>,
    queries: Mutex<hogql::Queries>,
    me: types::User,
}

/// A value of a generated type from JSON; the fake's own literals always fit.
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ServerError> {
    serde_json::from_value(value).map_err(|_| ServerError::internal())
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, ServerError> {
    serde_json::to_value(value).map_err(|_| ServerError::internal())
}

impl State {
    fn new(
        keys: HashMap<String, Vec<String>>,
        persons: usize,
        flags: usize,
        queries: hogql::Queries,
    ) -> Self {
        let person = |i: usize| {
            serde_json::from_value(json!({
                "id": i,
                "uuid": uuid::Uuid::from_u128(i as u128),
                "name": format!("user-{i}@example.com"),
                "distinct_ids": [format!("user-{i}")],
                "properties": {"email": format!("user-{i}@example.com")},
                "created_at": "2025-01-01T00:00:00Z",
            }))
            .unwrap_or_else(|_| types::Person {
                id: Some(i as i64),
                ..Default::default()
            })
        };
        let flag = |i: i64| types::FeatureFlag {
            id: Some(i),
            key: format!("flag-{i}"),
            active: Some(true),
            ..Default::default()
        };
        let me = serde_json::from_value(json!({
            "id": 1,
            "uuid": uuid::Uuid::from_u128(1),
            "distinct_id": "fake-user",
            "first_name": "Fake",
            "email": "fake@posthog.test",
        }))
        .unwrap_or_else(|_| types::User {
            email: "fake@posthog.test".into(),
            ..Default::default()
        });
        Self {
            keys,
            flags: RwLock::new((1..=flags as i64).map(|i| (i, flag(i))).collect()),
            persons: (1..=persons).map(person).collect(),
            queries: Mutex::new(queries),
            me,
        }
    }

    /// PostHog's checks, in its order: a key at all, a known key, the operation's scopes, then
    /// the project.
    fn authorize(&self, cx: &Context, project_id: Option<&str>) -> Result<(), ServerError> {
        let key = cx.key_text().ok_or_else(ServerError::not_authenticated)?;
        let scopes = self.keys.get(key).ok_or_else(ServerError::invalid_key)?;
        let has = |scope: &str| {
            scopes.iter().any(|held| {
                held == "*"
                    || held == scope
                    || scope
                        .strip_suffix(":read")
                        .is_some_and(|object| *held == format!("{object}:write"))
            })
        };
        if let Some(missing) = cx.operation.scopes.iter().find(|scope| !has(scope)) {
            return Err(ServerError::missing_scope(missing));
        }
        match project_id {
            Some(project) if project != FAKE_PROJECT_ID => Err(ServerError::not_found()),
            _ => Ok(()),
        }
    }

    fn flags_read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<i64, types::FeatureFlag>> {
        // A panic while holding the lock leaves a valid map: every write is one insert or remove.
        self.flags.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn flags_write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<i64, types::FeatureFlag>> {
        self.flags.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses a blank or taken key, as PostHog's serializer does.
    fn check_key(
        flags: &BTreeMap<i64, types::FeatureFlag>,
        key: &str,
        except: Option<i64>,
    ) -> Result<(), ServerError> {
        if key.trim().is_empty() {
            return Err(ServerError::validation(
                Some("key".into()),
                "This field may not be blank.",
            ));
        }
        if flags
            .values()
            .any(|flag| flag.key == key && flag.id != except)
        {
            return Err(ServerError::validation(
                Some("key".into()),
                "There is already a feature flag with this key.",
            ));
        }
        Ok(())
    }
}

/// The version a flag gets on update: one more than it had. A version the client sent that
/// cannot grow (`i64::MAX`) is a 400 naming `version`, not an overflow.
fn next_version(current: Option<i64>) -> Result<i64, ServerError> {
    current.unwrap_or(1).checked_add(1).ok_or_else(|| {
        ServerError::validation(
            Some("version".into()),
            "Ensure this value is less than or equal to 9223372036854775806.",
        )
    })
}

/// `next`/`previous` of a page: the request's URL with its paging parameters replaced.
fn page_link(cx: &Context, params: &[(&str, String)]) -> String {
    let host = cx
        .headers
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1");
    let mut url = format!("http://{host}{}?", cx.uri.path());
    let paging = ["limit", "offset", "cursor"];
    let kept = cx
        .query
        .pairs()
        .filter(|(name, _)| !paging.contains(name) && *name != crate::auth::PERSONAL_API_KEY_FIELD);
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(kept);
    query.extend_pairs(params.iter().map(|(name, value)| (*name, value.as_str())));
    url.push_str(&query.finish());
    url
}

/// A page of `items` (limit/offset): `(results, next, previous)`.
fn paginate<T: Clone>(
    cx: &Context,
    items: &[T],
    limit: Option<i64>,
    offset: Option<i64>,
) -> (Vec<T>, Option<String>, Option<String>) {
    let limit = limit.unwrap_or(100).clamp(1, 1000) as usize;
    // Past the end is an empty page; nothing here may overflow or truncate on 32-bit targets.
    let offset = usize::try_from(offset.unwrap_or(0).max(0)).unwrap_or(usize::MAX);
    let page: Vec<T> = items.iter().skip(offset).take(limit).cloned().collect();
    let next = (offset.saturating_add(limit) < items.len()).then(|| {
        page_link(
            cx,
            &[
                ("limit", limit.to_string()),
                ("offset", offset.saturating_add(limit).to_string()),
            ],
        )
    });
    let previous = (offset > 0).then(|| {
        page_link(
            cx,
            &[
                ("limit", limit.to_string()),
                ("offset", offset.saturating_sub(limit).to_string()),
            ],
        )
    });
    (page, next, previous)
}

impl FeatureFlagsApi for State {
    async fn feature_flags_list(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        query: FeatureFlagsListQuery,
    ) -> Answer<types::PaginatedFeatureFlagList> {
        self.authorize(&cx, Some(&project_id))?;
        let flags: Vec<types::FeatureFlag> = self
            .flags_read()
            .values()
            .filter(|flag| {
                query
                    .search
                    .as_deref()
                    .is_none_or(|search| flag.key.contains(search))
            })
            .cloned()
            .collect();
        let (results, next, previous) = paginate(&cx, &flags, query.limit, query.offset);
        Ok(Reply::ok(types::PaginatedFeatureFlagList {
            count: flags.len() as i64,
            next,
            previous,
            results,
        }))
    }

    async fn feature_flags_create(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        body: types::FeatureFlag,
    ) -> Answer<types::FeatureFlag> {
        self.authorize(&cx, Some(&project_id))?;
        let mut flags = self.flags_write();
        Self::check_key(&flags, &body.key, None)?;
        let id = flags.keys().next_back().copied().unwrap_or(0) + 1;
        let flag = types::FeatureFlag {
            id: Some(id),
            active: body.active.or(Some(true)),
            deleted: Some(false),
            version: Some(1),
            created_at: Some(chrono::Utc::now().fixed_offset()),
            ..body
        };
        flags.insert(id, flag.clone());
        Ok(Reply::created(flag))
    }

    async fn feature_flags_retrieve(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        id: i64,
    ) -> Answer<types::FeatureFlag> {
        self.authorize(&cx, Some(&project_id))?;
        self.flags_read()
            .get(&id)
            .cloned()
            .map(Reply::ok)
            .ok_or_else(ServerError::not_found)
    }

    async fn feature_flags_update(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        id: i64,
        body: types::FeatureFlag,
    ) -> Answer<types::FeatureFlag> {
        self.authorize(&cx, Some(&project_id))?;
        let mut flags = self.flags_write();
        let version = flags.get(&id).ok_or_else(ServerError::not_found)?.version;
        Self::check_key(&flags, &body.key, Some(id))?;
        let flag = types::FeatureFlag {
            id: Some(id),
            version: Some(next_version(version)?),
            ..body
        };
        flags.insert(id, flag.clone());
        Ok(Reply::ok(flag))
    }

    async fn feature_flags_partial_update(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        id: i64,
        body: Option<types::PatchedFeatureFlag>,
    ) -> Answer<types::FeatureFlag> {
        self.authorize(&cx, Some(&project_id))?;
        let mut flags = self.flags_write();
        let current = flags.get(&id).ok_or_else(ServerError::not_found)?;
        // A patch replaces the members it sends, `null` included (it clears the field);
        // absent members stay as they are.
        let mut merged = to_json(current)?;
        if let (Value::Object(target), Value::Object(patch)) = (&mut merged, to_json(&body)?) {
            target.extend(patch);
        }
        let mut flag: types::FeatureFlag = serde_json::from_value(merged)
            .map_err(|error| ServerError::validation(None, error.to_string()))?;
        Self::check_key(&flags, &flag.key, Some(id))?;
        flag.id = Some(id);
        flag.version = Some(next_version(flag.version)?);
        flags.insert(id, flag.clone());
        Ok(Reply::ok(flag))
    }

    async fn feature_flags_destroy(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        id: i64,
    ) -> Answer<Value> {
        self.authorize(&cx, Some(&project_id))?;
        match self.flags_write().remove(&id) {
            Some(_) => Ok(Reply::with_status(StatusCode::NO_CONTENT, Value::Null)),
            None => Err(ServerError::not_found()),
        }
    }
}

impl PersonsApi for State {
    async fn persons_list(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        query: PersonsListQuery,
    ) -> Answer<types::PaginatedPersonList> {
        self.authorize(&cx, Some(&project_id))?;
        let email = |person: &types::Person| {
            person
                .properties
                .as_ref()
                .and_then(|p| p["email"].as_str().map(str::to_owned))
        };
        let has_id = |person: &types::Person, id: &str| {
            person
                .distinct_ids
                .as_ref()
                .is_some_and(|ids| ids.iter().any(|d| d == id))
        };
        let persons: Vec<types::Person> = self
            .persons
            .iter()
            .filter(|p| query.distinct_id.as_deref().is_none_or(|id| has_id(p, id)))
            .filter(|p| {
                query
                    .email
                    .as_ref()
                    .is_none_or(|wanted| email(p).as_ref() == Some(wanted))
            })
            .filter(|p| {
                query
                    .search
                    .as_deref()
                    .is_none_or(|s| has_id(p, s) || email(p).is_some_and(|e| e.contains(s)))
            })
            .cloned()
            .collect();
        // A `cursor` (which the schema does not list for persons) switches to cursor pages: an
        // opaque position, and no `count`, like PostHog's cursor listings.
        if let Some(cursor) = cx.query.last("cursor") {
            let start = match cursor {
                "" => 0,
                text => text
                    .strip_prefix("p")
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| {
                        ServerError::validation(Some("cursor".into()), "Invalid cursor")
                    })?,
            };
            let limit = query.limit.unwrap_or(100).clamp(1, 1000) as usize;
            // A cursor is any position the client sends back: one past every page is refused,
            // not wrapped or left to overflow.
            let end = start
                .checked_add(limit)
                .ok_or_else(|| ServerError::validation(Some("cursor".into()), "Invalid cursor"))?;
            let results: Vec<types::Person> =
                persons.iter().skip(start).take(limit).cloned().collect();
            let next = (end < persons.len()).then(|| {
                page_link(
                    &cx,
                    &[("limit", limit.to_string()), ("cursor", format!("p{end}"))],
                )
            });
            return Ok(Reply::ok(types::PaginatedPersonList {
                next,
                previous: None,
                count: None,
                results: Some(results),
            }));
        }
        let (results, next, previous) = paginate(&cx, &persons, query.limit, query.offset);
        Ok(Reply::ok(types::PaginatedPersonList {
            next,
            previous,
            count: Some(persons.len() as i64),
            results: Some(results),
        }))
    }

    async fn persons_retrieve(
        self: Arc<Self>,
        cx: Context,
        project_id: String,
        id: i64,
        _query: PersonsRetrieveQuery,
    ) -> Answer<types::Person> {
        self.authorize(&cx, Some(&project_id))?;
        let person = self.persons.iter().find(|person| person.id == Some(id));
        person
            .cloned()
            .map(Reply::ok)
            .ok_or_else(ServerError::not_found)
    }
}

impl UsersApi for State {
    async fn users_retrieve(self: Arc<Self>, cx: Context, uuid: uuid::Uuid) -> Answer<types::User> {
        self.authorize(&cx, None)?;
        if self.me.uuid == Some(uuid) {
            Ok(Reply::ok(self.me.clone()))
        } else {
            Err(ServerError::not_found())
        }
    }
}
