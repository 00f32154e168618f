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
    let echo = headers.get("x-mock-echo").and_then(|v| v.to_str().ok());
    let answer = Answer::new(&request, echo);
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
    let traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut fault = header_fault(headers).or(state.admit(auth, traceparent, body));
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
    /// `n` choices, all alike but for a suffix.
    n: usize,
    /// A function to call instead of answering (`tools`, unless
    /// `tool_choice` is `none`).
    tool: Option<String>,
    /// `response_format` asks for JSON: the answer is a JSON object.
    json_mode: bool,
}

/// The last user message's text (a string, or the text parts of an array).
pub(super) fn last_user_text(messages: &[Value]) -> String {
    let Some(content) = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| &m["content"])
    else {
        return String::new();
    };
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

impl Answer {
    /// `echo`: the `x-mock-echo` header, appended to the answer (tests see
    /// whose request an answer was made for).
    fn new(request: &Value, echo: Option<&str>) -> Self {
        let messages = request["messages"].as_array().cloned().unwrap_or_default();
        let last_user = last_user_text(&messages);
        let prompt_tokens = messages
            .iter()
            .filter_map(|m| m["content"].as_str())
            .map(|c| c.split_whitespace().count())
            .sum();
        let text = match echo {
            Some(echo) => format!("Mock answer to: {last_user} [echo: {echo}]"),
            None => format!("Mock answer to: {last_user}"),
        };
        let tool = match request["tool_choice"].as_str() {
            Some("none") => None,
            _ => request["tools"][0]["function"]["name"]
                .as_str()
                .map(str::to_string),
        };
        let format = request["response_format"]["type"].as_str();
        Self {
            id: format!("chatcmpl-mock-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed)),
            model: request["model"]
                .as_str()
                .unwrap_or("mock-model")
                .to_string(),
            created: 1_700_000_000,
            words: text.split_whitespace().map(str::to_string).collect(),
            prompt_tokens,
            n: request["n"].as_u64().unwrap_or(1).clamp(1, 16) as usize,
            tool,
            json_mode: matches!(format, Some("json_object" | "json_schema")),
        }
    }

    fn usage(&self) -> Value {
        let completion = self.words.len() * self.n;
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        })
    }

    /// The text of choice `i`.
    fn text(&self, i: usize) -> String {
        let mut text = self.words.join(" ");
        if i > 0 {
            text.push_str(&format!(" (choice {i})"));
        }
        if self.json_mode {
            text = json!({"answer": text}).to_string();
        }
        text
    }

    fn tool_call(&self, name: &str, i: usize) -> Value {
        json!({"id": format!("call_mock_{i}"), "type": "function",
               "function": {"name": name, "arguments": "{}"}})
    }

    fn completion(&self) -> Value {
        let choices: Vec<Value> = (0..self.n)
            .map(|i| match &self.tool {
                Some(name) => json!({
                    "index": i,
                    "message": {"role": "assistant", "content": null, "tool_calls": [self.tool_call(name, i)]},
                    "finish_reason": "tool_calls",
                }),
                None => json!({
                    "index": i,
                    "message": {"role": "assistant", "content": self.text(i)},
                    "finish_reason": "stop",
                }),
            })
            .collect();
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": self.usage(),
        })
    }

    fn chunk(&self, index: usize, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
        })
    }

    /// The SSE events of the answer, `[DONE]` last.
    fn chunks(&self, include_usage: bool) -> Vec<Bytes> {
        let mut events = Vec::new();
        for i in 0..self.n {
            events.push(self.chunk(i, json!({"role": "assistant", "content": ""}), None));
            if let Some(name) = &self.tool {
                let mut call = self.tool_call(name, i);
                call["index"] = json!(0);
                events.push(self.chunk(i, json!({"tool_calls": [call]}), None));
                events.push(self.chunk(i, json!({}), Some("tool_calls")));
                continue;
            }
            let text = self.text(i);
            let words: Vec<&str> = match self.json_mode {
                true => vec![text.as_str()],
                false => text.split(' ').collect(),
            };
            for (w, word) in words.iter().enumerate() {
                let piece = if w == 0 {
                    word.to_string()
                } else {
                    format!(" {word}")
                };
                events.push(self.chunk(i, json!({"content": piece}), None));
            }
            events.push(self.chunk(i, json!({}), Some("stop")));
        }
        if include_usage {
            let mut usage = self.chunk(0, json!({}), None);
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

pub(super) fn sse(state: &Arc<MockState>, chunks: Vec<Bytes>, cut: Option<usize>) -> Response {
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
