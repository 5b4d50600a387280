//! `multipart/form-data` encoding, done here rather than by reqwest so that the size the 20 MB
//! check counts is exactly the number of bytes sent, boundaries and part headers included.

use super::*;

/// `posthog-api-` and 32 random hex digits: always this long, so a body's size is known
/// before its boundary is drawn.
const BOUNDARY_LEN: usize = 44;

/// The exact length of `encode(parts)`'s bytes.
pub(super) fn encoded_len(parts: &[(String, MultipartValue)]) -> usize {
    let framing = |header: usize, value: usize| 2 + BOUNDARY_LEN + 2 + header + 2 + value + 2;
    parts
        .iter()
        .map(|(name, value)| {
            let (kind, content) = part_content(value);
            framing(part_header(name, kind).len(), content.len())
        })
        .sum::<usize>()
        + 2
        + BOUNDARY_LEN
        + 4
}

/// The body and its `Content-Type` (with the boundary). Text parts carry their value; file
/// parts carry their file name and content type (`FilePart`), or are named after their member
/// and typed `application/octet-stream`.
pub(super) fn encode(
    parts: &[(String, MultipartValue)],
) -> Result<(Bytes, HeaderValue), http::header::InvalidHeaderValue> {
    let boundary = boundary();
    let mut out = Vec::with_capacity(encoded_len(parts));
    for (name, value) in parts {
        let (kind, content) = part_content(value);
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(part_header(name, kind).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
    let content_type = HeaderValue::try_from(format!("multipart/form-data; boundary={boundary}"))?;
    Ok((Bytes::from(out), content_type))
}

/// What a part's header says beyond its name: nothing for text, else a file name and a
/// content type.
enum PartKind<'a> {
    Text,
    File {
        file_name: &'a str,
        content_type: &'a str,
    },
}

/// A part's header kind and its content bytes.
fn part_content<'a>(value: &'a MultipartValue) -> (PartKind<'a>, &'a [u8]) {
    match value {
        MultipartValue::Text(text) => (PartKind::Text, text.as_bytes()),
        MultipartValue::File(bytes) => (
            PartKind::File {
                file_name: "",
                content_type: "application/octet-stream",
            },
            bytes.as_ref(),
        ),
        MultipartValue::FilePart(file) => (
            PartKind::File {
                file_name: file.file_name(),
                content_type: file.content_type(),
            },
            file.bytes().as_ref(),
        ),
    }
}

/// A part's header lines, each ending in CRLF. Names and file names are escaped as browsers do
/// (`"`, CR and LF percent-encoded), so a name cannot end its header or start another; a file
/// without a name of its own is named after its member. Content types were checked to be media
/// types (no CR or LF) when the part was added.
fn part_header(name: &str, kind: PartKind<'_>) -> String {
    let escape = |text: &str| {
        text.replace('"', "%22")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let name = escape(name);
    match kind {
        PartKind::Text => format!("Content-Disposition: form-data; name=\"{name}\"\r\n"),
        PartKind::File {
            file_name,
            content_type,
        } => {
            let file_name = if file_name.is_empty() {
                name.clone()
            } else {
                escape(file_name)
            };
            let content_type = content_type.replace(['\r', '\n'], "");
            format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n"
            )
        }
    }
}

/// A fresh random boundary. 128 random bits: content cannot contain it unless it guesses it,
/// so the body is not scanned for it.
fn boundary() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let random = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let boundary = format!("posthog-api-{:016x}{:016x}", random(), random());
    debug_assert_eq!(boundary.len(), BOUNDARY_LEN);
    boundary
}
