//! OpenTelemetry traces from the real binary to an OTLP/HTTP receiver this
//! test runs: one span per request, a child per stage, GenAI attributes, the
//! client's `traceparent` continued and the attempt's propagated upstream.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};

use crate::semantic::model_dir;
use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_g-aigateway");
const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

type Spans = Arc<Mutex<Vec<Value>>>;

/// An OTLP/HTTP JSON receiver: every span posted to `/v1/traces`.
async fn collector() -> (String, Spans) {
    let spans: Spans = Arc::default();
    let kept = Arc::clone(&spans);
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: axum::Json<Value>| {
            let kept = Arc::clone(&kept);
            async move {
                let mut kept = kept.lock().unwrap();
                for resource in body["resourceSpans"].as_array().into_iter().flatten() {
                    assert_eq!(
                        attr(&resource["resource"], "service.name"),
                        Some(json!("g-aigateway-test"))
                    );
                    for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                        kept.extend(scope["spans"].as_array().into_iter().flatten().cloned());
                    }
                }
                axum::Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), spans)
}

fn attr(span: &Value, key: &str) -> Option<Value> {
    let found = span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?;
    let value = &found["value"];
    ["stringValue", "intValue", "doubleValue", "boolValue"]
        .iter()
        .find_map(|k| value.get(*k).cloned())
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `ready` holds for the spans received, polling the receiver.
async fn spans_until(spans: &Spans, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = spans.lock().unwrap().clone();
        if ready(&now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "spans never arrived; got {}",
            serde_json::to_string_pretty(&now).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_request_is_a_trace_with_a_span_per_stage() {
    let mock = mock().await;
    let (endpoint, spans) = collector().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
[[upstreams]]
name = "mock"
base_url = "{}"
api_keys = []
[[tenants]]
name = "team-a"
api_keys = ["{KEY_A}"]
[retry]
base_delay_ms = 1
max_delay_ms = 2
budget_min_per_sec = 100.0
[embedding]
model_dir = "{}"
[cluster]
snapshots = false
[telemetry]
otlp_endpoint = "{endpoint}"
service_name = "g-aigateway-test"
export_interval_ms = 100
"#,
            mock.base_url(),
            model_dir().display()
        ),
    )
    .unwrap();
    let _child = Killed(
        Command::new(BIN)
            .args(["--config", config.to_str().unwrap()])
            .current_dir(dir.path())
            .env_clear()
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !matches!(http.get(format!("{base}/readyz")).send().await, Ok(r) if r.status() == 200) {
        assert!(Instant::now() < deadline, "the gateway never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ask = |content: &str, traceparent: Option<String>, stream: bool| {
        let body = if stream {
            chat_stream(content)
        } else {
            chat(content)
        };
        let mut request = http
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(KEY_A)
            .json(&body);
        if let Some(tp) = traceparent {
            request = request.header("traceparent", tp);
        }
        request.send()
    };

    // 1. A miss that continues the client's trace: every stage is a child of
    // the request span, and the upstream sees the attempt span as parent.
    let response = ask(
        "How do I reset my password?",
        Some(format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01")),
        false,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap();
    let got = spans_until(&spans, |s| {
        s.iter()
            .any(|x| x["traceId"] == CLIENT_TRACE && x["kind"] == 2)
    })
    .await;
    let trace: Vec<&Value> = got
        .iter()
        .filter(|s| s["traceId"] == CLIENT_TRACE)
        .collect();
    let root = trace.iter().find(|s| s["kind"] == 2).unwrap();
    assert_eq!(root["name"], "POST /v1/chat/completions");
    assert_eq!(root["parentSpanId"], CLIENT_SPAN);
    assert_eq!(attr(root, "gen_ai.operation.name"), Some(json!("chat")));
    assert_eq!(
        attr(root, "gen_ai.request.model"),
        Some(json!("mock-model"))
    );
    assert_eq!(attr(root, "http.response.status_code"), Some(json!("200")));
    assert_eq!(attr(root, "gateway.cache"), Some(json!("miss")));
    assert_eq!(attr(root, "gateway.tenant"), Some(json!("team-a")));
    assert!(attr(root, "gen_ai.usage.input_tokens").is_some(), "{root}");
    assert!(attr(root, "gen_ai.usage.output_tokens").is_some(), "{root}");
    let by_name: HashMap<&str, &&Value> = trace
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s))
        .collect();
    for stage in [
        "auth",
        "ratelimit",
        "cache.l1",
        "cache.l2",
        "upstream.attempt",
        "cache.fill",
    ] {
        let span = by_name
            .get(stage)
            .unwrap_or_else(|| panic!("no {stage} span in {trace:#?}"));
        assert_eq!(span["parentSpanId"], root["spanId"], "{stage}");
        let (start, end) = (&span["startTimeUnixNano"], &span["endTimeUnixNano"]);
        let (start, end): (u128, u128) = (
            start.as_str().unwrap().parse().unwrap(),
            end.as_str().unwrap().parse().unwrap(),
        );
        assert!(start <= end && start > 0, "{stage}: {start} {end}");
    }
    let l2 = by_name["cache.l2"];
    assert_eq!(by_name["embed"]["parentSpanId"], l2["spanId"]);
    assert_eq!(by_name["l2.search"]["parentSpanId"], l2["spanId"]);
    let attempt = by_name["upstream.attempt"];
    assert_eq!(attempt["kind"], 3);
    assert_eq!(attr(attempt, "gateway.retry.attempt"), Some(json!("1")));
    assert_eq!(
        mock.traceparents_seen().last().cloned().flatten(),
        Some(format!(
            "00-{CLIENT_TRACE}-{}-01",
            attempt["spanId"].as_str().unwrap()
        )),
        "the upstream's parent is the attempt span"
    );

    // 2. A paraphrase: an L2 hit, verified, with its similarity; a new trace.
    let response = ask("how can I reset my password", None, false)
        .await
        .unwrap();
    assert_eq!(response.headers()["x-gateway-cache"], "hit-l2");
    response.text().await.unwrap();
    let got = spans_until(&spans, |s| {
        s.iter()
            .any(|x| x["kind"] == 2 && attr(x, "gateway.cache") == Some(json!("hit-l2")))
    })
    .await;
    let root = got
        .iter()
        .find(|x| x["kind"] == 2 && attr(x, "gateway.cache") == Some(json!("hit-l2")))
        .unwrap();
    assert_ne!(root["traceId"], CLIENT_TRACE);
    assert!(root.get("parentSpanId").is_none());
    assert!(attr(root, "gateway.cache.similarity").is_some());
    let verify = got
        .iter()
        .find(|x| x["traceId"] == root["traceId"] && x["name"] == "l2.verify")
        .expect("a verify span");
    assert_eq!(attr(verify, "gateway.l2.mode"), Some(json!("model")));
    assert!(
        !got.iter()
            .any(|x| x["traceId"] == root["traceId"] && x["name"] == "upstream.attempt")
    );

    // 3. Retries: one attempt span per try, numbered, the failed ones marked.
    mock.push_faults([
        mock_upstream::Fault::Status {
            status: 503,
            retry_after: None,
        },
        mock_upstream::Fault::Status {
            status: 503,
            retry_after: None,
        },
    ]);
    let response = ask("retry me please", None, false).await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap();
    let got = spans_until(&spans, |s| {
        s.iter()
            .any(|x| attr(x, "gateway.retry.attempt") == Some(json!("3")))
    })
    .await;
    let third = got
        .iter()
        .find(|x| attr(x, "gateway.retry.attempt") == Some(json!("3")))
        .unwrap();
    let attempts: Vec<&Value> = got
        .iter()
        .filter(|x| x["traceId"] == third["traceId"] && x["name"] == "upstream.attempt")
        .collect();
    assert_eq!(attempts.len(), 3);
    for a in &attempts {
        let failed = attr(a, "http.response.status_code") == Some(json!("503"));
        assert_eq!(a["status"]["code"], if failed { 2 } else { 0 }, "{a}");
    }

    // 4. A stream: its request span closes at the stream's end with usage.
    let response = ask("stream me a story", None, true).await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("[DONE]"));
    let got = spans_until(&spans, |s| {
        s.iter()
            .any(|x| x["kind"] == 2 && attr(x, "gateway.stream") == Some(json!(true)))
    })
    .await;
    let root = got
        .iter()
        .find(|x| x["kind"] == 2 && attr(x, "gateway.stream") == Some(json!(true)))
        .unwrap();
    assert_eq!(attr(root, "gateway.outcome"), Some(json!("complete")));
    assert!(attr(root, "gen_ai.usage.output_tokens").is_some(), "{root}");
}
