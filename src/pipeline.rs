//! The request pipeline, readable top to bottom (DESIGN.md §1). Each proxied
//! route is one function that calls the stages in order:
//!
//! auth → body limit + parse → cache policy → rate limit (Redis Lua, local
//! fallback) → route to upstream → L1 look-up (memory, then Redis) →
//! single-flight → forward (key pool, retries, SSE passthrough) → respond,
//! filling the cache and settling the token charge from the answer.

mod cached;
mod request;
mod semantic;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

pub use request::{ApiRequest, read_body};

use crate::access::RequestInfo;
use crate::auth::Tenant;
use crate::cache::CachePolicy;
use crate::error::GatewayError;
use crate::ratelimit::{Admission, Decision};
use crate::server::Gateway;
use crate::upstream::{UpstreamRequest, upstream_request_headers};
use cached::Call;

/// A cacheable POST route and what sets it apart.
struct Route {
    /// Endpoint name in the cache key.
    endpoint: &'static str,
    /// Path below the upstream base URL.
    path: &'static str,
    /// A body field the route cannot do without.
    required: &'static str,
    /// Honours `"stream": true`.
    streams: bool,
    /// The L2 semantic cache applies.
    semantic: bool,
}

const CHAT: Route = Route {
    endpoint: "chat/completions",
    path: "/chat/completions",
    required: "messages",
    streams: true,
    semantic: true,
};

const EMBEDDINGS: Route = Route {
    endpoint: "embeddings",
    path: "/embeddings",
    required: "input",
    streams: false,
    semantic: false,
};

/// `POST /v1/chat/completions`, JSON or SSE.
pub async fn chat_completions(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&gw, &CHAT, &headers, body).await
}

/// `POST /v1/embeddings` (cached like chat, never streamed).
pub async fn embeddings(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&gw, &EMBEDDINGS, &headers, body).await
}

async fn handle(gw: &Gateway, route: &Route, headers: &HeaderMap, body: Body) -> Response {
    let mut info = RequestInfo::cacheable();
    let result = pipeline(gw, route, headers, body, &mut info).await;
    respond(info, result)
}

/// The stages, in order (DESIGN.md §1).
async fn pipeline(
    gw: &Gateway,
    route: &Route,
    headers: &HeaderMap,
    body: Body,
    info: &mut RequestInfo,
) -> Result<Response, GatewayError> {
    // Auth: gateway key → tenant.
    let tenant = gw.auth.authenticate(headers)?;
    info.tenant = Some(tenant.name.clone());
    // Body limit and parse.
    let body = read_body(body, headers, gw.config.server.max_body_bytes).await?;
    let request = ApiRequest::parse(&body, Some(route.required))?;
    let stream = route.streams && request.stream;
    info.model = Some(request.model.clone());
    info.stream = stream;
    // Cache policy: controls, TTL, scope, semantic threshold.
    let threshold = gw.config.semantic.threshold;
    let policy = CachePolicy::decide(headers, &tenant, &gw.config.cache, threshold)?;
    // Rate limit: one Redis round trip (or the local fallback).
    let admission = admit(gw, &tenant, &request, info).await?;
    // Route the model to its upstream.
    let upstream = gw.upstreams.route(Some(&request.model));
    // L1 → L2 → single-flight → forward → fill and settle.
    let call = Call {
        endpoint: route.endpoint,
        path: route.path,
        headers,
        body,
        stream,
        semantic: route.semantic,
        request: &request,
        admission: &admission,
    };
    cached::serve(gw, &policy, upstream, call, info).await
}

/// The rate-limit stage: one Redis round trip (or the local fallback) charges a
/// request and its estimated tokens, or refuses with 429 and `Retry-After`.
async fn admit(
    gw: &Gateway,
    tenant: &Tenant,
    request: &ApiRequest,
    info: &mut RequestInfo,
) -> Result<Admission, GatewayError> {
    let estimate = request.token_estimate(gw.config.rate_limit.default_completion_tokens);
    match gw.limiter.admit(tenant, &request.model, estimate).await {
        Decision::Allow(admission) => {
            info.ratelimit = Some(admission.headers.clone());
            Ok(admission)
        }
        Decision::Deny {
            kind,
            retry_after,
            headers,
        } => {
            info.ratelimit = Some(headers);
            Err(GatewayError::RateLimited {
                kind: kind.label(),
                retry_after,
            })
        }
    }
}

/// `GET /v1/models`, from the default upstream.
pub async fn models(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let mut info = RequestInfo::default();
    let result = async {
        let tenant = gw.auth.authenticate(&headers)?;
        info.tenant = Some(tenant.name.clone());
        let upstream = gw.upstreams.route(None);
        let call = UpstreamRequest {
            method: Method::GET,
            path: "/models",
            headers: upstream_request_headers(&headers, headers.get("x-request-id")),
            body: Bytes::new(),
            stream: false,
        };
        match gw.forwarder.send(upstream, &call).await {
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
    if let Some(label) = info.cache {
        response
            .headers_mut()
            .insert("x-gateway-cache", HeaderValue::from_static(label));
    }
    response.extensions_mut().insert(info);
    response
}
