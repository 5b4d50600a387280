//! The exact in-process limiter: PostHog's sliding log of request times per (credential, scope).
//!
//! A log holds the times of the admitted requests still inside the window, oldest first, so it
//! never holds more than the scope's `requests` entries. A request is admitted when every scope's
//! log has fewer than `requests` entries after dropping those at or before `now - period` (Django
//! REST framework's rule); otherwise the wait is computed: the moment the entry whose leaving
//! makes room drops out. Logs whose newest entry has left the window are removed in periodic
//! sweeps, so idle credentials cost nothing.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::{PreHashed, ScopeLimit, known_scopes};

/// One scope's budget in the units the logs use.
#[derive(Debug, Clone, Copy)]
struct Limit {
    /// Index of the scope, part of each log's key.
    index: u32,
    requests: usize,
    /// Nanoseconds; saturated, so an absurd period only means "never leaves".
    period: u64,
}

/// Admission times (nanoseconds since an origin) inside one window, oldest first: PostHog's
/// (Django REST framework's) log of one key and scope. Also the server layer's log.
#[derive(Debug, Default)]
pub(crate) struct Log {
    times: VecDeque<u64>,
}

impl Log {
    /// Drops entries at or before `now - period`: PostHog no longer counts them.
    pub(crate) fn expire(&mut self, now: u64, period: u64) {
        while self
            .times
            .front()
            .is_some_and(|&at| at.saturating_add(period) <= now)
        {
            self.times.pop_front();
        }
    }

    /// How long until one more request fits under `requests`, or `None` if it fits now. Call
    /// after `expire`.
    pub(crate) fn wait(&self, now: u64, requests: usize, period: u64) -> Option<u64> {
        let len = self.times.len();
        if len < requests {
            return None;
        }
        // `len - requests + 1` entries must leave; the last of them is at this index.
        let leaving = self.times.get(len - requests)?;
        Some(leaving.saturating_add(period).saturating_sub(now))
    }

    /// Logs an admission at `now` (never earlier than the newest entry).
    pub(crate) fn push(&mut self, now: u64) {
        self.times.push_back(now);
    }

    /// Whether every entry has left the window: the log admits as a missing one would.
    pub(crate) fn is_idle(&self, now: u64, period: u64) -> bool {
        self.times
            .back()
            .is_none_or(|&at| at.saturating_add(period) <= now)
    }

    /// Entries held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.times.len()
    }
}

/// Nanoseconds from `origin` to now on tokio's clock (a paused test clock included).
pub(crate) fn nanos_since(origin: tokio::time::Instant) -> u64 {
    let since = tokio::time::Instant::now().saturating_duration_since(origin);
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

/// The period of scope `index` in `periods`; an unknown index never lets entries leave.
pub(crate) fn period_of(periods: &[u64], index: u32) -> u64 {
    usize::try_from(index)
        .ok()
        .and_then(|index| periods.get(index))
        .copied()
        .unwrap_or(u64::MAX)
}

type Logs = HashMap<(u64, u32), Log, BuildHasherDefault<PreHashed>>;

/// Logs, and the bookkeeping of when to sweep idle ones.
#[derive(Debug, Default)]
struct State {
    logs: Logs,
    /// Admissions since the last sweep.
    since_sweep: u32,
    /// Logs left after the last sweep: a map grown well past it is swept early.
    after_sweep: usize,
}

/// Admissions between sweeps for idle logs, unless the map doubles first.
const SWEEP_EVERY: u32 = 4096;

/// The exact limiter's state for every credential and scope, behind one lock so that checking
/// every scope and taking from each is a single step for concurrent callers.
pub(super) struct ExactStore {
    origin: tokio::time::Instant,
    limits: HashMap<&'static str, Limit>,
    /// Periods by scope index, for sweeping.
    periods: Vec<u64>,
    state: Mutex<State>,
}

impl std::fmt::Debug for ExactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The scopes, not the logs: a client's Debug must stay short whatever it has sent.
        let mut scopes: Vec<&str> = self.limits.keys().copied().collect();
        scopes.sort_unstable();
        f.debug_struct("ExactStore")
            .field("scopes", &scopes)
            .finish_non_exhaustive()
    }
}

impl ExactStore {
    /// A log per (credential, scope) for each of `limits` (the margin already added).
    pub(super) fn new(limits: &[ScopeLimit]) -> Self {
        let mut map = HashMap::with_capacity(limits.len());
        let mut periods = Vec::with_capacity(limits.len());
        for limit in limits.iter().filter(|limit| limit.is_limit()) {
            let Ok(index) = u32::try_from(periods.len()) else {
                break;
            };
            let period = u64::try_from(limit.period.as_nanos()).unwrap_or(u64::MAX);
            let requests = usize::try_from(limit.requests).unwrap_or(usize::MAX);
            if map
                .insert(
                    limit.scope,
                    Limit {
                        index,
                        requests,
                        period,
                    },
                )
                .is_none()
            {
                periods.push(period);
            }
        }
        ExactStore {
            origin: tokio::time::Instant::now(),
            limits: map,
            periods,
            state: Mutex::new(State::default()),
        }
    }

    /// tokio's clock, so a paused test clock drives the logs too.
    fn now(&self) -> u64 {
        nanos_since(self.origin)
    }

    /// Takes one request from every known scope, or nothing and says which scope waits longest
    /// and for how long.
    pub(super) fn try_acquire(
        &self,
        credential: u64,
        scopes: &[&'static str],
    ) -> Result<(), (&'static str, Duration)> {
        let now = self.now();
        // A poisoned lock still guards consistent logs (every change is one push or pop).
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut longest: Option<(&'static str, u64)> = None;
        for scope in known_scopes(scopes) {
            let Some(limit) = self.limits.get(scope) else {
                continue;
            };
            let Some(log) = state.logs.get_mut(&(credential, limit.index)) else {
                continue;
            };
            log.expire(now, limit.period);
            if let Some(wait) = log.wait(now, limit.requests, limit.period)
                && longest.is_none_or(|(_, known)| wait > known)
            {
                longest = Some((scope, wait));
            }
        }
        if let Some((scope, wait)) = longest {
            return Err((scope, Duration::from_nanos(wait)));
        }
        for scope in known_scopes(scopes) {
            if let Some(limit) = self.limits.get(scope) {
                state
                    .logs
                    .entry((credential, limit.index))
                    .or_default()
                    .push(now);
            }
        }
        state.since_sweep += 1;
        if state.since_sweep >= SWEEP_EVERY || state.logs.len() > 2 * state.after_sweep + 64 {
            self.sweep(&mut state, now);
        }
        Ok(())
    }

    /// Removes logs with nothing left in their window.
    fn sweep(&self, state: &mut State, now: u64) {
        let periods = &self.periods;
        state
            .logs
            .retain(|&(_, index), log| !log.is_idle(now, period_of(periods, index)));
        state.since_sweep = 0;
        state.after_sweep = state.logs.len();
    }

    /// Logs held and the timestamps in them (for tests of the memory bound).
    #[cfg(test)]
    fn footprint(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let entries = state.logs.values().map(Log::len).sum();
        (state.logs.len(), entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(requests: u32, secs: u64) -> [ScopeLimit; 1] {
        [ScopeLimit {
            scope: "s",
            requests,
            period: Duration::from_secs(secs),
        }]
    }

    #[tokio::test(start_paused = true)]
    async fn the_whole_budget_goes_at_once_then_waits_for_the_oldest() {
        let store = ExactStore::new(&limits(5, 10));
        for _ in 0..3 {
            assert!(store.try_acquire(1, &["s"]).is_ok());
        }
        tokio::time::advance(Duration::from_secs(4)).await;
        for _ in 0..2 {
            assert!(store.try_acquire(1, &["s"]).is_ok());
        }
        // Full: the first three leave at 10 s, which is 6 s from now.
        assert_eq!(
            store.try_acquire(1, &["s"]),
            Err(("s", Duration::from_secs(6)))
        );
        tokio::time::advance(Duration::from_secs(6)).await;
        // Exactly at `oldest + period` PostHog no longer counts them: three fit again.
        for _ in 0..3 {
            assert!(store.try_acquire(1, &["s"]).is_ok());
        }
        assert_eq!(
            store.try_acquire(1, &["s"]),
            Err(("s", Duration::from_secs(4)))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn all_or_nothing_across_scopes() {
        let store = ExactStore::new(&[
            ScopeLimit {
                scope: "wide",
                requests: 100,
                period: Duration::from_secs(1),
            },
            ScopeLimit {
                scope: "narrow",
                requests: 1,
                period: Duration::from_secs(10),
            },
        ]);
        assert!(store.try_acquire(1, &["wide", "narrow"]).is_ok());
        assert_eq!(
            store.try_acquire(1, &["wide", "narrow", "narrow"]),
            Err(("narrow", Duration::from_secs(10)))
        );
        // The refusal took nothing from `wide`: 99 more fit there.
        for _ in 0..99 {
            assert!(store.try_acquire(1, &["wide"]).is_ok());
        }
        assert!(store.try_acquire(1, &["wide"]).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn memory_is_bounded_per_log_and_idle_logs_go() {
        let store = ExactStore::new(&limits(8, 1));
        for _ in 0..100 {
            let _ = store.try_acquire(7, &["s"]);
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        assert!(store.footprint().1 <= 8, "{:?}", store.footprint());
        for credential in 0..10_000 {
            assert!(store.try_acquire(credential, &["s"]).is_ok());
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        for credential in 20_000..20_000 + u64::from(SWEEP_EVERY) {
            assert!(store.try_acquire(credential, &["s"]).is_ok());
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        let (logs, _) = store.footprint();
        // The 10,000 idle credentials are gone; what is left is at most twice the credentials
        // active in the last second (sweeps run when the map doubles).
        assert!(logs <= 2 * 1_000 + 64, "{logs} logs kept");
    }
}
