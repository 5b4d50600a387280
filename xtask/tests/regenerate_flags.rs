//! `cargo xtask regenerate`'s opt-ins for schemas the generator cannot wholly lower:
//! `--skip-unsupported` and `--external-refs=json`, with and without `--check`.

use std::path::PathBuf;

use xtask::regenerate::{ExternalRefs, RegenerateArgs, regenerate};

/// A fixture schema of the generator's tests.
fn fixture(name: &str) -> PathBuf {
    xtask::workspace_root().join(format!("codegen/tests/fixtures/{name}.yaml"))
}

/// A plain `regenerate` (no opt-in) of `schema` in a scratch workspace: it must fail; the
/// message it fails with.
fn refused(schema: PathBuf) -> String {
    let workspace = scratch_workspace();
    let error = regenerate(workspace.path(), &args(schema, false))
        .expect_err("the schema is refused without the opt-in");
    let message = format!("{error:#}");
    assert!(
        !workspace.path().join("generated/src").exists(),
        "nothing is written: {message}"
    );
    message
}

/// A workspace of its own: the generated crate's manifest with its feature block, nothing else.
fn scratch_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir_all(dir.path().join("generated")).expect("generated/ created");
    std::fs::write(
        dir.path().join("generated/Cargo.toml"),
        "[package]\nname = \"scratch\"\n\n[features]\n# @generated tag features begin: `cargo xtask regenerate` writes this block\n# @generated tag features end\n",
    )
    .expect("manifest written");
    dir
}

fn args(schema: PathBuf, check: bool) -> RegenerateArgs {
    RegenerateArgs {
        schema: Some(schema),
        check,
        no_overlays: true,
        ..RegenerateArgs::default()
    }
}

/// By default an unsupported operation fails the run with its pointer and names the opt-in.
#[test]
fn unsupported_operations_fail_naming_the_flag() {
    let text = refused(fixture("skip_unsupported"));
    assert!(
        text.contains("#/paths/~1api~1projects~1{project_id}~1things~1/post/requestBody"),
        "{text}"
    );
    assert!(text.contains("--skip-unsupported"), "{text}");
}

/// With `--skip-unsupported`, the rest is generated and `--check` compares against it with the
/// same flag; without the flag, `--check` fails on the same schema as a plain run does.
#[test]
fn skip_unsupported_generates_the_rest_and_check_honours_it() {
    let workspace = scratch_workspace();
    let root = workspace.path();
    let schema = fixture("skip_unsupported");
    let skipping = RegenerateArgs {
        skip_unsupported: true,
        ..args(schema.clone(), false)
    };
    let summary = regenerate(root, &skipping).expect("generates with --skip-unsupported");
    assert!(!summary.changed.is_empty());
    let api = std::fs::read_to_string(root.join("generated/src/generated/api/mod.rs"))
        .expect("api/mod.rs written");
    assert!(api.contains("things_create"), "{api}");
    let checked = regenerate(
        root,
        &RegenerateArgs {
            check: true,
            ..skipping.clone()
        },
    )
    .expect("--check with the same flag passes");
    assert!(checked.changed.is_empty() && checked.deleted.is_empty());
    let error = regenerate(root, &args(schema, true))
        .expect_err("--check without the flag refuses the schema");
    let message = format!("{error:#}");
    assert!(message.contains("--skip-unsupported"), "{message}");
}

/// External references: refused by default with their pointer; `--external-refs=json` types them
/// as JSON, and `--check` honours it.
#[test]
fn external_refs_flag() {
    let text = refused(fixture("external_refs"));
    assert!(
        text.contains("#/components/schemas/Place/properties/point"),
        "{text}"
    );
    assert!(text.contains("--external-refs=json"), "{text}");
    let workspace = scratch_workspace();
    let root = workspace.path();
    let json = RegenerateArgs {
        external_refs: ExternalRefs::Json,
        ..args(fixture("external_refs"), false)
    };
    regenerate(root, &json).expect("generates with --external-refs=json");
    let checked = regenerate(
        root,
        &RegenerateArgs {
            check: true,
            ..json.clone()
        },
    )
    .expect("--check with the same flag passes");
    assert!(checked.changed.is_empty());
}
