//! Mock `/v1/responses` (the Responses API): a response echoing the input,
//! as JSON or as its stream of typed events, `response.completed` last.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::chat::{apply_faults, error, last_user_text, sse};
use super::{Fault, MockState};

static NEXT: AtomicU64 = AtomicU64::new(1);

pub async fn create(
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
    let input = match &request["input"] {
        Value::String(s) => s.clone(),
        Value::Array(items) => last_user_text(items),
        _ => String::new(),
    };
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let text = format!("Mock answer to: {input}");
    let (response, message) = response(&request, n, &input, &text);
    if request["stream"].as_bool() != Some(true) {
        return axum::Json(response).into_response();
    }
    let cut = match fault {
        Some(Fault::CutStreamAfter(k)) => Some(k),
        _ => None,
    };
    sse(&state, events(&response, &message, &text), cut)
}

/// The completed response and its one output message.
fn response(request: &Value, n: u64, input: &str, text: &str) -> (Value, Value) {
    let message = json!({
        "type": "message", "id": format!("msg_mock_{n}"), "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    });
    let (input_tokens, output_tokens) = (
        input.split_whitespace().count() as u64,
        text.split_whitespace().count() as u64,
    );
    let response = json!({
        "id": format!("resp_mock_{n}"), "object": "response", "created_at": 1_700_000_000,
        "status": "completed", "model": request["model"], "output": [message],
        "parallel_tool_calls": true, "tool_choice": "auto", "tools": [],
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                  "total_tokens": input_tokens + output_tokens,
                  "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens_details": {"reasoning_tokens": 0}},
    });
    (response, message)
}

/// The typed events of a streamed response, as OpenAI sends them.
fn events(response: &Value, message: &Value, text: &str) -> Vec<Bytes> {
    let mut in_progress = response.clone();
    in_progress["status"] = json!("in_progress");
    in_progress["output"] = json!([]);
    in_progress["usage"] = Value::Null;
    let mut item = message.clone();
    item["status"] = json!("in_progress");
    item["content"] = json!([]);
    let item_id = message["id"].clone();
    let part = json!({"type": "output_text", "text": "", "annotations": []});
    let mut list = vec![
        json!({"type": "response.created", "response": in_progress}),
        json!({"type": "response.in_progress", "response": in_progress}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
        json!({"type": "response.content_part.added", "item_id": item_id, "output_index": 0,
               "content_index": 0, "part": part}),
    ];
    for (i, word) in text.split(' ').enumerate() {
        let delta = if i == 0 {
            word.to_string()
        } else {
            format!(" {word}")
        };
        list.push(
            json!({"type": "response.output_text.delta", "item_id": item_id,
                         "output_index": 0, "content_index": 0, "delta": delta}),
        );
    }
    list.push(
        json!({"type": "response.output_text.done", "item_id": item_id,
                     "output_index": 0, "content_index": 0, "text": text}),
    );
    list.push(
        json!({"type": "response.content_part.done", "item_id": item_id, "output_index": 0,
                     "content_index": 0, "part": message["content"][0]}),
    );
    list.push(json!({"type": "response.output_item.done", "output_index": 0, "item": message}));
    list.push(json!({"type": "response.completed", "response": response}));
    list.into_iter()
        .enumerate()
        .map(|(i, mut event)| {
            event["sequence_number"] = json!(i);
            let kind = event["type"].as_str().unwrap_or("").to_string();
            Bytes::from(format!("event: {kind}\ndata: {event}\n\n"))
        })
        .collect()
}
