//! Answers that cost no upstream call: a cached entry, served in the shape the
//! client asked for (JSON, SSE synthesised from it, or the events replayed as
//! they came), what another request's upstream call landed with, or its stream
//! relayed live. Each settles its charge as free and counts what it saved.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

use super::call::Call;
use super::events::{errors_as_events, strip_usage};
use crate::cache::{CachedResponse, Capture, Flight, Landed, Live, sse};
use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::ratelimit::Charge;

/// A hit of `tier`: the cached answer, its tokens and dollars counted as
/// saved, the charge settled as costing no upstream call.
pub fn hit(
    gw: &Gateway,
    entry: &CachedResponse,
    call: &Call<'_>,
    mut charge: Charge,
    tier: &'static str,
) -> Result<Response, GatewayError> {
    charge.answered_from_cache();
    let usage = entry.usage;
    gw.metrics.tokens_saved(usage.prompt, usage.completion);
    gw.costs
        .saved(call.tenant, &call.request.model, tier, usage);
    let mut response = cached(entry, call)?;
    let saved = usage.prompt.saturating_add(usage.completion);
    response
        .headers_mut()
        .insert("x-gateway-tokens-saved", HeaderValue::from(saved));
    Ok(response)
}

/// A cached answer as JSON, or as a stream: the events as they came (a raw
/// capture) or synthesised from the completion.
fn cached(entry: &CachedResponse, call: &Call<'_>) -> Result<Response, GatewayError> {
    if !call.stream {
        return Ok(json(StatusCode::OK, entry.body.clone()));
    }
    let events = match call.route.capture {
        Capture::Raw => entry.body.clone(),
        Capture::Chat | Capture::None => {
            let completion: Value =
                serde_json::from_slice(&entry.body).map_err(|_| GatewayError::Internal)?;
            sse::synthesize(&completion, call.wants_usage)
        }
    };
    Ok(event_stream(Body::from(events)))
}

fn event_stream(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Another request's upstream call, for one of its followers: its stream
/// relayed live, or what it landed with.
pub fn followed(
    gw: &Gateway,
    flight: Flight,
    call: &Call<'_>,
    charge: Charge,
) -> Result<Response, GatewayError> {
    let landed = match flight {
        Flight::Live(relay) => return Ok(relayed(gw, &relay, call, charge)),
        Flight::Followed(landed) => landed,
        // The pipeline handles a lead and a cached answer itself.
        Flight::Lead(_) | Flight::Cached(_) => return Err(GatewayError::Internal),
    };
    match landed {
        Landed::Answer(entry) => hit(gw, &entry, call, charge, "coalesced"),
        Landed::Failed { status, body } => Ok(json(status, body)),
        Landed::Cut => Err(GatewayError::UpstreamUnavailable {
            message: "the upstream stream ended abnormally".into(),
        }),
        // `Flights::board` never hands out an abandoned flight.
        Landed::Abandoned => Err(GatewayError::Internal),
    }
}

/// A flight's stream as its leader receives it, for a follower that wants a
/// stream too (its charge settled as costing no upstream call).
fn relayed(gw: &Gateway, relay: &Arc<Live>, call: &Call<'_>, mut charge: Charge) -> Response {
    charge.answered_from_cache();
    gw.metrics.coalesced_stream();
    let mut response = event_stream(Body::from_stream(relay.reader()));
    if !call.wants_usage {
        response = strip_usage(response);
    }
    errors_as_events(response)
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
