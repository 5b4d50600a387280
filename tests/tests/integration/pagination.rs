//! Auto-pagination against a loopback server that pages 100,000 items the way PostHog does:
//! limit/offset and cursor listings, foreign `next` links, failing pages and odd page sizes.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt as _;
use posthog_api::pagination::{Page, Pages, PaginationStyle};
use posthog_api::rate_limit::RateLimiter;
use posthog_api::retry::RetryPolicy;
use posthog_api::{Client, Credentials, Error, KeyPlacement, Operation, Region};
use serde::Deserialize;

static OP: Operation = Operation::private(
    "persons_list",
    http::Method::GET,
    "/api/projects/{project_id}/persons/",
    "persons",
    &["person:read"],
    &[],
);

const PATH: &str = "/api/projects/1/persons/";
const KEY: &str = "phx_secret_key";
const PROJECT_TOKEN: &str = "phc_project_token";

/// How the loopback server pages and misbehaves.
#[derive(Default)]
struct Scenario {
    total: u64,
    cursor: bool,
    /// Takes an `offset` or a `cursor` (the cursor wins), and links with cursors.
    both: bool,
    /// Scheme, host and port put in `next` links; the server's own address when `None`.
    next_base: Option<String>,
    /// From this offset on, `next` links point elsewhere.
    foreign_from: Option<(u64, Foreign)>,
    /// The page starting at this offset answers 500 this many times.
    fail_at: Option<(u64, AtomicU32)>,
    /// The page starting at this offset has a malformed item at this index.
    bad_item: Option<(u64, usize)>,
    /// Pages sizes chosen by the server, ignoring `limit`, cycling through this list.
    sizes: Vec<u64>,
}

/// Where a foreign `next` link points.
enum Foreign {
    Other(String),
    /// The server's own port under another scheme or host name.
    SamePort {
        scheme: &'static str,
        host: &'static str,
    },
}

/// What one request looked like on the wire.
#[derive(Debug, Clone)]
struct Seen {
    query: Vec<(String, String)>,
    authorization: Option<String>,
}

struct Server {
    scenario: Scenario,
    base: String,
    seen: Mutex<Vec<Seen>>,
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .map(|seen| seen.clone())
            .unwrap_or_default()
    }
}

async fn serve(scenario: Scenario) -> Arc<Server> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    let server = Arc::new(Server {
        scenario,
        base: format!("http://{address}"),
        seen: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .route(PATH, get(list))
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    server
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

async fn list(
    State(server): State<Arc<Server>>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if let Ok(mut seen) = server.seen.lock() {
        seen.push(Seen {
            query: query.clone(),
            authorization,
        });
    }
    let scenario = &server.scenario;
    let by_cursor = scenario.cursor || (scenario.both && param(&query, "cursor").is_some());
    let cursor_links = scenario.cursor || scenario.both;
    let offset = if by_cursor {
        match param(&query, "cursor").map(|c| {
            c.strip_prefix("cD0")
                .map(|hex| u64::from_str_radix(hex, 16))
        }) {
            None => 0,
            Some(Some(Ok(offset))) => offset,
            Some(_) => {
                return (StatusCode::BAD_REQUEST, r#"{"detail":"Invalid cursor"}"#).into_response();
            }
        }
    } else {
        param(&query, "offset")
            .and_then(|o| o.parse().ok())
            .unwrap_or(0)
    };
    if let Some((at, times)) = &scenario.fail_at
        && *at == offset
        && times
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| t.checked_sub(1))
            .is_ok()
    {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"type":"server_error","detail":"boom"}"#,
        )
            .into_response();
    }
    let limit: u64 = param(&query, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    let size = if scenario.sizes.is_empty() {
        limit
    } else {
        // The page index is the number of pages before this offset, as sizes cycle.
        let mut start = 0;
        let mut index = 0;
        while start < offset {
            start += scenario.sizes[index % scenario.sizes.len()];
            index += 1;
        }
        scenario.sizes[index % scenario.sizes.len()]
    };
    let end = (offset + size).min(scenario.total);
    let mut body = String::with_capacity(64 * (end.saturating_sub(offset) as usize) + 256);
    if !cursor_links {
        body.push_str(&format!(r#"{{"count":{},"#, scenario.total));
    } else {
        body.push('{');
    }
    body.push_str(r#""unknown_page_member":[1,2,3],"next":"#);
    if end < scenario.total {
        let base = match &scenario.foreign_from {
            Some((from, Foreign::Other(base))) if end >= *from => base.clone(),
            Some((from, Foreign::SamePort { scheme, host })) if end >= *from => {
                let port = server.base.rsplit(':').next().unwrap_or_default();
                format!("{scheme}://{host}:{port}")
            }
            _ => scenario
                .next_base
                .clone()
                .unwrap_or_else(|| server.base.clone()),
        };
        // Like Django REST framework: the request's own query with the position replaced.
        let (name, value) = if cursor_links {
            ("cursor", format!("cD0{end:x}"))
        } else {
            ("offset", end.to_string())
        };
        let mut next = url::Url::parse(&format!("{base}{PATH}")).expect("next link");
        {
            let mut pairs = next.query_pairs_mut();
            for (key, old) in &query {
                if key != name && key != "offset" && (cursor_links || key != "limit") {
                    pairs.append_pair(key, old);
                }
            }
            if !cursor_links {
                pairs.append_pair("limit", &limit.to_string());
            }
            pairs.append_pair(name, &value);
        }
        body.push_str(&format!("\"{next}\""));
    } else {
        body.push_str("null");
    }
    body.push_str(r#","previous":null,"results":["#);
    for id in offset..end {
        if id > offset {
            body.push(',');
        }
        match scenario.bad_item {
            Some((at, index)) if at == offset && id - offset == index as u64 => {
                body.push_str(&format!(r#"{{"id":"not a number","name":"person-{id}"}}"#))
            }
            _ => body.push_str(&format!(
                r#"{{"id":{id},"name":"person-{id}","properties":{{"email":"p{id}@example.com"}}}}"#
            )),
        }
    }
    body.push_str("]}");
    ([("content-type", "application/json")], body).into_response()
}

#[derive(Debug, Deserialize)]
struct Person {
    id: u64,
    name: String,
}

fn client_for(server: &Server, credentials: Credentials, retry: RetryPolicy) -> Client {
    Client::builder(Region::SelfHosted(server.base.parse().expect("base URL")))
        .credentials(credentials)
        .rate_limiter(RateLimiter::disabled())
        .retry_policy(retry)
        .build()
        .expect("client")
}

fn keyed_client(server: &Server) -> Client {
    client_for(
        server,
        Credentials::personal_api_key(KEY),
        RetryPolicy::never(),
    )
}

/// What a generated `persons_list_pages` method will do.
fn pages<T: serde::de::DeserializeOwned + Send + 'static>(
    client: &Client,
    style: PaginationStyle,
) -> Pages<T> {
    client.operation(&OP).project("1").pages(style)
}

/// Asserts the ids are exactly `range`, in order (so no duplicates and no gaps).
fn assert_ids(ids: &[u64], range: std::ops::Range<u64>) {
    assert_eq!(ids.len() as u64, range.end - range.start, "item count");
    for (position, (id, expected)) in ids.iter().zip(range).enumerate() {
        assert_eq!(*id, expected, "item {position} out of order");
    }
}

async fn ids<T, F: Fn(&T) -> u64>(pages: Pages<T>, id: F) -> Vec<u64>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    let mut items = pages.items();
    let mut ids = Vec::new();
    while let Some(item) = items.next().await {
        ids.push(id(&item.expect("item")));
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_listing_of_100000_items_arrives_complete_and_in_order() {
    let server = serve(Scenario {
        total: 100_000,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    let ids = ids(
        pages::<Person>(&client, PaginationStyle::LimitOffset).page_size(1000),
        |p| p.id,
    )
    .await;
    assert_ids(&ids, 0..100_000);
    let seen = server.seen();
    assert_eq!(seen.len(), 100);
    assert!(
        seen.iter()
            .all(|s| param(&s.query, "limit") == Some("1000")),
        "page size kept on every page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_listing_of_100000_items_arrives_complete_and_in_order() {
    let server = serve(Scenario {
        total: 100_000,
        cursor: true,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    let mut stream = pages::<Person>(&client, PaginationStyle::Cursor)
        .page_size(500)
        .prefetch(true);
    let mut ids = Vec::new();
    while let Some(page) = stream.next().await {
        let page = page.expect("page");
        assert_eq!(page.count, None, "cursor pages carry no count");
        ids.extend(page.results.iter().map(|p| p.id));
    }
    assert_ids(&ids, 0..100_000);
    assert_eq!(server.seen().len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_page_with_null_next_ends_the_stream() {
    let server = serve(Scenario {
        total: 250,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    let pages: Vec<Page<Person>> = pages(&client, PaginationStyle::LimitOffset)
        .map(|page| page.expect("page"))
        .collect()
        .await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.results.len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert!(pages.iter().all(|p| p.count == Some(250)));
    assert_eq!(pages[0].next_offset(), Some(100));
    assert_eq!(pages[2].next, None);
    assert_eq!(pages[2].results[49].name, "person-249");
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_listing_yields_no_items() {
    let server = serve(Scenario {
        total: 0,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    let ids = ids(
        pages::<Person>(&client, PaginationStyle::LimitOffset),
        |p| p.id,
    )
    .await;
    assert!(ids.is_empty());
    assert_eq!(server.seen().len(), 1);
}

/// Checks a refused link: the items before it arrive, then a `ForeignNextUrl` that names only
/// origins, then the end; and nothing was sent to `foreign`.
async fn assert_refused(server: &Server, foreign: &str) {
    let client = keyed_client(server);
    let mut items = pages::<Person>(&client, PaginationStyle::LimitOffset).items();
    let mut ids = Vec::new();
    let error = loop {
        match items.next().await.expect("an error before the end") {
            Ok(person) => ids.push(person.id),
            Err(error) => break error,
        }
    };
    assert_ids(&ids, 0..200);
    match &error {
        Error::ForeignNextUrl {
            origin, expected, ..
        } => {
            assert_eq!(origin, foreign);
            assert_eq!(expected, &server.base);
        }
        other => panic!("expected ForeignNextUrl, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        !message.contains(PATH) && !message.contains("offset="),
        "no path or query: {message}"
    );
    assert!(
        items.next().await.is_none(),
        "the stream ends after the refusal"
    );
    assert_eq!(
        server.seen().len(),
        2,
        "the foreign link {foreign} was never requested"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_link_to_another_host_is_refused() {
    // Another port on the same address.
    let bystander = serve(Scenario {
        total: 1000,
        ..Scenario::default()
    })
    .await;
    let server = serve(Scenario {
        total: 1000,
        foreign_from: Some((200, Foreign::Other(bystander.base.clone()))),
        ..Scenario::default()
    })
    .await;
    assert_refused(&server, &bystander.base).await;
    assert!(
        bystander.seen().is_empty(),
        "the key never reached the other host"
    );

    // Another host name for the very same server.
    let server = serve(Scenario {
        total: 1000,
        foreign_from: Some((
            200,
            Foreign::SamePort {
                scheme: "http",
                host: "localhost",
            },
        )),
        ..Scenario::default()
    })
    .await;
    let localhost = server.base.replace("127.0.0.1", "localhost");
    assert_refused(&server, &localhost).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_link_with_another_scheme_is_refused() {
    let server = serve(Scenario {
        total: 1000,
        foreign_from: Some((
            200,
            Foreign::SamePort {
                scheme: "https",
                host: "127.0.0.1",
            },
        )),
        ..Scenario::default()
    })
    .await;
    let https = server.base.replace("http://", "https://");
    assert_refused(&server, &https).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_page_ends_the_stream_naming_it_and_resumes_without_gaps() {
    let server = serve(Scenario {
        total: 10_000,
        fail_at: Some((5000, AtomicU32::new(1))),
        ..Scenario::default()
    })
    .await;
    // Keys in the query make the page URL sensitive: the error must not carry them.
    let credentials = Credentials::builder()
        .personal_api_key(KEY)
        .placement(KeyPlacement::Query)
        .build();
    let client = Client::builder(Region::SelfHosted(server.base.parse().expect("base URL")))
        .credentials(credentials)
        .project_token(PROJECT_TOKEN)
        .rate_limiter(RateLimiter::disabled())
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("client");
    let mut items = pages::<Person>(&client, PaginationStyle::LimitOffset)
        .page_size(1000)
        .items();
    let mut ids = Vec::new();
    let error = loop {
        match items.next().await.expect("an error before the end") {
            Ok(person) => ids.push(person.id),
            Err(error) => break error,
        }
    };
    assert_ids(&ids, 0..5000);
    let Error::Page { url, source } = &error else {
        panic!("expected Error::Page, got {error:?}")
    };
    assert!(
        url.contains("offset=5000") && url.contains("limit=1000"),
        "names the page: {url}"
    );
    assert!(
        matches!(**source, Error::Server(_)),
        "keeps the cause: {source:?}"
    );
    assert_eq!(error.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    let message = error.to_string();
    for secret in [KEY, PROJECT_TOKEN, "personal_api_key", "token="] {
        assert!(!message.contains(secret), "no credentials in {message}");
    }
    assert!(
        items.next().await.is_none(),
        "the stream ends after the error"
    );

    // The server has recovered: resuming from the failed page completes the listing exactly.
    let rest =
        ids_of(pages::<Person>(&client, PaginationStyle::LimitOffset).resume_from(url.clone()))
            .await;
    ids.extend(rest);
    assert_ids(&ids, 0..10_000);
    // Every page, resumed ones included, carried the key once and the project token once.
    for seen in server.seen() {
        let count = |name: &str| seen.query.iter().filter(|(key, _)| key == name).count();
        assert_eq!(
            (count("personal_api_key"), count("token")),
            (1, 1),
            "{:?}",
            seen.query
        );
    }
}

async fn ids_of(pages: Pages<Person>) -> Vec<u64> {
    ids(pages, |p| p.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_page_yields_no_duplicates_and_skips_nothing() {
    let server = serve(Scenario {
        total: 10_000,
        fail_at: Some((3000, AtomicU32::new(2))),
        ..Scenario::default()
    })
    .await;
    let retry = RetryPolicy::default()
        .max_attempts(3)
        .delays(Duration::from_millis(1), Duration::from_secs(30));
    let client = client_for(&server, Credentials::personal_api_key(KEY), retry);
    let ids = ids_of(
        pages(&client, PaginationStyle::LimitOffset)
            .page_size(1000)
            .prefetch(true),
    )
    .await;
    assert_ids(&ids, 0..10_000);
    let attempts = server
        .seen()
        .iter()
        .filter(|s| param(&s.query, "offset") == Some("3000"))
        .count();
    assert_eq!(attempts, 3, "two failures, then the page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_size_changes_are_followed() {
    // The server picks its own page sizes, changing from page to page.
    let server = serve(Scenario {
        total: 100_000,
        sizes: vec![100, 1000, 7, 500, 1, 250],
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    assert_ids(
        &ids_of(pages(&client, PaginationStyle::LimitOffset)).await,
        0..100_000,
    );

    // The caller picks a page size; PostHog carries it into every `next` link.
    let server = serve(Scenario {
        total: 1000,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    assert_ids(
        &ids_of(pages(&client, PaginationStyle::LimitOffset).page_size(250)).await,
        0..1000,
    );
    let limits: Vec<Option<String>> = server
        .seen()
        .iter()
        .map(|s| param(&s.query, "limit").map(str::to_owned))
        .collect();
    assert_eq!(limits, vec![Some("250".to_owned()); 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_authenticated_like_the_first() {
    let server = serve(Scenario {
        total: 1000,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    assert_ids(
        &ids_of(pages(&client, PaginationStyle::LimitOffset)).await,
        0..1000,
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 10);
    for request in seen {
        assert_eq!(
            request.authorization.as_deref(),
            Some("Bearer phx_secret_key")
        );
        assert_eq!(param(&request.query, "personal_api_key"), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_error_names_the_page_and_the_path_in_the_body() {
    let server = serve(Scenario {
        total: 1000,
        bad_item: Some((300, 7)),
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    let mut items = pages::<Person>(&client, PaginationStyle::LimitOffset).items();
    let mut count = 0;
    let error = loop {
        match items.next().await.expect("an error before the end") {
            Ok(_) => count += 1,
            Err(error) => break error,
        }
    };
    assert_eq!(count, 300);
    let Error::Page { url, source } = &error else {
        panic!("expected Error::Page, got {error:?}")
    };
    assert!(
        url.ends_with(&format!("{PATH}?limit=100&offset=300")),
        "{url}"
    );
    match &**source {
        Error::Decode { path, .. } => assert_eq!(path, "results[7].id"),
        other => panic!("expected Error::Decode, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_stops_fetching() {
    for prefetch in [false, true] {
        let server = serve(Scenario {
            total: 100_000,
            ..Scenario::default()
        })
        .await;
        let client = keyed_client(&server);
        let items = pages::<Person>(&client, PaginationStyle::LimitOffset)
            .prefetch(prefetch)
            .items();
        let taken: Vec<_> = items.take(150).collect().await;
        assert_eq!(taken.len(), 150);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let fetched = server.seen().len();
        // Two pages hold the 150 items; prefetch may have started the third.
        let most = if prefetch { 3 } else { 2 };
        assert!(
            fetched <= most,
            "prefetch {prefetch}: {fetched} pages fetched"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_at_most_stops_at_the_bound() {
    let server = serve(Scenario {
        total: 100_000,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    let people = pages::<Person>(&client, PaginationStyle::LimitOffset)
        .collect_at_most(250)
        .await
        .expect("items");
    assert_ids(&people.iter().map(|p| p.id).collect::<Vec<_>>(), 0..250);
    assert_eq!(server.seen().len(), 3);

    let server = serve(Scenario {
        total: 42,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    let people = pages::<Person>(&client, PaginationStyle::LimitOffset)
        .collect_at_most(usize::MAX)
        .await
        .expect("items");
    assert_eq!(people.len(), 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_resume_from_a_saved_offset_cursor_or_link() {
    let server = serve(Scenario {
        total: 100_000,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    let ids = ids_of(
        pages(&client, PaginationStyle::LimitOffset)
            .offset(99_000)
            .page_size(500),
    )
    .await;
    assert_ids(&ids, 99_000..100_000);

    let server = serve(Scenario {
        total: 3000,
        cursor: true,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    let mut first = pages::<Person>(&client, PaginationStyle::Cursor);
    let page = first.next().await.expect("a page").expect("page");
    let cursor = page.next_cursor().expect("a cursor");
    let link = first.resume_url().expect("a resume link");
    drop(first);
    assert_ids(
        &ids_of(pages(&client, PaginationStyle::Cursor).cursor(cursor)).await,
        100..3000,
    );
    assert_ids(
        &ids_of(pages(&client, PaginationStyle::Cursor).resume_from(link)).await,
        100..3000,
    );
}

/// A listing that takes both an offset and a cursor (`OffsetOrCursor`, what lowering makes of
/// one declaring both): it follows the cursor links it is given, and resumes from a saved
/// offset or a saved cursor, sending only that position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_taking_offset_and_cursor_follows_cursor_links_and_resumes_from_either() {
    let server = serve(Scenario {
        total: 1000,
        both: true,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    let mut first = pages::<Person>(&client, PaginationStyle::OffsetOrCursor).page_size(100);
    let page = first.next().await.expect("a page").expect("page");
    let cursor = page.next_cursor().expect("next links carry a cursor");
    assert_eq!(cursor, "cD064");
    drop(first);
    assert_ids(
        &ids_of(pages(&client, PaginationStyle::OffsetOrCursor).page_size(100)).await,
        0..1000,
    );

    let before = server.seen().len();
    assert_ids(
        &ids_of(pages(&client, PaginationStyle::OffsetOrCursor).offset(900)).await,
        900..1000,
    );
    let by_offset = &server.seen()[before];
    assert_eq!(param(&by_offset.query, "offset"), Some("900"));
    assert_eq!(param(&by_offset.query, "cursor"), None);

    let before = server.seen().len();
    assert_ids(
        &ids_of(
            pages(&client, PaginationStyle::OffsetOrCursor)
                .page_size(100)
                .cursor(cursor),
        )
        .await,
        100..1000,
    );
    let seen = server.seen();
    let by_cursor = &seen[before];
    assert_eq!(param(&by_cursor.query, "cursor"), Some("cD064"));
    assert_eq!(param(&by_cursor.query, "offset"), None);
    assert!(
        seen[before + 1..]
            .iter()
            .all(|s| param(&s.query, "cursor").is_some() && param(&s.query, "offset").is_none()),
        "the following pages are the server's cursor links"
    );

    // One position only: both at once is refused before anything is sent.
    let before = server.seen().len();
    let mut both = pages::<Person>(&client, PaginationStyle::OffsetOrCursor)
        .offset(5)
        .cursor("cD0a")
        .items();
    assert!(matches!(
        both.next().await,
        Some(Err(Error::InvalidArgument { ref field, .. })) if field == "cursor"
    ));
    assert_eq!(server.seen().len(), before);
}

/// A page-numbered listing (PostHog's activity logs) follows its `next` links and refuses an
/// offset or a cursor, which its server would ignore and so restart from the first page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_numbered_listing_refuses_offsets_and_cursors() {
    let server = serve(Scenario {
        total: 300,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    assert_ids(
        &ids_of(pages(&client, PaginationStyle::PageNumber)).await,
        0..300,
    );
    for mut refused in [
        pages::<Person>(&client, PaginationStyle::PageNumber)
            .offset(5)
            .items(),
        pages::<Person>(&client, PaginationStyle::PageNumber)
            .cursor("cD0a")
            .items(),
    ] {
        assert!(matches!(
            refused.next().await,
            Some(Err(Error::InvalidArgument { .. }))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_that_do_not_fit_the_listing_are_argument_errors() {
    let server = serve(Scenario {
        total: 10,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    let mut cursor_with_offset = pages::<Person>(&client, PaginationStyle::Cursor)
        .offset(5)
        .items();
    assert!(matches!(
        cursor_with_offset.next().await,
        Some(Err(Error::InvalidArgument { .. }))
    ));
    assert!(cursor_with_offset.next().await.is_none());
    let mut empty_pages = pages::<Person>(&client, PaginationStyle::LimitOffset)
        .page_size(0)
        .items();
    assert!(matches!(
        empty_pages.next().await,
        Some(Err(Error::InvalidArgument { .. }))
    ));
    let mut foreign = pages::<Person>(&client, PaginationStyle::LimitOffset)
        .resume_from("https://evil.example/api/projects/1/persons/?offset=5")
        .items();
    assert!(matches!(
        foreign.next().await,
        Some(Err(Error::ForeignNextUrl { .. }))
    ));
    assert!(server.seen().is_empty(), "nothing was sent");
}

/// Items that count how many of them are alive, to bound how many pages are ever held.
mod counted {
    use super::*;

    pub static LIVE: AtomicUsize = AtomicUsize::new(0);
    pub static PEAK: AtomicUsize = AtomicUsize::new(0);

    pub struct Guard;

    impl Default for Guard {
        fn default() -> Self {
            let live = LIVE.fetch_add(1, Ordering::SeqCst) + 1;
            PEAK.fetch_max(live, Ordering::SeqCst);
            Guard
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[derive(Deserialize)]
    pub struct CountedPerson {
        pub id: u64,
        #[serde(skip)]
        pub _guard: Guard,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_one_page_is_held_or_two_with_prefetch() {
    use counted::{CountedPerson, LIVE, PEAK};
    // The only test using `CountedPerson`, so the counters are its own.
    const PAGE: usize = 500;
    let server = serve(Scenario {
        total: 100_000,
        ..Scenario::default()
    })
    .await;
    let client = keyed_client(&server);
    for (prefetch, pages_held) in [(false, 1), (true, 2)] {
        PEAK.store(0, Ordering::SeqCst);
        let mut items = pages::<CountedPerson>(&client, PaginationStyle::LimitOffset)
            .page_size(PAGE as u32)
            .prefetch(prefetch)
            .items();
        let mut next_id = 0;
        while let Some(item) = items.next().await {
            let person = item.expect("item");
            assert_eq!(person.id, next_id);
            next_id += 1;
            if next_id % 250 == 0 {
                // A slow consumer gives a prefetch the time to complete.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        assert_eq!(next_id, 100_000);
        let peak = PEAK.load(Ordering::SeqCst);
        assert!(
            peak <= pages_held * PAGE,
            "prefetch {prefetch}: {peak} items alive at once"
        );
        assert!(
            peak > (pages_held - 1) * PAGE,
            "prefetch {prefetch}: the bound is reached ({peak})"
        );
        assert_eq!(LIVE.load(Ordering::SeqCst), 0);
    }
}
