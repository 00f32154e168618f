//! The upstream step and the fill after it: forward the client's body (key
//! pool, retries, SSE passthrough), then store a complete 200 answer in L1 and
//! L2 and land the flight — a stream only after a clean `[DONE]`. The charge
//! learns what the answer cost and settles when it is dropped.

use std::sync::Arc;

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use tracing::Span;

use super::call::{Call, Fill};
use super::events::{errors_as_events, strip_usage};
use crate::access::RequestInfo;
use crate::cache::{CachePolicy, CachedResponse, Capture, Keep, Landed, StreamFill, Usage};
use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::ratelimit::{Charge, UsageWatch, total_tokens};
use crate::telemetry::record_usage;
use crate::upstream::{
    StreamObserver, UpstreamBody, UpstreamError, UpstreamRequest, UpstreamResponse,
    upstream_request_headers,
};

pub async fn forward(
    gw: &Gateway,
    call: &Call<'_>,
    mut charge: Charge,
    fill: Option<Fill>,
    info: &mut RequestInfo,
) -> Result<Response, GatewayError> {
    let upstream = gw.upstreams.route(Some(&call.request.model));
    let request = UpstreamRequest {
        method: Method::POST,
        path: call.route.path.into(),
        headers: upstream_request_headers(call.headers, call.headers.get("x-request-id")),
        body: call.body.clone(),
        stream: call.stream,
    };
    charge.sent();
    let mut fell_back = None;
    let answer = match gw.forwarder.send(upstream, &request).await {
        Ok(answer) => answer,
        Err(e) => match fallback(gw, call, &request).await {
            Some((answer, model)) => {
                fell_back = Some(model);
                answer
            }
            None => return Err(failed(e, fill, &mut charge, info)),
        },
    };
    // Another model's answer is not kept under this request's key: the
    // flight lands abandoned (its followers ask for themselves).
    let fill = match fell_back {
        Some(_) => {
            if let Some(flight) = fill.and_then(|f| f.flight) {
                flight.land(Landed::Abandoned);
            }
            None
        }
        None => fill,
    };
    info.attempts = answer.attempts;
    // What the call cost is priced as the model that answered.
    let answered_by = fell_back.as_deref().unwrap_or(&call.request.model);
    let observer = match &answer.body {
        UpstreamBody::Stream(_) => Some(watch_stream(gw, call, answered_by, charge, fill)),
        UpstreamBody::Full(bytes) => {
            complete(gw, call, answered_by, charge, answer.status, bytes, fill);
            None
        }
    };
    let mut response = answer.into_response(gw.stream_idle_timeout(), observer);
    if let Some(model) = fell_back.and_then(|m| HeaderValue::from_str(&m).ok()) {
        response
            .headers_mut()
            .insert("x-gateway-fallback-model", model);
    }
    if call.stream && !call.wants_usage {
        response = strip_usage(response);
    }
    Ok(errors_as_events(response))
}

/// The upstream failed after its retries: the charge is released and the
/// flight lands the error for its followers.
fn failed(
    e: UpstreamError,
    fill: Option<Fill>,
    charge: &mut Charge,
    info: &mut RequestInfo,
) -> GatewayError {
    info.attempts = e.attempts();
    charge.failed();
    let error = GatewayError::from(e);
    if let Some(flight) = fill.and_then(|f| f.flight) {
        let body = Bytes::from(error.body().to_string());
        flight.land(Landed::Failed {
            status: error.status(),
            body,
        });
    }
    error
}

/// Walks the model's fallback chain (`[fallbacks]`): the same request with
/// `model` replaced, sent to that model's upstream with its own retries;
/// the first answer wins. `None` when there is no chain or all failed.
async fn fallback(
    gw: &Gateway,
    call: &Call<'_>,
    request: &UpstreamRequest,
) -> Option<(UpstreamResponse, String)> {
    let chain = gw.config.fallbacks.get(&call.request.model)?;
    for model in chain {
        let mut body: Value = serde_json::from_slice(&call.body).ok()?;
        body["model"] = Value::String(model.clone());
        let request = UpstreamRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            headers: request.headers.clone(),
            body: Bytes::from(serde_json::to_vec(&body).ok()?),
            stream: request.stream,
        };
        let upstream = gw.upstreams.route(Some(model));
        match gw.forwarder.send(upstream, &request).await {
            Ok(answer) => {
                gw.metrics
                    .upstream_fallback(&call.request.model, model, "ok");
                tracing::warn!(from = %call.request.model, to = %model, "upstream failed: answered by the fallback model");
                return Some((answer, model.clone()));
            }
            Err(e) => {
                gw.metrics
                    .upstream_fallback(&call.request.model, model, "failed");
                tracing::warn!(from = %call.request.model, to = %model, error = %e, "fallback model failed too");
            }
        }
    }
    None
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
