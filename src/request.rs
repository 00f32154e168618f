//! Reading and parsing a request body: the size limit (413) and the few fields
//! the gateway needs (400 when they are malformed); every other field is
//! forwarded untouched.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value};

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("could not read the request body")]
    Unreadable,
    #[error("{message}")]
    Invalid {
        message: String,
        /// The field at fault, as OpenAI's `param`.
        param: Option<&'static str>,
    },
}

impl RequestError {
    fn invalid(message: impl Into<String>, param: Option<&'static str>) -> Self {
        Self::Invalid {
            message: message.into(),
            param,
        }
    }
}

/// Reads the body up to `limit` bytes: 413 above it, announced or not.
pub async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, RequestError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(RequestError::TooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(RequestError::TooLarge { limit })
        }
        Err(_) => Err(RequestError::Unreadable),
    }
}

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
        Ok(Self {
            model,
            stream,
            fields,
        })
    }
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
        prompt + completion.saturating_mul(choices)
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
        let body = br#"{"model":"m","stream":true,"messages":[],"x_custom":{"a":1}}"#;
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
