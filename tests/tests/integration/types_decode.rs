//! Decoding and encoding of generated types, as a user meets them: what a missing, null, renamed,
//! unknown or repeated key does, how untagged unions pick a variant, and what the errors say.
//! The generated types use posthog-api's own lean `Deserialize` derive, so these pin its
//! behaviour to what serde's derive did.

use posthog_api::types::{
    ConversionGoalFilter1SchemaMapValue, DataTableNodeResponse, FeatureFlag,
    HogQlMetadataSourceQuery, QueryStatus,
};
use serde_json::json;

fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    let text = value.to_string();
    let mut decoder = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut decoder).map_err(|error| error.to_string())
}

#[test]
fn missing_and_null_optional_fields_are_none() {
    let flag: FeatureFlag = decode(json!({ "key": "beta", "name": null })).unwrap();
    assert_eq!(flag.key, "beta");
    assert_eq!(flag.name, None);
    assert_eq!(flag.id, None);
    assert_eq!(
        flag,
        FeatureFlag {
            key: "beta".into(),
            ..FeatureFlag::default()
        }
    );
}

#[test]
fn missing_required_field_is_named_in_the_error() {
    let error = decode::<FeatureFlag>(json!({ "id": 7 })).unwrap_err();
    assert!(error.contains("missing field `key`"), "{error}");
}

#[test]
fn error_inside_a_field_carries_its_path() {
    let error =
        decode::<FeatureFlag>(json!({ "key": "beta", "rollout_percentage": "half" })).unwrap_err();
    assert!(error.starts_with("rollout_percentage: "), "{error}");
    assert!(
        error.contains("invalid type: string \"half\", expected i64"),
        "{error}"
    );
}

#[test]
fn renamed_keys_use_the_wire_name() {
    let flag: FeatureFlag =
        decode(json!({ "key": "beta", "_create_in_folder": "Unfiled/Flags" })).unwrap();
    assert_eq!(flag.create_in_folder.as_deref(), Some("Unfiled/Flags"));
    let back = serde_json::to_value(&flag).unwrap();
    assert_eq!(back["_create_in_folder"], "Unfiled/Flags");
    assert!(back.get("create_in_folder").is_none());
}

#[test]
fn unknown_keys_of_any_shape_are_skipped() {
    let flag: FeatureFlag = decode(json!({
        "added_in_2027": { "nested": [1, 2, { "deep": null }] },
        "key": "beta",
        "another": "x",
        "active": true,
    }))
    .unwrap();
    assert_eq!(flag.key, "beta");
    assert_eq!(flag.active, Some(true));
}

#[test]
fn a_repeated_key_keeps_its_last_value() {
    let flag: FeatureFlag = serde_json::from_str(r#"{"key":"first","key":"second"}"#).unwrap();
    assert_eq!(flag.key, "second");
}

#[test]
fn a_struct_refuses_a_non_object_with_its_name() {
    let error = decode::<FeatureFlag>(json!(["beta"])).unwrap_err();
    assert!(error.contains("expected struct FeatureFlag"), "{error}");
    let error = decode::<QueryStatus>(json!("done")).unwrap_err();
    assert!(error.contains("expected struct QueryStatus"), "{error}");
}

#[test]
fn encoding_then_decoding_gives_the_same_value() {
    let flag: FeatureFlag = decode(json!({
        "id": 12,
        "key": "beta",
        "filters": { "groups": [{ "rollout_percentage": 50 }] },
        "created_at": "2025-03-01T10:00:00+02:00",
        "creation_context": "surveys",
        "evaluation_runtime": "edge",
        "tags": ["a", 1, null],
    }))
    .unwrap();
    let encoded = serde_json::to_value(&flag).unwrap();
    // Absent optional fields stay absent; the offset and the unknown enum value survive.
    assert_eq!(encoded["created_at"], "2025-03-01T10:00:00+02:00");
    assert_eq!(encoded["evaluation_runtime"], "edge");
    assert!(encoded.get("name").is_none());
    let again: FeatureFlag = decode(encoded).unwrap();
    assert_eq!(again, flag);
}

#[test]
fn untagged_union_tries_typed_variants_before_the_fallback() {
    let text: ConversionGoalFilter1SchemaMapValue = decode(json!("purchase")).unwrap();
    assert_eq!(
        text,
        ConversionGoalFilter1SchemaMapValue::String("purchase".into())
    );
    let other: ConversionGoalFilter1SchemaMapValue = decode(json!({ "math": "sum" })).unwrap();
    assert_eq!(
        other,
        ConversionGoalFilter1SchemaMapValue::Object(json!({ "math": "sum" }))
    );
    assert_eq!(
        serde_json::to_value(&other).unwrap(),
        json!({ "math": "sum" })
    );
}

#[test]
fn a_free_form_member_listed_first_does_not_shadow_typed_ones() {
    // PostHog lists `{}` first in DataTableNode.response; a HogQL answer must still decode as
    // the typed response, and anything else still decodes.
    let hogql = json!({
        "columns": ["event"],
        "hogql": "select event from events",
        "results": [["$pageview"]],
        "types": ["String"],
    });
    let typed: DataTableNodeResponse = decode(hogql.clone()).unwrap();
    let DataTableNodeResponse::Response(response) = &typed else {
        panic!("expected the typed variant, got {typed:?}");
    };
    assert_eq!(response.hogql, "select event from events");
    assert_eq!(serde_json::to_value(&typed).unwrap(), hogql);

    let free: DataTableNodeResponse = decode(json!({ "anything": 1 })).unwrap();
    assert!(matches!(free, DataTableNodeResponse::Object(_)), "{free:?}");
}

#[test]
fn a_query_union_picks_the_variant_its_kind_names_wherever_kind_is() {
    // `kind` after `sourceQuery`: tried in order, HogQLMetadata decoded the whole subtree before
    // its `kind` refused it. The literal tag now picks HogQLAutocomplete directly.
    let autocomplete = json!({
        "endPosition": 3, "language": "hogQL", "query": "sel", "startPosition": 0,
        "sourceQuery": { "query": "select 1", "kind": "HogQLQuery" },
        "kind": "HogQLAutocomplete",
    });
    let decoded: HogQlMetadataSourceQuery = decode(autocomplete.clone()).unwrap();
    let HogQlMetadataSourceQuery::HogQlAutocomplete(inner) = &decoded else {
        panic!("expected HogQLAutocomplete, got {decoded:?}");
    };
    assert_eq!(inner.end_position, 3);
    assert_eq!(serde_json::to_value(&decoded).unwrap(), autocomplete);
}

#[test]
fn a_query_node_without_its_kind_or_failing_its_variant_is_kept_whole() {
    // No `kind`: no tagged variant is tried, and the JSON is kept as is (PostHog always writes
    // `kind`; a value without it is not silently read as the first variant that fits).
    let kindless = json!({ "language": "hogQL", "query": "select 1" });
    let decoded: HogQlMetadataSourceQuery = decode(kindless.clone()).unwrap();
    assert_eq!(decoded, HogQlMetadataSourceQuery::Other(kindless));
    // The kind names a variant the rest does not fit (a required member missing): fallback too.
    let broken = json!({ "kind": "HogQLMetadata", "query": "select 1" });
    let decoded: HogQlMetadataSourceQuery = decode(broken.clone()).unwrap();
    assert_eq!(decoded, HogQlMetadataSourceQuery::Other(broken));
}

/// drf-spectacular writes one property-filter union out at every use; each copy keeps its name as
/// an alias of the first, so a value decoded under one name is a value of every other, and each
/// is built, matched and encoded through its own name.
#[test]
fn same_shape_copies_are_one_type_under_each_name() {
    use posthog_api::types::{
        ActionsNodePropertiesItem, ConversionGoalFilter1PropertiesItem, EventPropertyFilter,
        TrendsQueryPropertiesVariant0Item,
    };
    let wire = json!({ "type": "event", "key": "$browser", "value": "Chrome" });
    let decoded: ActionsNodePropertiesItem = decode(wire.clone()).unwrap();
    let same: &ConversionGoalFilter1PropertiesItem = &decoded;
    let TrendsQueryPropertiesVariant0Item::EventPropertyFilter(filter) = same else {
        panic!("an event filter decodes as the event variant: {same:?}");
    };
    assert_eq!(filter.key, "$browser");
    let built =
        ConversionGoalFilter1PropertiesItem::EventPropertyFilter(Box::new(EventPropertyFilter {
            key: "$browser".into(),
            r#type: Some(Default::default()),
            value: Some(decode(json!("Chrome")).unwrap()),
            ..Default::default()
        }));
    assert_eq!(&built, same);
    assert_eq!(serde_json::to_value(&built).unwrap(), wire);
}
