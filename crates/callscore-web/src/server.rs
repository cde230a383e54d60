//! The accept loop: how many connections, for how long, and how the server stops.
//!
//! `axum::serve` sets no timeouts and no cap, so a client that opens connections and sends
//! half a request (or nothing) holds a file descriptor each until the process runs out, before
//! any login. Here each connection is served by hyper's HTTP/1 builder with its own timer:
//!
//! - `header_read_timeout`: the whole request head must arrive within [`Limits::header_timeout`].
//!   hyper starts that timer whenever it waits for a head, so it is also the idle timeout of a
//!   keep-alive connection between requests.
//! - tower-http's `TimeoutLayer`: the request body and the handler must be done within
//!   [`Limits::request_timeout`] (a half-sent form gets 408 and its connection is closed).
//! - a semaphore caps open connections at [`Limits::max_connections`]; at the cap the loop stops
//!   accepting, so new clients wait in the kernel's backlog (served in arrival order as slots
//!   free up) instead of the process hitting its descriptor limit.
//! - on shutdown the listener closes, every connection is asked to finish (idle ones close at
//!   once), and whatever is still open after [`Limits::shutdown_grace`] is dropped.
//!
//! Responses are not given a write timeout: before login every answer is a small page that fits
//! in the socket's buffer, so only an authenticated client can stall one (by not reading a
//! recording), and the connection cap bounds what that costs.

use crate::WebError;
use axum::http::StatusCode;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower_http::timeout::TimeoutLayer;

/// Timeouts and caps of the review server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// A request's head must arrive within this; also how long an idle keep-alive connection
    /// stays open.
    pub header_timeout: Duration,
    /// The request's body and its handling must be done within this (else 408).
    pub request_timeout: Duration,
    /// Connections open at once; further clients wait to be accepted.
    pub max_connections: usize,
    /// After the shutdown signal, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            // Well under the usual 1024 descriptors a process may open, leaving room for the
            // database connections and recordings being served.
            max_connections: 256,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` resolves; see the module docs.
pub async fn serve_with_limits(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    let app = app.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        limits.request_timeout,
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Finished connections' results are not needed; reaping them keeps the set small.
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    if !is_per_connection(&e) {
                        // Out of descriptors or memory: wait for some to be freed rather than
                        // spin or stop serving.
                        tracing::warn!("review pages on {addr}: cannot accept a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(app.clone());
        let http = http.clone();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let _slot = slot;
            let conn = http.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                // Timeouts and clients going away are routine; they are not worth a warning
                // (and a flood of them must not flood the log).
                tracing::debug!("connection from {peer}: {e}");
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "review pages on {addr}: closed {} connection(s) still open {} s after the stop signal",
            connections.len(),
            limits.shutdown_grace.as_secs()
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Accept errors about one connection (it was reset before we took it), as opposed to the
/// process running out of something.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}
