//! The cluster stage (DESIGN.md §3, §5): what makes every node answer from the
//! knowledge of all nodes. A node's L2 fill is published — its answer as
//! `{prefix}l2:e:{id}` with its TTL, its vector as an entry of the stream
//! `{prefix}l2:log` — and every node follows the whole stream ([`reader`]),
//! inserting other nodes' entries into its index and fetching their answers
//! from Redis when a hit needs one. Purges travel through the same stream.
//! Snapshots ([`crate::snapshot`]) make a restart warm: load, then replay the
//! stream from the snapshot's position.
//!
//! Without Redis the node runs standalone: purges and snapshots stay local.

mod log;
mod reader;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use log::{Event, Fill, LogError, stream_id};

use crate::cache::{CachedResponse, L1, PurgeScope, Purges, now_ms};
use crate::config::ClusterConfig;
use crate::metrics::Metrics;
use crate::semantic::{EntryId, L2, NewEntry, id_hex};
use crate::shared::Shared;

/// Where the node's log reader stands.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncState {
    /// The last stream id applied (`0` before the first).
    pub position: String,
    pub connected: bool,
    /// The reader has read everything the stream held at least once.
    pub caught_up: bool,
    /// Entries from other nodes (or earlier lives) inserted.
    pub applied: u64,
    /// Fill-to-apply time of the last applied entry.
    pub last_lag_ms: Option<u64>,
}

/// Start-up progress, for `/readyz` and `/admin/stats`.
#[derive(Debug, Default)]
pub struct Readiness {
    /// The snapshot (if any) is loaded into the index.
    pub loaded: AtomicBool,
    /// The log reader caught up once, or there is no log to follow.
    pub synced: AtomicBool,
    pub load_total: AtomicUsize,
    pub load_done: AtomicUsize,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.loaded.load(Ordering::Acquire) && self.synced.load(Ordering::Acquire)
    }
}

/// What a purge did on this node.
#[derive(Debug, Clone, Serialize)]
pub struct PurgeReport {
    pub scope: String,
    pub at_ms: u64,
    /// L2 entries this node dropped (other nodes drop theirs from the log).
    pub l2_removed: usize,
    /// The purge reached Redis, hence every node; `false` standalone or when
    /// Redis failed (then it holds on this node only).
    pub shared: bool,
}

pub struct Cluster {
    node: String,
    config: ClusterConfig,
    shared: Option<Shared>,
    l1: Arc<L1>,
    l2: Option<Arc<L2>>,
    purges: Arc<Purges>,
    metrics: Arc<Metrics>,
    sync: Mutex<SyncState>,
    /// Held while a snapshot is written: periodic, admin and shutdown writes
    /// share one temp file.
    snapshot_writer: Mutex<()>,
    /// Ids of log entries as they are applied (for observers: benchmarks, tools).
    applied: tokio::sync::broadcast::Sender<EntryId>,
    pub readiness: Readiness,
}

impl Cluster {
    pub fn new(
        config: ClusterConfig,
        shared: Option<Shared>,
        l1: Arc<L1>,
        l2: Option<Arc<L2>>,
        purges: Arc<Purges>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            node: config.node(),
            config,
            shared,
            l1,
            l2,
            purges,
            metrics,
            sync: Mutex::new(SyncState {
                position: "0".into(),
                ..SyncState::default()
            }),
            snapshot_writer: Mutex::new(()),
            applied: tokio::sync::broadcast::channel(4096).0,
            readiness: Readiness::default(),
        }
    }

    /// Every log entry applied from now on, by id (a slow receiver loses the
    /// oldest; nothing waits for receivers).
    pub fn applied_events(&self) -> tokio::sync::broadcast::Receiver<EntryId> {
        self.applied.subscribe()
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    pub fn l2(&self) -> Option<&Arc<L2>> {
        self.l2.as_ref()
    }

    /// One snapshot writer at a time.
    pub fn snapshot_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        self.snapshot_writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Snapshots are written and loaded (configured, and there is an L2).
    pub fn snapshots_enabled(&self) -> bool {
        self.config.snapshots && self.l2.is_some()
    }

    /// The node's background life: load the snapshot, then follow the log
    /// (and write periodic snapshots) until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let position = match self.snapshots_enabled() {
            true => crate::snapshot::restore(Arc::clone(&self)).await,
            false => "0".to_string(),
        };
        self.readiness.loaded.store(true, Ordering::Release);
        let periodic = Arc::clone(&self).snapshot_periodically(shutdown.clone());
        tokio::join!(self.follow(position, shutdown), periodic);
    }

    async fn snapshot_periodically(self: Arc<Self>, shutdown: CancellationToken) {
        let secs = self.config.snapshot_interval_secs;
        if secs == 0 || !self.snapshots_enabled() {
            return;
        }
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(secs));
        tick.tick().await;
        let mut last = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            // Skip a write that would repeat the previous one.
            let now = (
                self.l2.as_ref().map_or(0, |l2| l2.cache.generation()),
                self.sync_state().position,
            );
            if last.as_ref() != Some(&now) {
                let _ = crate::snapshot::save(Arc::clone(&self)).await;
                last = Some(now);
            }
        }
    }

    pub fn purges(&self) -> &Arc<Purges> {
        &self.purges
    }

    pub fn sync_state(&self) -> SyncState {
        self.sync
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update_sync(&self, f: impl FnOnce(&mut SyncState)) {
        f(&mut self.sync.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn log_key(shared: &Shared) -> String {
        shared.key("l2:log")
    }

    fn body_key(shared: &Shared, id: &EntryId) -> String {
        shared.key(&format!("l2:e:{}", id_hex(id)))
    }

    /// Shares a local fill with every node, in the background: its answer
    /// first, then its log entry, so a reader never sees an entry whose
    /// answer is not yet there. A Redis failure drops the write (counted).
    pub fn publish(&self, entry: &NewEntry) {
        let (Some(shared), Some(response)) = (&self.shared, &entry.response) else {
            return;
        };
        let Some(ttl) = response.remaining(now_ms()) else {
            return;
        };
        let event = Event::Fill(Fill::of(entry, &self.node));
        let (shared, body) = (shared.clone(), response.encode());
        let body_key = Self::body_key(&shared, &entry.id);
        let maxlen = self.config.stream_maxlen;
        tokio::spawn(async move {
            if shared
                .set_px("l2_body", &body_key, &body, ttl)
                .await
                .is_ok()
            {
                let _ = append(&shared, maxlen, &event).await;
            }
        });
    }

    /// The answer of an entry learned from another node, from Redis; `None`
    /// when it is gone (expired, purged) or Redis fails.
    pub async fn fetch(&self, id: &EntryId, scope: &str) -> Option<Arc<CachedResponse>> {
        let shared = self.shared.as_ref()?;
        let bytes = shared
            .get("l2_body", &Self::body_key(shared, id))
            .await
            .ok()??;
        let entry = CachedResponse::decode(&bytes)?;
        let live =
            entry.remaining(now_ms()).is_some() && !self.purges.purged(scope, entry.stored_at_ms);
        live.then(|| Arc::new(entry))
    }

    /// Purges `scope` on this node at once and, through Redis, on every node:
    /// the mark goes into the hash `{prefix}purges` (read by nodes at start-up)
    /// and the log (applied by every reader).
    pub async fn purge(&self, scope: PurgeScope) -> PurgeReport {
        let at_ms = now_ms();
        let l2_removed = self.apply_purge(&scope, at_ms);
        self.metrics.cluster_purge("local");
        let mut shared_ok = false;
        if let Some(shared) = &self.shared {
            let mark = redis::cmd("HSET")
                .arg(shared.key("purges"))
                .arg(scope.label())
                .arg(at_ms)
                .clone();
            let event = Event::Purge {
                scope: scope.clone(),
                at_ms,
                node: self.node.clone(),
            };
            shared_ok = shared.query::<i64>("purge", &mark).await.is_ok()
                && append(shared, self.config.stream_maxlen, &event)
                    .await
                    .is_ok();
        }
        tracing::info!(
            scope = scope.label(),
            l2_removed,
            shared = shared_ok,
            "cache purged"
        );
        PurgeReport {
            scope: scope.label().to_string(),
            at_ms,
            l2_removed,
            shared: shared_ok,
        }
    }

    /// Records a purge mark and drops what it covers; L2 entries removed.
    pub fn apply_purge(&self, scope: &PurgeScope, at_ms: u64) -> usize {
        if !self.purges.record(scope, at_ms) {
            return 0;
        }
        self.l1.purge(scope);
        self.l2
            .as_ref()
            .map_or(0, |l2| l2.cache.purge(scope, at_ms))
    }

    /// Inserts a fill read from the log (its answer stays in Redis until a
    /// hit needs it); whether it was new here.
    fn apply_fill(&self, fill: Fill) -> bool {
        let Some(l2) = &self.l2 else {
            return false;
        };
        if fill.vector.len() != l2.embedder.dim() {
            tracing::warn!(
                node = %fill.node,
                dim = fill.vector.len(),
                "log entry with another vector size skipped (embedder mismatch between nodes)"
            );
            return false;
        }
        l2.cache.insert(NewEntry {
            id: fill.id,
            scope: fill.scope.into(),
            partition: fill.partition,
            text: fill.text,
            vector: fill.vector.into(),
            stored_at_ms: fill.stored_at_ms,
            expires_at_ms: fill.expires_at_ms,
            response: None,
        })
    }
}

/// `XADD {prefix}l2:log MAXLEN ~ n * field value ...`
async fn append(
    shared: &Shared,
    maxlen: usize,
    event: &Event,
) -> Result<(), crate::shared::SharedError> {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(Cluster::log_key(shared))
        .arg("MAXLEN")
        .arg("~")
        .arg(maxlen)
        .arg("*");
    for (field, value) in event.fields() {
        cmd.arg(field).arg(value);
    }
    shared.query::<String>("l2_log", &cmd).await.map(|_| ())
}
