//! Background rebuilds of a partition's index: when it holds over 20 %
//! tombstones, or an exact partition outgrew the exact scan. The new index is
//! built off the lock from the live vectors; inserts that arrive meanwhile are
//! replayed into it outside the lock, round after round, until few enough are
//! left to hand over under it — so neither a rebuild nor a bulk load (a
//! snapshot, a log catch-up) blocks searches for long.

use std::sync::{Arc, PoisonError};

use super::{SemanticCache, Store};
use crate::semantic::keys::PartitionKey;
use crate::semantic::partition;

/// Inserts a finished rebuild replays under the store's lock; more are
/// replayed outside it first.
const HANDOVER: usize = 256;

impl SemanticCache {
    /// Starts a background rebuild of `partition` if its index is over 20 %
    /// dead or has outgrown the exact scan.
    pub(super) fn maybe_rebuild(&self, store: &mut Store, partition: PartitionKey) {
        let Some(part) = store.partitions.get_mut(&partition) else {
            return;
        };
        if !part.needs_rebuild() {
            return;
        }
        part.start_rebuild();
        let live: Vec<(usize, Arc<[f32]>)> = part
            .ids()
            .filter_map(|slot| {
                let entry = store.entries.get(&slot)?;
                Some((slot, Arc::clone(&entry.vector)))
            })
            .collect();
        let shared = Arc::clone(&self.store);
        let slot = Arc::clone(&self.rebuild_slot);
        let exact_max = self.config.exact_scan_max;
        let metrics = Arc::clone(&self.metrics);
        let build = move || {
            // One rebuild at a time: graph builds take a core each, and a
            // 2-core node must keep one for requests.
            let _slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
            let built = partition::build(&live, exact_max);
            let mut built_ids: Vec<usize> = live.iter().map(|(slot, _)| *slot).collect();
            drop(live);
            // Inserts that arrived meanwhile go into the new index outside
            // the lock, round after round, until few enough are left to hand
            // over under it: a bulk load never blocks searches for long.
            loop {
                let mut store = shared.write().unwrap_or_else(PoisonError::into_inner);
                let Store {
                    partitions,
                    entries,
                    ..
                } = &mut *store;
                let Some(part) = partitions.get_mut(&partition) else {
                    return;
                };
                if part.pending() <= HANDOVER {
                    let vector_of = |slot| entries.get(&slot).map(|e| Arc::clone(&e.vector));
                    part.finish_rebuild(built, built_ids, vector_of);
                    break;
                }
                let late: Vec<(usize, Arc<[f32]>)> = part
                    .take_pending()
                    .into_iter()
                    .filter_map(|slot| Some((slot, Arc::clone(&entries.get(&slot)?.vector))))
                    .collect();
                drop(store);
                for (slot, vector) in &late {
                    built.0.insert(*slot, vector);
                    built_ids.push(*slot);
                }
            }
            metrics.l2_rebuild();
        };
        // Never inline: `build` takes the store's write lock, held by our caller.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(build);
            }
            Err(_) => {
                std::thread::spawn(build);
            }
        }
    }
}
