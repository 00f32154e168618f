//! Warm restarts (DESIGN.md §5): a node writes its L2 state — entries,
//! vectors, expiries, partitions, purge marks and the cluster log position it
//! has applied — to `snapshots/<node>.snap`, through a temp file that is
//! fsynced and renamed, so a crash never leaves half a snapshot. At start-up it
//! loads the file with validation and replays the log from its position. A
//! file that fails any check is logged, moved aside and ignored: never a
//! crash, never a half-loaded index.

mod format;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

pub use format::{FORMAT_VERSION, FormatError, Header};
use format::{Payload, SnapBody, SnapEntry, SnapPurge};

use crate::cache::{CachedResponse, PurgeScope, Usage, now_ms};
use crate::cluster::Cluster;
use crate::semantic::NewEntry;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("snapshot refused: {0}")]
    Format(#[from] FormatError),
    #[error("no semantic cache to snapshot")]
    Disabled,
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
    pub millis: u64,
}

/// The node's snapshot file.
pub fn path_of(cluster: &Cluster) -> PathBuf {
    cluster
        .config()
        .snapshot_dir
        .join(format!("{}.snap", cluster.node()))
}

/// Writes the node's snapshot (blocking: call off the async runtime).
pub fn write(cluster: &Cluster) -> Result<Written, SnapshotError> {
    let l2 = cluster.l2().ok_or(SnapshotError::Disabled)?;
    let _writer = cluster.snapshot_writer();
    let started = Instant::now();
    // Position first: whatever is applied after it is replayed on load
    // (ids make the replay idempotent), never skipped.
    let position = cluster.sync_state().position;
    let entries = l2.cache.export();
    let header = Header {
        version: FORMAT_VERSION,
        embedder: l2.embedder.id().to_string(),
        dim: l2.embedder.dim() as u32,
        position: position.clone(),
        entries: entries.len() as u64,
    };
    let payload = Payload {
        entries: entries.iter().map(snap_entry).collect(),
        purges: cluster
            .purges()
            .export()
            .into_iter()
            .map(|(scope, at_ms)| SnapPurge {
                scope: scope.label().to_string(),
                at_ms,
            })
            .collect(),
    };
    let bytes = format::encode(&header, &payload)?;
    let path = path_of(cluster);
    write_atomically(&path, &bytes)?;
    Ok(Written {
        path,
        entries: entries.len(),
        bytes: bytes.len() as u64,
        position,
        millis: started.elapsed().as_millis() as u64,
    })
}

fn snap_entry(e: &NewEntry) -> SnapEntry {
    SnapEntry {
        id: e.id,
        scope: e.scope.to_string(),
        partition: e.partition,
        text: e.text.clone(),
        vector: e.vector.to_vec(),
        stored_at_ms: e.stored_at_ms,
        expires_at_ms: e.expires_at_ms,
        body: e.response.as_ref().map(|r| SnapBody {
            bytes: r.body.to_vec(),
            prompt_tokens: r.usage.prompt,
            completion_tokens: r.usage.completion,
        }),
    }
}

/// Temp file in the same directory, fsync, rename, fsync the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("snapshot");
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// Loads the node's snapshot, if there is one, into its L2 index
/// (blocking). A file that fails a check is moved aside and reported as an
/// error; the caller then starts from the log alone.
pub fn load(cluster: &Cluster) -> Result<Option<Loaded>, SnapshotError> {
    let Some(l2) = cluster.l2() else {
        return Ok(None);
    };
    let path = path_of(cluster);
    let started = Instant::now();
    let file = match map(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let (header, archived) = match format::read(&file, l2.embedder.id(), l2.embedder.dim()) {
        Ok(read) => read,
        Err(e) => {
            move_aside(&path);
            return Err(e.into());
        }
    };
    // Marks first, so purged entries are refused as they are inserted.
    for purge in archived.purges.iter() {
        let scope = PurgeScope::from_label(purge.scope.as_str());
        cluster.purges().record(&scope, purge.at_ms.to_native());
    }
    let readiness = &cluster.readiness;
    readiness
        .load_total
        .store(archived.entries.len(), Ordering::Relaxed);
    let total = archived.entries.len();
    let step = (total / 10).max(10_000);
    let entries = archived.entries.iter().enumerate().map(|(i, e)| {
        if i > 0 && i % step == 0 {
            tracing::info!(done = i, total, "loading snapshot");
        }
        readiness.load_done.store(i + 1, Ordering::Relaxed);
        new_entry(e)
    });
    let loaded = l2.cache.insert_all(entries);
    Ok(Some(Loaded {
        position: header.position,
        entries: loaded,
        millis: started.elapsed().as_millis() as u64,
    }))
}

fn new_entry(e: &format::ArchivedSnapEntry) -> NewEntry {
    let expires_at_ms = e.expires_at_ms.to_native();
    let stored_at_ms = e.stored_at_ms.to_native();
    let response = e.body.as_ref().map(|b| {
        Arc::new(CachedResponse {
            body: bytes::Bytes::copy_from_slice(b.bytes.as_slice()),
            expires_at_ms,
            stored_at_ms,
            usage: Usage {
                prompt: b.prompt_tokens.to_native(),
                completion: b.completion_tokens.to_native(),
            },
        })
    });
    NewEntry {
        id: e.id,
        scope: e.scope.as_str().into(),
        partition: e.partition,
        text: e.text.as_str().to_string(),
        vector: e.vector.iter().map(|x| x.to_native()).collect(),
        stored_at_ms,
        expires_at_ms,
        response,
    }
}

/// The whole file, mapped read-only: the archive is validated and read
/// where it lies, never copied (a page-aligned mapping keeps the payload's
/// 16-byte alignment).
fn map(path: &Path) -> std::io::Result<memmap2::Mmap> {
    let file = File::open(path)?;
    // SAFETY: snapshot files are only ever replaced by rename, never written
    // in place, so the mapped file does not change while it is read; a
    // foreign writer could at worst make validation fail, and every byte is
    // checked (checksum, then rkyv's validating access) before use.
    unsafe { memmap2::Mmap::map(&file) }
}

/// Renames a refused file to `<name>.bad-<unix ms>` so it is kept for a
/// post-mortem but never loaded again.
fn move_aside(path: &Path) {
    let aside = path.with_extension(format!("snap.bad-{}", now_ms()));
    match fs::rename(path, &aside) {
        Ok(()) => {
            tracing::warn!(from = %path.display(), to = %aside.display(), "snapshot moved aside")
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot move a bad snapshot aside")
        }
    }
}

/// Writes the snapshot off the async runtime, logged and counted.
pub async fn save(cluster: Arc<Cluster>) -> Result<Written, SnapshotError> {
    let started = Instant::now();
    let metrics = Arc::clone(cluster.metrics());
    let result = tokio::task::spawn_blocking(move || write(&cluster))
        .await
        .unwrap_or_else(|e| Err(SnapshotError::Io(std::io::Error::other(e.to_string()))));
    match &result {
        Ok(w) => {
            metrics.snapshot("write", "ok", started.elapsed());
            tracing::info!(path = %w.path.display(), entries = w.entries, bytes = w.bytes, millis = w.millis, "snapshot written");
        }
        Err(e) => {
            metrics.snapshot("write", "error", started.elapsed());
            tracing::error!(error = %e, "snapshot not written");
        }
    }
    result
}

/// Loads the snapshot at start-up, logged and counted; the log position to
/// replay from (`0`, the whole log, without a usable snapshot).
pub async fn restore(cluster: Arc<Cluster>) -> String {
    let started = Instant::now();
    let metrics = Arc::clone(cluster.metrics());
    let path = path_of(&cluster);
    let result = tokio::task::spawn_blocking(move || load(&cluster))
        .await
        .unwrap_or_else(|e| Err(SnapshotError::Io(std::io::Error::other(e.to_string()))));
    let (result, position) = match result {
        Ok(Some(loaded)) => {
            tracing::info!(path = %path.display(), entries = loaded.entries, millis = loaded.millis, position = %loaded.position, "snapshot loaded");
            ("ok", loaded.position)
        }
        Ok(None) => ("absent", "0".to_string()),
        Err(SnapshotError::Format(e)) => {
            tracing::error!(path = %path.display(), error = %e, "snapshot refused; rebuilding from the cluster log");
            ("refused", "0".to_string())
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "snapshot not loaded; rebuilding from the cluster log");
            ("error", "0".to_string())
        }
    };
    metrics.snapshot("load", result, started.elapsed());
    position
}
