//! Memory the server spends looking for a `personal_api_key` in a JSON body, measured with a
//! counting allocator over a real request on 127.0.0.1. The server used to parse the whole body
//! into a `serde_json::Value` whenever it held the member's name or any `\u` escape, about 40
//! times the body; it now reads the body as a stream and builds only the member.
//!
//! One test per binary: the allocator counts the whole process. Before the change an 8 MB body
//! peaked at 453 MB more.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use posthog_api::server::Routes;

/// The system allocator, counting live bytes and their peak since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to `System` with the caller's own arguments; the counters are
// only arithmetic on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A JSON object of about `size` bytes made of many small objects (the shape that costs a `Value`
/// the most per byte), with a `\u` escape and the key member at the end.
fn body(size: usize) -> Vec<u8> {
    let mut out = String::with_capacity(size + 64);
    out.push_str(r#"{"items":["#);
    while out.len() < size {
        out.push_str(r#"{"a":1},"#);
    }
    out.push_str(r#"{"a":1}],"note":"\u0041","personal_api_key":"phx_in_the_body"}"#);
    out.into_bytes()
}

#[tokio::test]
async fn a_key_in_a_large_json_body_is_found_without_building_the_body() {
    let server = Routes::new().serve("127.0.0.1:0").await.expect("server");
    let http = reqwest::Client::new();
    let flags = format!("{}api/projects/1/feature_flags/", server.base_url());
    let size = 8 * 1024 * 1024;
    let payload = body(size);
    // Warm up connections and lazy statics, then measure one request from here.
    let _ = http.get(&flags).send().await.expect("answer");
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let answer = http
        .post(&flags)
        .header("content-type", "application/json")
        .body(payload)
        .send()
        .await
        .expect("answer");
    // Typed decoding refuses the body (no `key`); what matters is what reading it cost.
    assert_eq!(answer.status(), 400);
    let extra = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    println!("an {} MB body: peak {} MB more", size >> 20, extra >> 20);
    // The body in the client, in the server, and a copy while it streams: a few times its size.
    // As a `Value` it took over 40 times.
    assert!(
        extra < 5 * size,
        "reading an {} MB body peaked at {} MB more",
        size >> 20,
        extra >> 20
    );
    server.shutdown().await.expect("shutdown");
}
