//! Turns drf-spectacular OpenAPI documents into a typed Rust client for PostHog's API.
//!
//! The pipeline: [`load`] reads JSON or YAML; [`overlay`] applies our reviewed corrections to
//! the raw document; [`load`] parses it into `openapiv3`; [`lower`] normalizes
//! drf-spectacular's quirks (each pass counted in a [`report::Report`]) into the [`ir`]; [`emit`]
//! writes formatted Rust from the IR alone. Every phase collects [`diagnostic::Diagnostics`]
//! with JSON pointers into the schema and stops the pipeline if there are any.

pub mod diagnostic;
pub mod diff;
pub mod emit;
pub mod ir;
pub mod load;
pub mod lower;
pub mod merge;
pub mod naming;
pub mod openapi31;
pub mod options;
pub mod overlay;
pub mod overlay_files;
pub mod report;
pub mod throttle;

use std::collections::BTreeMap;

use diagnostic::{Ctxt, Diagnostic, Diagnostics, Source};
pub use options::{ExternalRefs, Options};

/// The cargo feature, beside one per tag, that the generated crate must declare (outside `full`):
/// it enables the types no operation uses.
pub use emit::features::UNREFERENCED as UNREFERENCED_FEATURE;

/// One input document and the role it plays.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// Where it came from, for the `@generated` header (a path relative to the workspace or a URL).
    pub source: String,
    /// The raw bytes, JSON or YAML.
    pub bytes: &'a [u8],
}

/// Everything one generator run produces.
#[derive(Debug, Clone)]
pub struct Output {
    /// File path (relative to the generated directory) to contents.
    pub files: BTreeMap<String, String>,
    /// What each normalization pass touched.
    pub report: report::Report,
    /// The lowered API, for callers that want to inspect it (tests, reports).
    pub api: ir::Api,
    /// Cargo features the generated crate must declare: one per tag module.
    pub features: Vec<String>,
}

/// Runs the whole pipeline: the PostHog schema, plus our description of the public endpoints
/// (merged in with their operations marked for the public host), plus the throttle table.
pub fn generate(
    main: &Input<'_>,
    public: Option<&Input<'_>>,
    throttle_table: Option<&str>,
    header_command: &str,
) -> Result<Output, Diagnostics> {
    generate_with_overlays(main, &[], public, throttle_table, header_command)
}

/// [`generate`] with overlays (OpenAPI Overlay 1.0 documents) applied, in the order given, to
/// the main document's raw JSON before it is parsed. Their hashes join the `@generated` header.
pub fn generate_with_overlays(
    main: &Input<'_>,
    overlays: &[Input<'_>],
    public: Option<&Input<'_>>,
    throttle_table: Option<&str>,
    header_command: &str,
) -> Result<Output, Diagnostics> {
    generate_with_options(
        main,
        overlays,
        public,
        throttle_table,
        header_command,
        &Options::default(),
    )
}

/// [`generate_with_overlays`] with the opt-ins of [`Options`] (`--skip-unsupported`,
/// `--external-refs=json`).
pub fn generate_with_options(
    main: &Input<'_>,
    overlays: &[Input<'_>],
    public: Option<&Input<'_>>,
    throttle_table: Option<&str>,
    header_command: &str,
    options: &Options,
) -> Result<Output, Diagnostics> {
    let (api, report) = lower_inputs(main, overlays, public, throttle_table, options)?;
    let header = header_line(main, overlays, public, header_command);
    let files = emit::emit(&api, &header);
    let features = emit::features::tag_features(&api);
    Ok(Output {
        files,
        report,
        api,
        features,
    })
}

/// The front end every reader of a schema shares: load, overlays, the public-endpoints merge,
/// the throttle table and lowering, up to the [`ir::Api`] the emitters read. The generator emits
/// from it, and the changelog ([`diff`]) compares two of them, so both see the same names,
/// folds and overlays.
pub fn lower_inputs(
    main: &Input<'_>,
    overlays: &[Input<'_>],
    public: Option<&Input<'_>>,
    throttle_table: Option<&str>,
    options: &Options,
) -> Result<(ir::Api, report::Report), Diagnostics> {
    let mut cx = Ctxt::new();
    let api = lower_phases(main, overlays, public, throttle_table, options, &mut cx);
    let report = cx.check()?;
    match api {
        Some(api) => Ok((api, report)),
        None => Err(Diagnostic::bug("lower_inputs", "a phase stopped without a diagnostic").into()),
    }
}

/// The phases of [`lower_inputs`], each stopping the run (`None`) when it recorded diagnostics.
fn lower_phases(
    main: &Input<'_>,
    overlays: &[Input<'_>],
    public: Option<&Input<'_>>,
    throttle_table: Option<&str>,
    options: &Options,
    cx: &mut Ctxt,
) -> Option<ir::Api> {
    let parsed = load::parse_document(main.bytes, overlays, cx.report());
    let mut doc = cx.take(parsed)?;
    let mut public_places = merge::PublicPlaces::default();
    if let Some(public) = public {
        let parsed = load::parse_document(public.bytes, &[], cx.report())
            .map_err(|d| d.with_source(Source::PublicDocument));
        let public_doc = cx.take(parsed)?;
        public_places = merge::PublicPlaces::of(&public_doc);
        cx.take(merge::merge_public(&mut doc, public_doc))?;
    }
    let table = match throttle_table {
        Some(text) => Some(
            cx.take(throttle::ThrottleTable::parse(text).map_err(|error| {
                Diagnostics::from(Diagnostic::in_source(
                    Source::ThrottleTable { line: error.line() },
                    "",
                    error.to_string(),
                ))
            }))?,
        ),
        None => None,
    };
    let api = lower::lower(&doc, table.as_ref(), options, cx);
    for diagnostic in cx.parts().0.iter_mut() {
        public_places.attribute(diagnostic);
    }
    api
}

/// The `@generated` line every file starts with.
fn header_line(
    main: &Input<'_>,
    overlays: &[Input<'_>],
    public: Option<&Input<'_>>,
    command: &str,
) -> String {
    let mut sources = format!("{} (sha256 {})", main.source, sha256_hex(main.bytes));
    for overlay in overlays {
        sources.push_str(&format!(
            " with {} (sha256 {})",
            overlay.source,
            sha256_hex(overlay.bytes)
        ));
    }
    if let Some(public) = public {
        sources.push_str(&format!(
            " and {} (sha256 {})",
            public.source,
            sha256_hex(public.bytes)
        ));
    }
    let raw = format!("// @generated by `{command}` from {sources}. Do not edit.");
    // One comment line whatever a path or URL holds: a line break would end the comment.
    let mut line = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_control() {
            line.extend(c.escape_debug());
        } else {
            line.push(c);
        }
    }
    line
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_one_comment_line_whatever_the_source_is_named() {
        let main = Input {
            source: "schema\nfn injected() {}\r.json".to_owned(),
            bytes: b"{}",
        };
        let header = header_line(&main, &[], None, "cargo xtask regenerate");
        assert!(!header.contains(['\n', '\r']), "{header}");
        assert!(
            header.contains("schema\\nfn injected() {}\\r.json"),
            "{header}"
        );
    }
}
