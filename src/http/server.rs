//! Serving HTTP with limits a hostile client cannot outlast: a header-read timeout, a cap on
//! open connections, and a shutdown whose connection drain is bounded by the grace period.
//! (axum::serve has none of these knobs; this is its loop with them, on hyper-util.)

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::Router;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::watchdog::{Watch, watchdog};
use crate::telemetry::LogBudget;

/// How much a client may hold of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From a connection's first byte (or its previous response) to the end of the headers.
    pub header_read: Duration,
    /// Open connections at once; more are closed as they arrive.
    pub max_connections: usize,
    /// From a request's headers to its answer (a slow body, a stuck handler); then `408`.
    pub request: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            max_connections: 1024,
            request: Duration::from_secs(20),
        }
    }
}

/// The router, with each request's handling told to the connection's [`Watch`]; a request
/// the watchdog flags as over its time (a slow body, a stuck handler) is answered `408`.
/// Here rather than as an axum middleware, which would box and clone the route on every request.
fn watched<S>(
    watch: Arc<Watch>,
    service: S,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send,
> + Clone
where
    S: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible> + Clone,
    S::Future: Send,
{
    hyper::service::service_fn(move |request| {
        watch.handling();
        let answer = service.call(request);
        let watch = Arc::clone(&watch);
        async move {
            tokio::pin!(answer);
            std::future::poll_fn(|cx| {
                if watch.take_expired() {
                    tracing::warn!("a request took longer than its time limit; answered 408");
                    watch.answered();
                    return Poll::Ready(Ok(StatusCode::REQUEST_TIMEOUT.into_response()));
                }
                let answered = answer.as_mut().poll(cx);
                if answered.is_ready() {
                    watch.answered();
                }
                answered
            })
            .await
        }
    })
}

/// Serves `router` until `shutdown` completes, then stops accepting and lets open connections
/// finish for at most `drain`; any still open then are dropped.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let refused_log = LogBudget::new(5, Duration::from_secs(60));
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            if let Some(suppressed) = refused_log.admit() {
                tracing::warn!(
                    limit = limits.max_connections,
                    suppressed,
                    "too many open connections; closed a new one"
                );
            }
            continue;
        };
        let watch = Watch::new();
        // Both time limits are the watchdog's (one timer per connection), not hyper's.
        let connection = http1::Builder::new()
            .header_read_timeout(None)
            .serve_connection(
                TokioIo::new(stream),
                watched(Arc::clone(&watch), TowerToHyperService::new(router.clone())),
            );
        let connection = graceful.watch(connection);
        let watchdog = watchdog(watch, limits.header_read, limits.request);
        tokio::spawn(async move {
            tokio::select! {
                biased;
                // Headers too late: the connection is dropped, and so closed.
                () = watchdog => {}
                _ = connection => {}
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open when the grace period ended were closed");
    }
}
