//! Every operation of the 2025 schema is routed by the generated server: each is called over
//! real HTTP with placeholder path values, required query parameters and a minimal body built
//! from the schema, and must reach its stub's default 501 (never 404 or 405).

use std::collections::BTreeMap;

use posthog_api::operations::ALL;
use posthog_api::server::Routes;
use serde_json::{Map, Value, json};

/// The schema the committed `generated/` was built from (beside the workspace, never copied).
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/schemas/posthog-2025.json"
);

/// Our description of PostHog's public endpoints, merged into the schema by the generator.
const PUBLIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/public-api.yaml");

/// The 2025 schema with the public endpoints' paths and components added.
fn load_schema() -> Value {
    let mut schema: Value =
        serde_json::from_slice(&std::fs::read(SCHEMA).expect("the shared 2025 schema"))
            .expect("JSON");
    // The generator's view: PostHog's document with our overlays applied.
    let overlay_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/overlays");
    let mut names: Vec<_> = std::fs::read_dir(&overlay_dir)
        .expect("schema/overlays")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    names.sort();
    let overlays: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|path| {
            (
                path.display().to_string(),
                std::fs::read(path).expect("overlay"),
            )
        })
        .collect();
    let inputs: Vec<posthog_codegen::Input<'_>> = overlays
        .iter()
        .map(|(source, bytes)| posthog_codegen::Input {
            source: source.clone(),
            bytes,
        })
        .collect();
    posthog_codegen::overlay::apply_overlays(&mut schema, &inputs, &mut Default::default())
        .expect("the overlays apply");
    let public: Value =
        serde_yaml::from_slice(&std::fs::read(PUBLIC).expect("the public endpoints"))
            .expect("YAML");
    for section in ["paths", "components/schemas"] {
        let pointer = format!("/{section}");
        if let (Some(Value::Object(into)), Some(Value::Object(from))) =
            (schema.pointer(&pointer).cloned(), public.pointer(&pointer))
        {
            let mut merged = into;
            merged.extend(from.clone());
            if let Some(slot) = schema.pointer_mut(&pointer) {
                *slot = Value::Object(merged);
            }
        }
    }
    schema
}

/// A minimal value of `schema`: required members only, first choices of enums and unions.
fn example(root: &Value, schema: &Value, depth: usize) -> Value {
    if depth > 12 {
        return Value::Null;
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = reference
            .trim_start_matches("#/")
            .split('/')
            .fold(root, |node, segment| &node[segment]);
        return example(root, target, depth + 1);
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|values| values.iter().find(|v| !v.is_null()))
    {
        return first.clone();
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in parts {
            match example(root, part, depth + 1) {
                Value::Object(members) => merged.extend(members),
                other if parts.len() == 1 => return other,
                _ => {}
            }
        }
        return Value::Object(merged);
    }
    for union in ["oneOf", "anyOf"] {
        if let Some(first) = schema
            .get(union)
            .and_then(Value::as_array)
            .and_then(|choices| choices.first())
        {
            return example(root, first, depth + 1);
        }
    }
    if let Some(constant) = schema.get("const") {
        return constant.clone();
    }
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") => json!(1),
        Some("number") => json!(1.0),
        Some("boolean") => json!(true),
        Some("array") => {
            let count = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let item = example(root, schema.get("items").unwrap_or(&Value::Null), depth + 1);
            Value::Array((0..count).map(|_| item.clone()).collect())
        }
        Some("string") => json!(match format {
            "date-time" => "2025-01-01T00:00:00Z",
            "date" => "2025-01-01",
            "uuid" => "00000000-0000-0000-0000-000000000001",
            "uri" => "https://example.com/",
            "email" => "someone@example.com",
            _ => "x",
        }),
        _ => {
            let mut members = Map::new();
            let required = schema
                .get("required")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for name in required.iter().filter_map(Value::as_str) {
                let property = &schema["properties"][name];
                members.insert(name.to_owned(), example(root, property, depth + 1));
            }
            Value::Object(members)
        }
    }
}

/// A parameter's placeholder as text.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_schema_operation_reaches_its_501_stub() {
    let schema = load_schema();
    let server = Routes::new().serve("127.0.0.1:0").await.expect("bind");
    let base = server.base_url().as_str().trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    let mut answers: BTreeMap<u16, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for op in ALL {
        let documented = &schema["paths"][op.path()][op.method().as_str().to_lowercase()];
        let parameters = documented["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let placeholder = |name: &str| {
            let param = parameters
                .iter()
                .find(|p| p["in"] == "path" && p["name"] == name);
            param.map_or_else(
                || "1".to_owned(),
                |p| text(&example(&schema, &p["schema"], 0)),
            )
        };
        let mut path = String::new();
        let mut rest = op.path();
        while let Some(start) = rest.find('{') {
            let end = rest[start..]
                .find('}')
                .map_or(rest.len(), |end| start + end);
            path.push_str(&rest[..start]);
            path.push_str(&placeholder(&rest[start + 1..end]));
            rest = &rest[(end + 1).min(rest.len())..];
        }
        path.push_str(rest);
        let mut url = url::Url::parse(&format!("{base}{path}")).expect("url");
        for param in parameters
            .iter()
            .filter(|p| p["in"] == "query" && p["required"] == true)
        {
            let value = example(&schema, &param["schema"], 0);
            let values = match value {
                Value::Array(items) if items.is_empty() => vec![Value::from("x")],
                Value::Array(items) => items,
                other => vec![other],
            };
            for value in values {
                url.query_pairs_mut()
                    .append_pair(param["name"].as_str().unwrap_or(""), &text(&value));
            }
        }
        let mut request = http.request(op.method().clone(), url);
        let content = &documented["requestBody"]["content"];
        if let Some(body) = content.get("application/json") {
            request = request.json(&example(&schema, &body["schema"], 0));
        } else if let Some(body) = content.get("multipart/form-data")
            && let Value::Object(members) = example(&schema, &body["schema"], 0)
            && !members.is_empty()
        {
            let mut form = reqwest::multipart::Form::new();
            for (name, value) in members {
                form = form.text(name, text(&value));
            }
            request = request.multipart(form);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        *answers.entry(status).or_default() += 1;
        if status != 501 || !body.contains("not_implemented") {
            failures.push(format!(
                "{} {} ({}): {status} {body}",
                op.method(),
                op.path(),
                op.id()
            ));
        }
    }
    println!(
        "{} operations called; answers by status: {answers:?}",
        ALL.len()
    );
    assert!(
        failures.is_empty(),
        "{} operations did not reach their stub:\n{}",
        failures.len(),
        failures.join("\n")
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn unknown_routes_404_and_wrong_methods_405_in_posthog_format() {
    let server = Routes::new().serve("127.0.0.1:0").await.expect("bind");
    let base = server.base_url().as_str().trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    let missing = http
        .get(format!("{base}/api/no/such/route/"))
        .send()
        .await
        .expect("answer");
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["code"], "not_found");
    // `feature_flags/{id}/` has GET, PUT, PATCH and DELETE, but no POST.
    let wrong = http
        .post(format!("{base}/api/projects/1/feature_flags/5/"))
        .send()
        .await
        .expect("answer");
    assert_eq!(wrong.status(), 405);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["type"], "invalid_request");
    assert_eq!(body["code"], "method_not_allowed");
}
