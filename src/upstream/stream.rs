//! SSE passthrough: upstream chunks are forwarded as they arrive, never buffered.
//! A broken or idle upstream stream ends the client body with an error, so the
//! client sees a cut stream — never a second answer glued on.

use std::time::Duration;

use axum::body::Body;
use futures_util::StreamExt;

/// Passes `response`'s body through; dropping the returned body (client gone)
/// drops the upstream response, which cancels the upstream request.
pub fn passthrough(response: reqwest::Response, idle: Duration) -> Body {
    let chunks = response.bytes_stream().boxed();
    let stream = futures_util::stream::unfold(Some(chunks), move |state| async move {
        let mut chunks = state?;
        match tokio::time::timeout(idle, chunks.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(chunks))),
            Ok(None) => None,
            Ok(Some(Err(e))) => {
                let err = std::io::Error::other(format!("upstream stream broke: {e}"));
                Some((Err(err), None))
            }
            Err(_) => {
                let err = std::io::Error::other("upstream stream went idle");
                Some((Err(err), None))
            }
        }
    });
    Body::from_stream(stream)
}
