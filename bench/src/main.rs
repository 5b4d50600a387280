//! `posthog-api-bench`: parses the command line and runs the benchmark (or, when cargo starts it
//! as the rustc wrapper, runs rustc and records its peak memory).

use clap::Parser;

fn main() -> anyhow::Result<()> {
    // Cargo starts this same binary as `RUSTC_WORKSPACE_WRAPPER` during the timed checks; that
    // mode must come first, since its arguments are rustc's, not ours.
    if let Some(outcome) = posthog_api_bench::rss::run_as_wrapper() {
        std::process::exit(outcome?);
    }
    posthog_api_bench::run(&posthog_api_bench::BenchArgs::parse())
}
