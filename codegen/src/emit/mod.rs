//! Emission: the IR to formatted Rust files, deterministic byte for byte.

mod api;
pub mod features;
mod operations;
mod server;
pub(crate) mod tokens;
mod types;

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ir::Api;

pub use api::tag_module;

/// Emits every generated file, keyed by path relative to the generated directory.
///
/// `header` is the first line of every file (the `@generated` marker naming the schema).
pub fn emit(api: &Api, header: &str) -> Result<BTreeMap<String, String>, Diagnostics> {
    let defaultable = types::defaultable_types(&api.types);
    let mut files = BTreeMap::new();
    let (api_index, modules) = api::emit_api(api, &defaultable);
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
    for (path, tokens) in types::emit_types(api, &defaultable) {
        let text = format_file(tokens, header, &path)?;
        files.insert(path, text);
    }
    files.insert(
        "operations.rs".to_owned(),
        format_file(operations::emit_operations(api), header, "operations.rs")?,
    );
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
