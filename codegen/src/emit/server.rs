//! Emits server stubs: a trait per tag with a default 501 answer per operation, and an axum
//! router mounting every operation at its method and path (behind the `server` feature).
//!
//! The generated code stays thin: request decoding, authentication, throttling and encoding
//! live in the hand-written `crate::server::dispatch`, which each route calls in one
//! expression; the emitter only says which typed inputs an operation takes and which method
//! of its tag's trait answers it.

use std::collections::BTreeMap;

use crate::emit::api::operations_by_module;
use crate::emit::code::{Code, ident, lit, op_const, query_type_name, type_text};
use crate::ir::{Api, BodyEncoding, Operation, Response};
use crate::naming::type_name;

/// Server files as `(path relative to the generated directory, text)`: `server/mod.rs` and
/// one `server/<tag module>.rs` per tag module.
pub fn emit_server(api: &Api) -> BTreeMap<String, String> {
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
fn trait_name(module: &str) -> String {
    format!("{}Api", type_name(module))
}

fn emit_index(by_module: &BTreeMap<String, Vec<&Operation>>) -> String {
    let mut code = Code::new();
    code.inner_doc(
        "Server stubs: a trait per tag whose methods answer 501 unless implemented, and the",
    );
    code.inner_doc("routes that mount every operation at its method and path.");
    code.line("use std::sync::Arc;");
    code.line("use crate::server::Routes;");
    // Each tag module exists only under its cargo feature, like the client's `api` modules.
    let cfg = |module: &str| format!("#[cfg(feature = {})]", lit(module));
    for (module, operations) in by_module {
        code.doc(&format!(
            "Server stubs of the operations tagged `{module}` ({} operations).",
            operations.len()
        ));
        code.line(cfg(module));
        code.line(format_args!("pub mod {};", ident(module)));
    }
    code.doc(
        "Implements every tag's trait with the default answers (501): the service of the tags",
    );
    code.doc("a server does not implement.");
    code.line("#[derive(Debug, Clone, Copy, Default)]");
    code.line("pub struct Unimplemented;");
    for module in by_module.keys() {
        code.line(cfg(module));
        code.line(format_args!(
            "impl {}::{} for Unimplemented {{}}",
            ident(module),
            trait_name(module)
        ));
    }
    code.open("impl Routes {");
    code.doc("Every operation of the enabled tags, answering 501 until its tag is given a");
    code.doc("service with the method named after the tag module.");
    code.open("pub fn new() -> Self {");
    code.line("// Unused when the server is built without any tag feature.");
    code.line("#[allow(unused_variables)]");
    code.line("let service = Arc::new(Unimplemented);");
    code.line("let routes = Self::empty();");
    for module in by_module.keys() {
        code.line(cfg(module));
        code.line(format_args!(
            "let routes = routes.{}(service.clone());",
            ident(module)
        ));
    }
    code.line("routes");
    code.close("}");
    for module in by_module.keys() {
        let name = ident(module);
        code.doc(&format!(
            "Serves the operations tagged `{module}` with `service`, replacing their 501 stubs."
        ));
        code.line(cfg(module));
        code.open(format_args!(
            "pub fn {name}<S: {name}::{}>(self, service: Arc<S>) -> Self {{",
            trait_name(module)
        ));
        code.line(format_args!(
            "self.mount({}, {name}::routes(service))",
            lit(module)
        ));
        code.close("}");
    }
    code.close("}");
    code.into_string()
}

fn emit_module(module: &str, operations: &[&Operation]) -> String {
    let trait_name = trait_name(module);
    let mut code = Code::new();
    code.line("#![allow(unused_imports, unused_variables)]");
    code.line("use std::future::Future;");
    code.line("use std::sync::Arc;");
    if operations.iter().any(|op| op.has_params_struct()) {
        code.line(format_args!(
            "use crate::generated::api::{}::*;",
            ident(module)
        ));
    }
    code.line("use crate::generated::operations::*;");
    code.line("use crate::generated::types;");
    code.line("use crate::server::dispatch as d;");
    code.line("use crate::server::{Answer, Context, ServerError};");
    code.doc(&format!(
        "Operations tagged `{module}`: implement the ones your server answers; the others answer 501."
    ));
    code.open(format_args!(
        "pub trait {trait_name}: Send + Sync + 'static {{"
    ));
    for op in operations {
        emit_method(&mut code, op);
    }
    code.close("}");
    for op in operations.iter().filter(|op| op.has_params_struct()) {
        emit_from_query(&mut code, op);
    }
    code.doc(&format!(
        "The routes of the operations tagged `{module}`, answered by `service`."
    ));
    code.open(format_args!(
        "pub fn routes<S: {trait_name}>(service: Arc<S>) -> axum::Router {{"
    ));
    code.line("axum::Router::new()");
    code.indent();
    for op in operations {
        emit_route(&mut code, op);
    }
    code.dedent();
    code.close("}");
    code.into_string()
}

/// The Rust type an operation answers with.
fn answer_type(op: &Operation) -> String {
    match &op.response {
        Response::Json(ty) => type_text(ty, "types::"),
        Response::Undocumented => "serde_json::Value".to_owned(),
        Response::Empty => "()".to_owned(),
        Response::Text => "String".to_owned(),
        Response::EventStream => "crate::server::EventStream".to_owned(),
        Response::Binary => "bytes::Bytes".to_owned(),
    }
}

fn emit_method(code: &mut Code, op: &Operation) {
    let mut arguments = vec!["self: Arc<Self>".to_owned(), "cx: Context".to_owned()];
    for param in &op.path_params {
        arguments.push(format!(
            "{}: {}",
            ident(&param.rust_name),
            type_text(&param.ty, "types::")
        ));
    }
    if op.has_params_struct() {
        arguments.push(format!("query: {}", query_type_name(op)));
    }
    if let Some(body) = &op.body {
        let ty = type_text(&body.ty, "types::");
        arguments.push(if body.required {
            format!("body: {ty}")
        } else {
            format!("body: Option<{ty}>")
        });
    }
    let mut doc_text = String::new();
    if let Some(summary) = &op.summary {
        doc_text.push_str(summary);
        doc_text.push_str("\n\n");
    }
    doc_text.push_str(&format!("`{} {}`", op.method, op.path));
    code.docs(Some(&doc_text));
    code.open_list(
        &format!("fn {}", ident(&op.method_name)),
        &arguments,
        &format!(
            " -> impl Future<Output = Answer<{}>> + Send {{",
            answer_type(op)
        ),
    );
    code.line(format_args!("d::unimplemented(&{})", op_const(op)));
    code.close("}");
}

fn emit_from_query(code: &mut Code, op: &Operation) {
    let mut fields: Vec<String> = op
        .query_params
        .iter()
        .map(|param| {
            let field = ident(&param.rust_name);
            let wire = lit(&param.wire_name);
            if param.explode {
                format!("{field}: q.get({wire})?")
            } else {
                format!("{field}: q.csv({wire})?")
            }
        })
        .collect();
    // Through `d::`, since an operation named `from` has a query type named `FromQuery`.
    code.open(format_args!(
        "impl d::FromQuery for {} {{",
        query_type_name(op)
    ));
    if op.header_params.is_empty() && op.cookie_params.is_empty() {
        code.open("fn from_query(q: &d::QueryMap) -> Result<Self, ServerError> {");
    } else {
        code.open("fn from_query(q: &d::QueryMap) -> Result<Self, ServerError> {");
        code.line("Self::from_request(q, &d::HeaderParams::default())");
        code.close("}");
        code.open(
            "fn from_request(q: &d::QueryMap, h: &d::HeaderParams<'_>) -> Result<Self, ServerError> {",
        );
        for (params, read) in [(&op.header_params, "header"), (&op.cookie_params, "cookie")] {
            fields.extend(params.iter().map(|param| {
                format!(
                    "{}: h.{read}({})?",
                    ident(&param.rust_name),
                    lit(&param.wire_name)
                )
            }));
        }
    }
    let one_line = format!("Ok(Self {{ {} }})", fields.join(", "));
    if fields.is_empty() {
        code.line("Ok(Self {})");
    } else if code.fits(&one_line) {
        code.line(one_line);
    } else {
        code.open("Ok(Self {");
        for field in &fields {
            code.line(format_args!("{field},"));
        }
        code.close("})");
    }
    code.close("}");
    code.close("}");
}

fn emit_route(code: &mut Code, op: &Operation) {
    let kind = match op.response {
        Response::Json(_) | Response::Undocumented => "json",
        Response::Empty => "empty",
        Response::Text => "text",
        Response::EventStream => "events",
        Response::Binary => "binary",
    };
    let names: Vec<String> = op
        .path_params
        .iter()
        .map(|param| ident(&param.rust_name))
        .collect();
    // A one-element tuple pattern needs its trailing comma.
    let path_pattern = match names.as_slice() {
        [one] => format!("({one},)"),
        many => format!("({})", many.join(", ")),
    };
    let mut call_args = vec!["cx".to_owned()];
    call_args.extend(names.iter().cloned());
    let query_pattern = if op.has_params_struct() {
        call_args.push("query".to_owned());
        "query"
    } else {
        "()"
    };
    let body_pattern = match &op.body {
        None => "()",
        Some(body) => {
            call_args.push("body".to_owned());
            match (body.encoding, body.required) {
                (BodyEncoding::Json, true) => "d::Json(body)",
                (BodyEncoding::Json, false) => "d::MaybeJson(body)",
                (BodyEncoding::Multipart, true) => "d::Form(body)",
                (BodyEncoding::Multipart, false) => "d::MaybeForm(body)",
                (BodyEncoding::Form, true) => "d::UrlEncoded(body)",
                (BodyEncoding::Form, false) => "d::MaybeUrlEncoded(body)",
            }
        }
    };
    let handler = format!("d::{kind}");
    let op_static = format!("&{}", op_const(op));
    let closure = format!("|s, cx, {path_pattern}, {query_pattern}, {body_pattern}| {{");
    let call = format!("s.{}", ident(&op.method_name));
    code.open(".route(");
    code.line(format_args!("{},", lit(&op.path)));
    let one_line = format!("{handler}({op_static}, &service, {closure}");
    if code.fits(&one_line) {
        code.open(one_line);
        code.list(&call, &call_args, "");
        code.close("}),");
    } else {
        code.open(format_args!("{handler}("));
        code.line(format_args!("{op_static},"));
        code.line("&service,");
        code.open(closure);
        code.list(&call, &call_args, "");
        code.close("},");
        code.close("),");
    }
    code.close(")");
}
