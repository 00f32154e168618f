//! Gateway configuration: built-in defaults ← optional TOML file ← environment.
//!
//! Loading never touches the process environment itself: the caller hands in the
//! variables (process env merged with `.env`), so layering is testable and pure.

mod caching;
mod env;
mod load;
mod model;
mod proxy;
mod routing;
mod secret;
mod validate;

pub use caching::{
    CacheConfig, ClusterConfig, EmbedderKind, EmbeddingConfig, Guard, SemanticConfig, TenantCache,
    VerifierMode,
};
pub use env::{Env, read_dotenv};
pub use model::{Config, ConfigError, Price, TelemetryConfig};
pub use proxy::{
    AdminConfig, DEFAULT_PORT, DEFAULT_UPSTREAM_URL, ModelLimits, RateLimitConfig, RedisConfig,
    RedisFailure, RetryConfig, ServerConfig, TenantConfig, TenantLimits, UpstreamConfig,
};
pub use routing::{
    Balancer, BreakerConfig, DeploymentConfig, ModelDeployments, ModelTarget, RoutingConfig,
};
pub use secret::Secret;

#[cfg(test)]
mod tests;
