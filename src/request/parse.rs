//! The fields of a request body the gateway itself reads (model, stream),
//! checked; the rest is kept as it came, for the cache key and the upstream.

use serde_json::{Map, Value};

use super::body::RequestError;

/// The fields the gateway itself needs; everything else is forwarded untouched.
#[derive(Debug)]
pub struct ApiRequest {
    pub model: String,
    pub stream: bool,
    pub fields: Map<String, Value>,
}

impl ApiRequest {
    /// Parses a JSON object body; `required` names a field that must be present.
    pub fn parse(body: &[u8], required: Option<&'static str>) -> Result<Self, RequestError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            RequestError::invalid(format!("request body is not valid JSON: {e}"), None)
        })?;
        let Value::Object(fields) = value else {
            return Err(RequestError::invalid(
                "request body must be a JSON object",
                None,
            ));
        };
        let model = match fields.get("model") {
            Some(Value::String(m)) if !m.is_empty() => m.clone(),
            _ => {
                return Err(RequestError::invalid(
                    "`model` must be a non-empty string",
                    Some("model"),
                ));
            }
        };
        let stream = match fields.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(RequestError::invalid(
                    "`stream` must be a boolean",
                    Some("stream"),
                ));
            }
        };
        if let Some(name) = required
            && !fields.contains_key(name)
        {
            return Err(RequestError::invalid(
                format!("missing required parameter `{name}`"),
                Some(name),
            ));
        }
        if required == Some("messages") {
            check_messages(&fields["messages"])?;
        }
        Ok(Self {
            model,
            stream,
            fields,
        })
    }
}

/// `messages`: a non-empty array of objects, each with a string `role` and
/// a `content` that is a string, null, or an array of typed parts.
fn check_messages(messages: &Value) -> Result<(), RequestError> {
    let bad = |message: String| RequestError::invalid(message, Some("messages"));
    let Some(list) = messages.as_array() else {
        return Err(bad("`messages` must be an array of message objects".into()));
    };
    if list.is_empty() {
        return Err(bad("`messages` must not be empty".into()));
    }
    for (i, message) in list.iter().enumerate() {
        let Some(message) = message.as_object() else {
            return Err(bad(format!("messages[{i}] must be an object")));
        };
        let role = message.get("role").and_then(Value::as_str);
        if role.is_none_or(str::is_empty) {
            return Err(bad(format!(
                "messages[{i}].role must be a non-empty string"
            )));
        }
        let content_ok = match message.get("content") {
            None | Some(Value::Null) | Some(Value::String(_)) => true,
            Some(Value::Array(parts)) => parts
                .iter()
                .all(|p| p.get("type").is_some_and(Value::is_string)),
            Some(_) => false,
        };
        if !content_ok {
            return Err(bad(format!(
                "messages[{i}].content must be a string, null or an array of content parts"
            )));
        }
    }
    Ok(())
}

impl ApiRequest {
    /// Tokens this request may cost, for charging token limits up front:
    /// about 4 characters a token of prompt text plus a few per message, plus
    /// the completion budget (`max_completion_tokens`, `max_tokens`, else
    /// `default_completion`) for each of `n` choices. Reconciled with the real
    /// `usage` afterwards.
    pub fn token_estimate(&self, default_completion: u32) -> u64 {
        let text_tokens = |v: &Value| (text_len(v) as u64).div_ceil(4);
        let prompt = match self.fields.get("messages") {
            Some(Value::Array(messages)) => messages.iter().map(|m| 4 + text_tokens(m)).sum(),
            _ => self.fields.get("input").map_or(0, text_tokens),
        };
        if !self.fields.contains_key("messages") {
            return prompt.max(1);
        }
        let completion = ["max_completion_tokens", "max_tokens"]
            .iter()
            .find_map(|f| self.fields.get(*f).and_then(Value::as_u64))
            .unwrap_or(u64::from(default_completion));
        let choices = self
            .fields
            .get("n")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .clamp(1, 128);
        prompt.saturating_add(completion.saturating_mul(choices))
    }
}

/// Characters of every string inside `value`.
fn text_len(value: &Value) -> usize {
    match value {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.iter().map(text_len).sum(),
        Value::Object(map) => map.values().map(text_len).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_request_yields_model_and_stream_and_keeps_unknown_fields() {
        let body = br#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}],"x_custom":{"a":1}}"#;
        let r = ApiRequest::parse(body, Some("messages")).unwrap();
        assert_eq!(r.model, "m");
        assert!(r.stream);
        assert_eq!(r.fields["x_custom"]["a"], 1);
    }

    #[test]
    fn token_estimates_count_prompt_text_and_the_completion_budget() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"abcdefgh"}],"max_tokens":100,"n":2}"#;
        let r = ApiRequest::parse(body, None).unwrap();
        // 4 per message + "user" (1) + "abcdefgh" (2) + 2 x 100.
        assert_eq!(r.token_estimate(256), 4 + 3 + 200);
        let r = ApiRequest::parse(br#"{"model":"m","messages":[]}"#, None).unwrap();
        assert_eq!(r.token_estimate(256), 256);
        let r = ApiRequest::parse(br#"{"model":"m","input":["abcd","efgh"]}"#, None).unwrap();
        assert_eq!(r.token_estimate(256), 2);
    }

    #[test]
    fn a_huge_completion_budget_saturates_instead_of_wrapping() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":18446744073709551615}"#;
        let r = ApiRequest::parse(body, None).unwrap();
        assert_eq!(r.token_estimate(256), u64::MAX);
    }

    #[test]
    fn malformed_messages_are_bad_requests_naming_the_field() {
        for messages in [
            r#""hello""#,
            r#"{"role":"user","content":"hi"}"#,
            "[]",
            r#"[{"content":"no role"}]"#,
            r#"[{"role":3,"content":"x"}]"#,
            r#"["just a string"]"#,
            r#"[{"role":"user","content":5}]"#,
            r#"[{"role":"user","content":[{"text":"no type"}]}]"#,
        ] {
            let body = format!(r#"{{"model":"m","messages":{messages}}}"#);
            match ApiRequest::parse(body.as_bytes(), Some("messages")) {
                Err(RequestError::Invalid { param, .. }) => assert_eq!(param, Some("messages")),
                other => panic!("{messages}: {other:?}"),
            }
        }
        let ok = br#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":null,"tool_calls":[]}]}"#;
        assert!(ApiRequest::parse(ok, Some("messages")).is_ok());
    }

    #[test]
    fn malformed_or_incomplete_bodies_are_bad_requests() {
        for body in [
            &b"{"[..],
            b"[]",
            b"{\"messages\":[]}",
            b"{\"model\":3,\"messages\":[]}",
            b"{\"model\":\"m\",\"stream\":\"yes\",\"messages\":[]}",
            b"{\"model\":\"m\"}",
        ] {
            let err = ApiRequest::parse(body, Some("messages")).unwrap_err();
            let err = crate::error::GatewayError::from(err);
            assert_eq!(err.status(), 400, "{}", String::from_utf8_lossy(body));
        }
    }
}
