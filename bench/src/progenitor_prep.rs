//! Rewrites the constructs of PostHog's schema that make stock progenitor panic into ones it
//! accepts, and counts each rewrite, so that its output can be measured against ours.
//!
//! Only what progenitor 0.15 cannot take is touched. The three panics of stock progenitor come
//! first: a mixed-type `enum` (typify panics), a request body with several media types
//! (`todo!("more media types than expected")`), and an operation whose error responses have
//! different shapes (`assert!(response_types.len() <= 1)`). With those gone, four more failures
//! show one after another, each rewritten here too:
//! - a string enum whose values typify cannot name apart (`TimezoneEnum`'s `Etc/GMT+0` and
//!   `Etc/GMT-0`: another panic) becomes a plain string;
//! - a `default` its enum does not list (`Property.type` defaults to `AND`, which
//!   `PropertyTypeEnum` lacks: a typify error) is dropped;
//! - a `default` on a single-value enum (pydantic's `Literal` tags such as `kind`, which typify
//!   rejects once the struct is a variant of a tagged union) is dropped;
//! - a request body whose only media type progenitor cannot send (`multipart/form-data`:
//!   "unexpected content type") is dropped from its operation.
//!
//! progenitor then generates, but its output does not compile: typify names an inline type
//! after its `title` or after its parent and property, and three such names equal a component's
//! (`Property`, `Key`, `DashboardRestrictionLevel`: E0428). Those inline schemas lose the title,
//! or, for an `allOf: [$ref]` wrapper with extra bounds, the bounds, so that no new type is made.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// The HTTP methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// What [`prepare`] rewrote, each with enough detail to name it in the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrites {
    /// JSON pointers of enums whose values mix JSON types; each became a plain string.
    pub mixed_enums: Vec<String>,
    /// JSON pointers of string enums whose values typify cannot name apart; each became a
    /// plain string.
    pub colliding_enums: Vec<String>,
    /// JSON pointers of `default`s their enum does not list; each was dropped.
    pub bad_defaults: Vec<String>,
    /// `default`s dropped from single-value enums (tags).
    pub tag_defaults: usize,
    /// Operations (`METHOD /path`) whose request body progenitor cannot send; the body was
    /// dropped.
    pub unsendable_bodies: Vec<String>,
    /// JSON pointers of inline schemas typify would name like a component; renamed away.
    pub name_clashes: Vec<String>,
    /// Request bodies narrowed to their first media type.
    pub request_bodies: usize,
    /// Media types dropped from those bodies.
    pub media_types_dropped: usize,
    /// Operations (`METHOD /path`) whose error responses were narrowed to the first one's shape.
    pub error_shapes: Vec<String>,
    /// Error responses dropped from those operations.
    pub error_responses_dropped: usize,
}

impl Rewrites {
    /// Whether nothing needed rewriting.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl fmt::Display for Rewrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "- mixed-type enum -> plain string: {} ({})",
            self.mixed_enums.len(),
            self.mixed_enums.join(", ")
        )?;
        writeln!(
            f,
            "- string enum whose values typify cannot name apart -> plain string: {} ({})",
            self.colliding_enums.len(),
            self.colliding_enums.join(", ")
        )?;
        writeln!(
            f,
            "- default value its enum does not list -> default dropped: {} ({})",
            self.bad_defaults.len(),
            self.bad_defaults.join(", ")
        )?;
        writeln!(
            f,
            "- default on a single-value enum (a `Literal` tag) -> default dropped: {}",
            self.tag_defaults
        )?;
        writeln!(
            f,
            "- inline type typify would name like a component (E0428 in its output) -> title or extra bounds dropped: {} ({})",
            self.name_clashes.len(),
            self.name_clashes.join(", ")
        )?;
        writeln!(
            f,
            "- request body with several media types -> first one progenitor can send only: {} bodies, {} media types dropped",
            self.request_bodies, self.media_types_dropped
        )?;
        writeln!(
            f,
            "- request body with no media type progenitor can send (multipart only) -> body dropped: {} operations ({})",
            self.unsendable_bodies.len(),
            self.unsendable_bodies.join(", ")
        )?;
        writeln!(
            f,
            "- error responses of several shapes -> only those shaped like the first: {} operations, {} responses dropped ({})",
            self.error_shapes.len(),
            self.error_responses_dropped,
            self.error_shapes.join(", ")
        )
    }
}

/// Rewrites `doc` (an OpenAPI 3.0 document as JSON) in place and reports what changed.
pub fn prepare(doc: &mut Value) -> Rewrites {
    let mut rewrites = Rewrites::default();
    // Operations first, so that the schema passes below do not count what a dropped media type
    // took with it.
    rewrite_operations(doc, &mut rewrites);
    plain_string_for_mixed_enums(doc, &mut String::from("#"), &mut rewrites);
    let components = component_schemas(doc);
    untitle_clashing_inline_types(doc, &components, &mut String::from("#"), &mut rewrites);
    unbound_clashing_wrappers(doc, &components, &mut rewrites);
    let enums = component_enums(doc);
    drop_defaults_outside_enum(doc, &enums, &mut String::from("#"), &mut rewrites);
    rewrites
}

/// One media type per request body, one error shape per operation.
fn rewrite_operations(doc: &mut Value, rewrites: &mut Rewrites) {
    if let Some(bodies) = doc
        .pointer_mut("/components/requestBodies")
        .and_then(Value::as_object_mut)
    {
        for body in bodies.values_mut() {
            one_media_type(body, rewrites);
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let name = format!("{} {path}", method.to_uppercase());
            let sendable = operation
                .get_mut("requestBody")
                .is_none_or(|body| one_media_type(body, rewrites));
            if !sendable {
                operation.remove("requestBody");
                rewrites.unsendable_bodies.push(name.clone());
            }
            if let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            {
                one_error_shape(responses, name, rewrites);
            }
        }
    }
}

/// typify only generates enums whose values share one JSON type; `[true, false, "hog"]` panics.
fn plain_string_for_mixed_enums(value: &mut Value, pointer: &mut String, rewrites: &mut Rewrites) {
    match value {
        Value::Object(object) => {
            let verdict = match object.get("enum") {
                Some(Value::Array(values)) if is_mixed(values) => Some(&mut rewrites.mixed_enums),
                Some(Value::Array(values)) if names_collide(values) => {
                    Some(&mut rewrites.colliding_enums)
                }
                _ => None,
            };
            if let Some(list) = verdict {
                list.push(pointer.clone());
                object.remove("enum");
                object.insert("type".to_owned(), Value::String("string".to_owned()));
            }
            for (key, child) in object.iter_mut() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                plain_string_for_mixed_enums(child, pointer, rewrites);
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{index}"));
                plain_string_for_mixed_enums(child, pointer, rewrites);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// The component schemas by name as typify spells type names (PascalCase).
fn component_schemas(doc: &Value) -> BTreeMap<String, Value> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|schemas| {
            schemas
                .iter()
                .map(|(name, schema)| (pascal(name), schema.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Keywords that make typify emit a type of its own for an inline schema and name it by its
/// title. (Titled inline objects, such as pydantic's request bodies, get distinct names.)
const TYPE_MAKING: [&str; 3] = ["enum", "anyOf", "oneOf"];

/// An inline schema titled like a component (`"title": "Property"`) but different from it
/// becomes a second type of that name; without the title typify names it after where it sits.
/// (An exact inline copy of the component, as pydantic request bodies are, is the same type.)
fn untitle_clashing_inline_types(
    value: &mut Value,
    components: &BTreeMap<String, Value>,
    pointer: &mut String,
    rewrites: &mut Rewrites,
) {
    match value {
        Value::Object(object) => {
            // Component schemas themselves are at depth 3 (`#/components/schemas/X`) and own
            // their name; every other titled schema is inline.
            let is_component_root =
                pointer.matches('/').count() == 3 && pointer.starts_with("#/components/schemas/");
            let clashes = object
                .get("title")
                .and_then(Value::as_str)
                .and_then(|title| components.get(&pascal(&title.replace(' ', "-"))))
                .is_some_and(|component| component.as_object() != Some(&*object));
            let makes_type = TYPE_MAKING.iter().any(|key| object.contains_key(*key));
            if clashes && makes_type && !is_component_root {
                object.remove("title");
                rewrites.name_clashes.push(pointer.clone());
            }
            for (key, child) in object.iter_mut() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                untitle_clashing_inline_types(child, components, pointer, rewrites);
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{index}"));
                untitle_clashing_inline_types(child, components, pointer, rewrites);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// `Dashboard.restriction_level` is `allOf: [$ref DashboardRestrictionLevel]` plus bounds;
/// typify makes a new type for it named after parent and property, which is the referenced
/// component's own name. Without the bounds it is the plain reference.
fn unbound_clashing_wrappers(
    doc: &mut Value,
    components: &BTreeMap<String, Value>,
    rewrites: &mut Rewrites,
) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (parent, schema) in schemas.iter_mut() {
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (name, property) in properties.iter_mut() {
            let derived = pascal(&format!("{parent}-{name}"));
            let Some(object) = property.as_object_mut() else {
                continue;
            };
            let is_wrapper = object
                .get("allOf")
                .and_then(Value::as_array)
                .is_some_and(|all_of| all_of.len() == 1);
            let bounds: Vec<String> = object
                .keys()
                .filter(|key| BOUNDS.contains(&key.as_str()))
                .cloned()
                .collect();
            if is_wrapper && !bounds.is_empty() && components.contains_key(&derived) {
                for key in bounds {
                    object.remove(&key);
                }
                rewrites
                    .name_clashes
                    .push(format!("#/components/schemas/{parent}/properties/{name}"));
            }
        }
    }
}

/// Validation keywords that, beside a lone `allOf` reference, make typify build a new type.
const BOUNDS: [&str; 7] = [
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
];

/// The values of every component schema that is an enum, by `$ref`.
fn component_enums(doc: &Value) -> BTreeMap<String, Vec<Value>> {
    let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return BTreeMap::new();
    };
    schemas
        .iter()
        .filter_map(|(name, schema)| {
            let values = schema.get("enum")?.as_array()?.clone();
            Some((format!("#/components/schemas/{name}"), values))
        })
        .collect()
}

/// typify checks every `default` against its schema and fails the whole run on one that does
/// not conform: a default outside its (inline or `allOf: [$ref]`) enum is dropped, and so is
/// one on a single-value enum, which says nothing the enum does not.
fn drop_defaults_outside_enum(
    value: &mut Value,
    enums: &BTreeMap<String, Vec<Value>>,
    pointer: &mut String,
    rewrites: &mut Rewrites,
) {
    match value {
        Value::Object(object) => {
            if let (Some(default), Some(allowed)) =
                (object.get("default"), allowed_values(object, enums))
            {
                let nullable = object.get("nullable") == Some(&Value::Bool(true));
                let conforms = allowed.contains(default) || (default.is_null() && nullable);
                if !conforms {
                    object.remove("default");
                    rewrites.bad_defaults.push(pointer.clone());
                } else if allowed.len() == 1 {
                    object.remove("default");
                    rewrites.tag_defaults += 1;
                }
            }
            for (key, child) in object.iter_mut() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                drop_defaults_outside_enum(child, enums, pointer, rewrites);
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{index}"));
                drop_defaults_outside_enum(child, enums, pointer, rewrites);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// The enum a schema object is restricted to, if any: its own, or that of a lone `allOf` ref.
fn allowed_values<'a>(
    object: &'a Map<String, Value>,
    enums: &'a BTreeMap<String, Vec<Value>>,
) -> Option<&'a Vec<Value>> {
    if let Some(Value::Array(values)) = object.get("enum") {
        return Some(values);
    }
    let reference = match object.get("allOf").and_then(Value::as_array) {
        Some(all_of) if all_of.len() == 1 => all_of.first()?.get("$ref")?.as_str()?,
        _ => return None,
    };
    enums.get(reference)
}

/// Whether the non-null values of an enum have more than one JSON type (null is how a nullable
/// enum spells itself, which typify handles).
fn is_mixed(values: &[Value]) -> bool {
    let mut kinds = values.iter().filter(|v| !v.is_null()).map(json_kind);
    match kinds.next() {
        Some(first) => kinds.any(|kind| kind != first),
        None => false,
    }
}

/// Whether typify would fail to give a string enum's values distinct variant names. It tries
/// twice (typify-impl 0.8 `TypeEntryEnum::from_metadata`): PascalCase with punctuation as word
/// breaks, then with every `_` and punctuation turned into `X`; both must collide to panic.
fn names_collide(values: &[Value]) -> bool {
    let strings: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
    if strings.len() < 2 {
        return false;
    }
    let first_try = |raw: &str| match raw {
        "+1" => "plus1".to_owned(),
        "-1" => "minus1".to_owned(),
        _ => pascal(
            &raw.replace('\'', "")
                .replace(|c: char| !is_ident_char(c), "-"),
        ),
    };
    let second_try = |raw: &str| pascal(&raw.replace(|c: char| c == '_' || !is_ident_char(c), "X"));
    has_duplicates(strings.iter().map(|raw| first_try(raw)))
        && has_duplicates(strings.iter().map(|raw| second_try(raw)))
}

/// Close enough to Unicode's XID_Continue for the ASCII values schemas use.
fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn pascal(text: &str) -> String {
    use heck::ToPascalCase as _;
    text.to_pascal_case()
}

fn has_duplicates(names: impl Iterator<Item = String>) -> bool {
    let mut seen = BTreeSet::new();
    names.into_iter().any(|name| !seen.insert(name))
}

fn json_kind(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// drf-spectacular offers JSON, form and multipart for most bodies; progenitor takes exactly
/// one, and cannot send multipart. The first it can send stays (JSON wherever JSON is offered,
/// which is also what our client sends). Returns false when there is none: the caller drops
/// the body.
fn one_media_type(body: &mut Value, rewrites: &mut Rewrites) -> bool {
    let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) else {
        return true;
    };
    // `preserve_order` keeps the document's order, so "first" is the schema's first.
    let keep = content
        .iter()
        .find(|(media_type, _)| progenitor_can_send(media_type))
        .map(|(k, v)| (k.clone(), v.clone()));
    let Some((media_type, media)) = keep else {
        return content.is_empty();
    };
    if content.len() > 1 {
        rewrites.request_bodies += 1;
        rewrites.media_types_dropped += content.len() - 1;
        content.clear();
        content.insert(media_type, media);
    }
    true
}

/// The request media types progenitor 0.15 encodes (`BodyContentType::from_str`).
fn progenitor_can_send(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or_default().trim();
    matches!(
        essence,
        "application/json"
            | "application/x-www-form-urlencoded"
            | "application/octet-stream"
            | "text/plain"
            | "text/x-markdown"
    )
}

/// progenitor gives each method one error type, so the error responses must share one shape.
/// Those shaped like the first stay; the rest go (their status codes then decode as unexpected).
fn one_error_shape(responses: &mut Map<String, Value>, operation: String, rewrites: &mut Rewrites) {
    let errors: Vec<(String, String)> = responses
        .iter()
        .filter(|(status, _)| is_error_status(status))
        .map(|(status, response)| (status.clone(), shape(response)))
        .collect();
    let Some((_, first_shape)) = errors.first() else {
        return;
    };
    let dropped: Vec<&String> = errors
        .iter()
        .filter(|(_, shape)| shape != first_shape)
        .map(|(status, _)| status)
        .collect();
    if dropped.is_empty() {
        return;
    }
    rewrites.error_responses_dropped += dropped.len();
    for status in dropped {
        responses.remove(status);
    }
    rewrites.error_shapes.push(operation);
}

/// progenitor's own error classes: 4XX/5XX ranges, explicit codes >= 300, and `default`.
fn is_error_status(status: &str) -> bool {
    !status.starts_with('2') && !status.starts_with('1')
}

/// How progenitor classifies a response: the JSON schema if there is one, else raw bytes if
/// there is any content, else nothing. References are compared as written.
fn shape(response: &Value) -> String {
    let content = response.get("content").and_then(Value::as_object);
    let json = content.and_then(|content| {
        content
            .iter()
            .find(|(media_type, _)| {
                *media_type == "application/json" || media_type.starts_with("application/json;")
            })
            .map(|(_, media)| media.get("schema").cloned().unwrap_or(Value::Null))
    });
    match (json, content) {
        (Some(schema), _) => format!("json {schema}"),
        (None, Some(content)) if !content.is_empty() => "raw".to_owned(),
        _ if response.get("$ref").is_some() => format!("ref {response}"),
        _ => "none".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rewrites_exactly_the_three_constructs() {
        let mut doc = json!({
            "paths": {"/upload/": {"post": {
                "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "string"}}}},
                "responses": {"204": {"description": "none"}}
            }}, "/a/": {"post": {
                "requestBody": {"content": {
                    "application/json": {"schema": {"type": "string"}},
                    "multipart/form-data": {"schema": {"type": "string"}}
                }},
                "responses": {
                    "201": {"content": {"application/json": {"schema": {"type": "string"}}}},
                    "400": {"content": {"application/json": {"schema": {"type": "string"}}}},
                    "404": {"description": "none"},
                    "409": {"content": {"application/json": {"schema": {"type": "string"}}}}
                }
            }}},
            "components": {"schemas": {
                "Mixed": {"enum": [true, "hog"]},
                "Timezone": {"type": "string", "enum": ["Etc/GMT+0", "Etc/GMT-0", "UTC"]},
                "Fine": {"type": "string", "enum": ["a_b", "ab", "+1", "-1"]},
                "Holder": {"properties": {
                    "bad": {"allOf": [{"$ref": "#/components/schemas/Fine"}], "default": "AND"},
                    "good": {"allOf": [{"$ref": "#/components/schemas/Fine"}], "default": "ab"}
                }},
                "Nullable": {"enum": ["a", null], "nullable": true},
                "Key": {"type": "string", "enum": ["a", "b"]},
                "KeyHolder": {"properties": {
                    "key": {"title": "Key", "type": "string", "enum": ["id"]},
                    "plain": {"title": "Key", "type": "string"}
                }},
                "Dashboard": {"properties": {
                    "restriction_level": {"allOf": [{"$ref": "#/components/schemas/DashboardRestrictionLevel"}], "maximum": 9}
                }},
                "DashboardRestrictionLevel": {"type": "integer", "enum": [1, 9]},
                "Tagged": {"properties": {"kind": {"type": "string", "enum": ["Tagged"], "default": "Tagged"}}}
            }}
        });
        let rewrites = prepare(&mut doc);
        assert_eq!(rewrites.mixed_enums, ["#/components/schemas/Mixed"]);
        assert_eq!(
            doc["components"]["schemas"]["Mixed"],
            json!({"type": "string"})
        );
        assert_eq!(rewrites.colliding_enums, ["#/components/schemas/Timezone"]);
        assert_eq!(
            rewrites.bad_defaults,
            ["#/components/schemas/Holder/properties/bad"]
        );
        assert_eq!(
            rewrites.name_clashes,
            [
                "#/components/schemas/KeyHolder/properties/key",
                "#/components/schemas/Dashboard/properties/restriction_level"
            ]
        );
        assert_eq!(
            doc["components"]["schemas"]["KeyHolder"]["properties"]["plain"]["title"],
            "Key"
        );
        assert_eq!(rewrites.tag_defaults, 1);
        assert_eq!(
            doc["components"]["schemas"]["Tagged"]["properties"]["kind"].get("default"),
            None
        );
        assert_eq!(rewrites.unsendable_bodies, ["POST /upload/"]);
        assert_eq!(doc["paths"]["/upload/"]["post"].get("requestBody"), None);
        assert_eq!(rewrites.request_bodies, 1);
        assert_eq!(rewrites.media_types_dropped, 1);
        assert_eq!(rewrites.error_shapes, ["POST /a/"]);
        assert_eq!(rewrites.error_responses_dropped, 1);
        let responses = doc["paths"]["/a/"]["post"]["responses"]
            .as_object()
            .map(|r| r.keys().cloned().collect::<Vec<_>>());
        assert_eq!(
            responses,
            Some(vec!["201".to_owned(), "400".to_owned(), "409".to_owned()])
        );
    }
}
