//! A node's background life, in order: load its snapshot, then — together —
//! follow the cluster log, write periodic snapshots, and keep house (metric
//! upkeep, the L2 sweep of expired entries). After the last request has
//! drained at shutdown, [`finish`] writes the final snapshot.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;
use crate::gateway::Gateway;
use crate::snapshot::Snapshots;

/// Runs until `shutdown`.
pub async fn run(gw: Arc<Gateway>, shutdown: CancellationToken) {
    let sync = sync(
        Arc::clone(&gw.cluster),
        gw.snapshots.clone(),
        shutdown.clone(),
    );
    tokio::join!(
        sync,
        snapshot_periodically(&gw, &shutdown),
        keep_house(&gw, &shutdown),
        probe_upstreams(&gw, &shutdown),
    );
}

/// Active health probes (`routing.probe_interval_secs`): every deployment
/// of the routing in force, concurrently, each round.
async fn probe_upstreams(gw: &Gateway, shutdown: &CancellationToken) {
    loop {
        let live = gw.live();
        let routing = &live.config.routing;
        let interval = Duration::from_secs(routing.probe_interval_secs.max(1));
        if routing.probe_interval_secs > 0 {
            let path = routing.probe_path.clone();
            let probes = live
                .upstreams
                .deployments()
                .map(|d| gw.forwarder.probe(d, &path));
            futures_util::future::join_all(probes).await;
        }
        drop(live);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Loads the snapshot (if any), marks the index loaded, then follows the
/// cluster log from the snapshot's position until `shutdown`.
pub async fn sync(
    cluster: Arc<Cluster>,
    snapshots: Option<Arc<Snapshots>>,
    shutdown: CancellationToken,
) {
    let position = match &snapshots {
        Some(snapshots) => snapshots.restore().await,
        None => "0".to_string(),
    };
    cluster.readiness.loaded.store(true, Ordering::Release);
    cluster.follow(position, shutdown).await;
}

/// The final snapshot, after the last request and the last log entry, so
/// nothing the node learned is left out.
pub async fn finish(gw: &Gateway) {
    // What waits for Redis gets a last chance to reach the other nodes.
    if let Some(shared) = gw.shared.as_ref().filter(|s| s.pending() > 0) {
        let up = shared.ping().await;
        if !(up && shared.flush(Duration::from_secs(5)).await) {
            let pending = shared.pending();
            tracing::warn!(
                pending,
                "stopping with writes still waiting for Redis: they are lost"
            );
        }
    }
    if let Some(snapshots) = &gw.snapshots {
        let _ = snapshots.save(gw.cluster.sync_state().position).await;
    }
}

/// Every `cluster.snapshot_interval_secs`, unless nothing changed.
async fn snapshot_periodically(gw: &Gateway, shutdown: &CancellationToken) {
    let secs = gw.config.cluster.snapshot_interval_secs;
    let Some(snapshots) = gw.snapshots.as_ref().filter(|_| secs > 0) else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_secs(secs));
    tick.tick().await;
    let mut last = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let position = gw.cluster.sync_state().position;
        let now = (snapshots.generation(), position.clone());
        if last.as_ref() != Some(&now) {
            let _ = snapshots.save(position).await;
            last = Some(now);
        }
    }
}

/// Exporter upkeep every 5 s; expired L2 entries dropped every 30 s.
async fn keep_house(gw: &Gateway, shutdown: &CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        gw.metrics.upkeep();
        ticks += 1;
        if let Some(l2) = gw.l2.as_ref().filter(|_| ticks % 6 == 0) {
            let l2 = Arc::clone(l2);
            let _ = tokio::task::spawn_blocking(move || l2.cache.sweep()).await;
        }
    }
}
