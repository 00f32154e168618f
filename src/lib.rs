//! g-aigateway: an OpenAI-compatible LLM API gateway.
//!
//! # Architecture
//!
//! ```text
//! client ─► request-id + access log + panic catch        (tower layers, server.rs)
//!       ─► auth: gateway key → Tenant                     (auth.rs)
//!       ─► body limit + JSON parse                        (pipeline.rs)
//!       ─► route model → upstream                         (upstream.rs)
//!       ─► forward: key pool, retries with backoff,       (upstream/forward.rs)
//!          Retry-After, SSE passthrough                   (upstream/stream.rs)
//!       ─► respond (OpenAI error JSON on failure)         (error.rs)
//! ```
//!
//! The order is spelled out in one place, [`pipeline`]; tower layers carry only
//! cross-cutting concerns. Later stages (rate limits, L1 exact cache, L2 semantic
//! cache, cluster sync) slot into the pipeline between parse and forward, as in
//! `../shared/DESIGN.md` §1.
//!
//! [`run`] serves a bound listener until the shutdown token fires; `main.rs` only
//! parses configuration, binds, and turns SIGINT/SIGTERM into that token.

pub mod access;
pub mod auth;
pub mod cache;
pub mod config;
pub mod error;
pub mod metrics;
pub mod mock;
pub mod pipeline;
pub mod server;
pub mod shared;
pub mod upstream;

pub use config::Config;
pub use server::{RunError, run};
