//! The overlays under `schema/overlays/`: read in file-name order, applied by the generator and
//! by the changelog, hashed into the pin.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;

pub use posthog_codegen::overlay_files::{OverlayFile, inputs};

/// Every overlay file of the workspace, in the order they are applied
/// ([`posthog_codegen::overlay_files::read_overlays`]).
pub fn read_overlays(root: &Path) -> anyhow::Result<Vec<OverlayFile>> {
    Ok(posthog_codegen::overlay_files::read_overlays(root)?)
}

/// Overlay file to the sha256 of its bytes, for the pin.
pub fn hashes(overlays: &[OverlayFile]) -> BTreeMap<String, String> {
    overlays
        .iter()
        .map(|overlay| {
            (
                overlay.source.clone(),
                crate::pin::sha256_hex(&overlay.bytes),
            )
        })
        .collect()
}

/// Applies the overlays to a schema's JSON, as the generator does before parsing.
pub fn apply(value: &mut serde_json::Value, overlays: &[OverlayFile]) -> anyhow::Result<()> {
    let mut report = posthog_codegen::report::Report::default();
    posthog_codegen::overlay::apply_overlays(value, &inputs(overlays), &mut report)
        .map_err(|diagnostics| anyhow::anyhow!("{diagnostics}"))
}

/// Reads a schema (JSON or YAML) and applies the overlays, for the changelog: it compares
/// what the generator sees, so an overlay's fix is not reported as an API change.
pub fn overlaid_openapi(
    bytes: &[u8],
    origin: &str,
    overlays: &[OverlayFile],
) -> anyhow::Result<openapiv3::OpenAPI> {
    let mut schema = crate::schema_file::SchemaFile::parse(bytes, origin)?;
    apply(&mut schema.value, overlays)
        .with_context(|| format!("applying the overlays to {origin}"))?;
    schema.to_openapi(origin)
}
