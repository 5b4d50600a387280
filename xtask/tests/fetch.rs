//! `fetch-schema` over real HTTP on 127.0.0.1 (a tiny server in a thread serving JSON, YAML, a
//! key-protected schema, a 401, an HTML login page, a truncated body, a slow answer), from
//! `file://` URLs and plain paths, and the pin noticing a changed schema. Every test uses a
//! temporary directory as the workspace root, so the real pin is never touched.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use xtask::changelog::Schema;
use xtask::fetch_schema::{FetchSchemaArgs, Format, fetch_and_pin, fetch_and_pin_with_key};
use xtask::pin::{self, PIN_PATH, Pin};
use xtask::schema_file::SchemaFile;

/// What the server saw of a request.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    authorization: Option<String>,
}

/// Serves `count` connections on 127.0.0.1, answering each with the raw bytes `answer` returns,
/// then stops. Returns the base URL and the requests seen.
fn serve<F>(count: usize, answer: F) -> anyhow::Result<(String, mpsc::Receiver<Seen>)>
where
    F: Fn(&Seen) -> Vec<u8> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..count {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            let mut authorization = None;
            loop {
                let mut header = String::new();
                match reader.read_line(&mut header) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if header.trim().is_empty() => break,
                    Ok(_) => {
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("authorization")
                        {
                            authorization = Some(value.trim().to_owned());
                        }
                    }
                }
            }
            let seen = Seen {
                target,
                authorization,
            };
            let bytes = answer(&seen);
            let _ = tx.send(seen);
            let mut stream = &stream;
            let _ = stream.write_all(&bytes);
            let _ = stream.flush();
        }
    });
    Ok((base, rx))
}

fn http(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn shared(name: &str) -> PathBuf {
    xtask::workspace_root().join("../shared/schemas").join(name)
}

fn read_shared(name: &str) -> anyhow::Result<Vec<u8>> {
    Ok(std::fs::read(shared(name))?)
}

fn args(url: &str) -> FetchSchemaArgs {
    FetchSchemaArgs::new(url)
}

fn error_text(result: anyhow::Result<impl std::fmt::Debug>) -> String {
    match result {
        Ok(value) => format!("unexpected success: {value:?}"),
        Err(error) => format!("{error:#}"),
    }
}

const SMALL_YAML: &str = "openapi: 3.0.3\ninfo: {title: small, version: '1'}\npaths:\n  /api/a/:\n    get:\n      responses:\n        '200': {description: ok}\n";

#[test]
fn fetches_yaml_from_an_instance_url() -> anyhow::Result<()> {
    let body = read_shared("posthog-2023-11.yaml")?;
    let served = body.clone();
    let (base, seen) = serve(1, move |_| {
        http("200 OK", "application/vnd.oai.openapi", &served)
    })?;
    let root = tempfile::tempdir()?;
    let outcome = fetch_and_pin(root.path(), &args(&base))?;

    let request = seen.recv_timeout(Duration::from_secs(5))?;
    assert_eq!(
        request.target, "/api/schema/",
        "YAML is the default: no format query"
    );
    assert_eq!(request.authorization, None);
    assert_eq!(outcome.pin.source, format!("{base}/api/schema/"));
    assert_eq!(outcome.pin.operations, 332);
    assert_eq!(outcome.pin.sha256, pin::sha256_hex(&body));
    assert!(outcome.pin.fetched_at.is_some());
    assert!(outcome.previous.is_none());

    // The pin on disk is what was returned, and the canonical copy is in the cache.
    assert_eq!(Pin::load(root.path().join(PIN_PATH))?, outcome.pin);
    let cached = pin::cached_schema(root.path(), &outcome.pin.sha256);
    assert_eq!(cached.as_deref(), Some(outcome.canonical.as_slice()));
    assert!(outcome.canonical.starts_with(b"{\n"));
    assert!(outcome.canonical.ends_with(b"}\n"));
    Ok(())
}

#[test]
fn fetches_json_with_the_format_query() -> anyhow::Result<()> {
    let body = read_shared("posthog-2025.json")?;
    let served = body.clone();
    let (base, seen) = serve(1, move |request| {
        if request.target.ends_with("?format=json") {
            http("200 OK", "application/vnd.oai.openapi+json", &served)
        } else {
            http(
                "200 OK",
                "application/vnd.oai.openapi",
                b"openapi: 3.0.3\npaths: {}\n",
            )
        }
    })?;
    let root = tempfile::tempdir()?;
    let out = root.path().join("posthog.json");
    let mut fetch = args(&format!("{base}/api/schema/"));
    fetch.format = Format::Json;
    fetch.out = Some(out.clone());
    let outcome = fetch_and_pin(root.path(), &fetch)?;

    assert_eq!(
        seen.recv_timeout(Duration::from_secs(5))?.target,
        "/api/schema/?format=json"
    );
    assert_eq!(outcome.pin.operations, 772);
    assert_eq!(outcome.pin.sha256, pin::sha256_hex(&body));
    assert_eq!(std::fs::read(&out)?, outcome.canonical);
    Ok(())
}

#[test]
fn yaml_and_json_are_stored_in_the_same_canonical_form() -> anyhow::Result<()> {
    let json = serde_json::to_vec(&SchemaFile::parse(SMALL_YAML.as_bytes(), "yaml")?.value)?;
    let (base, _seen) = serve(2, move |request| {
        if request.target.contains("format=json") {
            http("200 OK", "application/json", &json)
        } else {
            http("200 OK", "application/yaml", SMALL_YAML.as_bytes())
        }
    })?;
    let (yaml_root, json_root) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let from_yaml = fetch_and_pin(yaml_root.path(), &args(&base))?;
    let mut json_args = args(&base);
    json_args.format = Format::Json;
    let from_json = fetch_and_pin(json_root.path(), &json_args)?;
    assert_eq!(from_yaml.canonical, from_json.canonical);
    // The pins differ only in what identifies the source bytes.
    assert_ne!(from_yaml.pin.sha256, from_json.pin.sha256);
    assert_eq!(from_yaml.pin.operations, 1);
    Ok(())
}

fn key_protected(count: usize) -> anyhow::Result<String> {
    let (base, _seen) = serve(count, |request| {
        if request.authorization.as_deref() == Some("Bearer phx_test_key") {
            http("200 OK", "application/yaml", SMALL_YAML.as_bytes())
        } else {
            let body = br#"{"type":"authentication_error","code":"not_authenticated","detail":"Authentication credentials were not provided.","attr":null}"#;
            http("401 Unauthorized", "application/json", body)
        }
    })?;
    Ok(base)
}

#[test]
fn sends_the_personal_api_key_as_a_bearer_token() -> anyhow::Result<()> {
    let base = key_protected(1)?;
    let root = tempfile::tempdir()?;
    let outcome = fetch_and_pin_with_key(root.path(), &args(&base), Some("phx_test_key"))?;
    assert_eq!(outcome.pin.operations, 1);
    Ok(())
}

#[test]
fn a_401_without_a_key_says_how_to_pass_one() -> anyhow::Result<()> {
    let base = key_protected(1)?;
    let root = tempfile::tempdir()?;
    let error = error_text(fetch_and_pin_with_key(root.path(), &args(&base), None));
    assert!(error.contains("HTTP 401 Unauthorized"), "{error}");
    assert!(
        error.contains("Authentication credentials were not provided"),
        "{error}"
    );
    assert!(error.contains("--personal-api-key-env"), "{error}");
    assert!(
        !root.path().join(PIN_PATH).exists(),
        "nothing is written on failure"
    );
    Ok(())
}

#[test]
fn a_refused_key_is_never_printed() -> anyhow::Result<()> {
    let base = key_protected(1)?;
    let root = tempfile::tempdir()?;
    let secret = "phx_wrong_and_secret";
    let error = error_text(fetch_and_pin_with_key(
        root.path(),
        &args(&base),
        Some(secret),
    ));
    assert!(error.contains("401"), "{error}");
    assert!(error.contains("refused"), "{error}");
    assert!(!error.contains(secret), "{error}");
    Ok(())
}

#[test]
fn an_unset_key_variable_is_named_in_the_error() {
    let mut fetch = args("http://127.0.0.1:9/");
    fetch.personal_api_key_env = Some("XTASK_TEST_SURELY_UNSET_VARIABLE".into());
    let error = error_text(xtask::fetch_schema::personal_api_key(&fetch));
    assert!(
        error.contains("XTASK_TEST_SURELY_UNSET_VARIABLE"),
        "{error}"
    );
}

#[test]
fn an_html_login_page_is_refused() -> anyhow::Result<()> {
    let page = b"<!DOCTYPE html>\n<html><head><title>PostHog - Log in</title></head><body>...</body></html>";
    let (base, _seen) = serve(1, move |_| http("200 OK", "text/html; charset=utf-8", page))?;
    let root = tempfile::tempdir()?;
    let error = error_text(fetch_and_pin(root.path(), &args(&base)));
    assert!(error.contains("HTML page"), "{error}");
    assert!(error.contains("PostHog - Log in"), "{error}");
    assert!(error.contains("--personal-api-key-env"), "{error}");
    assert!(!root.path().join(PIN_PATH).exists());
    Ok(())
}

#[test]
fn a_truncated_body_is_refused() -> anyhow::Result<()> {
    let (base, _seen) = serve(1, |_| {
        let body = SMALL_YAML.as_bytes();
        let mut out = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/yaml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len() + 5000
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    })?;
    let root = tempfile::tempdir()?;
    let error = error_text(fetch_and_pin(root.path(), &args(&base)));
    assert!(error.contains("truncated"), "{error}");
    assert!(!root.path().join(PIN_PATH).exists());
    Ok(())
}

#[test]
fn content_that_is_not_openapi_is_refused() -> anyhow::Result<()> {
    let (base, _seen) = serve(2, |request| {
        if request.target.contains("format=json") {
            http(
                "200 OK",
                "application/json",
                br#"{"swagger": "2.0", "paths": {}}"#,
            )
        } else {
            http("200 OK", "application/json", br#"{"detail": "hello"}"#)
        }
    })?;
    let root = tempfile::tempdir()?;
    let error = error_text(fetch_and_pin(root.path(), &args(&base)));
    assert!(error.contains("not an OpenAPI schema"), "{error}");
    assert!(error.contains("detail"), "{error}");
    let mut swagger = args(&base);
    swagger.format = Format::Json;
    let error = error_text(fetch_and_pin(root.path(), &swagger));
    assert!(error.contains("Swagger 2.0"), "{error}");
    Ok(())
}

#[test]
fn a_server_error_shows_the_status_and_a_snippet() -> anyhow::Result<()> {
    let (base, _seen) = serve(1, |_| {
        http(
            "500 Internal Server Error",
            "text/plain",
            b"boom\n  at  line 3",
        )
    })?;
    let root = tempfile::tempdir()?;
    let error = error_text(fetch_and_pin(root.path(), &args(&base)));
    assert!(
        error.contains("HTTP 500 Internal Server Error: boom at line 3"),
        "{error}"
    );
    Ok(())
}

#[test]
fn a_silent_server_times_out() -> anyhow::Result<()> {
    let (base, _seen) = serve(1, |_| {
        std::thread::sleep(Duration::from_secs(3));
        http("200 OK", "application/yaml", SMALL_YAML.as_bytes())
    })?;
    let root = tempfile::tempdir()?;
    let mut fetch = args(&base);
    fetch.timeout = 1;
    let error = error_text(fetch_and_pin(root.path(), &fetch));
    assert!(error.contains("no answer within 1 s"), "{error}");
    Ok(())
}

#[test]
fn file_urls_and_plain_paths_read_the_same() -> anyhow::Result<()> {
    let path = shared("posthog-2023-02.yaml");
    let absolute = std::fs::canonicalize(&path)?;
    let url = format!("file://{}", absolute.display());
    let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let from_url = fetch_and_pin(a.path(), &args(&url))?;
    let from_path = fetch_and_pin(b.path(), &args(&absolute.display().to_string()))?;
    assert_eq!(from_url.pin, from_path.pin);
    assert_eq!(from_url.canonical, from_path.canonical);
    assert_eq!(from_url.pin.operations, 224);
    // A local file is identified by its hash alone, which keeps pins reproducible in CI.
    assert_eq!(from_url.pin.fetched_at, None);
    Ok(())
}

#[test]
fn a_source_inside_the_workspace_parent_is_pinned_relative_to_the_root() -> anyhow::Result<()> {
    let parent = tempfile::tempdir()?;
    let root = parent.path().join("main");
    std::fs::create_dir_all(root.join("schema"))?;
    let schema = parent.path().join("shared").join("small.yaml");
    write(&schema, SMALL_YAML)?;
    let outcome = fetch_and_pin(&root, &args(&schema.display().to_string()))?;
    assert_eq!(outcome.pin.source, "../shared/small.yaml");
    // With no --url, the next fetch takes the pin's source, relative to the root.
    let mut again = args("");
    again.url = None;
    let second = fetch_and_pin(&root, &again)?;
    assert!(!second.pin_written);
    assert!(!second.schema_changed());
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)?;
    Ok(())
}

#[test]
fn the_pin_detects_a_changed_file() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let schema = root.path().join("input.yaml");
    write(&schema, SMALL_YAML)?;
    let source = schema.display().to_string();

    let first = fetch_and_pin(root.path(), &args(&source))?;
    assert!(first.pin_written);
    let pin_bytes = std::fs::read(root.path().join(PIN_PATH))?;

    // The same bytes again: the pin is left alone, byte for byte.
    let same = fetch_and_pin(root.path(), &args(&source))?;
    assert!(!same.pin_written);
    assert!(!same.schema_changed());
    assert_eq!(std::fs::read(root.path().join(PIN_PATH))?, pin_bytes);

    // A new operation: the pin moves, and the previous schema is still there to diff against.
    let changed = format!(
        "{SMALL_YAML}  /api/b/:\n    post:\n      tags: [b]\n      responses:\n        '201': {{description: ok}}\n"
    );
    write(&schema, &changed)?;
    let after = fetch_and_pin(root.path(), &args(&source))?;
    assert!(after.pin_written);
    assert!(after.schema_changed());
    assert_eq!(after.pin.operations, 2);
    let previous = after
        .previous
        .ok_or_else(|| anyhow::anyhow!("the previous pin was not reported"))?;
    assert_eq!(previous.sha256, first.pin.sha256);

    let old_bytes = previous
        .schema_bytes(root.path())
        .ok_or_else(|| anyhow::anyhow!("the previous schema is not cached"))?;
    let comparison = xtask::changelog::compare(
        &Schema::new("old", old_bytes),
        &Schema::new("new", after.canonical.clone()),
        &[],
        &Default::default(),
    );
    let log = comparison
        .changelog()
        .ok_or_else(|| anyhow::anyhow!("{}", comparison.to_markdown()))?;
    assert!(log.operation("POST", "/api/b/").is_some());
    Ok(())
}
