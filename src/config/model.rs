//! The whole configuration, its defaults and what is derived from it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::caching::{CacheConfig, ClusterConfig, EmbeddingConfig, SemanticConfig};
use super::proxy::{
    AdminConfig, DEFAULT_UPSTREAM_URL, RateLimitConfig, RedisConfig, RetryConfig, ServerConfig,
    TenantConfig, UpstreamConfig,
};
use super::routing::{ModelTarget, RoutingConfig};

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

/// The whole gateway configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub retry: RetryConfig,
    /// Named upstream providers. The first is the default unless `default_upstream` says otherwise.
    pub upstreams: Vec<UpstreamConfig>,
    pub default_upstream: Option<String>,
    /// Model name → upstream name, or a table of deployments and a fallback
    /// chain. A trailing `*` matches a prefix (`"gpt-*"`).
    pub models: BTreeMap<String, ModelTarget>,
    /// Gateway API keys → tenants. Empty means the gateway runs open as tenant `default`.
    pub tenants: Vec<TenantConfig>,
    pub cache: CacheConfig,
    pub rate_limit: RateLimitConfig,
    pub redis: RedisConfig,
    pub semantic: SemanticConfig,
    pub embedding: EmbeddingConfig,
    pub cluster: ClusterConfig,
    pub admin: AdminConfig,
    /// USD per million tokens by model (`"prefix*"` patterns allowed); on top
    /// of the built-in table of common models.
    pub prices: BTreeMap<String, Price>,
    /// Model → the models to try in order when its upstream fails after its
    /// retries (connect errors, timeouts, 429s or 5xx on every attempt).
    pub fallbacks: BTreeMap<String, Vec<String>>,
    /// Balancing, circuit breaking, probes and concurrency queueing.
    pub routing: RoutingConfig,
    pub telemetry: TelemetryConfig,
}

/// OpenTelemetry traces: one span per request, a child span per stage,
/// exported over OTLP/HTTP (JSON) when an endpoint is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The collector's OTLP/HTTP base URL (spans go to `<endpoint>/v1/traces`),
    /// e.g. `http://127.0.0.1:4318`; unset: no traces. Env:
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans. Env: `OTEL_SERVICE_NAME`.
    pub service_name: String,
    /// Share of new traces kept (a client's `traceparent` decides for its own).
    pub sample_ratio: f64,
    /// Spans waiting for export at most; past it new ones are dropped.
    pub max_queue: usize,
    /// How often finished spans are sent.
    pub export_interval_ms: u64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "g-aigateway".into(),
            sample_ratio: 1.0,
            max_queue: 8192,
            export_interval_ms: 1000,
        }
    }
}

/// A model's price: USD per million input and output tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
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
            prices: BTreeMap::new(),
            fallbacks: BTreeMap::new(),
            routing: RoutingConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }
}

impl Config {
    /// Parses TOML text over the defaults (no environment, no validation).
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })
    }

    pub(super) fn from_file(path: &Path) -> Result<Self, ConfigError> {
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
