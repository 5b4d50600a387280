//! Emits the client: one module per tag, holding each operation's query type and methods.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::quote;

use crate::emit::tokens::{docs, ident, op_const, query_type_ident, type_tokens};
use crate::emit::types::has_default;
use crate::ir::{
    Api, BodyEncoding, Operation, PaginationStyle, Param, Response, TypeDef, TypeKind, TypeRef,
};
use crate::naming::{RESERVED_MODULE_NAMES, field_name};

/// The module name of a tag (`LLM Gateway` and `llm_gateway` share one), which is also its
/// cargo feature and its `Routes` method: a name the crate already uses gets a `_tag` suffix.
pub fn tag_module(tag: &str) -> String {
    let name = field_name(tag);
    if RESERVED_MODULE_NAMES.contains(&name.as_str()) {
        format!("{name}_tag")
    } else {
        name
    }
}

/// Operations grouped by their tag's module, in module order.
pub fn operations_by_module(api: &Api) -> BTreeMap<String, Vec<&Operation>> {
    let mut by_module: BTreeMap<String, Vec<&Operation>> = BTreeMap::new();
    for operation in &api.operations {
        by_module
            .entry(tag_module(&operation.tag))
            .or_default()
            .push(operation);
    }
    by_module
}

/// One module per tag, as `(module name, tokens)`, plus the `api` module listing them.
pub fn emit_api(
    api: &Api,
    defaultable: &BTreeSet<&str>,
) -> (TokenStream, BTreeMap<String, TokenStream>) {
    let by_module = operations_by_module(api);
    let modules = by_module
        .iter()
        .map(|(module, operations)| {
            (
                module.clone(),
                emit_module(operations, defaultable, &api.types),
            )
        })
        .collect();
    let declarations = by_module.iter().map(|(module, operations)| {
        let name = ident(module);
        let tags: BTreeSet<&str> = operations.iter().map(|op| op.tag.as_str()).collect();
        let tags: Vec<&str> = tags.into_iter().collect();
        let doc = format!(
            " Operations tagged `{}` ({} operations; cargo feature `{module}`).",
            tags.join("`, `"),
            operations.len()
        );
        quote! {
            #[doc = #doc]
            #[cfg(feature = #module)]
            pub mod #name;
        }
    });
    let skipped = skipped_docs(api);
    let index = quote! {
        //! The client's operations, one module per schema tag. Each module documents its
        //! operations' methods on [`crate::Client`] and holds their query parameter types.
        #(#![doc = #skipped])*
        #(#declarations)*
    };
    (index, modules)
}

/// Doc lines listing the operations left out under `--skip-unsupported`, with their pointers and
/// reasons (none when nothing was skipped, so the default output is unchanged).
fn skipped_docs(api: &Api) -> Vec<String> {
    if api.skipped.is_empty() {
        return Vec::new();
    }
    // One line per doc attribute, schema text on one line: prettyplease writes a multi-line doc
    // as a block comment, which schema text could close.
    let one_line = |text: String| text.replace(['\n', '\r'], " ");
    let mut lines = vec![
        String::new(),
        " # Operations left out".to_owned(),
        String::new(),
        format!(
            " Generated with `--skip-unsupported`: these {} operations (or path items) of the schema could not be lowered and have no method.",
            api.skipped.len()
        ),
        String::new(),
    ];
    for skipped in &api.skipped {
        lines.push(one_line(format!(
            " - `{}` at `{}`:",
            skipped.operation, skipped.pointer
        )));
        for reason in &skipped.reasons {
            lines.push(one_line(format!(
                "   - `{}`: {}",
                reason.pointer, reason.message
            )));
        }
    }
    lines
}

/// The module's documentation page lists its operations, linking to their methods on `Client`:
/// the methods are inherent methods of one type, so without this list a tag's page would show
/// only its query types. Doc lines cost `cargo check` next to nothing, unlike a trait or a
/// handle type per tag.
fn operation_list(operations: &[&Operation]) -> Vec<String> {
    let mut lines = vec![" # Operations".to_owned(), String::new()];
    for op in operations {
        let summary = op
            .summary
            .as_deref()
            .map(|summary| format!(": {}", summary.trim().replace('\n', " ")))
            .unwrap_or_default();
        lines.push(format!(
            " - [`Client::{}`] `{} {}`{summary}",
            op.method_name, op.method, op.path
        ));
    }
    lines
}

fn emit_module(
    operations: &[&Operation],
    defaultable: &BTreeSet<&str>,
    types: &BTreeMap<String, TypeDef>,
) -> TokenStream {
    // Descriptions shared by several operations (a viewset's docstring) are said once, here.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for op in operations {
        if let Some(description) = &op.description {
            *counts.entry(description.as_str()).or_default() += 1;
        }
    }
    let mut shared: Vec<&str> = Vec::new();
    for op in operations {
        if let Some(description) = op.description.as_deref()
            && counts[description] > 1
            && !shared.contains(&description)
        {
            shared.push(description);
        }
    }
    let mut module_doc: Vec<String> = shared
        .join("\n\n")
        .lines()
        .map(|line| format!(" {}", line.trim()))
        .collect();
    if !module_doc.is_empty() {
        module_doc.push(String::new());
    }
    module_doc.extend(operation_list(operations));
    let methods = operations.iter().map(|op| {
        let own_description = op.description.as_deref().filter(|d| counts[d] == 1);
        emit_methods(op, own_description, types)
    });
    let query_types = operations
        .iter()
        .filter(|op| op.has_params_struct())
        .map(|op| emit_query_type(op, defaultable));
    quote! {
        #(#![doc = #module_doc])*
        #![allow(unused_imports)]
        use crate::client::{Client, ProjectId};
        use crate::error::Result;
        use crate::generated::operations::*;
        use crate::generated::types;
        use crate::request::RequestBuilder;

        #(#query_types)*

        impl Client {
            #(#methods)*
        }
    }
}

fn query_type_name(op: &Operation) -> proc_macro2::Ident {
    query_type_ident(op)
}

fn emit_query_type(op: &Operation, defaultable: &BTreeSet<&str>) -> TokenStream {
    let name = query_type_name(op);
    let doc = if op.header_params.is_empty() && op.cookie_params.is_empty() {
        format!(" Query parameters of [`Client::{}`].", op.method_name)
    } else {
        format!(
            " Query, header and cookie parameters of [`Client::{}`].",
            op.method_name
        )
    };
    let types_prefix = quote!(types::);
    let derive_default = if op.struct_params().all(|p| has_default(&p.ty, defaultable)) {
        quote!(Default,)
    } else {
        quote!()
    };
    fn located<'p>(params: &'p [Param], place: &str) -> Vec<(Option<String>, &'p Param)> {
        params
            .iter()
            .map(|param| {
                let sent = format!("Sent as the `{}` {place}.", param.wire_name);
                let doc = match &param.docs {
                    Some(text) => format!("{sent}\n\n{text}"),
                    None => sent,
                };
                (Some(doc), param)
            })
            .collect()
    }
    let mut documented: Vec<(Option<String>, &Param)> = op
        .query_params
        .iter()
        .map(|param| (param.docs.clone(), param))
        .collect();
    documented.extend(located(&op.header_params, "header"));
    documented.extend(located(&op.cookie_params, "cookie"));
    let fields = documented.iter().map(|(doc, param)| {
        let field_doc = docs(doc.as_deref());
        let field = ident(&param.rust_name);
        let ty = type_tokens(&param.ty, &types_prefix);
        quote! {
            #field_doc
            pub #field: #ty,
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, #derive_default)]
        pub struct #name { #(#fields)* }
    }
}

/// How a method receives a path parameter.
fn path_param_type(param: &Param) -> TokenStream {
    match &param.ty {
        TypeRef::String => quote!(&str),
        // A UUID, or an alias PostHog accepts in its place (`/api/users/@me/`).
        TypeRef::Uuid => quote!(impl std::fmt::Display + Sync),
        TypeRef::Named(_) | TypeRef::Json => {
            let ty = type_tokens(&param.ty, &quote!(types::));
            quote!(&#ty)
        }
        other => type_tokens(other, &quote!(types::)),
    }
}

/// The method arguments and the expression that builds the request.
struct RequestParts {
    arguments: Vec<Argument>,
    build: TokenStream,
}

/// One method argument, its name kept apart from its type so that companions can pass it on.
struct Argument {
    name: proc_macro2::Ident,
    ty: TokenStream,
}

impl Argument {
    fn new(name: proc_macro2::Ident, ty: TokenStream) -> Self {
        Self { name, ty }
    }

    /// `name: Type`, as the method signature declares it.
    fn declaration(&self) -> TokenStream {
        let Argument { name, ty } = self;
        quote!(#name: #ty)
    }
}

fn request_parts(op: &Operation, types: &BTreeMap<String, TypeDef>) -> RequestParts {
    let op_const = op_const(op);
    let mut arguments = Vec::new();
    let mut format_args = Vec::new();
    let mut project = None;
    for param in &op.path_params {
        let name = ident(&param.rust_name);
        if param.wire_name == "project_id" && param.ty == TypeRef::String {
            project = Some(quote!(#name.into()));
            arguments.push(Argument::new(name, quote!(impl Into<ProjectId>)));
        } else {
            format_args.push(quote!(&#name));
            arguments.push(Argument::new(name, path_param_type(param)));
        }
    }
    let start = match project {
        Some(project) => quote!(self.__project_op(&#op_const, #project, &[#(#format_args),*])),
        None => quote!(self.__op(&#op_const, &[#(#format_args),*])),
    };
    let mut chain = Vec::new();
    if op.has_params_struct() {
        let query_type = query_type_name(op);
        arguments.push(Argument::new(ident("query"), quote!(&#query_type)));
        for param in &op.query_params {
            let wire = &param.wire_name;
            let field = ident(&param.rust_name);
            let is_list = matches!(&param.ty, TypeRef::Vec(_))
                || matches!(&param.ty, TypeRef::Option(inner) if matches!(**inner, TypeRef::Vec(_)));
            if is_list && !param.explode {
                chain.push(quote!(.query_csv(#wire, &query.#field)));
            } else {
                chain.push(quote!(.query(#wire, &query.#field)));
            }
        }
        for param in &op.header_params {
            let wire = &param.wire_name;
            let field = ident(&param.rust_name);
            chain.push(quote!(.header(#wire, &query.#field)));
        }
        for param in &op.cookie_params {
            let wire = &param.wire_name;
            let field = ident(&param.rust_name);
            chain.push(quote!(.cookie(#wire, &query.#field)));
        }
    }
    if let Some(body) = &op.body {
        let ty = type_tokens(&body.ty, &quote!(types::));
        // A JSON body the schema leaves optional because every member is (drf's `Patched*`) is
        // taken by reference and always sent: `{}` means what no body means, and
        // `&PatchedX { .., ..Default::default() }` reads better than `Some(&..)`.
        let required =
            body.required || (body.encoding == BodyEncoding::Json && all_optional(types, &body.ty));
        let ty = if required {
            quote!(&#ty)
        } else {
            quote!(Option<&#ty>)
        };
        arguments.push(Argument::new(ident("body"), ty));
        let files = &body.file_fields;
        chain.push(match (body.encoding, required) {
            (BodyEncoding::Json, true) => quote!(.json(body)),
            (BodyEncoding::Json, false) => quote!(.json_opt(body)),
            (BodyEncoding::Multipart, true) => quote!(.multipart(body, &[#(#files),*])),
            (BodyEncoding::Multipart, false) => quote!(.multipart_opt(body, &[#(#files),*])),
            (BodyEncoding::Form, true) => quote!(.form(body)),
            (BodyEncoding::Form, false) => quote!(.form_opt(body)),
        });
        if let Some(media) = &body.media_type {
            chain.push(quote!(.content_type(#media)));
        }
        // `format: binary` members travel as file parts with their name and content type.
        if body.encoding == BodyEncoding::Multipart {
            for (wire, field) in file_members(types, &body.ty) {
                chain.push(if body.required {
                    quote!(.file_part(#wire, &body.#field))
                } else {
                    quote!(.file_part(#wire, &body.map(|body| &body.#field)))
                });
            }
        }
    }
    let build = quote!(#start #(#chain)*);
    RequestParts { arguments, build }
}

/// Whether the type is a struct every field of which may be left out (so it has a `Default`
/// that encodes as `{}`).
fn all_optional(types: &BTreeMap<String, TypeDef>, ty: &TypeRef) -> bool {
    let TypeRef::Named(name) = ty else {
        return false;
    };
    matches!(
        types.get(name).map(|def| &def.kind),
        Some(TypeKind::Struct { fields }) if fields.iter().all(|field| field.ty.may_be_absent())
    )
}

/// The `(wire name, field)` of each file member of a multipart body's struct.
fn file_members(
    types: &BTreeMap<String, TypeDef>,
    body: &TypeRef,
) -> Vec<(String, proc_macro2::Ident)> {
    let TypeRef::Named(name) = body else {
        return Vec::new();
    };
    let Some(TypeKind::Struct { fields }) = types.get(name).map(|def| &def.kind) else {
        return Vec::new();
    };
    let is_file = |ty: &TypeRef| match ty {
        TypeRef::File => true,
        TypeRef::Option(inner)
        | TypeRef::Nullable(inner)
        | TypeRef::Vec(inner)
        | TypeRef::Boxed(inner) => {
            matches!(&**inner, TypeRef::File)
                || matches!(&**inner, TypeRef::Vec(item) | TypeRef::Option(item) if **item == TypeRef::File)
        }
        _ => false,
    };
    fields
        .iter()
        .filter(|field| is_file(&field.ty))
        .map(|field| (field.wire_name.clone(), ident(&field.rust_name)))
        .collect()
}

fn emit_methods(
    op: &Operation,
    description: Option<&str>,
    types: &BTreeMap<String, TypeDef>,
) -> TokenStream {
    let RequestParts {
        arguments: parts,
        build,
    } = request_parts(op, types);
    let arguments: Vec<TokenStream> = parts.iter().map(Argument::declaration).collect();
    let name = ident(&op.method_name);
    let mut doc_text = String::new();
    for text in [op.summary.as_deref(), description].into_iter().flatten() {
        doc_text.push_str(text);
        doc_text.push_str("\n\n");
    }
    doc_text.push_str(&format!("`{} {}`", op.method, op.path));
    if !op.scopes.is_empty() {
        doc_text.push_str(&format!(" · scopes: `{}`", op.scopes.join("`, `")));
    }
    let doc = docs(Some(&doc_text));
    let deprecated = if op.deprecated {
        quote!(#[deprecated])
    } else {
        quote!()
    };
    let (value_type, send, default_accept) = match &op.response {
        Response::Json(ty) => (type_tokens(ty, &quote!(types::)), "json", None),
        Response::Undocumented => (quote!(serde_json::Value), "value", None),
        Response::Empty => (quote!(()), "empty", None),
        Response::Text => (quote!(String), "text", Some("text/csv")),
        Response::EventStream => (
            quote!(crate::stream::ByteStream),
            "stream",
            Some("text/event-stream"),
        ),
        Response::Binary => (quote!(bytes::Bytes), "bytes", None),
    };
    let accept = match op.accept.as_deref().or(default_accept) {
        Some(media) => quote!(.accept(#media)),
        None => quote!(),
    };
    let (return_type, send) = if op.conditional {
        let send = quote::format_ident!("send_conditional_{send}");
        (
            quote!(crate::request::Conditional<#value_type>),
            quote!(#accept.#send().await),
        )
    } else {
        let send = quote::format_ident!("send_{send}");
        (value_type, quote!(#accept.#send().await))
    };
    let mut out = vec![quote! {
        #doc
        #deprecated
        pub async fn #name(&self, #(#arguments),*) -> Result<#return_type> {
            #build #send
        }
    }];
    if let (Some(pagination), Some(pages), Some(items)) =
        (&op.pagination, &op.companions.pages, &op.companions.items)
    {
        let item = type_tokens(&pagination.item, &quote!(types::));
        let style = match pagination.style {
            PaginationStyle::LimitOffset => quote!(LimitOffset),
            PaginationStyle::Cursor => quote!(Cursor),
            PaginationStyle::OffsetOrCursor => quote!(OffsetOrCursor),
            PaginationStyle::PageNumber => quote!(PageNumber),
        };
        let pages_ident = ident(pages);
        let items_ident = ident(items);
        let argument_names = parts.iter().map(|argument| &argument.name);
        let pages_doc = format!(
            " Every page of [`Client::{}`], following `next` links.",
            op.method_name
        );
        let items_doc = format!(
            " Every item of [`Client::{}`], across pages.",
            op.method_name
        );
        out.push(quote! {
            #[doc = #pages_doc]
            #deprecated
            pub fn #pages_ident(&self, #(#arguments),*) -> crate::pagination::Pages<#item> {
                crate::pagination::Pages::new({ #build }, crate::pagination::PaginationStyle::#style)
            }

            #[doc = #items_doc]
            #deprecated
            pub fn #items_ident(&self, #(#arguments),*) -> crate::pagination::Items<#item> {
                self.#pages_ident(#(#argument_names),*).items()
            }
        });
    }
    if let Some(csv) = &op.companions.csv {
        let csv_ident = ident(csv);
        let csv_doc = format!(
            " [`Client::{}`] as CSV text (`Accept: text/csv`).",
            op.method_name
        );
        out.push(quote! {
            #[doc = #csv_doc]
            pub async fn #csv_ident(&self, #(#arguments),*) -> Result<String> {
                #build.accept("text/csv").send_text().await
            }
        });
    }
    if let Some(stream) = &op.companions.event_stream {
        let stream_ident = ident(stream);
        let stream_doc = format!(
            " [`Client::{}`] as a server-sent event stream.",
            op.method_name
        );
        out.push(quote! {
            #[doc = #stream_doc]
            pub async fn #stream_ident(&self, #(#arguments),*) -> Result<crate::stream::ByteStream> {
                #build.accept("text/event-stream").send_stream().await
            }
        });
    }
    quote!(#(#out)*)
}
