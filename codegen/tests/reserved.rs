//! The generator's reserved names cover what the hand-written runtime defines: every method of
//! `impl Client` and `impl Routes`, and every cargo feature outside the generated tag block. A
//! new hand-written method or feature fails here until it is reserved, instead of failing to
//! compile when some schema's tag or operationId takes its name.
//!
//! And the crate's public surface is only what it documents: the seam between generated code
//! and the runtime is crate-private (`sealed_seam`).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use posthog_codegen::naming::{RESERVED_METHOD_NAMES, RESERVED_MODULE_NAMES};

/// The `.rs` files of the client crate's sources; the generator's own output (`generated/src/
/// generated/`) only with `with_generated`.
fn crate_sources(with_generated: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![support::workspace_root().join("generated/src")];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                if with_generated || path.file_name().is_some_and(|name| name != "generated") {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn parse(path: &Path) -> syn::File {
    let text = String::from_utf8(support::read(path)).expect("UTF-8 source");
    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Names of the functions in `impl <self_type>` blocks of every hand-written runtime file.
fn inherent_methods(self_type: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for path in crate_sources(false) {
        collect_methods(&path, self_type, &mut out);
    }
    out
}

fn collect_methods(path: &Path, self_type: &str, out: &mut BTreeSet<String>) {
    for item in parse(path).items {
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

/// Where an item breaks the sealed seam, if it does: hidden from the docs while public
/// (`#[doc(hidden)]`), exported from the crate root by `#[macro_export]`, or public under a
/// `__` name. Generated code reaches the runtime through `pub(crate)` items only, so none of
/// these is needed, and each would be API users could call without documentation.
fn seam_problems(
    attrs: &[syn::Attribute],
    vis: Option<&syn::Visibility>,
    name: Option<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for attr in attrs {
        if attr.path().is_ident("macro_export") {
            out.push("#[macro_export]".to_owned());
        }
        if attr.path().is_ident("doc") {
            let hidden =
                matches!(&attr.meta, syn::Meta::List(list) if list.tokens.to_string() == "hidden");
            if hidden {
                out.push("#[doc(hidden)]".to_owned());
            }
        }
    }
    if let (Some(syn::Visibility::Public(_)), Some(name)) = (vis, &name)
        && name.starts_with("__")
    {
        out.push(format!("`pub` item `{name}`"));
    }
    out
}

fn seam_items(items: &[syn::Item], out: &mut Vec<String>) {
    for item in items {
        let (attrs, vis, name): (&[syn::Attribute], _, _) = match item {
            syn::Item::Const(i) => (&i.attrs, Some(&i.vis), Some(i.ident.to_string())),
            syn::Item::Enum(i) => {
                for variant in &i.variants {
                    out.extend(seam_problems(&variant.attrs, None, None));
                }
                (&i.attrs, Some(&i.vis), Some(i.ident.to_string()))
            }
            syn::Item::Fn(i) => (&i.attrs, Some(&i.vis), Some(i.sig.ident.to_string())),
            syn::Item::Macro(i) => (&i.attrs, None, i.ident.as_ref().map(ToString::to_string)),
            syn::Item::Mod(i) => {
                if let Some((_, inner)) = &i.content {
                    seam_items(inner, out);
                }
                (&i.attrs, Some(&i.vis), Some(i.ident.to_string()))
            }
            syn::Item::Static(i) => (&i.attrs, Some(&i.vis), Some(i.ident.to_string())),
            syn::Item::Struct(i) => {
                for field in &i.fields {
                    let name = field.ident.as_ref().map(ToString::to_string);
                    out.extend(seam_problems(&field.attrs, Some(&field.vis), name));
                }
                (&i.attrs, Some(&i.vis), Some(i.ident.to_string()))
            }
            syn::Item::Trait(i) => (&i.attrs, Some(&i.vis), Some(i.ident.to_string())),
            syn::Item::Type(i) => (&i.attrs, Some(&i.vis), Some(i.ident.to_string())),
            syn::Item::Use(i) => (&i.attrs, None, None),
            syn::Item::Impl(i) => {
                for inner in &i.items {
                    let found = match inner {
                        syn::ImplItem::Fn(f) => {
                            seam_problems(&f.attrs, Some(&f.vis), Some(f.sig.ident.to_string()))
                        }
                        syn::ImplItem::Const(c) => {
                            seam_problems(&c.attrs, Some(&c.vis), Some(c.ident.to_string()))
                        }
                        syn::ImplItem::Type(t) => {
                            seam_problems(&t.attrs, Some(&t.vis), Some(t.ident.to_string()))
                        }
                        _ => Vec::new(),
                    };
                    out.extend(found);
                }
                (&i.attrs, None, None)
            }
            _ => continue,
        };
        out.extend(seam_problems(attrs, vis, name));
    }
}

/// The crate's rustdoc shows no `__` item and no hidden item or module: every file of the
/// client crate, hand-written and generated, is read as Rust (a source check rather than a
/// `cargo doc` run, which would take minutes on the generated crate). `pub(crate)` items may
/// keep `__` names; they never reach the docs.
#[test]
fn sealed_seam() {
    let mut problems = Vec::new();
    let files = crate_sources(true);
    assert!(files.len() > 20, "{files:?}");
    for path in files {
        let mut found = Vec::new();
        seam_items(&parse(&path).items, &mut found);
        let root = support::workspace_root();
        let shown = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        problems.extend(
            found
                .into_iter()
                .map(|problem| format!("{shown}: {problem}")),
        );
    }
    assert!(
        problems.is_empty(),
        "make these pub(crate) or document them:\n{}",
        problems.join("\n")
    );
}

/// Every hand-written runtime module opens with a `//!` note saying what it is for (generated
/// files open with their `@generated` header instead).
#[test]
fn runtime_modules_open_with_a_note() {
    let missing: Vec<String> = crate_sources(false)
        .into_iter()
        .filter(|path| !support::read(path).starts_with(b"//!"))
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "start these with a `//!` line: {missing:?}"
    );
}
