//! The admin API, behind its own key (`admin.key`): node statistics, cache
//! purges (applied on every node through the cluster log) and on-demand
//! snapshots. Errors use the OpenAI error shape like every other route.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::cache::{PurgeScope, scope_of};
use crate::error::GatewayError;
use crate::gateway::Gateway;

pub fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/admin/stats", get(stats))
        .route("/admin/cache/purge", post(purge))
        .route("/admin/snapshot", post(snapshot))
        .route("/admin/reload", post(reload))
}

/// `GET /admin/stats`: entries, bytes, index size, tombstones, sync position
/// and lag, Redis status, snapshot progress.
async fn stats(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(e) = gw.admin.check(&headers) {
        return GatewayError::from(e).into_response();
    }
    let (l1_entries, l1_bytes) = gw.cache.usage();
    let cluster = &gw.cluster;
    let readiness = &cluster.readiness;
    let progress = gw.snapshots.as_ref().map(|s| s.progress());
    let l2 = gw.l2.as_ref().map(|l2| {
        json!({
            "embedder": l2.embedder.id(),
            "dimensions": l2.embedder.dim(),
            "index": l2.cache.stats(),
        })
    });
    axum::Json(json!({
        "node": cluster.node(),
        "ready": readiness.ready(),
        "redis": gw.redis_status().await,
        "l1": {"entries": l1_entries, "bytes": l1_bytes},
        "l2": l2,
        "sync": cluster.sync_state(),
        "costs": gw.costs.by_tenant(),
        "upstreams": deployments(&gw),
        "snapshot": {
            "enabled": gw.snapshots.is_some(),
            "path": gw.snapshots.as_ref().map(|s| s.path()),
            "loading": {
                "done": progress.map_or(0, |p| p.done),
                "total": progress.map_or(0, |p| p.total),
                "loaded": readiness.loaded.load(Ordering::Acquire),
            },
        },
    }))
    .into_response()
}

/// `POST /admin/cache/purge` with `{"tenant": "<name>"}`, `{"scope":
/// "<scope>"}` or `{"all": true}`: removes L1 and L2 entries on every node.
async fn purge(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = gw.admin.check(&headers) {
        return GatewayError::from(e).into_response();
    }
    let scope = match purge_scope(&gw, &body) {
        Ok(scope) => scope,
        Err(e) => return e.into_response(),
    };
    axum::Json(gw.cluster.purge(scope).await).into_response()
}

/// The scope a purge body names. A tenant's scope is its shared scope when
/// it has one (purging it purges what the tenants sharing it stored).
fn purge_scope(gw: &Gateway, body: &[u8]) -> Result<PurgeScope, GatewayError> {
    let usage =
        "body must be one of {\"tenant\": \"<name>\"}, {\"scope\": \"<scope>\"}, {\"all\": true}";
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| GatewayError::bad_request(format!("{usage}: {e}")))?;
    let object = value
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| GatewayError::bad_request(usage))?;
    let text = |v: &Value| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| GatewayError::bad_request(usage))
    };
    match object.iter().next() {
        Some((k, Value::Bool(true))) if k == "all" => Ok(PurgeScope::All),
        Some((k, v)) if k == "scope" => Ok(PurgeScope::Scope(text(v)?)),
        Some((k, v)) if k == "tenant" => {
            let name = text(v)?;
            let live = gw.live();
            let tenants = &live.config.tenants;
            let tenant = tenants.iter().find(|t| t.name == name);
            let shared = tenant.and_then(|t| t.cache.shared_scope.as_deref());
            Ok(PurgeScope::Scope(scope_of(&name, shared)))
        }
        _ => Err(GatewayError::bad_request(usage)),
    }
}

/// Every deployment's breaker phase, requests in flight and latency average.
fn deployments(gw: &Gateway) -> Vec<Value> {
    let live = gw.live();
    let now = tokio::time::Instant::now();
    live.upstreams
        .deployments()
        .map(|d| {
            json!({
                "model": d.route,
                "deployment": d.label,
                "upstream": d.upstream.name,
                "weight": d.weight,
                "health": d.state.breaker.phase(now).as_str(),
                "in_flight": d.state.load.in_flight(),
                "latency_ewma_ms": d.state.load.latency_us(now) / 1000.0,
            })
        })
        .collect()
}

/// `POST /admin/reload`: re-reads the configuration (as `SIGHUP` does).
/// An invalid one is refused with the reason (400) and the running one stays.
async fn reload(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(e) = gw.admin.check(&headers) {
        return GatewayError::from(e).into_response();
    }
    match gw.reload().await {
        Ok(done) => axum::Json(json!({"reloaded": true, "applied": done})).into_response(),
        Err(e) => {
            GatewayError::bad_request(format!("configuration not reloaded: {e}")).into_response()
        }
    }
}

/// `POST /admin/snapshot`: writes this node's snapshot now.
async fn snapshot(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(e) = gw.admin.check(&headers) {
        return GatewayError::from(e).into_response();
    }
    let Some(snapshots) = &gw.snapshots else {
        let message = "snapshots are off (cluster.snapshots, or no semantic cache)";
        return GatewayError::bad_request(message).into_response();
    };
    match snapshots.save(gw.cluster.sync_state().position).await {
        Ok(written) => axum::Json(written).into_response(),
        Err(_) => GatewayError::Internal.into_response(),
    }
}
