//! File parts of multipart bodies: the type a `format: binary` member becomes, carrying the
//! bytes with their file name and content type.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A file to upload: its bytes, the file name and the content type the part is sent with.
///
/// ```
/// # use posthog_api::multipart::FilePart;
/// let csv = FilePart::new(b"id,name\n1,a\n".to_vec(), "people.csv", "text/csv");
/// assert_eq!(csv.file_name(), "people.csv");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct FilePart {
    bytes: Bytes,
    file_name: String,
    content_type: String,
}

impl FilePart {
    /// A file part. The content type is checked when the request is built: one that is not a
    /// valid media type fails the call with [`crate::Error::InvalidArgument`].
    pub fn new(
        bytes: impl Into<Bytes>,
        file_name: impl Into<String>,
        content_type: impl Into<String>,
    ) -> Self {
        Self {
            bytes: bytes.into(),
            file_name: file_name.into(),
            content_type: content_type.into(),
        }
    }

    /// Reads a file; the part is named after the file and sent as `application/octet-stream`
    /// unless [`FilePart::content_type`] says otherwise.
    pub fn read(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)?;
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self::new(bytes, file_name, "application/octet-stream"))
    }

    /// The same file with another content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// The bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The file name sent in the part's `Content-Disposition`.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The part's `Content-Type`.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }
}

impl fmt::Debug for FilePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the bytes: they may be megabytes, or private.
        f.debug_struct("FilePart")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// A file travels as its own multipart part, not among the body's text members, so it
/// serializes to nothing (`null`, which the multipart encoder skips).
impl Serialize for FilePart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_none()
    }
}

/// The server stubs see a file part as its text; that (or nothing) becomes the bytes.
impl<'de> Deserialize<'de> for FilePart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        Ok(Self::new(
            text.unwrap_or_default().into_bytes(),
            String::new(),
            "application/octet-stream",
        ))
    }
}

/// The file parts a body member holds: one, none, or a list. Generated methods call it for
/// each `format: binary` member, whatever its optionality.
pub trait FileParts {
    /// Appends the parts to `out`.
    fn file_parts<'a>(&'a self, out: &mut Vec<&'a FilePart>);
}

impl FileParts for FilePart {
    fn file_parts<'a>(&'a self, out: &mut Vec<&'a FilePart>) {
        out.push(self);
    }
}

impl<T: FileParts> FileParts for Option<T> {
    fn file_parts<'a>(&'a self, out: &mut Vec<&'a FilePart>) {
        if let Some(inner) = self {
            inner.file_parts(out);
        }
    }
}

impl<T: FileParts> FileParts for crate::Nullable<T> {
    fn file_parts<'a>(&'a self, out: &mut Vec<&'a FilePart>) {
        if let crate::Nullable::Value(inner) = self {
            inner.file_parts(out);
        }
    }
}

impl<T: FileParts> FileParts for Vec<T> {
    fn file_parts<'a>(&'a self, out: &mut Vec<&'a FilePart>) {
        for inner in self {
            inner.file_parts(out);
        }
    }
}

impl<T: FileParts + ?Sized> FileParts for &T {
    fn file_parts<'a>(&'a self, out: &mut Vec<&'a FilePart>) {
        (**self).file_parts(out);
    }
}
