//! Upstream providers: named base URLs with key pools, model → upstream routing,
//! and the forwarding client (retries, timeouts, SSE passthrough).

mod forward;
mod headers;
mod pool;
mod retry;
mod stream;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;

use crate::config::Config;
use crate::error::GatewayError;

pub use forward::Forwarder;
pub use headers::{client_response_headers, upstream_request_headers};
pub use pool::{KeyPool, Lease};
pub use retry::{RetryPolicy, is_retryable, retry_after};
pub use stream::StreamObserver;

/// One provider: where to send requests and which keys to use.
pub struct Upstream {
    pub name: String,
    base_url: String,
    pub pool: KeyPool,
}

impl Upstream {
    /// Full URL for an API path such as `/chat/completions`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

/// All upstreams and the model → upstream routing table.
pub struct Upstreams {
    list: Vec<Arc<Upstream>>,
    default: usize,
    exact: HashMap<String, usize>,
    /// `(prefix, upstream)` for `"prefix*"` patterns, longest prefix first.
    prefixes: Vec<(String, usize)>,
}

impl Upstreams {
    /// Builds the table from a validated config.
    pub fn from_config(config: &Config) -> Result<Self, GatewayError> {
        let retry = &config.retry;
        let base = Duration::from_millis(retry.key_cooldown_ms);
        let max = Duration::from_secs(retry.max_retry_after_secs).max(base);
        let list: Vec<_> = config
            .upstreams
            .iter()
            .map(|u| {
                Arc::new(Upstream {
                    name: u.name.clone(),
                    base_url: u.base_url.trim_end_matches('/').to_string(),
                    pool: KeyPool::new(&u.api_keys, base, max),
                })
            })
            .collect();
        let index = |name: &str| list.iter().position(|u| u.name == name);
        let default = config
            .default_upstream_name()
            .and_then(index)
            .ok_or(GatewayError::Internal)?;
        let mut exact = HashMap::new();
        let mut prefixes = Vec::new();
        for (model, target) in &config.models {
            let i = index(target).ok_or(GatewayError::Internal)?;
            match model.strip_suffix('*') {
                Some(prefix) => prefixes.push((prefix.to_string(), i)),
                None => {
                    exact.insert(model.clone(), i);
                }
            }
        }
        prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(Self {
            list,
            default,
            exact,
            prefixes,
        })
    }

    /// The upstream serving `model`: exact mapping, then longest prefix, then default.
    pub fn route(&self, model: Option<&str>) -> &Arc<Upstream> {
        let index = model.and_then(|m| {
            self.exact.get(m).copied().or_else(|| {
                self.prefixes
                    .iter()
                    .find(|(p, _)| m.starts_with(p.as_str()))
                    .map(|(_, i)| *i)
            })
        });
        &self.list[index.unwrap_or(self.default)]
    }
}

/// A request to send upstream: the client's body bytes, untouched.
pub struct UpstreamRequest {
    pub method: Method,
    /// API path below the base URL, e.g. `/chat/completions`.
    pub path: &'static str,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The client asked for SSE: a 200 is streamed, never buffered.
    pub stream: bool,
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
            UpstreamBody::Stream(resp) => stream::passthrough(resp, stream_idle, observer),
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

impl From<UpstreamError> for GatewayError {
    fn from(e: UpstreamError) -> Self {
        let message = e.to_string();
        match e {
            UpstreamError::RateLimited { retry_after, .. } => GatewayError::UpstreamRateLimited {
                message,
                retry_after,
            },
            UpstreamError::Unavailable { .. } => GatewayError::UpstreamUnavailable { message },
            UpstreamError::Timeout { .. } => GatewayError::UpstreamTimeout { message },
        }
    }
}
