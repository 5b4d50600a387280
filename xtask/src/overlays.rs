//! The overlays under `schema/overlays/`: read in file-name order, applied by the generator and
//! by the changelog, hashed into the pin.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;

/// Where the overlays live, relative to the workspace root.
pub const OVERLAY_DIR: &str = "schema/overlays";

/// One overlay file as read.
#[derive(Debug, Clone)]
pub struct OverlayFile {
    /// Its path relative to the workspace root, as diagnostics and headers name it.
    pub source: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Every `*.yaml`, `*.yml` and `*.json` file in `schema/overlays/`, in file-name order (the order
/// they are applied in); none when the directory does not exist.
pub fn read_overlays(root: &Path) -> anyhow::Result<Vec<OverlayFile>> {
    let dir = root.join(OVERLAY_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("listing {}", dir.display())),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let wanted = [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| name.ends_with(ext));
        if wanted && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            Ok(OverlayFile {
                source: format!("{OVERLAY_DIR}/{name}"),
                bytes,
            })
        })
        .collect()
}

/// The generator's view of the overlays.
pub fn inputs(overlays: &[OverlayFile]) -> Vec<posthog_codegen::Input<'_>> {
    overlays
        .iter()
        .map(|overlay| posthog_codegen::Input {
            source: overlay.source.clone(),
            bytes: &overlay.bytes,
        })
        .collect()
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
