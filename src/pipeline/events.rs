//! A stream that breaks after its first byte cannot change its status any
//! more: it ends with a final `data: {"error": …}` event in OpenAI's error
//! shape — which the SDKs raise as an `APIError` — instead of a cut
//! connection, and the access record says `upstream_error`.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::access::StreamOutcome;
use crate::error::GatewayError;

/// `response` with its event stream's failure turned into an error event.
pub fn errors_as_events(response: Response) -> Response {
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !is_sse {
        return response;
    }
    let outcome = StreamOutcome::default();
    let (mut parts, body) = response.into_parts();
    parts.extensions.insert(outcome.clone());
    let body = Body::new(EventOnError {
        inner: body,
        outcome,
        ended: false,
    });
    Response::from_parts(parts, body)
}

/// The error event for a stream that broke (`reason`: why).
pub fn error_event(reason: &str) -> Bytes {
    let error = GatewayError::UpstreamUnavailable {
        message: format!("the upstream stream failed after it started: {reason}"),
    };
    Bytes::from(format!("data: {}\n\n", error.body()))
}

struct EventOnError {
    inner: Body,
    outcome: StreamOutcome,
    ended: bool,
}

impl http_body::Body for EventOnError {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Err(e))) => {
                self.ended = true;
                self.outcome.set("upstream_error");
                Poll::Ready(Some(Ok(Frame::data(error_event(&e.to_string())))))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// `body` without the usage-only chunk (empty `choices`, a `usage` object):
/// the gateway asks every upstream stream for usage, and a client that did
/// not ask for it (`stream_options.include_usage`) must not see it.
pub fn strip_usage(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let body = Body::new(StripUsage {
        inner: body,
        partial: Vec::new(),
    });
    Response::from_parts(parts, body)
}

struct StripUsage {
    inner: Body,
    /// Bytes of an event not yet terminated.
    partial: Vec<u8>,
}

/// Whether `event` (one SSE event, without its blank line) is the usage chunk.
fn is_usage_chunk(event: &[u8]) -> bool {
    let Some(data) = event.strip_prefix(b"data:") else {
        return false;
    };
    if !data.windows(7).any(|w| w == b"\"usage\"") {
        return false;
    }
    serde_json::from_slice::<serde_json::Value>(data.trim_ascii())
        .is_ok_and(|v| v["usage"].is_object() && v["choices"].as_array().is_some_and(Vec::is_empty))
}

impl StripUsage {
    /// The complete events of `partial` + `bytes`, the usage chunk left out;
    /// an unterminated tail stays in `partial`.
    fn filter(&mut self, bytes: &[u8]) -> Bytes {
        self.partial.extend_from_slice(bytes);
        let mut out = Vec::with_capacity(self.partial.len());
        let mut start = 0;
        while let Some(end) = find(&self.partial[start..], b"\n\n") {
            let event = &self.partial[start..start + end];
            if !is_usage_chunk(event) {
                out.extend_from_slice(&self.partial[start..start + end + 2]);
            }
            start += end + 2;
        }
        self.partial.drain(..start);
        Bytes::from(out)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl http_body::Body for StripUsage {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        loop {
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let kept = self.filter(&data);
                        if !kept.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(kept))));
                        }
                    }
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                Poll::Ready(None) if !self.partial.is_empty() => {
                    let rest = Bytes::from(std::mem::take(&mut self.partial));
                    return Poll::Ready(Some(Ok(Frame::data(rest))));
                }
                other => return other,
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usage_chunk_is_left_out_and_every_other_event_kept_whole() {
        let mut strip = StripUsage {
            inner: Body::empty(),
            partial: Vec::new(),
        };
        let a = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n";
        let usage = b"data: {\"choices\":[],\"usage\":{\"total_tokens\":5}}\n\n";
        let done = b"data: [DONE]\n\n";
        let mut all = Vec::new();
        all.extend_from_slice(a);
        all.extend_from_slice(usage);
        all.extend_from_slice(done);
        // Fed in awkward pieces: an event split across chunks is held, then kept.
        let mut out = Vec::new();
        for piece in all.chunks(7) {
            out.extend_from_slice(&strip.filter(piece));
        }
        let mut want = a.to_vec();
        want.extend_from_slice(done);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(want).unwrap()
        );
    }
}
