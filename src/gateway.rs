//! The gateway's shared state: every stage, built once from the configuration
//! and shared by all requests and background tasks.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::auth::{AdminKey, Auth};
use crate::cache::{Flights, L1, Purges};
use crate::cluster::Cluster;
use crate::config::Config;
use crate::cost::{Costs, PriceTable};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::semantic::{L2, Peers};
use crate::shared::{Shared, SharedError};
use crate::snapshot::Snapshots;
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

/// Everything a request needs, shared by all handlers.
pub struct Gateway {
    pub config: Config,
    pub auth: Auth,
    pub upstreams: Upstreams,
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
        Ok(Self {
            auth: Auth::from_config(&config),
            admin: AdminKey::from_config(&config),
            upstreams,
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
