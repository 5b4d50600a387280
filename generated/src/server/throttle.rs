//! Server-side throttling as PostHog does it: every throttle scope of the operation keeps Django
//! REST framework's sliding log per personal API key, and a request any scope refuses is
//! answered 429 with `Retry-After`; admitted and refused requests are counted.
//!
//! The rules follow `SimpleRateThrottle` (`rest_framework/throttling.py`) under PostHog's
//! `PersonalApiKeyRateThrottle` (`posthog/rate_limit.py`): log entries at or before
//! `now - period` are dropped; a scope refuses while `requests` entries remain; a scope that
//! admits logs the request even when another scope refuses it (DRF's `check_throttles` asks every
//! throttle); `Retry-After` is the longest time until a refusing scope's oldest entry leaves,
//! rounded up to whole seconds. The body is PostHog's `{"type": "throttled_error", "code":
//! "throttled", ...}`.
//!
//! The layer runs before authentication, so it keys logs by whatever key a request presents. To
//! keep hostile keys from growing memory, logs are keyed by a hash of the key (never its text),
//! logs whose entries have all left are swept, and the number of logs is capped: at the cap,
//! the least recently used sixteenth is evicted at once (amortized, so a flood of new keys costs
//! constant time per request). Eviction can only give a key a fresh budget, never refuse one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::auth::KeySource;
use crate::rate_limit::ScopeLimit;
use crate::rate_limit::window::{Log, nanos_since, period_of};
use crate::server::ServerError;

/// Logs kept at most by default (each holds at most its scope's `requests` timestamps).
pub const DEFAULT_MAX_LOGS: usize = 100_000;

/// Requests between sweeps for logs with nothing left in their window.
const SWEEP_EVERY: u32 = 4096;

/// What the server admitted and refused since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleStats {
    /// Requests every scope admitted.
    pub admitted: u64,
    /// Requests answered 429.
    pub refused: u64,
}

/// Throttle scopes applied by the server; cheap to clone (clones share the logs and counters).
/// Install it with [`crate::server::Routes::rate_limit`] or the fake's `rate_limit`.
#[derive(Clone)]
pub struct ServerRateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    limits: HashMap<&'static str, Limit>,
    /// Periods by scope index, for sweeping.
    periods: Vec<u64>,
    max_logs: usize,
    origin: tokio::time::Instant,
    state: Mutex<State>,
    admitted: AtomicU64,
    refused: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Limit {
    index: u32,
    requests: usize,
    /// Nanoseconds.
    period: u64,
}

/// One key's log of one scope, and when the key last asked (for eviction at the cap).
#[derive(Default)]
struct Entry {
    log: Log,
    last_used: u64,
}

#[derive(Default)]
struct State {
    /// Keyed by (key hash, scope index); std's randomly seeded hasher, as keys are hostile.
    logs: HashMap<(u64, u32), Entry>,
    since_sweep: u32,
}

impl std::fmt::Debug for ServerRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.inner.limits.keys().copied().collect();
        names.sort_unstable();
        f.debug_struct("ServerRateLimiter")
            .field("scopes", &names)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Default for ServerRateLimiter {
    /// PostHog's default budgets (`operations::THROTTLE_LIMITS`), as the client applies them.
    fn default() -> Self {
        Self::new(crate::operations::THROTTLE_LIMITS)
    }
}

impl ServerRateLimiter {
    /// A limiter with these scope budgets; scopes not listed do not limit, nor do zero budgets.
    pub fn new(limits: &[ScopeLimit]) -> Self {
        Self::with_max_logs(limits, DEFAULT_MAX_LOGS)
    }

    /// Like [`Self::new`], keeping at most `max_logs` (key, scope) logs (at least one).
    pub fn with_max_logs(limits: &[ScopeLimit], max_logs: usize) -> Self {
        let mut map = HashMap::new();
        let mut periods = Vec::new();
        for limit in limits {
            if limit.requests == 0 || limit.period.is_zero() || map.contains_key(limit.scope) {
                continue;
            }
            let Ok(index) = u32::try_from(periods.len()) else {
                break;
            };
            let period = u64::try_from(limit.period.as_nanos()).unwrap_or(u64::MAX);
            let requests = usize::try_from(limit.requests).unwrap_or(usize::MAX);
            map.insert(
                limit.scope,
                Limit {
                    index,
                    requests,
                    period,
                },
            );
            periods.push(period);
        }
        Self {
            inner: Arc::new(Inner {
                limits: map,
                periods,
                max_logs: max_logs.max(1),
                origin: tokio::time::Instant::now(),
                state: Mutex::new(State::default()),
                admitted: AtomicU64::new(0),
                refused: AtomicU64::new(0),
            }),
        }
    }

    /// Counts one request of `key` against `scopes`; 429 with the longest wait when any refuses.
    pub fn check(
        &self,
        key: Option<&KeySource>,
        scopes: &[&'static str],
    ) -> Result<(), ServerError> {
        // Requests without a key share one log, as PostHog falls back to one identity for them.
        let id = match key {
            Some(key) => crate::auth::stable_id(b"personal", key.expose_key().as_bytes()),
            None => crate::auth::stable_id(b"anonymous", b""),
        };
        match self.check_id(id, scopes) {
            None => Ok(()),
            Some(wait) => Err(ServerError::throttled(wait)),
        }
    }

    /// What was admitted and refused so far, across clones.
    pub fn stats(&self) -> ThrottleStats {
        ThrottleStats {
            admitted: self.inner.admitted.load(Ordering::Relaxed),
            refused: self.inner.refused.load(Ordering::Relaxed),
        }
    }

    /// (key, scope) logs held now: bounded by the cap given at construction.
    pub fn logs(&self) -> usize {
        self.lock().logs.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every change to a log is one push or pop, so a poisoned lock still guards valid logs.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The wait of the longest-refusing scope, or `None` when every scope admits.
    fn check_id(&self, id: u64, scopes: &[&'static str]) -> Option<Duration> {
        let inner = &*self.inner;
        let now = nanos_since(inner.origin);
        let mut state = self.lock();
        let mut longest: Option<u64> = None;
        for (i, scope) in scopes.iter().enumerate() {
            let Some(limit) = inner.limits.get(scope) else {
                continue;
            };
            if scopes[..i].contains(scope) {
                continue;
            }
            let key = (id, limit.index);
            if !state.logs.contains_key(&key) {
                self.make_room(&mut state, now);
            }
            let entry = state.logs.entry(key).or_default();
            entry.last_used = now;
            entry.log.expire(now, limit.period);
            match entry.log.wait(now, limit.requests, limit.period) {
                None => entry.log.push(now),
                Some(wait) => longest = Some(longest.map_or(wait, |known| known.max(wait))),
            }
        }
        state.since_sweep += 1;
        if state.since_sweep >= SWEEP_EVERY {
            self.sweep(&mut state, now);
        }
        drop(state);
        let counter = match longest {
            None => &inner.admitted,
            Some(_) => &inner.refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        longest.map(Duration::from_nanos)
    }

    /// Drops logs with nothing left in their window.
    fn sweep(&self, state: &mut State, now: u64) {
        let periods = &self.inner.periods;
        state
            .logs
            .retain(|&(_, index), entry| !entry.log.is_idle(now, period_of(periods, index)));
        state.since_sweep = 0;
    }

    /// Before adding a log at the cap: sweep, and if still full evict the least recently used
    /// sixteenth, so the next many new keys find room without another scan.
    fn make_room(&self, state: &mut State, now: u64) {
        let max = self.inner.max_logs;
        if state.logs.len() < max {
            return;
        }
        self.sweep(state, now);
        if state.logs.len() < max {
            return;
        }
        let evict = (max / 16).max(1).min(state.logs.len());
        let mut last_used: Vec<u64> = state.logs.values().map(|entry| entry.last_used).collect();
        let (_, &mut cutoff, _) = last_used.select_nth_unstable(evict - 1);
        let mut left = evict;
        state.logs.retain(|_, entry| {
            if left > 0 && entry.last_used <= cutoff {
                left -= 1;
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: &[ScopeLimit] = &[
        ScopeLimit {
            scope: "burst",
            requests: 3,
            period: Duration::from_secs(10),
        },
        ScopeLimit {
            scope: "sustained",
            requests: 5,
            period: Duration::from_secs(100),
        },
    ];

    #[tokio::test(start_paused = true)]
    async fn sliding_log_as_drf_counts_it() {
        let limiter = ServerRateLimiter::new(LIMITS);
        let both = &["burst", "sustained"];
        for _ in 0..3 {
            assert_eq!(limiter.check_id(1, both), None);
        }
        assert_eq!(limiter.check_id(1, both), Some(Duration::from_secs(10)));
        tokio::time::advance(Duration::from_secs(10)).await;
        // At exactly `oldest + period` the burst entries have left. The refused fourth request
        // was still logged by `sustained`, which admitted it (DRF asks every throttle): one
        // more fills it.
        assert_eq!(limiter.check_id(1, both), None);
        assert_eq!(limiter.check_id(1, both), Some(Duration::from_secs(90)));
        tokio::time::advance(Duration::from_secs(10)).await;
        // `burst` logged the request `sustained` refused, and has let it go by now.
        for _ in 0..3 {
            assert_eq!(limiter.check_id(1, &["burst"]), None);
        }
        assert_eq!(
            limiter.check_id(1, &["burst"]),
            Some(Duration::from_secs(10))
        );
        // Another key has its own logs; unknown scopes do not limit.
        assert_eq!(limiter.check_id(2, both), None);
        assert_eq!(limiter.check_id(1, &["elsewhere"]), None);
        assert_eq!(
            limiter.stats(),
            ThrottleStats {
                admitted: 9,
                refused: 3
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn random_keys_do_not_grow_memory_without_bound() {
        let limiter = ServerRateLimiter::with_max_logs(LIMITS, 1_000);
        let mut id: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..200_000 {
            // xorshift: a different key on every request, as a hostile client would send.
            id ^= id << 13;
            id ^= id >> 7;
            id ^= id << 17;
            assert_eq!(limiter.check_id(id, &["burst", "sustained"]), None);
            assert!(limiter.logs() <= 1_000, "{} logs", limiter.logs());
        }
        // A key in use keeps its budget through the flood as long as it stays recent.
        for _ in 0..3 {
            assert_eq!(limiter.check_id(7, &["burst"]), None);
        }
        assert!(limiter.check_id(7, &["burst"]).is_some());
        // Idle logs go at the next sweep once their windows pass.
        tokio::time::advance(Duration::from_secs(101)).await;
        for _ in 0..SWEEP_EVERY {
            let _ = limiter.check_id(7, &["burst"]);
        }
        assert_eq!(limiter.logs(), 1);
    }
}
