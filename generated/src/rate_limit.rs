//! Client-side rate limiting per PostHog throttle scope, so a client stays under the server's limits.
//!
//! PostHog counts requests per personal API key in sliding windows, one per throttle scope
//! (`burst` 480/minute, `clickhouse_sustained` 1200/hour, `query` 120/hour, ...). The limiter
//! mirrors that: one bucket per (credential, scope), shared by every clone, and a request waits
//! until every scope of its operation has room. Buckets are `governor` GCRA cells driven by
//! tokio's clock, so tests with a paused clock never really sleep.
//!
//! GCRA is a leaky bucket, not a sliding window: with a burst of `b` cells and one cell every
//! `T`, any window of length `T * m` admits at most `b + m - 1` requests. Each scope therefore
//! gets a burst of `requests * burst_fraction` and an emission interval of
//! `period / (requests - burst + 1)`, which keeps every window of `period` at or under
//! `requests` (the property `tests/tests/rate_limit.rs` checks on recorded timestamps). The price
//! is that long-run throughput is `requests - burst + 1` per period. The default fraction, 0.2,
//! keeps 80% of the server's budget for long jobs and still allows a burst of 96 of `burst`'s
//! 480 per minute; lower
//! [`RateLimiterBuilder::burst_fraction`] for long jobs, raise it for interactive bursts.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::Quota;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;

/// The budget of one throttle scope: `requests` per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeLimit {
    /// PostHog's scope name, e.g. `burst`, `clickhouse_sustained`, `query`.
    pub scope: &'static str,
    /// Requests allowed per period.
    pub requests: u32,
    /// The window.
    pub period: std::time::Duration,
}

/// A budget shared beyond this process (several workers, one PostHog key), e.g. in Redis.
///
/// [`SharedStore::try_acquire`] must be all or nothing: take one request from every scope's
/// budget for the credential, or take nothing and say how long to wait (a Redis Lua script does
/// this atomically). Taking some scopes and not others would count requests that were never
/// sent, or send requests some window did not count. Scopes the store has no limit for do not
/// limit. The in-process store stays the default because it costs no I/O.
pub trait SharedStore: Send + Sync + fmt::Debug {
    /// Takes one request from each of `scopes` for `credential` (a hash, never the key), or
    /// nothing and returns how long to wait before asking again.
    fn try_acquire<'a>(
        &'a self,
        credential: u64,
        scopes: &'a [&'static str],
    ) -> Pin<Box<dyn Future<Output = Result<(), Duration>> + Send + 'a>>;
}

/// tokio's clock as a governor clock: a paused test clock drives the buckets too.
#[derive(Debug, Clone)]
struct TokioClock {
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    // governor measures time from an origin; `Duration` since ours is its simplest `Reference`.
    type Instant = Duration;

    fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.origin)
    }
}

/// One scope's GCRA cells, one per credential, with a dry-run switch.
///
/// governor only offers "check and take"; a request with several scopes must first learn
/// whether all of them have room and only then take from each, or a full scope would make it
/// burn budget in the others. Plugging this store into governor (its documented extension
/// point) gives that "check without taking": with `peek` set, the GCRA verdict is computed and
/// the new state thrown away.
#[derive(Debug, Default)]
struct Cells {
    tats: Mutex<HashMap<u64, Nanos, BuildHasherDefault<PreHashed>>>,
    peek: AtomicBool,
}

/// Hasher for keys that are already hashes (credential ids come from `Credentials::bucket_id`):
/// hashing them again would only add time to every request.
#[derive(Debug, Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used for u64 keys; fold anything else in so the hasher stays correct.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// The store handle governor owns; the limiter keeps another to flip `peek`.
#[derive(Debug, Clone, Default)]
struct SharedCells(Arc<Cells>);

impl StateStore for SharedCells {
    type Key = u64;

    fn measure_and_replace<T, F, E>(&self, key: &u64, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // A poisoned map still holds valid cells (each insert is one store), so keep using it.
        let mut tats = self.0.tats.lock().unwrap_or_else(PoisonError::into_inner);
        let (verdict, next) = f(tats.get(key).copied())?;
        if !self.0.peek.load(Ordering::Relaxed) {
            tats.insert(*key, next);
        }
        Ok(verdict)
    }
}

type ScopeLimiter = governor::RateLimiter<u64, SharedCells, TokioClock, NoOpMiddleware<Duration>>;

struct Bucket {
    cells: SharedCells,
    limiter: ScopeLimiter,
}

/// Scopes looked up on the stack (PostHog's operations have at most three).
const MAX_SCOPES: usize = 4;

/// The in-process buckets: one keyed governor limiter per scope.
struct LocalStore {
    clock: TokioClock,
    /// Makes "check every scope, then take from every scope" one step for concurrent callers.
    /// Held for a few hundred nanoseconds and never across an await.
    lock: Mutex<()>,
    scopes: HashMap<&'static str, Bucket>,
}

impl fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.scopes.keys().copied().collect();
        names.sort_unstable();
        f.debug_struct("LocalStore")
            .field("scopes", &names)
            .finish()
    }
}

impl LocalStore {
    /// Takes one request from every known scope, or nothing and says how long to wait.
    fn try_acquire(
        &self,
        credential: u64,
        scopes: &[&'static str],
    ) -> Result<(), (&'static str, Duration)> {
        let _serialized = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        // Operations have one to three scopes: look each up once, on the stack.
        if scopes.len() <= MAX_SCOPES {
            let mut found: [Option<(&'static str, &Bucket)>; MAX_SCOPES] = [None; MAX_SCOPES];
            for (slot, &scope) in found.iter_mut().zip(scopes) {
                *slot = self.scopes.get(scope).map(|bucket| (scope, bucket));
            }
            self.take_from_all(credential, &found)
        } else {
            let found: Vec<_> = scopes
                .iter()
                .map(|&scope| self.scopes.get(scope).map(|bucket| (scope, bucket)))
                .collect();
            self.take_from_all(credential, &found)
        }
    }

    /// Checks every bucket without taking, then takes from each; the caller holds the lock.
    fn take_from_all(
        &self,
        credential: u64,
        found: &[Option<(&'static str, &Bucket)>],
    ) -> Result<(), (&'static str, Duration)> {
        let mut longest: Option<(&'static str, Duration)> = None;
        for &(scope, bucket) in found.iter().flatten() {
            bucket.cells.0.peek.store(true, Ordering::Relaxed);
            let verdict = bucket.limiter.check_key(&credential);
            bucket.cells.0.peek.store(false, Ordering::Relaxed);
            if let Err(not_until) = verdict {
                let wait = not_until.wait_time_from(self.clock.now());
                if longest.is_none_or(|(_, known)| wait > known) {
                    longest = Some((scope, wait));
                }
            }
        }
        if let Some(longest) = longest {
            return Err(longest);
        }
        for &(scope, bucket) in found.iter().flatten() {
            // Only a scope listed twice can fail here; waiting for it is the safe answer.
            if let Err(not_until) = bucket.limiter.check_key(&credential) {
                return Err((scope, not_until.wait_time_from(self.clock.now())));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Off,
    Local(Arc<LocalStore>),
    Shared(Arc<dyn SharedStore>),
}

/// Buckets of request budget, keyed by credential and throttle scope. Clones share the buckets.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    backend: Backend,
}

impl Default for RateLimiter {
    /// PostHog's default limits (`operations::THROTTLE_LIMITS`, from `schema/throttle-scopes.toml`).
    fn default() -> Self {
        RateLimiter::builder().build()
    }
}

impl RateLimiter {
    /// A limiter that never waits.
    pub fn disabled() -> Self {
        Self {
            backend: Backend::Off,
        }
    }

    /// Starts from PostHog's default limits; override scopes, the burst share or the store.
    pub fn builder() -> RateLimiterBuilder {
        RateLimiterBuilder {
            limits: crate::operations::THROTTLE_LIMITS.to_vec(),
            burst_fraction: 0.2,
            shared: None,
        }
    }

    /// A limiter whose budgets live in `store` (shared by several processes).
    pub fn shared(store: Arc<dyn SharedStore>) -> Self {
        Self {
            backend: Backend::Shared(store),
        }
    }

    /// Whether this limiter can ever make a request wait.
    pub fn is_enabled(&self) -> bool {
        !matches!(self.backend, Backend::Off)
    }

    /// Waits until every one of `scopes` has budget for one more request by `credential`, then
    /// takes it from all of them at once. Scopes with no known limit do not limit.
    pub async fn acquire(&self, credential: u64, scopes: &[&'static str]) {
        if scopes.is_empty() {
            return;
        }
        match &self.backend {
            Backend::Off => {}
            Backend::Local(store) => {
                while let Err((scope, wait)) = store.try_acquire(credential, scopes) {
                    wait_for(scope, wait).await;
                }
            }
            Backend::Shared(store) => {
                while let Err(wait) = store.try_acquire(credential, scopes).await {
                    wait_for("shared", wait).await;
                }
            }
        }
    }
}

/// Sleeps for a full bucket, saying so: a silent stall would look like a hung request.
async fn wait_for(scope: &'static str, wait: Duration) {
    tracing::debug!(
        scope,
        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        "waiting for PostHog rate-limit budget"
    );
    // governor can answer a zero wait at the exact boundary; one tick avoids a busy loop.
    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
}

/// Configures a [`RateLimiter`].
#[derive(Debug, Clone)]
pub struct RateLimiterBuilder {
    limits: Vec<ScopeLimit>,
    burst_fraction: f64,
    shared: Option<Arc<dyn SharedStore>>,
}

impl RateLimiterBuilder {
    /// Sets (or adds) one scope's budget, e.g. a team's raised `query` limit.
    pub fn limit(mut self, scope: &'static str, requests: u32, period: Duration) -> Self {
        let limit = ScopeLimit {
            scope,
            requests,
            period,
        };
        match self.limits.iter_mut().find(|known| known.scope == scope) {
            Some(known) => *known = limit,
            None => self.limits.push(limit),
        }
        self
    }

    /// Replaces every budget with `limits`.
    pub fn limits(mut self, limits: &[ScopeLimit]) -> Self {
        self.limits = limits.to_vec();
        self
    }

    /// Removes a scope's budget: requests under it are not limited by it.
    pub fn unlimited(mut self, scope: &str) -> Self {
        self.limits.retain(|known| known.scope != scope);
        self
    }

    /// Share of each scope's requests that may go out at once (clamped to 0..=1, default 0.5);
    /// the rest is spread evenly so no window of the scope's period ever holds more than its limit.
    pub fn burst_fraction(mut self, fraction: f64) -> Self {
        self.burst_fraction = if fraction.is_nan() {
            0.5
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }

    /// Keeps the budgets in `store` instead of this process (the limits set here are then unused).
    pub fn shared_store(mut self, store: Arc<dyn SharedStore>) -> Self {
        self.shared = Some(store);
        self
    }

    /// Builds the limiter.
    pub fn build(self) -> RateLimiter {
        if let Some(store) = self.shared {
            return RateLimiter::shared(store);
        }
        let clock = TokioClock {
            origin: tokio::time::Instant::now(),
        };
        let mut scopes = HashMap::with_capacity(self.limits.len());
        for limit in &self.limits {
            if let Some(quota) = quota(limit, self.burst_fraction) {
                let cells = SharedCells::default();
                let limiter = governor::RateLimiter::new(quota, cells.clone(), clock.clone());
                scopes.insert(limit.scope, Bucket { cells, limiter });
            }
        }
        RateLimiter {
            backend: Backend::Local(Arc::new(LocalStore {
                clock,
                lock: Mutex::new(()),
                scopes,
            })),
        }
    }
}

/// The GCRA quota that never lets more than `requests` through in any window of `period`.
/// A zero budget or period means "no limit known" and yields `None`.
fn quota(limit: &ScopeLimit, burst_fraction: f64) -> Option<Quota> {
    if limit.requests == 0 || limit.period.is_zero() {
        return None;
    }
    // Truncation is intended: the burst is a whole number of requests, at least one.
    let burst = ((f64::from(limit.requests) * burst_fraction) as u32).clamp(1, limit.requests);
    let spread = limit.requests - burst + 1;
    // Round the interval up so integer nanoseconds never make the window a little too short.
    let period_ns = limit.period.as_nanos();
    let interval_ns = period_ns.div_ceil(u128::from(spread));
    let interval = Duration::from_nanos(u64::try_from(interval_ns).unwrap_or(u64::MAX));
    Some(Quota::with_period(interval)?.allow_burst(NonZeroU32::new(burst)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_keeps_windows_under_the_limit() {
        let limit = ScopeLimit {
            scope: "s",
            requests: 480,
            period: Duration::from_secs(60),
        };
        let quota = quota(&limit, 0.5);
        assert_eq!(quota.map(|q| q.burst_size().get()), Some(240));
        // 240 at once, then one per 60 s / 241: at most 240 + 241 - 1 = 480 in any minute.
        assert_eq!(
            quota.map(|q| q.replenish_interval() >= Duration::from_secs(60) / 241),
            Some(true)
        );
        assert_eq!(
            super::quota(
                &ScopeLimit {
                    requests: 0,
                    ..limit
                },
                0.5
            ),
            None
        );
    }
}
