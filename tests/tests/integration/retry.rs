//! Retries over real HTTP on 127.0.0.1 with tokio's paused clock: `Retry-After` in seconds and as
//! an HTTP date, never shortened, the maximum beyond which it is handed back, the throttled error that finally escapes, POST only when opted in, the
//! attempt limit and time budget, exponential backoff in a 5xx storm, and the tracing events.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use posthog_api::rate_limit::RateLimiter;
use posthog_api::retry::{Jitter, RetryPolicy};
use posthog_api::{Client, Credentials, Error, Operation, Region};
use tokio::time::Instant;

use crate::wire::{self, SendAs as _};

static GET_OP: Operation = Operation::private(
    "things_retrieve",
    http::Method::GET,
    "/api/things/",
    "things",
    &[],
    &[],
);

static POST_OP: Operation = Operation::private(
    "things_create",
    http::Method::POST,
    "/api/things/",
    "things",
    &[],
    &[],
);

/// One scripted answer: status and an optional `Retry-After` value.
#[derive(Clone)]
struct Answer(u16, Option<String>);

/// The loopback server's script and what it saw.
#[derive(Default)]
struct Server {
    /// Answers in order; the last one repeats forever.
    script: Mutex<VecDeque<Answer>>,
    /// Method and paused-clock time of every request.
    seen: Mutex<Vec<(Method, Duration)>>,
    start: Mutex<Option<Instant>>,
}

async fn handle(State(server): State<Arc<Server>>, method: Method) -> Response {
    let now = server
        .start
        .lock()
        .ok()
        .and_then(|start| *start)
        .map(|s| s.elapsed())
        .unwrap_or_default();
    if let Ok(mut seen) = server.seen.lock() {
        seen.push((method, now));
    }
    let answer = match server.script.lock() {
        Ok(mut script) if script.len() > 1 => script.pop_front(),
        Ok(script) => script.front().cloned(),
        Err(_) => None,
    };
    let Some(Answer(status, retry_after)) = answer else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert("retry-after", value);
    }
    let body = if status.is_success() {
        r#"{"ok":true}"#.to_owned()
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        r#"{"type":"throttled","code":"throttled","detail":"Request was throttled."}"#.to_owned()
    } else {
        r#"{"type":"server_error","code":"error","detail":"boom"}"#.to_owned()
    };
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    (status, headers, body).into_response()
}

/// Starts the server on 127.0.0.1 in this (paused-clock) runtime, so its timestamps are on the
/// same clock as the client's waits.
async fn serve(script: Vec<Answer>) -> (Arc<Server>, String) {
    let server = Arc::new(Server::default());
    if let Ok(mut s) = server.script.lock() {
        s.extend(script);
    }
    if let Ok(mut start) = server.start.lock() {
        *start = Some(Instant::now());
    }
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&server));
    let base = wire::serve(app).await;
    (server, base.into())
}

fn client(base: &str, policy: RetryPolicy) -> Client {
    // No idle pool and no timeout: their timers would let the paused clock jump while a
    // request waits for the loopback socket.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0);
    let region = Region::self_hosted(base).unwrap_or_else(|e| panic!("region: {e}"));
    Client::builder(region)
        .credentials(Credentials::personal_api_key("phx_retry_test_key"))
        .http_client_builder(http)
        .no_timeout()
        .rate_limiter(RateLimiter::disabled())
        .retry_policy(policy)
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"))
}

fn seen(server: &Server) -> Vec<(Method, Duration)> {
    server.seen.lock().map(|s| s.clone()).unwrap_or_default()
}

fn gaps(server: &Server) -> Vec<Duration> {
    let times: Vec<Duration> = seen(server).into_iter().map(|(_, at)| at).collect();
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

async fn get(client: &Client) -> posthog_api::Result<serde_json::Value> {
    client.operation(&GET_OP).send_json().await
}

async fn post(client: &Client) -> posthog_api::Result<serde_json::Value> {
    client
        .operation(&POST_OP)
        .json(&serde_json::json!({"name": "x"}))
        .send_json()
        .await
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_waits_then_succeeds() {
    let capture = wire::ThreadLogs::start();
    let (server, base) = serve(vec![Answer(429, Some("3".into())), Answer(200, None)]).await;
    let client = client(&base, RetryPolicy::default());
    let answer = get(&client).await;
    assert_eq!(answer.ok(), Some(serde_json::json!({"ok": true})));
    let gaps = gaps(&server);
    assert_eq!(gaps.len(), 1);
    assert!(
        gaps[0] >= Duration::from_secs(3) && gaps[0] < Duration::from_millis(3100),
        "{gaps:?}"
    );
    let retries = capture.lines("retrying PostHog request");
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert!(retries[0].contains("delay_ms=3000"), "{retries:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_http_date_is_honoured() {
    // The date is on the wall clock, as a server's would be; 5 s ahead, truncated to the second.
    let date = (chrono::Utc::now() + chrono::TimeDelta::seconds(5))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let (server, base) = serve(vec![Answer(429, Some(date)), Answer(200, None)]).await;
    let client = client(&base, RetryPolicy::default());
    assert!(get(&client).await.is_ok());
    let gaps = gaps(&server);
    assert_eq!(gaps.len(), 1);
    assert!(
        gaps[0] > Duration::from_secs(3) && gaps[0] <= Duration::from_millis(5100),
        "{gaps:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_never_shortened_by_max_delay() {
    // `max_delay` bounds backoff only: the server's 120 s are waited out in full.
    let (server, base) = serve(vec![Answer(429, Some("120".into())), Answer(200, None)]).await;
    let policy = RetryPolicy::default()
        .delays(Duration::from_millis(100), Duration::from_secs(10))
        .max_retry_after(Duration::from_secs(180))
        .max_elapsed(Duration::from_secs(300));
    let client = client(&base, policy);
    assert!(get(&client).await.is_ok());
    let gaps = gaps(&server);
    assert_eq!(gaps.len(), 1);
    assert!(
        gaps[0] >= Duration::from_secs(120) && gaps[0] < Duration::from_millis(120_100),
        "{gaps:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_5xx_retry_after_is_waited_out_instead_of_backoff() {
    let (server, base) = serve(vec![Answer(503, Some("7".into())), Answer(200, None)]).await;
    let client = client(&base, RetryPolicy::default());
    assert!(get(&client).await.is_ok());
    let gaps = gaps(&server);
    assert!(
        gaps.len() == 1 && gaps[0] >= Duration::from_secs(7),
        "{gaps:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_over_the_maximum_returns_throttled_at_once() {
    let capture = wire::ThreadLogs::start();
    // Default policy: waits out at most 60 s, so 120 s is handed back instead of shortened.
    let (server, base) = serve(vec![Answer(429, Some("120".into())), Answer(200, None)]).await;
    let throttled = client(&base, RetryPolicy::default());
    let started = Instant::now();
    match get(&throttled).await {
        Err(Error::Throttled(error)) => {
            assert_eq!(error.retry_after, Some(Duration::from_secs(120)));
        }
        other => panic!("expected Error::Throttled, got {other:?}"),
    }
    assert_eq!(
        seen(&server).len(),
        1,
        "no request before the server allows"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "returned at once"
    );
    let gave_up = capture.lines("not retrying PostHog request");
    assert!(
        gave_up.len() == 1 && gave_up[0].contains("reason=RetryAfterTooLong"),
        "{gave_up:?}"
    );
    // Within the maximum but past the time budget: also at once, never early.
    let (server, base) = serve(vec![Answer(429, Some("50".into())), Answer(200, None)]).await;
    let policy = RetryPolicy::default().max_elapsed(Duration::from_secs(40));
    let client = client(&base, policy);
    assert!(matches!(get(&client).await, Err(Error::Throttled(_))));
    assert_eq!(seen(&server).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_last_429_escapes_as_throttled_with_retry_after() {
    let (server, base) = serve(vec![Answer(429, Some("2".into()))]).await;
    let client = client(&base, RetryPolicy::default().max_attempts(3));
    match get(&client).await {
        Err(Error::Throttled(error)) => {
            assert_eq!(error.retry_after, Some(Duration::from_secs(2)));
            assert_eq!(error.body.kind.as_deref(), Some("throttled"));
        }
        other => panic!("expected Error::Throttled, got {other:?}"),
    }
    assert_eq!(seen(&server).len(), 3);
}

#[tokio::test(start_paused = true)]
async fn post_is_not_retried_unless_opted_in() {
    let (server, base) = serve(vec![Answer(503, None), Answer(200, None)]).await;
    let default = client(&base, RetryPolicy::default());
    assert!(matches!(post(&default).await, Err(Error::Server(_))));
    assert_eq!(seen(&server).len(), 1, "a POST is sent once by default");

    let (server, base) = serve(vec![Answer(503, None), Answer(200, None)]).await;
    let opted_in = client(&base, RetryPolicy::default().retry_non_idempotent(true));
    assert!(post(&opted_in).await.is_ok());
    let methods: Vec<Method> = seen(&server).into_iter().map(|(m, _)| m).collect();
    assert_eq!(methods, vec![Method::POST, Method::POST]);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_attempt_limit() {
    let capture = wire::ThreadLogs::start();
    let (server, base) = serve(vec![Answer(500, None)]).await;
    let client = client(
        &base,
        RetryPolicy::default()
            .max_attempts(4)
            .max_elapsed(Duration::from_secs(600)),
    );
    assert!(matches!(get(&client).await, Err(Error::Server(_))));
    assert_eq!(seen(&server).len(), 4);
    assert_eq!(capture.lines("retrying PostHog request").len(), 3);
    let gave_up = capture.lines("not retrying PostHog request");
    assert!(
        gave_up.len() == 1 && gave_up[0].contains("reason=Attempts"),
        "{gave_up:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_5xx_storm_backs_off_exponentially() {
    let (server, base) = serve(vec![Answer(503, None)]).await;
    let base_delay = Duration::from_millis(100);
    let policy = RetryPolicy::default()
        .max_attempts(7)
        .max_elapsed(Duration::from_secs(600))
        .delays(base_delay, Duration::from_secs(60))
        .jitter(Jitter::Equal);
    let client = client(&base, policy);
    assert!(matches!(get(&client).await, Err(Error::Server(_))));
    let gaps = gaps(&server);
    assert_eq!(gaps.len(), 6);
    for (k, gap) in gaps.iter().enumerate() {
        let exponential = base_delay * (1 << k);
        // Equal jitter: between half the exponential delay and all of it (plus loopback time).
        assert!(
            *gap >= exponential / 2 && *gap <= exponential + Duration::from_millis(50),
            "retry {k}: {gap:?} vs {exponential:?} ({gaps:?})"
        );
    }
    // Growth overall: the last wait is at least 2^4 times the first possible one.
    assert!(gaps[5] >= gaps[0] * 2, "{gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn the_time_budget_stops_retries() {
    let (server, base) = serve(vec![Answer(502, None)]).await;
    let policy = RetryPolicy::default()
        .max_attempts(10)
        .max_elapsed(Duration::from_secs(1))
        .delays(Duration::from_millis(400), Duration::from_secs(10))
        .jitter(Jitter::None);
    let client = client(&base, policy);
    assert!(matches!(get(&client).await, Err(Error::Server(_))));
    // Waits of 400 ms then 800 ms: the second would end past the 1 s budget.
    assert_eq!(seen(&server).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn connection_failures_are_retried_for_idempotent_requests() {
    let capture = wire::ThreadLogs::start();
    // A port that was just free: nothing listens there, so every connection is refused.
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    drop(listener);
    let client = client(
        &format!("http://{addr}"),
        RetryPolicy::default().max_attempts(3),
    );
    assert!(matches!(get(&client).await, Err(Error::Transport { .. })));
    let retries = capture.lines("retrying PostHog request");
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert!(
        retries.iter().all(|l| l.contains("Connection")),
        "{retries:?}"
    );
}
