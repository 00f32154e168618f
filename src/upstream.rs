//! Upstream providers: named base URLs with key pools, model → deployment
//! routing with health and balancing, and the forwarding client (retries,
//! timeouts, SSE passthrough).

mod balance;
mod budget;
mod exchange;
mod forward;
mod headers;
mod health;
mod inflight;
mod pool;
mod retry;
mod route;
mod slots;
mod stream;

pub use exchange::{UpstreamBody, UpstreamError, UpstreamRequest, UpstreamResponse};
pub use forward::{Forwarder, Target};
pub use headers::upstream_request_headers;
pub use health::Phase;
pub use route::{ModelRoute, Upstreams};
pub use slots::TenantSlots;
pub use stream::StreamObserver;
