//! End-to-end tests of the generated client; the tests live in `tests/`.
