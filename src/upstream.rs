//! Upstream providers: named base URLs with key pools, model → upstream routing,
//! and the forwarding client (retries, timeouts, SSE passthrough).

mod budget;
mod exchange;
mod forward;
mod headers;
mod pool;
mod retry;
mod route;
mod stream;

pub use exchange::{UpstreamBody, UpstreamError, UpstreamRequest, UpstreamResponse};
pub use forward::Forwarder;
pub use headers::upstream_request_headers;
pub use route::Upstreams;
pub use stream::StreamObserver;
