//! Assembling the server: the tag modules' routes, PostHog-shaped 404 and 405 answers, the
//! 20 MB body limit, optional throttling, a 500 for panics, and serving on a socket.

use std::any::Any;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
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
}

impl Routes {
    /// No routes at all.
    pub fn empty() -> Self {
        Self {
            modules: BTreeMap::new(),
            extra: Vec::new(),
            limiter: None,
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
        RunningServer::start(self.into_router(), address).await
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
    /// Serves `router` on `address`.
    pub async fn start(router: Router, address: impl ToSocketAddrs) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let base_url = url::Url::parse(&format!("http://{address}"))
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    // A dropped sender stops the server as well.
                    let _ = stopped.await;
                })
                .await
        });
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
