//! Warm restarts (DESIGN.md §5): a node writes its L2 state — entries,
//! vectors, expiries, partitions, purge marks and the cluster log position it
//! has applied — to `snapshots/<node>.snap`, through a temp file that is
//! fsynced and renamed, so a crash never leaves half a snapshot. At start-up it
//! loads the file with validation and replays the log from its position. A
//! file that fails any check is logged, moved aside and ignored: never a
//! crash, never a half-loaded index.

mod convert;
mod file;
mod format;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use convert::{new_entry, snap_entry};
use file::{map, move_aside, write_atomically};
pub use format::{FORMAT_VERSION, FormatError, Header};
use format::{Payload, SnapGraph, SnapPurge};

use crate::cache::{PurgeScope, Purges};
use crate::metrics::Metrics;
use crate::semantic::{L2, PartitionKey, graph_key};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("snapshot refused: {0}")]
    Format(#[from] FormatError),
}

/// What a write produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Written {
    pub path: PathBuf,
    pub entries: usize,
    pub bytes: u64,
    pub position: String,
    pub millis: u64,
}

/// What a load brought back.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub position: String,
    pub entries: usize,
    /// Saved graphs installed (their partitions need no rebuild).
    pub graphs: usize,
    pub millis: u64,
}

/// Start-up loading progress, for `/readyz` and `/admin/stats`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// A node's snapshots: what they hold (its L2 store and purge marks) and
/// where they go (`<dir>/<node>.snap`).
pub struct Snapshots {
    path: PathBuf,
    l2: Arc<L2>,
    purges: Arc<Purges>,
    metrics: Arc<Metrics>,
    /// Held while a snapshot is written: periodic, admin and shutdown writes
    /// share one temp file.
    writer: Mutex<()>,
    load_total: AtomicUsize,
    load_done: AtomicUsize,
}

impl Snapshots {
    pub fn new(
        dir: &Path,
        node: &str,
        l2: Arc<L2>,
        purges: Arc<Purges>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            path: dir.join(format!("{node}.snap")),
            l2,
            purges,
            metrics,
            writer: Mutex::new(()),
            load_total: AtomicUsize::new(0),
            load_done: AtomicUsize::new(0),
        }
    }

    /// The node's snapshot file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn progress(&self) -> Progress {
        Progress {
            done: self.load_done.load(Ordering::Relaxed),
            total: self.load_total.load(Ordering::Relaxed),
        }
    }

    /// Changes with every insert and removal in the store: a write at the
    /// same generation and position would repeat the last one.
    pub fn generation(&self) -> u64 {
        self.l2.cache.generation()
    }

    /// Writes the snapshot at log `position` (blocking: call off the async
    /// runtime). The caller reads the position first, so whatever is applied
    /// after it is replayed on load (ids make that idempotent), never skipped.
    pub fn write(&self, position: String) -> Result<Written, SnapshotError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let started = Instant::now();
        let (entries, graphs) = self.l2.cache.export_with_graphs();
        let header = Header {
            version: FORMAT_VERSION,
            embedder: self.l2.embedder.id().to_string(),
            dim: self.l2.embedder.dim() as u32,
            position: position.clone(),
            entries: entries.len() as u64,
        };
        let purges = self.purges.export().into_iter();
        let payload = Payload {
            entries: entries.iter().map(snap_entry).collect(),
            purges: purges
                .map(|(scope, at_ms)| SnapPurge {
                    scope: scope.label().to_string(),
                    at_ms,
                })
                .collect(),
            graphs: graphs
                .into_iter()
                .map(|(partition, bytes)| SnapGraph { partition, bytes })
                .collect(),
        };
        let bytes = format::encode(&header, &payload)?;
        write_atomically(&self.path, &bytes)?;
        Ok(Written {
            path: self.path.clone(),
            entries: entries.len(),
            bytes: bytes.len() as u64,
            position,
            millis: started.elapsed().as_millis() as u64,
        })
    }

    /// Loads the snapshot, if there is one, into the L2 index (blocking). A
    /// file that fails a check is moved aside and reported as an error; the
    /// caller then starts from the log alone.
    pub fn load(&self) -> Result<Option<Loaded>, SnapshotError> {
        let started = Instant::now();
        let file = match map(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let embedder = &self.l2.embedder;
        let (header, archived) = match format::read(&file, embedder.id(), embedder.dim()) {
            Ok(read) => read,
            Err(e) => {
                move_aside(&self.path);
                return Err(e.into());
            }
        };
        // Marks first, so purged entries are refused as they are inserted.
        for purge in archived.purges.iter() {
            let scope = PurgeScope::from_label(purge.scope.as_str());
            self.purges.record(&scope, purge.at_ms.to_native());
        }
        let total = archived.entries.len();
        self.load_total.store(total, Ordering::Relaxed);
        let step = (total / 10).max(10_000);
        let entries = archived.entries.iter().enumerate().map(|(i, e)| {
            if i > 0 && i % step == 0 {
                tracing::info!(done = i, total, "loading snapshot");
            }
            self.load_done.store(i + 1, Ordering::Relaxed);
            new_entry(e)
        });
        // Saved graphs go in once every entry is: their partitions then need
        // no rebuild. Their nodes are found by entry id among everything the
        // file holds (entries the store refused now become tombstones).
        let mut graphs_installed = 0;
        let install = |cache: &crate::semantic::SemanticCache| {
            if archived.graphs.is_empty() {
                return;
            }
            let by_key: HashMap<u64, usize> = archived
                .entries
                .iter()
                .enumerate()
                .map(|(i, e)| (graph_key(&e.id), i))
                .collect();
            let lookup = |key: u64| {
                let e = &archived.entries[*by_key.get(&key)?];
                let vector: Arc<[f32]> = e.vector.iter().map(|x| x.to_native()).collect();
                Some((e.id, vector))
            };
            let graphs: Vec<(PartitionKey, &[u8])> = archived
                .graphs
                .iter()
                .map(|g| (g.partition, g.bytes.as_slice()))
                .collect();
            graphs_installed = cache.install_graphs(&graphs, &lookup);
        };
        let loaded = self.l2.cache.insert_all_then(entries, install);
        Ok(Some(Loaded {
            position: header.position,
            graphs: graphs_installed,
            entries: loaded,
            millis: started.elapsed().as_millis() as u64,
        }))
    }

    /// Writes the snapshot off the async runtime, logged and counted.
    pub async fn save(self: &Arc<Self>, position: String) -> Result<Written, SnapshotError> {
        let started = Instant::now();
        let this = Arc::clone(self);
        let result = tokio::task::spawn_blocking(move || this.write(position))
            .await
            .unwrap_or_else(|e| Err(SnapshotError::Io(std::io::Error::other(e.to_string()))));
        match &result {
            Ok(w) => {
                self.metrics.snapshot("write", "ok", started.elapsed());
                tracing::info!(path = %w.path.display(), entries = w.entries, bytes = w.bytes, millis = w.millis, "snapshot written");
            }
            Err(e) => {
                self.metrics.snapshot("write", "error", started.elapsed());
                tracing::error!(error = %e, "snapshot not written");
            }
        }
        result
    }

    /// Loads the snapshot at start-up, logged and counted; the log position
    /// to replay from (`0`, the whole log, without a usable snapshot).
    pub async fn restore(self: &Arc<Self>) -> String {
        let started = Instant::now();
        let this = Arc::clone(self);
        let result = tokio::task::spawn_blocking(move || this.load())
            .await
            .unwrap_or_else(|e| Err(SnapshotError::Io(std::io::Error::other(e.to_string()))));
        let path = self.path.display();
        let (result, position) = match result {
            Ok(Some(loaded)) => {
                tracing::info!(path = %path, entries = loaded.entries, graphs = loaded.graphs, millis = loaded.millis, position = %loaded.position, "snapshot loaded");
                ("ok", loaded.position)
            }
            Ok(None) => ("absent", "0".to_string()),
            Err(SnapshotError::Format(e)) => {
                tracing::error!(path = %path, error = %e, "snapshot refused; rebuilding from the cluster log");
                ("refused", "0".to_string())
            }
            Err(e) => {
                tracing::error!(path = %path, error = %e, "snapshot not loaded; rebuilding from the cluster log");
                ("error", "0".to_string())
            }
        };
        self.metrics.snapshot("load", result, started.elapsed());
        position
    }
}
