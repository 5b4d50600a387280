//! Limiter overhead: one `acquire` far from any limit, and 10,000 loopback requests with the
//! limiter on (limits never reached) versus off.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures::StreamExt as _;
use posthog_api::rate_limit::{RateLimiter, ScopeLimit};
use posthog_api::retry::RetryPolicy;
use posthog_api::{Client, Credentials, HostKind, Operation, Region};

static OP: Operation = Operation {
    id: "things_list",
    method: http::Method::GET,
    path: "/api/things/",
    tag: "things",
    scopes: &[],
    throttle_scopes: &["burst", "sustained"],
    host: HostKind::Private,
};

/// PostHog's default pair, raised so far that no request in the benchmark ever waits.
const FAR: &[ScopeLimit] = &[
    ScopeLimit {
        scope: "burst",
        requests: u32::MAX,
        period: Duration::from_secs(60),
    },
    ScopeLimit {
        scope: "sustained",
        requests: u32::MAX,
        period: Duration::from_secs(3600),
    },
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn acquire_overhead(c: &mut Criterion) {
    let rt = runtime();
    let limiter = rt.block_on(async { RateLimiter::builder().limits(FAR).build() });
    let disabled = RateLimiter::disabled();
    c.bench_function("acquire/two_scopes_far_from_limit", |b| {
        b.to_async(&rt)
            .iter(|| limiter.acquire(7, &["burst", "sustained"]))
    });
    c.bench_function("acquire/disabled", |b| {
        b.to_async(&rt)
            .iter(|| disabled.acquire(7, &["burst", "sustained"]))
    });
}

async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let app = axum::Router::new()
        .fallback(|| async { ([("content-type", "application/json")], r#"{"ok":true}"#) });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn client(base: &str, limiter: RateLimiter) -> Client {
    let region = Region::self_hosted(base).unwrap_or_else(|e| panic!("region: {e}"));
    Client::builder(region)
        .credentials(Credentials::personal_api_key("phx_bench_key"))
        .rate_limiter(limiter)
        .retry_policy(RetryPolicy::never())
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"))
}

async fn ten_thousand(client: Arc<Client>) {
    futures::stream::iter(0..10_000)
        .map(|_| {
            let client = Arc::clone(&client);
            async move {
                client
                    .__request(&OP, "/api/things/".into())
                    .send_json::<serde_json::Value>()
                    .await
            }
        })
        .buffer_unordered(32)
        .for_each(|answer| async move { assert!(answer.is_ok(), "{answer:?}") })
        .await;
}

fn loopback_throughput(c: &mut Criterion) {
    let rt = runtime();
    let base = rt.block_on(serve());
    let on =
        Arc::new(rt.block_on(async { client(&base, RateLimiter::builder().limits(FAR).build()) }));
    let off = Arc::new(client(&base, RateLimiter::disabled()));
    let mut group = c.benchmark_group("10k_loopback_requests");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("limiter_off", |b| {
        b.to_async(&rt).iter(|| ten_thousand(Arc::clone(&off)))
    });
    group.bench_function("limiter_on", |b| {
        b.to_async(&rt).iter(|| ten_thousand(Arc::clone(&on)))
    });
    group.finish();
}

criterion_group!(benches, acquire_overhead, loopback_throughput);
criterion_main!(benches);
