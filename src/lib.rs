//! g-aigateway: an OpenAI-compatible LLM API gateway.
//!
//! # Architecture
//!
//! ```text
//! client ─► request-id + access log + panic catch        (tower layers, server.rs)
//!       ─► auth: gateway key → Tenant                     (auth.rs)
//!       ─► body limit + JSON parse                        (pipeline.rs)
//!       ─► cache policy (no-cache / no-store / TTL)       (cache/policy.rs)
//!       ─► route model → upstream                         (upstream.rs)
//!       ─► L1 exact: moka ─► Redis                         (cache.rs, shared.rs)
//!       ─► single-flight                                  (cache/flight.rs)
//!       ─► forward: key pool, retries with backoff,       (upstream/forward.rs)
//!          Retry-After, SSE passthrough                   (upstream/stream.rs)
//!       ─► respond + fill (streams after a clean [DONE])  (pipeline/cached.rs)
//! ```
//!
//! The order is spelled out in one place, [`pipeline`]; tower layers carry only
//! cross-cutting concerns. Later stages (rate limits, L2 semantic cache, cluster
//! sync) slot into the pipeline as in `../shared/DESIGN.md` §1.
//!
//! [`run`] serves a bound listener until the shutdown token fires; `main.rs` only
//! parses configuration, binds, and turns SIGINT/SIGTERM into that token.

pub mod access;
pub mod admin;
pub mod auth;
pub mod cache;
pub mod cluster;
pub mod config;
pub mod embedding;
pub mod error;
pub mod index;
pub mod metrics;
pub mod mock;
pub mod pipeline;
pub mod ratelimit;
pub mod semantic;
pub mod server;
pub mod shared;
pub mod snapshot;
pub mod upstream;

pub use config::Config;
pub use server::{RunError, run};
