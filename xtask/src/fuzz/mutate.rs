//! Mutation of PostHog's real schemas: a slice of a few paths and the components they reach,
//! with random nodes deleted, replaced, renamed, duplicated or turned into references.

use rand::RngExt;
use rand_pcg::Pcg64;
use serde_json::{Map, Value, json};

use super::grammar::Grammar;

/// How many components a slice takes at most; the rest of its references dangle.
const MAX_COMPONENTS: usize = 25;

/// A parsed real schema to cut slices from.
pub struct Corpus {
    /// `(path, path item)` pairs.
    paths: Vec<(String, Value)>,
    /// Component schemas by key.
    schemas: Map<String, Value>,
}

impl Corpus {
    /// Reads a JSON or YAML schema; `None` when it has no paths.
    pub fn new(document: &Value) -> Option<Self> {
        let paths: Vec<(String, Value)> = document
            .get("paths")?
            .as_object()?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let schemas = document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        (!paths.is_empty()).then_some(Self { paths, schemas })
    }

    /// A document of a few random paths and the components they reach, mutated.
    pub fn mutant(&self, rng: &mut Pcg64) -> Value {
        let mut paths = Map::new();
        for _ in 0..1 + rng.random_range(0..3usize) {
            let (path, item) = &self.paths[rng.random_range(0..self.paths.len())];
            paths.insert(path.clone(), item.clone());
        }
        let mut schemas = Map::new();
        let mut pending: Vec<String> = Vec::new();
        for item in paths.values() {
            references(item, &mut pending);
        }
        while let Some(key) = pending.pop() {
            if schemas.len() >= MAX_COMPONENTS || schemas.contains_key(&key) {
                continue;
            }
            if let Some(schema) = self.schemas.get(&key) {
                references(schema, &mut pending);
                schemas.insert(key, schema.clone());
            }
        }
        let mut document = json!({
            "openapi": "3.0.3",
            "info": {"title": "mutant", "version": "1"},
            "paths": paths,
            "components": {"schemas": schemas},
        });
        for _ in 0..1 + rng.random_range(0..8usize) {
            mutate(&mut document, rng);
        }
        document
    }
}

/// Component keys a value references.
fn references(value: &Value, out: &mut Vec<String>) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref")
                    && let Some(key) = target.strip_prefix("#/components/schemas/")
                {
                    out.push(key.replace("~1", "/").replace("~0", "~"));
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
}

/// How many nodes a value holds (itself included).
fn size(value: &Value) -> usize {
    let mut count = 0;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        count += 1;
        match value {
            Value::Object(map) => stack.extend(map.values()),
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    count
}

/// The `index`-th node in depth-first order.
fn node_mut(value: &mut Value, index: usize) -> Option<&mut Value> {
    let mut remaining = index;
    let mut current = value;
    loop {
        if remaining == 0 {
            return Some(current);
        }
        remaining -= 1;
        let children: Vec<&mut Value> = match current {
            Value::Object(map) => map.values_mut().collect(),
            Value::Array(items) => items.iter_mut().collect(),
            _ => return None,
        };
        let mut next = None;
        for child in children {
            let child_size = size(child);
            if remaining < child_size {
                next = Some(child);
                break;
            }
            remaining -= child_size;
        }
        current = next?;
    }
}

/// One random change at one random node.
fn mutate(document: &mut Value, rng: &mut Pcg64) {
    let total = size(document);
    let index = rng.random_range(0..total);
    let component_keys: Vec<String> = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let replacement = {
        let depth = rng.random_range(0..4usize);
        Grammar::new(rng).schema_of_depth(depth)
    };
    let name = Grammar::new(rng).name();
    let choice = rng.random_range(0..10u8);
    let Some(node) = node_mut(document, index) else {
        return;
    };
    match (choice, node) {
        (0, Value::Object(map)) if !map.is_empty() => {
            let key = map.keys().nth(rng.random_range(0..map.len())).cloned();
            if let Some(key) = key {
                map.remove(&key);
            }
        }
        (1, Value::Object(map)) if !map.is_empty() => {
            // Rename a member.
            let key = map.keys().nth(rng.random_range(0..map.len())).cloned();
            if let Some(value) = key.and_then(|key| map.remove(&key)) {
                map.insert(name, value);
            }
        }
        (2, Value::Array(items)) if !items.is_empty() => {
            items.remove(rng.random_range(0..items.len()));
        }
        (3, Value::Array(items)) if !items.is_empty() => {
            let copy = items[rng.random_range(0..items.len())].clone();
            items.push(copy);
        }
        (4, node) => {
            // A reference to some component: chains and cycles through real shapes.
            let target = if component_keys.is_empty() {
                name
            } else {
                component_keys[rng.random_range(0..component_keys.len())].clone()
            };
            *node = json!({"$ref": format!("#/components/schemas/{target}")});
        }
        (5, node) => *node = json!({"allOf": [node.take()]}),
        (6, Value::Object(map)) => {
            map.insert(
                ["nullable", "readOnly", "writeOnly"][rng.random_range(0..3usize)].to_owned(),
                json!(true),
            );
        }
        (7, node) => {
            *node = match rng.random_range(0..6u8) {
                0 => Value::Null,
                1 => json!(""),
                2 => json!([]),
                3 => json!({}),
                4 => json!(-1),
                _ => json!(name),
            }
        }
        (_, node) => *node = replacement,
    }
}
