//! Events per second captured through `Client::batch` against the fake's public endpoints over
//! loopback, with and without gzip, and the bytes each sends on the wire.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use posthog_api::public::{BatchOptions, Event};
use posthog_api::server::fake_public::FakePublic;
use posthog_api::{Client, Credentials, Region};

const PROJECT_KEY: &str = "phc_BenchProjectKey0123456789";
/// Events per `batch` call: one request of about 2.4 MB of JSON.
const EVENTS: usize = 10_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Events shaped like a typical server-side capture: a name, a distinct id among many, and a
/// handful of properties.
fn events() -> Vec<Event> {
    (0..EVENTS)
        .map(|i| {
            Event::new("order_completed", format!("user-{}", i % 1_000))
                .property("order_id", format!("ord-{i:08}"))
                .property("amount", (i % 500) as f64 + 0.99)
                .property("currency", "EUR")
                .property("plan", if i % 3 == 0 { "pro" } else { "free" })
                .property(
                    "$current_url",
                    format!("https://shop.example.com/checkout/{}", i % 50),
                )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let fake = FakePublic::new(PROJECT_KEY);
    let server = rt
        .block_on(fake.serve("127.0.0.1:0"))
        .expect("bind 127.0.0.1");
    let client = Client::new(
        Region::SelfHosted(server.base_url().clone()),
        Credentials::project_api_key(PROJECT_KEY),
    )
    .expect("client");
    let input = events();

    let mut group = c.benchmark_group("public_batch");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.measurement_time(Duration::from_secs(10));
    for (name, gzip) in [("plain_json", false), ("gzip", true)] {
        let options = BatchOptions::new().gzip(gzip);
        // One call outside the measurement, for the bytes on the wire.
        fake.clear();
        rt.block_on(client.batch_with(input.clone(), &options))
            .expect("batch");
        let requests = fake.requests();
        let wire: usize = requests.iter().map(|r| r.wire_bytes).sum();
        let json: usize = requests.iter().map(|r| r.json_bytes).sum();
        println!(
            "public_batch/{name}: {EVENTS} events in {} request(s), {wire} bytes on the wire ({:.1} per event), {json} bytes of JSON",
            requests.len(),
            wire as f64 / EVENTS as f64,
        );
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                // The fake keeps what it receives; forget it so memory stays flat.
                fake.clear();
                client.batch_with(input.clone(), &options)
            });
        });
    }
    group.finish();
    drop(server);
}

criterion_group!(benches, bench);
criterion_main!(benches);
