//! The overlays under `schema/overlays/`: read in file-name order, handed to the generator's
//! front end (which applies them for `regenerate` and the changelog alike), hashed into the pin.

use std::collections::BTreeMap;
use std::path::Path;

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
