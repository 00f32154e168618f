//! The exporter task: batches finished spans and posts them to the
//! collector as OTLP/HTTP JSON (`POST <endpoint>/v1/traces`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value as Json, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::layer::{SpanData, Value, to_hex};

/// Spans per request to the collector at most.
const MAX_BATCH: usize = 512;

pub struct Exporter {
    url: String,
    resource: Json,
    rx: mpsc::Receiver<SpanData>,
    interval: Duration,
    dropped: Arc<AtomicU64>,
}

impl Exporter {
    pub fn new(
        endpoint: &str,
        service: &str,
        node_id: &str,
        rx: mpsc::Receiver<SpanData>,
        interval: Duration,
        dropped: Arc<AtomicU64>,
    ) -> Self {
        let resource = json!({"attributes": [
            attribute("service.name", &Value::Str(service.into())),
            attribute("service.version", &Value::Str(env!("CARGO_PKG_VERSION").into())),
            attribute("service.instance.id", &Value::Str(node_id.into())),
        ]});
        Self {
            url: format!("{}/v1/traces", endpoint.trim_end_matches('/')),
            resource,
            rx,
            interval,
            dropped,
        }
    }

    /// Sends finished spans every interval until `shutdown`, then what is
    /// left (the spans of the requests that drained).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
        {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(error = %e, "trace export disabled: cannot build the HTTP client");
                return;
            }
        };
        let mut batch = Vec::new();
        let mut tick = tokio::time::interval(self.interval);
        let (mut failures, mut reported_drops) = (0u64, 0u64);
        loop {
            let (closing, due) = tokio::select! {
                // 0: every sender is gone (the process is ending).
                received = self.rx.recv_many(&mut batch, MAX_BATCH) => (received == 0, false),
                _ = tick.tick() => (false, true),
                () = shutdown.cancelled() => (true, false),
            };
            if closing {
                while let Ok(span) = self.rx.try_recv() {
                    batch.push(span);
                }
            }
            if !batch.is_empty() && (due || closing || batch.len() >= MAX_BATCH) {
                for chunk in batch.chunks(MAX_BATCH) {
                    if let Err(e) = self.post(&client, chunk).await {
                        failures += 1;
                        // Logged once, then every 100th failure: a collector
                        // that is down must not flood the log.
                        if failures == 1 || failures % 100 == 0 {
                            tracing::warn!(error = %e, spans = chunk.len(), failures, url = %self.url, "trace export failed; spans dropped");
                        }
                    }
                }
                batch.clear();
            }
            let dropped = self.dropped.load(Ordering::Relaxed);
            if dropped > reported_drops {
                tracing::warn!(dropped, "trace export queue full: spans dropped");
                reported_drops = dropped;
            }
            if closing {
                return;
            }
        }
    }

    async fn post(&self, client: &reqwest::Client, spans: &[SpanData]) -> Result<(), String> {
        let body = json!({"resourceSpans": [{
            "resource": self.resource,
            "scopeSpans": [{
                "scope": {"name": "g-aigateway", "version": env!("CARGO_PKG_VERSION")},
                "spans": spans.iter().map(span_json).collect::<Vec<_>>(),
            }],
        }]});
        let response = client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match response.status() {
            s if s.is_success() => Ok(()),
            s => Err(format!("collector answered {s}")),
        }
    }
}

fn nanos(t: SystemTime) -> String {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

fn attribute(key: &str, value: &Value) -> Json {
    let value = match value {
        Value::Str(s) => json!({"stringValue": s}),
        Value::Int(i) => json!({"intValue": i.to_string()}),
        Value::Float(f) => json!({"doubleValue": f}),
        Value::Bool(b) => json!({"boolValue": b}),
    };
    json!({"key": key, "value": value})
}

/// One span in OTLP/JSON: hex ids, times in Unix nanoseconds as strings.
pub fn span_json(span: &SpanData) -> Json {
    let mut out = json!({
        "traceId": to_hex(&span.trace_id),
        "spanId": to_hex(&span.span_id),
        "name": span.name,
        "kind": span.kind as u8,
        "startTimeUnixNano": nanos(span.start),
        "endTimeUnixNano": nanos(span.end),
        "attributes": span.attributes.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>(),
        "status": match &span.error {
            Some(message) => json!({"code": 2, "message": message}),
            None => json!({"code": 0}),
        },
    });
    if let Some(parent) = span.parent {
        out["parentSpanId"] = json!(to_hex(&parent));
    }
    out
}
