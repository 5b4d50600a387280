//! Emission: the IR to formatted Rust files, deterministic byte for byte.

mod api;
pub mod features;
mod operations;
mod server;
pub(crate) mod tokens;
mod types;

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::quote;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ir::Api;

pub use api::tag_module;

/// Emits every generated file, keyed by path relative to the generated directory.
///
/// `header` is the first line of every file (the `@generated` marker naming the schema).
///
/// Building tokens and formatting them are most of a run, and files are independent, so the
/// types and the operation table are made on a second thread while this one makes the rest
/// (tokens are not `Send`: each thread formats what it built). Files are keyed by path, so the
/// output does not depend on which thread finishes first, and a failure is reported in the
/// same order as one thread would find it.
pub fn emit(api: &Api, header: &str) -> Result<BTreeMap<String, String>, Diagnostics> {
    let defaultable = types::defaultable_types(&api.types);
    let defaultable = &defaultable;
    let (first, rest) = std::thread::scope(|scope| {
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
    let mut files = first?;
    files.extend(rest?);
    Ok(files)
}

/// The `types` module and the operation table, formatted.
fn emit_types_and_table(
    api: &Api,
    header: &str,
    defaultable: &BTreeSet<&str>,
) -> Result<BTreeMap<String, String>, Diagnostics> {
    let mut files = BTreeMap::new();
    for (path, tokens) in types::emit_types(api, defaultable) {
        let text = format_file(tokens, header, &path)?;
        files.insert(path, text);
    }
    files.insert(
        "operations.rs".to_owned(),
        format_file(operations::emit_operations(api), header, "operations.rs")?,
    );
    Ok(files)
}

/// The root module, the client methods per tag and the server stubs, formatted.
fn emit_modules(
    api: &Api,
    header: &str,
    defaultable: &BTreeSet<&str>,
) -> Result<BTreeMap<String, String>, Diagnostics> {
    let mut files = BTreeMap::new();
    let (api_index, modules) = api::emit_api(api, defaultable);
    let root = quote! {
        //! Code generated from the schema: types, the operation table and the client methods.
        #![allow(clippy::all, clippy::pedantic, deprecated, missing_docs, rustdoc::all)]
        pub mod api;
        pub mod operations;
        #[cfg(feature = "server")]
        pub mod server;
        pub mod types;
    };
    files.insert("mod.rs".to_owned(), format_file(root, header, "mod.rs")?);
    files.insert(
        "api/mod.rs".to_owned(),
        format_file(api_index, header, "api/mod.rs")?,
    );
    for (path, tokens) in server::emit_server(api) {
        let text = format_file(tokens, header, &path)?;
        files.insert(path, text);
    }
    for (module, tokens) in modules {
        let path = format!("api/{module}.rs");
        let text = format_file(tokens, header, &path)?;
        files.insert(path, text);
    }
    Ok(files)
}

/// Parses tokens as a file and pretty-prints it. A parse failure is a generator bug, reported
/// as a diagnostic instead of a panic.
fn format_file(tokens: TokenStream, header: &str, path: &str) -> Result<String, Diagnostics> {
    let file: syn::File = syn::parse2(tokens).map_err(|error| {
        Diagnostics::from(Diagnostic::bug(
            path,
            format!("the generated file does not parse: {error}"),
        ))
    })?;
    let body = prettyplease::unparse(&file);
    Ok(format!("{header}\n\n{body}"))
}
