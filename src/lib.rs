//! g-aigateway: an OpenAI-compatible LLM API gateway.
//!
//! # Architecture
//!
//! ```text
//! client ─► request-id + access log + panic catch        (tower layers, server.rs)
//!       ─► auth: gateway key → Tenant                     (auth.rs)
//!       ─► body limit + JSON parse                        (pipeline.rs)
//!       ─► cache policy (no-cache / no-store / TTL)       (cache/policy.rs)
//!       ─► rate limit: Redis Lua GCRA, local fallback     (ratelimit.rs)
//!       ─► route model → upstream                         (upstream.rs)
//!       ─► L1 exact: moka ─► Redis                         (cache.rs, shared.rs)
//!       ─► L2 semantic: embed, search the partition,      (pipeline/semantic.rs,
//!          verify; a peer's answer fetched from Redis      semantic.rs, index.rs)
//!       ─► single-flight                                  (cache/flight.rs)
//!       ─► forward: key pool, retries with backoff,       (upstream/forward.rs)
//!          Retry-After, SSE passthrough                   (upstream/stream.rs)
//!       ─► respond + fill (streams after a clean [DONE])  (pipeline/cached.rs)
//!       ─► share the L2 fill: answer SET + XADD           (cluster.rs)
//!
//! per node, in the background:
//!   log reader: XREAD BLOCK on its own connection,        (cluster/reader.rs)
//!     peers' fills into the index, purges applied
//!   snapshots: validated load at start, periodic /        (snapshot.rs)
//!     on-demand / shutdown writes (rkyv, checksummed)
//!   admin API: stats, purge, snapshot                     (admin.rs)
//! ```
//!
//! The order is spelled out in one place, [`pipeline`]; tower layers carry only
//! cross-cutting concerns, as in `../shared/DESIGN.md` §1. Redis (single or
//! Cluster) is the only shared component (DESIGN.md §3); without it a node runs
//! standalone.
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
