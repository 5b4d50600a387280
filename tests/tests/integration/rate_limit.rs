//! The client-side rate limiter on tokio's paused clock: windows are never exceeded (checked on
//! recorded timestamps, not by trusting the limiter), clones share a budget, credentials do not,
//! overrides and the off switch work, and a shared store plugs in through its trait.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use posthog_api::rate_limit::{Acquire, RateLimiter, ScopeLimit, SharedStore, StoreError};
use tokio::time::Instant;

const LIMITS: &[ScopeLimit] = &[
    ScopeLimit {
        scope: "fast",
        requests: 100,
        period: Duration::from_secs(1),
    },
    ScopeLimit {
        scope: "pair_burst",
        requests: 40,
        period: Duration::from_secs(2),
    },
    ScopeLimit {
        scope: "pair_sustained",
        requests: 400,
        period: Duration::from_secs(60),
    },
    ScopeLimit {
        scope: "slow",
        requests: 7,
        period: Duration::from_secs(3),
    },
];

/// Scope sets the requests cycle through, like operations that share PostHog's default pair.
const SETS: &[&[&str]] = &[
    &["fast"],
    &["pair_burst", "pair_sustained"],
    &["fast", "pair_burst", "pair_sustained"],
    &["slow", "fast"],
    &["unknown_scope"],
];

/// Checks that no window of `period` holds more than `requests` of the recorded timestamps,
/// using PostHog's rule: a request is counted in `(t - period, t]`.
fn assert_windows(scope: &str, limit: &ScopeLimit, mut times: Vec<Duration>) {
    times.sort_unstable();
    let n = limit.requests as usize;
    for i in n..times.len() {
        let span = times[i] - times[i - n];
        assert!(
            span >= limit.period,
            "scope {scope}: requests {} and {i} are {span:?} apart, so {} fit in {:?}",
            i - n,
            n + 1,
            limit.period
        );
    }
}

/// 20 tasks of 500 requests cycling through `SETS`, as clones of one client would send them;
/// returns each request's set and when it was let through.
async fn drive_sets(limiter: &RateLimiter) -> Vec<(usize, Duration)> {
    let start = Instant::now();
    let log: Arc<Mutex<Vec<(usize, Duration)>>> = Arc::default();
    let mut tasks = Vec::new();
    for task in 0..20usize {
        let limiter = limiter.clone();
        let log = Arc::clone(&log);
        tasks.push(tokio::spawn(async move {
            for i in 0..500usize {
                let set = (task * 7 + i * 3) % SETS.len();
                limiter.acquire(1, SETS[set]).await.expect("acquire");
                let at = start.elapsed();
                log.lock().map(|mut log| log.push((set, at))).ok();
            }
        }));
    }
    for task in tasks {
        assert!(task.await.is_ok());
    }
    let log = log.lock().map(|log| log.clone()).unwrap_or_default();
    assert_eq!(log.len(), 10_000);
    log
}

/// When the requests under `scope` were let through.
fn times_of(log: &[(usize, Duration)], scope: &str) -> Vec<Duration> {
    log.iter()
        .filter(|(set, _)| SETS[*set].contains(&scope))
        .map(|(_, at)| *at)
        .collect()
}

/// Checks every scope's windows on the recorded times.
fn assert_all_windows(log: &[(usize, Duration)]) {
    for limit in LIMITS {
        assert_windows(limit.scope, limit, times_of(log, limit.scope));
    }
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_requests_never_exceed_any_window() {
    for fraction in [0.1, 0.5, 1.0] {
        let limiter = RateLimiter::builder()
            .limits(LIMITS)
            .burst_fraction(fraction)
            .margin(Duration::ZERO)
            .build();
        let start = Instant::now();
        let log = drive_sets(&limiter).await;
        for limit in LIMITS {
            let count = times_of(&log, limit.scope).len();
            assert!(count > 1000, "{}: {count}", limit.scope);
        }
        assert_all_windows(&log);
        // The limiter does not over-wait: the run takes about what the busiest scope needs once
        // its burst is spent (burst, then one request per interval), not more.
        let mut needed = Duration::ZERO;
        for limit in LIMITS {
            let count = times_of(&log, limit.scope).len() as u32;
            let burst = ((f64::from(limit.requests) * fraction) as u32).clamp(1, limit.requests);
            let interval = limit.period / (limit.requests - burst + 1);
            needed = needed.max(interval * count.saturating_sub(burst));
        }
        let took = start.elapsed();
        assert!(
            took <= needed + needed / 10 + Duration::from_secs(1),
            "{fraction}: took {took:?}, needed {needed:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_exact_limiter_never_exceeds_any_window_and_wastes_none() {
    let limiter = RateLimiter::builder()
        .limits(LIMITS)
        .margin(Duration::ZERO)
        .build();
    let start = Instant::now();
    let log = drive_sets(&limiter).await;
    assert_all_windows(&log);
    // The run is no longer than the busiest scope needs when it sends its whole budget every
    // period: `ceil(count / requests) - 1` periods.
    let mut needed = Duration::ZERO;
    for limit in LIMITS {
        let count = times_of(&log, limit.scope).len() as u32;
        needed = needed.max(limit.period * (count.div_ceil(limit.requests) - 1));
    }
    assert!(
        start.elapsed() <= needed + needed / 20,
        "took {:?}, needed {needed:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn two_clones_share_one_budget() {
    let limiter = RateLimiter::builder()
        .limits(&[ScopeLimit {
            scope: "s",
            requests: 10,
            period: Duration::from_secs(60),
        }])
        .burst_fraction(1.0)
        .build();
    let other = limiter.clone();
    let start = Instant::now();
    for _ in 0..5 {
        limiter.acquire(42, &["s"]).await.expect("acquire");
        other.acquire(42, &["s"]).await.expect("acquire");
    }
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "the first ten fit in the burst"
    );
    other.acquire(42, &["s"]).await.expect("acquire");
    assert!(
        start.elapsed() >= Duration::from_secs(60),
        "the eleventh waited: {:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn two_credentials_do_not_share() {
    let limiter = RateLimiter::builder()
        .limits(&[ScopeLimit {
            scope: "s",
            requests: 10,
            period: Duration::from_secs(60),
        }])
        .burst_fraction(1.0)
        .build();
    let start = Instant::now();
    for _ in 0..10 {
        limiter.acquire(1, &["s"]).await.expect("acquire");
    }
    for _ in 0..10 {
        limiter.acquire(2, &["s"]).await.expect("acquire");
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    limiter.acquire(2, &["s"]).await.expect("acquire");
    assert!(start.elapsed() >= Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn a_request_waits_for_all_its_scopes() {
    let limiter = RateLimiter::builder()
        .limits(&[
            ScopeLimit {
                scope: "roomy",
                requests: 1000,
                period: Duration::from_secs(1),
            },
            ScopeLimit {
                scope: "tight",
                requests: 2,
                period: Duration::from_secs(10),
            },
        ])
        .burst_fraction(1.0)
        .build();
    let start = Instant::now();
    limiter
        .acquire(1, &["roomy", "tight"])
        .await
        .expect("acquire");
    limiter
        .acquire(1, &["roomy", "tight"])
        .await
        .expect("acquire");
    limiter
        .acquire(1, &["roomy", "tight"])
        .await
        .expect("acquire");
    assert!(
        start.elapsed() >= Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    // `roomy` alone is still free: waiting on `tight` did not hold it.
    let before = Instant::now();
    limiter.acquire(1, &["roomy"]).await.expect("acquire");
    assert_eq!(before.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn raised_limit_overrides_the_default() {
    let base = [ScopeLimit {
        scope: "query",
        requests: 120,
        period: Duration::from_secs(3600),
    }];
    let default = RateLimiter::builder()
        .limits(&base)
        .burst_fraction(1.0)
        .build();
    let raised = RateLimiter::builder()
        .limits(&base)
        .limit("query", 1200, Duration::from_secs(3600))
        .burst_fraction(1.0)
        .build();
    let start = Instant::now();
    for _ in 0..1200 {
        raised.acquire(1, &["query"]).await.expect("acquire");
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    for _ in 0..121 {
        default.acquire(1, &["query"]).await.expect("acquire");
    }
    assert!(start.elapsed() >= Duration::from_secs(3600));
}

#[tokio::test(start_paused = true)]
async fn off_switch_and_unknown_scopes_never_wait() {
    let start = Instant::now();
    let off = RateLimiter::disabled();
    assert!(!off.is_enabled());
    for _ in 0..10_000 {
        off.acquire(1, &["burst"]).await.expect("acquire");
    }
    let unlimited = RateLimiter::builder()
        .limits(&[ScopeLimit {
            scope: "s",
            requests: 1,
            period: Duration::from_secs(60),
        }])
        .unlimited("s")
        .build();
    for _ in 0..100 {
        unlimited
            .acquire(1, &["s", "never_declared"])
            .await
            .expect("acquire");
    }
    // Default uses the generated THROTTLE_LIMITS, so it is enabled whatever they hold.
    assert!(RateLimiter::default().is_enabled());
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// A stand-in for a store shared by several processes: counts per (credential, scope) and
/// refuses, all or nothing, past a fixed budget, as a Redis script would.
#[derive(Debug, Default)]
struct CountingStore {
    taken: Mutex<BTreeMap<(u64, &'static str), u32>>,
    calls: AtomicU32,
}

impl SharedStore for CountingStore {
    fn try_acquire<'a>(
        &'a self,
        credential: u64,
        limits: &'a [ScopeLimit],
    ) -> Pin<Box<dyn Future<Output = Result<Acquire, StoreError>> + Send + 'a>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let Ok(mut taken) = self.taken.lock() else {
                return Ok(Acquire::Taken);
            };
            if limits.iter().any(|limit| {
                taken.get(&(credential, limit.scope)).copied().unwrap_or(0) >= limit.requests
            }) {
                // Pretend the window rolls over after a second.
                taken.clear();
                return Ok(Acquire::Wait(Duration::from_secs(1)));
            }
            for limit in limits {
                *taken.entry((credential, limit.scope)).or_default() += 1;
            }
            Ok(Acquire::Taken)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_shared_store_plugs_in_through_its_trait() {
    let store = Arc::new(CountingStore::default());
    let three = [ScopeLimit {
        scope: "s",
        requests: 3,
        period: Duration::from_secs(1),
    }];
    let first = RateLimiter::builder()
        .limits(&three)
        .shared_store(store.clone())
        .build();
    let second = RateLimiter::builder()
        .limits(&three)
        .shared_store(store.clone())
        .build();
    let start = Instant::now();
    for _ in 0..3 {
        first.acquire(9, &["s"]).await.expect("acquire");
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    // Another "process" using the same store sees the spent budget and waits.
    second.acquire(9, &["s"]).await.expect("acquire");
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(store.calls.load(Ordering::Relaxed), 5);
    // Scopes without a known limit never reach the store.
    second.acquire(9, &["unknown"]).await.expect("acquire");
    assert_eq!(store.calls.load(Ordering::Relaxed), 5);
}

#[test]
fn bucket_ids_are_stable_across_processes_and_releases() {
    use posthog_api::Credentials;
    // SHA-256 over a domain tag and length-prefixed parts, computed independently (Python's
    // hashlib): the same in every build, unlike `DefaultHasher`.
    assert_eq!(
        Credentials::personal_api_key("phx_stable_key").bucket_id(),
        0x770e_36ec_4d1e_3a98
    );
    assert_eq!(
        Credentials::basic("alice", "pw").bucket_id(),
        0x7bae_1a3a_0205_03c1
    );
    assert_eq!(Credentials::none().bucket_id(), 0x5fb9_1865_f592_6d5e);
    // The id names the credential alone, not where it travels.
    assert_eq!(
        Credentials::builder()
            .personal_api_key("phx_stable_key")
            .placement(posthog_api::KeyPlacement::Query)
            .build()
            .bucket_id(),
        0x770e_36ec_4d1e_3a98
    );
}

/// A store that is always down, counting how often it is asked.
#[derive(Debug, Default)]
struct DownStore {
    calls: AtomicU32,
}

impl SharedStore for DownStore {
    fn try_acquire<'a>(
        &'a self,
        _: u64,
        _: &'a [ScopeLimit],
    ) -> Pin<Box<dyn Future<Output = Result<Acquire, StoreError>> + Send + 'a>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::Relaxed);
            Err(StoreError {
                store: "down",
                source: "connection refused".into(),
            })
        })
    }
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_store_is_asked_once_a_second_and_the_policy_applies() {
    use posthog_api::rate_limit::StoreFailure;
    let limits = [ScopeLimit {
        scope: "s",
        requests: 5,
        period: Duration::from_secs(60),
    }];
    let store = Arc::new(DownStore::default());
    let lenient = RateLimiter::builder()
        .limits(&limits)
        .margin(Duration::ZERO)
        .shared_store(store.clone())
        .build();
    let start = Instant::now();
    // UseLocal (the default): the in-process limiter takes over, with the same limits.
    for _ in 0..5 {
        lenient.acquire(1, &["s"]).await.expect("falls back");
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(
        store.calls.load(Ordering::Relaxed),
        1,
        "asked once, then left alone"
    );
    lenient.acquire(1, &["s"]).await.expect("falls back");
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(60),
        "the local window applies"
    );
    assert_eq!(store.calls.load(Ordering::Relaxed), 1);
    lenient.acquire(1, &["s"]).await.expect("falls back");
    assert_eq!(
        store.calls.load(Ordering::Relaxed),
        2,
        "asked again a second later"
    );

    let strict = RateLimiter::builder()
        .limits(&limits)
        .shared_store(store.clone())
        .on_store_failure(StoreFailure::FailRequest)
        .build();
    let error = strict.acquire(1, &["s"]).await.expect_err("FailRequest");
    let posthog_api::Error::RateLimitStore(error) = error else {
        panic!("{error:?}");
    };
    assert_eq!(error.store, "down");
    assert_eq!(
        error.to_string(),
        "the shared rate-limit store (down) is unavailable: connection refused"
    );
    assert!(
        strict.acquire(1, &["s"]).await.is_err(),
        "still down, not asked"
    );
    assert_eq!(store.calls.load(Ordering::Relaxed), 3);
}

#[tokio::test(start_paused = true)]
async fn debug_output_stays_short_whatever_was_sent() {
    let limiter = RateLimiter::builder().limits(LIMITS).build();
    for credential in 0..1_000 {
        limiter
            .acquire(credential, &["fast"])
            .await
            .expect("acquire");
    }
    let debug = format!("{limiter:?}");
    assert!(debug.len() < 300, "{debug}");
    assert!(debug.contains("fast"), "{debug}");
}
