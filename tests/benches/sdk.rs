//! The SDK-style runtime: `CaptureQueue::capture` cost per event, events per second the queue
//! delivers to the fake over loopback, and a local evaluation of a flag with three conditions
//! against a remote `/flags` round trip on loopback.

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use posthog_api::public::local_flags::{EvaluationInput, FlagDefinitions};
use posthog_api::public::{CaptureQueueConfig, Event, FlagsOptions, Overflow};
use posthog_api::server::fake_public::{FakeFlag, FakePublic};
use posthog_api::{Client, Credentials, Region};
use serde_json::{Map, Value, json};

const PROJECT_KEY: &str = "phc_BenchProjectKey0123456789";
const DELIVERED: usize = 10_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn event(i: usize) -> Event {
    Event::new("order_completed", format!("user-{}", i % 1_000))
        .property("order_id", i as u64)
        .property("currency", "EUR")
}

/// A flag whose third condition is the one that matches: every filter runs.
fn three_conditions() -> Value {
    json!({"flags": [{
        "key": "pro-only", "active": true,
        "filters": {"groups": [
            {"properties": [{"key": "plan", "value": ["pro", "enterprise"], "operator": "exact", "type": "person"}], "rollout_percentage": 100},
            {"properties": [{"key": "email", "value": "@posthog.com", "operator": "icontains", "type": "person"}], "rollout_percentage": 100},
            {"properties": [{"key": "age", "value": 40, "operator": "gt", "type": "person"}], "rollout_percentage": 50}
        ]}
    }]})
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let fake = FakePublic::new(PROJECT_KEY);
    fake.add_flag(FakeFlag::boolean("pro-only", true));
    let server = rt
        .block_on(fake.serve("127.0.0.1:0"))
        .expect("bind 127.0.0.1");
    let client = Client::new(
        Region::SelfHosted(server.base_url().clone()),
        Credentials::project_api_key(PROJECT_KEY),
    )
    .expect("client");

    let mut group = c.benchmark_group("capture_queue");
    {
        // Never sends during the measurement; the oldest event makes room past the default
        // bound. Its own fake takes the at most 10,000 events left when it is dropped.
        let _guard = rt.enter();
        let sink = FakePublic::new(PROJECT_KEY);
        let sink_server = rt.block_on(sink.serve("127.0.0.1:0")).expect("bind");
        let sink_client = Client::new(
            Region::SelfHosted(sink_server.base_url().clone()),
            Credentials::project_api_key(PROJECT_KEY),
        )
        .expect("client");
        let queue = sink_client
            .capture_queue(
                CaptureQueueConfig::new()
                    .flush_at(usize::MAX)
                    .flush_interval(Duration::from_secs(3600))
                    .overflow(Overflow::DropOldest),
            )
            .expect("queue");
        let mut i = 0usize;
        group.throughput(Throughput::Elements(1));
        // The event is built outside the measurement: this is capture() alone (hook, check,
        // UUID and timestamp stamping, the bounded push).
        group.bench_function("enqueue", |b| {
            b.iter_batched(
                || {
                    i += 1;
                    event(i)
                },
                |event| queue.capture(event),
                BatchSize::SmallInput,
            )
        });
        rt.block_on(queue.shutdown());
    }
    group.throughput(Throughput::Elements(DELIVERED as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("deliver_10k_to_fake", |b| {
        b.to_async(&rt).iter(|| async {
            fake.clear();
            let queue = client
                .capture_queue(CaptureQueueConfig::new())
                .expect("queue");
            for i in 0..DELIVERED {
                let _ = queue.capture(event(i));
            }
            queue.shutdown().await;
            assert_eq!(fake.event_count(), DELIVERED);
        })
    });
    group.finish();

    let mut group = c.benchmark_group("flag_evaluation");
    let definitions = FlagDefinitions::from_json(&three_conditions()).expect("definitions");
    let mut person = Map::new();
    person.insert("plan".into(), json!("free"));
    person.insert("email".into(), json!("someone@example.com"));
    person.insert("age".into(), json!(41));
    let groups = BTreeMap::new();
    let input = EvaluationInput::new("user-42")
        .person_properties(&person)
        .groups(&groups);
    group.bench_function("local_three_conditions", |b| {
        b.iter(|| definitions.evaluate("pro-only", &input))
    });
    let options = FlagsOptions::new().person_property("plan", "free");
    group.bench_function("remote_flags_loopback", |b| {
        b.to_async(&rt)
            .iter(|| async { client.flags("user-42", &options).await.expect("flags") })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
