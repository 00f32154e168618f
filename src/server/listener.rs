//! The accept loop. Written on hyper-util instead of `axum::serve` because
//! shutdown needs a hard stop: `axum::serve` spawns connection tasks it cannot
//! abort, so a stream still running after the grace period would outlive the
//! server. Here every connection is a task in a `JoinSet` that is aborted when
//! the grace period ends.
//!
//! Hostile clients: a connection takes a permit of `max_connections` before it
//! is accepted, so at the cap the listener stops accepting (the kernel holds
//! the backlog) instead of running out of file descriptors; headers must
//! arrive within `header_read_timeout` of the connection waiting for them
//! (slowloris, idle keep-alive); HTTP/2 streams and header lists are bounded.
//! Accept errors (out of descriptors) back off and are logged once a second.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;

/// Logs at most once a second.
struct Throttle(Option<Instant>);

impl Throttle {
    fn ready(&mut self) -> bool {
        let now = Instant::now();
        let ready = self
            .0
            .is_none_or(|last| now.duration_since(last) >= Duration::from_secs(1));
        if ready {
            self.0 = Some(now);
        }
        ready
    }
}

/// Whether the client sends the first bytes of a request (enough to tell
/// HTTP/1 from HTTP/2) within `limit`.
async fn speaks_within(stream: &tokio::net::TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 3];
    loop {
        match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(n)) if n >= buf.len() => return true,
            // Closed by the client, or an error.
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return false,
            // A byte or two so far: wait for more.
            Ok(Ok(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

fn builder(config: &ServerConfig) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout())
        // hyper's own limit stays above the gateway's, which answers 431 in
        // OpenAI's error shape (server.rs); only larger heads meet hyper's.
        .max_buf_size((config.max_header_bytes * 2).max(64 * 1024));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(config.http2_max_streams)
        .max_header_list_size(u32::try_from(config.max_header_bytes * 2).unwrap_or(u32::MAX))
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// Serves `app` until `shutdown`; then stops accepting, lets open connections
/// finish their in-flight requests for up to `grace`, and aborts the rest.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    config: &ServerConfig,
) {
    let builder = builder(config);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let mut permit: Option<OwnedSemaphorePermit> = None;
    let (mut at_cap, mut failing) = (Throttle(None), Throttle(None));
    loop {
        let Some(held) = permit.take() else {
            if permits.available_permits() == 0 && at_cap.ready() {
                tracing::warn!(
                    max_connections = config.max_connections,
                    "connection cap reached: not accepting until a connection closes"
                );
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                next = Arc::clone(&permits).acquire_owned() => permit = next.ok(),
            }
            continue;
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => permit = Some(held),
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Nagle would hold back small SSE chunks.
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(app.clone());
                    let (builder, watcher) = (builder.clone(), graceful.watcher());
                    let first_bytes = config.header_read_timeout();
                    connections.spawn(async move {
                        let _held = held;
                        // hyper's timer starts once it knows the protocol,
                        // which takes the first bytes: a silent client is
                        // closed here.
                        if !speaks_within(&stream, first_bytes).await {
                            return;
                        }
                        let connection = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service);
                        if let Err(e) = watcher.watch(connection).await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    if failing.ready() {
                        tracing::warn!(error = %e, "accept failed; backing off");
                    }
                    permit = Some(held);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let grace = config.shutdown_grace();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                open = connections.len(),
                "grace period over: closing remaining connections"
            );
            connections.abort_all();
        }
    }
    while connections.join_next().await.is_some() {}
}
