//! When to retry a failed request, and how long to wait first.
//!
//! A 429 or 5xx with `Retry-After` (seconds or an HTTP date) waits exactly what the server says,
//! never less: when that is longer than the policy allows, the request is not retried and the
//! error (with its `retry_after`) comes back at once. Other 5xx answers, timeouts and dropped
//! connections back off exponentially with jitter so that many clients that failed together do
//! not retry together. Only idempotent methods are retried unless the caller
//! opts in, because a retried POST may repeat its side effect. Attempts and total time are capped.

use std::hash::{BuildHasher, Hasher};
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

/// Why [`RetryPolicy::decide`] gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// The answer is not one that a retry can fix (e.g. 400, 404).
    NotRetryable,
    /// The method may repeat a side effect and the policy does not retry such methods.
    NotIdempotent,
    /// The policy's attempt limit was reached.
    Attempts,
    /// Waiting would pass the policy's total-time budget.
    TimeBudget,
    /// The server's `Retry-After` is longer than [`RetryPolicy::max_retry_after`].
    RetryAfterTooLong,
}

/// How much randomness goes into backoff delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the exponential delay (predictable; for tests).
    None,
    /// A random delay between half the exponential delay and all of it ("equal jitter"): keeps
    /// the exponential growth while spreading clients apart.
    Equal,
    /// A random delay between zero and the exponential delay ("full jitter").
    Full,
}

/// Retry settings. The default retries idempotent requests up to 3 attempts within 60 s, and
/// waits out a `Retry-After` of up to 60 s (within that budget).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    max_attempts: u32,
    /// No retry starts later than this after the first attempt, waits included.
    max_elapsed: Duration,
    /// First backoff delay; each retry doubles it.
    base_delay: Duration,
    /// Longest backoff delay. It never shortens a server's `Retry-After`.
    max_delay: Duration,
    /// Longest `Retry-After` the client waits out before retrying; a longer one returns the
    /// error at once, with [`crate::Error::retry_after`] saying when to come back.
    max_retry_after: Duration,
    /// Retry POST and PATCH as well, which may repeat a side effect.
    retry_non_idempotent: bool,
    /// Randomness in backoff delays (not in `Retry-After` waits, which the server chose).
    jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(60),
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            retry_non_idempotent: false,
            jitter: Jitter::Equal,
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

    /// Sets the number of attempts in all (the first included).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the total-time budget.
    pub fn max_elapsed(mut self, budget: Duration) -> Self {
        self.max_elapsed = budget;
        self
    }

    /// Sets the first backoff delay and the longest backoff delay.
    pub fn delays(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max.max(base);
        self
    }

    /// Sets the longest `Retry-After` to wait out before retrying; a longer one returns the
    /// error at once. The wait still counts against the `max_elapsed` budget.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Opts in to retrying POST and PATCH, which may repeat a side effect (e.g. create twice).
    pub fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.retry_non_idempotent = yes;
        self
    }

    /// Sets the backoff jitter.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// How long to wait before attempt `attempt + 1`, or `None` to give up.
    pub fn delay_before_retry(
        &self,
        op: &Operation,
        attempt: u32,
        elapsed: Duration,
        outcome: &Outcome,
    ) -> Option<Duration> {
        self.decide(op, attempt, elapsed, outcome).ok()
    }

    /// How long to wait before attempt `attempt + 1` (attempts count from 1), or why not to.
    pub fn decide(
        &self,
        op: &Operation,
        attempt: u32,
        elapsed: Duration,
        outcome: &Outcome,
    ) -> Result<Duration, GiveUp> {
        let delay = match outcome {
            // The server said when it will take the request again: never sooner.
            Outcome::Status(status, Some(after))
                if status.as_u16() == 429 || status.is_server_error() =>
            {
                Some(*after)
            }
            Outcome::Status(status, None) if status.as_u16() == 429 || status.is_server_error() => {
                None
            }
            Outcome::Status(..) => return Err(GiveUp::NotRetryable),
            Outcome::Timeout | Outcome::Connection => None,
        };
        if !(op.is_idempotent() || self.retry_non_idempotent) {
            return Err(GiveUp::NotIdempotent);
        }
        if attempt >= self.max_attempts {
            return Err(GiveUp::Attempts);
        }
        let delay = match delay {
            Some(after) if after > self.max_retry_after => return Err(GiveUp::RetryAfterTooLong),
            Some(after) => after,
            None => self.backoff(attempt),
        };
        if elapsed.saturating_add(delay) > self.max_elapsed {
            return Err(GiveUp::TimeBudget);
        }
        Ok(delay)
    }

    /// The backoff before attempt `attempt + 1`: `base * 2^(attempt-1)`, capped, with jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_delay);
        match self.jitter {
            Jitter::None => exponential,
            Jitter::Equal => {
                let half = exponential / 2;
                half + random_below(exponential - half)
            }
            Jitter::Full => random_below(exponential),
        }
    }
}

/// A uniformly random duration in `0..=max`. Jitter needs spread, not secrecy: std's per-call
/// randomly keyed hasher is enough and costs no extra dependency.
fn random_below(max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_nanos(random % nanos.saturating_add(1).max(1))
}

/// Parses `Retry-After` as delay-seconds or an HTTP date (a date in the past means now).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    parse_retry_after_at(value, chrono::Utc::now())
}

/// [`parse_retry_after`] against a given current time.
pub fn parse_retry_after_at(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // RFC 9110 allows only IMF-fixdate in new senders, but recipients must accept RFC 850 and
    // asctime dates too.
    let date = chrono::DateTime::parse_from_rfc2822(value)
        .map(|date| date.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT")
                .map(|naive| naive.and_utc())
        })
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(value, "%a %b %e %H:%M:%S %Y")
                .map(|naive| naive.and_utc())
        })
        .ok()?;
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_formats() {
        let now = chrono::DateTime::parse_from_rfc2822("Sun, 06 Nov 1994 08:49:30 GMT")
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        assert_eq!(parse_retry_after_at("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after_at("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after_at("Sunday, 06-Nov-94 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after_at("Sun Nov  6 08:49:37 1994", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after_at("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after_at("soon", now), None);
    }

    #[test]
    fn equal_jitter_stays_in_the_upper_half() {
        let policy =
            RetryPolicy::default().delays(Duration::from_millis(100), Duration::from_secs(10));
        for attempt in 1..8 {
            let exponential = Duration::from_millis(100) * (1 << (attempt - 1));
            let delay = policy.backoff(attempt);
            assert!(
                delay >= exponential / 2 && delay <= exponential,
                "{attempt}: {delay:?}"
            );
        }
    }
}
