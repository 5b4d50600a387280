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
            Text(String),
        }
    };
    for direction in [Direction::Deserialize, Direction::Serialize] {
        let error = expanded(field.clone(), direction).unwrap_err();
        assert!(error.contains("unsupported field attribute"), "{error}");
        let error = expanded(container.clone(), direction).unwrap_err();
        assert!(error.contains("unsupported container attribute"), "{error}");
        let error = expanded(variant.clone(), direction).unwrap_err();
        assert!(
            error.contains("variant attributes are not supported"),
            "{error}"
        );
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
    // The buffer is handed to the fallback, and no "did not match" error remains.
    assert!(code.contains("Response :: Other (value)"), "{code}");
    assert!(!code.contains("did not match"), "{code}");
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
