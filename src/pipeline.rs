//! The request pipeline, readable top to bottom (DESIGN.md §1). Each proxied
//! route is one function that calls the stages in order:
//!
//! auth → body limit + parse → route to upstream → forward (key pool, retries,
//! SSE passthrough) → respond. Rate limits and the caches slot in between parse
//! and forward as those stages land.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value};

use crate::access::RequestInfo;
use crate::error::GatewayError;
use crate::server::Gateway;
use crate::upstream::{Upstream, UpstreamRequest, upstream_request_headers};

/// `POST /v1/chat/completions`, JSON or SSE.
pub async fn chat_completions(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut info = RequestInfo::default();
    let result = chat(&gw, &headers, body, &mut info).await;
    respond(info, result)
}

async fn chat(
    gw: &Gateway,
    headers: &HeaderMap,
    body: Body,
    info: &mut RequestInfo,
) -> Result<Response, GatewayError> {
    let tenant = gw.auth.authenticate(headers)?;
    info.tenant = Some(tenant.name.clone());
    let body = read_body(body, headers, gw.config.server.max_body_bytes).await?;
    let request = ApiRequest::parse(&body, Some("messages"))?;
    info.model = Some(request.model.clone());
    info.stream = request.stream;
    let upstream = gw.upstreams.route(Some(&request.model));
    forward(
        gw,
        upstream,
        "/chat/completions",
        headers,
        body,
        request.stream,
        info,
    )
    .await
}

/// `POST /v1/embeddings`.
pub async fn embeddings(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut info = RequestInfo::default();
    let result = embed(&gw, &headers, body, &mut info).await;
    respond(info, result)
}

async fn embed(
    gw: &Gateway,
    headers: &HeaderMap,
    body: Body,
    info: &mut RequestInfo,
) -> Result<Response, GatewayError> {
    let tenant = gw.auth.authenticate(headers)?;
    info.tenant = Some(tenant.name.clone());
    let body = read_body(body, headers, gw.config.server.max_body_bytes).await?;
    let request = ApiRequest::parse(&body, Some("input"))?;
    info.model = Some(request.model.clone());
    let upstream = gw.upstreams.route(Some(&request.model));
    forward(gw, upstream, "/embeddings", headers, body, false, info).await
}

/// `GET /v1/models`, from the default upstream.
pub async fn models(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let mut info = RequestInfo::default();
    let result = async {
        let tenant = gw.auth.authenticate(&headers)?;
        info.tenant = Some(tenant.name.clone());
        let upstream = gw.upstreams.route(None);
        let call = UpstreamRequest {
            method: Method::GET,
            path: "/models",
            headers: upstream_request_headers(&headers, headers.get("x-request-id")),
            body: Bytes::new(),
            stream: false,
        };
        send(&gw, upstream, call, &mut info).await
    }
    .await;
    respond(info, result)
}

async fn forward(
    gw: &Gateway,
    upstream: &Upstream,
    path: &'static str,
    headers: &HeaderMap,
    body: Bytes,
    stream: bool,
    info: &mut RequestInfo,
) -> Result<Response, GatewayError> {
    let call = UpstreamRequest {
        method: Method::POST,
        path,
        headers: upstream_request_headers(headers, headers.get("x-request-id")),
        body,
        stream,
    };
    send(gw, upstream, call, info).await
}

async fn send(
    gw: &Gateway,
    upstream: &Upstream,
    call: UpstreamRequest,
    info: &mut RequestInfo,
) -> Result<Response, GatewayError> {
    match gw.forwarder.send(upstream, &call).await {
        Ok(answer) => {
            info.attempts = answer.attempts;
            Ok(answer.into_response(gw.stream_idle_timeout()))
        }
        Err(e) => {
            info.attempts = e.attempts();
            Err(e.into())
        }
    }
}

/// The response (or error) with the request facts attached for the access log.
fn respond(info: RequestInfo, result: Result<Response, GatewayError>) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    response.extensions_mut().insert(info);
    response
}

/// Reads the body up to `limit` bytes: 413 above it, announced or not.
async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, GatewayError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(GatewayError::PayloadTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(GatewayError::PayloadTooLarge { limit })
        }
        Err(_) => Err(GatewayError::bad_request("could not read the request body")),
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
    pub fn parse(body: &[u8], required: Option<&'static str>) -> Result<Self, GatewayError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            GatewayError::bad_request(format!("request body is not valid JSON: {e}"))
        })?;
        let Value::Object(fields) = value else {
            return Err(GatewayError::bad_request(
                "request body must be a JSON object",
            ));
        };
        let model = match fields.get("model") {
            Some(Value::String(m)) if !m.is_empty() => m.clone(),
            _ => {
                return Err(GatewayError::BadRequest {
                    message: "`model` must be a non-empty string".into(),
                    param: Some("model"),
                });
            }
        };
        let stream = match fields.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(GatewayError::BadRequest {
                    message: "`stream` must be a boolean".into(),
                    param: Some("stream"),
                });
            }
        };
        if let Some(name) = required
            && !fields.contains_key(name)
        {
            return Err(GatewayError::BadRequest {
                message: format!("missing required parameter `{name}`"),
                param: Some(name),
            });
        }
        Ok(Self {
            model,
            stream,
            fields,
        })
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
            assert_eq!(err.status(), 400, "{}", String::from_utf8_lossy(body));
        }
    }
}
