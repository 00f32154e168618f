//! The cluster stage (DESIGN.md §3, §5): what makes every node answer from the
//! knowledge of all nodes. A node's L2 fill is published — its answer as
//! `{prefix}l2:e:{id}` with its TTL, its vector as an entry of the stream
//! `{prefix}l2:log` — and every node follows the whole stream ([`reader`]),
//! inserting other nodes' entries into its index and fetching their answers
//! from Redis when a hit needs one. Purges travel through the same stream.
//! A restart is warm when the node first loads its snapshot, then replays the
//! stream from the snapshot's position (the node's life is driven by `node`).
//!
//! Without Redis the node runs standalone: purges stay local. To L2, a cluster
//! is its [`Peers`]: where fills are published and remote answers fetched.

mod heal;
mod log;
mod reader;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::sync::watch;

pub use log::{Event, Fill, LogError, stream_id};

use crate::cache::{CachedResponse, L1, PurgeScope, Purges, now_ms};
use crate::config::ClusterConfig;
use crate::metrics::Metrics;
use crate::semantic::{EntryId, Fetched, L2, NewEntry, Peers, id_hex, prompt};
use crate::shared::{Shared, Write};

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
    /// Where the reader stands; observers may wait for it to move.
    sync: watch::Sender<SyncState>,
    pub readiness: Readiness,
    /// The life of the shared Redis's data this node last saw ([`heal`]).
    life: std::sync::Mutex<Option<String>>,
    /// Bumped by each republish, so an older one stops.
    republishes: AtomicU64,
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
            sync: watch::Sender::new(SyncState {
                position: "0".into(),
                ..SyncState::default()
            }),
            readiness: Readiness::default(),
            life: std::sync::Mutex::default(),
            republishes: AtomicU64::new(0),
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn purges(&self) -> &Arc<Purges> {
        &self.purges
    }

    pub fn sync_state(&self) -> SyncState {
        self.sync.borrow().clone()
    }

    /// The reader's state, to wait on as it moves (entries applied, caught up).
    pub fn watch_sync(&self) -> watch::Receiver<SyncState> {
        self.sync.subscribe()
    }

    fn update_sync(&self, f: impl FnOnce(&mut SyncState)) {
        self.sync.send_modify(f);
    }

    fn log_key(shared: &Shared) -> String {
        shared.key("l2:log")
    }

    fn body_key(shared: &Shared, id: &EntryId) -> String {
        shared.key(&format!("l2:e:{}", id_hex(id)))
    }

    /// Shares a local fill with every node through the outbox: its answer
    /// first, then its log entry, so a reader never sees an entry whose
    /// answer is not yet there; while Redis is away both wait, in order.
    pub fn publish_fill(&self, entry: &NewEntry) {
        let Some(shared) = &self.shared else {
            return;
        };
        if let Some(writes) = self.fill_writes(shared, entry) {
            shared.send_later(writes);
        }
    }

    /// The writes that share `entry`: its answer, then its log entry; `None`
    /// when this node does not hold its answer.
    fn fill_writes(&self, shared: &Shared, entry: &NewEntry) -> Option<Vec<Write>> {
        let response = entry.response.as_ref()?;
        let event = Event::Fill(Fill::of(entry, &self.node));
        Some(vec![
            Write::Set {
                op: "l2_body",
                key: Self::body_key(shared, &entry.id),
                value: response.encode().into(),
                expires_at_ms: response.expires_at_ms,
            },
            Write::Cmd {
                op: "l2_log",
                cmd: append(shared, self.config.stream_maxlen, &event),
            },
        ])
    }

    /// The answer of an entry learned from another node, from Redis: gone
    /// when Redis has no live answer for it (expired, purged, undecodable,
    /// lost with Redis's data), unavailable when Redis does not answer.
    pub async fn fetch_answer(&self, id: &EntryId, scope: &str) -> Fetched {
        let Some(shared) = self.shared.as_ref() else {
            return Fetched::Gone;
        };
        let bytes = match shared.get("l2_body", &Self::body_key(shared, id)).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Fetched::Gone,
            Err(_) => return Fetched::Unavailable,
        };
        match CachedResponse::decode(&bytes) {
            Some(entry)
                if entry.remaining(now_ms()).is_some()
                    && !self.purges.purged(scope, entry.stored_at_ms) =>
            {
                Fetched::Answer(Arc::new(entry))
            }
            _ => Fetched::Gone,
        }
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
            let written = shared.send_later(vec![
                Write::Cmd {
                    op: "purge",
                    cmd: mark,
                },
                Write::Cmd {
                    op: "l2_log",
                    cmd: append(shared, self.config.stream_maxlen, &event),
                },
            ]);
            // Reported as shared when Redis took it promptly; otherwise it
            // waits in the outbox and reaches the other nodes later.
            if let Some(written) = written {
                let wait = std::time::Duration::from_secs(1);
                shared_ok = matches!(tokio::time::timeout(wait, written).await, Ok(Ok(())));
            }
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
            text: prompt(fill.text),
            vector: fill.vector.into(),
            stored_at_ms: fill.stored_at_ms,
            expires_at_ms: fill.expires_at_ms,
            response: None,
        })
    }
}

impl Peers for Cluster {
    fn publish(&self, entry: &NewEntry) {
        self.publish_fill(entry);
    }

    fn fetch<'a>(&'a self, id: &'a EntryId, scope: &'a str) -> BoxFuture<'a, Fetched> {
        Box::pin(self.fetch_answer(id, scope))
    }
}

/// `XADD {prefix}l2:log MAXLEN ~ n * field value ...`
fn append(shared: &Shared, maxlen: usize, event: &Event) -> redis::Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(Cluster::log_key(shared))
        .arg("MAXLEN")
        .arg("~")
        .arg(maxlen)
        .arg("*");
    for (field, value) in event.fields() {
        cmd.arg(field).arg(value);
    }
    cmd
}
