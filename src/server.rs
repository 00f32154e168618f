//! The HTTP server: the router with its cross-cutting layers (request id,
//! panic catch, access log), the health and metrics routes, and the node's
//! life from start to graceful shutdown.

mod listener;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::config::Config;
use crate::error::GatewayError;
use crate::gateway::ConfigSource;
use crate::gateway::{Gateway, RunError};
use crate::{access, admin, node, pipeline};

/// The router with every route and the cross-cutting layers.
pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(pipeline::chat_completions))
        .route("/v1/completions", post(pipeline::completions))
        .route("/v1/responses", post(pipeline::responses))
        .route("/v1/embeddings", post(pipeline::embeddings))
        .route("/v1/models", get(pipeline::models))
        .route("/v1/models/{id}", get(pipeline::model))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(admin::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(|_| {
            GatewayError::Internal.into_response()
        }))
        // JSON answers compressed when the client accepts it; never SSE
        // (the default predicate skips event streams and tiny bodies).
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(
            gw.config.server.max_header_bytes,
            head_limits,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&gw.metrics),
            access::record,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(gw)
}

/// Serves on `listener` until `shutdown` fires, then stops accepting and lets
/// in-flight requests (streams included) finish within the grace period.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    run_reloadable(listener, config, shutdown, None).await
}

/// [`run`], with `source` re-read on `SIGHUP` and `POST /admin/reload`.
pub async fn run_reloadable(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
    source: Option<ConfigSource>,
) -> Result<(), RunError> {
    let hangup = source.is_some();
    let gw = Arc::new(Gateway::with_source(config, shutdown.clone(), source)?);
    if gw.config.is_open() {
        tracing::warn!("no gateway API keys configured: every caller is tenant `default`");
    }
    let tasks = TaskTracker::new();
    tasks.spawn(node::run(Arc::clone(&gw), shutdown.clone()));
    if hangup {
        tasks.spawn(reload_on_hangup(Arc::clone(&gw), shutdown.clone()));
    }
    listener::serve(
        listener,
        router(Arc::clone(&gw)),
        shutdown,
        &gw.config.server,
    )
    .await;
    tasks.close();
    tasks.wait().await;
    node::finish(&gw).await;
    tracing::info!("gateway stopped");
    Ok(())
}

/// Reloads the configuration on every `SIGHUP` until `shutdown`.
async fn reload_on_hangup(gw: Arc<Gateway>, shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP: reload with POST /admin/reload");
                return;
            }
        };
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                got = hangups.recv() => {
                    if got.is_none() {
                        return;
                    }
                    tracing::info!("SIGHUP: reloading the configuration");
                    // The outcome is logged and counted by `reload`.
                    let _ = gw.reload().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (gw, shutdown);
    }
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// Ready once the index is loaded (snapshot, then the cluster log caught up)
/// and unless shutting down. Redis is reported but does not gate readiness:
/// without it the node serves from memory and the upstream (DESIGN.md §3).
async fn readyz(State(gw): State<Arc<Gateway>>) -> Response {
    let redis = gw.redis_status().await;
    let readiness = &gw.cluster.readiness;
    let progress = gw.snapshots.as_ref().map(|s| s.progress());
    let status = if gw.shutdown.is_cancelled() {
        "shutting_down"
    } else if !readiness.ready() {
        "loading"
    } else {
        "ready"
    };
    let body = json!({
        "status": status,
        "redis": redis,
        "index": {
            "loaded": readiness.loaded.load(std::sync::atomic::Ordering::Acquire),
            "synced": readiness.synced.load(std::sync::atomic::Ordering::Acquire),
            "snapshot_entries_loaded": progress.map_or(0, |p| p.done),
            "snapshot_entries": progress.map_or(0, |p| p.total),
        },
    });
    let code = match status {
        "ready" => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (code, axum::Json(body)).into_response()
}

async fn metrics(State(gw): State<Arc<Gateway>>) -> Response {
    let (entries, bytes) = gw.cache.usage();
    gw.metrics.cache_size(entries, bytes, gw.flights.waiting());
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], gw.metrics.render()).into_response()
}

/// The request line and headers within bounds: 414 for a URI over 8 KiB,
/// 431 for a head over `max_header_bytes`, in OpenAI's error shape (hyper's
/// own, larger limits answer without a body).
async fn head_limits(
    State(max_header_bytes): State<usize>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    const MAX_URI: usize = 8 * 1024;
    if request.uri().to_string().len() > MAX_URI {
        return GatewayError::UriTooLong { limit: MAX_URI }.into_response();
    }
    let head: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if head > max_header_bytes {
        let limit = max_header_bytes;
        return GatewayError::HeadersTooLarge { limit }.into_response();
    }
    next.run(request).await
}

async fn not_found(request: Request) -> GatewayError {
    GatewayError::NotFound {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
    }
}

async fn method_not_allowed(request: Request) -> GatewayError {
    GatewayError::MethodNotAllowed {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[tokio::test]
    async fn readyz_says_loading_until_the_index_is_loaded_and_synced() {
        let mut config = Config::default();
        config.embedding.kind = crate::config::EmbedderKind::Off;
        let gw = Arc::new(Gateway::new(config, CancellationToken::new()).unwrap());
        let status = |gw: &Arc<Gateway>| {
            let gw = Arc::clone(gw);
            async move { readyz(State(gw)).await.status() }
        };
        assert_eq!(status(&gw).await, StatusCode::SERVICE_UNAVAILABLE);
        gw.cluster.readiness.loaded.store(true, Ordering::Release);
        assert_eq!(status(&gw).await, StatusCode::SERVICE_UNAVAILABLE);
        gw.cluster.readiness.synced.store(true, Ordering::Release);
        assert_eq!(status(&gw).await, StatusCode::OK);
        gw.shutdown.cancel();
        assert_eq!(status(&gw).await, StatusCode::SERVICE_UNAVAILABLE);
    }
}
