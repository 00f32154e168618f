//! The `tracing-subscriber` layer that turns stage spans into trace spans:
//! W3C trace and span ids, parents, attributes, start and end times.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Span, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The target of every span exported as a trace.
pub const TARGET: &str = "g_aigateway::otel";

/// An attribute value, as OTLP knows them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Span kinds (OTLP numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal = 1,
    Server = 2,
    Client = 3,
}

/// One span, finished or in flight.
#[derive(Debug, Clone)]
pub struct SpanData {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
    pub sampled: bool,
    pub name: String,
    pub kind: Kind,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<(String, Value)>,
    /// `otel.status_code = "error"` marks a failed span.
    pub error: Option<String>,
}

/// The layer: gives spans their trace ids and sends them to the exporter
/// when they close. Install it with [`Traces::filter`] (spans of [`TARGET`]
/// only), so the log layer keeps its own filter.
pub struct Traces {
    tx: mpsc::Sender<SpanData>,
    sample_ratio: f64,
    dropped: Arc<AtomicU64>,
}

impl Traces {
    pub fn new(tx: mpsc::Sender<SpanData>, sample_ratio: f64) -> Self {
        Self {
            tx,
            sample_ratio,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// What this layer sees: the stage spans, nothing else.
    pub fn filter() -> tracing_subscriber::filter::FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool>
    {
        tracing_subscriber::filter::filter_fn(|m| m.is_span() && m.target() == TARGET)
    }

    /// Spans dropped because the export queue was full.
    pub fn dropped(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.dropped)
    }
}

/// Field names that steer the span rather than describe it.
const TRACEPARENT: &str = "traceparent";
const KIND: &str = "otel.kind";
const STATUS: &str = "otel.status_code";
const STATUS_MESSAGE: &str = "otel.status_message";
const NAME: &str = "otel.name";

#[derive(Default)]
struct Fields {
    attributes: Vec<(String, Value)>,
    traceparent: Option<String>,
    kind: Option<Kind>,
    name: Option<String>,
    error: Option<String>,
    error_flag: bool,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        match (name, &value) {
            (TRACEPARENT, Value::Str(s)) => self.traceparent = Some(s.clone()),
            (KIND, Value::Str(s)) => {
                self.kind = match s.as_str() {
                    "server" => Some(Kind::Server),
                    "client" => Some(Kind::Client),
                    _ => Some(Kind::Internal),
                }
            }
            (STATUS, Value::Str(s)) => self.error_flag = s.eq_ignore_ascii_case("error"),
            (STATUS_MESSAGE, Value::Str(s)) => self.error = Some(s.clone()),
            (NAME, Value::Str(s)) => self.name = Some(s.clone()),
            _ => match self.attributes.iter_mut().find(|(k, _)| k == name) {
                Some(slot) => slot.1 = value,
                None => self.attributes.push((name.to_string(), value)),
            },
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::Str(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::Str(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::Int(i64::try_from(value).unwrap_or(i64::MAX)));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::Float(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
}

/// Parses a W3C `traceparent` (version 00): trace id, parent span id, sampled.
pub fn parse_traceparent(value: &str) -> Option<([u8; 16], [u8; 8], bool)> {
    let mut parts = value.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
        return None;
    }
    let trace: [u8; 16] = hex(trace)?.try_into().ok()?;
    let span: [u8; 8] = hex(span)?.try_into().ok()?;
    let flags = hex(flags)?;
    if trace == [0; 16] || span == [0; 8] || flags.len() != 1 {
        return None;
    }
    Some((trace, span, flags[0] & 1 == 1))
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0
        || !s
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_nonzero<const N: usize>() -> [u8; N] {
    loop {
        let bytes: [u8; N] = rand::random();
        if bytes != [0; N] {
            return bytes;
        }
    }
}

impl<S> Layer<S> for Traces
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let parent = match attrs.parent() {
            Some(parent) => ctx.span(parent),
            None if attrs.is_contextual() => ctx.lookup_current(),
            None => None,
        };
        let inherited = parent.and_then(|p| {
            p.extensions()
                .get::<SpanData>()
                .map(|d| (d.trace_id, d.span_id, d.sampled))
        });
        let (trace_id, parent, sampled) = match inherited {
            Some((trace, parent, sampled)) => (trace, Some(parent), sampled),
            None => match fields.traceparent.as_deref().and_then(parse_traceparent) {
                Some((trace, parent, sampled)) => (trace, Some(parent), sampled),
                None => (
                    random_nonzero(),
                    None,
                    rand::random::<f64>() < self.sample_ratio,
                ),
            },
        };
        let now = SystemTime::now();
        let data = SpanData {
            trace_id,
            span_id: random_nonzero(),
            parent,
            sampled,
            name: fields
                .name
                .take()
                .unwrap_or_else(|| attrs.metadata().name().to_string()),
            kind: fields.kind.unwrap_or(Kind::Internal),
            start: now,
            end: now,
            error: fields
                .error_flag
                .then(|| fields.error.clone().unwrap_or_default()),
            attributes: fields.attributes,
        };
        span.extensions_mut().insert(data);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        let Some(data) = extensions.get_mut::<SpanData>() else {
            return;
        };
        let mut fields = Fields {
            attributes: std::mem::take(&mut data.attributes),
            ..Fields::default()
        };
        values.record(&mut fields);
        data.attributes = fields.attributes;
        if fields.error_flag {
            data.error = Some(fields.error.unwrap_or_default());
        } else if let (Some(message), Some(error)) = (fields.error, data.error.as_mut()) {
            *error = message;
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(mut data) = span.extensions_mut().remove::<SpanData>() else {
            return;
        };
        if !data.sampled {
            return;
        }
        data.end = SystemTime::now();
        if self.tx.try_send(data).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The W3C `traceparent` of `span` (for an outgoing request), when traces
/// are on and the span is being traced.
pub fn traceparent(span: &Span) -> Option<String> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(id)?;
        let extensions = span.extensions();
        let data = extensions.get::<SpanData>()?;
        Some(format!(
            "00-{}-{}-{:02x}",
            to_hex(&data.trace_id),
            to_hex(&data.span_id),
            u8::from(data.sampled)
        ))
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_is_read_and_bad_ones_are_ignored() {
        let (trace, span, sampled) =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(to_hex(&trace), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(to_hex(&span), "00f067aa0ba902b7");
        assert!(sampled);
        let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        assert!(!parse_traceparent(unsampled).unwrap().2);
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
            "00-zzf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad:?}");
        }
    }
}
