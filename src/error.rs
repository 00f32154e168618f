//! The gateway's own errors, each mapped to an HTTP status and the OpenAI error
//! JSON `{"error":{"message","type","param","code"}}` — here and nowhere else.
//! Stages return their own small error enums; the conversions below are the
//! one place they meet HTTP.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::AuthError;
use crate::cache::PolicyError;
use crate::ratelimit::Denial;
use crate::request::RequestError;
use crate::upstream::UpstreamError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{message}")]
    BadRequest {
        message: String,
        param: Option<&'static str>,
    },
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("request headers are larger than the limit of {limit} bytes")]
    HeadersTooLarge { limit: usize },
    #[error("request URI is longer than the limit of {limit} bytes")]
    UriTooLong { limit: usize },
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("{message}")]
    UnsupportedMediaType { message: String },
    #[error("missing or invalid gateway API key")]
    Unauthorized,
    #[error("the admin API is off: set admin.key (GATEWAY_ADMIN_KEY) to enable it")]
    AdminDisabled,
    #[error(
        "unknown route {method} {path}; the gateway serves POST /v1/chat/completions, POST /v1/responses, POST /v1/completions, POST /v1/embeddings, GET /v1/models and GET /v1/models/{{id}}"
    )]
    NotFound { method: String, path: String },
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("rate limit reached for {} per minute; retry after {:.1} s", .kind, .retry_after.as_secs_f64())]
    RateLimited {
        /// `requests` or `tokens`.
        kind: &'static str,
        retry_after: Duration,
    },
    #[error("{message}")]
    UpstreamRateLimited {
        message: String,
        retry_after: Option<Duration>,
    },
    /// A concurrency limit (a tenant's or a deployment's) stayed full.
    #[error("{message}")]
    Overloaded {
        message: String,
        retry_after: Duration,
    },
    #[error("{message}")]
    UpstreamUnavailable { message: String },
    #[error("{message}")]
    UpstreamTimeout { message: String },
    #[error("internal gateway error")]
    Internal,
}

impl GatewayError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            param: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::AdminDisabled => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::RateLimited { .. }
            | Self::UpstreamRateLimited { .. }
            | Self::Overloaded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UpstreamUnavailable { .. } => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// OpenAI's `type` field.
    fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest { .. }
            | Self::PayloadTooLarge { .. }
            | Self::HeadersTooLarge { .. }
            | Self::UriTooLong { .. }
            | Self::RequestTimeout
            | Self::UnsupportedMediaType { .. }
            | Self::NotFound { .. }
            | Self::MethodNotAllowed { .. } => "invalid_request_error",
            Self::Unauthorized => "authentication_error",
            Self::AdminDisabled => "permission_error",
            Self::RateLimited { kind, .. } => kind,
            Self::UpstreamRateLimited { .. } | Self::Overloaded { .. } => "rate_limit_error",
            Self::UpstreamUnavailable { .. } | Self::UpstreamTimeout { .. } => "upstream_error",
            Self::Internal => "server_error",
        }
    }

    /// OpenAI's `code` field; also a low-cardinality label for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "invalid_request",
            Self::PayloadTooLarge { .. } => "request_too_large",
            Self::HeadersTooLarge { .. } => "headers_too_large",
            Self::UriTooLong { .. } => "uri_too_long",
            Self::RequestTimeout => "request_timeout",
            Self::UnsupportedMediaType { .. } => "unsupported_encoding",
            Self::Unauthorized => "invalid_api_key",
            Self::AdminDisabled => "admin_disabled",
            Self::NotFound { .. } => "unknown_url",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::RateLimited { .. } => "rate_limit_exceeded",
            Self::UpstreamRateLimited { .. } => "upstream_rate_limited",
            Self::Overloaded { .. } => "concurrency_limit",
            Self::UpstreamUnavailable { .. } => "upstream_unavailable",
            Self::UpstreamTimeout { .. } => "upstream_timeout",
            Self::Internal => "internal_error",
        }
    }

    fn param(&self) -> Option<&'static str> {
        match self {
            Self::BadRequest { param, .. } => *param,
            _ => None,
        }
    }

    /// The error as the JSON body OpenAI clients understand.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.to_string(),
                "type": self.kind(),
                "param": self.param(),
                "code": self.code(),
            }
        })
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        let wait = match &self {
            Self::UpstreamRateLimited {
                retry_after: Some(wait),
                ..
            }
            | Self::RateLimited {
                retry_after: wait, ..
            }
            | Self::Overloaded {
                retry_after: wait, ..
            } => Some(*wait),
            _ => None,
        };
        if let Some(wait) = wait {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if matches!(self, Self::Unauthorized) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(ErrorCode(self.code()));
        response
    }
}

impl From<AuthError> for GatewayError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthorized => Self::Unauthorized,
            AuthError::AdminDisabled => Self::AdminDisabled,
        }
    }
}

impl From<RequestError> for GatewayError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::TooLarge { limit } => Self::PayloadTooLarge { limit },
            RequestError::Timeout => Self::RequestTimeout,
            RequestError::UnsupportedEncoding(_) => Self::UnsupportedMediaType {
                message: e.to_string(),
            },
            RequestError::Undecodable => Self::bad_request(e.to_string()),
            RequestError::Unreadable => Self::bad_request(e.to_string()),
            RequestError::Invalid { message, param } => Self::BadRequest { message, param },
        }
    }
}

impl From<PolicyError> for GatewayError {
    fn from(e: PolicyError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl From<Denial> for GatewayError {
    fn from(d: Denial) -> Self {
        Self::RateLimited {
            kind: d.kind.label(),
            retry_after: d.retry_after,
        }
    }
}

impl From<UpstreamError> for GatewayError {
    fn from(e: UpstreamError) -> Self {
        let message = e.to_string();
        match e {
            UpstreamError::RateLimited { retry_after, .. } => Self::UpstreamRateLimited {
                message,
                retry_after,
            },
            UpstreamError::Saturated { retry_after, .. } => Self::Overloaded {
                message,
                retry_after,
            },
            UpstreamError::Unavailable { .. } | UpstreamError::Ejected { .. } => {
                Self::UpstreamUnavailable { message }
            }
            UpstreamError::Timeout { .. } => Self::UpstreamTimeout { message },
        }
    }
}

/// Marks a response the gateway generated itself, for the access log.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_use_the_openai_shape_and_status() {
        let err = GatewayError::PayloadTooLarge { limit: 10 };
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = err.body();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "request_too_large");
        assert!(body["error"]["param"].is_null());
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("10 bytes")
        );
    }

    #[test]
    fn rate_limited_errors_carry_retry_after_rounded_up() {
        let err = GatewayError::UpstreamRateLimited {
            message: "slow down".into(),
            retry_after: Some(Duration::from_millis(1500)),
        };
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }
}
