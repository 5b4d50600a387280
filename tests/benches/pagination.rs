//! Auto-pagination throughput and memory: streaming 100,000 items from a loopback server through
//! `Pages::items` against a hand-written loop of raw reqwest + serde_json over the same pages,
//! and the peak heap of each at 10,000 and 100,000 items.
//!
//! Run with `cargo bench -p posthog-api-tests --bench pagination`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use criterion::{Criterion, Throughput};
use futures::StreamExt as _;
use posthog_api::pagination::{Pages, PaginationStyle};
use posthog_api::rate_limit::RateLimiter;
use posthog_api::retry::RetryPolicy;
use posthog_api::{Client, Credentials, Operation, Region};
use serde::Deserialize;

/// Counts live heap bytes and their peak, so memory can be compared across item counts.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            if new_size >= layout.size() {
                let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

static OP: Operation = Operation::private(
    "persons_list",
    http::Method::GET,
    "/api/projects/{project_id}/persons/",
    "persons",
    &["person:read"],
    &[],
);

const PATH: &str = "/api/projects/1/persons/";
/// PostHog's default page size.
const PAGE: u64 = 100;
const TOTAL: u64 = 100_000;

/// Every page body of a listing, by page index, rendered once before anything is measured so
/// the server adds no per-item work and no heap growth.
struct PageBodies(Vec<String>);

fn render(base: &str, total: u64) -> PageBodies {
    let mut pages = Vec::new();
    let mut offset = 0;
    loop {
        let end = (offset + PAGE).min(total);
        let next = if end < total {
            format!("\"{base}{PATH}?limit={PAGE}&offset={end}\"")
        } else {
            "null".to_owned()
        };
        let mut body = format!(r#"{{"count":{total},"next":{next},"previous":null,"results":["#);
        for id in offset..end {
            if id > offset {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"id":{id},"uuid":"0190a5c4-7e2b-7d3a-9f1e-{id:012}","name":"person-{id}","email":"p{id}@example.com","is_identified":true}}"#
            ));
        }
        body.push_str("]}");
        pages.push(body);
        if end >= total {
            return PageBodies(pages);
        }
        offset = end;
    }
}

#[derive(Deserialize)]
struct OffsetQuery {
    offset: Option<u64>,
}

async fn list(State(pages): State<Arc<PageBodies>>, Query(query): Query<OffsetQuery>) -> Response {
    let index = (query.offset.unwrap_or(0) / PAGE) as usize;
    match pages.0.get(index) {
        Some(body) => ([("content-type", "application/json")], body.clone()).into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// Starts a server for a listing of `total` items and returns its base URL.
async fn serve(total: u64) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let pages = Arc::new(render(&base, total));
    let app = axum::Router::new().route(PATH, get(list)).with_state(pages);
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Person {
    id: u64,
    uuid: String,
    name: String,
    email: String,
    is_identified: bool,
}

#[derive(Deserialize)]
struct RawPage {
    next: Option<String>,
    results: Vec<Person>,
}

fn client(base: &str) -> Client {
    Client::builder(Region::SelfHosted(base.parse().expect("base URL")))
        .credentials(Credentials::personal_api_key("phx_bench"))
        .rate_limiter(RateLimiter::disabled())
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("client")
}

async fn stream(client: &Client, prefetch: bool) -> u64 {
    let pages: Pages<Person> = client
        .operation(&OP)
        .project("1")
        .pages(PaginationStyle::LimitOffset);
    let mut items = pages.prefetch(prefetch).items();
    let mut count = 0;
    while let Some(item) = items.next().await {
        black_box(item.expect("item"));
        count += 1;
    }
    count
}

/// What a user would write without the client: follow `next` with reqwest and serde_json.
async fn raw_loop(http: &reqwest::Client, base: &str) -> u64 {
    let mut url = format!("{base}{PATH}");
    let mut count = 0;
    loop {
        let body = http
            .get(&url)
            .bearer_auth("phx_bench")
            .send()
            .await
            .expect("send")
            .error_for_status()
            .expect("status")
            .bytes()
            .await
            .expect("body");
        let page: RawPage = serde_json::from_slice(&body).expect("page");
        for item in page.results {
            black_box(item);
            count += 1;
        }
        match page.next {
            Some(next) => url = next,
            None => return count,
        }
    }
}

/// Peak heap growth, in bytes, while `run` streams a listing of `total` items.
fn peak_growth<F: AsyncFnOnce(String) -> u64>(
    runtime: &tokio::runtime::Runtime,
    total: u64,
    run: F,
) -> usize {
    runtime.block_on(async {
        let base = serve(total).await;
        // The rendered pages are part of the baseline: only what streaming adds is counted.
        let baseline = CURRENT.load(Ordering::SeqCst);
        PEAK.store(baseline, Ordering::SeqCst);
        let count = run(base).await;
        assert_eq!(count, total);
        PEAK.load(Ordering::SeqCst).saturating_sub(baseline)
    })
}

fn memory_report(runtime: &tokio::runtime::Runtime) {
    for total in [10_000, TOTAL] {
        let items = peak_growth(runtime, total, async |base| {
            stream(&client(&base), false).await
        });
        let prefetch = peak_growth(runtime, total, async |base| {
            stream(&client(&base), true).await
        });
        let raw = peak_growth(runtime, total, async |base| {
            raw_loop(&reqwest::Client::new(), &base).await
        });
        println!(
            "peak heap growth, {total:>6} items: Pages::items {:>7} KiB, with prefetch {:>7} KiB, raw reqwest loop {:>7} KiB",
            items / 1024,
            prefetch / 1024,
            raw / 1024
        );
    }
}

fn throughput(c: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    let base = runtime.block_on(serve(TOTAL));
    let posthog = client(&base);
    let http = reqwest::Client::new();
    let mut group = c.benchmark_group("stream_100k_items");
    group.throughput(Throughput::Elements(TOTAL));
    group.sample_size(10);
    group.bench_function("raw_reqwest_serde_json", |b| {
        b.to_async(runtime).iter(|| raw_loop(&http, &base));
    });
    group.bench_function("pages_items", |b| {
        b.to_async(runtime).iter(|| stream(&posthog, false));
    });
    group.bench_function("pages_items_prefetch", |b| {
        b.to_async(runtime).iter(|| stream(&posthog, true));
    });
    group.finish();
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    memory_report(&runtime);
    let mut criterion = Criterion::default().configure_from_args();
    throughput(&mut criterion, &runtime);
    criterion.final_summary();
}
