//! Emission: the IR to formatted Rust files, deterministic byte for byte.

mod api;
pub(crate) mod code;
pub mod features;
mod operations;
mod server;
mod types;

use std::collections::{BTreeMap, BTreeSet};

use crate::emit::code::Code;
use crate::ir::Api;

pub use api::tag_module;

/// Emits every generated file, keyed by path relative to the generated directory.
///
/// `header` is the first line of every file (the `@generated` marker naming the schema).
///
/// Files are written as text in their final layout (ARCHITECTURE.md says why not through syn
/// and prettyplease). Files are independent, so the types and the operation table are written
/// on a second thread while this one writes the rest. Files are keyed by path, so the output
/// does not depend on which thread finishes first.
pub fn emit(api: &Api, header: &str) -> BTreeMap<String, String> {
    let defaultable = types::defaultable_types(&api.types);
    let defaultable = &defaultable;
    let (mut files, rest) = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("emit-types".to_owned())
            .spawn_scoped(scope, || emit_types_and_table(api, header, defaultable));
        let rest = emit_modules(api, header, defaultable);
        let first = match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No second thread to be had: do the same work here.
            Err(_) => emit_types_and_table(api, header, defaultable),
        };
        (first, rest)
    });
    files.extend(rest);
    files
}

/// The `types` module and the operation table.
fn emit_types_and_table(
    api: &Api,
    header: &str,
    defaultable: &BTreeSet<&str>,
) -> BTreeMap<String, String> {
    let mut files: BTreeMap<String, String> = types::emit_types(api, defaultable)
        .into_iter()
        .map(|(path, text)| (path, with_header(header, &text)))
        .collect();
    files.insert(
        "operations.rs".to_owned(),
        with_header(header, &operations::emit_operations(api)),
    );
    files
}

/// The root module, the client methods per tag and the server stubs.
fn emit_modules(api: &Api, header: &str, defaultable: &BTreeSet<&str>) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let (api_index, modules) = api::emit_api(api, defaultable);
    let mut root = Code::new();
    root.inner_doc(
        "Code generated from the schema: types, the operation table and the client methods.",
    );
    root.line("#![allow(clippy::all, clippy::pedantic, deprecated, missing_docs, rustdoc::all)]");
    root.line("pub mod api;");
    root.line("pub mod operations;");
    root.line("#[cfg(feature = \"server\")]");
    root.line("pub mod server;");
    root.line("pub mod types;");
    files.insert(
        "mod.rs".to_owned(),
        with_header(header, &root.into_string()),
    );
    files.insert("api/mod.rs".to_owned(), with_header(header, &api_index));
    for (path, text) in server::emit_server(api) {
        files.insert(path, with_header(header, &text));
    }
    for (module, text) in modules {
        files.insert(format!("api/{module}.rs"), with_header(header, &text));
    }
    files
}

/// A file's text under the `@generated` header line.
fn with_header(header: &str, body: &str) -> String {
    format!("{header}\n\n{body}")
}
