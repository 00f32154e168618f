//! SSE passthrough: upstream chunks are forwarded as they arrive, never buffered.
//! A broken or idle upstream stream ends the client body with an error, so the
//! client sees a cut stream — never a second answer glued on. An optional
//! observer sees every chunk and how the stream ended (the cache captures
//! streams this way).

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;

use super::inflight::InFlight;

/// Watches a passed-through stream. Dropped without `end` when the client
/// goes away first.
pub trait StreamObserver: Send + 'static {
    fn chunk(&mut self, bytes: &Bytes);
    /// `clean`: the upstream finished normally (not cut, not idle).
    fn end(self: Box<Self>, clean: bool);
}

struct State {
    first: Option<Bytes>,
    chunks: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    observer: Option<Box<dyn StreamObserver>>,
    /// Released when the stream ends or the client goes.
    _in_flight: Option<InFlight>,
}

impl State {
    fn end(&mut self, clean: bool) {
        if let Some(observer) = self.observer.take() {
            observer.end(clean);
        }
    }
}

/// Passes `first`, then the rest of `response`'s body through; dropping the returned body (client gone)
/// drops the upstream response, which cancels the upstream request.
pub fn passthrough(
    first: Bytes,
    response: reqwest::Response,
    idle: Duration,
    observer: Option<Box<dyn StreamObserver>>,
    in_flight: Option<InFlight>,
) -> Body {
    let state = State {
        first: Some(first),
        chunks: response.bytes_stream().boxed(),
        observer,
        _in_flight: in_flight,
    };
    let stream = futures_util::stream::unfold(Some(state), move |state| async move {
        let mut state = state?;
        let next = match state.first.take() {
            Some(first) => Ok(Some(Ok(first))),
            None => tokio::time::timeout(idle, state.chunks.next()).await,
        };
        let failure = match next {
            Ok(Some(Ok(bytes))) => {
                if let Some(observer) = state.observer.as_mut() {
                    observer.chunk(&bytes);
                }
                return Some((Ok(bytes), Some(state)));
            }
            Ok(None) => {
                state.end(true);
                return None;
            }
            Ok(Some(Err(e))) => format!("upstream stream broke: {e}"),
            Err(_) => "upstream stream went idle".to_string(),
        };
        state.end(false);
        Some((Err(std::io::Error::other(failure)), None))
    });
    Body::from_stream(stream)
}
