//! OpenAPI 3.1 input: rewrites a 3.1 document's raw JSON into the 3.0 model `openapiv3` reads.
//!
//! Each difference is a named pass counted in the [`Report`], written after what
//! drf-spectacular emits with `OAS_VERSION = "3.1.0"`: `type: [T, "null"]` for nullable fields,
//! `oneOf: [{$ref}, {type: "null"}]` for nullable references, `{type: "null"}` for its
//! `NullEnum`, numeric exclusive bounds; plus what hand-written `extend_schema_field` schemas may
//! hold (`const`, `examples`, `$ref` with siblings, boolean schemas, 3.0's `nullable` mixed in,
//! which is kept). The result is what drf-spectacular writes for the same API in 3.0 mode, so
//! both generate the same code. Only schema positions are rewritten (a parameter's `examples`
//! map is 3.0 too). Recursion follows the document, whose depth `load` has already bounded.

use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Diagnostics, escape_segment};
use crate::report::{Report, pass};

/// The version the rewritten document declares.
const REWRITTEN_VERSION: &str = "3.0.3";

/// Keywords holding one subschema. `additionalProperties` is left out: `true`/`false` there are
/// 3.0 too, and are not boolean schemas to rewrite.
const SUBSCHEMA: &[&str] = &[
    "items",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
];

/// Keywords holding a map of subschemas.
const SUBSCHEMA_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "dependentSchemas",
];

/// Keywords holding a list of subschemas.
const SUBSCHEMA_LISTS: &[&str] = &["allOf", "oneOf", "anyOf", "prefixItems"];

/// Rewrites a 3.1 document in place into the 3.0 model, counting each rewrite in `report`.
pub fn downgrade(document: &mut Value, report: &mut Report) -> Result<(), Diagnostics> {
    let mut pass = Downgrade {
        report,
        diagnostics: Vec::new(),
    };
    let Some(root) = document.as_object_mut() else {
        return Ok(());
    };
    root.insert("openapi".to_owned(), Value::from(REWRITTEN_VERSION));
    for key in ["webhooks", "jsonSchemaDialect"] {
        pass.remove_unused(root, key, "#");
    }
    if let Some(info) = root.get_mut("info").and_then(Value::as_object_mut) {
        pass.remove_unused(info, "summary", "#/info");
        if let Some(license) = info.get_mut("license").and_then(Value::as_object_mut) {
            pass.remove_unused(license, "identifier", "#/info/license");
        }
    }
    // 3.1 makes `paths` optional (a document of webhooks or components alone).
    let paths = root
        .entry("paths")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(paths) = paths.as_object_mut() {
        for (path, item) in paths.iter_mut() {
            pass.path_item(item, &format!("#/paths/{}", escape_segment(path)));
        }
    }
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
        pass.remove_unused(components, "pathItems", "#/components");
        for (key, kind) in [
            ("schemas", Holder::Schema),
            ("parameters", Holder::Parameter),
            ("headers", Holder::Parameter),
            ("requestBodies", Holder::Content),
            ("responses", Holder::Response),
        ] {
            if let Some(map) = components.get_mut(key).and_then(Value::as_object_mut) {
                for (name, value) in map.iter_mut() {
                    let pointer = format!("#/components/{key}/{}", escape_segment(name));
                    pass.holder(kind, value, &pointer);
                }
            }
        }
    }
    if pass.diagnostics.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(pass.diagnostics))
    }
}

/// What a member of the document holds schemas as.
#[derive(Clone, Copy)]
enum Holder {
    /// A schema itself.
    Schema,
    /// A parameter or header: `schema`, or `content`.
    Parameter,
    /// A request body: `content`.
    Content,
    /// A response: `content` and `headers`.
    Response,
}

struct Downgrade<'r> {
    report: &'r mut Report,
    diagnostics: Vec<Diagnostic>,
}

impl Downgrade<'_> {
    fn remove_unused(&mut self, map: &mut Map<String, Value>, key: &str, pointer: &str) {
        if map.remove(key).is_some() {
            self.report.touch(
                pass::OAS31_UNUSED_MEMBER,
                &format!("{pointer}/{}", escape_segment(key)),
            );
        }
    }

    fn path_item(&mut self, item: &mut Value, pointer: &str) {
        let Some(item) = item.as_object_mut() else {
            return;
        };
        self.parameter_list(item, pointer);
        for method in crate::load::METHODS {
            let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let pointer = format!("{pointer}/{method}");
            self.parameter_list(operation, &pointer);
            if let Some(body) = operation.get_mut("requestBody") {
                self.holder(Holder::Content, body, &format!("{pointer}/requestBody"));
            }
            if let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            {
                for (code, response) in responses.iter_mut() {
                    let pointer = format!("{pointer}/responses/{}", escape_segment(code));
                    self.holder(Holder::Response, response, &pointer);
                }
            }
        }
    }

    fn parameter_list(&mut self, owner: &mut Map<String, Value>, pointer: &str) {
        if let Some(list) = owner.get_mut("parameters").and_then(Value::as_array_mut) {
            for (index, parameter) in list.iter_mut().enumerate() {
                self.holder(
                    Holder::Parameter,
                    parameter,
                    &format!("{pointer}/parameters/{index}"),
                );
            }
        }
    }

    /// Rewrites the schemas a member holds. References to components are left alone: the
    /// component is rewritten where it is defined.
    fn holder(&mut self, kind: Holder, value: &mut Value, pointer: &str) {
        if let Holder::Schema = kind {
            self.schema(value, pointer);
            return;
        }
        let Some(map) = value.as_object_mut() else {
            return;
        };
        if let Holder::Parameter = kind
            && let Some(schema) = map.get_mut("schema")
        {
            self.schema(schema, &format!("{pointer}/schema"));
        }
        if let Some(content) = map.get_mut("content").and_then(Value::as_object_mut) {
            for (media, media_type) in content.iter_mut() {
                if let Some(schema) = media_type.get_mut("schema") {
                    let pointer = format!("{pointer}/content/{}/schema", escape_segment(media));
                    self.schema(schema, &pointer);
                }
            }
        }
        if let Holder::Response = kind
            && let Some(headers) = map.get_mut("headers").and_then(Value::as_object_mut)
        {
            for (name, header) in headers.iter_mut() {
                let pointer = format!("{pointer}/headers/{}", escape_segment(name));
                self.holder(Holder::Parameter, header, &pointer);
            }
        }
    }

    fn schema(&mut self, value: &mut Value, pointer: &str) {
        if let Value::Bool(accepts) = value {
            *value = if *accepts {
                Value::Object(Map::new())
            } else {
                serde_json::json!({ "not": {} })
            };
            self.report.touch(pass::OAS31_BOOLEAN_SCHEMA, pointer);
            return;
        }
        let Value::Object(map) = value else {
            return;
        };
        // Before the members are rewritten, so that a `{type: "null"}` member is recognised as
        // written and not counted as a `NullEnum`.
        self.null_members(map, pointer);
        for key in SUBSCHEMA {
            if let Some(child) = map.get_mut(*key) {
                if key == &"items" && child.is_array() {
                    self.schema_list(child, &format!("{pointer}/items"));
                } else {
                    self.schema(child, &format!("{pointer}/{key}"));
                }
            }
        }
        if let Some(child) = map.get_mut("additionalProperties")
            && child.is_object()
        {
            self.schema(child, &format!("{pointer}/additionalProperties"));
        }
        for key in SUBSCHEMA_MAPS {
            if let Some(children) = map.get_mut(*key).and_then(Value::as_object_mut) {
                for (name, child) in children.iter_mut() {
                    let pointer = format!("{pointer}/{key}/{}", escape_segment(name));
                    self.schema(child, &pointer);
                }
            }
        }
        for key in SUBSCHEMA_LISTS {
            if let Some(children) = map.get_mut(*key) {
                self.schema_list(children, &format!("{pointer}/{key}"));
            }
        }
        self.type_list(map, pointer);
        self.null_type(map, pointer);
        self.constant(map, pointer);
        self.examples(map, pointer);
        self.exclusive_bound(map, pointer, "exclusiveMinimum", "minimum", |new, old| {
            new >= old
        });
        self.exclusive_bound(map, pointer, "exclusiveMaximum", "maximum", |new, old| {
            new <= old
        });
        self.content_media_type(map, pointer);
        self.ref_siblings(map, pointer);
    }

    fn schema_list(&mut self, list: &mut Value, pointer: &str) {
        if let Some(items) = list.as_array_mut() {
            for (index, child) in items.iter_mut().enumerate() {
                self.schema(child, &format!("{pointer}/{index}"));
            }
        }
    }

    /// `oneOf`/`anyOf` members `{type: "null"}` leave, and the schema becomes `nullable`. A lone
    /// remaining member takes the union's place as drf-spectacular writes it in 3.0: a
    /// reference as a one-member `allOf`, an `allOf` hoisted, `{}` dropped, an inline schema
    /// merged in.
    fn null_members(&mut self, map: &mut Map<String, Value>, pointer: &str) {
        for keyword in ["oneOf", "anyOf"] {
            let Some(members) = map.get_mut(keyword).and_then(Value::as_array_mut) else {
                continue;
            };
            let before = members.len();
            members.retain(|member| !is_null_schema(member));
            if members.len() == before {
                continue;
            }
            self.report.touch(pass::OAS31_NULL_MEMBER, pointer);
            map.insert("nullable".to_owned(), Value::Bool(true));
            let Some(Value::Array(members)) = map.get(keyword) else {
                continue;
            };
            if members.len() != 1 {
                if members.is_empty() {
                    map.remove(keyword);
                }
                continue;
            }
            let Some(Value::Array(mut members)) = map.remove(keyword) else {
                continue;
            };
            let Some(Value::Object(member)) = members.pop() else {
                map.insert(keyword.to_owned(), Value::Array(members));
                continue;
            };
            if member.contains_key("$ref") {
                map.insert(
                    "allOf".to_owned(),
                    Value::Array(vec![Value::Object(member)]),
                );
            } else {
                for (key, value) in member {
                    map.entry(key).or_insert(value);
                }
            }
        }
    }

    /// `type: [T, "null"]` is `type: T` made `nullable`; several types become an `anyOf`.
    fn type_list(&mut self, map: &mut Map<String, Value>, pointer: &str) {
        let Some(Value::Array(types)) = map.get("type") else {
            return;
        };
        let mut names = Vec::with_capacity(types.len());
        let mut nullable = false;
        for (index, entry) in types.iter().enumerate() {
            match entry.as_str() {
                Some("null") => nullable = true,
                Some(name) => names.push(name.to_owned()),
                None => self.diagnostics.push(Diagnostic::new(
                    format!("{pointer}/type/{index}"),
                    format!(
                        "expected a type name (string, number, integer, boolean, array, object or null) in the `type` list, found `{entry}`"
                    ),
                )),
            }
        }
        self.report.touch(pass::OAS31_TYPE_ARRAY, pointer);
        map.remove("type");
        if nullable {
            map.insert("nullable".to_owned(), Value::Bool(true));
        }
        match names.as_slice() {
            [] if nullable => {
                map.entry("enum")
                    .or_insert_with(|| Value::Array(vec![Value::Null]));
            }
            [] => {}
            [only] => {
                map.insert("type".to_owned(), Value::from(only.as_str()));
            }
            several if !map.contains_key("anyOf") => {
                let members = several
                    .iter()
                    .map(|name| serde_json::json!({ "type": name }))
                    .collect();
                map.insert("anyOf".to_owned(), Value::Array(members));
            }
            // A union of types beside an `anyOf` of its own: no 3.0 form keeps both, and the
            // `anyOf` says more.
            _ => {}
        }
    }

    /// `type: "null"` alone (drf's `NullEnum` component) is 3.0's `enum: [null]`.
    fn null_type(&mut self, map: &mut Map<String, Value>, pointer: &str) {
        if map.get("type").and_then(Value::as_str) != Some("null") {
            return;
        }
        self.report.touch(pass::OAS31_NULL_TYPE, pointer);
        map.remove("type");
        map.entry("enum")
            .or_insert_with(|| Value::Array(vec![Value::Null]));
    }

    fn constant(&mut self, map: &mut Map<String, Value>, pointer: &str) {
        let Some(value) = map.remove("const") else {
            return;
        };
        self.report.touch(pass::OAS31_CONST, pointer);
        if !map.contains_key("type") {
            let inferred = match &value {
                Value::String(_) => Some("string"),
                Value::Bool(_) => Some("boolean"),
                Value::Number(number) if number.is_i64() || number.is_u64() => Some("integer"),
                Value::Number(_) => Some("number"),
                Value::Null | Value::Array(_) | Value::Object(_) => None,
            };
            if let Some(inferred) = inferred {
                map.insert("type".to_owned(), Value::from(inferred));
            }
        }
        map.insert("enum".to_owned(), Value::Array(vec![value]));
    }

    fn examples(&mut self, map: &mut Map<String, Value>, pointer: &str) {
        let Some(Value::Array(_)) = map.get("examples") else {
            return;
        };
        self.report.touch(pass::OAS31_EXAMPLES, pointer);
        if let Some(Value::Array(mut examples)) = map.remove("examples")
            && !map.contains_key("example")
            && !examples.is_empty()
        {
            map.insert("example".to_owned(), examples.swap_remove(0));
        }
    }

    /// A numeric `exclusiveMinimum: n` is 3.0's `minimum: n` with `exclusiveMinimum: true`,
    /// unless an inclusive bound beside it is stricter (3.1 allows both).
    fn exclusive_bound(
        &mut self,
        map: &mut Map<String, Value>,
        pointer: &str,
        exclusive: &str,
        inclusive: &str,
        stricter_or_equal: fn(f64, f64) -> bool,
    ) {
        let Some(bound) = map.get(exclusive).filter(|v| v.is_number()).cloned() else {
            return;
        };
        self.report.touch(pass::OAS31_EXCLUSIVE_BOUND, pointer);
        let new = bound.as_f64().unwrap_or_default();
        let keep_inclusive = map
            .get(inclusive)
            .and_then(Value::as_f64)
            .is_some_and(|old| !stricter_or_equal(new, old));
        if keep_inclusive {
            map.remove(exclusive);
        } else {
            map.insert(inclusive.to_owned(), bound);
            map.insert(exclusive.to_owned(), Value::Bool(true));
        }
    }

    /// 3.1 describes raw bytes by their media type, 3.0 by `format: binary`.
    fn content_media_type(&mut self, map: &mut Map<String, Value>, pointer: &str) {
        if !map.contains_key("contentMediaType")
            || map.contains_key("contentEncoding")
            || map.contains_key("format")
            || map.get("type").and_then(Value::as_str) != Some("string")
        {
            return;
        }
        self.report.touch(pass::OAS31_CONTENT_MEDIA_TYPE, pointer);
        map.insert("format".to_owned(), Value::from("binary"));
    }

    /// `{$ref, description, readOnly, ...}` (3.1 applies both) is 3.0's
    /// `{allOf: [{$ref}], description, readOnly, ...}`, as drf-spectacular writes it there.
    fn ref_siblings(&mut self, map: &mut Map<String, Value>, pointer: &str) {
        if map.len() < 2 {
            return;
        }
        let Some(reference) = map.remove("$ref") else {
            return;
        };
        self.report.touch(pass::OAS31_REF_SIBLINGS, pointer);
        let member = serde_json::json!({ "$ref": reference });
        match map.get_mut("allOf").and_then(Value::as_array_mut) {
            Some(members) => members.insert(0, member),
            None => {
                map.insert("allOf".to_owned(), Value::Array(vec![member]));
            }
        }
    }
}

/// `{type: "null"}` as a union member (annotations beside it say nothing about a value).
fn is_null_schema(value: &Value) -> bool {
    let Some(map) = value.as_object() else {
        return false;
    };
    map.get("type").and_then(Value::as_str) == Some("null")
        && map
            .keys()
            .all(|key| matches!(key.as_str(), "type" | "description" | "title"))
}
