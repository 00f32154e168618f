//! One exchange with an upstream: the request as sent, the answer as it came
//! back (a full body, or a 200 stream to pass through), and why forwarding
//! failed.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;

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
}

pub enum UpstreamBody {
    Full(Bytes),
    Stream(reqwest::Response),
}

/// The upstream's answer, headers already filtered for the client.
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: UpstreamBody,
    pub attempts: u32,
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
            UpstreamBody::Stream(resp) => passthrough(resp, stream_idle, observer),
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
}

impl UpstreamError {
    pub fn attempts(&self) -> u32 {
        match self {
            Self::RateLimited { attempts, .. }
            | Self::Unavailable { attempts, .. }
            | Self::Timeout { attempts, .. } => *attempts,
        }
    }
}
