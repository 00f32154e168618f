use serde_json::{Value, json};

use super::*;

fn events(values: &[Value]) -> Vec<u8> {
    let mut out = String::new();
    for v in values {
        out.push_str(&format!("data: {v}\n\n"));
    }
    out.push_str("data: [DONE]\n\n");
    out.into_bytes()
}

fn completion() -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 5, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello world"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    })
}

#[test]
fn a_clean_stream_assembles_into_a_completion() {
    let stream = events(&[
        json!({"id": "c", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}),
        json!({"id": "c", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": null}]}),
        json!({"id": "c", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": null}]}),
        json!({"id": "c", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        json!({"id": "c", "created": 1, "model": "m", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}),
    ]);
    let done = assemble(&stream).expect("assembles");
    assert_eq!(done["object"], "chat.completion");
    assert_eq!(done["choices"][0]["message"]["content"], "Hello");
    assert_eq!(done["choices"][0]["message"]["role"], "assistant");
    assert_eq!(done["choices"][0]["finish_reason"], "stop");
    assert_eq!(done["usage"]["completion_tokens"], 2);
}

#[test]
fn streamed_tool_call_fragments_are_joined() {
    let stream = events(&[
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_", "arguments": "{\"a\""}}]}, "finish_reason": null}]}),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "weather", "arguments": ":1}"}}]}, "finish_reason": null}]}),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
    ]);
    let done = assemble(&stream).unwrap();
    let call = &done["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "call_1");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "{\"a\":1}");
    assert!(done["choices"][0]["message"]["content"].is_null());
}

#[test]
fn cut_or_broken_streams_do_not_assemble() {
    let full = events(&[
        json!({"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": null}]}),
    ]);
    let cut = &full[..full.len() - "data: [DONE]\n\n".len()];
    assert!(assemble(cut).is_none());
    assert!(assemble(b"data: {not json}\n\ndata: [DONE]\n\n").is_none());
    assert!(assemble(b"data: {\"error\":{\"message\":\"boom\"}}\n\ndata: [DONE]\n\n").is_none());
    assert!(assemble(&[0xff, 0xfe]).is_none());
}

#[test]
fn synthesised_streams_assemble_back_to_the_same_answer() {
    let original = completion();
    let stream = synthesize(&original, true);
    let text = std::str::from_utf8(&stream).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert!(text.contains("\"object\":\"chat.completion.chunk\""));
    let back = assemble(&stream).unwrap();
    assert_eq!(back["choices"], original["choices"]);
    assert_eq!(back["usage"], original["usage"]);
    assert_eq!(back["id"], original["id"]);
}

#[test]
fn usage_is_only_streamed_when_asked_for() {
    let text = String::from_utf8(synthesize(&completion(), false).to_vec()).unwrap();
    assert!(!text.contains("usage"));
}

#[test]
fn tool_calls_survive_synthesis() {
    let mut c = completion();
    c["choices"][0]["message"] = json!({"role": "assistant", "content": null,
        "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]});
    c["choices"][0]["finish_reason"] = json!("tool_calls");
    let back = assemble(&synthesize(&c, false)).unwrap();
    assert_eq!(
        back["choices"][0]["message"]["tool_calls"][0]["id"],
        "call_9"
    );
    assert_eq!(
        back["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "f"
    );
    assert_eq!(back["choices"][0]["finish_reason"], "tool_calls");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn chunk() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("data: [DONE]\n\n".to_string()),
            Just(
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n".to_string()
            ),
            Just("data: {\"choices\":[{\"index\":9999999999,\"delta\":{}}]}\n\n".to_string()),
            Just("data: {\"usage\":{\"total_tokens\":-1}}\n\n".to_string()),
            ".{0,40}".prop_map(|s| format!("data: {s}\n\n")),
            ".{0,40}",
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = assemble(&bytes);
        }

        #[test]
        fn arbitrary_event_sequences_never_panic(chunks in proptest::collection::vec(chunk(), 0..32)) {
            let stream = chunks.concat();
            if let Some(completion) = assemble(stream.as_bytes()) {
                let _ = synthesize(&completion, true);
            }
        }
    }
}
