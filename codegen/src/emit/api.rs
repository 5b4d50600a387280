//! Emits the client: one module per tag, holding each operation's query type and methods.

use std::collections::{BTreeMap, BTreeSet};

use crate::emit::code::{Code, ident, lit, op_const, query_type_name, type_text};
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

/// One module per tag, as `(module name, text)`, plus the `api` module listing them.
pub fn emit_api(api: &Api, defaultable: &BTreeSet<&str>) -> (String, BTreeMap<String, String>) {
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
    let mut index = Code::new();
    index
        .inner_doc("The client's operations, one module per schema tag. Each module documents its");
    index.inner_doc(
        "operations' methods on [`crate::Client`] and holds their query parameter types.",
    );
    for line in skipped_docs(api) {
        index.inner_doc(&line);
    }
    for (module, operations) in &by_module {
        let tags: BTreeSet<&str> = operations.iter().map(|op| op.tag.as_str()).collect();
        let tags: Vec<&str> = tags.into_iter().collect();
        index.doc(&format!(
            "Operations tagged `{}` ({} operations; cargo feature `{module}`).",
            tags.join("`, `"),
            operations.len()
        ));
        index.line(format_args!("#[cfg(feature = {})]", lit(module)));
        index.line(format_args!("pub mod {};", ident(module)));
    }
    (index.into_string(), modules)
}

/// Doc lines listing the operations left out under `--skip-unsupported`, with their pointers and
/// reasons (none when nothing was skipped, so the default output is unchanged).
fn skipped_docs(api: &Api) -> Vec<String> {
    if api.skipped.is_empty() {
        return Vec::new();
    }
    // Schema text on one line: each entry of the list is one doc line.
    let one_line = |text: String| text.replace(['\n', '\r'], " ");
    let mut lines = vec![
        String::new(),
        "# Operations left out".to_owned(),
        String::new(),
        format!(
            "Generated with `--skip-unsupported`: these {} operations (or path items) of the schema could not be lowered and have no method.",
            api.skipped.len()
        ),
        String::new(),
    ];
    for skipped in &api.skipped {
        lines.push(one_line(format!(
            "- `{}` at `{}`:",
            skipped.operation, skipped.pointer
        )));
        for reason in &skipped.reasons {
            lines.push(one_line(format!(
                "  - `{}`: {}",
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
    let mut lines = vec!["# Operations".to_owned(), String::new()];
    for op in operations {
        let summary = op
            .summary
            .as_deref()
            .map(|summary| format!(": {}", summary.trim().replace('\n', " ")))
            .unwrap_or_default();
        lines.push(format!(
            "- [`Client::{}`] `{} {}`{summary}",
            op.method_name, op.method, op.path
        ));
    }
    lines
}

fn emit_module(
    operations: &[&Operation],
    defaultable: &BTreeSet<&str>,
    types: &BTreeMap<String, TypeDef>,
) -> String {
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
        .map(|line| line.trim().to_owned())
        .collect();
    if !module_doc.is_empty() {
        module_doc.push(String::new());
    }
    module_doc.extend(operation_list(operations));
    let mut code = Code::new();
    for line in &module_doc {
        code.inner_doc(line);
    }
    code.line("#![allow(unused_imports)]");
    code.line("use crate::client::{Client, ProjectId};");
    code.line("use crate::error::Result;");
    code.line("use crate::generated::operations::*;");
    code.line("use crate::generated::types;");
    code.line("use crate::request::RequestBuilder;");
    for op in operations.iter().filter(|op| op.has_params_struct()) {
        emit_query_type(&mut code, op, defaultable);
    }
    code.open("impl Client {");
    for op in operations {
        let own_description = op.description.as_deref().filter(|d| counts[d] == 1);
        emit_methods(&mut code, op, own_description, types);
    }
    code.close("}");
    code.into_string()
}

fn emit_query_type(code: &mut Code, op: &Operation, defaultable: &BTreeSet<&str>) {
    if op.header_params.is_empty() && op.cookie_params.is_empty() {
        code.doc(&format!(
            "Query parameters of [`Client::{}`].",
            op.method_name
        ));
    } else {
        code.doc(&format!(
            "Query, header and cookie parameters of [`Client::{}`].",
            op.method_name
        ));
    }
    let default = if op.struct_params().all(|p| has_default(&p.ty, defaultable)) {
        ", Default"
    } else {
        ""
    };
    code.line(format_args!("#[derive(Debug, Clone, PartialEq{default})]"));
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
    code.open(format_args!("pub struct {} {{", query_type_name(op)));
    for (doc, param) in &documented {
        code.docs(doc.as_deref());
        code.line(format_args!(
            "pub {}: {},",
            ident(&param.rust_name),
            type_text(&param.ty, "types::")
        ));
    }
    code.close("}");
}

/// How a method receives a path parameter.
fn path_param_type(param: &Param) -> String {
    match &param.ty {
        TypeRef::String => "&str".to_owned(),
        // A UUID, or an alias PostHog accepts in its place (`/api/users/@me/`).
        TypeRef::Uuid => "impl std::fmt::Display + Sync".to_owned(),
        TypeRef::Named(_) | TypeRef::Json => format!("&{}", type_text(&param.ty, "types::")),
        other => type_text(other, "types::"),
    }
}

/// The method arguments and the expression that builds the request.
struct RequestParts {
    arguments: Vec<Argument>,
    /// The call that starts the request (`self.__op`), before its arguments.
    start: &'static str,
    start_arguments: Vec<String>,
    /// The builder calls after it, one per line (`.query("limit", &query.limit)`).
    chain: Vec<String>,
}

impl RequestParts {
    /// The request expression after `lead` (`let request = `), then the `extra` calls, then
    /// `end` (`;`).
    fn write(&self, code: &mut Code, lead: &str, extra: &[&str], end: &str) {
        let calls: Vec<&str> = self
            .chain
            .iter()
            .map(String::as_str)
            .chain(extra.iter().copied())
            .collect();
        let Some((last, middle)) = calls.split_last() else {
            code.list(&format!("{lead}{}", self.start), &self.start_arguments, end);
            return;
        };
        let head = format!("{lead}{}", self.start);
        let one_line = format!("{head}({})", self.start_arguments.join(", "));
        if code.fits(&one_line) {
            code.line(one_line);
            code.indent();
        } else {
            // The arguments one level deeper than the calls that follow their `)`.
            code.line(format_args!("{head}("));
            code.indent();
            code.indent();
            for argument in &self.start_arguments {
                code.line(format_args!("{argument},"));
            }
            code.dedent();
            code.line(")");
        }
        for call in middle {
            code.line(call);
        }
        code.line(format_args!("{last}{end}"));
        code.dedent();
    }
}

/// One method argument, its name kept apart from its type so that companions can pass it on.
struct Argument {
    name: String,
    ty: String,
}

impl Argument {
    fn new(name: String, ty: String) -> Self {
        Self { name, ty }
    }

    /// `name: Type`, as the method signature declares it.
    fn declaration(&self) -> String {
        format!("{}: {}", self.name, self.ty)
    }
}

fn request_parts(op: &Operation, types: &BTreeMap<String, TypeDef>) -> RequestParts {
    let mut arguments = Vec::new();
    let mut format_args = Vec::new();
    let mut project = None;
    for param in &op.path_params {
        let name = ident(&param.rust_name);
        if param.wire_name == "project_id" && param.ty == TypeRef::String {
            project = Some(format!("{name}.into()"));
            arguments.push(Argument::new(name, "impl Into<ProjectId>".to_owned()));
        } else {
            format_args.push(format!("&{name}"));
            let ty = path_param_type(param);
            arguments.push(Argument::new(name, ty));
        }
    }
    let path_values = format!("&[{}]", format_args.join(", "));
    let op_static = format!("&{}", op_const(op));
    let (start, start_arguments) = match project {
        Some(project) => ("self.__project_op", vec![op_static, project, path_values]),
        None => ("self.__op", vec![op_static, path_values]),
    };
    let mut chain = Vec::new();
    if op.has_params_struct() {
        arguments.push(Argument::new(
            "query".to_owned(),
            format!("&{}", query_type_name(op)),
        ));
        for param in &op.query_params {
            let wire = lit(&param.wire_name);
            let field = ident(&param.rust_name);
            let is_list = matches!(&param.ty, TypeRef::Vec(_))
                || matches!(&param.ty, TypeRef::Option(inner) if matches!(**inner, TypeRef::Vec(_)));
            if is_list && !param.explode {
                chain.push(format!(".query_csv({wire}, &query.{field})"));
            } else {
                chain.push(format!(".query({wire}, &query.{field})"));
            }
        }
        for (params, place) in [(&op.header_params, "header"), (&op.cookie_params, "cookie")] {
            for param in params {
                let wire = lit(&param.wire_name);
                let field = ident(&param.rust_name);
                chain.push(format!(".{place}({wire}, &query.{field})"));
            }
        }
    }
    if let Some(body) = &op.body {
        let ty = type_text(&body.ty, "types::");
        // A JSON body the schema leaves optional because every member is (drf's `Patched*`) is
        // taken by reference and always sent: `{}` means what no body means, and
        // `&PatchedX { .., ..Default::default() }` reads better than `Some(&..)`.
        let required =
            body.required || (body.encoding == BodyEncoding::Json && all_optional(types, &body.ty));
        let ty = if required {
            format!("&{ty}")
        } else {
            format!("Option<&{ty}>")
        };
        arguments.push(Argument::new("body".to_owned(), ty));
        let files: Vec<String> = body.file_fields.iter().map(|file| lit(file)).collect();
        let files = files.join(", ");
        chain.push(match (body.encoding, required) {
            (BodyEncoding::Json, true) => ".json(body)".to_owned(),
            (BodyEncoding::Json, false) => ".json_opt(body)".to_owned(),
            (BodyEncoding::Multipart, true) => format!(".multipart(body, &[{files}])"),
            (BodyEncoding::Multipart, false) => format!(".multipart_opt(body, &[{files}])"),
            (BodyEncoding::Form, true) => ".form(body)".to_owned(),
            (BodyEncoding::Form, false) => ".form_opt(body)".to_owned(),
        });
        if let Some(media) = &body.media_type {
            chain.push(format!(".content_type({})", lit(media)));
        }
        // `format: binary` members travel as file parts with their name and content type.
        if body.encoding == BodyEncoding::Multipart {
            for (wire, field) in file_members(types, &body.ty) {
                let wire = lit(&wire);
                chain.push(if body.required {
                    format!(".file_part({wire}, &body.{field})")
                } else {
                    format!(".file_part({wire}, &body.map(|body| &body.{field}))")
                });
            }
        }
    }
    RequestParts {
        arguments,
        start,
        start_arguments,
        chain,
    }
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
fn file_members(types: &BTreeMap<String, TypeDef>, body: &TypeRef) -> Vec<(String, String)> {
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
    code: &mut Code,
    op: &Operation,
    description: Option<&str>,
    types: &BTreeMap<String, TypeDef>,
) {
    let parts = request_parts(op, types);
    let mut arguments = vec!["&self".to_owned()];
    arguments.extend(parts.arguments.iter().map(Argument::declaration));
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
    let deprecated = |code: &mut Code| {
        if op.deprecated {
            code.line("#[deprecated]");
        }
    };
    let (value_type, send, default_accept) = match &op.response {
        Response::Json(ty) => (type_text(ty, "types::"), "json", None),
        Response::Undocumented => ("serde_json::Value".to_owned(), "value", None),
        Response::Empty => ("()".to_owned(), "empty", None),
        Response::Text => ("String".to_owned(), "text", Some("text/csv")),
        Response::EventStream => (
            "crate::stream::ByteStream".to_owned(),
            "stream",
            Some("text/event-stream"),
        ),
        Response::Binary => ("bytes::Bytes".to_owned(), "bytes", None),
    };
    let accept = op
        .accept
        .as_deref()
        .or(default_accept)
        .map(|media| format!(".accept({})", lit(media)));
    let (return_type, send) = if op.conditional {
        (
            format!("crate::request::Conditional<{value_type}>"),
            format!(".send_conditional_{send}()"),
        )
    } else {
        (value_type, format!(".send_{send}()"))
    };
    let mut finish: Vec<&str> = accept.as_deref().into_iter().collect();
    finish.extend([send.as_str(), ".await"]);
    code.docs(Some(&doc_text));
    deprecated(code);
    code.open_list(
        &format!("pub async fn {name}"),
        &arguments,
        &format!(" -> Result<{return_type}> {{"),
    );
    parts.write(code, "", &finish, "");
    code.close("}");
    if let (Some(pagination), Some(pages), Some(items)) =
        (&op.pagination, &op.companions.pages, &op.companions.items)
    {
        let item = type_text(&pagination.item, "types::");
        let style = match pagination.style {
            PaginationStyle::LimitOffset => "LimitOffset",
            PaginationStyle::Cursor => "Cursor",
            PaginationStyle::OffsetOrCursor => "OffsetOrCursor",
            PaginationStyle::PageNumber => "PageNumber",
        };
        let pages = ident(pages);
        code.doc(&format!(
            "Every page of [`Client::{}`], following `next` links.",
            op.method_name
        ));
        deprecated(code);
        code.open_list(
            &format!("pub fn {pages}"),
            &arguments,
            &format!(" -> crate::pagination::Pages<{item}> {{"),
        );
        parts.write(code, "let request = ", &[], ";");
        code.line(format_args!(
            "crate::pagination::Pages::new(request, crate::pagination::PaginationStyle::{style})"
        ));
        code.close("}");
        code.doc(&format!(
            "Every item of [`Client::{}`], across pages.",
            op.method_name
        ));
        deprecated(code);
        code.open_list(
            &format!("pub fn {}", ident(items)),
            &arguments,
            &format!(" -> crate::pagination::Items<{item}> {{"),
        );
        let names: Vec<&str> = parts.arguments.iter().map(|a| a.name.as_str()).collect();
        code.line(format_args!("self.{pages}({}).items()", names.join(", ")));
        code.close("}");
    }
    if let Some(csv) = &op.companions.csv {
        code.doc(&format!(
            "[`Client::{}`] as CSV text (`Accept: text/csv`).",
            op.method_name
        ));
        code.open_list(
            &format!("pub async fn {}", ident(csv)),
            &arguments,
            " -> Result<String> {",
        );
        parts.write(
            code,
            "",
            &[".accept(\"text/csv\")", ".send_text()", ".await"],
            "",
        );
        code.close("}");
    }
    if let Some(stream) = &op.companions.event_stream {
        code.doc(&format!(
            "[`Client::{}`] as a server-sent event stream.",
            op.method_name
        ));
        code.open_list(
            &format!("pub async fn {}", ident(stream)),
            &arguments,
            " -> Result<crate::stream::ByteStream> {",
        );
        parts.write(
            code,
            "",
            &[".accept(\"text/event-stream\")", ".send_stream()", ".await"],
            "",
        );
        code.close("}");
    }
}
