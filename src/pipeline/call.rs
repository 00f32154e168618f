//! A proxied request on its way through the pipeline: the route it came in
//! on, what it asked for, and where its answer goes once it has one.

use axum::http::HeaderMap;
use bytes::Bytes;

use crate::cache::{CacheKey, CachePolicy, FlightGuard};
use crate::request::ApiRequest;
use crate::semantic::Probe;

/// A cacheable POST route and what sets it apart.
pub struct Route {
    /// Endpoint name in the cache key.
    pub endpoint: &'static str,
    /// Path below the upstream base URL.
    pub path: &'static str,
    /// A body field the route cannot do without.
    pub required: &'static str,
    /// Honours `"stream": true`.
    pub streams: bool,
    /// The L2 semantic cache applies.
    pub semantic: bool,
}

pub const CHAT: Route = Route {
    endpoint: "chat/completions",
    path: "/chat/completions",
    required: "messages",
    streams: true,
    semantic: true,
};

pub const EMBEDDINGS: Route = Route {
    endpoint: "embeddings",
    path: "/embeddings",
    required: "input",
    streams: false,
    semantic: false,
};

/// A parsed, admitted request.
pub struct Call<'a> {
    pub route: &'a Route,
    pub headers: &'a HeaderMap,
    /// The client's body, forwarded untouched.
    pub body: Bytes,
    pub request: ApiRequest,
    /// The client wants SSE.
    pub stream: bool,
}

impl<'a> Call<'a> {
    pub fn new(
        route: &'a Route,
        headers: &'a HeaderMap,
        body: Bytes,
        request: ApiRequest,
        stream: bool,
    ) -> Self {
        Self {
            route,
            headers,
            body,
            request,
            stream,
        }
    }
}

/// Where a miss's answer goes: the cache (per policy), L2 and the flight's
/// followers.
pub struct Fill {
    pub key: CacheKey,
    pub policy: CachePolicy,
    pub flight: Option<FlightGuard>,
    /// Where the answer goes in L2, when L2 applies.
    pub probe: Option<Probe>,
}

impl Fill {
    pub fn new(
        key: CacheKey,
        policy: CachePolicy,
        flight: Option<FlightGuard>,
        probe: Option<Probe>,
    ) -> Self {
        Self {
            key,
            policy,
            flight,
            probe,
        }
    }
}
