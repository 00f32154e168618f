//! One structured log line and the request metrics per request, emitted when the
//! response body ends — so a stream is logged with its full duration and outcome.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::Instant;
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::cache::CacheStatus;
use crate::error::ErrorCode;
use crate::metrics::Metrics;

/// What a handler learned about the request, attached to its response.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub tenant: Option<String>,
    pub model: Option<String>,
    pub stream: bool,
    pub attempts: u32,
    /// `x-gateway-cache` on cacheable routes.
    pub cache: Option<CacheStatus>,
    /// Served from another request's upstream call (single-flight follower).
    pub coalesced: bool,
    /// Similarity of an L2 hit.
    pub similarity: Option<f32>,
    /// Rate-limit figures for the `x-ratelimit-*` headers.
    pub ratelimit: Option<crate::ratelimit::RateHeaders>,
}

impl RequestInfo {
    /// For a cacheable route: `bypass` until the cache stage says otherwise.
    pub fn cacheable() -> Self {
        Self {
            cache: Some(CacheStatus::Bypass),
            ..Self::default()
        }
    }
}

/// How a streamed body really ended, set by whoever ends it (a stream cut by
/// the upstream ends with an error event, cleanly for HTTP); read when the
/// access record is written.
#[derive(Debug, Clone, Default)]
pub struct StreamOutcome(Arc<std::sync::OnceLock<&'static str>>);

impl StreamOutcome {
    pub fn set(&self, outcome: &'static str) {
        let _ = self.0.set(outcome);
    }

    fn get(&self) -> Option<&'static str> {
        self.0.get().copied()
    }
}

/// A low-cardinality name for a matched route, from its path template:
/// `/v1/chat/completions` → `chat_completions`, `/v1/models/{id}` →
/// `models`, `/admin/…` → `admin`; an unmatched path is `unknown`.
pub fn route_label(matched: Option<&str>) -> String {
    let Some(path) = matched else {
        return "unknown".into();
    };
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "v1" && !s.starts_with('{'))
        .collect();
    match segments.first() {
        Some(&"admin") => "admin".into(),
        Some(_) => segments.join("_"),
        None => "root".into(),
    }
}

/// Middleware: wraps the response body so the record is written when it ends.
pub async fn record(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let matched = request.extensions().get::<MatchedPath>();
    let route = route_label(matched.map(MatchedPath::as_str));
    let method = request.method().to_string();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let span = request_span(&method, matched.map(MatchedPath::as_str), &route, &request);
    let response = next.run(request).instrument(span.clone()).await;
    let (parts, body) = response.into_parts();
    let record = Record {
        metrics,
        route,
        method,
        request_id,
        status: parts.status.as_u16(),
        info: parts
            .extensions
            .get::<RequestInfo>()
            .cloned()
            .unwrap_or_default(),
        error: parts.extensions.get::<ErrorCode>().map(|c| c.0),
        stream_outcome: parts.extensions.get::<StreamOutcome>().cloned(),
        start,
        head_ms: start.elapsed().as_secs_f64() * 1e3,
        span,
    };
    let body = Body::new(RecordedBody {
        inner: body,
        record: Some(record),
    });
    Response::from_parts(parts, body)
}

struct Record {
    metrics: Arc<Metrics>,
    route: String,
    method: String,
    request_id: String,
    status: u16,
    info: RequestInfo,
    error: Option<&'static str>,
    stream_outcome: Option<StreamOutcome>,
    start: Instant,
    head_ms: f64,
    /// The request's trace span, closed when the record is written (a
    /// stream's at its end).
    span: Span,
}

/// The root span of a request's trace (a no-op without telemetry); the
/// client's `traceparent` continues its trace. Probes are not traced.
fn request_span(method: &str, matched: Option<&str>, route: &str, request: &Request) -> Span {
    if matches!(route, "healthz" | "readyz" | "metrics") {
        return Span::none();
    }
    let path = matched.unwrap_or("unknown");
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok());
    crate::stage_span!(
        "request",
        otel.name = %format_args!("{method} {path}"),
        otel.kind = "server",
        otel.status_code = Empty,
        traceparent,
        http.request.method = method,
        http.route = path,
        http.response.status_code = Empty,
        gen_ai.operation.name = Empty,
        gen_ai.request.model = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gateway.tenant = Empty,
        gateway.cache = Empty,
        gateway.cache.similarity = Empty,
        gateway.stream = Empty,
        gateway.attempts = Empty,
        gateway.outcome = Empty,
    )
}

impl Record {
    fn finish(self, outcome: &'static str) {
        let outcome = self
            .stream_outcome
            .as_ref()
            .and_then(StreamOutcome::get)
            .unwrap_or(outcome);
        let elapsed = self.start.elapsed();
        self.metrics.request(&self.route, self.status, elapsed);
        self.trace(outcome);
        if matches!(self.route.as_str(), "healthz" | "readyz" | "metrics") {
            return;
        }
        let info = &self.info;
        tracing::info!(
            target: "access",
            request_id = %self.request_id,
            method = %self.method,
            route = %self.route,
            status = self.status,
            tenant = info.tenant.as_deref().unwrap_or("-"),
            model = info.model.as_deref().unwrap_or("-"),
            stream = info.stream,
            attempts = info.attempts,
            cache = info.cache.map_or("-", CacheStatus::label),
            similarity = info.similarity.map(f64::from),
            coalesced = info.coalesced,
            latency_ms = elapsed.as_secs_f64() * 1e3,
            head_ms = self.head_ms,
            outcome,
            error = self.error.unwrap_or("-"),
            "request"
        );
    }
}

impl Record {
    /// What the access line says, on the request's span.
    fn trace(&self, outcome: &'static str) {
        let (span, info) = (&self.span, &self.info);
        if span.is_disabled() {
            return;
        }
        span.record("http.response.status_code", self.status);
        span.record("gateway.outcome", outcome);
        span.record("gateway.stream", info.stream);
        span.record("gateway.attempts", info.attempts);
        if let Some(model) = &info.model {
            span.record("gen_ai.request.model", model.as_str());
        }
        if let Some(tenant) = &info.tenant {
            span.record("gateway.tenant", tenant.as_str());
        }
        if let Some(cache) = info.cache {
            span.record("gateway.cache", cache.label());
        }
        if let Some(similarity) = info.similarity {
            span.record("gateway.cache.similarity", f64::from(similarity));
        }
        if self.status >= 500 || outcome == "upstream_error" {
            span.record("otel.status_code", "error");
        }
    }
}

/// The response body plus its pending record.
struct RecordedBody {
    inner: Body,
    record: Option<Record>,
}

impl http_body::Body for RecordedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let outcome = match &polled {
            Poll::Ready(None) => Some("complete"),
            // The last frame of a sized body: record before the client can see it end.
            Poll::Ready(Some(Ok(_))) if http_body::Body::is_end_stream(&self.inner) => {
                Some("complete")
            }
            Poll::Ready(Some(Err(_))) => Some("upstream_error"),
            _ => None,
        };
        // Taken only once the body ends: taking it on every frame dropped
        // the record of every stream at its first chunk, unlogged and uncounted.
        if let Some(outcome) = outcome
            && let Some(record) = self.record.take()
        {
            record.finish(outcome);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for RecordedBody {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            let outcome = if http_body::Body::is_end_stream(&self.inner) {
                "complete"
            } else {
                "client_gone"
            };
            record.finish(outcome);
        }
    }
}
