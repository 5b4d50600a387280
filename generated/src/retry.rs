//! When to retry a failed request, and how long to wait first.

use std::time::Duration;

use crate::operation::Operation;

/// What happened to one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with a non-success status (and maybe a `Retry-After`).
    Status(http::StatusCode, Option<Duration>),
    /// The attempt timed out.
    Timeout,
    /// The connection failed or was reset.
    Connection,
}

/// Retry settings. The default retries idempotent requests up to 3 times in 60 s.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// No retry starts after this much time since the first attempt.
    pub max_elapsed: Duration,
    /// First backoff delay; each retry doubles it.
    pub base_delay: Duration,
    /// Longest backoff delay, and cap on a server's `Retry-After`.
    pub max_delay: Duration,
    /// Retry POST and PATCH as well, which may repeat a side effect.
    pub retry_non_idempotent: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(60),
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            retry_non_idempotent: false,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// How long to wait before attempt `attempt + 1`, or `None` to give up.
    pub fn delay_before_retry(
        &self,
        op: &Operation,
        attempt: u32,
        elapsed: Duration,
        outcome: &Outcome,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts || !(op.is_idempotent() || self.retry_non_idempotent) {
            return None;
        }
        let delay = match outcome {
            Outcome::Status(status, retry_after) if status.as_u16() == 429 => {
                retry_after.map(|after| after.min(self.max_delay)).unwrap_or_else(|| self.backoff(attempt))
            }
            Outcome::Status(status, _) if status.is_server_error() => self.backoff(attempt),
            Outcome::Status(..) => return None,
            Outcome::Timeout | Outcome::Connection => self.backoff(attempt),
        };
        (elapsed + delay <= self.max_elapsed).then_some(delay)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        exponential.min(self.max_delay)
    }
}

/// Parses `Retry-After` as delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}
