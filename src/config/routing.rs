//! How requests find an upstream: a model's deployments (upstream + the model
//! name to send there + weight + concurrency cap) and fallback chain, the
//! balancer among healthy deployments, the circuit breaker that ejects a
//! failing one, optional active probes and the concurrency limits' queue.

use serde::{Deserialize, Serialize};

/// What a `[models]` entry maps a model name to: an upstream's name (the
/// short form), or a table of deployments and a fallback chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ModelTarget {
    Upstream(String),
    Deployments(ModelDeployments),
}

/// A string, or a table read strictly — so a typo in a deployment is
/// reported by name, not as "matched no variant".
impl<'de> Deserialize<'de> for ModelTarget {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(d)? {
            toml::Value::String(upstream) => Ok(Self::Upstream(upstream)),
            table => ModelDeployments::deserialize(table)
                .map(Self::Deployments)
                .map_err(D::Error::custom),
        }
    }
}

impl ModelTarget {
    /// The deployments, the short form being one deployment of weight 1.
    pub fn deployments(&self) -> Vec<DeploymentConfig> {
        match self {
            Self::Upstream(name) => vec![DeploymentConfig::on(name)],
            Self::Deployments(table) => table.deployments.clone(),
        }
    }

    /// The model's own fallback chain (empty in the short form).
    pub fn fallbacks(&self) -> &[String] {
        match self {
            Self::Upstream(_) => &[],
            Self::Deployments(table) => &table.fallbacks,
        }
    }
}

impl From<&str> for ModelTarget {
    fn from(upstream: &str) -> Self {
        Self::Upstream(upstream.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDeployments {
    pub deployments: Vec<DeploymentConfig>,
    /// Models tried in order when every deployment failed (on top of, and
    /// before, a `[fallbacks]` entry for the same model).
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

/// One place a model is served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    /// An upstream's `name`.
    pub upstream: String,
    /// The model name sent to that upstream; absent: the requested name.
    #[serde(default)]
    pub model: Option<String>,
    /// Share of the traffic relative to the model's other deployments.
    #[serde(default = "one")]
    pub weight: u32,
    /// Requests in flight on this deployment at most (queued briefly, then
    /// 429 with `Retry-After`); absent: no limit.
    #[serde(default)]
    pub max_in_flight: Option<u32>,
}

fn one() -> u32 {
    1
}

impl DeploymentConfig {
    pub fn on(upstream: &str) -> Self {
        Self {
            upstream: upstream.to_string(),
            model: None,
            weight: 1,
            max_in_flight: None,
        }
    }
}

/// How one of a model's healthy deployments is chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balancer {
    /// Power of two choices: two deployments drawn by weight, the one with
    /// the lower EWMA latency × (in-flight + 1) ÷ weight wins.
    #[default]
    P2c,
    /// Drawn by weight alone.
    Weighted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    pub balancer: Balancer,
    /// Whether an answer from a fallback model is cached under the model the
    /// client asked for.
    pub cache_fallbacks: bool,
    /// How long a request waits for a free slot under a concurrency limit
    /// (tenant or deployment) before its 429.
    pub queue_timeout_ms: u64,
    pub breaker: BreakerConfig,
    /// Active health probes: `GET <base_url><probe_path>` on every
    /// deployment's upstream this often; 0 turns them off.
    pub probe_interval_secs: u64,
    pub probe_path: String,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            balancer: Balancer::P2c,
            cache_fallbacks: false,
            queue_timeout_ms: 500,
            breaker: BreakerConfig::default(),
            probe_interval_secs: 0,
            probe_path: "/models".into(),
        }
    }
}

/// Passive health: a deployment is ejected after `consecutive_failures`
/// failed attempts in a row, or when at least `failure_ratio` of the attempts
/// of the last `window_secs` failed (once there were `min_requests`). It
/// comes back after `eject_secs` (doubling per ejection in a row up to
/// `max_eject_secs`) through one half-open probe request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    pub consecutive_failures: u32,
    pub failure_ratio: f64,
    pub min_requests: u32,
    pub window_secs: u64,
    pub eject_secs: u64,
    pub max_eject_secs: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            failure_ratio: 0.5,
            min_requests: 20,
            window_secs: 10,
            eject_secs: 5,
            max_eject_secs: 120,
        }
    }
}
