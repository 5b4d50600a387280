//! Hostile input against the client runtime, over real HTTP on 127.0.0.1 (issue 14): path
//! arguments that would leave their route, keys echoed into resume URLs and decode errors,
//! endless `next` chains, redirects and links that leave the configured base URL, oversized
//! answers and the exact multipart size check.

use std::sync::{Arc, OnceLock};

use futures::StreamExt as _;
use http::{Method, StatusCode};
use posthog_api::multipart::FilePart;
use posthog_api::pagination::{Page, Pages, PaginationStyle};
use posthog_api::rate_limit::RateLimiter;
use posthog_api::retry::RetryPolicy;
use posthog_api::types;
use posthog_api::{
    Client, Credentials, Error, KeyPlacement, MAX_BODY_BYTES, Operation, ProjectId, Region,
};
use serde_json::{Value, json};

use crate::wire::{self, Captured, SendAs as _, Server, json_response, redirect};

const KEY: &str = "phx_HardeningTestKey0123456789";

static LIST: Operation = Operation::private(
    "things_list",
    Method::GET,
    "/api/things/",
    "things",
    &[],
    &[],
);

fn builder(base: url::Url, credentials: Credentials) -> posthog_api::ClientBuilder {
    Client::builder(Region::SelfHosted(base))
        .credentials(credentials)
        .rate_limiter(RateLimiter::disabled())
        .retry_policy(RetryPolicy::never())
}

fn client(server: &Server, credentials: Credentials) -> Client {
    builder(server.url(), credentials).build().expect("client")
}

/// The argument an `InvalidArgument` names, also inside the `Page` error of a listing.
fn invalid_field(error: &Error) -> Option<&str> {
    match error {
        Error::InvalidArgument { field, .. } => Some(field),
        Error::Page { source, .. } => invalid_field(source),
        _ => None,
    }
}

/// Every way a value could become a dot segment or an empty one, directly or once a server or
/// proxy percent-decodes it (once or twice).
const ESCAPES: &[&str] = &[
    "",
    ".",
    "..",
    "%2e",
    "%2E",
    "%2e%2e",
    "%2E%2e",
    "%2e%2E",
    ".%2e",
    "%2e.",
    "%2E.",
    ".%2E",
    "%252e",
    "%252e%252e",
    "%25252e%25252E",
];

#[tokio::test]
async fn path_arguments_that_would_leave_their_route_are_refused_before_connecting() {
    let server = Server::ok().await;
    let client = client(&server, Credentials::personal_api_key(KEY));
    for escape in ESCAPES {
        let error = client
            .domains_destroy("org1", escape)
            .await
            .expect_err("refused");
        assert_eq!(invalid_field(&error), Some("id"), "{escape:?}: {error}");
        let error = client
            .domains_destroy(escape, "d1")
            .await
            .expect_err("refused");
        assert_eq!(
            invalid_field(&error),
            Some("organization_id"),
            "{escape:?}: {error}"
        );
        let error = client
            .feature_flags_destroy(ProjectId::from(*escape), 1)
            .await
            .expect_err("refused");
        assert_eq!(
            invalid_field(&error),
            Some("project_id"),
            "{escape:?}: {error}"
        );
        // The pagination companions build their first request the same way.
        let mut pages = client.domains_list_pages(escape, &Default::default());
        let error = pages.next().await.expect("an item").expect_err("refused");
        assert_eq!(
            invalid_field(&error),
            Some("organization_id"),
            "{escape:?}: {error}"
        );
    }
    assert_eq!(server.connections(), 0, "{:#?}", server.requests());
}

#[tokio::test]
async fn odd_characters_stay_inside_their_segment_byte_for_byte() {
    let server = Server::start(|_| json_response(StatusCode::NO_CONTENT, "")).await;
    let client = client(&server, Credentials::personal_api_key(KEY));
    let values = [
        "a/b", "../x", "a?b=c", "a#frag", "a\\b", "\\..", "..\\", "...", "..a", "a b", "ü/..",
        "@me", "a:b", "%41", "%2f", "a;b", "\u{0}",
    ];
    for value in values {
        client
            .domains_destroy("org1", value)
            .await
            .unwrap_or_else(|error| panic!("{value:?}: {error}"));
    }
    let requests = server.requests();
    assert_eq!(requests.len(), values.len());
    for (request, value) in requests.iter().zip(values) {
        let segments: Vec<&str> = request.path.split('/').collect();
        assert_eq!(
            segments[..5],
            ["", "api", "organizations", "org1", "domains"],
            "{value:?}: {}",
            request.path
        );
        assert_eq!(segments.len(), 7, "{value:?}: {}", request.path);
        assert_eq!(segments[6], "");
        let arrived = percent_encoding::percent_decode_str(segments[5]).collect::<Vec<u8>>();
        assert_eq!(arrived, value.as_bytes(), "{value:?}: {}", request.path);
    }
}

/// A loopback server answering each request with `page(request, own base URL, its ?page=)`
/// (`first` when absent) as JSON.
async fn pager(
    first: u32,
    page: impl Fn(&Captured, &str, u32) -> Value + Send + Sync + 'static,
) -> Server {
    let base: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let own = base.clone();
    let server = Server::start(move |request: &Captured| {
        let number = request
            .query_values("page")
            .first()
            .and_then(|p| p.parse().ok())
            .unwrap_or(first);
        let body = page(request, own.get().map(String::as_str).unwrap_or(""), number);
        json_response(StatusCode::OK, &body.to_string())
    })
    .await;
    let _ = base.set(server.url().as_str().trim_end_matches('/').to_owned());
    server
}

/// A server that pages like Django REST framework: `next` is the request's own URL (query
/// string included, so a query-placed key is echoed) with `page` advanced.
async fn echoing_pager(pages: u32) -> Server {
    pager(1, move |request, base, page| {
        let others: Vec<(String, String)> =
            url::form_urlencoded::parse(request.query.as_deref().unwrap_or("").as_bytes())
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        let link = |page: u32| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.extend_pairs(others.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            query.append_pair("page", &page.to_string());
            format!("{base}{}?{}", request.path, query.finish())
        };
        let next = (page < pages).then(|| link(page + 1));
        let previous = (page > 1).then(|| link(page - 1));
        json!({"count": pages, "next": next, "previous": previous, "results": [page]})
    })
    .await
}

fn query_keyed() -> Credentials {
    Credentials::builder()
        .personal_api_key(KEY)
        .placement(KeyPlacement::Query)
        .build()
}

fn list_pages(client: &Client) -> Pages<u32> {
    client.operation(&LIST).pages(PaginationStyle::LimitOffset)
}

#[tokio::test]
async fn echoed_query_keys_never_reach_pages_resume_urls_or_errors() {
    let server = echoing_pager(3).await;
    let client = client(&server, query_keyed());
    let mut pages = list_pages(&client);
    let first: Page<u32> = pages.next().await.expect("a page").expect("page 1");
    let next = first.next.clone().expect("a next link");
    assert!(!next.contains(KEY), "{next}");
    let previous_free = format!("{first:?} {}", serde_json::to_string(&first).expect("json"));
    assert!(!previous_free.contains(KEY), "{previous_free}");
    let second = pages.next().await.expect("a page").expect("page 2");
    for text in [
        format!("{second:?}"),
        serde_json::to_string(&second).expect("json"),
    ] {
        assert!(!text.contains(KEY), "{text}");
        assert!(text.contains("page=1") && text.contains("page=3"), "{text}");
    }
    let resume = pages.resume_url().expect("a page is left");
    assert!(!resume.contains(KEY), "{resume}");
    assert!(!format!("{pages:?}").contains(KEY));
    drop(pages);

    // A page built by hand with the key in it prints and serializes without it too.
    let forged: Page<u32> = Page {
        count: None,
        next: Some(format!("http://h/a/?personal_api_key={KEY}&page=2")),
        previous: Some(format!("/a/?token=phc_x&personal_api_key={KEY}")),
        results: vec![],
    };
    for text in [
        format!("{forged:?}"),
        serde_json::to_string(&forged).expect("json"),
    ] {
        assert!(!text.contains(KEY) && !text.contains("phc_x"), "{text}");
    }

    // Resuming from the stripped link authenticates afresh: the key is on the wire exactly once.
    let before = server.requests().len();
    let rest: Vec<u32> = list_pages(&client)
        .resume_from(resume)
        .items()
        .map(|item| item.expect("item"))
        .collect()
        .await;
    assert_eq!(rest, vec![3]);
    let resumed = &server.requests()[before];
    assert_eq!(
        resumed.query_values("personal_api_key"),
        vec![KEY.to_owned()]
    );
    assert_eq!(resumed.query_values("page"), vec!["3".to_owned()]);
}

#[tokio::test]
async fn failed_and_refused_links_are_named_without_credentials() {
    // The second page's link points to another origin, and echoes the key.
    let server = Server::start(|request: &Captured| {
        let next = format!(
            "http://127.0.0.2:1/api/things/?{}",
            request.query.as_deref().unwrap_or("")
        );
        json_response(
            StatusCode::OK,
            &json!({"next": next, "results": [1]}).to_string(),
        )
    })
    .await;
    let client = client(&server, query_keyed());
    let mut pages = list_pages(&client);
    assert!(pages.next().await.expect("page").is_ok());
    let error = pages.next().await.expect("an error").expect_err("refused");
    let resume = pages.resume_url().unwrap_or_default();
    for text in [format!("{error}"), format!("{error:?}"), resume] {
        assert!(!text.contains(KEY), "{text}");
    }
}

/// Keys a client holds that have no recognisable shape: a Basic password and its token, an
/// unprefixed legacy personal key.
#[tokio::test]
async fn decode_errors_of_successful_answers_redact_the_clients_own_secrets() {
    use base64::Engine as _;
    const LEGACY: &str = "LegacyKeyWithoutPrefix0123456789";
    const USER: &str = "robot@example.com";
    const PASSWORD: &str = "correct horse battery staple";
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let echo = format!("{PASSWORD} {token} {LEGACY} {USER}");
    let body = json!({"results": echo, "next": null}).to_string();
    let json_body = body.clone();
    let server = Server::start(move |request: &Captured| {
        if request.path.starts_with("/text") {
            // Not UTF-8, with the secrets around the bad byte.
            let mut bytes = json_body.clone().into_bytes();
            bytes.push(0xff);
            http::Response::builder()
                .status(StatusCode::OK)
                .body(axum::body::Body::from(bytes))
                .expect("response")
        } else {
            json_response(StatusCode::OK, &json_body)
        }
    })
    .await;
    let basic = [PASSWORD, token.as_str(), USER];
    for (credentials, secrets) in [
        (Credentials::basic(USER, PASSWORD), &basic[..]),
        (Credentials::personal_api_key(LEGACY), &[LEGACY][..]),
        (
            Credentials::builder()
                .personal_api_key(LEGACY)
                .placement(KeyPlacement::Query)
                .build(),
            &[LEGACY][..],
        ),
    ] {
        let client = client(&server, credentials);
        let errors = [
            client
                .operation(&LIST)
                .send_json::<Vec<u32>>()
                .await
                .expect_err("not a list"),
            list_pages(&client)
                .next()
                .await
                .expect("a page")
                .expect_err("results is no list"),
            client
                .request(Method::GET, "/text/")
                .send_text()
                .await
                .expect_err("not UTF-8"),
        ];
        for error in errors {
            let text = format!("{error} {error:?}");
            assert!(
                matches!(&error, Error::Decode { .. } | Error::Page { .. }),
                "{text}"
            );
            for secret in secrets {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
            assert!(text.contains("[redacted]"), "{text}");
        }
    }
}

/// A server whose `next` links go round in a cycle of `cycle` pages.
async fn cycling_pager(cycle: u32) -> Server {
    pager(0, move |_, base, page| {
        let next = format!(
            "{base}/api/things/?page={}&personal_api_key={KEY}",
            (page + 1) % cycle
        );
        json!({"next": next, "results": [page]})
    })
    .await
}

#[tokio::test]
async fn a_next_link_that_repeats_a_page_ends_the_stream_with_an_error() {
    for (cycle, prefetch) in [(1, false), (2, false), (3, true), (1, true)] {
        let server = cycling_pager(cycle).await;
        let client = client(&server, Credentials::personal_api_key(KEY));
        let first = client.operation(&LIST).query("page", &0);
        let outcome: Vec<Result<Page<u32>, Error>> = first
            .pages(PaginationStyle::Cursor)
            .prefetch(prefetch)
            .take(20)
            .collect()
            .await;
        let pages = outcome.iter().filter(|page| page.is_ok()).count();
        assert_eq!(pages, cycle as usize, "cycle {cycle}: {outcome:?}");
        let Some(Err(error)) = outcome.last() else {
            panic!("cycle {cycle}: no error: {outcome:?}");
        };
        let Error::PaginationLoop { url, .. } = error else {
            panic!("cycle {cycle}: {error:?}");
        };
        assert!(url.contains("page=0"), "{url}");
        assert!(!format!("{error} {error:?}").contains(KEY), "{error:?}");
        assert_eq!(server.requests().len(), cycle as usize);
    }
}

#[tokio::test]
async fn a_next_link_outside_the_listings_route_is_refused() {
    // Same origin, but another route (or the route's parent, through dot segments).
    for link in [
        "/api/organizations/org1/",
        "/api/things/../organizations/org1/",
        "/api/things/%2e%2e/x/",
        "/api/things/sub/",
        "/api/thing/",
    ] {
        let server = Server::start(move |request: &Captured| {
            let body = if request.path == "/api/things/" {
                json!({"next": link, "results": [1]})
            } else {
                json!({"next": null, "results": [2]})
            };
            json_response(StatusCode::OK, &body.to_string())
        })
        .await;
        let client = client(&server, Credentials::personal_api_key(KEY));
        let outcome: Vec<Result<Page<u32>, Error>> = list_pages(&client).collect().await;
        assert!(outcome[0].is_ok(), "{link}: {outcome:?}");
        assert!(
            matches!(outcome.get(1), Some(Err(Error::ForeignNextUrl { .. }))),
            "{link}: {outcome:?}"
        );
        assert_eq!(server.requests().len(), 1, "{link}");
    }
}

#[tokio::test]
async fn a_base_url_path_prefix_bounds_next_links_and_redirects() {
    // One origin, two apps: PostHog under /posthog/, something else under /other/.
    let server = Server::start(|request: &Captured| match request.path.as_str() {
        "/posthog/api/things/" => json_response(
            StatusCode::OK,
            &json!({"next": "/other/api/things/?page=2", "results": [1]}).to_string(),
        ),
        "/posthog/api/moved/" => redirect(StatusCode::TEMPORARY_REDIRECT, "/other/steal/"),
        _ => json_response(StatusCode::OK, "{}"),
    })
    .await;
    let base = server.url().join("/posthog/").expect("base");
    for placement in [
        KeyPlacement::Header,
        KeyPlacement::Body,
        KeyPlacement::Query,
    ] {
        let client = builder(
            base.clone(),
            Credentials::builder()
                .personal_api_key(KEY)
                .placement(placement)
                .build(),
        )
        .build()
        .expect("client");
        let outcome: Vec<Result<Page<u32>, Error>> = list_pages(&client).collect().await;
        assert!(
            matches!(outcome.get(1), Some(Err(Error::ForeignNextUrl { .. }))),
            "{outcome:?}"
        );
        let error = client
            .request(Method::POST, "/api/moved/")
            .json(&json!({"a": 1}))
            .send_json::<Value>()
            .await
            .expect_err("not followed");
        assert_eq!(error.status(), Some(StatusCode::TEMPORARY_REDIRECT));
    }
    let elsewhere: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|request| !request.path.starts_with("/posthog/"))
        .collect();
    assert!(elsewhere.is_empty(), "{elsewhere:#?}");
}

/// Uploads `content` as the file of a multipart operation (`warehouse_tables_file_create`).
/// The servers here answer `{}`, which is no table: what matters is what was sent, so a
/// decode error counts as sent.
async fn upload(client: &Client, content: Vec<u8>) -> Result<(), Error> {
    let body = types::TableFileUpload {
        file: FilePart::new(content, "file", "application/octet-stream"),
        ..Default::default()
    };
    match client.warehouse_tables_file_create("1", &body).await {
        Ok(_) | Err(Error::Decode { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Bytes of `multipart/form-data` overhead around one file part called `file`, measured on the
/// wire.
async fn multipart_overhead(server: &Server, client: &Client) -> usize {
    let before = server.requests().len();
    upload(client, b"x".to_vec()).await.expect("sent");
    server.requests()[before].body.len() - 1
}

#[tokio::test]
async fn the_multipart_size_check_counts_every_byte_on_the_wire() {
    let server = Server::ok().await;
    // Body placement adds a part; the header placement keeps the body exactly the caller's.
    let client = client(&server, Credentials::personal_api_key(KEY));
    let overhead = multipart_overhead(&server, &client).await;
    assert!(overhead > 100, "{overhead}");
    // Exactly at the limit on the wire: sent, and the server counts the same bytes.
    let fits = "x".repeat(MAX_BODY_BYTES - overhead);
    upload(&client, fits.into_bytes())
        .await
        .expect("exactly at the limit is sent");
    assert_eq!(
        server.requests().last().map(|r| r.body.len()),
        Some(MAX_BODY_BYTES)
    );
    // One byte over: refused unsent, although the part itself is under the limit.
    let requests = server.requests().len();
    let over = "x".repeat(MAX_BODY_BYTES - overhead + 1);
    let error = upload(&client, over.into_bytes())
        .await
        .expect_err("refused");
    match error {
        Error::RequestTooLarge { size, limit, .. } => {
            assert_eq!((size, limit), (MAX_BODY_BYTES + 1, MAX_BODY_BYTES));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), requests);
}

/// A `200` whose gzip body inflates to `inflated` bytes of JSON.
fn gzip_bomb(inflated: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = encoder.write_all(b"[");
    let chunk = "0,".repeat(64 * 1024);
    let mut written = 1;
    while written + chunk.len() < inflated {
        let _ = encoder.write_all(chunk.as_bytes());
        written += chunk.len();
    }
    let _ = encoder.write_all(b"0]");
    encoder.finish().unwrap_or_default()
}

#[tokio::test]
async fn answers_over_the_size_cap_are_refused_counting_inflated_bytes() {
    const CAP: usize = 1024 * 1024;
    let bomb = Arc::new(gzip_bomb(8 * CAP));
    assert!(
        bomb.len() < CAP / 8,
        "the compressed body is small: {}",
        bomb.len()
    );
    let served = bomb.clone();
    let server = Server::start(move |request: &Captured| {
        let status = if request.path.contains("error") {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CONTENT_ENCODING, "gzip")
            .body(axum::body::Body::from(served.as_ref().clone()))
            .expect("response")
    })
    .await;
    let client = builder(server.url(), Credentials::personal_api_key(KEY))
        .max_response_bytes(CAP)
        .build()
        .expect("client");
    for path in ["/api/things/", "/api/error/"] {
        let error = client
            .request(Method::GET, path)
            .send_json::<Vec<u8>>()
            .await
            // Only the length, should it decode: the test must not print megabytes.
            .map(|items| items.len())
            .expect_err("over the cap");
        match &error {
            Error::ResponseTooLarge { limit, .. } => assert_eq!(*limit, CAP),
            other => panic!("{path}: {other:?}"),
        }
        assert!(error.to_string().contains("max_response_bytes"), "{error}");
    }
    let error = client
        .operation(&LIST)
        .send_text()
        .await
        .map(|text| text.len())
        .expect_err("over the cap");
    assert!(matches!(error, Error::ResponseTooLarge { .. }), "{error:?}");

    // Under the cap, the same answer decodes.
    let roomy = builder(server.url(), Credentials::personal_api_key(KEY))
        .max_response_bytes(16 * CAP)
        .build()
        .expect("client");
    let items = roomy
        .operation(&LIST)
        .send_json::<Vec<u8>>()
        .await
        .expect("fits");
    assert!(items.len() > 4 * 1024 * 1024 / 2 - 1);
}

#[tokio::test]
async fn plain_list_answers_lose_echoed_query_credentials() {
    const TOKEN: &str = "phc_ProjectTokenEchoed";
    // Django REST framework's `next`: the request's URL with `offset` advanced.
    let server = Server::start(|request: &Captured| {
        let next = format!(
            "http://testserver{}?{}&offset=1",
            request.path,
            request.query.as_deref().unwrap_or("")
        );
        json_response(
            StatusCode::OK,
            &json!({"count": 2, "next": next, "previous": null, "results": []}).to_string(),
        )
    })
    .await;
    let client = builder(server.url(), query_keyed())
        .project_token(TOKEN)
        .build()
        .expect("client");
    let list = client
        .domains_list("org1", &Default::default())
        .await
        .expect("a page");
    let next = list.next.expect("a next link");
    assert!(!next.contains(KEY) && !next.contains(TOKEN), "{next}");
    assert!(
        next.ends_with("/api/organizations/org1/domains/?offset=1"),
        "{next}"
    );
    // The request itself carried both.
    let sent = server.single();
    assert_eq!(sent.query_values("personal_api_key"), vec![KEY.to_owned()]);
    assert_eq!(sent.query_values("token"), vec![TOKEN.to_owned()]);
}

#[tokio::test]
async fn multipart_bodies_round_trip_through_a_standard_parser() {
    type Parts = Arc<std::sync::Mutex<Vec<(String, Option<String>, Vec<u8>)>>>;
    let parts: Parts = Arc::default();
    let seen = parts.clone();
    let app = axum::Router::new().route(
        "/api/projects/1/warehouse_tables/file/",
        axum::routing::post(move |mut form: axum::extract::Multipart| {
            let seen = seen.clone();
            async move {
                while let Ok(Some(field)) = form.next_field().await {
                    let name = field.name().unwrap_or_default().to_owned();
                    let file = field.file_name().map(str::to_owned);
                    let bytes = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                    if let Ok(mut seen) = seen.lock() {
                        seen.push((name, file, bytes));
                    }
                }
                axum::Json(json!({}))
            }
        }),
    );
    let client = builder(
        wire::serve(app).await,
        Credentials::builder()
            .personal_api_key(KEY)
            .placement(KeyPlacement::Body)
            .build(),
    )
    .build()
    .expect("client");
    let content = "line\r\n--posthog-api-0000\r\n\r\nend";
    let body = types::TableFileUpload {
        file: FilePart::new(content, "people.csv", "text/csv"),
        name: Some("ü \"quoted\"".into()),
        format: None,
    };
    client
        .warehouse_tables_file_create("1", &body)
        .await
        .expect_err("`{}` is no table");
    let mut parts = parts.lock().map(|p| p.clone()).unwrap_or_default();
    parts.sort();
    assert_eq!(
        parts,
        vec![
            (
                "file".to_owned(),
                Some("people.csv".to_owned()),
                content.as_bytes().to_vec()
            ),
            ("name".to_owned(), None, "ü \"quoted\"".as_bytes().to_vec()),
            ("personal_api_key".to_owned(), None, KEY.as_bytes().to_vec()),
        ]
    );
}
