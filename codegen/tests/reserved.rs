//! The generator's reserved names cover what the hand-written runtime defines: every method of
//! `impl Client` and `impl Routes`, and every cargo feature outside the generated tag block. A
//! new hand-written method or feature fails here until it is reserved, instead of failing to
//! compile when some schema's tag or operationId takes its name.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use posthog_codegen::naming::{RESERVED_METHOD_NAMES, RESERVED_MODULE_NAMES};

/// Names of the functions in `impl <self_type>` blocks of every hand-written runtime file.
fn inherent_methods(self_type: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut pending = vec![support::workspace_root().join("generated/src")];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                // The generator's own output is not hand-written.
                if path.file_name().is_some_and(|name| name != "generated") {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                collect_methods(&path, self_type, &mut out);
            }
        }
    }
    out
}

fn collect_methods(path: &Path, self_type: &str, out: &mut BTreeSet<String>) {
    let text = String::from_utf8(support::read(path)).expect("UTF-8 source");
    let file: syn::File =
        syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for item in file.items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        let syn::Type::Path(ty) = &*block.self_ty else {
            continue;
        };
        if block.trait_.is_some() || !ty.path.is_ident(self_type) {
            continue;
        }
        for item in block.items {
            if let syn::ImplItem::Fn(function) = item {
                out.insert(function.sig.ident.to_string());
            }
        }
    }
}

/// Asserts that every name is in `reserved` (called `list` in the message).
fn assert_reserved<'n>(names: impl IntoIterator<Item = &'n str>, reserved: &[&str], list: &str) {
    let missing: Vec<&str> = names
        .into_iter()
        .filter(|name| !reserved.contains(name))
        .collect();
    assert!(missing.is_empty(), "add to {list}: {missing:?}");
}

#[test]
fn client_methods_are_reserved() {
    let methods = inherent_methods("Client");
    assert!(methods.contains("builder"), "{methods:?}");
    let names = methods.iter().map(String::as_str);
    assert_reserved(names, RESERVED_METHOD_NAMES, "RESERVED_METHOD_NAMES");
}

#[test]
fn routes_methods_are_reserved() {
    let methods = inherent_methods("Routes");
    assert!(methods.contains("mount"), "{methods:?}");
    let names = methods.iter().map(String::as_str);
    assert_reserved(names, RESERVED_MODULE_NAMES, "RESERVED_MODULE_NAMES");
}

#[test]
fn hand_written_features_are_reserved() {
    let path = support::workspace_root().join("generated/Cargo.toml");
    let text = String::from_utf8(support::read(&path)).expect("UTF-8 manifest");
    // The generator owns the lines between the markers; everything else is hand-written.
    let mut hand_written = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.contains("@generated tag features begin") {
            inside = true;
        } else if line.contains("@generated tag features end") {
            inside = false;
        } else if !inside {
            hand_written.push_str(line);
            hand_written.push('\n');
        }
    }
    let manifest: toml::Table = toml::from_str(&hand_written).expect("manifest parses");
    let features = manifest
        .get("features")
        .and_then(toml::Value::as_table)
        .expect("a [features] table");
    let mut names: BTreeSet<&str> = features.keys().map(String::as_str).collect();
    // Declared by the generator, outside the block only in name.
    names.insert(posthog_codegen::emit::features::FULL);
    names.insert(posthog_codegen::UNREFERENCED_FEATURE);
    assert_reserved(names, RESERVED_MODULE_NAMES, "RESERVED_MODULE_NAMES");
}
