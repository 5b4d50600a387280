//! A background capture queue, as PostHog's server SDKs capture: [`CaptureQueue::capture`]
//! stamps the event and returns at once, and a tokio task sends `/batch/` requests when
//! `flush_at` events wait or every `flush_interval`, retrying what a retry can fix.
//!
//! Defaults follow posthog-python 7.91 (`client.py`, `consumer.py`): batches of 100, a flush
//! every 5 s, a queue of 10,000 events that drops the newest when full, 3 retries of 5xx, 408,
//! 429 and network failures with `min(2^attempt, 30)` s backoff where a `Retry-After` is the
//! minimum wait, and no retry of other 4xx. Unlike that SDK, bodies are gzip-compressed by
//! default (PostHog's capture accepts them; event JSON shrinks about tenfold).
//!
//! ```no_run
//! use posthog_api::public::{CaptureQueueConfig, Event};
//! # async fn run(client: posthog_api::Client) -> posthog_api::Result<()> {
//! let queue = client.capture_queue(CaptureQueueConfig::new())?;
//! queue.capture(Event::new("signed_up", "user-1"))?;
//! queue.shutdown().await; // delivers everything queued
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, mpsc, oneshot};
use uuid::Uuid;

use super::{BATCH_ENVELOPE_RESERVE, Event, json_len};
use crate::client::{Client, MAX_BODY_BYTES};
use crate::error::{Error, Result};
use crate::generated::operations::PUBLIC_BATCH;
use crate::generated::types;

/// What to do with an event captured while the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Keep what is queued and drop the new event (posthog-python's behaviour).
    DropNewest,
    /// Drop the oldest queued event to make room for the new one.
    DropOldest,
}

/// Edits or drops an event before it is queued: return `None` to drop it.
pub type BeforeSend = Arc<dyn Fn(Event) -> Option<Event> + Send + Sync>;

/// How a [`CaptureQueue`] batches, bounds and retries.
#[derive(Clone)]
pub struct CaptureQueueConfig {
    flush_at: usize,
    flush_interval: Duration,
    capacity: usize,
    overflow: Overflow,
    max_retries: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    gzip: bool,
    max_body_bytes: usize,
    before_send: Option<BeforeSend>,
}

impl fmt::Debug for CaptureQueueConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureQueueConfig")
            .field("flush_at", &self.flush_at)
            .field("flush_interval", &self.flush_interval)
            .field("capacity", &self.capacity)
            .field("overflow", &self.overflow)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("gzip", &self.gzip)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("before_send", &self.before_send.is_some())
            .finish()
    }
}

impl Default for CaptureQueueConfig {
    fn default() -> Self {
        Self {
            flush_at: 100,
            flush_interval: Duration::from_secs(5),
            capacity: 10_000,
            overflow: Overflow::DropNewest,
            max_retries: 3,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            gzip: true,
            max_body_bytes: MAX_BODY_BYTES,
            before_send: None,
        }
    }
}

impl CaptureQueueConfig {
    /// The defaults (see the module documentation).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends a batch as soon as this many events wait (at least 1); also the most events
    /// one request carries.
    pub fn flush_at(mut self, events: usize) -> Self {
        self.flush_at = events.max(1);
        self
    }

    /// Sends whatever waits this often (at least 1 ms).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The most events that may wait (at least 1); see [`Self::overflow`].
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events.max(1);
        self
    }

    /// What a full queue does with a new event.
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// Retries per request after the first attempt.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first retry waits `base`, each next one twice as long, never more than `max`
    /// (which also caps a server's `Retry-After`).
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max.max(base);
        self
    }

    /// Whether request bodies are gzip-compressed (on by default).
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// Caps each request's JSON below PostHog's 20 MB (larger values count as 20 MB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes.min(MAX_BODY_BYTES);
        self
    }

    /// Runs `hook` on every event as it is captured; it may edit the event or drop it (`None`).
    pub fn before_send(
        mut self,
        hook: impl Fn(Event) -> Option<Event> + Send + Sync + 'static,
    ) -> Self {
        self.before_send = Some(Arc::new(hook));
        self
    }
}

/// What became of one [`CaptureQueue::capture`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Captured {
    /// Queued with this UUID, which every retry of it carries.
    Queued(Uuid),
    /// Not queued.
    Dropped(DropReason),
}

/// Why an event was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The `before_send` hook dropped it.
    BeforeSend,
    /// The queue was full and the policy is [`Overflow::DropNewest`].
    QueueFull,
    /// The queue was shut down.
    Closed,
}

/// Counters of a [`CaptureQueue`], read with [`CaptureQueue::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Events queued.
    pub queued: u64,
    /// Events PostHog acknowledged.
    pub delivered: u64,
    /// Events dropped because the queue was full (the new ones or the oldest, per policy).
    pub dropped_overflow: u64,
    /// Events the `before_send` hook dropped.
    pub dropped_by_hook: u64,
    /// Events given up on: refused (e.g. 400), retries exhausted, or too large to send alone.
    pub failed: u64,
    /// Batch requests sent, retries included.
    pub requests: u64,
    /// Of those, retries.
    pub retries: u64,
}

#[derive(Default)]
struct Counters {
    queued: AtomicU64,
    delivered: AtomicU64,
    dropped_overflow: AtomicU64,
    dropped_by_hook: AtomicU64,
    failed: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, amount: usize) {
        counter.fetch_add(u64::try_from(amount).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

struct Shared {
    queue: Mutex<VecDeque<Event>>,
    wake: Notify,
    closed: AtomicBool,
    counters: Counters,
    config: CaptureQueueConfig,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Event>> {
        // Pushing and popping cannot leave the deque half-changed; keep going after a panic.
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Up to `limit` events from the front, or none when fewer than `at_least` wait.
    fn take(&self, at_least: usize, limit: usize) -> Vec<Event> {
        let mut queue = self.lock();
        if queue.is_empty() || queue.len() < at_least {
            return Vec::new();
        }
        let count = queue.len().min(limit);
        queue.drain(..count).collect()
    }
}

enum Control {
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// Captures events in the background; see the module documentation. Cheap to clone: clones
/// share one queue and one sending task.
#[derive(Clone)]
pub struct CaptureQueue {
    shared: Arc<Shared>,
    control: mpsc::UnboundedSender<Control>,
}

impl fmt::Debug for CaptureQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureQueue")
            .field("len", &self.len())
            .field("stats", &self.stats())
            .field("config", &self.shared.config)
            .finish()
    }
}

impl Client {
    /// Starts a [`CaptureQueue`] sending through this client's public host with its project
    /// key. Must be called inside a tokio runtime, which runs the sending task.
    pub fn capture_queue(&self, config: CaptureQueueConfig) -> Result<CaptureQueue> {
        self.require_project_key(PUBLIC_BATCH.id)?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| Error::InvalidArgument {
                operation: PUBLIC_BATCH.id,
                field: "runtime".into(),
                reason: "a capture queue runs its sending task on tokio: start it inside a runtime"
                    .into(),
            })?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::with_capacity(config.capacity.min(16_384))),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            counters: Counters::default(),
            config,
        });
        let (control, commands) = mpsc::unbounded_channel();
        let worker = Worker {
            shared: Arc::clone(&shared),
            client: self.clone(),
        };
        runtime.spawn(worker.run(commands));
        Ok(CaptureQueue { shared, control })
    }
}

impl CaptureQueue {
    /// Queues `event` without waiting: runs `before_send`, checks it (an empty name or distinct
    /// id is an error), stamps its UUID and timestamp, and applies the overflow policy.
    pub fn capture(&self, event: Event) -> Result<Captured> {
        let shared = &*self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Ok(Captured::Dropped(DropReason::Closed));
        }
        let event = match &shared.config.before_send {
            Some(hook) => match hook(event) {
                Some(event) => event,
                None => {
                    Counters::add(&shared.counters.dropped_by_hook, 1);
                    return Ok(Captured::Dropped(DropReason::BeforeSend));
                }
            },
            None => event,
        };
        let mut event = event;
        event.check(PUBLIC_BATCH.id, "")?;
        event.stamp_at(Utc::now().fixed_offset());
        let uuid = event.uuid.unwrap_or_else(Uuid::new_v4);
        let (len, dropped) = {
            let mut queue = shared.lock();
            if queue.len() >= shared.config.capacity {
                match shared.config.overflow {
                    Overflow::DropNewest => (queue.len(), true),
                    Overflow::DropOldest => {
                        queue.pop_front();
                        queue.push_back(event);
                        (queue.len(), true)
                    }
                }
            } else {
                queue.push_back(event);
                (queue.len(), false)
            }
        };
        if dropped {
            self.report_overflow();
            if shared.config.overflow == Overflow::DropNewest {
                return Ok(Captured::Dropped(DropReason::QueueFull));
            }
        }
        Counters::add(&shared.counters.queued, 1);
        if len >= shared.config.flush_at {
            shared.wake.notify_one();
        }
        Ok(Captured::Queued(uuid))
    }

    /// Counts a dropped event, logging the first and then every 1,000th so a flood of drops
    /// cannot flood the log too.
    fn report_overflow(&self) {
        let counters = &self.shared.counters;
        let before = counters.dropped_overflow.fetch_add(1, Ordering::Relaxed);
        if before.is_multiple_of(1_000) {
            tracing::warn!(
                dropped_total = before + 1,
                capacity = self.shared.config.capacity,
                policy = ?self.shared.config.overflow,
                "the capture queue is full; dropping events"
            );
        }
    }

    /// Sends everything queued now and waits until it was delivered or given up on.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.control.send(Control::Flush(done)).is_ok() {
            // The worker answers once the queue is empty; a closed channel means it stopped.
            let _ = wait.await;
        }
    }

    /// Refuses new events, sends everything queued and stops the sending task.
    pub async fn shutdown(&self) {
        self.shared.closed.store(true, Ordering::Release);
        let (done, wait) = oneshot::channel();
        if self.control.send(Control::Shutdown(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> QueueStats {
        let counters = &self.shared.counters;
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        QueueStats {
            queued: read(&counters.queued),
            delivered: read(&counters.delivered),
            dropped_overflow: read(&counters.dropped_overflow),
            dropped_by_hook: read(&counters.dropped_by_hook),
            failed: read(&counters.failed),
            requests: read(&counters.requests),
            retries: read(&counters.retries),
        }
    }

    /// Events waiting to be sent.
    pub fn len(&self) -> usize {
        self.shared.lock().len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Worker {
    shared: Arc<Shared>,
    client: Client,
}

impl Worker {
    async fn run(self, mut commands: mpsc::UnboundedReceiver<Control>) {
        let mut ticker = tokio::time::interval(self.shared.config.flush_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                () = self.shared.wake.notified() => self.send_full_batches().await,
                _ = ticker.tick() => self.drain().await,
                command = commands.recv() => match command {
                    Some(Control::Flush(done)) => {
                        self.drain().await;
                        let _ = done.send(());
                    }
                    Some(Control::Shutdown(done)) => {
                        self.drain().await;
                        let _ = done.send(());
                        return;
                    }
                    // Every handle is gone: deliver what is left, then stop.
                    None => {
                        self.drain().await;
                        return;
                    }
                },
            }
        }
    }

    /// Sends batches while at least `flush_at` events wait.
    async fn send_full_batches(&self) {
        let flush_at = self.shared.config.flush_at;
        loop {
            let batch = self.shared.take(flush_at, flush_at);
            if batch.is_empty() {
                return;
            }
            self.send(batch).await;
        }
    }

    /// Sends everything queued.
    async fn drain(&self) {
        let flush_at = self.shared.config.flush_at;
        loop {
            let batch = self.shared.take(1, flush_at);
            if batch.is_empty() {
                return;
            }
            self.send(batch).await;
        }
    }

    /// Sends `events` in as many requests as the body limit needs, each with retries.
    async fn send(&self, events: Vec<Event>) {
        let counters = &self.shared.counters;
        for chunk in self.chunks(events) {
            let count = chunk.len();
            let body = types::BatchRequest {
                api_key: None,
                historical_migration: Some(false),
                batch: chunk,
            };
            match self.send_with_retries(&body).await {
                Ok(()) => Counters::add(&counters.delivered, count),
                Err(error) => {
                    Counters::add(&counters.failed, count);
                    tracing::warn!(events = count, %error, "a capture batch was given up on");
                }
            }
        }
    }

    /// Splits events into request bodies under the size limit; an event too large for any
    /// request is counted as failed rather than holding up the rest.
    fn chunks(&self, events: Vec<Event>) -> Vec<Vec<types::CaptureEvent>> {
        let operation = PUBLIC_BATCH.id;
        let budget = self
            .shared
            .config
            .max_body_bytes
            .saturating_sub(BATCH_ENVELOPE_RESERVE);
        let mut chunks = Vec::new();
        let mut current = Vec::new();
        let mut used = 0usize;
        for event in events {
            let item = event.into_batch_item();
            let size = match json_len(&item, operation, "event") {
                Ok(size) if size <= budget => size,
                Ok(size) => {
                    Counters::add(&self.shared.counters.failed, 1);
                    tracing::warn!(
                        size,
                        budget,
                        "a captured event is too large for any batch request; dropped"
                    );
                    continue;
                }
                Err(error) => {
                    Counters::add(&self.shared.counters.failed, 1);
                    tracing::warn!(%error, "a captured event cannot be encoded; dropped");
                    continue;
                }
            };
            if !current.is_empty() && used + 1 + size > budget {
                chunks.push(std::mem::take(&mut current));
                used = 0;
            }
            used += usize::from(!current.is_empty()) + size;
            current.push(item);
        }
        if !current.is_empty() {
            chunks.push(current);
        }
        chunks
    }

    async fn send_with_retries(&self, body: &types::BatchRequest) -> Result<()> {
        let config = &self.shared.config;
        let counters = &self.shared.counters;
        let mut attempt = 0u32;
        loop {
            let mut request = self.client.__op(&PUBLIC_BATCH, &[]).json(body);
            if config.gzip {
                request = request.__gzip();
            }
            Counters::add(&counters.requests, 1);
            let error = match request.send_value().await {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            if attempt >= config.max_retries || !retryable(&error) {
                return Err(error);
            }
            let wait = backoff(config, attempt, &error);
            tracing::debug!(attempt, ?wait, %error, "retrying a capture batch");
            tokio::time::sleep(wait).await;
            attempt += 1;
            Counters::add(&counters.retries, 1);
        }
    }
}

/// 5xx, 429, 408 and failures without an answer are worth retrying; other 4xx are not
/// (posthog-python `consumer.py` `is_retryable`).
fn retryable(error: &Error) -> bool {
    error.is_retryable() || error.status().is_some_and(|status| status.as_u16() == 408)
}

/// `base * 2^attempt`, capped; a server's `Retry-After` (also capped) is the least wait.
fn backoff(config: &CaptureQueueConfig, attempt: u32, error: &Error) -> Duration {
    let exponential = config
        .backoff_base
        .saturating_mul(1u32 << attempt.min(20))
        .min(config.backoff_max);
    let asked = error
        .api_error()
        .and_then(|api| api.retry_after)
        .map_or(Duration::ZERO, |after| after.min(config.backoff_max));
    exponential.max(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let config =
            CaptureQueueConfig::new().backoff(Duration::from_secs(1), Duration::from_secs(30));
        let error = Error::InvalidArgument {
            operation: "x",
            field: String::new(),
            reason: String::new(),
        };
        let waits: Vec<u64> = (0..7)
            .map(|attempt| backoff(&config, attempt, &error).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
    }
}
