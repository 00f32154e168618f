//! The gateway's shared state: every stage, built once from the configuration
//! and shared by all requests and background tasks.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::auth::{AdminKey, Auth};
use crate::cache::{Flights, L1, Purges};
use crate::cluster::Cluster;
use crate::config::{Config, ConfigError};
use crate::cost::{Costs, PriceTable};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::semantic::{L2, Peers};
use crate::shared::{Shared, SharedError};
use crate::snapshot::Snapshots;
use crate::upstream::TenantSlots;
use crate::upstream::{Forwarder, Upstreams};
use crate::verifier::VerifierError;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot build the upstream HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("invalid upstream routing")]
    Routing,
    #[error("cannot set up the Redis client: {0}")]
    Redis(#[from] SharedError),
    #[error(
        "the L2 pair verifier cannot be built: {0} (set semantic.verifier = \"rules\" to run without it)"
    )]
    Verifier(#[from] VerifierError),
}

/// Re-reads the configuration (file and environment) for a reload.
pub type ConfigSource = Arc<dyn Fn() -> Result<Config, ConfigError> + Send + Sync>;

/// What a reload changes while the gateway runs: routing (upstreams, keys,
/// models, fallbacks, balancing), tenants with their keys and limits, and
/// prices. Each request takes the current one once and keeps it.
pub struct Live {
    /// The configuration in force (the sections a reload cannot change are
    /// the start-up ones).
    pub config: Config,
    pub auth: Auth,
    pub upstreams: Upstreams,
}

/// Sections a running gateway cannot change: they shape listeners, caches,
/// Redis and background tasks built at start-up.
const RESTART_SECTIONS: &[&str] = &[
    "server",
    "retry",
    "cache",
    "rate_limit",
    "redis",
    "semantic",
    "embedding",
    "cluster",
    "admin",
    "telemetry",
];

/// What a reload did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reloaded {
    /// Sections that changed in the file but wait for a restart.
    pub needs_restart: Vec<&'static str>,
    pub upstreams: usize,
    pub models: usize,
    pub tenants: usize,
}

/// Everything a request needs, shared by all handlers.
pub struct Gateway {
    /// The start-up configuration; what a reload changes is in [`Live`].
    pub config: Config,
    live: ArcSwap<Live>,
    reload_source: Option<ConfigSource>,
    /// Serialises reloads.
    reloading: tokio::sync::Mutex<()>,
    /// Tenants' concurrency limits.
    pub tenant_slots: TenantSlots,
    pub forwarder: Forwarder,
    pub cache: Arc<L1>,
    pub flights: Arc<Flights>,
    pub limiter: Arc<RateLimiter>,
    /// The L2 semantic cache, when enabled and an embedder is available.
    pub l2: Option<Arc<L2>>,
    /// The shared Redis, when configured.
    pub shared: Option<Shared>,
    /// Cluster sync and purges.
    pub cluster: Arc<Cluster>,
    /// The same cluster, as L2 sees it.
    pub peers: Arc<dyn Peers>,
    /// Warm-restart snapshots, when configured and there is an L2 to keep.
    pub snapshots: Option<Arc<Snapshots>>,
    pub admin: AdminKey,
    /// What upstream calls cost and what the caches saved.
    pub costs: Arc<Costs>,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
}

impl Gateway {
    pub fn new(config: Config, shutdown: CancellationToken) -> Result<Self, RunError> {
        Self::with_source(config, shutdown, None)
    }

    /// A gateway that can reload its configuration from `source`.
    pub fn with_source(
        config: Config,
        shutdown: CancellationToken,
        reload_source: Option<ConfigSource>,
    ) -> Result<Self, RunError> {
        let metrics = Arc::new(Metrics::new());
        let upstreams = Upstreams::from_config(&config).map_err(|_| RunError::Routing)?;
        let forwarder = Forwarder::new(&config.retry, Arc::clone(&metrics))?;
        let shared = config
            .redis
            .url
            .as_ref()
            .map(|url| Shared::connect_lazily(url.expose(), &config.redis, Arc::clone(&metrics)))
            .transpose()?;
        let purges = Arc::new(Purges::default());
        let cache = Arc::new(L1::new(
            config.cache.max_bytes,
            shared.clone(),
            Arc::clone(&purges),
            Arc::clone(&metrics),
        ));
        let l2 = L2::from_config(&config, Arc::clone(&purges), Arc::clone(&metrics))?.map(Arc::new);
        let snapshots = snapshots(&config, l2.as_ref(), &purges, &metrics);
        let cluster = Arc::new(Cluster::new(
            config.cluster.clone(),
            shared.clone(),
            Arc::clone(&cache),
            l2.clone(),
            purges,
            Arc::clone(&metrics),
        ));
        let limiter = RateLimiter::new(
            config.rate_limit.clone(),
            shared.clone(),
            Arc::clone(&metrics),
        );
        publish_health(&upstreams, &metrics);
        let live = Live {
            auth: Auth::from_config(&config),
            upstreams,
            config: config.clone(),
        };
        Ok(Self {
            live: ArcSwap::from_pointee(live),
            reload_source,
            reloading: tokio::sync::Mutex::new(()),
            tenant_slots: TenantSlots::default(),
            admin: AdminKey::from_config(&config),
            forwarder,
            cache,
            flights: Flights::new(),
            l2,
            peers: Arc::clone(&cluster) as Arc<dyn Peers>,
            cluster,
            snapshots,
            limiter: Arc::new(limiter),
            costs: Arc::new(Costs::new(
                PriceTable::new(&config.prices),
                Arc::clone(&metrics),
            )),
            shared,
            metrics,
            shutdown,
            config,
        })
    }

    /// The reloadable state in force now.
    pub fn live(&self) -> Arc<Live> {
        self.live.load_full()
    }

    /// Re-reads the configuration from the source and applies it.
    pub async fn reload(&self) -> Result<Reloaded, ConfigError> {
        let source = self.reload_source.as_ref().ok_or_else(|| {
            ConfigError::Invalid("this gateway was started without a configuration source".into())
        })?;
        let _one_at_a_time = self.reloading.lock().await;
        let result = source().and_then(|new| self.apply(new));
        match &result {
            Ok(done) => {
                self.metrics.config_reload("applied");
                tracing::info!(
                    upstreams = done.upstreams,
                    models = done.models,
                    tenants = done.tenants,
                    needs_restart = ?done.needs_restart,
                    "configuration reloaded"
                );
            }
            Err(e) => {
                self.metrics.config_reload("refused");
                tracing::error!(error = %e, "configuration reload refused: the running configuration stays");
            }
        }
        result
    }

    /// Applies a validated configuration's reloadable sections.
    pub fn apply(&self, mut new: Config) -> Result<Reloaded, ConfigError> {
        let old = self.live();
        let section = |c: &Config, name: &str| {
            serde_json::to_value(c)
                .ok()
                .and_then(|v| v.get(name).cloned())
        };
        let needs_restart: Vec<&'static str> = RESTART_SECTIONS
            .iter()
            .copied()
            .filter(|name| section(&new, name) != section(&self.config, name))
            .collect();
        let start = &self.config;
        new.server = start.server.clone();
        new.retry = start.retry.clone();
        new.cache = start.cache.clone();
        new.rate_limit = start.rate_limit.clone();
        new.redis = start.redis.clone();
        new.semantic = start.semantic.clone();
        new.embedding = start.embedding.clone();
        new.cluster = start.cluster.clone();
        new.admin = start.admin.clone();
        new.telemetry = start.telemetry.clone();
        // Open (no keys) and keyed gateways bind differently: that is a restart.
        if new.is_open() != start.is_open() {
            return Err(ConfigError::Invalid(
                "adding the first tenant or removing the last one changes the bind address: \
                 restart the gateway"
                    .into(),
            ));
        }
        let upstreams = Upstreams::rebuild(&new, Some(&old.upstreams))
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        publish_health(&upstreams, &self.metrics);
        self.costs.set_prices(PriceTable::new(&new.prices));
        let done = Reloaded {
            needs_restart,
            upstreams: new.upstreams.len(),
            models: new.models.len(),
            tenants: new.tenants.len(),
        };
        self.live.store(Arc::new(Live {
            auth: Auth::from_config(&new),
            upstreams,
            config: new,
        }));
        Ok(done)
    }

    pub fn stream_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.config.retry.stream_idle_timeout_secs)
    }

    /// `up`, `down` or `absent` (standalone).
    pub async fn redis_status(&self) -> &'static str {
        match &self.shared {
            None => "absent",
            Some(shared) if shared.ping().await => "up",
            Some(_) => "down",
        }
    }
}

/// Every deployment's health gauge, so a panel shows the healthy ones too.
fn publish_health(upstreams: &Upstreams, metrics: &Metrics) {
    let now = tokio::time::Instant::now();
    for d in upstreams.deployments() {
        metrics.upstream_health_now(&d.route, &d.label, d.state.breaker.phase(now).gauge());
    }
}

/// Snapshots, when configured and there is an L2 store to keep.
fn snapshots(
    config: &Config,
    l2: Option<&Arc<L2>>,
    purges: &Arc<Purges>,
    metrics: &Arc<Metrics>,
) -> Option<Arc<Snapshots>> {
    let l2 = l2.filter(|_| config.cluster.snapshots)?;
    let (dir, node) = (&config.cluster.snapshot_dir, config.cluster.node());
    let (purges, metrics) = (Arc::clone(purges), Arc::clone(metrics));
    Some(Arc::new(Snapshots::new(
        dir,
        &node,
        Arc::clone(l2),
        purges,
        metrics,
    )))
}
