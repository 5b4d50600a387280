//! The end-to-end tests as one test binary: each module was once its own binary, and each binary
//! linked the whole `posthog-api` crate with all features, so one binary builds and links once
//! where 27 did (numbers in ARCHITECTURE.md). Run one module with a filter:
//! `cargo test -p posthog-api-tests --test integration -- hardening::`.
//!
//! Tests share this process: state that is global to it (the tracing subscriber, a
//! once-per-process warning) is set up once in `wire` or checked in a child process of its own
//! (`wire::run_alone`). `server_body_memory.rs` stays a binary of its own: it replaces the global
//! allocator to count the whole process.

mod wire;

mod auth;
mod capture_queue;
mod client_decode;
mod decode_fuzz;
mod errors;
mod fake_posthog;
mod fake_public_wire;
mod hardening;
mod hogql;
mod load;
mod local_flags;
mod local_flags_client;
mod multipart_upload;
mod overlaid_operations;
mod pagination;
mod params_wire;
mod public;
mod python_sdk;
mod rate_limit;
mod rate_limit_exact;
mod rate_limit_redis;
mod raw;
mod retry;
mod server_hardening;
mod server_routes;
mod types_decode;
mod write_fields;
