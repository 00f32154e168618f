//! The HTTP server: shared gateway state, the router with its cross-cutting
//! layers (request id, panic catch, access log), and graceful shutdown.

mod listener;

use std::sync::Arc;
use std::time::Duration;

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
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::auth::{AdminKey, Auth};
use crate::cache::{Flights, L1, Purges};
use crate::cluster::Cluster;
use crate::config::Config;
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::semantic::L2;
use crate::shared::{Shared, SharedError};
use crate::upstream::{Forwarder, Upstreams};
use crate::{access, admin, pipeline, snapshot};

/// Why the gateway could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot build the upstream HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("invalid upstream routing")]
    Routing,
    #[error("cannot set up the Redis client: {0}")]
    Redis(#[from] SharedError),
}

/// Everything a request needs, shared by all handlers.
pub struct Gateway {
    pub config: Config,
    pub auth: Auth,
    pub upstreams: Upstreams,
    pub forwarder: Forwarder,
    pub cache: Arc<L1>,
    pub flights: Arc<Flights>,
    pub limiter: Arc<RateLimiter>,
    /// The L2 semantic cache, when enabled and an embedder is available.
    pub l2: Option<Arc<L2>>,
    /// The shared Redis, when configured.
    pub shared: Option<Shared>,
    /// Cluster sync, purges and snapshots.
    pub cluster: Arc<Cluster>,
    pub admin: AdminKey,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
}

impl Gateway {
    pub fn new(config: Config, shutdown: CancellationToken) -> Result<Self, RunError> {
        let metrics = Arc::new(Metrics::new());
        let upstreams = Upstreams::from_config(&config).map_err(|_| RunError::Routing)?;
        let forwarder = Forwarder::new(&config.retry, Arc::clone(&metrics))?;
        let shared = match &config.redis.url {
            Some(url) => Some(Shared::connect_lazily(
                url.expose(),
                &config.redis,
                Arc::clone(&metrics),
            )?),
            None => None,
        };
        let purges = Arc::new(Purges::default());
        let cache = Arc::new(L1::new(
            config.cache.max_bytes,
            shared.clone(),
            Arc::clone(&purges),
            Arc::clone(&metrics),
        ));
        let l2 = L2::from_config(&config, Arc::clone(&purges), Arc::clone(&metrics)).map(Arc::new);
        let cluster = Arc::new(Cluster::new(
            config.cluster.clone(),
            shared.clone(),
            Arc::clone(&cache),
            l2.clone(),
            purges,
            Arc::clone(&metrics),
        ));
        Ok(Self {
            auth: Auth::from_config(&config),
            admin: AdminKey::from_config(&config),
            upstreams,
            forwarder,
            cache,
            flights: Flights::new(),
            l2,
            cluster,
            limiter: Arc::new(RateLimiter::new(
                config.rate_limit.clone(),
                shared.clone(),
                Arc::clone(&metrics),
            )),
            shared,
            metrics,
            shutdown,
            config,
        })
    }

    pub fn stream_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.config.retry.stream_idle_timeout_secs)
    }
}

/// The router with every route and the cross-cutting layers.
pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(pipeline::chat_completions))
        .route("/v1/embeddings", post(pipeline::embeddings))
        .route("/v1/models", get(pipeline::models))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(admin::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(|_| {
            GatewayError::Internal.into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&gw),
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
    let gw = Arc::new(Gateway::new(config, shutdown.clone())?);
    if gw.config.is_open() {
        tracing::warn!("no gateway API keys configured: every caller is tenant `default`");
    }
    let tasks = TaskTracker::new();
    tasks.spawn(metrics_upkeep(Arc::clone(&gw)));
    tasks.spawn(Arc::clone(&gw.cluster).run(shutdown.clone()));
    let grace = gw.config.server.shutdown_grace();
    listener::serve(listener, router(Arc::clone(&gw)), shutdown, grace).await;
    tasks.close();
    tasks.wait().await;
    // After the last request and the last log entry: nothing is left out.
    if gw.cluster.snapshots_enabled() {
        let _ = snapshot::save(Arc::clone(&gw.cluster)).await;
    }
    tracing::info!("gateway stopped");
    Ok(())
}

/// Periodic housekeeping: exporter upkeep, and dropping expired L2 entries.
async fn metrics_upkeep(gw: Arc<Gateway>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                gw.metrics.upkeep();
                ticks += 1;
                if let Some(l2) = gw.l2.as_ref().filter(|_| ticks % 6 == 0) {
                    let l2 = Arc::clone(l2);
                    let _ = tokio::task::spawn_blocking(move || l2.cache.sweep()).await;
                }
            }
            () = gw.shutdown.cancelled() => return,
        }
    }
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// Ready once the index is loaded (snapshot, then the cluster log caught up)
/// and unless shutting down. Redis is reported but does not gate readiness:
/// without it the node serves from memory and the upstream (DESIGN.md §3).
async fn readyz(State(gw): State<Arc<Gateway>>) -> Response {
    let redis = redis_status(&gw).await;
    let readiness = &gw.cluster.readiness;
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
            "snapshot_entries_loaded": readiness.load_done.load(std::sync::atomic::Ordering::Relaxed),
            "snapshot_entries": readiness.load_total.load(std::sync::atomic::Ordering::Relaxed),
        },
    });
    let code = match status {
        "ready" => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (code, axum::Json(body)).into_response()
}

/// `up`, `down` or `absent` (standalone).
pub async fn redis_status(gw: &Gateway) -> &'static str {
    match &gw.shared {
        None => "absent",
        Some(shared) if shared.ping().await => "up",
        Some(_) => "down",
    }
}

async fn metrics(State(gw): State<Arc<Gateway>>) -> Response {
    let (entries, bytes) = gw.cache.usage();
    gw.metrics.cache_size(entries, bytes, gw.flights.waiting());
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], gw.metrics.render()).into_response()
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
