//! Reads a valid document into `openapiv3` by parts, on two threads: the fast path of
//! [`super::document_from_value`].
//!
//! openapiv3 collects each object's `x-` extensions through `#[serde(flatten)]`, and serde
//! reads a struct with a flattened member by first copying the whole object into its own buffer.
//! Read whole, the document is copied once for the root, once more for `paths` and again at every
//! level below. Reading each path item and each component schema on its own skips the two
//! largest copies, and the path items are read on a second thread while this one reads the
//! components. On PostHog's 2025 schema, reading the parsed JSON into `openapiv3` (checks and
//! freeing the JSON included) took 25-28 ms read whole and 19-21 ms by parts (release build,
//! 8 runs each on an idle 2-core machine); `cargo xtask bench` times the whole generator.
//!
//! The result is what serde gives for the whole document (`in_parts_reads_what_serde_reads`
//! checks every real schema and fixture). Any failure gives `None`, and the caller reads the
//! document whole, with paths tracked, to say where it failed.

use indexmap::IndexMap;
use openapiv3::{Components, OpenAPI, PathItem, Paths, ReferenceOr, Schema};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The document read by parts, or `None` when any part does not fit the model.
pub(super) fn read(document: &Value) -> Option<OpenAPI> {
    let root = document.as_object()?;
    let path_items = root.get("paths")?;
    let (paths, rest) = std::thread::scope(|scope| {
        let paths = std::thread::Builder::new()
            .name("read-paths".to_owned())
            .spawn_scoped(scope, || read_paths(path_items));
        let rest = read_root(root);
        let paths = match paths {
            Ok(handle) => handle.join().ok().flatten(),
            Err(_) => read_paths(path_items),
        };
        (paths, rest)
    });
    let mut document = rest?;
    document.paths = paths?;
    Some(document)
}

/// Everything but `paths`, which is read apart (an empty `paths` stands in for it).
fn read_root(root: &Map<String, Value>) -> Option<OpenAPI> {
    let mut small: Map<String, Value> = root
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "paths" | "components"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    small.insert("paths".to_owned(), Value::Object(Map::new()));
    let mut document = OpenAPI::deserialize(&Value::Object(small)).ok()?;
    document.components = match root.get("components") {
        None | Some(Value::Null) => None,
        Some(components) => Some(read_components(components)?),
    };
    Some(document)
}

/// `paths`: path items by the keys openapiv3 keeps (`/...`), extensions (`x-...`) apart.
fn read_paths(value: &Value) -> Option<Paths> {
    let mut paths = Paths::default();
    for (key, item) in value.as_object()? {
        if key.starts_with('/') {
            let item = ReferenceOr::<PathItem>::deserialize(item).ok()?;
            paths.paths.insert(key.clone(), item);
        } else if key.starts_with("x-") {
            paths.extensions.insert(key.clone(), item.clone());
        }
    }
    Some(paths)
}

/// `components`, its `schemas` read one by one.
fn read_components(value: &Value) -> Option<Components> {
    let object = value.as_object()?;
    let others: Map<String, Value> = object
        .iter()
        .filter(|(key, _)| key.as_str() != "schemas")
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let mut components = Components::deserialize(&Value::Object(others)).ok()?;
    if let Some(schemas) = object.get("schemas") {
        let mut read = IndexMap::new();
        for (name, schema) in schemas.as_object()? {
            read.insert(
                name.clone(),
                ReferenceOr::<Schema>::deserialize(schema).ok()?,
            );
        }
        components.schemas = read;
    }
    Some(components)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn whole(value: &Value) -> Option<OpenAPI> {
        OpenAPI::deserialize(value).ok()
    }

    #[test]
    fn in_parts_reads_what_serde_reads() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("tests/fixtures"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
            .collect();
        files.extend(
            [
                "posthog-2023-02.yaml",
                "posthog-2023-11.yaml",
                "posthog-2025.json",
            ]
            .map(|name| root.join("../../shared/schemas").join(name)),
        );
        let mut compared = 0;
        for file in &files {
            // A missing or unreadable document fails the test: the real schemas are the point.
            let bytes = std::fs::read(file)
                .unwrap_or_else(|error| panic!("reading {}: {error}", file.display()));
            let mut value = super::super::parse_value(&bytes)
                .unwrap_or_else(|error| panic!("parsing {}: {error}", file.display()));
            if let Some(version) = value.pointer_mut("/info/version").filter(|v| v.is_null()) {
                *version = Value::from("");
            }
            if super::super::check_version(&value).ok() != Some(super::super::Version::V3_0) {
                continue;
            }
            assert_eq!(read(&value), whole(&value), "{}", file.display());
            compared += 1;
        }
        // Every document but the 3.1 fixture, which is rewritten to 3.0 before it is read.
        assert_eq!(compared, files.len() - 1, "3.0 documents compared");
    }

    #[test]
    fn a_part_that_does_not_fit_gives_none() {
        let documents = [
            serde_json::json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}}),
            serde_json::json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                "paths": {"/a": {"get": {"responses": 7}}}}),
            serde_json::json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                "paths": {}, "components": {"schemas": {"A": {"type": 7}}}}),
            serde_json::json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                "paths": {}, "components": {"schemas": []}}),
            serde_json::json!({"openapi": "3.0.3", "info": 1, "paths": {}}),
        ];
        for document in &documents {
            assert_eq!(whole(document), None, "{document}");
            assert_eq!(read(document), None, "{document}");
        }
    }
}
