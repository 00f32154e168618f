//! The upstream step and the fill after it: forward the client's body (key
//! pool, retries, SSE passthrough), then store a complete 200 answer in L1 and
//! L2 and land the flight — a stream only after a clean `[DONE]`. The charge
//! learns what the answer cost and settles when it is dropped.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use tracing::Span;

use super::call::{Call, Fill};
use super::events::{errors_as_events, strip_usage};
use crate::access::RequestInfo;
use crate::cache::{CachePolicy, CachedResponse, Capture, Keep, Landed, StreamFill, Usage};
use crate::error::GatewayError;
use crate::gateway::{Gateway, Live};
use crate::ratelimit::{Charge, UsageWatch, total_tokens};
use crate::telemetry::record_usage;
use crate::upstream::{
    StreamObserver, Target, UpstreamBody, UpstreamError, UpstreamRequest, UpstreamResponse,
    upstream_request_headers,
};
use tokio::time::Instant;

pub async fn forward(
    gw: &Gateway,
    call: &Call<'_>,
    mut charge: Charge,
    fill: Option<Fill>,
    info: &mut RequestInfo,
) -> Result<Response, GatewayError> {
    let live = gw.live();
    let request = UpstreamRequest {
        method: Method::POST,
        path: call.route.path.into(),
        headers: upstream_request_headers(call.headers, call.headers.get("x-request-id")),
        body: call.body.clone(),
        stream: call.stream,
    };
    // The tenant's concurrency limit: a short wait for a slot, then 429.
    let wait = Duration::from_millis(live.config.routing.queue_timeout_ms);
    let slot = match gw
        .tenant_slots
        .acquire(call.tenant, call.max_in_flight, wait)
        .await
    {
        Ok(slot) => slot,
        Err(_) => {
            gw.metrics.concurrency_rejected("tenant");
            let error = GatewayError::Overloaded {
                message: format!(
                    "tenant {} has {} upstream requests in flight, its limit",
                    call.tenant,
                    call.max_in_flight.unwrap_or_default()
                ),
                retry_after: Duration::from_secs(1),
            };
            return Err(failed(error, 0, fill, &mut charge, info));
        }
    };
    charge.sent();
    let (mut answer, answered_by) = match chain(gw, &live, call, &request).await {
        Ok(answered) => answered,
        Err(e) => {
            let attempts = e.attempts();
            return Err(failed(e.into(), attempts, fill, &mut charge, info));
        }
    };
    if let (Some(in_flight), Some(slot)) = (answer.in_flight.as_mut(), slot) {
        in_flight.hold(Box::new(slot));
    }
    let fell_back = answered_by != call.request.model;
    // Another model's answer is kept under this request's key only when
    // the operator allows it; otherwise the flight lands abandoned (its
    // followers ask for themselves).
    let fill = match fell_back && !live.upstreams.cache_fallbacks {
        true => {
            if let Some(flight) = fill.and_then(|f| f.flight) {
                flight.land(Landed::Abandoned);
            }
            None
        }
        false => fill,
    };
    info.attempts = answer.attempts;
    let served = served_headers(&answer, &answered_by, fell_back);
    // What the call cost is priced as the model that answered.
    let observer = match &answer.body {
        UpstreamBody::Stream(..) => Some(watch_stream(gw, call, &answered_by, charge, fill)),
        UpstreamBody::Full(bytes) => {
            complete(gw, call, &answered_by, charge, answer.status, bytes, fill);
            None
        }
    };
    let mut response = answer.into_response(gw.stream_idle_timeout(), observer);
    response.headers_mut().extend(served);
    if call.stream && !call.wants_usage {
        response = strip_usage(response);
    }
    Ok(errors_as_events(response))
}

/// Where an answer was served: `x-gateway-upstream`, `x-gateway-model` (the
/// name the upstream was sent) and, after a fallback,
/// `x-gateway-fallback-model`.
fn served_headers(answer: &UpstreamResponse, answered_by: &str, fell_back: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let sent = answer.model.as_deref().unwrap_or(answered_by);
    let values = [
        ("x-gateway-upstream", Some(answer.upstream.as_str())),
        ("x-gateway-model", Some(sent)),
        ("x-gateway-fallback-model", fell_back.then_some(answered_by)),
    ];
    for (name, value) in values {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    headers
}

/// The request failed: the charge is released and the flight lands the
/// error for its followers.
fn failed(
    error: GatewayError,
    attempts: u32,
    fill: Option<Fill>,
    charge: &mut Charge,
    info: &mut RequestInfo,
) -> GatewayError {
    info.attempts = attempts;
    charge.failed();
    if let Some(flight) = fill.and_then(|f| f.flight) {
        let body = Bytes::from(error.body().to_string());
        flight.land(Landed::Failed {
            status: error.status(),
            body,
        });
    }
    error
}

/// The requested model, then its fallback chain: each model's deployments
/// with its own attempts, all within one deadline. A model none of whose
/// deployments is healthy is skipped — unless no model of the chain has a
/// healthy one, when the requested model is tried anyway. The first answer
/// wins; with none, the requested model's error (or the first one seen).
async fn chain(
    gw: &Gateway,
    live: &Live,
    call: &Call<'_>,
    request: &UpstreamRequest,
) -> Result<(UpstreamResponse, String), UpstreamError> {
    let requested = &call.request.model;
    let models: Vec<String> = std::iter::once(requested.clone())
        .chain(live.upstreams.fallbacks(requested))
        .collect();
    let now = Instant::now();
    let routes: Vec<_> = models
        .iter()
        .map(|m| live.upstreams.route(Some(m)))
        .collect();
    let healthy: Vec<bool> = routes.iter().map(|r| r.healthy(now)).collect();
    let force = !healthy.contains(&true);
    let deadline = gw.forwarder.deadline();
    let mut first_error = None;
    for (i, (model, route)) in models.iter().zip(&routes).enumerate() {
        let force = force && i == 0;
        if !healthy[i] && !force {
            if i > 0 {
                gw.metrics.upstream_fallback(requested, model, "skipped");
            }
            continue;
        }
        if Instant::now() >= deadline {
            break;
        }
        let renamed;
        let request = match i {
            0 => request,
            _ => {
                renamed = UpstreamRequest {
                    method: request.method.clone(),
                    path: request.path.clone(),
                    headers: request.headers.clone(),
                    body: request.body_for(Some(model)),
                    stream: request.stream,
                };
                &renamed
            }
        };
        let target = Target {
            route,
            deadline,
            force,
        };
        match gw.forwarder.send(target, request).await {
            Ok(answer) => {
                if i > 0 {
                    gw.metrics.upstream_fallback(requested, model, "ok");
                    tracing::warn!(from = %requested, to = %model, "answered by a fallback model");
                }
                return Ok((answer, model.clone()));
            }
            Err(e) => {
                if i > 0 {
                    gw.metrics.upstream_fallback(requested, model, "failed");
                }
                if models.len() > 1 {
                    tracing::warn!(model = %model, error = %e, "model failed: trying the next of its chain");
                }
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| UpstreamError::Ejected {
        model: requested.clone(),
    }))
}

/// A 200 stream: its usage settles the charge and, when the cache takes
/// part, its capture fills the cache and lands the flight — both at its end.
fn watch_stream(
    gw: &Gateway,
    call: &Call<'_>,
    answered_by: &str,
    charge: Charge,
    fill: Option<Fill>,
) -> Box<dyn StreamObserver> {
    // A route whose streams are not kept releases the flight at once.
    let fill = fill.filter(|_| call.route.capture != Capture::None);
    let capture = fill.map(|fill| {
        let max = gw.config.cache.max_entry_bytes;
        let (key, ttl, store) = (fill.key, fill.policy.ttl, fill.policy.store);
        let on_store = fill
            .probe
            .map(|probe| Box::new(move |entry| probe.store(entry)) as _);
        let cache = Arc::clone(&gw.cache);
        let kind = call.route.capture;
        let keep = Keep { key, ttl, store };
        let capture = StreamFill::new(kind, cache, keep, max, fill.flight, on_store);
        Box::new(capture) as Box<dyn StreamObserver>
    });
    let (costs, tenant, model) = (
        Arc::clone(&gw.costs),
        call.tenant.to_string(),
        answered_by.to_string(),
    );
    let span = Span::current();
    let on_usage = Box::new(move |usage: Usage| {
        record_usage(&span, usage.prompt, usage.completion);
        costs.spent(&tenant, &model, usage)
    });
    Box::new(UsageWatch::new(charge, Some(on_usage), capture))
}

/// A full answer: its real tokens go to the charge; a cacheable 200 is
/// stored and lands the flight.
fn complete(
    gw: &Gateway,
    call: &Call<'_>,
    answered_by: &str,
    mut charge: Charge,
    status: StatusCode,
    bytes: &Bytes,
    fill: Option<Fill>,
) {
    let parsed = (status == StatusCode::OK)
        .then(|| serde_json::from_slice::<Value>(bytes).ok())
        .flatten();
    if let Some(value) = &parsed {
        let usage = Usage::of(value);
        record_usage(&Span::current(), usage.prompt, usage.completion);
        gw.costs.spent(call.tenant, answered_by, usage);
    }
    match &parsed {
        Some(value) => charge.spent(total_tokens(&value["usage"])),
        None if status == StatusCode::OK => charge.spent(None),
        None => charge.failed(),
    }
    let Some(fill) = fill else {
        return;
    };
    let _fill = crate::stage_span!("cache.fill", gateway.store = fill.policy.store).entered();
    let landed = if status != StatusCode::OK {
        Landed::Failed {
            status,
            body: bytes.clone(),
        }
    } else {
        let max = gw.config.cache.max_entry_bytes;
        match parsed.and_then(|value| cacheable(bytes, value, &fill.policy, max)) {
            Some(entry) => {
                if fill.policy.store {
                    gw.cache.fill(fill.key, Arc::clone(&entry));
                    if let Some(probe) = fill.probe {
                        probe.store(Arc::clone(&entry));
                    }
                }
                Landed::Answer(entry)
            }
            // Not cacheable (too large, not JSON): followers ask upstream themselves.
            None => Landed::Abandoned,
        }
    };
    if let Some(flight) = fill.flight {
        flight.land(landed);
    }
}

/// A 200 JSON answer worth keeping: an object without `error`, within the size limit.
fn cacheable(
    bytes: &Bytes,
    value: Value,
    policy: &CachePolicy,
    max: usize,
) -> Option<Arc<CachedResponse>> {
    if bytes.len() > max || !value.is_object() || value.get("error").is_some() {
        return None;
    }
    let usage = Usage::of(&value);
    Some(Arc::new(CachedResponse::new(
        bytes.clone(),
        policy.ttl,
        usage,
    )))
}
