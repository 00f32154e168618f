//! Mock `/v1/chat/completions`: a deterministic answer echoing the last user
//! message, as JSON or as an SSE chunk sequence, with faults applied.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::{Fault, MockState};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub async fn completions(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "mock: body is not JSON", None);
    };
    let fault = match apply_faults(&state, &headers, request.clone()).await {
        Ok(fault) => fault,
        Err(response) => return response,
    };
    let answer = Answer::new(&request);
    if request["stream"].as_bool().unwrap_or(false) {
        let cut = match fault {
            Some(Fault::CutStreamAfter(n)) => Some(n),
            _ => None,
        };
        let include_usage = request["stream_options"]["include_usage"].as_bool() == Some(true);
        return sse(&state, answer.chunks(include_usage), cut);
    }
    axum::Json(answer.completion()).into_response()
}

/// Counts the request, waits the latency, and answers scripted, header or random
/// faults. `Ok` carries a fault still to apply while streaming.
pub(super) async fn apply_faults(
    state: &MockState,
    headers: &HeaderMap,
    body: Value,
) -> Result<Option<Fault>, Response> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut fault = header_fault(headers).or(state.admit(auth, body));
    let mut latency = state.options.latency;
    if let Some(ms) = header_u64(headers, "x-mock-latency-ms") {
        latency = Duration::from_millis(ms);
    }
    if let Some(Fault::Delay(extra)) = fault {
        latency += extra;
        fault = None;
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(Fault::Hold | Fault::HoldThenStatus(_)) = fault
        && let Some(gate) = state.gate()
        && let Ok(permit) = gate.acquire().await
    {
        permit.forget();
    }
    if let Some(Fault::HoldThenStatus(status)) = fault {
        fault = Some(Fault::Status {
            status,
            retry_after: None,
        });
    }
    match fault {
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            Err(error(status, "mock: injected fault", retry_after))
        }
        other => Ok(other),
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `x-mock-fault: 503` (any status) or `x-mock-fault: cut:3`, for trying the
/// gateway by hand (the gateway forwards unknown headers).
fn header_fault(headers: &HeaderMap) -> Option<Fault> {
    let value = headers.get("x-mock-fault")?.to_str().ok()?.trim();
    if let Some(n) = value.strip_prefix("cut:") {
        return n.parse().ok().map(Fault::CutStreamAfter);
    }
    value.parse().ok().map(|status| Fault::Status {
        status,
        retry_after: None,
    })
}

pub(super) fn error(status: StatusCode, message: &str, retry_after: Option<String>) -> Response {
    let body =
        json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}});
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(ra) = retry_after.and_then(|v| v.parse().ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, ra);
    }
    response
}

struct Answer {
    id: String,
    model: String,
    created: u64,
    words: Vec<String>,
    prompt_tokens: usize,
}

impl Answer {
    fn new(request: &Value) -> Self {
        let messages = request["messages"].as_array().cloned().unwrap_or_default();
        let last_user = messages
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .and_then(|m| m["content"].as_str())
            .unwrap_or("");
        let prompt_tokens = messages
            .iter()
            .filter_map(|m| m["content"].as_str())
            .map(|c| c.split_whitespace().count())
            .sum();
        let text = format!("Mock answer to: {last_user}");
        Self {
            id: format!("chatcmpl-mock-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed)),
            model: request["model"]
                .as_str()
                .unwrap_or("mock-model")
                .to_string(),
            created: 1_700_000_000,
            words: text.split_whitespace().map(str::to_string).collect(),
            prompt_tokens,
        }
    }

    fn usage(&self) -> Value {
        let completion = self.words.len();
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        })
    }

    fn completion(&self) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": self.words.join(" ")},
                "finish_reason": "stop",
            }],
            "usage": self.usage(),
        })
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    }

    /// The SSE events of the answer, `[DONE]` last.
    fn chunks(&self, include_usage: bool) -> Vec<Bytes> {
        let mut events = vec![self.chunk(json!({"role": "assistant", "content": ""}), None)];
        for (i, word) in self.words.iter().enumerate() {
            let text = if i == 0 {
                word.clone()
            } else {
                format!(" {word}")
            };
            events.push(self.chunk(json!({"content": text}), None));
        }
        events.push(self.chunk(json!({}), Some("stop")));
        if include_usage {
            let mut usage = self.chunk(json!({}), None);
            usage["choices"] = json!([]);
            usage["usage"] = self.usage();
            events.push(usage);
        }
        let mut out: Vec<Bytes> = events
            .iter()
            .map(|e| Bytes::from(format!("data: {e}\n\n")))
            .collect();
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
        out
    }
}

/// Counts a stream as cancelled when it is dropped before its last chunk.
struct CancelGuard {
    state: Arc<MockState>,
    finished: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.state.stream_cancelled();
        }
    }
}

struct Emitter {
    chunks: Vec<Bytes>,
    next: usize,
    gate: Option<Arc<Semaphore>>,
    cut: Option<usize>,
    delay: Duration,
    guard: CancelGuard,
}

fn sse(state: &Arc<MockState>, chunks: Vec<Bytes>, cut: Option<usize>) -> Response {
    let emitter = Emitter {
        chunks,
        next: 0,
        gate: state.gate(),
        cut,
        delay: state.options.chunk_delay,
        guard: CancelGuard {
            state: Arc::clone(state),
            finished: false,
        },
    };
    let stream = futures_util::stream::unfold(emitter, |mut e| async move {
        if e.guard.finished || e.next >= e.chunks.len() {
            return None;
        }
        if e.next == 1
            && let Some(gate) = &e.gate
            && let Ok(permit) = gate.acquire().await
        {
            permit.forget();
        }
        if e.next > 0 && !e.delay.is_zero() {
            tokio::time::sleep(e.delay).await;
        }
        if e.cut == Some(e.next) {
            e.guard.finished = true;
            return Some((Err(std::io::Error::other("mock: stream cut")), e));
        }
        let chunk = e.chunks[e.next].clone();
        e.next += 1;
        e.guard.finished = e.next == e.chunks.len();
        Some((Ok(chunk), e))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    response
}
