//! The same schema gives the same bytes: twice in a row, and on threads whose `HashMap`s are
//! seeded differently (std seeds `RandomState` per thread), so no output depends on hash order.

mod support;

use std::collections::BTreeMap;

use support::{fixtures_dir, generate_ok_with, read, schemas_dir};

/// Generates `bytes` (with the flags a fixture names) on a fresh thread, whose hash seeds differ
/// from every other thread's.
fn generate_on_a_new_thread(source: &str, bytes: &[u8]) -> BTreeMap<String, String> {
    let options = posthog_codegen::Options::from_fixture(bytes)
        .unwrap_or_else(|error| panic!("{source}: {error}"));
    std::thread::scope(|scope| {
        scope
            .spawn(|| generate_ok_with(source, bytes, &options).files)
            .join()
            .unwrap_or_else(|_| panic!("generating {source} panicked"))
    })
}

/// Asserts two outputs are identical, naming the first file that differs.
fn assert_same(source: &str, first: &BTreeMap<String, String>, second: &BTreeMap<String, String>) {
    let paths_first: Vec<&String> = first.keys().collect();
    let paths_second: Vec<&String> = second.keys().collect();
    assert_eq!(paths_first, paths_second, "{source}: different file sets");
    for (path, text) in first {
        assert!(
            second.get(path) == Some(text),
            "{source}: {path} differs between two runs"
        );
    }
}

#[test]
fn posthog_2025_generates_identical_bytes_twice() {
    let source = "../shared/schemas/posthog-2025.json";
    let bytes = read(&schemas_dir().join("posthog-2025.json"));
    let first = generate_on_a_new_thread(source, &bytes);
    let second = generate_on_a_new_thread(source, &bytes);
    assert_same(source, &first, &second);
}

#[test]
fn fixtures_do_not_depend_on_hash_order() {
    let mut fixtures: Vec<_> = std::fs::read_dir(fixtures_dir())
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default();
    fixtures.retain(|path| path.extension().is_some_and(|ext| ext == "yaml"));
    fixtures.sort();
    assert!(
        !fixtures.is_empty(),
        "no fixtures in {}",
        fixtures_dir().display()
    );
    for path in fixtures {
        let source = path.display().to_string();
        let bytes = read(&path);
        let runs: Vec<BTreeMap<String, String>> = (0..4)
            .map(|_| generate_on_a_new_thread(&source, &bytes))
            .collect();
        for run in &runs[1..] {
            assert_same(&source, &runs[0], run);
        }
    }
}
