//! The derives' refusals and key handling, checked on their expansion: what the generator may
//! emit and what it may not.

use super::{Direction, expand};
use syn::DeriveInput;
use syn_derive as syn;

fn expanded(input: DeriveInput, direction: Direction) -> Result<String, String> {
    expand(&input, direction)
        .map(|tokens| tokens.to_string())
        .map_err(|error| error.to_string())
}

#[test]
fn keys_are_wire_names() {
    let input: DeriveInput = syn::parse_quote! {
        pub struct Flag {
            pub r#type: String,
            #[serde(rename = "_create_in_folder", default, skip_serializing_if = "none")]
            pub create_in_folder: Option<String>,
        }
    };
    for direction in [Direction::Deserialize, Direction::Serialize] {
        let code = expanded(input.clone(), direction).unwrap();
        assert!(code.contains("\"type\""), "{direction:?}: {code}");
        assert!(
            code.contains("\"_create_in_folder\""),
            "{direction:?}: {code}"
        );
        assert!(!code.contains("\"r#type\""), "{direction:?}: {code}");
        assert!(
            !code.contains("\"create_in_folder\""),
            "{direction:?}: {code}"
        );
    }
}

#[test]
fn only_optional_fields_with_a_predicate_are_skipped_when_encoding() {
    let input: DeriveInput = syn::parse_quote! {
        pub struct Flag {
            pub key: String,
            #[serde(default, skip_serializing_if = "none")]
            pub name: Option<String>,
            #[serde(default)]
            pub deleted: Option<bool>,
        }
    };
    let code = expanded(input, Direction::Serialize).unwrap();
    assert_eq!(code.matches("if ! none").count(), 1, "{code}");
    assert!(code.contains("if ! none (& self . name)"), "{code}");
}

#[test]
fn attributes_it_does_not_implement_are_refused() {
    let field: DeriveInput = syn::parse_quote! {
        pub struct Flag {
            #[serde(alias = "flag_key")]
            pub key: String,
        }
    };
    let container: DeriveInput = syn::parse_quote! {
        #[serde(deny_unknown_fields)]
        pub struct Flag {
            pub key: String,
        }
    };
    let variant: DeriveInput = syn::parse_quote! {
        #[serde(untagged)]
        pub enum Value {
            #[serde(rename = "text")]
            Text(Box<Text>),
        }
    };
    for direction in [Direction::Deserialize, Direction::Serialize] {
        let error = expanded(field.clone(), direction).unwrap_err();
        assert!(error.contains("unsupported field attribute"), "{error}");
        let error = expanded(container.clone(), direction).unwrap_err();
        assert!(error.contains("unsupported container attribute"), "{error}");
        let error = expanded(variant.clone(), direction).unwrap_err();
        assert!(error.contains("unsupported variant attribute"), "{error}");
    }
}

#[test]
fn a_json_variant_must_come_last() {
    let shadowing: DeriveInput = syn::parse_quote! {
        #[serde(untagged)]
        pub enum Response {
            Object(serde_json::Value),
            Typed(HogQlResponse),
        }
    };
    let error = expanded(shadowing, Direction::Deserialize).unwrap_err();
    assert!(error.contains("can never match"), "{error}");

    let fallback_last: DeriveInput = syn::parse_quote! {
        #[serde(untagged)]
        pub enum Response {
            Typed(HogQlResponse),
            Other(serde_json::Value),
        }
    };
    let code = expanded(fallback_last, Direction::Deserialize).unwrap();
    // The buffer is handed to the fallback, which is no attempt of its own.
    assert!(
        code.contains("FALLBACK : :: core :: option :: Option < fn (:: serde_json :: Value) -> Self > = :: core :: option :: Option :: Some (Response :: Other)"),
        "{code}"
    );
    assert_eq!(
        code.matches("crate :: codec :: Attempt {").count(),
        1,
        "{code}"
    );
}

#[test]
fn shapes_it_does_not_generate_are_refused() {
    let cases: [(DeriveInput, &str); 4] = [
        (
            syn::parse_quote!(
                pub struct Pair(String, String);
            ),
            "only structs with named fields",
        ),
        (
            syn::parse_quote!(
                pub struct Page<T> {
                    pub results: Vec<T>,
                }
            ),
            "no generic parameters",
        ),
        (
            syn::parse_quote!(
                pub enum Kind {
                    A,
                    B,
                }
            ),
            "an enum marked #[serde(untagged)]",
        ),
        (
            syn::parse_quote!(
                #[serde(untagged)]
                pub enum Kind {
                    Pair(String, String),
                }
            ),
            "unit or hold exactly one value",
        ),
    ];
    for (input, expected) in cases {
        for direction in [Direction::Deserialize, Direction::Serialize] {
            let error = expanded(input.clone(), direction).unwrap_err();
            assert!(error.contains(expected), "{direction:?}: {error}");
        }
    }
}

#[test]
fn tagged_variants_are_tried_only_when_their_tag_matches() {
    let input: DeriveInput = syn::parse_quote! {
        #[serde(untagged)]
        pub enum Query {
            #[serde(tag = "kind", literal = "HogQLMetadata")]
            Metadata(Box<HogQlMetadata>),
            Loose(Loose),
            #[serde(tag = "kind", literal = "HogQLAutocomplete")]
            Autocomplete(Box<HogQlAutocomplete>),
            Other(serde_json::Value),
        }
    };
    let code = expanded(input.clone(), Direction::Deserialize).unwrap();
    // Each tagged attempt carries its literal; the untagged one none.
    assert!(
        code.contains("tag : :: core :: option :: Option :: Some ((\"kind\" , \"HogQLMetadata\"))"),
        "{code}"
    );
    assert!(
        code.contains(
            "tag : :: core :: option :: Option :: Some ((\"kind\" , \"HogQLAutocomplete\"))"
        ),
        "{code}"
    );
    assert_eq!(
        code.matches("tag : :: core :: option :: Option :: None")
            .count(),
        1,
        "{code}"
    );
    // Order is kept: the untagged variant is tried between the two tagged ones.
    let metadata = code.find("Box < HogQlMetadata >").unwrap();
    let loose = code.find("< Loose , Self >").unwrap();
    let autocomplete = code.find("Box < HogQlAutocomplete >").unwrap();
    assert!(metadata < loose && loose < autocomplete, "{code}");
    // Encoding ignores the tags: the payload carries its own `kind`.
    let code = expanded(input, Direction::Serialize).unwrap();
    assert!(!code.contains("HogQLMetadata\""), "{code}");
}

#[test]
fn variant_tags_come_whole_and_only_on_typed_variants() {
    let cases: [(DeriveInput, &str); 3] = [
        (
            syn::parse_quote! {
                #[serde(untagged)]
                pub enum Query {
                    #[serde(tag = "kind")]
                    Metadata(HogQlMetadata),
                }
            },
            "come together",
        ),
        (
            syn::parse_quote! {
                #[serde(untagged)]
                pub enum Query {
                    #[serde(tag = "kind", literal = "Null")]
                    Nothing,
                }
            },
            "has no tag",
        ),
        (
            syn::parse_quote! {
                #[serde(untagged)]
                pub enum Query {
                    #[serde(tag = "kind", literal = "Any")]
                    Other(serde_json::Value),
                }
            },
            "has no tag",
        ),
    ];
    for (input, expected) in cases {
        let error = expanded(input, Direction::Deserialize).unwrap_err();
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn nullable_fields_are_their_own_slot_and_never_missing() {
    let input: DeriveInput = syn::parse_quote! {
        pub struct Flag {
            pub key: String,
            #[serde(skip_serializing_if = "absent")]
            pub ensure_experience_continuity: crate::Nullable<bool>,
        }
    };
    let code = expanded(input.clone(), Direction::Deserialize).unwrap();
    // Decoded in place over a slot that starts absent, so `null` is kept as `Null` and a
    // missing key needs no `default`.
    assert!(
        code.contains("let mut field1 : crate :: Nullable < bool > = :: core :: default :: Default :: default ()"),
        "{code}"
    );
    assert!(
        code.contains("1usize => crate :: codec :: fill_in_place (& mut map , & mut field1)"),
        "{code}"
    );
    assert!(
        code.contains("ensure_experience_continuity : field1"),
        "{code}"
    );
    assert_eq!(code.matches("missing_field").count(), 1, "{code}");
    let code = expanded(input, Direction::Serialize).unwrap();
    assert!(
        code.contains("if ! absent (& self . ensure_experience_continuity)"),
        "{code}"
    );
}
