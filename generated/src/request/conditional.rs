//! Conditional requests: methods whose schema declares `If-None-Match` / `If-Modified-Since`
//! (or a `304` answer) return [`Conditional`], so `304 Not Modified` is an outcome to match
//! rather than an error, and the validators to send next time come with every answer.

use super::*;

/// The answer to a request that may be answered `304 Not Modified`.
///
/// ```no_run
/// # use posthog_api::request::Conditional;
/// # fn show(answer: Conditional<String>, cached: &mut Option<(String, String)>) {
/// match answer {
///     Conditional::Modified { value, validators } => {
///         // Keep the value with its ETag, and send it as `If-None-Match` next time.
///         if let Some(etag) = validators.etag {
///             *cached = Some((etag, value));
///         }
///     }
///     Conditional::NotModified { .. } => { /* the cached value is still current */ }
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Conditional<T> {
    /// A success answer: the value, and the validators it came with.
    Modified {
        /// The decoded answer.
        value: T,
        /// Its `ETag` and `Last-Modified`.
        validators: Validators,
    },
    /// `304 Not Modified`: what the request's `If-None-Match` / `If-Modified-Since` named is
    /// still current.
    NotModified {
        /// The `ETag` and `Last-Modified` the 304 repeated, when it did.
        validators: Validators,
    },
}

/// The validators of an answer, to send back as `If-None-Match` / `If-Modified-Since`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` header, exactly as sent (quotes and `W/` included).
    pub etag: Option<String>,
    /// The `Last-Modified` header (an HTTP date).
    pub last_modified: Option<String>,
}

impl Validators {
    fn from_headers(headers: &http::HeaderMap) -> Self {
        let read = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            etag: read(header::ETAG),
            last_modified: read(header::LAST_MODIFIED),
        }
    }
}

impl<T> Conditional<T> {
    /// The validators of the answer, 200 or 304.
    pub fn validators(&self) -> &Validators {
        match self {
            Conditional::Modified { validators, .. } | Conditional::NotModified { validators } => {
                validators
            }
        }
    }

    /// The answer's `ETag`.
    pub fn etag(&self) -> Option<&str> {
        self.validators().etag.as_deref()
    }

    /// The answer's `Last-Modified`.
    pub fn last_modified(&self) -> Option<&str> {
        self.validators().last_modified.as_deref()
    }

    /// Whether the answer was `304 Not Modified`.
    pub fn is_not_modified(&self) -> bool {
        matches!(self, Conditional::NotModified { .. })
    }

    /// The value, unless the answer was `304 Not Modified`.
    pub fn value(&self) -> Option<&T> {
        match self {
            Conditional::Modified { value, .. } => Some(value),
            Conditional::NotModified { .. } => None,
        }
    }

    /// The value, unless the answer was `304 Not Modified`.
    pub fn into_value(self) -> Option<T> {
        match self {
            Conditional::Modified { value, .. } => Some(value),
            Conditional::NotModified { .. } => None,
        }
    }
}

impl RequestBuilder {
    /// Sends the request, taking a 304 as [`Conditional::NotModified`] and decoding any other
    /// success answer with `decode`.
    async fn send_conditional<T>(
        mut self,
        decode: fn(&Answer) -> Result<T>,
    ) -> Result<Conditional<T>> {
        self.not_modified_ok = true;
        let reader = self.reader();
        let response = self.send_raw().await?;
        let validators = Validators::from_headers(response.headers());
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(Conditional::NotModified { validators });
        }
        let answer = reader.read(response).await?;
        Ok(Conditional::Modified {
            value: decode(&answer)?,
            validators,
        })
    }

    /// [`Self::send_json`] for conditional requests.
    pub async fn send_conditional_json<T: DeserializeOwned>(self) -> Result<Conditional<T>> {
        self.send_conditional(Answer::decode_json::<T>).await
    }

    /// [`Self::send_value`] for conditional requests.
    // Only generated code of schemas that declare this calls it (PostHog's declares none).
    #[allow(dead_code)]
    pub async fn send_conditional_value(self) -> Result<Conditional<serde_json::Value>> {
        self.send_conditional(Answer::value).await
    }

    /// [`Self::send_text`] for conditional requests.
    // Only generated code of schemas that declare this calls it (PostHog's declares none).
    #[allow(dead_code)]
    pub async fn send_conditional_text(self) -> Result<Conditional<String>> {
        self.send_conditional(Answer::text).await
    }

    /// [`Self::send_bytes`] for conditional requests.
    // Only generated code of schemas that declare this calls it (PostHog's declares none).
    #[allow(dead_code)]
    pub async fn send_conditional_bytes(self) -> Result<Conditional<Bytes>> {
        self.send_conditional(|answer| Ok(answer.body.clone()))
            .await
    }

    /// [`Self::send_empty`] for conditional requests.
    // Only generated code of schemas that declare this calls it (PostHog's declares none).
    #[allow(dead_code)]
    pub async fn send_conditional_empty(self) -> Result<Conditional<()>> {
        self.send_conditional(|_| Ok(())).await
    }
}
