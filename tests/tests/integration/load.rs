//! A load test bounded in count and time: 50 concurrent clients send 20,000 requests to the fake
//! PostHog over loopback; every one must succeed, and the latency percentiles are printed.

use std::time::{Duration, Instant};

use posthog_api::api::feature_flags::FeatureFlagsListQuery;
use posthog_api::api::persons::PersonsListQuery;
use posthog_api::server::fake::FakePostHog;

const CLIENTS: usize = 50;
const REQUESTS: usize = 20_000;
/// Generous for a debug build on two cores; a hang or a slow path fails the test.
const TIME_LIMIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_clients_twenty_thousand_requests_no_errors() {
    let fake = FakePostHog::default()
        .feature_flags(200)
        .persons(1_000)
        .serve()
        .await
        .expect("fake");
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(CLIENTS);
    for worker in 0..CLIENTS {
        // One client per worker: separate connection pools, as separate processes would have.
        let client = fake.client().expect("client");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(REQUESTS / CLIENTS);
            let mut errors = Vec::new();
            for i in 0..REQUESTS / CLIENTS {
                let sent = Instant::now();
                let n = worker * 1_000 + i;
                let outcome = match n % 10 {
                    0..=6 => client
                        .feature_flags_retrieve("1", (n % 200 + 1) as i64)
                        .await
                        .map(drop),
                    7 | 8 => {
                        let query = FeatureFlagsListQuery {
                            limit: Some(10),
                            offset: Some((n % 190) as i64),
                            ..Default::default()
                        };
                        client.feature_flags_list("1", &query).await.map(drop)
                    }
                    _ => {
                        let query = PersonsListQuery {
                            limit: Some(20),
                            offset: Some((n % 900) as i64),
                            ..Default::default()
                        };
                        client.persons_list("1", &query).await.map(drop)
                    }
                };
                latencies.push(sent.elapsed());
                if let Err(error) = outcome {
                    errors.push(error.to_string());
                }
            }
            (latencies, errors)
        }));
    }
    let results = tokio::time::timeout(TIME_LIMIT, futures::future::join_all(tasks))
        .await
        .expect("within the time limit");
    let mut latencies = Vec::with_capacity(REQUESTS);
    let mut errors = Vec::new();
    for result in results {
        let (mut worker_latencies, worker_errors) = result.expect("no worker panicked");
        latencies.append(&mut worker_latencies);
        errors.extend(worker_errors);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(latencies.len() - 1)]
    };
    println!(
        "load: {} requests from {CLIENTS} clients in {elapsed:.2?} ({:.0} req/s); p50 {:.2?}, p99 {:.2?}, max {:.2?}; {} errors",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
        errors.len()
    );
    assert_eq!(latencies.len(), REQUESTS);
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert!(elapsed < TIME_LIMIT, "{elapsed:?}");
}
