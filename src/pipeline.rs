//! The request pipeline, readable top to bottom (DESIGN.md §1): [`pipeline`]
//! calls every stage in order and records what each one decided. Stages
//! return outcomes; nothing below them writes to the access record.
//!
//! auth → body limit + parse → cache policy → rate limit (Redis Lua, local
//! fallback) → L1 look-up (memory, then Redis) → L2 (embed, search, verify) →
//! single-flight → forward (key pool, retries, SSE passthrough) → respond,
//! filling the caches and settling the charge from the answer.

mod answer;
mod audit;
mod call;
mod events;
mod forward;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tracing::{Instrument, Span};

use crate::access::RequestInfo;
use crate::auth::Tenant;
use crate::cache::{CachePolicy, CacheStatus, Capture, Flight, Lookup, l1_key};
use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::ratelimit::{Charge, Decision};
use crate::request::{ApiRequest, BodyLimits, read_body};
use crate::semantic::{L2Lookup, Query};
use crate::stage_span;
use crate::upstream::{UpstreamRequest, upstream_request_headers};
use call::{CHAT, COMPLETIONS, Call, EMBEDDINGS, Fill, RESPONSES, Route};
use forward::forward;

/// `POST /v1/chat/completions`, JSON or SSE.
pub async fn chat_completions(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&gw, &CHAT, &headers, body).await
}

/// `POST /v1/completions` (legacy; JSON answers cached).
pub async fn completions(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&gw, &COMPLETIONS, &headers, body).await
}

/// `POST /v1/responses`, JSON or SSE (cached when self-contained).
pub async fn responses(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    handle(&gw, &RESPONSES, &headers, body).await
}

/// `POST /v1/embeddings` (cached like chat, never streamed).
pub async fn embeddings(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&gw, &EMBEDDINGS, &headers, body).await
}

async fn handle(gw: &Arc<Gateway>, route: &Route, headers: &HeaderMap, body: Body) -> Response {
    Span::current().record("gen_ai.operation.name", route.operation());
    let mut info = RequestInfo::cacheable();
    let result = pipeline(gw, route, headers, body, &mut info).await;
    respond(info, result)
}

/// The stages, in order (DESIGN.md §1).
async fn pipeline(
    gw: &Arc<Gateway>,
    route: &Route,
    headers: &HeaderMap,
    body: Body,
    info: &mut RequestInfo,
) -> Result<Response, GatewayError> {
    // Auth: gateway key → tenant.
    let tenant = stage_span!("auth").in_scope(|| gw.live().auth.authenticate(headers))?;
    info.tenant = Some(tenant.name.clone());
    // Body: limit, parse, validate.
    let body = read_body(body, headers, &BodyLimits::from(&gw.config.server)).await?;
    let request = ApiRequest::parse(&body, Some(route.required))?;
    let stream = route.streams && request.stream;
    (info.model, info.stream) = (Some(request.model.clone()), stream);
    // Cache policy: controls, TTL, scope, semantic threshold.
    let policy = CachePolicy::decide(headers, &tenant, &gw.config.cache, &gw.config.semantic)?;
    // Rate limit: one Redis round trip (or the local fallback); the charge
    // settles with the real cost on every way out.
    let admitted = admit(gw, &tenant, &request, info).instrument(stage_span!("ratelimit"));
    let charge = admitted.await?;
    let mut call = Call::new(route, &tenant.name, headers, body, request, stream);
    call.max_in_flight = tenant.limits.max_in_flight;
    if !policy.engaged() || !route.cacheable(&call.request) {
        return forward(gw, &call, charge, None, info).await;
    }
    let key = l1_key(&policy.scope, route.key_name(stream), &call.request.fields);
    if !policy.lookup {
        let fill = Fill::new(key, policy, None, None);
        return forward(gw, &call, charge, Some(fill), info).await;
    }
    // L1 exact: memory, then Redis.
    info.cache = Some(CacheStatus::Miss);
    let l1 = gw.cache.lookup(&key, &policy.scope);
    if let Lookup::Hit(entry, _) = l1.instrument(stage_span!("cache.l1")).await {
        info.cache = Some(CacheStatus::HitL1);
        return answer::hit(gw, &entry, &call, charge, "l1");
    }
    // L2 semantic: embed the last user turn, search its partition, verify.
    let l2 = semantic(gw, &call, &tenant, &policy).instrument(stage_span!("cache.l2"));
    let probe = match l2.await {
        L2Lookup::Hit {
            answer, similarity, ..
        } => {
            (info.cache, info.similarity) = (Some(CacheStatus::HitL2), Some(similarity));
            audit::maybe_audit(gw, &call, &answer);
            return answer::hit(gw, &answer, &call, charge, "l2");
        }
        L2Lookup::Miss(probe) => probe,
    };
    // Single-flight: one upstream call per identical in-flight request.
    let recheck = || async { gw.cache.lookup(&key, &policy.scope).await.hit() };
    let live = stream && route.capture != Capture::None;
    let flight = match gw.flights.board(key, live, recheck).await {
        Flight::Lead(flight) => flight,
        Flight::Cached(entry) => {
            info.cache = Some(CacheStatus::HitL1);
            return answer::hit(gw, &entry, &call, charge, "l1");
        }
        followed => {
            info.coalesced = true;
            return answer::followed(gw, followed, &call, charge);
        }
    };
    // Forward upstream, then fill L1, L2 and the flight from the answer.
    let fill = Fill::new(key, policy, Some(flight), probe);
    forward(gw, &call, charge, Some(fill), info).await
}

/// The rate-limit stage: one Redis round trip (or the local fallback) charges a
/// request and its estimated tokens, or refuses with 429 and `Retry-After`.
async fn admit(
    gw: &Gateway,
    tenant: &Tenant,
    request: &ApiRequest,
    info: &mut RequestInfo,
) -> Result<Charge, GatewayError> {
    let estimate = request.token_estimate(gw.config.rate_limit.default_completion_tokens);
    match gw.limiter.admit(tenant, &request.model, estimate).await {
        Decision::Allow(admission) => {
            info.ratelimit = Some(admission.headers.clone());
            Ok(Charge::new(Arc::clone(&gw.limiter), admission))
        }
        Decision::Deny(denial) => {
            info.ratelimit = Some(denial.headers.clone());
            Err(denial.into())
        }
    }
}

/// The L2 stage, where it applies (chat, and an embedder is available).
async fn semantic(
    gw: &Gateway,
    call: &Call<'_>,
    tenant: &Tenant,
    policy: &CachePolicy,
) -> L2Lookup {
    let Some(l2) = gw.l2.as_ref().filter(|_| call.route.semantic) else {
        return L2Lookup::Miss(None);
    };
    let query = Query {
        tenant: &tenant.name,
        scope: &policy.scope,
        threshold: policy.semantic_threshold,
        raised: policy.raised_threshold,
        min_precision: policy.min_precision,
    };
    l2.lookup(&gw.peers, &query, &call.request.fields).await
}

/// `GET /v1/models`, from the default upstream.
pub async fn models(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    get_upstream(&gw, &headers, "/models".into(), None).await
}

/// `GET /v1/models/{id}`, from the upstream that serves that model.
pub async fn model(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    get_upstream(&gw, &headers, format!("/models/{id}"), Some(&id)).await
}

/// A GET passed to the upstream of `model` (or the default one).
async fn get_upstream(
    gw: &Gateway,
    headers: &HeaderMap,
    path: String,
    model: Option<&str>,
) -> Response {
    let mut info = RequestInfo::default();
    let result = async {
        let live = gw.live();
        let tenant = stage_span!("auth").in_scope(|| live.auth.authenticate(headers))?;
        info.tenant = Some(tenant.name.clone());
        let route = live.upstreams.route(model);
        let call = UpstreamRequest {
            method: Method::GET,
            path: path.into(),
            headers: upstream_request_headers(headers, headers.get("x-request-id")),
            body: Bytes::new(),
            stream: false,
        };
        match gw.forwarder.send(gw.forwarder.target(route), &call).await {
            Ok(answer) => {
                info.attempts = answer.attempts;
                Ok(answer.into_response(gw.stream_idle_timeout(), None))
            }
            Err(e) => {
                info.attempts = e.attempts();
                Err(GatewayError::from(e))
            }
        }
    }
    .await;
    respond(info, result)
}

/// The response (or error) with the request facts attached for the access log
/// and, on cacheable routes, the `x-gateway-cache` header.
fn respond(info: RequestInfo, result: Result<Response, GatewayError>) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    if let Some(limits) = &info.ratelimit {
        limits.apply(response.headers_mut());
    }
    if let Some(similarity) = info.similarity
        && let Ok(value) = HeaderValue::try_from(format!("{similarity:.4}"))
    {
        response
            .headers_mut()
            .insert("x-gateway-cache-similarity", value);
    }
    if let Some(status) = info.cache {
        response
            .headers_mut()
            .insert("x-gateway-cache", HeaderValue::from_static(status.label()));
    }
    response.extensions_mut().insert(info);
    response
}
