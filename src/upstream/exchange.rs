//! One exchange with an upstream: the request as sent, the answer as it came
//! back (a full body, or a 200 stream to pass through), and why forwarding
//! failed.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;

pub use super::inflight::InFlight;
use super::stream::{StreamObserver, passthrough};

/// A request to send upstream: the client's body bytes, untouched.
pub struct UpstreamRequest {
    pub method: Method,
    /// API path below the base URL, e.g. `/chat/completions`.
    pub path: std::borrow::Cow<'static, str>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The client asked for SSE: a 200 is streamed, never buffered.
    pub stream: bool,
}

impl UpstreamRequest {
    /// Whether the client itself is retrying (the OpenAI SDKs say so): then
    /// the gateway does not retry again, and the attempt spends from the
    /// retry budget.
    pub fn client_retry(&self) -> bool {
        self.headers
            .get("x-stainless-retry-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok())
            .is_some_and(|n| n > 0)
    }

    /// The body to send to a deployment that serves the model as `model`
    /// (`None`: as the client named it).
    pub fn body_for(&self, model: Option<&str>) -> Bytes {
        let Some(model) = model else {
            return self.body.clone();
        };
        match serde_json::from_slice::<serde_json::Value>(&self.body) {
            Ok(mut value) if value.is_object() && value["model"] != model => {
                value["model"] = serde_json::Value::String(model.to_string());
                serde_json::to_vec(&value).map_or_else(|_| self.body.clone(), Bytes::from)
            }
            _ => self.body.clone(),
        }
    }
}

pub enum UpstreamBody {
    Full(Bytes),
    /// A 200 stream: its first chunk, already read, and the rest.
    Stream(Bytes, reqwest::Response),
}

/// The upstream's answer, headers already filtered for the client.
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: UpstreamBody,
    pub attempts: u32,
    /// The upstream that answered, and the model name it was sent (`None`:
    /// the request's own).
    pub upstream: String,
    pub model: Option<String>,
    pub in_flight: Option<InFlight>,
}

impl UpstreamResponse {
    /// The response for the client; streams pass through chunk by chunk, seen
    /// by `observer` if given.
    pub fn into_response(
        self,
        stream_idle: Duration,
        observer: Option<Box<dyn StreamObserver>>,
    ) -> Response {
        let body = match self.body {
            UpstreamBody::Full(bytes) => Body::from(bytes),
            UpstreamBody::Stream(first, resp) => {
                passthrough(first, resp, stream_idle, observer, self.in_flight)
            }
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

/// Why forwarding failed after all attempts.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream {upstream} is rate limiting every key ({attempts} attempts)")]
    RateLimited {
        upstream: String,
        attempts: u32,
        retry_after: Option<Duration>,
    },
    #[error("upstream {upstream} failed after {attempts} attempts: {last}")]
    Unavailable {
        upstream: String,
        attempts: u32,
        last: String,
    },
    #[error("upstream {upstream} did not answer in time ({attempts} attempts)")]
    Timeout { upstream: String, attempts: u32 },
    #[error("upstream {upstream} is at its concurrency limit")]
    Saturated {
        upstream: String,
        retry_after: Duration,
    },
    #[error("every deployment of model {model} is ejected after repeated failures")]
    Ejected { model: String },
}

impl UpstreamError {
    pub fn attempts(&self) -> u32 {
        match self {
            Self::RateLimited { attempts, .. }
            | Self::Unavailable { attempts, .. }
            | Self::Timeout { attempts, .. } => *attempts,
            Self::Saturated { .. } | Self::Ejected { .. } => 0,
        }
    }
}
