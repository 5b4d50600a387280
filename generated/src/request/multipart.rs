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
        .map(|(name, value)| match value {
            MultipartValue::Text(text) => framing(part_header(name, false).len(), text.len()),
            MultipartValue::File(bytes) => framing(part_header(name, true).len(), bytes.len()),
        })
        .sum::<usize>()
        + 2
        + BOUNDARY_LEN
        + 4
}

/// The body and its `Content-Type` (with the boundary). Text parts carry their value; file
/// parts are named after their member and typed `application/octet-stream`.
pub(super) fn encode(
    parts: &[(String, MultipartValue)],
) -> Result<(Bytes, HeaderValue), http::header::InvalidHeaderValue> {
    let boundary = boundary();
    let mut out = Vec::with_capacity(encoded_len(parts));
    for (name, value) in parts {
        let (file, content) = match value {
            MultipartValue::Text(text) => (false, text.as_bytes()),
            MultipartValue::File(bytes) => (true, bytes.as_ref()),
        };
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(part_header(name, file).as_bytes());
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

/// A part's header lines, each ending in CRLF. Names are escaped as browsers do (`"`, CR and
/// LF percent-encoded), so a name cannot end its header or start another.
fn part_header(name: &str, file: bool) -> String {
    let name = name
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if file {
        format!(
            "Content-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n"
        )
    } else {
        format!("Content-Disposition: form-data; name=\"{name}\"\r\n")
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
