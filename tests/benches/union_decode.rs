//! Decoding time of the worst untagged unions: PostHog's query unions, where `HogQLMetadata` and
//! `HogQLAutocomplete` both hold a `sourceQuery` of the same union, nested `depth` deep. Tried
//! variant by variant, each level decoded its whole subtree once per recursive variant (about
//! 2x per level); the target is depth 20 in under 10 ms.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use posthog_api::types::HogQlAutocompleteSourceQuery;
use serde_json::json;

/// `HogQLAutocomplete` nodes nested `depth` deep with `kind` written after `sourceQuery`: valid
/// input on which a union that tries `HogQLMetadata` first decodes the subtree, fails on `kind`,
/// and decodes it again as `HogQLAutocomplete`.
fn autocomplete_kind_last(depth: usize) -> String {
    let mut node = json!({ "kind": "HogQLQuery", "query": "select 1" });
    for _ in 0..depth {
        node = json!({
            "endPosition": 0, "language": "hogQL", "query": "select", "startPosition": 0,
            "sourceQuery": node, "kind": "HogQLAutocomplete",
        });
    }
    node.to_string()
}

/// Objects nested `depth` deep through `sourceQuery` with no `kind`: every recursive variant is a
/// candidate at every level.
fn untyped_nesting(depth: usize) -> String {
    let mut node = json!({});
    for _ in 0..depth {
        node = json!({ "sourceQuery": node });
    }
    node.to_string()
}

fn unions(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_nested_query_union");
    group.sample_size(10);
    for depth in [5usize, 10, 20] {
        let text = autocomplete_kind_last(depth);
        let decoded: HogQlAutocompleteSourceQuery = serde_json::from_str(&text).expect("decode");
        assert!(matches!(
            decoded,
            HogQlAutocompleteSourceQuery::HogQlAutocomplete(_)
        ));
        group.bench_with_input(
            BenchmarkId::new("autocomplete_kind_last", depth),
            &text,
            |b, text| {
                b.iter(|| {
                    serde_json::from_str::<HogQlAutocompleteSourceQuery>(text).expect("decode")
                })
            },
        );
        let text = untyped_nesting(depth);
        serde_json::from_str::<HogQlAutocompleteSourceQuery>(&text).expect("decode");
        group.bench_with_input(
            BenchmarkId::new("untyped_nesting", depth),
            &text,
            |b, text| {
                b.iter(|| {
                    serde_json::from_str::<HogQlAutocompleteSourceQuery>(text).expect("decode")
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, unions);
criterion_main!(benches);
