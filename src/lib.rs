//! g-aigateway: an OpenAI-compatible LLM API gateway.
//!
//! # Architecture
//!
//! ```text
//! client ─► request-id + access log + panic catch        (tower layers: server.rs, access.rs)
//!       ─► auth: gateway key → Tenant                     (auth.rs)
//!       ─► body: limit, parse, validate                   (request.rs)
//!       ─► cache policy (no-cache / no-store / TTL)       (cache/policy.rs)
//!       ─► rate limit: Redis Lua GCRA, local fallback;    (ratelimit.rs,
//!          a charge that settles on drop                   ratelimit/charge.rs)
//!       ─► L1 exact: moka ─► Redis                         (cache/l1.rs, shared.rs)
//!       ─► L2 semantic: embed, search the partition,      (semantic/stage.rs,
//!          verify; a peer's answer fetched from Redis      semantic/store.rs, index.rs)
//!       ─► single-flight (re-check on an abandoned lead)  (cache/flight.rs)
//!       ─► forward: route, key pool, retries with         (pipeline/forward.rs,
//!          backoff, Retry-After, SSE passthrough           upstream.rs, upstream/)
//!       ─► respond + fill (streams after a clean [DONE])  (pipeline/forward.rs,
//!                                                          cache/capture.rs)
//!       ─► share the L2 fill: answer SET + XADD           (cluster.rs, via semantic::Peers)
//!
//! per node, in the background (node.rs):
//!   snapshot: validated load at start, then periodic /    (snapshot.rs)
//!     on-demand / shutdown writes (rkyv, checksummed)
//!   log reader: XREAD BLOCK on its own connection,        (cluster/reader.rs)
//!     peers' fills into the index, purges applied
//!   housekeeping: metric upkeep, the L2 sweep
//!   admin API: stats, purge, snapshot                     (admin.rs)
//! ```
//!
//! The order is spelled out in one function, `pipeline::pipeline`; tower layers
//! carry only cross-cutting concerns, as in `../shared/DESIGN.md` §1. Stages
//! return outcomes (`Lookup::Hit | Miss`, `L2Lookup::Hit | Miss(probe)`,
//! `Flight::Lead | Followed | Cached`, `Decision::Allow | Deny`) with their own
//! error enums; `error.rs` alone maps errors to HTTP. The shared state lives in
//! `gateway.rs`; no two modules import each other (`tests/architecture.rs`).
//! Redis (single or Cluster) is the only shared component (DESIGN.md §3);
//! without it a node runs standalone.
//!
//! [`run`] serves a bound listener until the shutdown token fires; `main.rs` only
//! parses configuration, binds, and turns SIGINT/SIGTERM into that token. The
//! modules that are public are so for the benchmarks and development tools
//! (`tools/l2-eval`), not as a stable API.

mod access;
mod admin;
pub mod admission;
pub mod auth;
pub mod cache;
mod clock;
pub mod cluster;
pub mod config;
mod cost;
pub mod embedding;
mod error;
mod gateway;
pub mod index;
pub mod metrics;
pub mod node;
mod pipeline;
pub mod ratelimit;
mod request;
pub mod semantic;
mod server;
pub mod shared;
pub mod snapshot;
pub mod telemetry;
pub mod upstream;
pub mod verifier;

pub use config::Config;
pub use gateway::{ConfigSource, RunError};
pub use server::{run, run_reloadable};
