//! The background capture queue against the fake's public endpoints on 127.0.0.1: delivery
//! exactly once from many tasks, retries of 503 but not of 400, shutdown and flush, overflow
//! policies and their counter, `before_send`, and batching by count and by time.

use std::collections::HashSet;
use std::time::Duration;

use posthog_api::public::{
    CaptureQueue, CaptureQueueConfig, Captured, DropReason, Event, Overflow,
};
use posthog_api::server::RunningServer;
use posthog_api::server::fake_public::{self, FakePublic};
use posthog_api::{Client, Credentials, Region};
use serde_json::json;

const PROJECT_KEY: &str = "phc_QueueTestProjectKey0123456789";

async fn setup() -> (FakePublic, RunningServer, Client) {
    let fake = FakePublic::new(PROJECT_KEY);
    let server = fake.serve("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let client = Client::new(
        Region::SelfHosted(server.base_url().clone()),
        Credentials::project_api_key(PROJECT_KEY),
    )
    .expect("client");
    (fake, server, client)
}

/// A queue that sends only when told (or full), with fast retries.
fn manual() -> CaptureQueueConfig {
    CaptureQueueConfig::new()
        .flush_at(1_000_000)
        .flush_interval(Duration::from_secs(3600))
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
}

fn event(i: usize) -> Event {
    Event::new("e", format!("user-{i}")).property("i", i)
}

fn indices(fake: &FakePublic) -> Vec<u64> {
    fake.events()
        .iter()
        .filter_map(|e| e.properties.get("i").and_then(|i| i.as_u64()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_thousand_events_from_eight_tasks_arrive_exactly_once() {
    let (fake, _server, client) = setup().await;
    let queue = client
        .capture_queue(CaptureQueueConfig::new().capacity(100_000))
        .expect("queue");
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let queue = queue.clone();
            tokio::spawn(async move {
                for i in 0..12_500 {
                    let index = task * 12_500 + i;
                    let captured = queue.capture(event(index)).expect("valid");
                    assert!(matches!(captured, Captured::Queued(_)));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    queue.shutdown().await;
    let events = fake.events();
    assert_eq!(events.len(), 100_000);
    let uuids: HashSet<_> = events.iter().filter_map(|e| e.uuid).collect();
    assert_eq!(
        uuids.len(),
        100_000,
        "every event once, each with its own UUID"
    );
    let seen: HashSet<u64> = indices(&fake).into_iter().collect();
    assert_eq!(seen, (0..100_000).collect::<HashSet<u64>>());
    let stats = queue.stats();
    assert_eq!(
        (stats.queued, stats.delivered, stats.failed),
        (100_000, 100_000, 0)
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.events <= 100 && r.content_encoding.as_deref() == Some("gzip")),
        "batches of at most flush_at events, gzip-compressed"
    );
}

#[tokio::test]
async fn two_503s_then_success_lose_nothing_and_resend_the_same_uuids() {
    let (fake, _server, client) = setup().await;
    fake.fail_next(fake_public::fetch_team_fail());
    fake.fail_next(fake_public::fetch_team_fail());
    let queue = client.capture_queue(manual()).expect("queue");
    let mut sent = Vec::new();
    for i in 0..250 {
        if let Captured::Queued(uuid) = queue.capture(event(i)).expect("valid") {
            sent.push(uuid);
        }
    }
    queue.flush().await;
    let received: Vec<_> = fake.events().iter().filter_map(|e| e.uuid).collect();
    assert_eq!(
        received, sent,
        "all delivered, in order, with their enqueue-time UUIDs"
    );
    let stats = queue.stats();
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.delivered, 250);
    assert_eq!(stats.failed, 0);
    // One batch (flush_at is above 250): two failed attempts, then the one that succeeds.
    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(requests[2].events, 250);
}

#[tokio::test]
async fn a_400_is_not_retried_and_counts_as_failed() {
    let (fake, _server, client) = setup().await;
    fake.fail_next(fake_public::invalid_payload("bad", None));
    let queue = client.capture_queue(manual().flush_at(10)).expect("queue");
    for i in 0..10 {
        let _ = queue.capture(event(i)).expect("valid");
    }
    queue.flush().await;
    let stats = queue.stats();
    assert_eq!((stats.requests, stats.retries, stats.failed), (1, 0, 10));
    assert_eq!(fake.event_count(), 0);
}

#[tokio::test]
async fn retries_stop_after_max_retries() {
    let (fake, _server, client) = setup().await;
    for _ in 0..10 {
        fake.fail_next(fake_public::fetch_team_fail());
    }
    let queue = client
        .capture_queue(manual().max_retries(2))
        .expect("queue");
    let _ = queue.capture(event(0)).expect("valid");
    queue.flush().await;
    let stats = queue.stats();
    assert_eq!((stats.requests, stats.retries, stats.failed), (3, 2, 1));
}

#[tokio::test]
async fn shutdown_delivers_everything_queued_and_refuses_more() {
    let (fake, _server, client) = setup().await;
    let queue = client.capture_queue(manual()).expect("queue");
    for i in 0..1234 {
        let _ = queue.capture(event(i)).expect("valid");
    }
    assert_eq!(fake.event_count(), 0, "nothing sent before the flush");
    queue.shutdown().await;
    assert_eq!(indices(&fake), (0..1234).collect::<Vec<u64>>());
    assert_eq!(
        queue.capture(event(9)).expect("valid"),
        Captured::Dropped(DropReason::Closed)
    );
}

#[tokio::test]
async fn overflow_drop_newest_keeps_the_first_and_counts_the_rest() {
    let (fake, _server, client) = setup().await;
    let queue = client
        .capture_queue(manual().capacity(10).overflow(Overflow::DropNewest))
        .expect("queue");
    let outcomes: Vec<Captured> = (0..15)
        .map(|i| queue.capture(event(i)).expect("valid"))
        .collect();
    assert!(
        outcomes[..10]
            .iter()
            .all(|o| matches!(o, Captured::Queued(_)))
    );
    assert!(
        outcomes[10..]
            .iter()
            .all(|o| *o == Captured::Dropped(DropReason::QueueFull))
    );
    assert_eq!(queue.stats().dropped_overflow, 5);
    queue.shutdown().await;
    assert_eq!(indices(&fake), (0..10).collect::<Vec<u64>>());
}

#[tokio::test]
async fn overflow_drop_oldest_keeps_the_last_and_counts_the_rest() {
    let (fake, _server, client) = setup().await;
    let queue = client
        .capture_queue(manual().capacity(10).overflow(Overflow::DropOldest))
        .expect("queue");
    for i in 0..15 {
        assert!(matches!(
            queue.capture(event(i)).expect("valid"),
            Captured::Queued(_)
        ));
    }
    assert_eq!(queue.stats().dropped_overflow, 5);
    queue.shutdown().await;
    assert_eq!(indices(&fake), (5..15).collect::<Vec<u64>>());
}

#[tokio::test]
async fn before_send_edits_and_drops() {
    let (fake, _server, client) = setup().await;
    let queue = client
        .capture_queue(manual().before_send(|event| {
            if event.name() == "secret" {
                return None;
            }
            Some(event.property("edited", true))
        }))
        .expect("queue");
    assert_eq!(
        queue.capture(Event::new("secret", "u")).expect("valid"),
        Captured::Dropped(DropReason::BeforeSend)
    );
    let _ = queue.capture(Event::new("kept", "u")).expect("valid");
    queue.shutdown().await;
    let events = fake.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "kept");
    assert_eq!(events[0].properties.get("edited"), Some(&json!(true)));
    assert_eq!(queue.stats().dropped_by_hook, 1);
}

#[tokio::test]
async fn invalid_events_are_refused_at_capture() {
    let (_fake, _server, client) = setup().await;
    let queue = client.capture_queue(manual()).expect("queue");
    assert!(queue.capture(Event::new("", "u")).is_err());
    assert!(queue.capture(Event::new("e", " ")).is_err());
    assert_eq!(queue.stats().queued, 0);
}

async fn wait_for(fake: &FakePublic, count: usize) -> bool {
    for _ in 0..500 {
        if fake.event_count() >= count {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn a_full_batch_is_sent_without_a_flush() {
    let (fake, _server, client) = setup().await;
    let queue: CaptureQueue = client.capture_queue(manual().flush_at(100)).expect("queue");
    for i in 0..100 {
        let _ = queue.capture(event(i)).expect("valid");
    }
    assert!(
        wait_for(&fake, 100).await,
        "sent when flush_at events waited"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_partial_batch_is_sent_after_the_interval() {
    let (fake, _server, client) = setup().await;
    let queue = client
        .capture_queue(manual().flush_interval(Duration::from_millis(50)))
        .expect("queue");
    let _ = queue.capture(event(1)).expect("valid");
    assert!(wait_for(&fake, 1).await, "sent by the timer");
}

#[tokio::test]
async fn large_events_split_into_requests_under_the_body_limit() {
    let (fake, _server, client) = setup().await;
    let queue = client
        .capture_queue(manual().max_body_bytes(64 * 1024))
        .expect("queue");
    for i in 0..60 {
        let _ = queue
            .capture(event(i).property("pad", "x".repeat(4_000)))
            .expect("valid");
    }
    // One too large for any request: dropped and counted, the rest still go.
    let _ = queue
        .capture(event(60).property("pad", "x".repeat(100_000)))
        .expect("valid");
    queue.shutdown().await;
    assert_eq!(fake.event_count(), 60);
    assert!(fake.requests().iter().all(|r| r.json_bytes <= 64 * 1024));
    assert!(fake.requests().len() >= 4);
    assert_eq!(queue.stats().failed, 1);
}
