//! The real PostHog schemas in `../shared/schemas` all generate, with every operation lowered, and
//! every operation of the 2025 schema has a client method and an operation-table entry.

mod support;

use std::collections::BTreeSet;
use std::time::Instant;

use posthog_codegen::Output;
use posthog_codegen::naming::{field_name, is_keyword};
use support::{SchemaOperation, generate_ok, read, schema_operations, schemas_dir};

/// Generates one shared schema and checks the operation count against the schema's README and
/// against an independent walk of the document.
fn generates_all_operations(file: &str, expected: usize) -> (Output, Vec<SchemaOperation>) {
    let path = schemas_dir().join(file);
    let bytes = read(&path);
    let started = Instant::now();
    let output = generate_ok(&format!("../shared/schemas/{file}"), &bytes);
    eprintln!("{file}: generated in {:.2?}", started.elapsed());
    let operations = schema_operations(&bytes);
    assert_eq!(
        operations.len(),
        expected,
        "{file}: the README says {expected} operations"
    );
    assert_eq!(
        output.api.operations.len(),
        expected,
        "{file}: operations lowered"
    );
    (output, operations)
}

#[test]
fn posthog_2025_generates_772_operations() {
    generates_all_operations("posthog-2025.json", 772);
}

#[test]
fn posthog_2023_11_generates_332_operations() {
    generates_all_operations("posthog-2023-11.yaml", 332);
}

#[test]
fn posthog_2023_02_generates_224_operations() {
    generates_all_operations("posthog-2023-02.yaml", 224);
}

/// The `(METHOD, path, id)` of every `pub static` entry of the generated `operations.rs`.
fn operation_table(operations_rs: &str) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for entry in operations_rs.split("pub static ").skip(1) {
        // `NAME: Operation = Operation::private("id", Method::GET, "/path", "tag", ...);`
        let Some(arguments) = entry
            .split_once("Operation::")
            .and_then(|(_, rest)| rest.split_once('('))
        else {
            continue;
        };
        let mut parts = arguments
            .1
            .split(',')
            .map(|part| part.trim().trim_matches('"').to_owned());
        if let (Some(id), Some(method), Some(path)) = (parts.next(), parts.next(), parts.next()) {
            let method = method.trim_start_matches("Method::").to_owned();
            out.insert((method, path, id));
        }
    }
    out
}

/// Every `pub async fn` name of the generated client modules.
fn client_methods(output: &Output) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, text) in &output.files {
        if !path.starts_with("api/") {
            continue;
        }
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("pub async fn ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| *c != '(' && *c != '<')
                    .collect();
                out.insert(name);
            }
        }
    }
    out
}

/// The method a user looks for: the snake case of the `operationId`, raw if it is a keyword.
fn expected_method(operation_id: &str) -> String {
    let name = field_name(operation_id);
    if is_keyword(&name) {
        format!("r#{name}")
    } else {
        name
    }
}

#[test]
fn posthog_2025_every_operation_has_a_method_and_a_table_entry() {
    let (output, operations) = generates_all_operations("posthog-2025.json", 772);
    let methods = client_methods(&output);
    let operations_rs = output
        .files
        .get("operations.rs")
        .map(String::as_str)
        .unwrap_or_default();
    let table = operation_table(operations_rs);
    assert_eq!(
        table.len(),
        772,
        "operations.rs has one entry per operation"
    );
    let mut missing = Vec::new();
    for operation in &operations {
        let SchemaOperation {
            method,
            path,
            operation_id,
        } = operation;
        let Some(id) = operation_id else {
            missing.push(format!("{method} {path}: no operationId in the schema"));
            continue;
        };
        let wanted = expected_method(id);
        if !methods.contains(&wanted) {
            missing.push(format!(
                "{method} {path}: no `pub async fn {wanted}` in api/*.rs"
            ));
        }
        if !table.contains(&(method.to_uppercase(), path.clone(), id.clone())) {
            missing.push(format!(
                "{method} {path}: no operations.rs entry with id `{id}`"
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "{} problem(s):\n{}",
        missing.len(),
        missing.join("\n")
    );
}
