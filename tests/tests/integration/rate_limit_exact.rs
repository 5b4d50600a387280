//! The exact limiter against a fake PostHog that enforces PostHog's sliding windows, on tokio's
//! paused clock: clients driving scopes continuously draw no 429 at the server and use at least
//! 99% of each window's budget (counted by the server, not the limiter), and a credential change
//! gets its own budget.

use std::sync::Arc;
use std::time::Duration;

use posthog_api::rate_limit::{RateLimiter, ScopeLimit};
use posthog_api::retry::RetryPolicy;
use posthog_api::server::ServerRateLimiter;
use posthog_api::server::fake::{FAKE_PERSONAL_API_KEY, FakePostHog, RunningFake};
use posthog_api::{Client, Credentials, Region};
use tokio::time::Instant;

const SECOND_KEY: &str = "phx_second_personal_api_key";

async fn fake(limits: &[ScopeLimit]) -> (RunningFake, ServerRateLimiter) {
    let server = ServerRateLimiter::new(limits);
    let fake = FakePostHog::default()
        .key(SECOND_KEY, &["*"])
        .rate_limit(server.clone())
        .serve()
        .await
        .expect("fake");
    (fake, server)
}

fn client(fake: &RunningFake, key: &str, limiter: &RateLimiter) -> Client {
    Client::builder(Region::SelfHosted(fake.base_url().clone()))
        .credentials(Credentials::personal_api_key(key))
        .rate_limiter(limiter.clone())
        // A 429 would fail the call instead of hiding behind a retry.
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("client")
}

/// Calls `users/@me` from `tasks` concurrent tasks until `until`, failing on any error.
async fn drive(client: Client, tasks: usize, until: Instant) {
    let client = Arc::new(client);
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let client = Arc::clone(&client);
        handles.push(tokio::spawn(async move {
            while Instant::now() < until {
                client
                    .users_retrieve("@me")
                    .await
                    .expect("no request fails, 429s included");
            }
        }));
    }
    for handle in handles {
        handle.await.expect("task");
    }
}

/// Samples the server's admitted count at every multiple of `period` for `windows` windows.
async fn admitted_per_window(
    server: ServerRateLimiter,
    start: Instant,
    period: Duration,
    windows: u32,
) -> Vec<u64> {
    let mut counts = Vec::new();
    let mut before = 0;
    for k in 1..=windows {
        tokio::time::sleep_until(start + period * k).await;
        let now = server.stats().admitted;
        counts.push(now - before);
        before = now;
    }
    counts
}

/// Drives one client with eight tasks for `windows` windows of `period` against a fake with
/// the same `limits`; returns what the server admitted per window, after checking it refused
/// nothing.
async fn run_continuously(limits: &[ScopeLimit], period: Duration, windows: u32) -> Vec<u64> {
    let (fake, server) = fake(limits).await;
    let limiter = RateLimiter::builder()
        .limits(limits)
        .margin(Duration::from_millis(1))
        .build();
    let start = Instant::now();
    let sampler = tokio::spawn(admitted_per_window(server.clone(), start, period, windows));
    drive(
        client(&fake, FAKE_PERSONAL_API_KEY, &limiter),
        8,
        start + period * windows,
    )
    .await;
    let counts = sampler.await.expect("sampler");
    assert_eq!(server.stats().refused, 0, "{:?}", server.stats());
    counts
}

#[tokio::test(start_paused = true)]
async fn one_scope_driven_continuously_gets_every_window_and_no_429() {
    let limits = [ScopeLimit {
        scope: "burst",
        requests: 60,
        period: Duration::from_secs(2),
    }];
    let counts = run_continuously(&limits, Duration::from_secs(2), 10).await;
    for (k, count) in counts.iter().enumerate() {
        assert!(
            *count >= 60 * 99 / 100,
            "window {k}: {count} of 60 ({counts:?})"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn burst_and_sustained_at_once_get_the_binding_budget_and_no_429() {
    let limits = [
        ScopeLimit {
            scope: "burst",
            requests: 30,
            period: Duration::from_secs(1),
        },
        ScopeLimit {
            scope: "sustained",
            requests: 100,
            period: Duration::from_secs(5),
        },
    ];
    let counts = run_continuously(&limits, Duration::from_secs(5), 6).await;
    // `sustained` binds: 100 per 5 s window, taken as 30 + 30 + 30 + 10 under `burst`.
    for (k, count) in counts.iter().enumerate() {
        assert!(*count >= 99, "window {k}: {count} of 100 ({counts:?})");
    }
}

#[tokio::test(start_paused = true)]
async fn the_default_limiter_without_margin_tuning_still_draws_no_429() {
    // PostHog's real limits and the default margin over two simulated minutes.
    let (fake, server) = fake(posthog_api::operations::THROTTLE_LIMITS).await;
    let limiter = RateLimiter::default();
    let start = Instant::now();
    drive(
        client(&fake, FAKE_PERSONAL_API_KEY, &limiter),
        16,
        start + Duration::from_secs(120),
    )
    .await;
    let stats = server.stats();
    assert_eq!(stats.refused, 0, "{stats:?}");
    // `burst` (480 a minute) binds over two minutes: 960, less the margin's 0.8%.
    assert!(stats.admitted >= 950, "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn a_credential_change_gets_its_own_budget() {
    let limits = [ScopeLimit {
        scope: "burst",
        requests: 20,
        period: Duration::from_secs(60),
    }];
    let (fake, server) = fake(&limits).await;
    // One limiter shared by both clients, as one application switching keys would.
    let limiter = RateLimiter::builder().limits(&limits).build();
    let first = client(&fake, FAKE_PERSONAL_API_KEY, &limiter);
    let second = client(&fake, SECOND_KEY, &limiter);
    let start = Instant::now();
    for _ in 0..20 {
        first.users_retrieve("@me").await.expect("first key");
    }
    for _ in 0..20 {
        second.users_retrieve("@me").await.expect("second key");
    }
    assert_eq!(start.elapsed(), Duration::ZERO, "neither key waited");
    first.users_retrieve("@me").await.expect("first key again");
    assert!(
        start.elapsed() >= Duration::from_secs(60),
        "the first key's 21st waited for its window: {:?}",
        start.elapsed()
    );
    assert_eq!(server.stats().refused, 0, "{:?}", server.stats());
    assert_eq!(server.stats().admitted, 41);
}
