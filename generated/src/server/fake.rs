//! A ready in-memory fake PostHog built on the server stubs.
