//! Emits server stubs: a trait per tag with a default 501 answer per operation, and an axum
//! router mounting every operation at its method and path (behind the `server` feature).

use std::collections::BTreeMap;

use proc_macro2::TokenStream;

use crate::ir::Api;

/// Server files as `(path relative to the generated directory, tokens)`; empty until the
/// server emitter lands.
pub fn emit_server(_api: &Api) -> BTreeMap<String, TokenStream> {
    BTreeMap::new()
}
