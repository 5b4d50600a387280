//! OpenAPI 3.1 on the real schema: PostHog's 2025 schema rewritten the way drf-spectacular
//! writes the same API with `OAS_VERSION = "3.1.0"` generates the same code as the original.

mod support;

use serde_json::{Map, Value, json};
use support::{generate_ok, read, schemas_dir};

/// Rewrites a drf-spectacular 3.0 document as its 3.1 mode writes it (`append_meta` and the
/// enum hook in drf-spectacular): `nullable` becomes a `"null"` type or a `{type: "null"}`
/// union member, boolean exclusive bounds become numbers, `NullEnum` becomes `{type: "null"}`.
fn as_drf_31(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                as_drf_31(child);
            }
            rewrite_schema(map);
        }
        Value::Array(items) => items.iter_mut().for_each(as_drf_31),
        _ => {}
    }
}

fn rewrite_schema(map: &mut Map<String, Value>) {
    let null_type = json!({ "type": "null" });
    // 3.0 ignores a reference's siblings (PostHog's query models put `nullable`, `default` and
    // a description there); 3.1 applies them, so the same API in 3.1 has none.
    if let Some(reference) = map.get("$ref").cloned() {
        map.clear();
        map.insert("$ref".into(), reference);
        return;
    }
    if map.get("nullable") == Some(&Value::Bool(true)) {
        map.remove("nullable");
        if let Some(Value::String(typ)) = map.get("type").cloned() {
            map.insert("type".into(), json!([typ, "null"]));
        } else if let Some(reference) = map.remove("$ref") {
            map.insert("oneOf".into(), json!([{ "$ref": reference }, null_type]));
        } else if let Some(Value::Array(members)) = map.get("allOf").cloned() {
            map.remove("allOf");
            let first = if members.len() == 1 && members[0].get("$ref").is_some() {
                members[0].clone()
            } else {
                json!({ "allOf": members })
            };
            map.insert("oneOf".into(), json!([first, null_type]));
        } else if let Some(Value::Array(members)) = map.get_mut("oneOf") {
            members.push(null_type.clone());
        } else if let Some(Value::Array(members)) = map.get_mut("anyOf") {
            members.push(null_type.clone());
        } else {
            map.insert("oneOf".into(), json!([{}, null_type]));
        }
    }
    for (exclusive, inclusive) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        match map.get(exclusive) {
            Some(Value::Bool(true)) => {
                if let Some(bound) = map.remove(inclusive) {
                    map.insert(exclusive.into(), bound);
                }
            }
            Some(Value::Bool(false)) => {
                map.remove(exclusive);
            }
            _ => {}
        }
    }
    if map.len() == 1 && map.get("enum") == Some(&json!([null])) {
        map.clear();
        map.insert("type".into(), json!("null"));
    }
}

/// Every file without its `@generated` line, which names the source and its hash.
fn bodies(files: &std::collections::BTreeMap<String, String>) -> Vec<(&String, &str)> {
    files
        .iter()
        .map(|(path, text)| (path, text.split_once('\n').map_or("", |(_, rest)| rest)))
        .collect()
}

#[test]
fn posthog_2025_as_drf_31_generates_the_same_code() {
    let bytes = read(&schemas_dir().join("posthog-2025.json"));
    let mut document: Value = serde_json::from_slice(&bytes).expect("the 2025 schema is JSON");
    as_drf_31(&mut document);
    document["openapi"] = json!("3.1.0");
    let rewritten = serde_json::to_vec(&document).expect("serializes");
    let original = generate_ok("posthog-2025.json", &bytes);
    let converted = generate_ok("posthog-2025-3.1.json", &rewritten);
    for pass in ["oas31_type_array", "oas31_null_member", "oas31_null_type"] {
        assert!(
            converted.report.count(pass) > 0,
            "{pass}: {}",
            converted.report
        );
    }
    let (a, b) = (bodies(&original.files), bodies(&converted.files));
    assert_eq!(a.len(), b.len());
    for ((path, left), (_, right)) in a.iter().zip(&b) {
        if left != right {
            let line = left
                .lines()
                .zip(right.lines())
                .find(|(l, r)| l != r)
                .map(|(l, r)| format!("3.0: {l}\n3.1: {r}"))
                .unwrap_or_default();
            panic!("{path} differs:\n{line}");
        }
    }
}
