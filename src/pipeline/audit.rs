//! Auditing semantic hits (`semantic.audit_sample`): a sampled L2 hit is also
//! asked upstream, in the background, and the fresh answer compared with the
//! cached one — equal text, or embeddings at least `semantic.audit_agreement`
//! alike — so the rate at which a semantic hit would have differed on real
//! traffic is a metric (`gateway_l2_audit_total{result}`). The client's answer
//! is never delayed or changed; the audit's tokens are counted.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use bytes::Bytes;
use serde_json::Value;
use tokio::time::Instant;

use super::call::Call;
use crate::cache::{CachedResponse, Usage};
use crate::gateway::Gateway;
use crate::index::similarity;
use crate::ratelimit::total_tokens;
use crate::upstream::{UpstreamBody, UpstreamRequest, upstream_request_headers};

/// Budget of comparing the two answers (embedding both).
const COMPARE_BUDGET: Duration = Duration::from_secs(10);

/// Starts an audit of this hit when the sample says so.
pub fn maybe_audit(gw: &Arc<Gateway>, call: &Call<'_>, cached: &Arc<CachedResponse>) {
    let share = gw.config.semantic.audit_sample;
    if share <= 0.0 || rand::random::<f64>() >= share {
        return;
    }
    let Some(body) = json_body(&call.request.fields) else {
        return;
    };
    let request = UpstreamRequest {
        method: Method::POST,
        path: call.route.path.into(),
        headers: upstream_request_headers(call.headers, call.headers.get("x-request-id")),
        body,
        stream: false,
    };
    let (gw, cached, model) = (
        Arc::clone(gw),
        Arc::clone(cached),
        call.request.model.clone(),
    );
    let tenant = call.tenant.to_string();
    tokio::spawn(async move {
        let result = audit(&gw, &tenant, &model, request, &cached).await;
        gw.metrics.l2_audit(result);
    });
}

/// The request as a plain JSON request (an audit never streams).
fn json_body(fields: &serde_json::Map<String, Value>) -> Option<Bytes> {
    let mut fields = fields.clone();
    fields.remove("stream");
    fields.remove("stream_options");
    serde_json::to_vec(&fields).ok().map(Bytes::from)
}

async fn audit(
    gw: &Gateway,
    tenant: &str,
    model: &str,
    request: UpstreamRequest,
    cached: &CachedResponse,
) -> &'static str {
    let live = gw.live();
    let route = live.upstreams.route(Some(model));
    let Ok(answer) = gw
        .forwarder
        .send(gw.forwarder.target(route), &request)
        .await
    else {
        return "error";
    };
    let (UpstreamBody::Full(bytes), StatusCode::OK) = (&answer.body, answer.status) else {
        return "error";
    };
    let Ok(fresh) = serde_json::from_slice::<Value>(bytes) else {
        return "error";
    };
    if let Some(tokens) = total_tokens(&fresh["usage"]) {
        gw.metrics.l2_audit_tokens(tokens);
        gw.costs.spent(tenant, model, Usage::of(&fresh));
    }
    let cached: Value = serde_json::from_slice(&cached.body).unwrap_or_default();
    let (Some(a), Some(b)) = (content(&fresh), content(&cached)) else {
        return "error";
    };
    if a.trim() == b.trim() {
        return "agree";
    }
    let Some(l2) = &gw.l2 else {
        return "error";
    };
    let deadline = Instant::now() + COMPARE_BUDGET;
    let (x, y) = (
        l2.embedder.embed("audit", a, deadline).await,
        l2.embedder.embed("audit", b, deadline).await,
    );
    match (x, y) {
        (Ok(x), Ok(y)) if similarity(&x, &y) >= gw.config.semantic.audit_agreement => "agree",
        (Ok(_), Ok(_)) => "differ",
        _ => "skipped",
    }
}

/// The first choice's message text.
fn content(completion: &Value) -> Option<&str> {
    completion["choices"][0]["message"]["content"].as_str()
}
