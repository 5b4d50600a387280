//! The workspace's automation (`cargo xtask ...`): one module per command, called by the thin
//! `main.rs` and by the integration tests.

use std::path::PathBuf;

pub mod bench;
pub mod changelog;
pub mod check_outputs;
pub mod fetch_schema;
pub mod fuzz;
pub mod overlays;
pub mod pin;
pub mod regenerate;
pub mod schema_file;

/// The workspace root: xtask's parent directory, found at compile time so that the commands
/// work from any current directory.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}
