//! Streaming answers (`text/event-stream`) handed to the caller chunk by chunk.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

use crate::error::{Error, Result};

/// The body of an answer as it arrives, for `text/event-stream` operations. Nothing is buffered
/// beyond the chunk being handed out; dropping the stream closes the connection.
pub struct ByteStream {
    operation: &'static str,
    inner: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
}

impl ByteStream {
    // Only generated `text/event-stream` methods call this.
    #[allow(dead_code)]
    pub(crate) fn new(operation: &'static str, response: reqwest::Response) -> Self {
        Self {
            operation,
            inner: Box::pin(response.bytes_stream()),
        }
    }
}

impl std::fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteStream")
            .field("operation", &self.operation)
            .finish_non_exhaustive()
    }
}

impl Stream for ByteStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let operation = self.operation;
        self.inner
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(|chunk| chunk.map_err(|e| Error::transport(operation, e))))
    }
}
