//! What each normalization pass touched, so a quirk's handling is visible and counted.

use std::collections::BTreeMap;
use std::fmt;

/// How many places one pass touched, with the first few as examples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Places touched.
    pub touched: usize,
    /// JSON pointers of the first places touched.
    pub examples: Vec<String>,
}

/// Every pass's report, by pass name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Pass name to what it touched.
    pub passes: BTreeMap<&'static str, PassReport>,
    /// What each overlay did, in the order they were applied.
    pub overlays: Vec<crate::overlay::OverlayReport>,
    /// What an opt-in accepted that the default would have refused (`--external-refs=json`).
    pub warnings: Vec<crate::diagnostic::Diagnostic>,
    /// Operations left out under `--skip-unsupported`, with why.
    pub skipped: Vec<crate::ir::SkippedOperation>,
}

/// How many example pointers a pass keeps.
const EXAMPLES: usize = 3;

impl Report {
    /// Records that `pass` touched the schema at `pointer`.
    pub fn touch(&mut self, pass: &'static str, pointer: &str) {
        let entry = self.passes.entry(pass).or_default();
        entry.touched += 1;
        if entry.examples.len() < EXAMPLES {
            entry.examples.push(pointer.to_owned());
        }
    }

    /// How many places `pass` touched.
    pub fn count(&self, pass: &str) -> usize {
        self.passes.get(pass).map_or(0, |p| p.touched)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for overlay in &self.overlays {
            writeln!(
                f,
                "overlay {:<36} {:>3} actions, {:>3} nodes",
                overlay.source, overlay.actions, overlay.nodes
            )?;
        }
        for (name, pass) in &self.passes {
            writeln!(
                f,
                "{name:<28} {:>5}  e.g. {}",
                pass.touched,
                pass.examples.first().map_or("", String::as_str)
            )?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        if !self.skipped.is_empty() {
            writeln!(
                f,
                "skipped {} operations (--skip-unsupported):",
                self.skipped.len()
            )?;
            for skipped in &self.skipped {
                writeln!(f, "  {} at {}", skipped.operation, skipped.pointer)?;
                for reason in &skipped.reasons {
                    writeln!(f, "    {reason}")?;
                }
            }
        }
        Ok(())
    }
}

/// Names of the normalization passes, one per drf-spectacular quirk.
pub mod pass {
    /// `oneOf: [XEnum, BlankEnum, NullEnum]` folded into `Option<XEnum>` with a blank variant.
    pub const FOLD_BLANK_NULL_ENUM: &str = "fold_blank_null_enum";
    /// `allOf: [$ref]` wrappers (drf adds them to attach `nullable`/`readOnly`) unwrapped.
    pub const UNWRAP_SINGLE_ALLOF: &str = "unwrap_single_allof";
    /// `allOf` of several object schemas merged into one struct.
    pub const MERGE_ALLOF: &str = "merge_allof";
    /// `allOf: []` (invalid JSON Schema, but vacuously true) read as free-form JSON.
    pub const EMPTY_ALLOF: &str = "empty_allof";
    /// Single-value string enums (pydantic `Literal` tags) made strict literal types.
    pub const LITERAL_TAG: &str = "literal_tag";
    /// Enums mixing value types (e.g. `[true, false, "hog"]`) kept as raw JSON.
    pub const MIXED_ENUM_AS_JSON: &str = "mixed_enum_as_json";
    /// `null` removed from enum values and turned into an optional type.
    pub const NULL_IN_ENUM: &str = "null_in_enum";
    /// The JSON member kept from a JSON / form / multipart request-body triple.
    pub const PICK_JSON_BODY: &str = "pick_json_body";
    /// Multipart bodies kept where multipart is the only structured option.
    pub const MULTIPART_ONLY_BODY: &str = "multipart_only_body";
    /// `application/x-www-form-urlencoded` bodies kept where neither JSON nor multipart is offered.
    pub const FORM_ONLY_BODY: &str = "form_only_body";
    /// Header parameters the client sets itself (`Accept`, `Content-Type`, `Authorization`,
    /// which OpenAPI says to ignore, and framing headers such as `Host`) left out.
    pub const IGNORED_HEADER_PARAM: &str = "ignored_header_param";
    /// Answers that may be `304 Not Modified` (conditional parameters or a documented 304).
    pub const CONDITIONAL_RESPONSE: &str = "conditional_response";
    /// Binary answers (octet-stream, zip, spreadsheets, `*/*` binary) returned as bytes.
    pub const BINARY_RESPONSE: &str = "binary_response";
    /// `200 "No response body"` answers returned as raw JSON instead of dropped.
    pub const UNDOCUMENTED_RESPONSE: &str = "undocumented_response";
    /// `text/csv` / `text/event-stream` twins of JSON answers offered as companion methods.
    pub const ALTERNATE_MEDIA: &str = "alternate_media";
    /// Duplicate tags (`["environments", "environments"]`) collapsed, one primary tag chosen.
    pub const PRIMARY_TAG: &str = "primary_tag";
    /// `/api/environments/...` operations grouped with their `/api/projects/...` twin's tag.
    pub const ENVIRONMENT_TWIN: &str = "environment_twin";
    /// Free-form members of untagged unions moved last as the catch-all, so they cannot shadow
    /// typed members listed after them.
    pub const JSON_MEMBER_AS_FALLBACK: &str = "json_member_as_fallback";
    /// Recursive type references boxed.
    pub const BOX_RECURSION: &str = "box_recursion";
    /// List operations recognised as paginated.
    pub const PAGINATION: &str = "pagination";
    /// Rust name collisions and keywords resolved.
    pub const RENAME: &str = "rename";
    /// `allOf` members that only annotate (a description, bounds, `readOnly`) set aside, so a
    /// primitive or a single reference refined by them is that type.
    pub const ALLOF_ANNOTATION_MEMBER: &str = "allof_annotation_member";
    /// `allOf` members that are themselves `allOf` (inline or a component) merged level by level.
    pub const NESTED_ALLOF: &str = "nested_allof";
    /// `$ref`s to another document typed as free-form JSON (`--external-refs=json`).
    pub const EXTERNAL_REF_AS_JSON: &str = "external_ref_as_json";

    // OpenAPI 3.1 documents are converted to the 3.0 model before parsing (`crate::openapi31`),
    // one pass per difference, as drf-spectacular's OAS_VERSION=3.1.0 output shows them.

    /// `type: [T, "null"]` to `type: T` with `nullable: true` (several types: an `anyOf`).
    pub const OAS31_TYPE_ARRAY: &str = "oas31_type_array";
    /// A `{type: "null"}` member of `oneOf`/`anyOf` removed, its schema made `nullable`.
    pub const OAS31_NULL_MEMBER: &str = "oas31_null_member";
    /// `type: "null"` alone (drf's `NullEnum`) to 3.0's `enum: [null]`.
    pub const OAS31_NULL_TYPE: &str = "oas31_null_type";
    /// Numeric `exclusiveMinimum`/`exclusiveMaximum` to a bound with the boolean flag.
    pub const OAS31_EXCLUSIVE_BOUND: &str = "oas31_exclusive_bound";
    /// `const` to a one-value `enum` (typed after the value when the schema has no `type`).
    pub const OAS31_CONST: &str = "oas31_const";
    /// A schema's `examples` list to 3.0's single `example`.
    pub const OAS31_EXAMPLES: &str = "oas31_examples";
    /// `$ref` with sibling keywords wrapped in a one-member `allOf`, as 3.0 needs.
    pub const OAS31_REF_SIBLINGS: &str = "oas31_ref_siblings";
    /// Boolean schemas (`true`, `false`) to `{}` and `{not: {}}`.
    pub const OAS31_BOOLEAN_SCHEMA: &str = "oas31_boolean_schema";
    /// 3.1-only members the client does not use (`webhooks`, `jsonSchemaDialect`,
    /// `components/pathItems`, `info/summary`, `license/identifier`) removed.
    pub const OAS31_UNUSED_MEMBER: &str = "oas31_unused_member";
    /// `contentMediaType` on a string without a format read as 3.0's `format: binary`.
    pub const OAS31_CONTENT_MEDIA_TYPE: &str = "oas31_content_media_type";
    /// Optional nullable fields made three-state (`Nullable`: absent, null or a value).
    pub const THREE_STATE_FIELD: &str = "three_state_field";
    /// `readOnly` fields left out of types only request bodies use (drf's `Patched*`).
    pub const READ_ONLY_IN_REQUEST: &str = "read_only_in_request";
    /// Inline schemas with the same shape as an earlier one made aliases of it.
    pub const SAME_SHAPE_INLINE_TYPE: &str = "same_shape_inline_type";
}
