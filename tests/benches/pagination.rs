//! Placeholder replaced by the pagination benchmark.
fn main() {}
