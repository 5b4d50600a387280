//! Parsing: JSON or YAML bytes into an `openapiv3` document, refusing what we do not support.

mod in_parts;

use serde_json::Value;

use crate::diagnostic::{Diagnostic, Diagnostics, escape_segment};

/// The HTTP methods a path item can hold, in the order OpenAPI lists them (the fetcher counts
/// operations with it, as the lowering finds them).
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Reads an OpenAPI document already in JSON (the overlay step works on that form), counting the
/// 3.1 rewrites in `report`.
///
/// Swagger 2.0 and other versions are refused with a diagnostic at `#/swagger` or `#/openapi`;
/// a 3.1 document is first rewritten into the 3.0 model ([`crate::openapi31`]); a document that
/// does not fit the OpenAPI 3.0 model gets a diagnostic at the failing member.
pub fn document_from_value(
    mut value: Value,
    report: &mut crate::report::Report,
) -> Result<openapiv3::OpenAPI, Diagnostics> {
    let version = check_version(&value)?;
    check_depth(&value)?;
    if version == Version::V3_1 {
        crate::openapi31::downgrade(&mut value, report)?;
    }
    // drf-spectacular writes `version: null` when a project sets none (posthog-2023-11.yaml);
    // openapiv3 wants a string, and nothing reads it, so null becomes empty.
    if let Some(version) = value.pointer_mut("/info/version").filter(|v| v.is_null()) {
        *version = Value::from("");
    }
    // Tracking the path of every member costs an allocation per key; a valid document (the
    // usual case) needs none, so it is read by parts, and the path is found by a second, tracked
    // pass over the whole document only on failure.
    if let Some(document) = in_parts::read(&value) {
        return Ok(document);
    }
    serde_path_to_error::deserialize::<_, openapiv3::OpenAPI>(value).map_err(|error| {
        let pointer = path_to_pointer(error.path());
        Diagnostic::new(
            pointer,
            format!("not a valid OpenAPI 3.0 document here: {}", error.inner()),
        )
        .into()
    })
}

/// Parses a document from JSON or YAML bytes with `overlays` applied to its raw JSON first (see
/// [`crate::overlay`]; the public document has none), recording what each overlay and the 3.1
/// rewrite did in `report`.
pub fn parse_document(
    bytes: &[u8],
    overlays: &[crate::Input<'_>],
    report: &mut crate::report::Report,
) -> Result<openapiv3::OpenAPI, Diagnostics> {
    let mut value = parse_value(bytes)?;
    if !overlays.is_empty() {
        // A document that is not even an object gets the version diagnostic, not an overlay's.
        check_version(&value)?;
        crate::overlay::apply_overlays(&mut value, overlays, report)?;
    }
    document_from_value(value, report)
}

/// Parses JSON or YAML into a JSON value, whichever the bytes are.
pub fn parse_value(bytes: &[u8]) -> Result<Value, Diagnostics> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        Diagnostic::new("#", format!("the document is not UTF-8 text: {error}"))
    })?;
    let looks_like_json = text.trim_start().starts_with('{');
    if looks_like_json {
        serde_json::from_str(text).map_err(|error| {
            Diagnostic::new(
                "#",
                format!(
                    "invalid JSON at line {} column {}: {error}",
                    error.line(),
                    error.column()
                ),
            )
            .into()
        })
    } else {
        serde_yaml::from_str(text).map_err(|error| {
            let place = error
                .location()
                .map(|at| format!(" at line {} column {}", at.line(), at.column()))
                .unwrap_or_default();
            Diagnostic::new("#", format!("invalid YAML{place}: {error}")).into()
        })
    }
}

/// How deep a document may nest (objects and arrays). PostHog's 2025 schema nests 22 levels;
/// the limit bounds the stack every later phase uses, since they recurse along the document
/// (openapiv3's deserialization alone takes ~45 KiB a level in a debug build).
pub const MAX_DEPTH: usize = 40;

/// Refuses a document nested deeper than [`MAX_DEPTH`], naming the first place too deep.
/// Iterative, so the check itself cannot overflow.
fn check_depth(value: &Value) -> Result<(), Diagnostics> {
    /// The members of one object or array still to visit, with their pointer segments.
    /// A pointer segment, spelled out only for the diagnostic (most documents need none).
    enum Segment<'v> {
        Key(&'v str),
        Index(usize),
    }
    type Members<'v> = Box<dyn Iterator<Item = (Segment<'v>, &'v Value)> + 'v>;
    fn members(value: &Value) -> Option<Members<'_>> {
        match value {
            Value::Object(map) => Some(Box::new(
                map.iter().map(|(k, v)| (Segment::Key(k.as_str()), v)),
            )),
            Value::Array(items) => Some(Box::new(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (Segment::Index(i), v)),
            )),
            _ => None,
        }
    }
    let mut path: Vec<Segment<'_>> = Vec::new();
    let mut stack: Vec<Members<'_>> = members(value).into_iter().collect();
    while let Some(top) = stack.last_mut() {
        let Some((segment, child)) = top.next() else {
            stack.pop();
            path.pop();
            continue;
        };
        let Some(grandchildren) = members(child) else {
            continue;
        };
        path.push(segment);
        if stack.len() >= MAX_DEPTH {
            let path: Vec<String> = path
                .iter()
                .map(|segment| match segment {
                    Segment::Key(key) => (*key).to_owned(),
                    Segment::Index(index) => index.to_string(),
                })
                .collect();
            return Err(Diagnostic::new(
                crate::diagnostic::pointer(&path),
                format!(
                    "the document nests deeper than {MAX_DEPTH} levels here; schemas this deep are not supported"
                ),
            )
            .into());
        }
        stack.push(grandchildren);
    }
    Ok(())
}

/// The OpenAPI versions read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V3_0,
    V3_1,
}

fn check_version(value: &Value) -> Result<Version, Diagnostics> {
    let Some(root) = value.as_object() else {
        return Err(Diagnostic::new(
            "#",
            "expected an OpenAPI document (a JSON/YAML object) at the top level",
        )
        .into());
    };
    if root.contains_key("swagger") {
        return Err(Diagnostic::new(
            "#/swagger",
            "Swagger 2.0 documents are not supported; convert to OpenAPI 3.0 first",
        )
        .into());
    }
    match root.get("openapi").and_then(Value::as_str) {
        Some(version) if version.starts_with("3.0") => Ok(Version::V3_0),
        Some(version) if version.starts_with("3.1") => Ok(Version::V3_1),
        Some(version) => Err(Diagnostic::new(
            "#/openapi",
            format!(
                "OpenAPI {version} is not supported; expected 3.0.x or 3.1.x (drf-spectacular's output)"
            ),
        )
        .into()),
        None => Err(Diagnostic::new("#/openapi", "missing the `openapi` version string").into()),
    }
}

fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    let mut out = String::from("#");
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            serde_path_to_error::Segment::Map { key } => {
                out.push('/');
                out.push_str(&escape_segment(key));
            }
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}
