//! Configuration sections of the proxy path: the listener, upstreams and
//! retries, tenants and their limits, Redis, and the admin API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::caching::TenantCache;
use super::secret::Secret;

/// Default OpenAI-compatible upstream: the original Go gateway fronted DeepSeek.
pub const DEFAULT_UPSTREAM_URL: &str = "https://api.deepseek.com/v1";
/// Port used when neither the config nor `PORT` names one.
pub const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Explicit bind address. When absent: `0.0.0.0:<port>` with gateway keys,
    /// `127.0.0.1:<port>` when the gateway runs open.
    pub listen: Option<SocketAddr>,
    pub port: u16,
    /// Largest accepted request body in bytes (413 above it).
    pub max_body_bytes: usize,
    /// How long in-flight requests (streams included) may run after a shutdown signal.
    pub shutdown_grace_secs: u64,
    /// Open client connections at most; past it the listener stops
    /// accepting (the kernel's backlog holds the rest) until one closes.
    pub max_connections: usize,
    /// Time to receive a request's headers, counted from when the
    /// connection waits for them — so it also closes idle keep-alive
    /// connections and connections that trickle headers.
    pub header_read_timeout_secs: u64,
    /// Time to receive a request body: this much, plus the body's size at
    /// `min_body_rate` bytes per second (408 past it).
    pub body_read_timeout_secs: u64,
    pub min_body_rate: u64,
    /// Request line and headers together, in bytes (431 above it).
    pub max_header_bytes: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub http2_max_streams: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: None,
            port: DEFAULT_PORT,
            max_body_bytes: 8 * 1024 * 1024,
            shutdown_grace_secs: 30,
            max_connections: 8192,
            header_read_timeout_secs: 15,
            body_read_timeout_secs: 30,
            min_body_rate: 64 * 1024,
            max_header_bytes: 32 * 1024,
            http2_max_streams: 256,
        }
    }
}

impl ServerConfig {
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }
}

/// Upstream retry, timeout and key cool-down policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per request, the first included (1 = never retry).
    pub max_attempts: u32,
    /// First backoff step; step n is `base * 2^(n-1)`, capped, then fully jittered.
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// Upper bound for an upstream `Retry-After`.
    pub max_retry_after_secs: u64,
    /// Total time budget for a request until its response starts (all attempts).
    pub deadline_secs: u64,
    /// Budget of one attempt until its response headers (and, for JSON, its body).
    pub attempt_timeout_secs: u64,
    pub connect_timeout_ms: u64,
    /// A stream that sends nothing for this long is cut.
    pub stream_idle_timeout_secs: u64,
    /// Cool-down of a key that got 429 without `Retry-After` (doubles per strike).
    pub key_cooldown_ms: u64,
    /// How long a pool key the provider refused (401/403) is left out.
    pub key_quarantine_secs: u64,
    /// Retries across all requests stay within this share of the requests
    /// of the last 10 s ...
    pub budget_ratio: f64,
    /// ... plus this many per second.
    pub budget_min_per_sec: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay_ms: 100,
            max_delay_ms: 2_000,
            max_retry_after_secs: 20,
            deadline_secs: 120,
            attempt_timeout_secs: 60,
            connect_timeout_ms: 3_000,
            stream_idle_timeout_secs: 120,
            key_cooldown_ms: 1_000,
            key_quarantine_secs: 600,
            budget_ratio: 0.2,
            budget_min_per_sec: 1.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    pub name: String,
    /// OpenAI-style base URL including the version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Provider keys used round-robin; empty sends no `Authorization` (local servers).
    #[serde(default)]
    pub api_keys: Vec<Secret>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub name: String,
    pub api_keys: Vec<Secret>,
    #[serde(default)]
    pub limits: TenantLimits,
    #[serde(default)]
    pub cache: TenantCache,
}

/// Per-tenant limits; each burst defaults to its per-minute limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantLimits {
    pub requests_per_minute: Option<u32>,
    pub request_burst: Option<u32>,
    pub tokens_per_minute: Option<u32>,
    pub token_burst: Option<u32>,
    /// Upstream requests of this tenant in flight at most (queued for
    /// `routing.queue_timeout_ms`, then 429 with `Retry-After`).
    pub max_in_flight: Option<u32>,
    /// Extra limits for one model of this tenant (on top of the tenant-wide ones).
    pub models: BTreeMap<String, ModelLimits>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelLimits {
    pub requests_per_minute: Option<u32>,
    pub request_burst: Option<u32>,
    pub tokens_per_minute: Option<u32>,
    pub token_burst: Option<u32>,
}

/// What the rate limiter does while Redis fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisFailure {
    /// Enforce each tenant's share locally: limit ÷ `nodes`.
    #[default]
    Local,
    /// Admit everything.
    Open,
    /// Refuse everything (429).
    Closed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Gateway nodes sharing the limits; the local fallback allows limit ÷ nodes.
    pub nodes: u32,
    pub on_redis_failure: RedisFailure,
    /// After a Redis failure, decide locally for this long before trying Redis again.
    pub redis_retry_ms: u64,
    /// Completion tokens assumed when a request sets no `max_tokens`.
    pub default_completion_tokens: u32,
    /// Whether cache hits count against the request limit (they never cost tokens).
    pub count_cache_hits: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            nodes: 1,
            on_redis_failure: RedisFailure::Local,
            redis_retry_ms: 1_000,
            default_completion_tokens: 256,
            count_cache_hits: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` URL; absent = standalone, all state in process.
    /// With `cluster`, a comma-separated list of seed nodes.
    pub url: Option<Secret>,
    /// Talk to a Redis Cluster (every key the gateway uses in one script
    /// shares a hash tag, so the same commands run on both).
    pub cluster: bool,
    /// Prefix of every Redis key.
    pub prefix: String,
    /// Budget of one Redis command; past it the command counts as failed.
    pub timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Writes (fills, purges) waiting for Redis at most, by count and by
    /// bytes; past either the oldest are dropped (and counted).
    pub outbox_max_writes: usize,
    pub outbox_max_bytes: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            cluster: false,
            prefix: "gw:".into(),
            timeout_ms: 100,
            connect_timeout_ms: 1_000,
            outbox_max_writes: 10_000,
            outbox_max_bytes: 64 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Key for `/admin/*` routes; absent disables them.
    pub key: Option<Secret>,
}
