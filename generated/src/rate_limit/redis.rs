//! Redis as the shared store: PostHog's sliding logs in sorted sets, taken atomically by a Lua
//! script that reads Redis's own clock.
//!
//! One sorted set per (credential, scope), scored by admission time in microseconds. The script
//! reads `TIME` (so processes on hosts with skewed clocks agree), trims each set to the window as
//! PostHog does (scores at or before `now - period` leave), refuses with the longest wait if any
//! set is full, and otherwise adds `now` to every set and sets its TTL to the period, so nothing
//! outlives its window. Redis runs a script alone, which makes the check-then-take of all scopes
//! one step for every process. Keys are `{prefix}:{<credential hash>}:<scope>`: the hash is
//! [`crate::Credentials::bucket_id`] (never the key), and the braces are a Redis Cluster hash tag
//! that puts every scope of a credential in one slot, as a multi-key script needs.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Acquire, ScopeLimit, SharedStore, StoreError};

/// KEYS: one sorted set per scope. ARGV[1]: a member suffix unique to this call; then per key
/// its limit and its period in microseconds. Returns 0 when taken, else the wait in microseconds.
const ACQUIRE: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local period = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local leaving = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local until_free = tonumber(leaving[2]) + period - now
    if until_free > wait then
      wait = until_free
    end
  end
end
if wait > 0 then
  return wait
end
local member = now .. ':' .. ARGV[1]
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 * i + 1]) / 1000))
end
return 0
";

/// A [`SharedStore`] in Redis (feature `redis`). Cheap to share behind an `Arc`; one connection,
/// multiplexed, reconnecting by itself after a Redis restart.
pub struct RedisStore {
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// Made on first use: the manager spawns a task, which needs the Tokio runtime that every
    /// acquire runs in but building the store may not.
    connection: tokio::sync::OnceCell<ConnectionManager>,
    script: redis::Script,
    prefix: String,
    /// Makes members unique across processes: two admissions in the same microsecond are two
    /// entries, not one.
    instance: String,
    calls: AtomicU64,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password; the prefix is enough to tell stores apart.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `url` (`redis://host:port/db`, `rediss://` for TLS is not compiled in) with the
    /// default prefix and timeouts. Connects on first use, so a Redis that is down at startup
    /// is handled by the limiter's [`super::StoreFailure`] policy like one that goes down later.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).build()
    }

    /// Configures a store at `url`.
    pub fn builder(url: &str) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.to_owned(),
            prefix: "posthog-api:rl".to_owned(),
            timeout: Duration::from_millis(500),
        }
    }
}

/// Configures a [`RedisStore`].
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// The start of every key (default `posthog-api:rl`), e.g. to separate environments
    /// sharing one Redis. Processes share a budget only with the same prefix.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long to wait for a connection or an answer before calling Redis unavailable
    /// (default 500 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the store (anywhere, in a Tokio runtime or not); fails only on a URL that does not
    /// parse.
    pub fn build(self) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(self.url.as_str()).map_err(unavailable)?;
        // Reconnection is left to the next acquire (which falls back meanwhile), so retries
        // here would only delay the fallback.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.timeout);
        Ok(RedisStore {
            client,
            config,
            connection: tokio::sync::OnceCell::new(),
            script: redis::Script::new(ACQUIRE),
            prefix: self.prefix,
            instance: uuid::Uuid::new_v4().simple().to_string(),
            calls: AtomicU64::new(0),
        })
    }
}

fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError {
        store: "redis",
        source: Box::new(error),
    }
}

impl SharedStore for RedisStore {
    fn try_acquire<'a>(
        &'a self,
        credential: u64,
        limits: &'a [ScopeLimit],
    ) -> Pin<Box<dyn Future<Output = Result<Acquire, StoreError>> + Send + 'a>> {
        Box::pin(async move {
            let call = self.calls.fetch_add(1, Ordering::Relaxed);
            let mut invocation = self.script.prepare_invoke();
            invocation.arg(format!("{}:{call}", self.instance));
            for limit in limits {
                invocation.key(format!(
                    "{}:{{{credential:016x}}}:{}",
                    self.prefix, limit.scope
                ));
                // Microseconds, rounded up so a window is never shorter than configured.
                let period = u64::try_from(limit.period.as_nanos().div_ceil(1000))
                    .unwrap_or(u64::MAX)
                    // Lua numbers are doubles: keep periods exact (2^53 µs is 285 years).
                    .min(1 << 53);
                invocation.arg(limit.requests).arg(period);
            }
            let mut connection = self
                .connection
                .get_or_try_init(|| async {
                    ConnectionManager::new_lazy_with_config(
                        self.client.clone(),
                        self.config.clone(),
                    )
                })
                .await
                .map_err(unavailable)?
                .clone();
            let wait: i64 = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(match u64::try_from(wait) {
                Ok(0) | Err(_) => Acquire::Taken,
                Ok(micros) => Acquire::Wait(Duration::from_micros(micros)),
            })
        })
    }
}
