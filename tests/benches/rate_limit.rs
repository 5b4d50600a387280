//! Rate limiting, measured against a fake PostHog that enforces PostHog's sliding windows.
//!
//! First a report (printed, not timed): an export driving `burst` + `sustained` continuously for
//! three simulated hours on tokio's paused clock (admitted per hour), with no limiter (retries honouring `Retry-After`
//! only), GCRA at a burst fraction of 0.2, and the exact limiter: requests the server admitted
//! against the budget, and its 429s. Then the same with four limiters sharing one key through
//! Redis (real time, scaled to 60 requests per 2 s, since Redis's clock cannot be paused; four
//! limiters with nothing in common but Redis behave as four processes do). Then criterion
//! timings: one `acquire` far from any limit (exact, GCRA, off), a Redis round trip per acquire,
//! and 10,000 loopback requests with the limiter on versus off.
//!
//! Redis comes from `POSTHOG_API_TEST_REDIS_URL`, or a `redis-server` on PATH started here; with
//! neither, the Redis parts are skipped with a message.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures::StreamExt as _;
use posthog_api::rate_limit::{RateLimiter, RedisStore, ScopeLimit, StoreFailure};
use posthog_api::retry::RetryPolicy;
use posthog_api::server::ServerRateLimiter;
use posthog_api::server::fake::{FAKE_PERSONAL_API_KEY, FakePostHog};
use posthog_api::{Client, Credentials, Operation, Region};

static OP: Operation = Operation::private(
    "things_list",
    http::Method::GET,
    "/api/things/",
    "things",
    &[],
    &["burst", "sustained"],
);

/// PostHog's default pair, raised so far that no request in the benchmark ever waits. The short
/// periods keep the exact limiter's logs small however many iterations criterion runs.
const FAR: &[ScopeLimit] = &[
    ScopeLimit {
        scope: "burst",
        requests: u32::MAX,
        period: Duration::from_millis(10),
    },
    ScopeLimit {
        scope: "sustained",
        requests: u32::MAX,
        period: Duration::from_millis(20),
    },
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// A `redis-server` started for the benchmark; killed on drop.
struct OwnRedis(Child);

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Redis URL to use, starting a server if needed; `None` (with a message) if there is none.
fn redis_url() -> Option<(String, Option<OwnRedis>)> {
    if let Ok(url) = std::env::var("POSTHOG_API_TEST_REDIS_URL") {
        return Some((url, None));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .ok()?;
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn();
    match child {
        Ok(child) => {
            std::thread::sleep(Duration::from_millis(300));
            Some((format!("redis://127.0.0.1:{port}/"), Some(OwnRedis(child))))
        }
        Err(error) => {
            eprintln!("redis benchmarks skipped: no POSTHOG_API_TEST_REDIS_URL and {error}");
            None
        }
    }
}

/// What the server saw in one run.
struct Outcome {
    admitted: u64,
    refused: u64,
    /// Admitted per window of the binding scope.
    windows: Vec<u64>,
}

/// Drives `users/@me` from `clients` (four tasks each) until `run` has passed, sampling the server's
/// admitted count at every multiple of `window`.
async fn export(
    clients: Vec<Client>,
    server: &ServerRateLimiter,
    run: Duration,
    window: Duration,
) -> Outcome {
    let start = tokio::time::Instant::now();
    let until = start + run;
    let sampler = {
        let server = server.clone();
        tokio::spawn(async move {
            let mut windows = Vec::new();
            let mut before = 0;
            let mut k = 1;
            while window * k <= run {
                tokio::time::sleep_until(start + window * k).await;
                let now = server.stats().admitted;
                windows.push(now - before);
                before = now;
                k += 1;
            }
            windows
        })
    };
    let mut tasks = Vec::new();
    for client in clients {
        let client = Arc::new(client);
        for _ in 0..4 {
            let client = Arc::clone(&client);
            tasks.push(tokio::spawn(async move {
                while tokio::time::Instant::now() < until {
                    // Errors (retries exhausted on 429s) are counted by the server; keep going.
                    let _ = client.users_retrieve("@me").await;
                }
            }));
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    let windows = sampler.await.unwrap_or_default();
    let stats = server.stats();
    Outcome {
        admitted: stats.admitted,
        refused: stats.refused,
        windows,
    }
}

fn client(base: &url::Url, limiter: RateLimiter) -> Client {
    Client::builder(Region::SelfHosted(base.clone()))
        .credentials(Credentials::personal_api_key(FAKE_PERSONAL_API_KEY))
        .rate_limiter(limiter)
        // Retries honour Retry-After: the only protection of the unlimited client.
        .retry_policy(RetryPolicy::default())
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"))
}

fn report(name: &str, outcome: &Outcome, budget_per_window: u64) {
    let full: Vec<u64> = outcome.windows.clone();
    let min = full.iter().copied().min().unwrap_or(0);
    let total: u64 = full.iter().sum();
    let budget = budget_per_window * full.len() as u64;
    println!(
        "rate_limit/export {name}: admitted {} (windows {:?}, min {:.3} of {budget_per_window}, \
         total {:.3} of {budget}), 429s {}",
        outcome.admitted,
        full,
        min as f64 / budget_per_window as f64,
        total as f64 / budget.max(1) as f64,
        outcome.refused
    );
}

/// Builds a fresh limiter inside the runtime that drives it.
type MakeLimiter = fn() -> RateLimiter;

/// Three simulated hours per limiter, in one process, on the paused clock: the first hour starts
/// with a full budget, the later ones show the steady state (where GCRA's spacing costs).
fn simulated_hours() {
    let hour = Duration::from_secs(3600);
    let strategies: [(&str, MakeLimiter); 3] = [
        (
            "in-process, no limiter (retries only)",
            RateLimiter::disabled,
        ),
        ("in-process, GCRA 0.2", || {
            RateLimiter::builder().burst_fraction(0.2).build()
        }),
        ("in-process, exact (default margin)", RateLimiter::default),
    ];
    for (name, limiter) in strategies {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let outcome = rt.block_on(async {
            let server = ServerRateLimiter::default();
            let fake = FakePostHog::default()
                .rate_limit(server.clone())
                .serve()
                .await
                .unwrap_or_else(|e| panic!("fake: {e}"));
            let clients = vec![client(fake.base_url(), limiter())];
            export(clients, &server, hour * 3, hour).await
        });
        // `sustained` (4,800 an hour) binds an hour-long export.
        report(name, &outcome, 4_800);
    }
}

/// Four limiters sharing one key through Redis, against one in-process exact limiter, in real
/// time with a budget of 60 per 2 s over 10 s.
fn four_through_redis(url: &str) {
    let limits = [ScopeLimit {
        scope: "burst",
        requests: 60,
        period: Duration::from_secs(2),
    }];
    let rt = runtime();
    for processes in [1usize, 4] {
        let outcome = rt.block_on(async {
            let server = ServerRateLimiter::new(&limits);
            let fake = FakePostHog::default()
                .rate_limit(server.clone())
                .serve()
                .await
                .unwrap_or_else(|e| panic!("fake: {e}"));
            let prefix = format!("posthog-api-bench:{}", uuid::Uuid::new_v4().simple());
            let clients = (0..processes)
                .map(|_| {
                    let store = RedisStore::builder(url)
                        .key_prefix(prefix.clone())
                        .build()
                        .unwrap_or_else(|e| panic!("store: {e}"));
                    let limiter = RateLimiter::builder()
                        .limits(&limits)
                        .margin(Duration::from_millis(100))
                        .shared_store(Arc::new(store))
                        .on_store_failure(StoreFailure::FailRequest)
                        .build();
                    client(fake.base_url(), limiter)
                })
                .collect();
            export(
                clients,
                &server,
                Duration::from_secs(10),
                Duration::from_secs(2),
            )
            .await
        });
        report(
            &format!("{processes} limiter(s) through Redis, exact (60 per 2 s, real time)"),
            &outcome,
            60,
        );
    }
}

fn exports(_: &mut Criterion) {
    simulated_hours();
    if let Some((url, _own)) = redis_url() {
        four_through_redis(&url);
    }
}

fn acquire_overhead(c: &mut Criterion) {
    let rt = runtime();
    let exact = rt.block_on(async { RateLimiter::builder().limits(FAR).build() });
    let gcra = rt.block_on(async {
        RateLimiter::builder()
            .limits(FAR)
            .burst_fraction(0.2)
            .build()
    });
    let disabled = RateLimiter::disabled();
    c.bench_function("acquire/two_scopes_far_from_limit", |b| {
        b.to_async(&rt)
            .iter(|| exact.acquire(7, &["burst", "sustained"]))
    });
    c.bench_function("acquire/gcra_two_scopes_far_from_limit", |b| {
        b.to_async(&rt)
            .iter(|| gcra.acquire(7, &["burst", "sustained"]))
    });
    c.bench_function("acquire/disabled", |b| {
        b.to_async(&rt)
            .iter(|| disabled.acquire(7, &["burst", "sustained"]))
    });
    if let Some((url, _own)) = redis_url() {
        let prefix = format!("posthog-api-bench:{}", uuid::Uuid::new_v4().simple());
        let store = RedisStore::builder(&url)
            .key_prefix(prefix)
            .build()
            .unwrap_or_else(|e| panic!("store: {e}"));
        let redis = rt.block_on(async {
            RateLimiter::builder()
                .limits(FAR)
                .shared_store(Arc::new(store))
                .on_store_failure(StoreFailure::FailRequest)
                .build()
        });
        c.bench_function("acquire/redis_round_trip_two_scopes", |b| {
            b.to_async(&rt)
                .iter(|| redis.acquire(7, &["burst", "sustained"]))
        });
    }
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

fn loopback_client(base: &str, limiter: RateLimiter) -> Client {
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
                let answer = client.operation(&OP).send().await?;
                answer.error_for_status()?.json::<serde_json::Value>()
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
        Arc::new(rt.block_on(async {
            loopback_client(&base, RateLimiter::builder().limits(FAR).build())
        }));
    let off = Arc::new(loopback_client(&base, RateLimiter::disabled()));
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

criterion_group!(benches, exports, acquire_overhead, loopback_throughput);
criterion_main!(benches);
