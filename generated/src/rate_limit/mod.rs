//! Client-side rate limiting per PostHog throttle scope, so a client uses PostHog's whole budget
//! and never draws a 429.
//!
//! PostHog's throttles (`posthog/rate_limit.py`: `BurstRateThrottle` 480/minute,
//! `SustainedRateThrottle` 4800/hour, `ClickHouse*`, `HogQLQueryThrottle` 120/hour, ...) are
//! Django REST framework `SimpleRateThrottle`s keyed by the hashed personal API key and the scope.
//! Each keeps a sliding log of request times: entries at or before `now - period` are dropped, a
//! request is refused while `requests` entries remain, only admitted requests are logged, and the
//! `Retry-After` of a refusal is the time until the oldest entry leaves. Every throttle of a view
//! is checked; a scope that admits logs the request even when another refuses it.
//!
//! The default limiter ([`window`]) mirrors that log exactly per (credential, scope): it admits a
//! request only when every window of every scope of the operation keeps room, takes from all of
//! them at once or from none, allows bursts up to the whole unused budget, and computes waits
//! (the moment the oldest entry leaves) instead of polling. Its windows are `period + margin`
//! long, the margin covering the time a request takes to reach PostHog. GCRA smoothing
//! ([`RateLimiterBuilder::burst_fraction`]) stays available for callers that prefer evenly
//! spaced requests to bursts. A [`SharedStore`] ([`RedisStore`] with the `redis` feature) holds
//! the same logs for several processes using one key.

mod gcra;
#[cfg(feature = "redis")]
mod redis;
pub(crate) mod window;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

#[cfg(feature = "redis")]
pub use self::redis::{RedisStore, RedisStoreBuilder};

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

impl ScopeLimit {
    /// A zero budget or period means "no limit known": such a scope does not limit.
    fn is_limit(&self) -> bool {
        self.requests > 0 && !self.period.is_zero()
    }
}

/// What a [`SharedStore`] did with one acquire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquire {
    /// One request was taken from every scope's budget.
    Taken,
    /// Nothing was taken; every scope has room again after this long.
    Wait(Duration),
}

/// A shared store could not answer (unreachable, timed out, refused the script).
#[derive(Debug, thiserror::Error)]
#[error("the shared rate-limit store ({store}) is unavailable: {source}")]
pub struct StoreError {
    /// Which store, e.g. `redis`.
    pub store: &'static str,
    /// Why; never holds the credential or the store's password.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// A budget shared beyond this process (several workers, one PostHog key), e.g. in Redis.
///
/// [`SharedStore::try_acquire`] must be all or nothing: take one request from every scope's
/// budget for the credential, or take nothing and say how long to wait (a Redis Lua script does
/// this atomically). Taking some scopes and not others would count requests that were never
/// sent, or send requests some window did not count. The limiter passes only scopes with a known
/// limit, with its overrides and margin applied, so every process sharing a store should be
/// configured with the same limits.
pub trait SharedStore: Send + Sync + fmt::Debug {
    /// Takes one request from each of `limits` for `credential` (a hash, never the key), or
    /// nothing and returns how long to wait before asking again.
    fn try_acquire<'a>(
        &'a self,
        credential: u64,
        limits: &'a [ScopeLimit],
    ) -> Pin<Box<dyn Future<Output = Result<Acquire, StoreError>> + Send + 'a>>;
}

/// What the limiter does when its [`SharedStore`] cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreFailure {
    /// Keep sending under an in-process limiter with the same limits until the store answers
    /// again (the default): a cache outage does not stop the application, and PostHog's 429s,
    /// which the retry policy honours, bound what several processes overrun meanwhile.
    #[default]
    UseLocal,
    /// Fail the request with [`crate::Error::RateLimitStore`] without sending it, for
    /// deployments where exceeding the shared budget is worse than not sending.
    FailRequest,
}

/// Hasher for keys that are already hashes (credential ids come from `Credentials::bucket_id`, a
/// SHA-256 prefix the user's own configuration chooses): hashing them again would only add time
/// to every request. Never used for keys a remote party picks.
#[derive(Debug, Default)]
struct PreHashed(u64);

impl std::hash::Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only the integer writes below are used; fold anything else in so the hasher stays correct.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }

    fn write_u32(&mut self, value: u32) {
        // A scope index beside the credential: spread it so (c, 1) and (c ^ 1, 0) differ.
        self.0 ^= u64::from(value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// An in-process limiter: the exact sliding log, or GCRA.
#[derive(Debug)]
enum Local {
    Exact(window::ExactStore),
    Gcra(gcra::GcraStore),
}

impl Local {
    fn try_acquire(
        &self,
        credential: u64,
        scopes: &[&'static str],
    ) -> Result<(), (&'static str, Duration)> {
        match self {
            Local::Exact(store) => store.try_acquire(credential, scopes),
            Local::Gcra(store) => store.try_acquire(credential, scopes),
        }
    }

    async fn acquire(&self, credential: u64, scopes: &[&'static str]) {
        while let Err((scope, wait)) = self.try_acquire(credential, scopes) {
            wait_for(scope, wait).await;
        }
    }
}

/// A shared store, the limits it enforces, and what to do when it is unreachable.
#[derive(Debug)]
struct Shared {
    store: Arc<dyn SharedStore>,
    /// Known scopes with the margin added to their periods, as sent to the store.
    limits: Vec<ScopeLimit>,
    on_failure: StoreFailure,
    /// The in-process limiter used while the store is down (with [`StoreFailure::UseLocal`]).
    fallback: Local,
    /// While the store is down: when to ask it again, and why it failed. Until then requests
    /// skip it, so a store that times out costs one timeout per [`STORE_RETRY`], not one per
    /// request.
    down: Mutex<Option<Down>>,
}

/// When to ask a failed store again, which store, and why it failed.
type Down = (tokio::time::Instant, &'static str, Arc<str>);

/// How long a store that failed is left alone before it is asked again.
const STORE_RETRY: Duration = Duration::from_secs(1);

impl Shared {
    async fn acquire(&self, credential: u64, scopes: &[&'static str]) -> Result<(), StoreError> {
        // One round trip costs far more than this small list; no need to keep it off the heap.
        let limits: Vec<ScopeLimit> = known_scopes(scopes)
            .filter_map(|scope| self.limits.iter().find(|limit| limit.scope == scope))
            .copied()
            .collect();
        if limits.is_empty() {
            return Ok(());
        }
        loop {
            if let Some(down) = self.still_down() {
                return self.store_failed(credential, scopes, down).await;
            }
            match self.store.try_acquire(credential, &limits).await {
                Ok(Acquire::Taken) => {
                    if self.lock_down().take().is_some() {
                        tracing::info!("the shared rate-limit store answers again");
                    }
                    return Ok(());
                }
                Ok(Acquire::Wait(wait)) => wait_for("shared", wait).await,
                Err(error) => {
                    let down = (
                        tokio::time::Instant::now() + STORE_RETRY,
                        error.store,
                        Arc::from(error.source.to_string()),
                    );
                    let was_down = self.lock_down().replace(down.clone()).is_some();
                    if !was_down {
                        tracing::warn!(
                            %error,
                            policy = ?self.on_failure,
                            "the shared rate-limit store is unavailable"
                        );
                    }
                    return self.store_failed(credential, scopes, down).await;
                }
            }
        }
    }

    fn lock_down(&self) -> std::sync::MutexGuard<'_, Option<Down>> {
        self.down.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How the store failed, if it did less than [`STORE_RETRY`] ago.
    fn still_down(&self) -> Option<Down> {
        self.lock_down()
            .clone()
            .filter(|(retry_at, ..)| tokio::time::Instant::now() < *retry_at)
    }

    /// Applies the policy for an unreachable store.
    async fn store_failed(
        &self,
        credential: u64,
        scopes: &[&'static str],
        (_, store, reason): Down,
    ) -> Result<(), StoreError> {
        match self.on_failure {
            StoreFailure::UseLocal => {
                self.fallback.acquire(credential, scopes).await;
                Ok(())
            }
            StoreFailure::FailRequest => Err(StoreError {
                store,
                source: reason.to_string().into(),
            }),
        }
    }
}

/// The scopes of `scopes` in order, each once: an operation listing a scope twice is counted
/// once, as PostHog counts it once.
fn known_scopes<'a>(scopes: &'a [&'static str]) -> impl Iterator<Item = &'static str> + 'a {
    scopes
        .iter()
        .enumerate()
        .filter(|(i, scope)| !scopes[..*i].contains(scope))
        .map(|(_, scope)| *scope)
}

#[derive(Debug, Clone)]
enum Backend {
    Off,
    Local(Arc<Local>),
    Shared(Arc<Shared>),
}

/// Buckets of request budget, keyed by credential and throttle scope. Clones share the buckets.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    backend: Backend,
}

impl Default for RateLimiter {
    /// The exact limiter with PostHog's default limits (`operations::THROTTLE_LIMITS`, from
    /// `schema/throttle-scopes.toml`).
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

    /// Starts from PostHog's default limits, the exact limiter and a margin of
    /// [`DEFAULT_MARGIN`]; override scopes, the strategy, the margin or the store.
    pub fn builder() -> RateLimiterBuilder {
        RateLimiterBuilder {
            limits: crate::operations::THROTTLE_LIMITS.to_vec(),
            strategy: Strategy::Exact,
            margin: DEFAULT_MARGIN,
            shared: None,
            on_store_failure: StoreFailure::default(),
        }
    }

    /// A limiter with PostHog's default limits whose budgets live in `store` (shared by several
    /// processes), falling back to an in-process limiter while the store is unreachable.
    pub fn shared(store: Arc<dyn SharedStore>) -> Self {
        Self::builder().shared_store(store).build()
    }

    /// Whether this limiter can ever make a request wait.
    pub fn is_enabled(&self) -> bool {
        !matches!(self.backend, Backend::Off)
    }

    /// Waits until every one of `scopes` has budget for one more request by `credential`, then
    /// takes it from all of them at once. Scopes with no known limit do not limit.
    ///
    /// Fails only with a shared store that cannot be reached under
    /// [`StoreFailure::FailRequest`].
    pub async fn acquire(
        &self,
        credential: u64,
        scopes: &[&'static str],
    ) -> Result<(), crate::Error> {
        if scopes.is_empty() {
            return Ok(());
        }
        match &self.backend {
            Backend::Off => {}
            Backend::Local(local) => local.acquire(credential, scopes).await,
            Backend::Shared(shared) => shared.acquire(credential, scopes).await?,
        }
        Ok(())
    }
}

/// Sleeps for a full bucket, saying so: a silent stall would look like a hung request.
async fn wait_for(scope: &'static str, wait: Duration) {
    tracing::debug!(
        scope,
        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        "waiting for PostHog rate-limit budget"
    );
    // A wait can round to zero at the exact boundary; one tick avoids a busy loop.
    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
}

/// The default margin added to every window: the spread of the time requests take to reach
/// PostHog (connection setup, proxies, clocks of PostHog's web servers). It costs
/// `margin / period` of a scope's throughput: 0.8% of a one-minute scope, 0.01% of an hourly one.
pub const DEFAULT_MARGIN: Duration = Duration::from_millis(500);

/// How the in-process limiter spends a scope's budget.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Strategy {
    /// PostHog's own sliding log: every request up to the budget at once, then one as each leaves.
    Exact,
    /// GCRA with a burst of `requests * burst_fraction` and the rest evenly spaced.
    Smooth { burst_fraction: f64 },
}

/// Configures a [`RateLimiter`].
#[derive(Debug, Clone)]
pub struct RateLimiterBuilder {
    limits: Vec<ScopeLimit>,
    strategy: Strategy,
    margin: Duration,
    shared: Option<Arc<dyn SharedStore>>,
    on_store_failure: StoreFailure,
}

impl RateLimiterBuilder {
    /// Sets (or adds) one scope's budget, e.g. a team's raised `query` limit. Applies to a
    /// shared store too.
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

    /// The exact sliding-log limiter (the default): bursts up to the whole unused budget.
    pub fn exact(mut self) -> Self {
        self.strategy = Strategy::Exact;
        self
    }

    /// Switches the in-process limiter to GCRA smoothing: `fraction` of each scope's requests
    /// (clamped to 0..=1, NaN meaning 0.5) may go out at once and the rest is spread evenly, so
    /// no window holds more than the limit. Long-run throughput is then
    /// `requests - burst + 1` per period (80% of the budget at 0.2); use it when evenly spaced
    /// requests matter more than throughput. A shared store always keeps the exact log.
    pub fn burst_fraction(mut self, fraction: f64) -> Self {
        let burst_fraction = if fraction.is_nan() {
            0.5
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self.strategy = Strategy::Smooth { burst_fraction };
        self
    }

    /// Time added to every window (default [`DEFAULT_MARGIN`]): a request leaves the client
    /// before PostHog logs it, so one sent the instant a slot frees could be counted while an
    /// earlier, slower request is still in PostHog's window.
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Keeps the budgets in `store` (shared by several processes) instead of this process.
    pub fn shared_store(mut self, store: Arc<dyn SharedStore>) -> Self {
        self.shared = Some(store);
        self
    }

    /// What to do while the shared store is unreachable (default [`StoreFailure::UseLocal`]).
    pub fn on_store_failure(mut self, policy: StoreFailure) -> Self {
        self.on_store_failure = policy;
        self
    }

    /// Builds the limiter.
    pub fn build(self) -> RateLimiter {
        // Windows as the limiter counts them; overflowing periods mean "never again".
        let limits: Vec<ScopeLimit> = self
            .limits
            .iter()
            .filter(|limit| limit.is_limit())
            .map(|limit| ScopeLimit {
                period: limit.period.saturating_add(self.margin),
                ..*limit
            })
            .collect();
        let local = match self.strategy {
            Strategy::Exact => Local::Exact(window::ExactStore::new(&limits)),
            Strategy::Smooth { burst_fraction } => {
                Local::Gcra(gcra::GcraStore::new(&limits, burst_fraction))
            }
        };
        let backend = match self.shared {
            Some(store) => Backend::Shared(Arc::new(Shared {
                store,
                limits,
                on_failure: self.on_store_failure,
                fallback: local,
                down: Mutex::new(None),
            })),
            None => Backend::Local(Arc::new(local)),
        };
        RateLimiter { backend }
    }
}
