//! Re-targeting a request at a pagination `next` link, only on the configured origin, with
//! the link's credentials stripped so `prepare` adds them afresh.

use super::*;

/// Query parameters that carry credentials; they are stripped from followed links (and added
/// afresh by `prepare`) and from every URL put in an error.
pub(super) const CREDENTIAL_PARAMS: &[&str] = &["personal_api_key", "token"];

/// A query as `Debug` shows it: each name with its value, the values of credential parameters
/// replaced by `[redacted]`.
pub(super) struct DebugQuery<'a, V>(pub(super) &'a [(String, V)]);

impl<V: std::fmt::Debug> std::fmt::Debug for DebugQuery<'_, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for (name, value) in self.0 {
            if CREDENTIAL_PARAMS.contains(&name.as_str()) {
                list.entry(&(name, format_args!("[redacted]")));
            } else {
                list.entry(&(name, value));
            }
        }
        list.finish()
    }
}

// Pagination support: re-targeting a request at a `next` link. Kept in this file because it
// needs the builder's fields, and kept apart so `prepare` only calls `target_url`.
impl RequestBuilder {
    /// The URL the request goes to before the query is appended: the pagination link when the
    /// request follows one, else the base URL joined with the path.
    pub(super) fn target_url(&self, base: &url::Url) -> url::Url {
        match &self.absolute {
            Some(absolute) => absolute.clone(),
            None => self.route_url(base),
        }
    }

    /// The base URL joined with the filled path template: where this operation lives, whatever
    /// link the request follows.
    fn route_url(&self, base: &url::Url) -> url::Url {
        let mut url = base.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{}", self.path));
        url
    }

    /// A copy of this request, aimed at the pagination link `next` when one is given. The link
    /// is taken as given, but only if it has the scheme, host and port of the operation's
    /// configured base URL, so a foreign link never receives credentials; credential query
    /// parameters and user info in it are dropped because `prepare` applies authentication
    /// afresh, exactly as for the first page.
    pub(crate) fn __follow(&self, next: Option<&str>) -> Result<RequestBuilder> {
        let (absolute, query) = match next {
            Some(next) => (Some(self.checked_link(next)?), Vec::new()),
            None => (self.absolute.clone(), self.query.clone()),
        };
        // Only `fail` sets `error`, always to `InvalidArgument`; the fallback arm keeps the
        // copy honest should that change.
        let error = self.error.as_ref().map(|error| match error {
            Error::InvalidArgument {
                operation,
                field,
                reason,
            } => Error::InvalidArgument {
                operation,
                field: field.clone(),
                reason: reason.clone(),
            },
            other => Error::InvalidArgument {
                operation: self.op.id,
                field: "request".into(),
                reason: other.to_string(),
            },
        });
        Ok(RequestBuilder {
            client: self.client.clone(),
            op: self.op,
            template: self.template.clone(),
            path: self.path.clone(),
            query,
            body: self.body.clone(),
            accept: self.accept,
            // Every page carries the first one's header and cookie parameters.
            headers: self.headers.clone(),
            cookies: self.cookies.clone(),
            content_type: self.content_type.clone(),
            not_modified_ok: false,
            error,
            absolute,
            gzip: self.gzip,
            keep_answer: false,
        })
    }

    /// Sets a query parameter, replacing any value it already has (in the builder's query or
    /// in a followed link): used for page size and resume positions.
    pub(crate) fn __replace_query<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Self {
        let mut request = self.without_query(name);
        request.push_query(name, value, true);
        request
    }

    /// Drops the query parameter `name` from the request (and from the link it follows).
    pub(crate) fn without_query(mut self, name: &'static str) -> Self {
        self.query.retain(|(key, _)| *key != name);
        if let Some(url) = &mut self.absolute {
            remove_query_params(url, &[name]);
        }
        self
    }

    /// The URL this request fetches, without credentials: for naming a page in errors.
    pub(crate) fn display_url(&self) -> String {
        let mut url = self.target_url(self.base());
        if !self.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(self.query.iter().map(|(k, v)| (k.as_ref(), v.as_str())));
        }
        without_credentials(&url).to_string()
    }

    pub(crate) fn operation(&self) -> &'static Operation {
        self.op
    }

    pub(super) fn base(&self) -> &url::Url {
        match self.op.host {
            HostKind::Private => &self.client.inner.hosts.private,
            HostKind::Public => &self.client.inner.hosts.public,
        }
    }

    /// `next` resolved against the page that named it, if it is a page of this same listing:
    /// the configured scheme, host and port, and exactly the operation's route (so neither
    /// another app under the same origin nor another PostHog route, e.g. the parent object,
    /// ever receives the request). Only the query may differ.
    pub(super) fn checked_link(&self, next: &str) -> Result<url::Url> {
        let base = self.base();
        let route = self.route_url(base);
        // `join` takes an absolute link as it is and resolves a relative one (and any dot
        // segments in it) against the page that carried it.
        let url = self
            .target_url(base)
            .join(next)
            .map_err(|error| Error::InvalidArgument {
                operation: self.op.id,
                field: "next".into(),
                reason: format!("the pagination link is not a URL: {error}"),
            })?;
        if url.origin() != base.origin() {
            return Err(Error::ForeignNextUrl {
                operation: self.op.id,
                origin: url.origin().ascii_serialization(),
                expected: base.origin().ascii_serialization(),
            });
        }
        if !same_path(&url, &route) {
            return Err(Error::ForeignNextUrl {
                operation: self.op.id,
                origin: format!("{}{}", url.origin().ascii_serialization(), url.path()),
                expected: format!("{}{}", route.origin().ascii_serialization(), route.path()),
            });
        }
        Ok(without_credentials(&url))
    }
}

/// Whether two URLs have the same path segments once percent-decoded, so that a link spelling
/// a character differently (`%40` for `@`) still counts as the same route, while `a%2Fb` stays
/// one segment and never matches `a/b`.
fn same_path(a: &url::Url, b: &url::Url) -> bool {
    let decoded = |url: &url::Url| -> Vec<Vec<u8>> {
        url.path()
            .split('/')
            .map(|segment| percent_encoding::percent_decode_str(segment).collect())
            .collect()
    };
    decoded(a) == decoded(b)
}

/// `url` without user info, fragment and credential query parameters. Other parameters keep
/// their exact encoding unless one had to be removed.
pub(crate) fn without_credentials(url: &url::Url) -> url::Url {
    let mut url = url.clone();
    // Both setters only fail on URLs that cannot have user info, which then has none to drop.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    remove_query_params(&mut url, CREDENTIAL_PARAMS);
    url
}

pub(super) fn remove_query_params(url: &mut url::Url, names: &[&str]) {
    if !url
        .query_pairs()
        .any(|(key, _)| names.contains(&key.as_ref()))
    {
        return;
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| !names.contains(&key.as_ref()))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
}

/// A link as text without user info, fragment and credential query parameters: for links
/// handed back to the caller (pages, resume URLs, errors). Absolute links go through
/// [`without_credentials`]; relative ones keep their path and lose only what carries secrets.
/// A link with nothing to strip is returned as it is.
pub(crate) fn link_without_credentials(link: &str) -> String {
    if let Ok(url) = url::Url::parse(link) {
        let stripped = without_credentials(&url);
        return if stripped == url {
            link.to_owned()
        } else {
            stripped.to_string()
        };
    }
    let link = link.split_once('#').map_or(link, |(before, _)| before);
    let Some((path, query)) = link.split_once('?') else {
        return link.to_owned();
    };
    let is_credential = |key: &str| CREDENTIAL_PARAMS.contains(&key);
    if !url::form_urlencoded::parse(query.as_bytes()).any(|(key, _)| is_credential(&key)) {
        return link.to_owned();
    }
    let kept = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            url::form_urlencoded::parse(query.as_bytes()).filter(|(key, _)| !is_credential(key)),
        )
        .finish();
    if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{kept}")
    }
}
