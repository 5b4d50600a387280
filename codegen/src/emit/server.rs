//! Emits server stubs: a trait per tag with a default 501 answer per operation, and an axum
//! router mounting every operation at its method and path (behind the `server` feature).
//!
//! The generated code stays thin: request decoding, authentication, throttling and encoding
//! live in the hand-written `crate::server::dispatch`, which each route calls in one
//! expression; the emitter only says which typed inputs an operation takes and which method
//! of its tag's trait answers it.

use std::collections::BTreeMap;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::emit::api::operations_by_module;
use crate::emit::tokens::{docs, ident, op_const, query_type_ident, type_tokens};
use crate::ir::{Api, BodyEncoding, Operation, Response};
use crate::naming::type_name;

/// Server files as `(path relative to the generated directory, tokens)`: `server/mod.rs` and
/// one `server/<tag module>.rs` per tag module.
pub fn emit_server(api: &Api) -> BTreeMap<String, TokenStream> {
    let by_module = operations_by_module(api);
    let mut files = BTreeMap::new();
    files.insert("server/mod.rs".to_owned(), emit_index(&by_module));
    for (module, operations) in &by_module {
        files.insert(
            format!("server/{module}.rs"),
            emit_module(module, operations),
        );
    }
    files
}

/// The trait of a tag module: `feature_flags` gives `FeatureFlagsApi`.
fn trait_ident(module: &str) -> Ident {
    format_ident!("{}Api", type_name(module))
}

/// The client's query parameter type of an operation (same rule as the client emitter).
fn query_type(op: &Operation) -> Ident {
    query_type_ident(op)
}

fn emit_index(by_module: &BTreeMap<String, Vec<&Operation>>) -> TokenStream {
    // Each tag module exists only under its cargo feature, like the client's `api` modules.
    let declarations = by_module.iter().map(|(module, operations)| {
        let name = ident(module);
        let doc = format!(
            " Server stubs of the operations tagged `{module}` ({} operations).",
            operations.len()
        );
        quote! {
            #[doc = #doc]
            #[cfg(feature = #module)]
            pub mod #name;
        }
    });
    let unimplemented = by_module.keys().map(|module| {
        let name = ident(module);
        let tr = trait_ident(module);
        quote! {
            #[cfg(feature = #module)]
            impl #name::#tr for Unimplemented {}
        }
    });
    let defaults = by_module.keys().map(|module| {
        let name = ident(module);
        quote! {
            #[cfg(feature = #module)]
            let routes = routes.#name(service.clone());
        }
    });
    let mounts = by_module.keys().map(|module| {
        let name = ident(module);
        let tr = trait_ident(module);
        let doc = format!(
            " Serves the operations tagged `{module}` with `service`, replacing their 501 stubs."
        );
        quote! {
            #[doc = #doc]
            #[cfg(feature = #module)]
            pub fn #name<S: #name::#tr>(self, service: Arc<S>) -> Self {
                self.mount(#module, #name::routes(service))
            }
        }
    });
    quote! {
        //! Server stubs: a trait per tag whose methods answer 501 unless implemented, and the
        //! routes that mount every operation at its method and path.
        use std::sync::Arc;

        use crate::server::Routes;

        #(#declarations)*

        /// Implements every tag's trait with the default answers (501): the service of the tags
        /// a server does not implement.
        #[derive(Debug, Clone, Copy, Default)]
        pub struct Unimplemented;

        #(#unimplemented)*

        impl Routes {
            /// Every operation of the enabled tags, answering 501 until its tag is given a
            /// service with the method named after the tag module.
            pub fn new() -> Self {
                // Unused when the server is built without any tag feature.
                #[allow(unused_variables)]
                let service = Arc::new(Unimplemented);
                let routes = Self::empty();
                #(#defaults)*
                routes
            }

            #(#mounts)*
        }
    }
}

fn emit_module(module: &str, operations: &[&Operation]) -> TokenStream {
    let trait_name = trait_ident(module);
    let doc = format!(
        " Operations tagged `{module}`: implement the ones your server answers; the others answer 501."
    );
    let methods = operations.iter().map(|op| emit_method(op));
    let query_impls = operations
        .iter()
        .filter(|op| op.has_params_struct())
        .map(|op| emit_from_query(op));
    let routes = operations.iter().map(|op| emit_route(op));
    let has_queries = operations.iter().any(|op| op.has_params_struct());
    let query_import = if has_queries {
        let module = ident(module);
        quote!(use crate::generated::api::#module::*;)
    } else {
        quote!()
    };
    let routes_doc =
        format!(" The routes of the operations tagged `{module}`, answered by `service`.");
    quote! {
        #![allow(unused_imports, unused_variables)]
        use std::future::Future;
        use std::sync::Arc;

        #query_import
        use crate::generated::operations::*;
        use crate::generated::types;
        use crate::server::dispatch as d;
        use crate::server::{Answer, Context, ServerError};

        #[doc = #doc]
        pub trait #trait_name: Send + Sync + 'static {
            #(#methods)*
        }

        #(#query_impls)*

        #[doc = #routes_doc]
        pub fn routes<S: #trait_name>(service: Arc<S>) -> axum::Router {
            axum::Router::new() #(#routes)*
        }
    }
}

/// The Rust type an operation answers with.
fn answer_type(op: &Operation) -> TokenStream {
    match &op.response {
        Response::Json(ty) => type_tokens(ty, &quote!(types::)),
        Response::Undocumented => quote!(serde_json::Value),
        Response::Empty => quote!(()),
        Response::Text => quote!(String),
        Response::EventStream => quote!(crate::server::EventStream),
        Response::Binary => quote!(bytes::Bytes),
    }
}

fn emit_method(op: &Operation) -> TokenStream {
    let name = ident(&op.method_name);
    let op_const = op_const(op);
    let mut arguments = Vec::new();
    for param in &op.path_params {
        let param_name = ident(&param.rust_name);
        let ty = type_tokens(&param.ty, &quote!(types::));
        arguments.push(quote!(#param_name: #ty));
    }
    if op.has_params_struct() {
        let query = query_type(op);
        arguments.push(quote!(query: #query));
    }
    if let Some(body) = &op.body {
        let ty = type_tokens(&body.ty, &quote!(types::));
        arguments.push(if body.required {
            quote!(body: #ty)
        } else {
            quote!(body: Option<#ty>)
        });
    }
    let answer = answer_type(op);
    let mut doc_text = String::new();
    if let Some(summary) = &op.summary {
        doc_text.push_str(summary);
        doc_text.push_str("\n\n");
    }
    doc_text.push_str(&format!("`{} {}`", op.method, op.path));
    let doc = docs(Some(&doc_text));
    quote! {
        #doc
        fn #name(self: Arc<Self>, cx: Context, #(#arguments),*) -> impl Future<Output = Answer<#answer>> + Send {
            d::unimplemented(&#op_const)
        }
    }
}

fn emit_from_query(op: &Operation) -> TokenStream {
    let name = query_type(op);
    let mut fields: Vec<TokenStream> = op
        .query_params
        .iter()
        .map(|param| {
            let field = ident(&param.rust_name);
            let wire = &param.wire_name;
            if param.explode {
                quote!(#field: q.get(#wire)?)
            } else {
                quote!(#field: q.csv(#wire)?)
            }
        })
        .collect();
    if op.header_params.is_empty() && op.cookie_params.is_empty() {
        return quote! {
            // Through `d::`, since an operation named `from` has a query type named `FromQuery`.
            impl d::FromQuery for #name {
                fn from_query(q: &d::QueryMap) -> Result<Self, ServerError> {
                    Ok(Self { #(#fields),* })
                }
            }
        };
    }
    for (params, read) in [
        (&op.header_params, quote!(header)),
        (&op.cookie_params, quote!(cookie)),
    ] {
        fields.extend(params.iter().map(|param| {
            let field = ident(&param.rust_name);
            let wire = &param.wire_name;
            quote!(#field: h.#read(#wire)?)
        }));
    }
    quote! {
        impl d::FromQuery for #name {
            fn from_query(q: &d::QueryMap) -> Result<Self, ServerError> {
                Self::from_request(q, &d::HeaderParams::default())
            }

            fn from_request(q: &d::QueryMap, h: &d::HeaderParams<'_>) -> Result<Self, ServerError> {
                Ok(Self { #(#fields),* })
            }
        }
    }
}

fn emit_route(op: &Operation) -> TokenStream {
    let path = &op.path;
    let op_const = op_const(op);
    let method = ident(&op.method_name);
    let kind = match op.response {
        Response::Json(_) | Response::Undocumented => quote!(json),
        Response::Empty => quote!(empty),
        Response::Text => quote!(text),
        Response::EventStream => quote!(events),
        Response::Binary => quote!(binary),
    };
    let names: Vec<Ident> = op
        .path_params
        .iter()
        .map(|param| ident(&param.rust_name))
        .collect();
    // A one-element tuple pattern needs its trailing comma.
    let path_pattern = match names.as_slice() {
        [one] => quote!((#one,)),
        many => quote!((#(#many),*)),
    };
    let mut call_args: Vec<TokenStream> = names.iter().map(|name| quote!(#name)).collect();
    let query_pattern = if !op.has_params_struct() {
        quote!(())
    } else {
        call_args.push(quote!(query));
        quote!(query)
    };
    let body_pattern = match &op.body {
        None => quote!(()),
        Some(body) => {
            call_args.push(quote!(body));
            match (body.encoding, body.required) {
                (BodyEncoding::Json, true) => quote!(d::Json(body)),
                (BodyEncoding::Json, false) => quote!(d::MaybeJson(body)),
                (BodyEncoding::Multipart, true) => quote!(d::Form(body)),
                (BodyEncoding::Multipart, false) => quote!(d::MaybeForm(body)),
                (BodyEncoding::Form, true) => quote!(d::UrlEncoded(body)),
                (BodyEncoding::Form, false) => quote!(d::MaybeUrlEncoded(body)),
            }
        }
    };
    quote! {
        .route(#path, d::#kind(&#op_const, &service, |s, cx, #path_pattern, #query_pattern, #body_pattern| {
            s.#method(cx, #(#call_args),*)
        }))
    }
}
