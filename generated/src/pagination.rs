//! Auto-pagination: PostHog's `{count, next, previous, results}` listings as async streams of
//! pages and of items, following `next` links with memory bounded to one page (two with
//! prefetch).
//!
//! Generated `*_pages` methods build the first request exactly like the plain method and hand
//! it to `Pages::new`; `*_stream` methods return [`Pages::items`]. For a listing the schema
//! lacks, [`crate::request::RawRequest::pages`] builds the same stream from the raw layer.
//!
//! ```no_run
//! # use futures::TryStreamExt as _;
//! # async fn run(pages: posthog_api::pagination::Pages<serde_json::Value>) -> posthog_api::Result<()> {
//! let mut items = pages.page_size(500).prefetch(true).items();
//! while let Some(item) = items.try_next().await? {
//!     println!("{item}");
//! }
//! # Ok(()) }
//! ```
//!
//! Architecture invariant: a `next` link is followed only when it has the scheme, host and port
//! of the configured base URL and exactly the listing's path (only its query may differ), and
//! every page is authenticated afresh by the same pipeline as the first one (see
//! `RequestBuilder::__follow`).
//!
//! Architecture invariant: no link handed back (a page's `next`/`previous`, its `Debug` and
//! `Serialize`, [`Pages::resume_url`], errors) carries credentials, and a listing never fetches
//! the same page twice: a `next` link back to a page already fetched ends the stream with
//! [`Error::PaginationLoop`].

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher as _, Hash as _, Hasher as _, RandomState};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::future::{FutureExt as _, RemoteHandle};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::request::{RequestBuilder, link_without_credentials};

/// How an operation pages through its results, which decides how a listing is resumed.
///
/// Every style follows `next` links as they come, whatever position they carry; the style
/// only decides which saved positions [`Pages::offset`] and [`Pages::cursor`] accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaginationStyle {
    /// `limit` and `offset` query parameters; pages carry `count`.
    LimitOffset,
    /// An opaque `cursor` query parameter; pages carry no `count`.
    Cursor,
    /// A listing that takes both an `offset` and a `cursor` (its `next` links may carry
    /// either): it resumes from a saved offset or a saved cursor.
    OffsetOrCursor,
    /// A listing numbered by a `page` parameter (PostHog's activity logs): it resumes only from
    /// a saved link ([`Pages::resume_from`]).
    PageNumber,
}

impl PaginationStyle {
    /// Whether the listing takes an `offset` to resume from.
    pub fn takes_offset(self) -> bool {
        matches!(self, Self::LimitOffset | Self::OffsetOrCursor)
    }

    /// Whether the listing takes a `cursor` to resume from.
    pub fn takes_cursor(self) -> bool {
        matches!(self, Self::Cursor | Self::OffsetOrCursor)
    }
}

/// One page of a listing, as PostHog sends it. Members other than these four are ignored.
///
/// A server that builds links from the request's query string echoes a query-placed key into
/// `next` and `previous`; pages fetched by [`Pages`] have such credentials stripped, and `Debug`
/// and `Serialize` strip them from any page.
#[derive(Clone, PartialEq, Deserialize)]
pub struct Page<T> {
    /// Total number of results, on limit/offset listings; cursor listings have none.
    #[serde(default)]
    pub count: Option<u64>,
    /// Absolute URL of the next page, or `None` on the last page. Save it to resume later
    /// with [`Pages::resume_from`].
    #[serde(default)]
    pub next: Option<String>,
    /// Absolute URL of the previous page.
    #[serde(default)]
    pub previous: Option<String>,
    /// The items of this page, in the server's order.
    pub results: Vec<T>,
}

impl<T: fmt::Debug> fmt::Debug for Page<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let link = |link: &Option<String>| link.as_deref().map(link_without_credentials);
        f.debug_struct("Page")
            .field("count", &self.count)
            .field("next", &link(&self.next))
            .field("previous", &link(&self.previous))
            .field("results", &self.results)
            .finish()
    }
}

impl<T: Serialize> Serialize for Page<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let link = |link: &Option<String>| link.as_deref().map(link_without_credentials);
        let mut page = serializer.serialize_struct("Page", 4)?;
        page.serialize_field("count", &self.count)?;
        page.serialize_field("next", &link(&self.next))?;
        page.serialize_field("previous", &link(&self.previous))?;
        page.serialize_field("results", &self.results)?;
        page.end()
    }
}

impl<T> Page<T> {
    /// The `cursor` query parameter of the next page, to resume with [`Pages::cursor`].
    pub fn next_cursor(&self) -> Option<String> {
        self.next_param("cursor")
    }

    /// The `offset` query parameter of the next page, to resume with [`Pages::offset`].
    pub fn next_offset(&self) -> Option<u64> {
        self.next_param("offset")?.parse().ok()
    }

    fn next_param(&self, name: &str) -> Option<String> {
        let next = self.next.as_deref()?;
        // A relative link is resolved against a placeholder: only its query matters here.
        let url = url::Url::parse("http://placeholder.invalid/")
            .ok()?
            .join(next)
            .ok()?;
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

/// A page fetch under way: polled in place, or running as its own task while the previous page
/// is consumed (prefetch). Dropping either cancels the fetch.
enum InFlight<T> {
    Local(Pin<Box<dyn Future<Output = Result<Page<T>>> + Send>>),
    Spawned(RemoteHandle<Result<Page<T>>>),
}

/// How the first page differs from the request the generated method built.
#[derive(Debug, Default)]
struct FirstPage {
    resume_from: Option<String>,
    page_size: Option<u32>,
    offset: Option<u64>,
    cursor: Option<String>,
}

/// What to fetch next.
enum Target {
    First,
    Link(String),
}

/// A stream of the pages of a listing, following `next` until it is null.
///
/// At most one page is held at a time, two when [`prefetch`](Self::prefetch) is on; dropping
/// the stream cancels any fetch under way. A page that was requested and failed (transport,
/// status, decoding) ends the stream with an [`Error::Page`] that names the page's URL;
/// [`resume_url`](Self::resume_url) (or that URL) fed to [`resume_from`](Self::resume_from)
/// continues exactly where the listing stopped, without repeating or skipping items.
///
/// A `next` link the client refuses to follow ends the stream with the bare
/// [`Error::ForeignNextUrl`] or [`Error::PaginationLoop`] instead (and an unparseable one with
/// [`Error::InvalidArgument`] for `next`), on purpose: no page was requested, resuming from that
/// link would only be refused again, and a foreign link's query (which may hold data) is not
/// repeated in an error. [`resume_url`](Self::resume_url) then names the refused link without
/// credentials, or nothing after a loop. Retries of a failing page follow the client's
/// [`RetryPolicy`](crate::retry::RetryPolicy) and happen before anything of the page is
/// yielded.
pub struct Pages<T> {
    template: RequestBuilder,
    style: PaginationStyle,
    prefetch: bool,
    /// Settings for the first page, applied when it is requested so their order does not matter.
    first: FirstPage,
    /// An error to yield before fetching anything (a setting that does not fit the operation).
    setup_error: Option<Error>,
    /// The page to fetch once the one in flight (if any) is consumed; `None` after the last.
    pending: Option<Target>,
    in_flight: Option<(String, InFlight<T>)>,
    /// URL of the page that failed, kept for [`Self::resume_url`].
    failed: Option<String>,
    /// Hashes of the pages requested so far (normalized URLs): 8 bytes a page, so even a very
    /// long listing costs little, while any repeat is caught.
    visited: HashSet<u64>,
    /// Keyed per listing, so a server cannot aim collisions at it.
    hasher: RandomState,
    done: bool,
}

// Nothing in `Pages` is ever pinned in place: futures are boxed or live in their own task.
impl<T> Unpin for Pages<T> {}

impl<T> fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("operation", &self.template.operation().id)
            .field("style", &self.style)
            .field("prefetch", &self.prefetch)
            .field("fetching", &self.in_flight.as_ref().map(|(url, _)| url))
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> Pages<T> {
    /// The pages of the listing whose first page `request` asks for. Called by generated code;
    /// callers build pages of any listing with [`crate::request::RawRequest::pages`].
    pub(crate) fn new(request: RequestBuilder, style: PaginationStyle) -> Self {
        Self {
            template: request,
            style,
            prefetch: false,
            first: FirstPage::default(),
            setup_error: None,
            pending: Some(Target::First),
            in_flight: None,
            failed: None,
            visited: HashSet::new(),
            hasher: RandomState::new(),
            done: false,
        }
    }

    /// Asks for `size` items per page (the `limit` parameter) on the first page; PostHog carries
    /// it into its `next` links.
    pub fn page_size(mut self, size: u32) -> Self {
        if size == 0 {
            self.set_up_failed("limit", "a page holds at least one item");
        }
        self.first.page_size = Some(size);
        self
    }

    /// Starts at `offset` (limit/offset listings), e.g. a saved [`Page::next_offset`].
    pub fn offset(mut self, offset: u64) -> Self {
        if !self.style.takes_offset() {
            self.set_up_failed("offset", "this operation does not page by offset");
        } else if self.first.cursor.is_some() {
            self.set_up_failed(
                "offset",
                "a listing starts at an offset or a cursor, not both",
            );
        }
        self.first.offset = Some(offset);
        self
    }

    /// Starts at `cursor` (cursor listings), e.g. a saved [`Page::next_cursor`].
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        if !self.style.takes_cursor() {
            self.set_up_failed("cursor", "this operation does not page by cursor");
        } else if self.first.offset.is_some() {
            self.set_up_failed(
                "cursor",
                "a listing starts at an offset or a cursor, not both",
            );
        }
        self.first.cursor = Some(cursor.into());
        self
    }

    /// Starts at a saved `next` link ([`Page::next`], [`Pages::resume_url`] or the `url` of an
    /// [`Error::Page`]), taken as given like any `next` link, and so refused when it points to
    /// another host or another route than this listing's. Credentials are applied afresh, so a
    /// link without them (as every link the client hands back is) works.
    /// [`page_size`](Self::page_size) replaces its `limit`.
    pub fn resume_from(mut self, next: impl Into<String>) -> Self {
        self.first.resume_from = Some(next.into());
        self
    }

    /// Fetches the next page while the current one is consumed: two pages held at most.
    /// Needs a Tokio runtime to run the fetch on; without one, pages are fetched in turn.
    pub fn prefetch(mut self, prefetch: bool) -> Self {
        self.prefetch = prefetch;
        self
    }

    /// The items of every page, in order.
    pub fn items(self) -> Items<T> {
        Items {
            pages: self,
            buffer: Vec::new().into_iter(),
        }
    }

    /// Collects at most `max` items, fetching no page beyond the one that reaches `max`
    /// (without prefetch). Use [`Page::count`] on the pages stream to learn the total.
    pub async fn collect_at_most(self, max: usize) -> Result<Vec<T>> {
        self.items().collect_at_most(max).await
    }

    /// Where this listing would continue: the URL of the page in flight, failed, or next to
    /// fetch (without credentials); `None` once the last page has been yielded.
    pub fn resume_url(&self) -> Option<String> {
        if let Some(url) = &self.failed {
            return Some(url.clone());
        }
        if let Some((url, _)) = &self.in_flight {
            return Some(url.clone());
        }
        match self.pending.as_ref()? {
            Target::First => match self.first_request() {
                Ok(request) => Some(request.display_url()),
                Err(_) => self
                    .first
                    .resume_from
                    .as_deref()
                    .map(link_without_credentials),
            },
            Target::Link(link) => Some(link_without_credentials(link)),
        }
    }

    /// The first page's request: the generated one, or the saved link, with the settings.
    fn first_request(&self) -> Result<RequestBuilder> {
        let mut request = self.template.__follow(self.first.resume_from.as_deref())?;
        if let Some(size) = self.first.page_size {
            request = request.__replace_query("limit", &size);
        }
        // One position at a time: on a listing that takes both, a saved one replaces whichever
        // the request or link carried, so the server never sees two that disagree.
        if let Some(offset) = self.first.offset {
            request = request
                .without_query("cursor")
                .__replace_query("offset", &offset);
        }
        if let Some(cursor) = &self.first.cursor {
            request = request
                .without_query("offset")
                .__replace_query("cursor", cursor);
        }
        Ok(request)
    }

    fn set_up_failed(&mut self, field: &str, reason: &str) {
        if self.setup_error.is_none() {
            self.setup_error = Some(Error::InvalidArgument {
                operation: self.template.operation().id,
                field: field.to_owned(),
                reason: reason.to_owned(),
            });
        }
    }

    /// Starts fetching `target`, on its own task when prefetching.
    fn start(&mut self, target: Target, spawn: bool) -> Result<()> {
        let request = match &target {
            Target::First => self.first_request()?,
            Target::Link(link) => self.template.__follow(Some(link))?,
        };
        let url = request.display_url();
        if !self.visited.insert(self.page_hash(&url)) {
            return Err(Error::PaginationLoop {
                operation: self.template.operation().id,
                url,
            });
        }
        let fetch = fetch_page::<T>(request, url.clone()).boxed();
        let in_flight = match tokio::runtime::Handle::try_current() {
            Ok(runtime) if spawn => {
                let (remote, handle) = fetch.remote_handle();
                runtime.spawn(remote);
                InFlight::Spawned(handle)
            }
            _ => InFlight::Local(fetch),
        };
        self.in_flight = Some((url, in_flight));
        Ok(())
    }

    /// The hash of a page's URL (already without credentials) with its query parameters in a
    /// fixed order, so that a link listing them in another order is the same page.
    fn page_hash(&self, url: &str) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        match url::Url::parse(url) {
            Ok(url) => {
                let mut pairs: Vec<_> = url.query_pairs().collect();
                pairs.sort();
                (url.origin().ascii_serialization(), url.path(), pairs).hash(&mut hasher);
            }
            Err(_) => url.hash(&mut hasher),
        }
        hasher.finish()
    }

    /// Ends the stream with `error`; `url` (stripped of credentials) is where to resume, except
    /// after a loop, where resuming would only loop again.
    fn fail(&mut self, error: Error, url: Option<String>) -> Poll<Option<Result<Page<T>>>> {
        self.done = true;
        self.failed = match error {
            Error::PaginationLoop { .. } => None,
            _ => url.as_deref().map(link_without_credentials),
        };
        Poll::Ready(Some(Err(error)))
    }
}

impl<T: DeserializeOwned + Send + 'static> Stream for Pages<T> {
    type Item = Result<Page<T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(error) = this.setup_error.take() {
            let url = this.resume_url();
            return this.fail(error, url);
        }
        if this.in_flight.is_none() {
            let Some(target) = this.pending.take() else {
                this.done = true;
                return Poll::Ready(None);
            };
            let link = match &target {
                Target::Link(link) => Some(link.clone()),
                Target::First => this.first.resume_from.clone(),
            };
            if let Err(error) = this.start(target, false) {
                return this.fail(error, link);
            }
        }
        let Some((url, in_flight)) = this.in_flight.as_mut() else {
            return Poll::Ready(None);
        };
        let result = match in_flight {
            InFlight::Local(fetch) => fetch.as_mut().poll(cx),
            InFlight::Spawned(handle) => handle.poll_unpin(cx),
        };
        let Poll::Ready(result) = result else {
            return Poll::Pending;
        };
        let url = std::mem::take(url);
        this.in_flight = None;
        match result {
            Ok(page) => {
                this.pending = page
                    .next
                    .clone()
                    .filter(|next| !next.is_empty())
                    .map(Target::Link);
                if this.prefetch
                    && let Some(Target::Link(link)) = this.pending.take()
                    && let Err(error) = this.start(Target::Link(link.clone()), true)
                {
                    // The link is bad; report it after this page, as fetching it would.
                    this.setup_error = Some(error);
                    this.pending = Some(Target::Link(link));
                }
                Poll::Ready(Some(Ok(page)))
            }
            Err(error) => this.fail(error, Some(url)),
        }
    }
}

/// Fetches and decodes one page; every failure is an [`Error::Page`] naming `url`. The page's
/// links lose any credentials the server echoed into them.
async fn fetch_page<T: DeserializeOwned>(request: RequestBuilder, url: String) -> Result<Page<T>> {
    let decoded = match request.send().await {
        // The fast decoder runs first; only a failure is decoded again with path tracking,
        // so the error names where in the body it happened at no cost to the common case.
        Ok(answer) => serde_json::from_slice::<Page<T>>(&answer.body)
            .or_else(|_| answer.decode_json::<Page<T>>()),
        Err(error) => Err(error),
    };
    match decoded {
        Ok(mut page) => {
            for link in [&mut page.next, &mut page.previous].into_iter().flatten() {
                *link = link_without_credentials(link);
            }
            Ok(page)
        }
        Err(source) => Err(Error::Page {
            url,
            source: Box::new(source),
        }),
    }
}

/// A stream of the items of a listing, page after page. See [`Pages`] for memory, errors and
/// resuming; an error comes after every item of the pages before the failed one.
pub struct Items<T> {
    pages: Pages<T>,
    buffer: std::vec::IntoIter<T>,
}

// Nothing in `Items` is ever pinned in place.
impl<T> Unpin for Items<T> {}

impl<T> fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items")
            .field("pages", &self.pages)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}

impl<T: DeserializeOwned + Send + 'static> Items<T> {
    /// Collects at most `max` items, fetching no page beyond the one that reaches `max`
    /// (without prefetch).
    pub async fn collect_at_most(mut self, max: usize) -> Result<Vec<T>> {
        use futures::StreamExt as _;
        let mut items = Vec::new();
        while items.len() < max {
            match self.next().await {
                Some(Ok(item)) => items.push(item),
                Some(Err(error)) => return Err(error),
                None => break,
            }
        }
        Ok(items)
    }
}

impl<T: DeserializeOwned + Send + 'static> Stream for Items<T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.buffer.next() {
                return Poll::Ready(Some(Ok(item)));
            }
            match Pin::new(&mut this.pages).poll_next(cx) {
                Poll::Ready(Some(Ok(page))) => this.buffer = page.results.into_iter(),
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.buffer.len(), None)
    }
}
