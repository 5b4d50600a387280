//! Assembling the server: the tag modules' routes, PostHog-shaped 404 and 405 answers, the
//! 20 MB body limit, optional throttling, a 500 for panics, and serving on a socket with a
//! header read timeout.

use std::any::Any;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;

use crate::client::MAX_BODY_BYTES;
use crate::server::{ServerError, ServerRateLimiter};

/// The routes of a server, one router per tag module. Start from [`Routes::new`] (every
/// operation answering 501) and give the tags you implement a service with the method named
/// after the tag module (`.feature_flags(service)`).
#[derive(Debug)]
pub struct Routes {
    modules: BTreeMap<&'static str, Router>,
    extra: Vec<Router>,
    limiter: Option<ServerRateLimiter>,
    header_read_timeout: Duration,
}

/// How long a connection may take to send a request's headers (also the longest an idle
/// keep-alive connection stays open) before it is closed: hyper's own default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

impl Routes {
    /// No routes at all.
    pub fn empty() -> Self {
        Self {
            modules: BTreeMap::new(),
            extra: Vec::new(),
            limiter: None,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }

    /// Replaces the routes of tag module `module`.
    pub fn mount(mut self, module: &'static str, router: Router) -> Self {
        self.modules.insert(module, router);
        self
    }

    /// Adds routes the schema does not describe; they get the same body limit, throttling
    /// extension, 404/405 answers and panic handling.
    pub fn merge(mut self, router: Router) -> Self {
        self.extra.push(router);
        self
    }

    /// Applies PostHog's throttle scopes per personal API key, answering 429.
    pub fn rate_limit(mut self, limiter: ServerRateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Closes connections that do not finish sending a request's headers within `timeout`
    /// ([`DEFAULT_HEADER_READ_TIMEOUT`] unless set), so slow or stalled clients cannot hold
    /// connections open. Applies to [`Routes::serve`].
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// The axum router.
    pub fn into_router(self) -> Router {
        let mut router = Router::new();
        for module in self.modules.into_values() {
            router = router.merge(module);
        }
        for extra in self.extra {
            router = router.merge(extra);
        }
        router = router
            .fallback(|| async { ServerError::not_found() })
            .method_not_allowed_fallback(|method: http::Method| async move {
                ServerError::method_not_allowed(&method)
            });
        if let Some(limiter) = self.limiter {
            router = router.layer(axum::Extension(limiter));
        }
        router
            // The multipart reader obeys this limit; JSON bodies are limited while read.
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(CatchPanicLayer::custom(panic_response))
    }

    /// Serves the routes on `address` (e.g. `127.0.0.1:0` for a free port) until the returned
    /// handle is shut down or dropped.
    pub async fn serve(self, address: impl ToSocketAddrs) -> std::io::Result<RunningServer> {
        let timeout = self.header_read_timeout;
        RunningServer::start_with_header_read_timeout(self.into_router(), address, timeout).await
    }
}

/// A panicking handler answers 500 in PostHog's format; the panic message stays in the log.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("");
    tracing::error!(message, "a server handler panicked");
    ServerError::internal().into_response()
}

/// A server running on a background task.
#[derive(Debug)]
pub struct RunningServer {
    address: SocketAddr,
    base_url: url::Url,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Serves `router` on `address`, closing connections that take longer than
    /// [`DEFAULT_HEADER_READ_TIMEOUT`] to send a request's headers.
    pub async fn start(router: Router, address: impl ToSocketAddrs) -> std::io::Result<Self> {
        Self::start_with_header_read_timeout(router, address, DEFAULT_HEADER_READ_TIMEOUT).await
    }

    /// Serves `router` on `address`, closing connections that take longer than `timeout` to
    /// send a request's headers.
    pub async fn start_with_header_read_timeout(
        router: Router,
        address: impl ToSocketAddrs,
        timeout: Duration,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let base_url = url::Url::parse(&format!("http://{address}"))
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(accept_loop(listener, router, timeout, stopped));
        Ok(Self {
            address,
            base_url,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// The socket address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:<port>`, for [`crate::Region::SelfHosted`].
    pub fn base_url(&self) -> &url::Url {
        &self.base_url
    }

    /// Stops accepting connections and waits for open requests to finish.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Accepts connections until `stopped` fires (or its sender is dropped), then waits for open
/// requests to finish. This is what `axum::serve` does, plus a timer, without which hyper applies
/// no header read timeout at all, and minus HTTP/2 detection (see below).
async fn accept_loop(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    mut stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    // HTTP/1 only: the automatic version detection waits for a client's first 24 bytes without
    // any timeout, so a client that connects and sends nothing (or half the HTTP/2 preface) held
    // its connection forever; plain-text HTTP/2 (h2c) clients are not served.
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::debug!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::trace!(%error, "a connection ended with an error");
            }
        });
    }
    graceful.shutdown().await;
    Ok(())
}
