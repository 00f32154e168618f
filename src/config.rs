//! Gateway configuration: built-in defaults ← optional TOML file ← environment.
//!
//! Loading never touches the process environment itself: the caller hands in the
//! variables (process env merged with `.env`), so layering is testable and pure.

mod env;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use env::{Env, read_dotenv};

/// Default OpenAI-compatible upstream: the original Go gateway fronted DeepSeek.
pub const DEFAULT_UPSTREAM_URL: &str = "https://api.deepseek.com/v1";
/// Port used when neither the config nor `PORT` names one.
pub const DEFAULT_PORT: u16 = 8080;

/// Why configuration could not be loaded; printed by `main` before exiting non-zero.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var} is not valid: {message}")]
    Env { var: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// A secret string (API key). Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret value; callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The whole gateway configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub retry: RetryConfig,
    /// Named upstream providers. The first is the default unless `default_upstream` says otherwise.
    pub upstreams: Vec<UpstreamConfig>,
    pub default_upstream: Option<String>,
    /// Model name → upstream name. A trailing `*` matches a prefix (`"gpt-*"`).
    pub models: BTreeMap<String, String>,
    /// Gateway API keys → tenants. Empty means the gateway runs open as tenant `default`.
    pub tenants: Vec<TenantConfig>,
    pub cache: CacheConfig,
    pub rate_limit: RateLimitConfig,
    pub redis: RedisConfig,
    pub semantic: SemanticConfig,
    pub embedding: EmbeddingConfig,
    pub cluster: ClusterConfig,
    pub admin: AdminConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            retry: RetryConfig::default(),
            upstreams: vec![UpstreamConfig {
                name: "default".into(),
                base_url: DEFAULT_UPSTREAM_URL.into(),
                api_keys: Vec::new(),
            }],
            default_upstream: None,
            models: BTreeMap::new(),
            tenants: Vec::new(),
            cache: CacheConfig::default(),
            rate_limit: RateLimitConfig::default(),
            redis: RedisConfig::default(),
            semantic: SemanticConfig::default(),
            embedding: EmbeddingConfig::default(),
            cluster: ClusterConfig::default(),
            admin: AdminConfig::default(),
        }
    }
}

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
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: None,
            port: DEFAULT_PORT,
            max_body_bytes: 8 * 1024 * 1024,
            shutdown_grace_secs: 30,
        }
    }
}

impl ServerConfig {
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
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

/// Per-tenant cache policy (used by the caches once they are enabled).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantCache {
    pub enabled: bool,
    /// Named scope shared with other tenants; by default a tenant's cache is its own.
    pub shared_scope: Option<String>,
    pub ttl_secs: Option<u64>,
    /// This tenant's L2 similarity threshold (default: `semantic.threshold`).
    pub semantic_threshold: Option<f32>,
}

impl Default for TenantCache {
    fn default() -> Self {
        Self {
            enabled: true,
            shared_scope: None,
            ttl_secs: None,
            semantic_threshold: None,
        }
    }
}

/// The L1 exact cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    pub enabled: bool,
    /// In-process memory budget in bytes (bodies plus bookkeeping).
    pub max_bytes: u64,
    /// TTL of a stored answer unless the tenant or the request says otherwise.
    pub default_ttl_secs: u64,
    /// Upper bound for any TTL, including `x-gateway-cache-ttl`.
    pub max_ttl_secs: u64,
    /// Answers larger than this are not cached.
    pub max_entry_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_bytes: 256 * 1024 * 1024,
            default_ttl_secs: 3600,
            max_ttl_secs: 86_400,
            max_entry_bytes: 2 * 1024 * 1024,
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
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            cluster: false,
            prefix: "gw:".into(),
            timeout_ms: 100,
            connect_timeout_ms: 1_000,
        }
    }
}

/// Which embedder feeds the L2 semantic cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbedderKind {
    /// Remote when `url` is set, else local when the model files are present,
    /// else none (L2 off, with a warning).
    #[default]
    Auto,
    Local,
    Remote,
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingConfig {
    pub kind: EmbedderKind,
    /// Directory with all-MiniLM-L6-v2's config.json, tokenizer.json and
    /// model.safetensors (`bash scripts/fetch-model.sh` puts them there).
    pub model_dir: PathBuf,
    /// OpenAI-compatible embeddings endpoint base URL (remote embedder).
    pub url: Option<String>,
    pub api_key: Option<Secret>,
    pub model: Option<String>,
    /// Dimension of the remote model's vectors (part of the partition key).
    pub dimensions: usize,
    /// Budget of one embedding; past it L2 is skipped for the request.
    pub timeout_ms: u64,
    /// Most texts embedded together.
    pub max_batch: usize,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self {
            kind: EmbedderKind::Auto,
            model_dir: PathBuf::from("models/all-MiniLM-L6-v2"),
            url: None,
            api_key: None,
            model: None,
            dimensions: 1536,
            timeout_ms: 2_000,
            max_batch: 32,
        }
    }
}

/// The L2 semantic cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SemanticConfig {
    pub enabled: bool,
    /// Cosine similarity a hit needs (tenants may set their own; requests may
    /// only raise it).
    pub threshold: f32,
    /// Also require the verification guards (numbers, negation, direction, entities).
    pub verify: bool,
    pub max_entries: usize,
    /// Memory budget: vectors, prompt texts and answers.
    pub max_bytes: usize,
    /// Partitions up to this size are searched exactly; larger ones get HNSW.
    pub exact_scan_max: usize,
}

impl Default for SemanticConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            // Chosen on QQP (README, "Semantic quality"): precision first.
            threshold: 0.95,
            verify: true,
            max_entries: 100_000,
            max_bytes: 512 * 1024 * 1024,
            // Measured (cargo bench --bench semantic): the exact scan beats
            // hnsw_rs here up to 10k vectors.
            exact_scan_max: 10_000,
        }
    }
}

/// Cluster sync of the L2 index through Redis, and warm-restart snapshots.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's name: its snapshot file and the `node` of its log entries
    /// (default: the host name, else `node`). Must be unique and stable per node.
    pub node_id: Option<String>,
    /// Approximate length the vector log is trimmed to (`XADD MAXLEN ~`); a
    /// new node can rebuild from at most this many entries.
    pub stream_maxlen: usize,
    /// How long one `XREAD BLOCK` waits for new entries.
    pub read_block_ms: u64,
    /// Most log entries applied per read.
    pub read_batch: usize,
    /// Write snapshots and load one at start-up.
    pub snapshots: bool,
    pub snapshot_dir: PathBuf,
    /// Period of background snapshots; 0 writes only on `POST /admin/snapshot`
    /// and at shutdown.
    pub snapshot_interval_secs: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            node_id: None,
            stream_maxlen: 100_000,
            read_block_ms: 1_000,
            read_batch: 512,
            snapshots: true,
            snapshot_dir: PathBuf::from("snapshots"),
            snapshot_interval_secs: 300,
        }
    }
}

impl ClusterConfig {
    /// The configured node id, else the host name, else `node`.
    pub fn node(&self) -> String {
        self.node_id
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "node".into())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Key for `/admin/*` routes; absent disables them.
    pub key: Option<Secret>,
}

impl Config {
    /// Defaults ← `file` (if any) ← `env`, then validated.
    pub fn load(file: Option<&Path>, env: &Env) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        env::apply(&mut config, env)?;
        validate::validate(&config)?;
        Ok(config)
    }

    /// Parses TOML text over the defaults (no environment, no validation).
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Runs without gateway keys: every caller is tenant `default`.
    pub fn is_open(&self) -> bool {
        self.tenants.is_empty()
    }

    /// The address to bind: explicit `listen`, else loopback when open, else all interfaces.
    pub fn bind_addr(&self) -> SocketAddr {
        if let Some(addr) = self.server.listen {
            return addr;
        }
        let host = if self.is_open() {
            [127, 0, 0, 1]
        } else {
            [0, 0, 0, 0]
        };
        SocketAddr::from((host, self.server.port))
    }

    /// Name of the upstream that serves models without a mapping.
    pub fn default_upstream_name(&self) -> Option<&str> {
        self.default_upstream
            .as_deref()
            .or_else(|| self.upstreams.first().map(|u| u.name.as_str()))
    }
}

#[cfg(test)]
mod tests;
