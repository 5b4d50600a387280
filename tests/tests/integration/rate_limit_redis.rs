//! The Redis-shared budget against a real `redis-server` and a fake PostHog that enforces the
//! windows: four OS processes sharing one key draw no 429 and use at least 95% of the budget, a
//! Redis restart follows the configured policy, credentials get their own budgets, and Redis keys
//! never hold the key.
//!
//! Redis comes from `POSTHOG_API_TEST_REDIS_URL` (`.ci/run` starts one); when that is set and
//! Redis does not answer, the tests fail. Unset, each test starts its own `redis-server` from
//! PATH, and fails with instructions if there is none (README, "Testing with Redis").

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use posthog_api::rate_limit::{RateLimiter, RedisStore, ScopeLimit, StoreFailure};
use posthog_api::retry::RetryPolicy;
use posthog_api::server::ServerRateLimiter;
use posthog_api::server::fake::{FAKE_PERSONAL_API_KEY, FakePostHog, RunningFake};
use posthog_api::{Client, Credentials, Error, Region};
use tokio::time::Instant;

use crate::wire;

/// The budget the multi-process test shares: 60 requests per 2 s.
const SHARED: &[ScopeLimit] = &[ScopeLimit {
    scope: "burst",
    requests: 60,
    period: Duration::from_secs(2),
}];

const WORKER_ENV: &str = "POSTHOG_API_TEST_REDIS_WORKER";
const URL_ENV: &str = "POSTHOG_API_TEST_REDIS_URL";

/// A `redis-server` this test started; killed on drop.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start_on(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "these tests need Redis: set {URL_ENV}=redis://127.0.0.1:PORT/ or put \
                     `redis-server` on PATH (apt-get install redis-server); see README, \
                     \"Testing with Redis\" ({error})"
                )
            });
        OwnRedis { child, port }
    }

    fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("a free port");
        Self::start_on(port)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Redis to use, and the server this test started if it had to.
async fn redis() -> (String, Option<OwnRedis>) {
    let (url, own) = match std::env::var(URL_ENV) {
        Ok(url) => (url, None),
        Err(_) => {
            let own = OwnRedis::start();
            (own.url(), Some(own))
        }
    };
    wait_for_redis(&url).await;
    (url, own)
}

/// PINGs until Redis answers; fails after 5 s naming the URL's variable.
async fn wait_for_redis(url: &str) {
    let client = redis::Client::open(url).expect("a Redis URL");
    let started = std::time::Instant::now();
    loop {
        let answer: Result<String, _> = match client.get_multiplexed_async_connection().await {
            Ok(mut connection) => redis::cmd("PING").query_async(&mut connection).await,
            Err(error) => Err(error),
        };
        match answer {
            Ok(_) => return,
            Err(error) if started.elapsed() > Duration::from_secs(5) => {
                panic!(
                    "Redis at {url} ({URL_ENV} or our own redis-server) does not answer: {error}"
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn keys(url: &str, pattern: &str) -> Vec<String> {
    let client = redis::Client::open(url).expect("a Redis URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut connection)
        .await
        .expect("KEYS")
}

/// A prefix no other test or run shares.
fn unique_prefix(test: &str) -> String {
    format!(
        "posthog-api-test:{test}:{}:{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

fn limiter(url: &str, prefix: &str, limits: &[ScopeLimit], policy: StoreFailure) -> RateLimiter {
    let store = RedisStore::builder(url)
        .key_prefix(prefix)
        .timeout(Duration::from_millis(300))
        .build()
        .expect("store");
    RateLimiter::builder()
        .limits(limits)
        // Generous: the first burst opens connections in four cold debug-build processes on a
        // busy machine, so its requests reach the server up to a few hundred ms apart.
        .margin(Duration::from_millis(250))
        .shared_store(Arc::new(store))
        .on_store_failure(policy)
        .build()
}

fn client(base: &url::Url, key: &str, limiter: RateLimiter) -> Client {
    Client::builder(Region::SelfHosted(base.clone()))
        .credentials(Credentials::personal_api_key(key))
        .rate_limiter(limiter)
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("client")
}

async fn me(client: &Client) -> Result<posthog_api::types::User, Error> {
    client.users_retrieve("@me").await
}

async fn throttling_fake(limits: &[ScopeLimit]) -> (RunningFake, ServerRateLimiter) {
    let server = ServerRateLimiter::new(limits);
    let fake = FakePostHog::default()
        .key("phx_second_personal_api_key", &["*"])
        .rate_limit(server.clone())
        .serve()
        .await
        .expect("fake");
    (fake, server)
}

/// The worker role of `four_processes_share_one_budget_through_redis`: a no-op unless the
/// parent started this binary with the worker variables set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_process_role() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        return;
    };
    let mut parts = spec.splitn(4, ' ');
    let (Some(base), Some(url), Some(prefix), Some(millis)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        panic!("{WORKER_ENV}: expected `BASE_URL REDIS_URL PREFIX MILLIS`, got {spec:?}");
    };
    let base = url::Url::parse(base).expect("base URL");
    let until = Instant::now() + Duration::from_millis(millis.parse().expect("millis"));
    let limiter = limiter(url, prefix, SHARED, StoreFailure::FailRequest);
    let client = Arc::new(client(&base, FAKE_PERSONAL_API_KEY, limiter));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = Arc::clone(&client);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                if let Err(error) = me(&client).await {
                    panic!("worker request failed: {error}");
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("worker task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_share_one_budget_through_redis() {
    if std::env::var(WORKER_ENV).is_ok() {
        return;
    }
    let (url, _own) = redis().await;
    let (fake, server) = throttling_fake(SHARED).await;
    let prefix = unique_prefix("four");
    let run = Duration::from_secs(6);
    let exe = std::env::current_exe().expect("the test binary");
    let started = std::time::Instant::now();
    let mut children = Vec::new();
    for _ in 0..4 {
        let child = Command::new(&exe)
            .args([
                "--exact",
                &wire::test_name(module_path!(), "worker_process_role"),
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                WORKER_ENV,
                format!("{} {url} {prefix} {}", fake.base_url(), run.as_millis()),
            )
            .stdout(Stdio::null())
            .spawn()
            .expect("a worker process");
        children.push(child);
    }
    let mut failed = 0;
    for mut child in children {
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("join")
            .expect("wait");
        if !status.success() {
            failed += 1;
        }
    }
    let took = started.elapsed();
    let stats = server.stats();
    assert_eq!(
        failed, 0,
        "workers failed (their stderr is above); {stats:?}"
    );
    assert_eq!(stats.refused, 0, "429s at the server: {stats:?}");
    // 60 per 2 s over the 6 s run; workers start a little apart, so count the windows the run
    // could fill.
    let budget = 60 * (run.as_secs() / 2);
    assert!(
        stats.admitted * 100 >= budget * 95,
        "{} of {budget} admitted in {took:?}",
        stats.admitted
    );
    // Keys hold a hash of the credential, never the key, and expire with their window.
    for key in keys(&url, &format!("{prefix}:*")).await {
        assert!(!key.contains("phx_"), "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_follows_the_configured_policy() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    wait_for_redis(&url).await;
    let limits = [ScopeLimit {
        scope: "burst",
        requests: 1_000,
        period: Duration::from_secs(60),
    }];
    let (fake, server) = throttling_fake(&limits).await;
    let prefix = unique_prefix("restart");
    let strict = client(
        fake.base_url(),
        FAKE_PERSONAL_API_KEY,
        limiter(&url, &prefix, &limits, StoreFailure::FailRequest),
    );
    let lenient = client(
        fake.base_url(),
        FAKE_PERSONAL_API_KEY,
        limiter(&url, &prefix, &limits, StoreFailure::UseLocal),
    );
    me(&strict).await.expect("through Redis");
    me(&lenient).await.expect("through Redis");
    assert_eq!(keys(&url, &format!("{prefix}:*")).await.len(), 1);

    redis.stop();
    let admitted = server.stats().admitted;
    match me(&strict).await {
        Err(Error::RateLimitStore(error)) => {
            assert_eq!(error.store, "redis");
            assert!(error.to_string().contains("unavailable"), "{error}");
        }
        other => panic!("FailRequest must fail while Redis is down: {other:?}"),
    }
    assert_eq!(
        server.stats().admitted,
        admitted,
        "the failed request was not sent"
    );
    me(&lenient).await.expect("UseLocal keeps sending");
    assert_eq!(server.stats().admitted, admitted + 1);

    // Back on the same port (empty, as after a restart without persistence): both use Redis
    // again once the connection manager reconnects.
    let redis = OwnRedis::start_on(redis.port);
    wait_for_redis(&url).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match me(&strict).await {
            Ok(_) => break,
            Err(Error::RateLimitStore(_)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("strict client after the restart: {error}"),
        }
    }
    me(&lenient)
        .await
        .expect("lenient client after the restart");
    assert_eq!(
        keys(&url, &format!("{prefix}:*")).await.len(),
        1,
        "the budget lives in the restarted Redis again"
    );
    assert_eq!(server.stats().refused, 0);
    drop(redis);
}

#[test]
fn a_store_builds_outside_a_runtime() {
    // Building connects nothing (the first acquire does), so it needs no Tokio runtime; a bad
    // URL is the one thing it refuses.
    assert!(RedisStore::new("redis://127.0.0.1:1/").is_ok());
    let error = RedisStore::new("not a url").expect_err("a bad URL");
    assert_eq!(error.store, "redis");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_change_gets_its_own_budget_in_redis() {
    let (url, _own) = redis().await;
    let limits = [ScopeLimit {
        scope: "burst",
        requests: 5,
        period: Duration::from_secs(60),
    }];
    let (fake, server) = throttling_fake(&limits).await;
    let prefix = unique_prefix("credentials");
    let first = client(
        fake.base_url(),
        FAKE_PERSONAL_API_KEY,
        limiter(&url, &prefix, &limits, StoreFailure::FailRequest),
    );
    let second = client(
        fake.base_url(),
        "phx_second_personal_api_key",
        limiter(&url, &prefix, &limits, StoreFailure::FailRequest),
    );
    let started = std::time::Instant::now();
    for _ in 0..5 {
        me(&first).await.expect("first key");
    }
    for _ in 0..5 {
        me(&second).await.expect("second key");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "neither key waited"
    );
    // The first key's sixth must wait a minute: check the store's verdict without waiting.
    let sixth = tokio::time::timeout(Duration::from_millis(500), me(&first)).await;
    assert!(sixth.is_err(), "the first key's budget is spent");
    let keys = keys(&url, &format!("{prefix}:*")).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in &keys {
        assert!(!key.contains("phx_"), "{key}");
        // TTLs: nothing outlives its window (60 s + the margin).
    }
    let client = redis::Client::open(url.as_str()).expect("URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    for key in &keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .expect("PTTL");
        assert!(ttl > 0 && ttl <= 60_250, "{key}: {ttl} ms");
    }
    assert_eq!(server.stats().refused, 0);
    assert_eq!(server.stats().admitted, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_builder_shares_the_default_budget_through_redis() {
    let (url, _own) = redis().await;
    let key = format!("phx_{}", uuid::Uuid::new_v4().simple());
    let fake = FakePostHog::default()
        .key(&key, &["*"])
        .serve()
        .await
        .expect("fake");
    let store = RedisStore::new(&url).expect("store");
    let client = Client::builder(Region::SelfHosted(fake.base_url().clone()))
        .credentials(Credentials::personal_api_key(key.as_str()))
        .shared_rate_limit(Arc::new(store))
        .build()
        .expect("client");
    me(&client).await.expect("through Redis");
    let bucket = Credentials::personal_api_key(key.as_str()).bucket_id();
    let mut found = keys(&url, &format!("posthog-api:rl:{{{bucket:016x}}}:*")).await;
    found.sort();
    assert_eq!(
        found,
        [
            format!("posthog-api:rl:{{{bucket:016x}}}:burst"),
            format!("posthog-api:rl:{{{bucket:016x}}}:sustained"),
        ],
        "PostHog's default pair, keyed by the credential's hash"
    );
}
