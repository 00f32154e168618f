//! Saving the partitions' HNSW graphs with a snapshot and installing them at
//! the next start, so a restarted node searches at graph speed at once
//! instead of scanning while it rebuilds. A graph's nodes are named by their
//! entries' cluster-wide ids (slots are local to one process); the nodes of
//! entries removed since go with their vector and come back as tombstones.

use std::cell::Cell;
use std::sync::Arc;

use super::{SemanticCache, Store};
use crate::cache::now_ms;
use crate::index::{GraphError, GraphIndex, VectorIndex};
use crate::semantic::entry::NewEntry;
use crate::semantic::keys::{Archived, PartitionKey, graph_key};

impl SemanticCache {
    /// The entries a snapshot keeps and, for each partition indexed by a
    /// graph, that graph — both read under one lock, so every node of a
    /// graph is an exported entry or travels with its own vector.
    pub fn export_with_graphs(&self) -> (Vec<NewEntry>, Vec<(PartitionKey, Vec<u8>)>) {
        let now = now_ms();
        let store = self.read();
        let kept = |e: &&NewEntry| e.expires_at_ms > now;
        let entries = store
            .order
            .iter()
            .filter_map(|slot| store.entries.get(slot).map(Box::as_ref))
            .filter(kept)
            .cloned()
            .collect();
        let graphs = store
            .partitions
            .iter()
            .filter_map(|(key, part)| {
                let graph = part.graph()?;
                let key_of = |slot: usize| {
                    let entry = store.entries.get(&slot).map(Box::as_ref).filter(kept)?;
                    Some(graph_key(&entry.id))
                };
                Some((*key, graph.save(key_of)))
            })
            .collect();
        (entries, graphs)
    }

    /// Installs saved graphs into the partitions a snapshot just filled;
    /// how many were installed. A graph that fails its checks is logged and
    /// left out: its partition is rebuilt as before.
    pub fn install_graphs(
        &self,
        graphs: &[(PartitionKey, &[u8])],
        archived: &Archived<'_>,
    ) -> usize {
        let mut installed = 0;
        for (partition, bytes) in graphs {
            match self.install_graph(partition, bytes, archived) {
                Ok(nodes) => {
                    installed += 1;
                    tracing::debug!(nodes, "saved graph installed");
                }
                Err(e) => {
                    self.metrics.l2_graph_refused();
                    tracing::warn!(error = %e, "a saved graph was refused: its partition is rebuilt");
                }
            }
        }
        installed
    }

    fn install_graph(
        &self,
        partition: &PartitionKey,
        bytes: &[u8],
        archived: &Archived<'_>,
    ) -> Result<usize, GraphError> {
        let mut store = self.write();
        let Store {
            partitions,
            entries,
            slots,
            next_slot,
            ..
        } = &mut *store;
        let Some(part) = partitions.get_mut(partition) else {
            return Ok(0);
        };
        let next = Cell::new(*next_slot);
        let dead = Cell::new(0usize);
        let tombstone = || {
            dead.set(dead.get() + 1);
            let slot = next.get();
            next.set(slot + 1);
            slot
        };
        let resolve = |key: u64| {
            let (id, vector) = archived(key)?;
            match slots.get(&id).and_then(|s| Some((*s, entries.get(s)?))) {
                Some((slot, entry)) if entry.partition == *partition => {
                    Some((slot, Arc::clone(&entry.vector)))
                }
                // Refused by the store (expired, purged) or elsewhere: a tombstone.
                _ => Some((tombstone(), vector)),
            }
        };
        let graph = GraphIndex::load(bytes, resolve, tombstone)?;
        *next_slot = next.get();
        // Entries of the partition the graph does not hold (filled after it
        // was saved) go into it now.
        let mut ids = graph.ids();
        let known: std::collections::HashSet<usize> = ids.iter().copied().collect();
        for slot in part.ids().collect::<Vec<_>>() {
            if known.contains(&slot) {
                continue;
            }
            if let Some(entry) = entries.get(&slot) {
                graph.insert(slot, &entry.vector);
                ids.push(slot);
            }
        }
        let nodes = ids.len();
        part.install(Arc::new(graph), ids, dead.get());
        Ok(nodes)
    }
}
