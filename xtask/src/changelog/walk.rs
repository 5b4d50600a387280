//! Reading schemas for the changelog: operations by route, component flows (request or
//! response), and one-line shapes of schemas.

use super::*;

/// Operations are matched on method and path template with parameter names blanked out, so
/// that `{parent_lookup_organization_id}` becoming `{organization_id}` is the same operation.
pub(super) type OpKey = (String, usize);

pub(super) struct OpEntry<'a> {
    pub(super) method: &'a str,
    pub(super) path: &'a str,
    pub(super) op: &'a Operation,
    /// Path-level parameters, which the operation's own override.
    pub(super) shared: &'a [ReferenceOr<Parameter>],
}

impl OpEntry<'_> {
    pub(super) fn tag(&self) -> String {
        self.op
            .tags
            .last()
            .cloned()
            .unwrap_or_else(|| "(untagged)".to_owned())
    }
}

pub(super) const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub(super) fn operations(doc: &OpenAPI) -> BTreeMap<OpKey, OpEntry<'_>> {
    let mut out = BTreeMap::new();
    for (path, item) in &doc.paths.paths {
        let Some(item) = item.as_item() else { continue };
        let template = blank_parameters(path);
        for (method, op) in item.iter() {
            let index = METHODS
                .iter()
                .position(|m| *m == method)
                .unwrap_or(METHODS.len());
            let entry = OpEntry {
                method,
                path,
                op,
                shared: &item.parameters,
            };
            // Two paths that differ only in parameter names keep their own keys.
            let key = if out.contains_key(&(template.clone(), index)) {
                (path.clone(), index)
            } else {
                (template.clone(), index)
            };
            out.insert(key, entry);
        }
    }
    out
}

pub(super) fn blank_parameters(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_name = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_name = true;
                out.push_str("{}");
            }
            '}' => in_name = false,
            _ if in_name => {}
            _ => out.push(c),
        }
    }
    out
}

pub(super) fn component_schemas(doc: &OpenAPI) -> BTreeMap<&str, &ReferenceOr<Schema>> {
    doc.components
        .iter()
        .flat_map(|components| &components.schemas)
        .map(|(name, schema)| (name.as_str(), schema))
        .collect()
}

/// The component name a `$ref` points at.
pub(super) fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

pub(super) fn lookup_schema<'a>(doc: &'a OpenAPI, reference: &str) -> Option<&'a Schema> {
    let name = reference.strip_prefix("#/components/schemas/")?;
    doc.components.as_ref()?.schemas.get(name)?.as_item()
}

/// A schema position: a reference or an inline schema, whichever box it came in.
#[derive(Clone, Copy)]
pub(super) enum Node<'a> {
    Ref(&'a str),
    Inline(&'a Schema),
}

impl<'a> Node<'a> {
    pub(super) fn of(schema: &'a ReferenceOr<Schema>) -> Node<'a> {
        match schema {
            ReferenceOr::Reference { reference } => Node::Ref(reference),
            ReferenceOr::Item(schema) => Node::Inline(schema),
        }
    }

    pub(super) fn of_boxed(schema: &'a ReferenceOr<Box<Schema>>) -> Node<'a> {
        match schema {
            ReferenceOr::Reference { reference } => Node::Ref(reference),
            ReferenceOr::Item(schema) => Node::Inline(schema),
        }
    }
}

/// Which way values travel: into the server, out of it, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Flow {
    pub(super) request: bool,
    pub(super) response: bool,
}

impl Flow {
    pub(super) const REQUEST: Flow = Flow {
        request: true,
        response: false,
    };
    pub(super) const RESPONSE: Flow = Flow {
        request: false,
        response: true,
    };

    pub(super) fn usage(self) -> Usage {
        match (self.request, self.response) {
            (true, true) => Usage::Both,
            (true, false) => Usage::Request,
            (false, true) => Usage::Response,
            (false, false) => Usage::Unused,
        }
    }

    /// Narrows a flow for a field: drf-spectacular marks response-only fields `readOnly` and
    /// request-only ones `writeOnly` inside types used both ways.
    pub(super) fn for_field(self, schema: Option<&Schema>) -> Flow {
        match schema.map(|s| (s.schema_data.read_only, s.schema_data.write_only)) {
            Some((true, _)) => Flow {
                request: false,
                ..self
            },
            Some((_, true)) => Flow {
                response: false,
                ..self
            },
            _ => self,
        }
    }
}

/// The flow of every component, in either schema, found by walking from the operations.
pub(super) struct Flows {
    pub(super) by_name: BTreeMap<String, Flow>,
}

impl Flows {
    pub(super) fn new(old: &OpenAPI, new: &OpenAPI) -> Flows {
        let mut by_name = BTreeMap::new();
        for doc in [old, new] {
            for (direction, roots) in [
                (Flow::REQUEST, request_roots(doc)),
                (Flow::RESPONSE, response_roots(doc)),
            ] {
                let mut seen = BTreeSet::new();
                let mut stack: Vec<&str> = Vec::new();
                for root in roots {
                    collect_refs(root, &mut stack);
                }
                while let Some(reference) = stack.pop() {
                    let name = ref_name(reference);
                    if !seen.insert(name.to_owned()) {
                        continue;
                    }
                    let flow: &mut Flow = by_name.entry(name.to_owned()).or_default();
                    flow.request |= direction.request;
                    flow.response |= direction.response;
                    if let Some(schema) = lookup_schema(doc, reference) {
                        collect_refs(Node::Inline(schema), &mut stack);
                    }
                }
            }
        }
        Flows { by_name }
    }

    pub(super) fn of(&self, name: &str) -> Flow {
        self.by_name.get(name).copied().unwrap_or_default()
    }
}

pub(super) fn request_roots(doc: &OpenAPI) -> Vec<Node<'_>> {
    let mut roots = Vec::new();
    for item in doc.paths.paths.values().filter_map(ReferenceOr::as_item) {
        let shared = item.parameters.iter();
        for (_, op) in item.iter() {
            for parameter in shared.clone().chain(&op.parameters) {
                if let Some(ParameterSchemaOrContent::Schema(schema)) =
                    resolve_parameter(doc, parameter).map(|p| &p.parameter_data_ref().format)
                {
                    roots.push(Node::of(schema));
                }
            }
            if let Some(body) = op.request_body.as_ref().and_then(|b| resolve_body(doc, b)) {
                roots.extend(
                    body.content
                        .values()
                        .filter_map(|m| m.schema.as_ref())
                        .map(Node::of),
                );
            }
        }
    }
    roots
}

pub(super) fn response_roots(doc: &OpenAPI) -> Vec<Node<'_>> {
    let mut roots = Vec::new();
    for item in doc.paths.paths.values().filter_map(ReferenceOr::as_item) {
        for (_, op) in item.iter() {
            for response in op.responses.responses.values().chain(&op.responses.default) {
                if let Some(response) = resolve_response(doc, response) {
                    roots.extend(
                        response
                            .content
                            .values()
                            .filter_map(|m| m.schema.as_ref())
                            .map(Node::of),
                    );
                }
            }
        }
    }
    roots
}

/// Pushes every `$ref` reachable from `node` without crossing into another component.
pub(super) fn collect_refs<'a>(node: Node<'a>, out: &mut Vec<&'a str>) {
    let schema = match node {
        Node::Ref(reference) => {
            out.push(reference);
            return;
        }
        Node::Inline(schema) => schema,
    };
    let mut children: Vec<Node<'a>> = Vec::new();
    match &schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => {
            children.extend(object.properties.values().map(Node::of_boxed));
            if let Some(AdditionalProperties::Schema(extra)) = &object.additional_properties {
                children.push(Node::of(extra));
            }
        }
        SchemaKind::Type(Type::Array(array)) => {
            children.extend(array.items.as_ref().map(Node::of_boxed))
        }
        SchemaKind::Type(_) => {}
        SchemaKind::OneOf { one_of: all }
        | SchemaKind::AllOf { all_of: all }
        | SchemaKind::AnyOf { any_of: all } => {
            children.extend(all.iter().map(Node::of));
        }
        SchemaKind::Not { not } => children.push(Node::of(not)),
        SchemaKind::Any(any) => {
            children.extend(any.properties.values().map(Node::of_boxed));
            children.extend(any.items.as_ref().map(Node::of_boxed));
            if let Some(AdditionalProperties::Schema(extra)) = &any.additional_properties {
                children.push(Node::of(extra));
            }
            children.extend(
                any.one_of
                    .iter()
                    .chain(&any.all_of)
                    .chain(&any.any_of)
                    .map(Node::of),
            );
            children.extend(any.not.as_deref().map(Node::of));
        }
    }
    for child in children {
        collect_refs(child, out);
    }
}

pub(super) fn resolve_parameter<'a>(
    doc: &'a OpenAPI,
    parameter: &'a ReferenceOr<Parameter>,
) -> Option<&'a Parameter> {
    match parameter {
        ReferenceOr::Item(parameter) => Some(parameter),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/parameters/")?;
            doc.components.as_ref()?.parameters.get(name)?.as_item()
        }
    }
}

pub(super) fn resolve_body<'a>(
    doc: &'a OpenAPI,
    body: &'a ReferenceOr<openapiv3::RequestBody>,
) -> Option<&'a openapiv3::RequestBody> {
    match body {
        ReferenceOr::Item(body) => Some(body),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/requestBodies/")?;
            doc.components.as_ref()?.request_bodies.get(name)?.as_item()
        }
    }
}

pub(super) fn resolve_response<'a>(
    doc: &'a OpenAPI,
    response: &'a ReferenceOr<openapiv3::Response>,
) -> Option<&'a openapiv3::Response> {
    match response {
        ReferenceOr::Item(response) => Some(response),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/responses/")?;
            doc.components.as_ref()?.responses.get(name)?.as_item()
        }
    }
}

/// The schema a client encodes or decodes: the JSON one when there is a choice (drf-spectacular
/// offers JSON, form and multipart twins of the same body), else the first.
pub(super) fn main_schema(
    content: &indexmap::IndexMap<String, openapiv3::MediaType>,
) -> Option<Node<'_>> {
    let media = content
        .get("application/json")
        .or_else(|| {
            content
                .iter()
                .find(|(name, _)| name.contains("json"))
                .map(|(_, m)| m)
        })
        .or_else(|| content.values().next())?;
    media.schema.as_ref().map(Node::of)
}

/// A type in a line, and whether null is allowed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Shape {
    pub(super) text: String,
    pub(super) nullable: bool,
}

impl Shape {
    pub(super) fn display(&self) -> String {
        if self.nullable {
            format!("{} | null", self.text)
        } else {
            self.text.clone()
        }
    }
}

pub(super) fn shape(node: Node<'_>) -> Shape {
    match node {
        Node::Ref(reference) => Shape {
            text: ref_name(reference).to_owned(),
            nullable: false,
        },
        Node::Inline(schema) => shape_of(schema),
    }
}

pub(super) fn shape_of(schema: &Schema) -> Shape {
    let mut nullable = schema.schema_data.nullable;
    let with_format = |base: &str, format: &dyn erased_format::Format| match format.text() {
        Some(format) => format!("{base}({format})"),
        None => base.to_owned(),
    };
    let text = match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) => {
            let base = with_format("string", &s.format);
            if s.enumeration.is_empty() {
                base
            } else {
                format!("enum<{base}>")
            }
        }
        SchemaKind::Type(Type::Number(n)) => {
            let base = with_format("number", &n.format);
            if n.enumeration.is_empty() {
                base
            } else {
                format!("enum<{base}>")
            }
        }
        SchemaKind::Type(Type::Integer(i)) => {
            let base = with_format("integer", &i.format);
            if i.enumeration.is_empty() {
                base
            } else {
                format!("enum<{base}>")
            }
        }
        SchemaKind::Type(Type::Boolean(_)) => "boolean".to_owned(),
        SchemaKind::Type(Type::Object(object)) => object_text(
            !object.properties.is_empty(),
            object.additional_properties.as_ref(),
        ),
        SchemaKind::Type(Type::Array(array)) => match &array.items {
            Some(items) => format!("array<{}>", shape(Node::of_boxed(items)).display()),
            None => "array".to_owned(),
        },
        SchemaKind::OneOf { one_of } => {
            // drf-spectacular spells "this enum, or blank, or null" as
            // oneOf[XEnum, BlankEnum, NullEnum]; fold it so that adding the blank or null
            // member reads as what it is (nullability) rather than as a new type.
            let mut members = Vec::new();
            for member in one_of {
                match member {
                    ReferenceOr::Reference { reference } if ref_name(reference) == "NullEnum" => {
                        nullable = true
                    }
                    ReferenceOr::Reference { reference } if ref_name(reference) == "BlankEnum" => {}
                    member => members.push(shape(Node::of(member)).display()),
                }
            }
            match members.as_slice() {
                [one] => one.clone(),
                _ => format!("oneOf<{}>", members.join(", ")),
            }
        }
        SchemaKind::AllOf { all_of } => {
            let members: Vec<String> = all_of
                .iter()
                .map(|m| shape(Node::of(m)).display())
                .collect();
            match members.as_slice() {
                // drf-spectacular wraps a `$ref` in allOf to attach nullable or a description.
                [one] => one.clone(),
                _ => format!("allOf<{}>", members.join(", ")),
            }
        }
        SchemaKind::AnyOf { any_of } => {
            let members: Vec<String> = any_of
                .iter()
                .map(|m| shape(Node::of(m)).display())
                .collect();
            format!("anyOf<{}>", members.join(", "))
        }
        SchemaKind::Not { .. } => "not".to_owned(),
        SchemaKind::Any(any) => {
            if !any.enumeration.is_empty() {
                "enum<any>".to_owned()
            } else if !any.properties.is_empty() || any.additional_properties.is_some() {
                object_text(
                    !any.properties.is_empty(),
                    any.additional_properties.as_ref(),
                )
            } else if let Some(items) = &any.items {
                format!("array<{}>", shape(Node::of_boxed(items)).display())
            } else {
                any.typ.clone().unwrap_or_else(|| "any".to_owned())
            }
        }
    };
    Shape { text, nullable }
}

pub(super) fn object_text(has_properties: bool, extra: Option<&AdditionalProperties>) -> String {
    match (has_properties, extra) {
        (false, Some(AdditionalProperties::Schema(values))) => {
            format!("map<{}>", shape(Node::of(values)).display())
        }
        (false, Some(AdditionalProperties::Any(true))) => "map<any>".to_owned(),
        _ => "object".to_owned(),
    }
}

/// The formats of the scalar types are different enums; all serialize to their spelling.
pub(super) mod erased_format {
    use openapiv3::VariantOrUnknownOrEmpty;
    use serde::Serialize;

    pub trait Format {
        fn text(&self) -> Option<String>;
    }

    impl<T: Serialize> Format for VariantOrUnknownOrEmpty<T> {
        fn text(&self) -> Option<String> {
            match self {
                VariantOrUnknownOrEmpty::Item(item) => match serde_json::to_value(item) {
                    Ok(serde_json::Value::String(text)) => Some(text),
                    _ => None,
                },
                VariantOrUnknownOrEmpty::Unknown(text) => Some(text.clone()),
                VariantOrUnknownOrEmpty::Empty => None,
            }
        }
    }
}

/// The enum values of a schema as JSON literals, in schema order.
pub(super) fn enum_values(schema: &Schema) -> Vec<String> {
    pub(super) fn literal<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).unwrap_or_default()
    }
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) => s.enumeration.iter().map(literal).collect(),
        SchemaKind::Type(Type::Integer(i)) => i.enumeration.iter().map(literal).collect(),
        SchemaKind::Type(Type::Number(n)) => n.enumeration.iter().map(literal).collect(),
        SchemaKind::Type(Type::Boolean(b)) => b.enumeration.iter().map(literal).collect(),
        SchemaKind::Any(any) => any.enumeration.iter().map(literal).collect(),
        _ => Vec::new(),
    }
}

/// The properties of an object schema.
pub(super) type Properties = indexmap::IndexMap<String, ReferenceOr<Box<Schema>>>;

/// The properties and required list of an object schema, if it has any.
pub(super) fn properties(schema: &Schema) -> Option<(&Properties, &[String])> {
    match &schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => Some((&object.properties, &object.required)),
        SchemaKind::Any(any) if !any.properties.is_empty() => {
            Some((&any.properties, &any.required))
        }
        _ => None,
    }
}

pub(super) fn items(schema: &Schema) -> Option<Node<'_>> {
    match &schema.schema_kind {
        SchemaKind::Type(Type::Array(array)) => array.items.as_ref().map(Node::of_boxed),
        SchemaKind::Any(any) => any.items.as_ref().map(Node::of_boxed),
        _ => None,
    }
}

/// The `$ref` a position stands for: itself, or the one member of drf-spectacular's
/// `allOf: [$ref]` and `oneOf: [$ref, BlankEnum, NullEnum]` wrappers.
pub(super) fn named_ref(node: Node<'_>) -> Option<&str> {
    let schema = match node {
        Node::Ref(reference) => return Some(reference),
        Node::Inline(schema) => schema,
    };
    let members = match &schema.schema_kind {
        SchemaKind::AllOf { all_of } if all_of.len() == 1 => all_of,
        SchemaKind::OneOf { one_of } => one_of,
        _ => return None,
    };
    let mut found = None;
    for member in members {
        match member {
            ReferenceOr::Reference { reference }
                if matches!(ref_name(reference), "BlankEnum" | "NullEnum") => {}
            ReferenceOr::Reference { reference } if found.is_none() => {
                found = Some(reference.as_str())
            }
            _ => return None,
        }
    }
    found
}

pub(super) fn named(node: Node<'_>) -> Option<&str> {
    named_ref(node).map(ref_name)
}

pub(super) fn inline(schema: &ReferenceOr<Box<Schema>>) -> Option<&Schema> {
    match schema {
        ReferenceOr::Item(schema) => Some(schema),
        ReferenceOr::Reference { .. } => None,
    }
}

/// The parameters of an operation by location and name; path parameters by position, so that a
/// renamed path parameter is the same parameter.
pub(super) fn parameter_map<'a>(
    doc: &'a OpenAPI,
    entry: &OpEntry<'a>,
) -> BTreeMap<(u8, String), (String, &'a Parameter)> {
    let positions: Vec<&str> = entry
        .path
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split('}').next())
        .collect();
    let mut out = BTreeMap::new();
    for parameter in entry.shared.iter().chain(&entry.op.parameters) {
        let Some(parameter) = resolve_parameter(doc, parameter) else {
            continue;
        };
        let name = parameter.parameter_data_ref().name.clone();
        let key = match parameter {
            Parameter::Path { .. } => {
                let index = positions
                    .iter()
                    .position(|p| *p == name)
                    .unwrap_or(usize::MAX);
                (0, format!("{index:04}"))
            }
            Parameter::Query { .. } => (1, name.clone()),
            Parameter::Header { .. } => (2, name.to_ascii_lowercase()),
            Parameter::Cookie { .. } => (3, name.clone()),
        };
        // An operation's own parameter overrides the path item's one (inserted later).
        out.insert(key, (name, parameter));
    }
    out
}

pub(super) fn parameter_place(parameter: &Parameter) -> &'static str {
    match parameter {
        Parameter::Path { .. } => "path parameter",
        Parameter::Query { .. } => "query parameter",
        Parameter::Header { .. } => "header parameter",
        Parameter::Cookie { .. } => "cookie parameter",
    }
}

pub(super) fn parameter_shape(data: &openapiv3::ParameterData) -> Option<Shape> {
    match &data.format {
        ParameterSchemaOrContent::Schema(schema) => Some(shape(Node::of(schema))),
        ParameterSchemaOrContent::Content(content) => main_schema(content).map(shape),
    }
}

pub(super) fn response_map(
    responses: &openapiv3::Responses,
) -> BTreeMap<String, &ReferenceOr<openapiv3::Response>> {
    let mut out: BTreeMap<String, _> = responses
        .responses
        .iter()
        .map(|(code, response)| (status_text(code), response))
        .collect();
    if let Some(default) = &responses.default {
        out.insert("default".to_owned(), default);
    }
    out
}

pub(super) fn status_text(code: &StatusCode) -> String {
    code.to_string()
}
