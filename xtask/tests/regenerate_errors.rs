//! `cargo xtask regenerate` on bad input: a clear diagnostic with a JSON pointer, exit code 1,
//! no panic, and `generated/` left exactly as it was.

use std::path::Path;
use std::process::Command;

fn run_regenerate(schema: &Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        // These schemas are not PostHog's: our overlays would (rightly) match nothing there.
        .args(["regenerate", "--no-overlays", "--schema"])
        .arg(schema)
        .output()
        .expect("the xtask binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

fn generated_snapshot() -> Vec<(String, Vec<u8>)> {
    let root = xtask::workspace_root().join("generated/src/generated");
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("generated/ is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("generated file is readable");
                files.push((path.display().to_string(), bytes));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn bad_schemas_fail_with_a_pointer_and_write_nothing() {
    let before = generated_snapshot();
    let dir = tempfile::tempdir().expect("temporary directory");
    let cases = [
        (
            "truncated.json",
            r#"{"openapi": "3.0.3", "paths": {"#,
            "invalid JSON at line 1",
        ),
        (
            "swagger.yaml",
            "swagger: '2.0'\ninfo: {title: x, version: '1'}\npaths: {}\n",
            "#/swagger",
        ),
        (
            "v32.yaml",
            "openapi: 3.2.0\ninfo: {title: x, version: '1'}\npaths: {}\n",
            "#/openapi",
        ),
        (
            "dangling.yaml",
            "openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths:\n  /api/x/:\n    get:\n      operationId: x_get\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Missing'}\n",
            "#/paths/~1api~1x~1/get/responses/200/content/application~1json/schema: dangling `$ref",
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("fixture written");
        let (code, stderr) = run_regenerate(&path);
        assert_eq!(
            code,
            Some(1),
            "{name}: exit code 1 expected, stderr:\n{stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{name}: expected `{expected}` in:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name} panicked:\n{stderr}");
        assert!(
            stderr.contains("no files were written") || !expected.starts_with("#/paths"),
            "{stderr}"
        );
    }
    assert!(
        generated_snapshot() == before,
        "generated/ changed on bad input"
    );
}
