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
    /// How a streamed answer is kept.
    pub capture: Capture,
    /// Endpoint name in the cache key of a streamed request (the same as
    /// `endpoint` where a capture serves both shapes).
    pub stream_endpoint: &'static str,
}

pub use crate::cache::Capture;

impl Route {
    /// `gen_ai.operation.name` (OpenTelemetry GenAI semantic conventions).
    pub fn operation(&self) -> &'static str {
        match self.endpoint {
            "embeddings" => "embeddings",
            "completions" => "text_completion",
            _ => "chat",
        }
    }
}

pub const CHAT: Route = Route {
    endpoint: "chat/completions",
    path: "/chat/completions",
    required: "messages",
    streams: true,
    semantic: true,
    capture: Capture::Chat,
    stream_endpoint: "chat/completions",
};

pub const EMBEDDINGS: Route = Route {
    endpoint: "embeddings",
    path: "/embeddings",
    required: "input",
    streams: false,
    semantic: false,
    capture: Capture::None,
    stream_endpoint: "embeddings",
};

/// Legacy completions: JSON answers are cached, streams pass through.
pub const COMPLETIONS: Route = Route {
    endpoint: "completions",
    path: "/completions",
    required: "prompt",
    streams: true,
    semantic: false,
    capture: Capture::None,
    stream_endpoint: "completions:stream",
};

/// The Responses API: cached when self-contained; a stream is kept as it
/// came and replayed event for event (streams and JSON are keyed apart).
pub const RESPONSES: Route = Route {
    endpoint: "responses",
    path: "/responses",
    required: "input",
    streams: true,
    semantic: false,
    capture: Capture::Raw,
    stream_endpoint: "responses:stream",
};

impl Route {
    /// Whether answers to `request` may be cached at all: a Responses API
    /// request that continues a stored conversation (`previous_response_id`)
    /// or asks to be stored (`store: true`) is not self-contained.
    pub fn cacheable(&self, request: &ApiRequest) -> bool {
        if self.capture != Capture::Raw {
            return true;
        }
        let fields = &request.fields;
        let continues = fields
            .get("previous_response_id")
            .is_some_and(|v| !v.is_null());
        let stored = fields.get("store").and_then(serde_json::Value::as_bool) == Some(true);
        !continues && !stored
    }

    /// The cache key's endpoint name for a (streamed or not) request.
    pub fn key_name(&self, stream: bool) -> &'static str {
        if stream {
            self.stream_endpoint
        } else {
            self.endpoint
        }
    }
}

/// A parsed, admitted request.
pub struct Call<'a> {
    pub route: &'a Route,
    /// Who asked (for the cost stage).
    pub tenant: &'a str,
    pub headers: &'a HeaderMap,
    /// What goes upstream: the client's body untouched — except that a
    /// stream always asks for usage (every cached answer carries it).
    pub body: Bytes,
    pub request: ApiRequest,
    /// The client wants SSE.
    pub stream: bool,
    /// The client asked for the usage chunk of its stream.
    pub wants_usage: bool,
    /// The tenant's concurrency limit on upstream calls.
    pub max_in_flight: Option<u32>,
}

impl<'a> Call<'a> {
    pub fn new(
        route: &'a Route,
        tenant: &'a str,
        headers: &'a HeaderMap,
        body: Bytes,
        request: ApiRequest,
        stream: bool,
    ) -> Self {
        let wants_usage = request
            .fields
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let body = match stream && !wants_usage {
            true => with_usage(&request.fields).unwrap_or(body),
            false => body,
        };
        Self {
            route,
            tenant,
            headers,
            body,
            request,
            stream,
            wants_usage,
            max_in_flight: None,
        }
    }
}

/// The request with `stream_options.include_usage` set.
fn with_usage(fields: &serde_json::Map<String, serde_json::Value>) -> Option<Bytes> {
    let mut fields = fields.clone();
    let options = fields
        .entry("stream_options")
        .or_insert_with(|| serde_json::json!({}));
    options
        .as_object_mut()?
        .insert("include_usage".into(), true.into());
    serde_json::to_vec(&fields).ok().map(Bytes::from)
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
