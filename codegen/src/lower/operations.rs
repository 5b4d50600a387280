//! Lowering of paths and operations: parameters, bodies, answers, tags, scopes, pagination.

use std::collections::{BTreeMap, BTreeSet};

use openapiv3::{
    OpenAPI, Parameter, ParameterSchemaOrContent, PathItem, ReferenceOr,
    RequestBody as OaRequestBody, Response as OaResponse, SchemaKind, StatusCode, StringFormat,
    Type, VariantOrUnknownOrEmpty,
};

use indexmap::IndexMap;

use crate::diagnostic::{Diagnostic, escape_segment};
use crate::ir::{
    AlternateResponse, BodyEncoding, Companions, Host, Operation, Pagination, PaginationStyle,
    Param, RequestBody, Response, SkippedOperation, TypeKind, TypeRef,
};
use crate::lower::schema::TypeLowering;
use crate::naming::{NameSet, field_name, type_name};
use crate::report::pass;

/// Extension on an operation naming the host that serves it (`public` for ingestion).
pub const HOST_EXTENSION: &str = "x-posthog-host";

/// Tag that drf-spectacular puts on every `/api/environments/` operation, next to the real one.
const ENVIRONMENTS_TAG: &str = "environments";

/// Lowers every operation of `doc`. With `skip_unsupported`, an operation (or path item) whose
/// lowering reports diagnostics is left out and returned, with them, instead of failing the run.
pub fn lower_operations(
    doc: &OpenAPI,
    types: &mut TypeLowering<'_>,
    skip_unsupported: bool,
) -> (Vec<Operation>, Vec<SkippedOperation>) {
    let mut method_names = NameSet::new();
    for reserved in crate::naming::RESERVED_METHOD_NAMES {
        method_names.reserve(reserved);
    }
    let tags_by_route = tags_by_route(doc);
    let mut operations = Vec::new();
    let mut skipped = Vec::new();
    for (path, item) in &doc.paths.paths {
        let path_pointer = format!("#/paths/{}", escape_segment(path));
        let item = match item {
            ReferenceOr::Item(item) => item,
            ReferenceOr::Reference { reference } => {
                let reason = Diagnostic::new(
                    &path_pointer,
                    format!("path item references (`$ref: {reference}`) are not supported"),
                );
                if skip_unsupported {
                    skipped.push(SkippedOperation {
                        operation: path.clone(),
                        pointer: path_pointer,
                        reasons: vec![reason],
                    });
                } else {
                    types.diagnostics.push(reason);
                }
                continue;
            }
        };
        for (method, op) in item.iter() {
            let pointer = format!("{path_pointer}/{method}");
            let (diagnostics_mark, types_mark) = (types.diagnostics.len(), types.types_mark());
            let context = OperationContext {
                doc,
                path,
                method,
                item,
                op,
                pointer,
                tags_by_route: &tags_by_route,
            };
            let operation = context.lower(types, &mut method_names);
            if skip_unsupported && types.diagnostics.len() > diagnostics_mark {
                let reasons = types.diagnostics.split_off(diagnostics_mark);
                types.forget_types_since(types_mark);
                let id = op
                    .operation_id
                    .as_deref()
                    .map_or_else(String::new, |id| format!(" ({id})"));
                skipped.push(SkippedOperation {
                    operation: format!("{} {path}{id}", method.to_uppercase()),
                    pointer: context.pointer,
                    reasons,
                });
                continue;
            }
            if let Some(operation) = operation {
                operations.push(operation);
            }
        }
    }
    skipped.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    for operation in &mut operations {
        let base = operation.method_name.clone();
        let mut claim =
            |suffix: &str| Some(method_names.claim(&format!("{base}_{suffix}"), "_companion"));
        if operation.pagination.is_some() {
            operation.companions.pages = claim("pages");
            operation.companions.items = claim("stream");
        }
        if operation
            .alternate_responses
            .contains(&AlternateResponse::Csv)
        {
            operation.companions.csv = claim("csv");
        }
        if operation
            .alternate_responses
            .contains(&AlternateResponse::EventStream)
        {
            operation.companions.event_stream = claim("event_stream");
        }
    }
    operations.sort_by(|a, b| (&a.tag, &a.method_name).cmp(&(&b.tag, &b.method_name)));
    (operations, skipped)
}

/// Tags of every `(method, path)`, for finding an environment operation's project twin.
fn tags_by_route(doc: &OpenAPI) -> BTreeMap<(String, String), Vec<String>> {
    let mut out = BTreeMap::new();
    for (path, item) in &doc.paths.paths {
        if let ReferenceOr::Item(item) = item {
            for (method, op) in item.iter() {
                out.insert((method.to_owned(), path.clone()), op.tags.clone());
            }
        }
    }
    out
}

struct OperationContext<'d> {
    doc: &'d OpenAPI,
    path: &'d str,
    method: &'d str,
    item: &'d PathItem,
    op: &'d openapiv3::Operation,
    pointer: String,
    tags_by_route: &'d BTreeMap<(String, String), Vec<String>>,
}

impl OperationContext<'_> {
    fn lower(&self, types: &mut TypeLowering<'_>, method_names: &mut NameSet) -> Option<Operation> {
        let id = match &self.op.operation_id {
            Some(id) => id.clone(),
            None => {
                types.report.touch(pass::RENAME, &self.pointer);
                format!("{}_{}", self.method, self.path)
            }
        };
        let wanted = field_name(&id);
        let method_name = method_names.claim(&wanted, "_op");
        if method_name != wanted {
            types.report.touch(pass::RENAME, &self.pointer);
        }
        let type_prefix = type_name(&id);
        let params = self.parameters(types, &type_prefix);
        let body = self.request_body(types, &type_prefix);
        let (response, alternate_responses, accept) = self.response(types, &type_prefix);
        let pagination = pagination(&response, &params.query, types);
        let conditional = response != Response::EventStream
            && (params
                .header
                .iter()
                .any(|p| is_conditional_header(&p.wire_name))
                || self
                    .op
                    .responses
                    .responses
                    .contains_key(&StatusCode::Code(304)));
        if conditional {
            types
                .report
                .touch(pass::CONDITIONAL_RESPONSE, &self.pointer);
        }
        if pagination.is_some() {
            types.report.touch(pass::PAGINATION, &self.pointer);
        }
        let host = match self
            .op
            .extensions
            .get(HOST_EXTENSION)
            .and_then(|v| v.as_str())
        {
            Some("public") => Host::Public,
            _ => Host::Private,
        };
        Some(Operation {
            id,
            method_name,
            tag: self.primary_tag(types),
            method: self.method.to_uppercase(),
            path: self.path.to_owned(),
            host,
            summary: clean(self.op.summary.as_deref()),
            description: clean(self.op.description.as_deref()),
            deprecated: self.op.deprecated,
            path_params: params.path,
            query_params: params.query,
            header_params: params.header,
            cookie_params: params.cookie,
            body,
            response,
            conditional,
            accept,
            alternate_responses,
            scopes: self.scopes(),
            throttle_scopes: Vec::new(),
            pagination,
            companions: Companions::default(),
            pointer: self.pointer.clone(),
        })
    }

    /// drf-spectacular tags an operation with its path prefix and then with its viewset's tag;
    /// the last distinct tag other than `environments` is the specific one. An environment
    /// operation with no other tag takes the tag of its `/api/projects/` twin.
    fn primary_tag(&self, types: &mut TypeLowering<'_>) -> String {
        let distinct: Vec<&String> = {
            let mut seen = BTreeSet::new();
            self.op
                .tags
                .iter()
                .filter(|t| seen.insert(t.as_str()))
                .collect()
        };
        if distinct.len() < self.op.tags.len() {
            types.report.touch(pass::PRIMARY_TAG, &self.pointer);
        }
        if let Some(tag) = distinct
            .iter()
            .rev()
            .find(|t| t.as_str() != ENVIRONMENTS_TAG)
        {
            return (*tag).clone();
        }
        if let Some(rest) = self.path.strip_prefix("/api/environments/") {
            let twin = (self.method.to_owned(), format!("/api/projects/{rest}"));
            if let Some(tag) = self
                .tags_by_route
                .get(&twin)
                .and_then(|tags| tags.iter().rev().find(|t| t.as_str() != ENVIRONMENTS_TAG))
            {
                types.report.touch(pass::ENVIRONMENT_TWIN, &self.pointer);
                return tag.clone();
            }
        }
        distinct
            .first()
            .map_or_else(|| "default".to_owned(), |t| (*t).clone())
    }

    fn scopes(&self) -> Vec<String> {
        let requirements = self.op.security.as_ref().or(self.doc.security.as_ref());
        let mut scopes = BTreeSet::new();
        for requirement in requirements.into_iter().flatten() {
            for values in requirement.values() {
                scopes.extend(values.iter().cloned());
            }
        }
        scopes.into_iter().collect()
    }

    fn parameters(&self, types: &mut TypeLowering<'_>, type_prefix: &str) -> Parameters {
        // Operation parameters override path-item ones with the same name and location.
        let mut merged: Vec<(String, &Parameter)> = Vec::new();
        let sources = [
            ("parameters", &self.item.parameters, true),
            ("parameters", &self.op.parameters, false),
        ];
        for (key, list, from_item) in sources {
            for (index, parameter) in list.iter().enumerate() {
                let base = if from_item {
                    format!("#/paths/{}", escape_segment(self.path))
                } else {
                    self.pointer.clone()
                };
                let pointer = format!("{base}/{key}/{index}");
                let Some(parameter) = self.resolve_parameter(parameter, &pointer, types) else {
                    continue;
                };
                let data = parameter.parameter_data_ref();
                merged.retain(|(_, p)| {
                    let other = p.parameter_data_ref();
                    !(other.name == data.name
                        && std::mem::discriminant(*p) == std::mem::discriminant(parameter))
                });
                merged.push((pointer, parameter));
            }
        }
        let mut names = NameSet::new();
        for reserved in crate::naming::RESERVED_PARAMETER_NAMES {
            names.reserve(reserved);
        }
        let placeholders = placeholders(self.path);
        let mut path_params = Vec::new();
        let mut query_params = Vec::new();
        let mut header_params = Vec::new();
        let mut cookie_params = Vec::new();
        for (pointer, parameter) in merged {
            let data = parameter.parameter_data_ref();
            if matches!(parameter, Parameter::Header { .. }) && is_owned_header(&data.name) {
                types.report.touch(pass::IGNORED_HEADER_PARAM, &pointer);
                continue;
            }
            if matches!(
                parameter,
                Parameter::Header { .. } | Parameter::Cookie { .. }
            ) && !is_token(&data.name)
            {
                types.diagnostics.push(Diagnostic::new(
                    pointer,
                    format!(
                        "`{}` cannot be sent as a header or cookie name: it must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)",
                        data.name.escape_debug()
                    ),
                ));
                continue;
            }
            let ty = match &data.format {
                ParameterSchemaOrContent::Schema(schema) => types.lower_use(
                    schema,
                    &format!("{pointer}/schema"),
                    &format!("{type_prefix}{}", type_name(&data.name)),
                ),
                ParameterSchemaOrContent::Content(_) => TypeRef::String,
            };
            let param = |ty: TypeRef, names: &mut NameSet| Param {
                wire_name: data.name.clone(),
                rust_name: names.claim(&field_name(&data.name), "_param"),
                ty,
                explode: data.explode.unwrap_or(true),
                docs: data.description.clone(),
            };
            match parameter {
                // Arguments fill placeholders in order, so a parameter the template does not
                // name would put its value in another's place.
                Parameter::Path { .. } if !placeholders.contains(&data.name) => {
                    types.diagnostics.push(Diagnostic::new(
                        pointer,
                        format!(
                            "path parameter `{}` is declared, but the path `{}` does not name `{{{}}}`",
                            data.name, self.path, data.name
                        ),
                    ))
                }
                Parameter::Path { .. } => path_params.push(param(ty, &mut names)),
                Parameter::Query { .. } => {
                    let ty = if data.required { ty } else { ty.optional() };
                    query_params.push(param(ty, &mut names));
                }
                Parameter::Header { .. } => {
                    let ty = if data.required { ty } else { ty.optional() };
                    header_params.push(param(ty, &mut names));
                }
                Parameter::Cookie { .. } => {
                    let ty = if data.required { ty } else { ty.optional() };
                    cookie_params.push(param(ty, &mut names));
                }
            }
        }
        // Path parameters in the order the template names them.
        for (index, placeholder) in placeholders.iter().enumerate() {
            if placeholders[..index].contains(placeholder) {
                types.diagnostics.push(Diagnostic::new(
                    &self.pointer,
                    format!("the path names `{{{placeholder}}}` more than once"),
                ));
                continue;
            }
            if !path_params.iter().any(|p| &p.wire_name == placeholder) {
                types.diagnostics.push(Diagnostic::new(
                    &self.pointer,
                    format!("the path names `{{{placeholder}}}` but no path parameter of that name is declared"),
                ));
            }
        }
        path_params.sort_by_key(|p| placeholders.iter().position(|name| name == &p.wire_name));
        Parameters {
            path: path_params,
            query: query_params,
            header: header_params,
            cookie: cookie_params,
        }
    }

    fn resolve_parameter<'p>(
        &'p self,
        parameter: &'p ReferenceOr<Parameter>,
        pointer: &str,
        types: &mut TypeLowering<'_>,
    ) -> Option<&'p Parameter> {
        match parameter {
            ReferenceOr::Item(parameter) => Some(parameter),
            ReferenceOr::Reference { reference } => {
                let found = reference
                    .strip_prefix("#/components/parameters/")
                    .and_then(|key| self.doc.components.as_ref()?.parameters.get(key));
                match found {
                    Some(ReferenceOr::Item(parameter)) => Some(parameter),
                    _ if !reference.starts_with('#') => {
                        types.diagnostics.push(Diagnostic::new(
                            pointer,
                            format!("parameter `$ref: {reference}` names another document, which the generator does not read: copy the parameter into components/parameters"),
                        ));
                        None
                    }
                    _ => {
                        types.diagnostics.push(Diagnostic::new(
                            pointer,
                            format!("dangling or nested parameter `$ref: {reference}`"),
                        ));
                        None
                    }
                }
            }
        }
    }

    fn request_body(&self, types: &mut TypeLowering<'_>, type_prefix: &str) -> Option<RequestBody> {
        let pointer = format!("{}/requestBody", self.pointer);
        let body: &OaRequestBody = match self.op.request_body.as_ref()? {
            ReferenceOr::Item(body) => body,
            ReferenceOr::Reference { reference } => {
                if let Some(ty) = types.external_ref(reference, &pointer) {
                    return Some(RequestBody {
                        ty,
                        encoding: BodyEncoding::Json,
                        required: true,
                        file_fields: Vec::new(),
                        media_type: None,
                    });
                }
                let found = reference
                    .strip_prefix("#/components/requestBodies/")
                    .and_then(|key| self.doc.components.as_ref()?.request_bodies.get(key));
                match found {
                    Some(ReferenceOr::Item(body)) => body,
                    _ => {
                        types.diagnostics.push(Diagnostic::new(
                            pointer,
                            format!("dangling request body `$ref: {reference}`"),
                        ));
                        return None;
                    }
                }
            }
        };
        let json = find_json(&body.content);
        let find = |wanted: &str| {
            body.content
                .iter()
                .find(|(media, _)| media.as_str() == wanted)
        };
        let multipart = find("multipart/form-data");
        let form = find("application/x-www-form-urlencoded");
        let any = find("*/*");
        let (media, content, encoding) = match (json, multipart, form, any) {
            (Some((media, content)), ..) => {
                if body.content.len() > 1 {
                    types.report.touch(pass::PICK_JSON_BODY, &pointer);
                }
                (media, content, BodyEncoding::Json)
            }
            (None, Some((media, content)), ..) => {
                types.report.touch(pass::MULTIPART_ONLY_BODY, &pointer);
                (media, content, BodyEncoding::Multipart)
            }
            (None, None, Some((media, content)), _) => {
                types.report.touch(pass::FORM_ONLY_BODY, &pointer);
                (media, content, BodyEncoding::Form)
            }
            (None, None, None, Some((media, content))) => (media, content, BodyEncoding::Json),
            (None, None, None, None) => {
                let found: Vec<&String> = body.content.keys().collect();
                types.diagnostics.push(Diagnostic::new(
                    &pointer,
                    format!("no supported request body media type among {found:?}; expected JSON (`application/json` or any `+json`), multipart/form-data or application/x-www-form-urlencoded"),
                ));
                return None;
            }
        };
        let content_pointer = format!("{pointer}/content/{}/schema", escape_segment(media));
        let ty = match &content.schema {
            Some(schema) => {
                types.lower_use(schema, &content_pointer, &format!("{type_prefix}Body"))
            }
            None => TypeRef::Json,
        };
        let file_fields = match (&content.schema, encoding) {
            (Some(schema), BodyEncoding::Multipart) => binary_fields(self.doc, schema),
            _ => Vec::new(),
        };
        let media_type =
            (encoding == BodyEncoding::Json && is_json(media) && !is_plain_json(media))
                .then(|| media.clone());
        Some(RequestBody {
            ty,
            encoding,
            required: body.required,
            file_fields,
            media_type,
        })
    }

    fn response(
        &self,
        types: &mut TypeLowering<'_>,
        type_prefix: &str,
    ) -> (Response, Vec<AlternateResponse>, Option<String>) {
        let mut success: Vec<(u16, &ReferenceOr<OaResponse>)> = self
            .op
            .responses
            .responses
            .iter()
            .filter_map(|(code, response)| match code {
                StatusCode::Code(code) if (200..300).contains(code) => Some((*code, response)),
                StatusCode::Range(2) => Some((200, response)),
                _ => None,
            })
            .collect();
        success.sort_by_key(|(code, _)| *code);
        let Some((code, response)) = success.first() else {
            types
                .report
                .touch(pass::UNDOCUMENTED_RESPONSE, &self.pointer);
            return (Response::Undocumented, Vec::new(), None);
        };
        let pointer = format!("{}/responses/{code}", self.pointer);
        let response = match response {
            ReferenceOr::Item(response) => response,
            ReferenceOr::Reference { reference } => {
                if let Some(ty) = types.external_ref(reference, &pointer) {
                    return (Response::Json(ty), Vec::new(), None);
                }
                let found = reference
                    .strip_prefix("#/components/responses/")
                    .and_then(|key| self.doc.components.as_ref()?.responses.get(key));
                match found {
                    Some(ReferenceOr::Item(response)) => response,
                    _ => {
                        types.diagnostics.push(Diagnostic::new(
                            pointer,
                            format!("dangling response `$ref: {reference}`"),
                        ));
                        return (Response::Undocumented, Vec::new(), None);
                    }
                }
            }
        };
        if response.content.is_empty() {
            if *code == 204 {
                return (Response::Empty, Vec::new(), None);
            }
            types.report.touch(pass::UNDOCUMENTED_RESPONSE, &pointer);
            return (Response::Undocumented, Vec::new(), None);
        }
        let mut alternates = Vec::new();
        let has = |media: &str| response.content.contains_key(media);
        // `*/*` with a schema that is not binary is JSON, as drf-spectacular writes it for views
        // whose renderer it cannot name.
        let any_json = response.content.get("*/*").filter(|content| {
            content
                .schema
                .as_ref()
                .is_some_and(|schema| !is_binary_schema(self.doc, schema))
        });
        let json = find_json(&response.content)
            .map(|(media, content)| (media.as_str(), content))
            .or(any_json.map(|content| ("*/*", content)));
        let mut accept = None;
        let main = match json {
            Some((media, content)) => {
                if media != "*/*" && !is_plain_json(media) {
                    accept = Some(media.to_owned());
                }
                let content_pointer = format!("{pointer}/content/{}/schema", escape_segment(media));
                match &content.schema {
                    Some(schema) => Response::Json(types.lower_use(
                        schema,
                        &content_pointer,
                        &format!("{type_prefix}Response"),
                    )),
                    None => Response::Undocumented,
                }
            }
            None if has("text/event-stream") => Response::EventStream,
            None if response
                .content
                .keys()
                .all(|media| media.starts_with("text/")) =>
            {
                if !has("text/csv") {
                    accept = response.content.keys().next().cloned();
                }
                Response::Text
            }
            None => {
                types.report.touch(pass::BINARY_RESPONSE, &pointer);
                let media: Vec<&str> = response.content.keys().map(String::as_str).collect();
                accept = Some(media.join(", "));
                Response::Binary
            }
        };
        if matches!(main, Response::Json(_) | Response::Undocumented) {
            if has("text/csv") {
                alternates.push(AlternateResponse::Csv);
            }
            if has("text/event-stream") {
                alternates.push(AlternateResponse::EventStream);
            }
            if !alternates.is_empty() {
                types.report.touch(pass::ALTERNATE_MEDIA, &pointer);
            }
        }
        (main, alternates, accept)
    }
}

/// The parameters of one operation, by location.
struct Parameters {
    path: Vec<Param>,
    query: Vec<Param>,
    header: Vec<Param>,
    cookie: Vec<Param>,
}

/// Headers the client sets itself, lowercase: OpenAPI says to ignore `Accept`, `Content-Type`
/// and `Authorization` parameters, and the others are credentials or framing, which the
/// runtime refuses to take from a parameter (`RequestBuilder::header` in `posthog-api`).
const OWNED_HEADERS: &[&str] = &[
    "accept",
    "authorization",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "cookie",
    "host",
    "proxy-authorization",
    "transfer-encoding",
];

fn is_owned_header(name: &str) -> bool {
    OWNED_HEADERS
        .iter()
        .any(|owned| owned.eq_ignore_ascii_case(name))
}

/// Request headers that make an answer `304 Not Modified` possible.
fn is_conditional_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("if-none-match") || name.eq_ignore_ascii_case("if-modified-since")
}

/// Whether `name` is an RFC 9110 token, the syntax of header and cookie names.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The JSON member of a content map: `application/json` when offered, else the first `+json`.
fn find_json(
    content: &IndexMap<String, openapiv3::MediaType>,
) -> Option<(&String, &openapiv3::MediaType)> {
    content
        .iter()
        .find(|(media, _)| is_plain_json(media))
        .or_else(|| content.iter().find(|(media, _)| is_json(media)))
}

fn is_plain_json(media: &str) -> bool {
    let essence = media.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// A schema, or the component it references (one level; `None` when dangling).
fn resolve_schema<'d>(
    doc: &'d OpenAPI,
    schema: &'d ReferenceOr<openapiv3::Schema>,
) -> Option<&'d openapiv3::Schema> {
    match schema {
        ReferenceOr::Item(schema) => Some(schema),
        ReferenceOr::Reference { reference } => reference
            .strip_prefix("#/components/schemas/")
            .and_then(|key| doc.components.as_ref()?.schemas.get(key))
            .and_then(|s| s.as_item()),
    }
}

/// Whether `schema` is `type: string, format: binary` (directly or through a component).
fn is_binary_schema(doc: &OpenAPI, schema: &ReferenceOr<openapiv3::Schema>) -> bool {
    matches!(
        resolve_schema(doc, schema).map(|s| &s.schema_kind),
        Some(SchemaKind::Type(Type::String(s))) if s.format == VariantOrUnknownOrEmpty::Item(StringFormat::Binary)
    )
}

/// Whether a media type is JSON: `application/json` or any `+json` structured syntax suffix
/// (RFC 6839: `application/vnd.x+json`, `application/scim+json`, `application/problem+json`),
/// with or without parameters.
fn is_json(media: &str) -> bool {
    let essence = media
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || (essence.contains('/') && essence.ends_with("+json"))
}

/// Recognises a paginated list: a JSON answer with `results` (a list) and `next`, and the
/// `limit`/`offset`, `cursor` or `page` query parameters that drive it. A listing may declare
/// both `offset` and `cursor`; it is then resumable from either, and never narrowed to one
/// (declaring `cursor` must not take away resuming by offset).
fn pagination(
    response: &Response,
    query: &[Param],
    types: &TypeLowering<'_>,
) -> Option<Pagination> {
    let Response::Json(TypeRef::Named(name)) = response else {
        return None;
    };
    let TypeKind::Struct { fields } = &types.types.get(name)?.kind else {
        return None;
    };
    let has_next = fields.iter().any(|f| f.wire_name == "next");
    let item = fields
        .iter()
        .find(|f| f.wire_name == "results")
        .and_then(|f| match &f.ty {
            TypeRef::Vec(item) => Some((**item).clone()),
            TypeRef::Option(inner) | TypeRef::Nullable(inner) => match &**inner {
                TypeRef::Vec(item) => Some((**item).clone()),
                _ => None,
            },
            _ => None,
        })?;
    let has_param = |name: &str| query.iter().any(|p| p.wire_name == name);
    let style = match (has_param("offset"), has_param("cursor")) {
        (true, true) => PaginationStyle::OffsetOrCursor,
        (false, true) => PaginationStyle::Cursor,
        (false, false) if has_param("page") => PaginationStyle::PageNumber,
        _ => PaginationStyle::LimitOffset,
    };
    has_next.then_some(Pagination { style, item })
}

/// `{name}` placeholders of a path template, in order.
pub fn placeholders(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        out.push(rest[start + 1..start + end].to_owned());
        rest = &rest[start + end + 1..];
    }
    out
}

/// Members of a multipart body with `format: binary`, sent as file parts.
fn binary_fields(doc: &OpenAPI, schema: &ReferenceOr<openapiv3::Schema>) -> Vec<String> {
    let Some(SchemaKind::Type(Type::Object(object))) =
        resolve_schema(doc, schema).map(|s| &s.schema_kind)
    else {
        return Vec::new();
    };
    object
        .properties
        .iter()
        .filter(|(_, property)| {
            matches!(
                property.as_item().map(|p| &p.schema_kind),
                Some(SchemaKind::Type(Type::String(s))) if s.format == VariantOrUnknownOrEmpty::Item(StringFormat::Binary)
            )
        })
        .map(|(name, _)| name.clone())
        .collect()
}

fn clean(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
