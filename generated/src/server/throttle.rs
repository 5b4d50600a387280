//! Server-side throttling with the client's table of PostHog throttle scopes: a request is
//! counted against every scope of its operation, per personal API key, and answered 429 with
//! `Retry-After` when any scope is out of budget.
//!
//! Like Django REST framework's `check_throttles`, every scope that still has room counts the
//! request even when another scope refuses it. Each scope is a `governor` GCRA cell per key
//! allowing the scope's whole budget at once and refilling it evenly over the period, which is
//! the closest a constant-memory limiter gets to PostHog's sliding windows.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::auth::KeySource;
use crate::rate_limit::ScopeLimit;
use crate::server::ServerError;

/// Throttle scopes applied by the server; cheap to clone (clones share the budgets). Install it
/// with [`crate::server::Routes::rate_limit`].
#[derive(Clone)]
pub struct ServerRateLimiter {
    scopes: Arc<HashMap<&'static str, DefaultKeyedRateLimiter<u64>>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for ServerRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.scopes.keys().copied().collect();
        names.sort_unstable();
        f.debug_struct("ServerRateLimiter")
            .field("scopes", &names)
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
        let clock = DefaultClock::default();
        let scopes = limits
            .iter()
            .filter_map(|limit| {
                let requests = NonZeroU32::new(limit.requests)?;
                let interval = limit.period.checked_div(limit.requests)?;
                let quota = Quota::with_period(interval)?.allow_burst(requests);
                Some((limit.scope, governor::RateLimiter::keyed(quota)))
            })
            .collect();
        Self {
            scopes: Arc::new(scopes),
            clock,
        }
    }

    /// Counts one request of `key` against `scopes`; 429 with the longest wait when any refuses.
    pub fn check(
        &self,
        key: Option<&KeySource>,
        scopes: &[&'static str],
    ) -> Result<(), ServerError> {
        let credential = credential_id(key);
        let mut longest: Option<Duration> = None;
        for scope in scopes {
            let Some(limiter) = self.scopes.get(scope) else {
                continue;
            };
            if let Err(not_until) = limiter.check_key(&credential) {
                let wait = not_until.wait_time_from(self.clock.now());
                longest = Some(longest.map_or(wait, |known| known.max(wait)));
            }
        }
        match longest {
            Some(wait) => Err(ServerError::throttled(wait)),
            None => Ok(()),
        }
    }
}

/// A hash of the key (requests without one share a bucket), so budgets never hold key text.
fn credential_id(key: Option<&KeySource>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.map(KeySource::expose_key).hash(&mut hasher);
    hasher.finish()
}
