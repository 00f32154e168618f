//! Converting between the two shapes of a chat answer: a captured SSE stream is
//! assembled into one `chat.completion`, and a cached completion is synthesised
//! into a valid chunk sequence ending in `[DONE]` — so either capture serves
//! either kind of request.

use bytes::Bytes;
use serde_json::{Map, Value, json};

/// Top-level fields a chunk and its completion share.
const HEAD_FIELDS: [&str; 5] = [
    "id",
    "created",
    "model",
    "system_fingerprint",
    "service_tier",
];

/// Assembles a captured stream into a `chat.completion`. `None` unless the
/// stream ended cleanly with `data: [DONE]` and every event parsed.
pub fn assemble(stream: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(stream).ok()?;
    let mut done = false;
    let mut head = Map::new();
    let mut choices: Vec<Choice> = Vec::new();
    let mut usage = Value::Null;
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let data = data.trim();
        if data == "[DONE]" {
            done = true;
            continue;
        }
        if done {
            return None; // events after [DONE]
        }
        let chunk: Value = serde_json::from_str(data).ok()?;
        if chunk.get("error").is_some() {
            return None;
        }
        for field in HEAD_FIELDS {
            if let Some(v) = chunk.get(field).filter(|v| !v.is_null()) {
                head.insert(field.to_string(), v.clone());
            }
        }
        if chunk["usage"].is_object() {
            usage = chunk["usage"].clone();
        }
        for c in chunk["choices"].as_array().into_iter().flatten() {
            let index = c["index"].as_u64().unwrap_or(0) as usize;
            if index > 1024 {
                return None;
            }
            if choices.len() <= index {
                choices.resize_with(index + 1, Choice::default);
            }
            choices[index].absorb(c);
        }
    }
    if !done {
        return None;
    }
    let mut out = head;
    out.insert("object".into(), json!("chat.completion"));
    let choices: Vec<Value> = choices
        .into_iter()
        .enumerate()
        .map(|(i, c)| c.finish(i))
        .collect();
    out.insert("choices".into(), Value::Array(choices));
    if !usage.is_null() {
        out.insert("usage".into(), usage);
    }
    Some(Value::Object(out))
}

#[derive(Default)]
struct Choice {
    role: Option<Value>,
    content: Option<String>,
    refusal: Option<String>,
    tool_calls: Vec<Map<String, Value>>,
    finish_reason: Value,
}

impl Choice {
    fn absorb(&mut self, chunk: &Value) {
        let delta = &chunk["delta"];
        if let Some(role) = delta.get("role").filter(|r| !r.is_null()) {
            self.role = Some(role.clone());
        }
        if let Some(text) = delta["content"].as_str() {
            self.content.get_or_insert_with(String::new).push_str(text);
        }
        if let Some(text) = delta["refusal"].as_str() {
            self.refusal.get_or_insert_with(String::new).push_str(text);
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            self.absorb_tool_call(call);
        }
        if !chunk["finish_reason"].is_null() {
            self.finish_reason = chunk["finish_reason"].clone();
        }
    }

    /// Tool calls stream as fragments keyed by `index`; arguments concatenate.
    fn absorb_tool_call(&mut self, call: &Value) {
        let index = call["index"].as_u64().unwrap_or(0).min(1024) as usize;
        if self.tool_calls.len() <= index {
            self.tool_calls.resize_with(index + 1, Map::new);
        }
        let slot = &mut self.tool_calls[index];
        for field in ["id", "type"] {
            if let Some(v) = call.get(field).filter(|v| !v.is_null()) {
                slot.insert(field.into(), v.clone());
            }
        }
        if let Some(function) = call["function"].as_object() {
            let target = slot
                .entry("function")
                .or_insert_with(|| json!({"name": "", "arguments": ""}));
            for part in ["name", "arguments"] {
                if let Some(piece) = function.get(part).and_then(Value::as_str)
                    && let Some(existing) = target[part].as_str()
                {
                    target[part] = json!(format!("{existing}{piece}"));
                }
            }
        }
    }

    fn finish(self, index: usize) -> Value {
        let mut message = Map::new();
        message.insert("role".into(), self.role.unwrap_or(json!("assistant")));
        message.insert(
            "content".into(),
            self.content.map_or(Value::Null, Value::String),
        );
        if let Some(refusal) = self.refusal {
            message.insert("refusal".into(), json!(refusal));
        }
        if !self.tool_calls.is_empty() {
            let calls = self.tool_calls.into_iter().map(Value::Object).collect();
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        json!({"index": index, "message": message, "finish_reason": self.finish_reason})
    }
}

/// The final `response` of a captured Responses API stream: the
/// `response.completed` event's, when the stream reached it with no error
/// or failure event before.
pub fn completed_response(stream: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(stream).ok()?;
    let mut completed = None;
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let event: Value = serde_json::from_str(data.trim()).ok()?;
        match event["type"].as_str() {
            Some("response.completed") => completed = Some(event["response"].clone()),
            Some("error" | "response.failed" | "response.incomplete") => return None,
            _ if completed.is_some() => return None,
            _ => {}
        }
    }
    completed
}

/// The SSE events for a cached completion, `[DONE]` last; with `include_usage`
/// a final usage chunk (empty `choices`) as OpenAI sends it.
pub fn synthesize(completion: &Value, include_usage: bool) -> Bytes {
    let mut head = Map::new();
    for field in HEAD_FIELDS {
        if let Some(v) = completion.get(field) {
            head.insert(field.into(), v.clone());
        }
    }
    head.insert("object".into(), json!("chat.completion.chunk"));
    let chunk = |choices: Value| {
        let mut c = head.clone();
        c.insert("choices".into(), choices);
        Value::Object(c)
    };
    let mut events = Vec::new();
    for (i, choice) in completion["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let index = choice.get("index").cloned().unwrap_or(json!(i));
        let message = &choice["message"];
        let mut delta = Map::new();
        delta.insert(
            "role".into(),
            message.get("role").cloned().unwrap_or(json!("assistant")),
        );
        delta.insert(
            "content".into(),
            message.get("content").cloned().unwrap_or(json!("")),
        );
        for field in ["refusal", "tool_calls"] {
            if let Some(v) = message.get(field).filter(|v| !v.is_null()) {
                delta.insert(field.into(), with_indices(field, v));
            }
        }
        events.push(chunk(
            json!([{"index": index, "delta": delta, "finish_reason": null}]),
        ));
        let finish = choice
            .get("finish_reason")
            .cloned()
            .unwrap_or(json!("stop"));
        events.push(chunk(
            json!([{"index": index, "delta": {}, "finish_reason": finish}]),
        ));
    }
    if include_usage && let Some(usage) = completion.get("usage") {
        let mut last = chunk(json!([]));
        last["usage"] = usage.clone();
        events.push(last);
    }
    let mut out = String::new();
    for event in events {
        out.push_str("data: ");
        out.push_str(&event.to_string());
        out.push_str("\n\n");
    }
    out.push_str("data: [DONE]\n\n");
    Bytes::from(out)
}

/// Stream deltas carry an `index` on each tool call.
fn with_indices(field: &str, value: &Value) -> Value {
    match (field, value.as_array()) {
        ("tool_calls", Some(calls)) => Value::Array(
            calls
                .iter()
                .enumerate()
                .map(|(i, call)| {
                    let mut call = call.clone();
                    if let Some(obj) = call.as_object_mut() {
                        obj.insert("index".into(), json!(i));
                    }
                    call
                })
                .collect(),
        ),
        _ => value.clone(),
    }
}

#[cfg(test)]
mod tests;
