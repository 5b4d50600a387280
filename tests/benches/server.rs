//! Requests per second of the fake PostHog through the generated router against a hand-written
//! axum handler doing the same work for the same route (`GET .../feature_flags/{id}/`: find the
//! Bearer key, check it, look the flag up, encode it as JSON). Measured two ways: in process
//! (the router called as a tower service, so only server code is timed) and over loopback HTTP
//! with 16 requests in flight.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt as _;
use posthog_api::server::fake::{FAKE_PERSONAL_API_KEY, FakePostHog};
use posthog_api::server::{RunningServer, ServerError};
use posthog_api::types::FeatureFlag;
use tower::ServiceExt as _;

const PATH: &str = "/api/projects/1/feature_flags/7/";
const BATCH: u64 = 2_000;
const IN_FLIGHT: usize = 16;

/// The hand-written server: the same route and the same work, without the generated layers.
struct HandWritten {
    keys: HashSet<String>,
    flags: RwLock<BTreeMap<i64, FeatureFlag>>,
}

async fn retrieve(
    State(state): State<Arc<HandWritten>>,
    Path((project_id, id)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Response {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !key.is_some_and(|key| state.keys.contains(key)) {
        return ServerError::not_authenticated().into_response();
    }
    if project_id != "1" {
        return ServerError::not_found().into_response();
    }
    let flag = state
        .flags
        .read()
        .ok()
        .and_then(|flags| flags.get(&id).cloned());
    match flag {
        Some(flag) => axum::Json(flag).into_response(),
        None => ServerError::not_found().into_response(),
    }
}

fn hand_written() -> Router {
    let flags = (1..=200)
        .map(|i| {
            (
                i,
                FeatureFlag {
                    id: Some(i),
                    key: format!("flag-{i}"),
                    active: Some(true),
                    ..Default::default()
                },
            )
        })
        .collect();
    let state = Arc::new(HandWritten {
        keys: HashSet::from([FAKE_PERSONAL_API_KEY.to_owned()]),
        flags: RwLock::new(flags),
    });
    Router::new()
        .route(
            "/api/projects/{project_id}/feature_flags/{id}/",
            get(retrieve),
        )
        .with_state(state)
}

fn generated() -> Router {
    FakePostHog::default()
        .feature_flags(200)
        .persons(0)
        .routes()
        .into_router()
}

fn request() -> Request<Body> {
    Request::get(PATH)
        .header("authorization", format!("Bearer {FAKE_PERSONAL_API_KEY}"))
        .body(Body::empty())
        .unwrap_or_default()
}

/// `BATCH` requests straight into the router, `IN_FLIGHT` at a time.
async fn in_process(router: &Router) -> Duration {
    let started = Instant::now();
    futures::stream::iter(0..BATCH)
        .for_each_concurrent(IN_FLIGHT, |_| async {
            let response = router.clone().oneshot(request()).await;
            assert!(response.is_ok_and(|r| r.status() == StatusCode::OK));
        })
        .await;
    started.elapsed()
}

/// `BATCH` requests over loopback HTTP, `IN_FLIGHT` at a time.
async fn over_http(http: &reqwest::Client, url: &str) -> Duration {
    let started = Instant::now();
    futures::stream::iter(0..BATCH)
        .for_each_concurrent(IN_FLIGHT, |_| async {
            let response = http
                .get(url)
                .bearer_auth(FAKE_PERSONAL_API_KEY)
                .send()
                .await;
            let ok = match response {
                Ok(response) => {
                    response.status() == StatusCode::OK && response.bytes().await.is_ok()
                }
                Err(_) => false,
            };
            assert!(ok);
        })
        .await;
    started.elapsed()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let routers = [("generated", generated()), ("hand_written", hand_written())];

    let mut group = c.benchmark_group("server_in_process");
    group.throughput(Throughput::Elements(BATCH));
    for (name, router) in &routers {
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter_custom(|iterations| async move {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    total += in_process(router).await;
                }
                total
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("server_loopback");
    group.throughput(Throughput::Elements(BATCH));
    for (name, router) in &routers {
        let server: RunningServer = runtime
            .block_on(RunningServer::start(router.clone(), "127.0.0.1:0"))
            .expect("bind");
        let url = format!(
            "{}{}",
            server.base_url().as_str().trim_end_matches('/'),
            &PATH
        );
        let http = reqwest::Client::new();
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        total += over_http(&http, &url).await;
                    }
                    total
                }
            });
        });
        drop(server);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
