//! A `format: binary` member uploaded over HTTP on 127.0.0.1: a 5 MB file arrives byte-exact,
//! with its file name and content type, beside the body's text members.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use posthog_api::multipart::FilePart;
use posthog_api::rate_limit::RateLimiter;
use posthog_api::{Client, Credentials, Region, types};
use serde_json::json;

use crate::wire;

/// One part of a multipart body as received: its headers (lower-cased) and bytes.
#[derive(Debug)]
struct Part {
    headers: String,
    body: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|at| at + from)
}

/// Splits a `multipart/form-data` body (RFC 7578) into its parts.
fn parts(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("a boundary")
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let mut out = Vec::new();
    let mut at = find(body, &delimiter, 0).expect("first delimiter") + delimiter.len();
    while body.get(at..at + 2) == Some(b"\r\n") {
        let headers_end = find(body, b"\r\n\r\n", at).expect("part headers");
        let headers = String::from_utf8_lossy(&body[at + 2..headers_end]).to_lowercase();
        let start = headers_end + 4;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(&delimiter);
        let end = find(body, &closing, start).expect("next delimiter");
        out.push(Part {
            headers,
            body: body[start..end].to_vec(),
        });
        at = end + closing.len();
    }
    out
}

/// Serves `app` on a loopback port and returns a client of project 1 for it.
async fn serve(app: Router) -> Client {
    client_at(wire::serve(app).await)
}

fn client_at(base: url::Url) -> Client {
    Client::builder(Region::SelfHosted(base))
        .credentials(Credentials::personal_api_key("phx_test"))
        .project_id("1")
        .rate_limiter(RateLimiter::disabled())
        .build()
        .expect("client")
}

#[tokio::test]
async fn a_5_mb_file_arrives_byte_exact_with_name_and_content_type() {
    type Seen = Arc<Mutex<Vec<(String, Bytes)>>>;
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/api/projects/{project}/warehouse_tables/file/",
            post(
                |State(seen): State<Seen>, headers: HeaderMap, body: Bytes| async move {
                    let content_type = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    seen.lock().expect("lock").push((content_type, body));
                    (
                        axum::http::StatusCode::CREATED,
                        axum::Json(json!({"id": "0190e0a7-0000-7000-8000-000000000001", "name": "events_2025", "format": "CSVWithNames", "url_pattern": "https://bucket/managed/team_1/events_2025.csv", "credential": {}})),
                    )
                },
            ),
        )
        // axum buffers at most 2 MB by default; PostHog takes files up to 50 MB.
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(Arc::clone(&seen));
    let client = serve(app).await;

    // Every byte value, CRLFs and the boundary's dashes included, over 5 MB.
    let bytes: Vec<u8> = (0..5 * 1024 * 1024 + 17)
        .map(|i: usize| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect();
    let table = client
        .warehouse_tables_file_create(
            "1",
            &types::TableFileUpload {
                file: FilePart::new(bytes.clone(), "events 2025.csv", "text/csv"),
                name: Some("events_2025".into()),
                format: None,
            },
        )
        .await
        .expect("upload");
    assert_eq!(table.name, "events_2025");

    let seen = seen.lock().expect("lock");
    let (content_type, body) = &seen[0];
    assert!(
        content_type.starts_with("multipart/form-data"),
        "{content_type}"
    );
    let parts = parts(content_type, body);
    assert_eq!(parts.len(), 2, "{parts:?}");
    let name = parts
        .iter()
        .find(|p| p.headers.contains("name=\"name\""))
        .expect("the name part");
    assert_eq!(name.body, b"events_2025");
    let file = parts
        .iter()
        .find(|p| p.headers.contains("name=\"file\""))
        .expect("the file part");
    assert!(
        file.headers.contains("filename=\"events%202025.csv\"")
            || file.headers.contains("filename=\"events 2025.csv\""),
        "{}",
        file.headers
    );
    assert!(
        file.headers.contains("content-type: text/csv"),
        "{}",
        file.headers
    );
    assert_eq!(file.body.len(), bytes.len());
    assert!(file.body == bytes, "the file's bytes changed on the way");
}

#[tokio::test]
async fn an_invalid_content_type_fails_before_sending() {
    let client = Client::builder(Region::SelfHosted(
        url::Url::parse("http://127.0.0.1:9").expect("url"),
    ))
    .credentials(Credentials::personal_api_key("phx_test"))
    .project_id("1")
    .rate_limiter(RateLimiter::disabled())
    .build()
    .expect("client");
    let error = client
        .warehouse_tables_file_create(
            "1",
            &types::TableFileUpload {
                file: FilePart::new(b"x".to_vec(), "a.csv", "not a media type\r\nx: y"),
                ..Default::default()
            },
        )
        .await
        .expect_err("refused");
    assert!(
        matches!(error, posthog_api::Error::InvalidArgument { ref field, .. } if field == "file"),
        "{error:?}"
    );
}

/// Error tracking symbol sets (overlaid from PostHog's ErrorTrackingSymbolSetViewSet): `create`
/// sends the file as the `file` part with `chunk_id` in the query and decodes `{"ok": true}`;
/// `update` sends `minified` and `source_map` parts and takes the 204.
#[tokio::test]
async fn symbol_set_uploads_send_their_file_parts() {
    use axum::response::IntoResponse as _;
    let server = wire::Server::start(|request| match request.method {
        Method::POST => wire::json_response(StatusCode::CREATED, r#"{"ok": true}"#),
        Method::PUT => StatusCode::NO_CONTENT.into_response(),
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    })
    .await;
    let client = client_at(server.url());

    let data: Vec<u8> = b"posthog_error_tracking\x01\0\0\0\x02\0\0\0\r\n--".to_vec();
    let ok = client
        .environments_error_tracking_symbol_sets_create(
            "1",
            &posthog_api::api::environments::EnvironmentsErrorTrackingSymbolSetsCreateQuery {
                chunk_id: "chunk-1".into(),
                multipart: Some(true),
                ..Default::default()
            },
            &types::SymbolSetFileUpload {
                file: FilePart::new(data.clone(), "chunk-1", "application/octet-stream"),
            },
        )
        .await
        .expect("create");
    assert!(ok.ok);
    client
        .environments_error_tracking_symbol_sets_update(
            "1",
            "0197a0c2-7b1e-7000-8000-00000000abcd",
            &types::SymbolSetSourceMapUpload {
                minified: FilePart::new(b"function a(){}".to_vec(), "a.min.js", "text/javascript"),
                source_map: FilePart::new(
                    b"{\"version\":3}".to_vec(),
                    "a.min.js.map",
                    "application/json",
                ),
            },
        )
        .await
        .expect("update");

    let seen = server.requests();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    let content_type = |request: &wire::Captured| {
        request.headers["content-type"]
            .to_str()
            .expect("an ASCII content type")
            .to_owned()
    };
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(
        seen[0].target(),
        "/api/environments/1/error_tracking/symbol_sets/?chunk_id=chunk-1&multipart=true"
    );
    let create = parts(&content_type(&seen[0]), &seen[0].body);
    assert_eq!(create.len(), 1, "{create:?}");
    assert!(
        create[0].headers.contains("name=\"file\""),
        "{}",
        create[0].headers
    );
    assert!(
        create[0].headers.contains("filename=\"chunk-1\""),
        "{}",
        create[0].headers
    );
    assert_eq!(create[0].body, data);

    assert_eq!(seen[1].method, Method::PUT);
    assert_eq!(
        seen[1].target(),
        "/api/environments/1/error_tracking/symbol_sets/0197a0c2-7b1e-7000-8000-00000000abcd/"
    );
    let update = parts(&content_type(&seen[1]), &seen[1].body);
    let part = |name: &str| {
        update
            .iter()
            .find(|p| p.headers.contains(&format!("name=\"{name}\"")))
            .unwrap_or_else(|| panic!("the {name} part in {update:?}"))
    };
    assert_eq!(part("minified").body, b"function a(){}");
    assert!(
        part("minified")
            .headers
            .contains("content-type: text/javascript")
    );
    assert_eq!(part("source_map").body, b"{\"version\":3}");
    assert!(
        part("source_map")
            .headers
            .contains("filename=\"a.min.js.map\"")
    );
}
