//! The overlay files of a workspace (`schema/overlays/`), read in the order they are applied:
//! one reader for every tool that runs the generator (`cargo xtask regenerate`, the changelog,
//! `cargo xtask bench`), so they all see the same overlays.

use std::path::{Path, PathBuf};

use crate::Input;

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

impl OverlayFile {
    /// The generator's view of this file.
    pub fn input(&self) -> Input<'_> {
        Input {
            source: self.source.clone(),
            bytes: &self.bytes,
        }
    }
}

/// A file or the directory could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading {}: {source}", path.display())]
pub struct ReadError {
    /// What was being read.
    pub path: PathBuf,
    /// Why it failed.
    pub source: std::io::Error,
}

/// Every `*.yaml`, `*.yml` and `*.json` file in `<root>/schema/overlays/`, in file-name order
/// (the order they are applied in); none when the directory does not exist.
pub fn read_overlays(root: &Path) -> Result<Vec<OverlayFile>, ReadError> {
    let dir = root.join(OVERLAY_DIR);
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReadError { path, source }
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(failed(&dir)(error)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(failed(&dir))?;
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
            let bytes = std::fs::read(&path).map_err(failed(&path))?;
            Ok(OverlayFile {
                source: format!("{OVERLAY_DIR}/{name}"),
                bytes,
            })
        })
        .collect()
}

/// The generator's view of `overlays`.
pub fn inputs(overlays: &[OverlayFile]) -> Vec<Input<'_>> {
    overlays.iter().map(OverlayFile::input).collect()
}
