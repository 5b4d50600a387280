//! The schema pin (`schema/posthog.pin.json`) and the local cache of schemas seen before.
//!
//! The pin names the schema the committed client was generated from: where it came from, the
//! sha256 of its bytes as read, and its operation count. The cache under
//! `target/schema-cache/<sha256>.json` keeps the canonical JSON of every schema fetched, so
//! that the next fetch or regenerate can diff against the previous pin without network.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Where the pin lives, relative to the workspace root.
pub const PIN_PATH: &str = "schema/posthog.pin.json";

/// Where schemas are cached, relative to the workspace root. It is under `target/` so that it
/// is ignored by git: a copy of a shared or fetched schema never ends up in a commit.
pub const CACHE_DIR: &str = "target/schema-cache";

/// The schema the generated client was built from.
///
/// Field order is the on-disk key order, so that the file diffs cleanly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// A path relative to the workspace root, or the URL the schema was downloaded from.
    pub source: String,
    /// Lower-case hex sha256 of the schema bytes as read from the source.
    pub sha256: String,
    /// How many operations (method + path) the schema declares.
    pub operations: usize,
    /// The overlays (`schema/overlays/*`) applied to it: file to sha256 of its bytes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overlays: BTreeMap<String, String>,
    /// When the schema was downloaded (RFC 3339), or `null` for a local file, whose content
    /// the sha256 already identifies; leaving it out keeps the pin reproducible in CI.
    pub fetched_at: Option<String>,
}

impl Pin {
    /// Reads a pin file.
    pub fn load(path: impl AsRef<Path>) -> anyhow::Result<Pin> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).with_context(|| format!("reading the pin {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "parsing the pin {}: expected {{\"source\", \"sha256\", \"operations\", \"fetched_at\"}}",
                path.display()
            )
        })
    }

    /// The pin's bytes on disk: pretty JSON with a trailing newline.
    pub fn to_bytes(&self) -> anyhow::Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self).context("serializing the pin")?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Writes the pin, creating its directory, and only when its bytes change, so that an
    /// unchanged schema leaves the file's mtime (and cargo's rebuild checks) alone.
    ///
    /// Returns whether the file was written.
    pub fn save(&self, path: impl AsRef<Path>) -> anyhow::Result<bool> {
        write_if_changed(path.as_ref(), &self.to_bytes()?)
    }

    /// The bytes of the schema this pin names, if this machine has them: the cached canonical
    /// copy, else the local source file when it still hashes to the pinned sha256.
    pub fn schema_bytes(&self, workspace_root: &Path) -> Option<Vec<u8>> {
        if let Some(bytes) = cached_schema(workspace_root, &self.sha256) {
            return Some(bytes);
        }
        if self.source.contains("://") {
            return None;
        }
        let bytes = std::fs::read(workspace_root.join(&self.source)).ok()?;
        (sha256_hex(&bytes) == self.sha256).then_some(bytes)
    }
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest.iter() {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The cache file for the schema whose source bytes hash to `sha`.
pub fn cache_path(workspace_root: &Path, sha: &str) -> PathBuf {
    workspace_root.join(CACHE_DIR).join(format!("{sha}.json"))
}

/// Stores a schema's canonical JSON under the sha256 of its source bytes.
///
/// The key is the pin's sha256 (of the bytes as read), while the content is the canonical
/// form, so a YAML download and its JSON twin both parse from the cache the same way.
pub fn cache_schema(workspace_root: &Path, sha: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(
        sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
        "refusing to cache a schema under {sha:?}: not a sha256 in hex"
    );
    let path = cache_path(workspace_root, sha);
    write_if_changed(&path, bytes)?;
    Ok(path)
}

/// The cached schema for `sha`, if this machine has seen it before.
pub fn cached_schema(workspace_root: &Path, sha: &str) -> Option<Vec<u8>> {
    // A sha from a hand-edited pin must not escape the cache directory.
    if sha.is_empty() || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    std::fs::read(cache_path(workspace_root, sha)).ok()
}

/// Writes `bytes` to `path` unless it already holds exactly them; creates parent directories.
///
/// Returns whether the file was written.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> anyhow::Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the directory {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn pin_layout_is_stable() -> anyhow::Result<()> {
        let pin = Pin {
            source: "../shared/schemas/posthog-2025.json".into(),
            sha256: "ab".into(),
            operations: 772,
            overlays: BTreeMap::from([("schema/overlays/10-query.yaml".into(), "cd".into())]),
            fetched_at: None,
        };
        let text = String::from_utf8(pin.to_bytes()?)?;
        assert_eq!(
            text,
            "{\n  \"source\": \"../shared/schemas/posthog-2025.json\",\n  \"sha256\": \"ab\",\n  \"operations\": 772,\n  \"overlays\": {\n    \"schema/overlays/10-query.yaml\": \"cd\"\n  },\n  \"fetched_at\": null\n}\n"
        );
        Ok(())
    }

    #[test]
    fn cached_schema_rejects_paths() {
        assert_eq!(cached_schema(Path::new("."), "../../etc/passwd"), None);
    }
}
