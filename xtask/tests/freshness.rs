//! `generated/` must be exactly what the pinned schema generates: the same check as
//! `cargo xtask regenerate --check`, run by `cargo test` so a stale crate cannot land.

use xtask::regenerate::{RegenerateArgs, regenerate};

#[test]
fn generated_crate_is_up_to_date() {
    let root = xtask::workspace_root();
    let args = RegenerateArgs {
        check: true,
        ..RegenerateArgs::default()
    };
    let summary = match regenerate(&root, &args) {
        Ok(summary) => summary,
        Err(error) => panic!("{error:#}"),
    };
    assert!(
        summary.changed.is_empty() && summary.deleted.is_empty(),
        "generated/ is stale (changed: {:?}, deleted: {:?}); run `cargo xtask regenerate`",
        summary.changed,
        summary.deleted
    );
}
