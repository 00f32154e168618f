//! OpenTelemetry traces (optional, `telemetry.otlp_endpoint`): one span per
//! request with a child span per stage — auth, rate limit, L1, embed, L2
//! search, verify, each upstream attempt (with its retry number), fill —
//! carrying GenAI semantic-convention attributes (`gen_ai.request.model`,
//! `gen_ai.usage.input_tokens`, …) plus the cache tier and similarity.
//!
//! The stages open ordinary `tracing` spans at TRACE level under the target
//! [`TARGET`]; without an endpoint no subscriber listens to them and they cost
//! a disabled call site. With one, [`Traces`] (a `tracing-subscriber` layer)
//! gives each span W3C ids — a client's `traceparent` continues its trace —
//! and hands finished spans to the exporter task, which posts them as
//! OTLP/HTTP JSON in batches. The upstream request carries the attempt span's
//! `traceparent`. Export never blocks a request: a full queue drops spans
//! (counted in the exporter's log line).

mod export;
mod layer;

pub use export::Exporter;
pub use layer::{TARGET, Traces, traceparent};

use tracing::Span;

/// A span of one stage, a child of the current one.
#[macro_export]
#[doc(hidden)]
macro_rules! stage_span {
    ($name:expr $(, $($fields:tt)*)?) => {
        tracing::trace_span!(target: $crate::telemetry::TARGET, $name $(, $($fields)*)?)
    };
}

/// Records token usage on a request's span (GenAI semantic conventions).
pub fn record_usage(span: &Span, input: u64, output: u64) {
    span.record("gen_ai.usage.input_tokens", input);
    span.record("gen_ai.usage.output_tokens", output);
}

/// Builds the layer and its exporter when an endpoint is configured.
pub fn traces(
    config: &crate::config::TelemetryConfig,
    node_id: &str,
) -> Option<(Traces, Exporter)> {
    let endpoint = config.otlp_endpoint.as_deref()?;
    let (tx, rx) = tokio::sync::mpsc::channel(config.max_queue);
    let layer = Traces::new(tx, config.sample_ratio);
    let exporter = Exporter::new(
        endpoint,
        &config.service_name,
        node_id,
        rx,
        std::time::Duration::from_millis(config.export_interval_ms),
        layer.dropped(),
    );
    Some((layer, exporter))
}
