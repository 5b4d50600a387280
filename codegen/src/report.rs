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
    /// Optional nullable fields made three-state (`Nullable`: absent, null or a value).
    pub const THREE_STATE_FIELD: &str = "three_state_field";
    /// `readOnly` fields left out of types only request bodies use (drf's `Patched*`).
    pub const READ_ONLY_IN_REQUEST: &str = "read_only_in_request";
}
