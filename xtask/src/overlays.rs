//! The overlays under `schema/overlays/`: read in file-name order, handed to the generator's
//! front end (which applies them for `regenerate` and the changelog alike), hashed into the pin.

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
