//! A loopback HTTP server that records every request byte for byte, for the auth and error
//! tests to assert on what crossed the wire; the process-wide log capture (`logs`), a child
//! process for a test that must run alone (`alone`) and operations sent by hand (`ops`).

mod alone;
mod logs;
mod ops;

pub use alone::{run_alone, test_name};
pub use logs::{ThreadLogs, capture_logs, captured_logs};
pub use ops::{FLAGS_CREATE, FLAGS_LIST};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::Response;
use axum::serve::ListenerExt as _;
use http::{HeaderMap, Method, StatusCode};
use url::Url;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: Method,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Captured {
    /// The body parsed as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Every byte of the request the test can see, as text, for "the key appears exactly here" checks.
    pub fn all_text(&self) -> String {
        let headers: String = self
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())))
            .collect();
        format!(
            "{} {}?{}\n{headers}\n{}",
            self.method,
            self.path,
            self.query.as_deref().unwrap_or(""),
            String::from_utf8_lossy(&self.body)
        )
    }

    /// The path and query as sent.
    pub fn target(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        }
    }

    /// The values of query parameter `name`, decoded.
    pub fn query_values(&self, name: &str) -> Vec<String> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .collect()
    }
}

type Responder = Arc<dyn Fn(&Captured) -> Response + Send + Sync>;

/// A running capture server.
pub struct Server {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Captured>>>,
    connections: Arc<AtomicUsize>,
}

impl Server {
    /// Starts a server on 127.0.0.1 answering every request with `respond`.
    pub async fn start(respond: impl Fn(&Captured) -> Response + Send + Sync + 'static) -> Server {
        let respond: Responder = Arc::new(respond);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (listener, addr) = bind().await;
        let counter = connections.clone();
        let listener = listener.tap_io(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let log = requests.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let log = log.clone();
            let respond = respond.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                let captured = Captured {
                    method: parts.method,
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().map(str::to_owned),
                    headers: parts.headers,
                    body,
                };
                let response = respond(&captured);
                log.lock()
                    .expect("the request log is never poisoned")
                    .push(captured);
                response
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server {
            addr,
            requests,
            connections,
        }
    }

    /// A server answering `200 {}` to everything.
    pub async fn ok() -> Server {
        Server::start(|_| json_response(StatusCode::OK, "{}")).await
    }

    /// The base URL of this server.
    pub fn url(&self) -> Url {
        Url::parse(&format!("http://{}", self.addr)).expect("a socket address makes a URL")
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Captured> {
        self.requests
            .lock()
            .expect("the request log is never poisoned")
            .clone()
    }

    /// The only request received; fails the test otherwise.
    pub fn single(&self) -> Captured {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request, got {requests:#?}"
        );
        requests.into_iter().next().expect("length checked")
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Serves `app` on a fresh port of 127.0.0.1 for the rest of the test; its base URL.
pub async fn serve(app: axum::Router) -> Url {
    let (listener, addr) = bind().await;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Url::parse(&format!("http://{addr}")).expect("a socket address makes a URL")
}

/// A listener on a fresh port of 127.0.0.1, and its address.
async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    (listener, addr)
}

/// A response with a JSON content type.
pub fn json_response(status: StatusCode, body: &str) -> Response {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .expect("a static response is valid")
}

/// A redirect to `location`.
pub fn redirect(status: StatusCode, location: &str) -> Response {
    Response::builder()
        .status(status)
        .header(http::header::LOCATION, location)
        .body(Body::empty())
        .expect("a redirect with a valid location is a valid response")
}

/// Sends a raw request ([`posthog_api::Client::operation`], [`posthog_api::Client::request`])
/// and reads a success the way a generated method does, for tests that exercise the pipeline
/// with operations of their own.
#[allow(async_fn_in_trait)] // Only these tests call it.
pub trait SendAs {
    /// A success decoded as JSON into `T`; a non-success as its typed error.
    async fn send_json<T: serde::de::DeserializeOwned>(self) -> posthog_api::Result<T>;
    /// A success as UTF-8 text; a non-success as its typed error.
    async fn send_text(self) -> posthog_api::Result<String>;
    /// A success's bytes as they came; a non-success as its typed error.
    async fn send_bytes(self) -> posthog_api::Result<Vec<u8>>;
}

impl SendAs for posthog_api::request::RawRequest {
    async fn send_json<T: serde::de::DeserializeOwned>(self) -> posthog_api::Result<T> {
        self.send().await?.error_for_status()?.json()
    }

    async fn send_text(self) -> posthog_api::Result<String> {
        self.send().await?.error_for_status()?.text()
    }

    async fn send_bytes(self) -> posthog_api::Result<Vec<u8>> {
        Ok(self.send().await?.error_for_status()?.bytes().to_vec())
    }
}
