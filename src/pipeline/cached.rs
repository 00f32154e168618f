//! The cache stage of the pipeline: L1 look-up, single-flight, then forward and
//! fill. Only complete 200 answers are stored; a stream only after a clean
//! `[DONE]`. Cached answers are served in the shape the client asked for.
//! Every way out settles the rate-limit admission with the real token cost.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

use super::ApiRequest;
use super::semantic::{self, Probe, Semantic};
use crate::access::RequestInfo;
use crate::cache::flight::FlightGuard;
use crate::cache::{
    CacheKey, CachePolicy, CachedResponse, Join, Landed, Lookup, StreamFill, Usage, l1_key, sse,
};
use crate::error::GatewayError;
use crate::ratelimit::{Admission, UsageWatch, total_tokens};
use crate::server::Gateway;
use crate::upstream::{
    StreamObserver, Upstream, UpstreamBody, UpstreamRequest, upstream_request_headers,
};

/// A cacheable request on its way upstream.
pub struct Call<'a> {
    /// Endpoint name in the cache key.
    pub endpoint: &'static str,
    /// Path below the upstream's base URL.
    pub path: &'static str,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    /// The client wants SSE.
    pub stream: bool,
    /// The L2 semantic cache applies (chat completions).
    pub semantic: bool,
    pub request: &'a ApiRequest,
    pub admission: &'a Admission,
}

impl Call<'_> {
    /// Reconciles the rate-limit charge (`None`: real tokens unknown).
    fn settle(&self, gw: &Gateway, tokens: Option<u64>, refund_request: bool) {
        gw.limiter.settle(self.admission, tokens, refund_request);
    }

    /// An answer that cost no upstream call (cache hit or single-flight follower).
    fn settle_free(&self, gw: &Gateway) {
        self.settle(gw, Some(0), gw.limiter.hits_are_free());
    }
}

/// Where a miss's answer goes: the cache (per policy) and the flight's followers.
struct Fill {
    key: CacheKey,
    policy: CachePolicy,
    flight: Option<FlightGuard>,
    /// Where the answer goes in L2, when L2 applies.
    probe: Option<Probe>,
}

pub async fn serve(
    gw: &Gateway,
    policy: &CachePolicy,
    upstream: &Upstream,
    call: Call<'_>,
    info: &mut RequestInfo,
) -> Result<Response, GatewayError> {
    if !policy.engaged() {
        return forward(gw, upstream, &call, None, info).await;
    }
    let key = l1_key(&policy.scope, call.endpoint, &call.request.fields);
    let fill = |flight, probe| Fill {
        key,
        policy: policy.clone(),
        flight,
        probe,
    };
    if !policy.lookup {
        return forward(gw, upstream, &call, Some(fill(None, None)), info).await;
    }
    if let Some(answer) = l1_hit(gw, &key, &policy.scope, &call, info).await {
        return answer;
    }
    info.cache = Some("miss");
    let probe = match call.semantic {
        true => match semantic::lookup(gw, policy, call.request, info).await {
            Semantic::Hit(entry) => {
                call.settle_free(gw);
                return from_cache(gw, &entry, &call);
            }
            Semantic::Miss(probe) => probe,
        },
        false => None,
    };
    loop {
        match gw.flights.join(key) {
            Join::Leader(guard) => {
                let fill = fill(Some(guard), probe);
                return forward(gw, upstream, &call, Some(fill), info).await;
            }
            Join::Follower(slot) => match gw.flights.wait(slot).await {
                Landed::Answer(entry) => {
                    info.coalesced = true;
                    call.settle_free(gw);
                    return from_cache(gw, &entry, &call);
                }
                Landed::Failed { status, body } => {
                    info.coalesced = true;
                    call.settle(gw, Some(0), false);
                    return Ok(json_response(status, body));
                }
                // The leader went away: look again, maybe lead.
                Landed::Abandoned => {
                    if let Some(answer) = l1_hit(gw, &key, &policy.scope, &call, info).await {
                        return answer;
                    }
                }
            },
        }
    }
}

/// An L1 hit, answered.
async fn l1_hit(
    gw: &Gateway,
    key: &CacheKey,
    scope: &str,
    call: &Call<'_>,
    info: &mut RequestInfo,
) -> Option<Result<Response, GatewayError>> {
    match gw.cache.lookup(key, scope).await {
        Lookup::Hit(entry, _tier) => {
            info.cache = Some("hit-l1");
            call.settle_free(gw);
            Some(from_cache(gw, &entry, call))
        }
        Lookup::Miss => None,
    }
}

async fn forward(
    gw: &Gateway,
    upstream: &Upstream,
    call: &Call<'_>,
    fill: Option<Fill>,
    info: &mut RequestInfo,
) -> Result<Response, GatewayError> {
    let request = UpstreamRequest {
        method: Method::POST,
        path: call.path,
        headers: upstream_request_headers(call.headers, call.headers.get("x-request-id")),
        body: call.body.clone(),
        stream: call.stream,
    };
    let answer = match gw.forwarder.send(upstream, &request).await {
        Ok(answer) => answer,
        Err(e) => {
            info.attempts = e.attempts();
            call.settle(gw, Some(0), false);
            let error = GatewayError::from(e);
            if let Some(flight) = fill.and_then(|f| f.flight) {
                let body = Bytes::from(error.body().to_string());
                flight.land(Landed::Failed {
                    status: error.status(),
                    body,
                });
            }
            return Err(error);
        }
    };
    info.attempts = answer.attempts;
    let observer = match &answer.body {
        UpstreamBody::Stream(_) => Some(watch_stream(gw, call, fill)),
        UpstreamBody::Full(bytes) => {
            complete(gw, call, answer.status, bytes, fill);
            None
        }
    };
    Ok(answer.into_response(gw.stream_idle_timeout(), observer))
}

/// A 200 stream: its usage settles the admission and, when the cache takes
/// part, its capture fills the cache and lands the flight — both at its end.
fn watch_stream(gw: &Gateway, call: &Call<'_>, fill: Option<Fill>) -> Box<dyn StreamObserver> {
    let capture = fill.map(|fill| {
        let max = gw.config.cache.max_entry_bytes;
        let (key, ttl, store) = (fill.key, fill.policy.ttl, fill.policy.store);
        let on_store = fill
            .probe
            .map(|probe| Box::new(move |entry| probe.store(entry)) as _);
        let cache = Arc::clone(&gw.cache);
        let capture = StreamFill::new(cache, key, ttl, store, max, fill.flight, on_store);
        Box::new(capture) as Box<dyn StreamObserver>
    });
    let limiter = Arc::clone(&gw.limiter);
    Box::new(UsageWatch::new(limiter, call.admission.clone(), capture))
}

/// A full answer: settle its real tokens, store it if it is a cacheable 200,
/// and land the flight with it.
fn complete(gw: &Gateway, call: &Call<'_>, status: StatusCode, bytes: &Bytes, fill: Option<Fill>) {
    let parsed = (status == StatusCode::OK)
        .then(|| serde_json::from_slice::<Value>(bytes).ok())
        .flatten();
    let tokens = match &parsed {
        Some(value) => total_tokens(&value["usage"]),
        None if status == StatusCode::OK => None,
        None => Some(0),
    };
    call.settle(gw, tokens, false);
    let Some(fill) = fill else {
        return;
    };
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

/// A cached answer as JSON, or as SSE synthesised from it.
fn from_cache(
    gw: &Gateway,
    entry: &CachedResponse,
    call: &Call<'_>,
) -> Result<Response, GatewayError> {
    gw.metrics
        .tokens_saved(entry.usage.prompt, entry.usage.completion);
    if !call.stream {
        return Ok(json_response(StatusCode::OK, entry.body.clone()));
    }
    let completion: Value =
        serde_json::from_slice(&entry.body).map_err(|_| GatewayError::Internal)?;
    let include_usage = call
        .request
        .fields
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut response = Response::new(sse::synthesize(&completion, include_usage).into());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

fn json_response(status: StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
