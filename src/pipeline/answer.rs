//! Answers that cost no upstream call: a cached entry, served in the shape the
//! client asked for (JSON, or SSE synthesised from it), or what another
//! request's upstream call landed with.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

use super::call::Call;
use crate::cache::{CachedResponse, Landed, sse};
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::ratelimit::Charge;

/// A hit: the cached answer, and the charge settled as costing no upstream call.
pub fn hit(
    metrics: &Metrics,
    entry: &CachedResponse,
    call: &Call<'_>,
    mut charge: Charge,
) -> Result<Response, GatewayError> {
    charge.answered_from_cache();
    cached(metrics, entry, call)
}

/// A cached answer as JSON, or as SSE synthesised from it; its tokens are
/// counted as saved.
fn cached(
    metrics: &Metrics,
    entry: &CachedResponse,
    call: &Call<'_>,
) -> Result<Response, GatewayError> {
    metrics.tokens_saved(entry.usage.prompt, entry.usage.completion);
    if !call.stream {
        return Ok(json(StatusCode::OK, entry.body.clone()));
    }
    let completion: Value =
        serde_json::from_slice(&entry.body).map_err(|_| GatewayError::Internal)?;
    let include_usage = call
        .request
        .fields
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut response = Response::new(sse::synthesize(&completion, include_usage).into());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// What a flight's leader landed, for one of its followers (its charge
/// settled as costing no upstream call).
pub fn landed(
    metrics: &Metrics,
    landed: Landed,
    call: &Call<'_>,
    mut charge: Charge,
) -> Result<Response, GatewayError> {
    charge.answered_from_cache();
    match landed {
        Landed::Answer(entry) => cached(metrics, &entry, call),
        Landed::Failed { status, body } => Ok(json(status, body)),
        Landed::Cut => Err(GatewayError::UpstreamUnavailable {
            message: "the upstream stream ended abnormally".into(),
        }),
        // `Flights::board` never hands out an abandoned flight.
        Landed::Abandoned => Err(GatewayError::Internal),
    }
}

pub fn json(status: StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
