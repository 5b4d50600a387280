//! Requests per second of the fake PostHog through the generated router.

fn main() {}
