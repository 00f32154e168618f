//! Mock legacy `/v1/completions`: the prompt echoed, as JSON or SSE.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::MockState;
use super::chat::{apply_faults, error, sse};

pub async fn completions(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "mock: body is not JSON", None);
    };
    if let Err(response) = apply_faults(&state, &headers, request.clone()).await {
        return response;
    }
    let prompt = match &request["prompt"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = format!("Mock completion of: {prompt}");
    let tokens = prompt.split_whitespace().count();
    let completion_tokens = text.split_whitespace().count();
    let usage = json!({"prompt_tokens": tokens, "completion_tokens": completion_tokens,
                       "total_tokens": tokens + completion_tokens});
    let head = |choices: Value| {
        json!({"id": "cmpl-mock", "object": "text_completion", "created": 1_700_000_000,
               "model": request["model"], "choices": choices})
    };
    if request["stream"].as_bool() == Some(true) {
        let mut events: Vec<Bytes> = text
            .split(' ')
            .enumerate()
            .map(|(i, w)| {
                let piece = if i == 0 {
                    w.to_string()
                } else {
                    format!(" {w}")
                };
                let chunk = head(json!([{"index": 0, "text": piece, "finish_reason": null}]));
                Bytes::from(format!("data: {chunk}\n\n"))
            })
            .collect();
        let last = head(json!([{"index": 0, "text": "", "finish_reason": "stop"}]));
        events.push(Bytes::from(format!("data: {last}\n\n")));
        events.push(Bytes::from_static(b"data: [DONE]\n\n"));
        return sse(&state, events, None);
    }
    let mut answer = head(json!([{"index": 0, "text": text, "finish_reason": "stop"}]));
    answer["usage"] = usage;
    axum::Json(answer).into_response()
}
