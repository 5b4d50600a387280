//! GCRA smoothing, the optional in-process strategy: each scope's burst is a fraction of its
//! budget and the rest is spaced evenly.
//!
//! GCRA is a leaky bucket, not a sliding window: with a burst of `b` cells and one cell every
//! `T`, any window of length `T * m` admits at most `b + m - 1` requests. Each scope therefore
//! gets a burst of `requests * burst_fraction` and an emission interval of
//! `period / (requests - burst + 1)`, which keeps every window of `period` at or under
//! `requests` (the property `tests/tests/integration/rate_limit.rs` checks on recorded timestamps). The price
//! is that long-run throughput is `requests - burst + 1` per period. Buckets are `governor` GCRA
//! cells driven by tokio's clock, so tests with a paused clock never really sleep.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::Quota;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;

use super::{PreHashed, ScopeLimit};

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

/// The in-process GCRA buckets: one keyed governor limiter per scope.
pub(super) struct GcraStore {
    clock: TokioClock,
    /// Makes "check every scope, then take from every scope" one step for concurrent callers.
    /// Held for a few hundred nanoseconds and never across an await.
    lock: Mutex<()>,
    scopes: HashMap<&'static str, Bucket>,
    /// Calls since idle cells were last dropped.
    calls: AtomicU32,
}

impl fmt::Debug for GcraStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.scopes.keys().copied().collect();
        names.sort_unstable();
        f.debug_struct("GcraStore").field("scopes", &names).finish()
    }
}

impl GcraStore {
    /// One GCRA bucket per scope with a known limit.
    pub(super) fn new(limits: &[ScopeLimit], burst_fraction: f64) -> Self {
        let clock = TokioClock {
            origin: tokio::time::Instant::now(),
        };
        let mut scopes = HashMap::with_capacity(limits.len());
        for limit in limits {
            if let Some(quota) = quota(limit, burst_fraction) {
                let cells = SharedCells::default();
                let limiter = governor::RateLimiter::new(quota, cells.clone(), clock.clone());
                scopes.insert(limit.scope, Bucket { cells, limiter });
            }
        }
        GcraStore {
            clock,
            lock: Mutex::new(()),
            scopes,
            calls: AtomicU32::new(0),
        }
    }

    /// Takes one request from every known scope, or nothing and says how long to wait.
    pub(super) fn try_acquire(
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
        if self.calls.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.drop_idle();
        }
        Ok(())
    }

    /// Drops cells whose theoretical arrival time has passed: such a cell admits exactly as a
    /// missing one does, so credentials that stopped sending cost no memory.
    fn drop_idle(&self) {
        // governor counts from the moment each limiter was built, a little after `origin`; the
        // slack keeps every dropped cell truly idle.
        let idle_before = Nanos::from(self.clock.now().saturating_sub(Duration::from_millis(1)));
        for bucket in self.scopes.values() {
            let mut tats = bucket
                .cells
                .0
                .tats
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            tats.retain(|_, tat| *tat > idle_before);
        }
    }

    /// Cells held across scopes (for tests of idle dropping).
    #[cfg(test)]
    fn cells(&self) -> usize {
        self.scopes
            .values()
            .map(|bucket| {
                bucket
                    .cells
                    .0
                    .tats
                    .lock()
                    .map(|tats| tats.len())
                    .unwrap_or(0)
            })
            .sum()
    }
}

/// Admissions between sweeps for idle cells: often enough to bound memory by the credentials
/// active in the last few thousand requests, rarely enough to cost nothing measurable.
const SWEEP_EVERY: u32 = 4096;

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

    #[tokio::test(start_paused = true)]
    async fn idle_cells_are_dropped() {
        let limits = [ScopeLimit {
            scope: "s",
            requests: 10,
            period: Duration::from_secs(1),
        }];
        let store = GcraStore::new(&limits, 0.5);
        for credential in 0..u64::from(SWEEP_EVERY) - 1 {
            assert!(store.try_acquire(credential, &["s"]).is_ok());
        }
        assert_eq!(store.cells(), SWEEP_EVERY as usize - 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(store.try_acquire(u64::MAX, &["s"]).is_ok());
        assert_eq!(
            store.cells(),
            1,
            "only the credential that just sent keeps a cell"
        );
    }
}
