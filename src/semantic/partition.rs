//! One L2 partition: its index (exact scan while small, HNSW past
//! `exact_scan_max`), the ids in it, and the tombstone count that triggers a
//! rebuild. During a rebuild the old index keeps answering and keeps taking
//! inserts; those are replayed into the new index before it is swapped in.

use std::sync::Arc;

use crate::index::{ExactIndex, GraphIndex, GraphParams, VectorIndex};

/// Rebuild when tombstones pass this share of the index.
const DEAD_SHARE: f64 = 0.2;
/// Below this many vectors tombstones are cheap enough to keep.
const MIN_REBUILD: usize = 64;

pub struct Partition {
    /// The cache scope of every entry in it (the partition key covers it).
    scope: Arc<str>,
    index: Arc<dyn VectorIndex>,
    exact: bool,
    ids: Vec<usize>,
    live: usize,
    dead: usize,
    /// An exact partition outgrew `exact_scan_max`: rebuild it as HNSW.
    outgrown: bool,
    rebuilding: bool,
    pending: Vec<usize>,
}

/// The index for `rows`: exact up to `exact_max` vectors, HNSW above.
pub fn build(rows: &[(usize, Arc<[f32]>)], exact_max: usize) -> (Arc<dyn VectorIndex>, bool) {
    if rows.len() <= exact_max {
        let index = ExactIndex::default();
        for (id, v) in rows {
            index.insert(*id, v);
        }
        (Arc::new(index), true)
    } else {
        let threads = GraphIndex::build_threads();
        let index = GraphIndex::build(GraphParams::default(), rows, threads);
        (Arc::new(index), false)
    }
}

impl Partition {
    pub fn new(scope: Arc<str>) -> Self {
        Self {
            scope,
            index: Arc::new(ExactIndex::default()),
            exact: true,
            ids: Vec::new(),
            live: 0,
            dead: 0,
            outgrown: false,
            rebuilding: false,
            pending: Vec::new(),
        }
    }

    pub fn insert(&mut self, id: usize, vector: &Arc<[f32]>, exact_max: usize) {
        self.index.insert(id, vector);
        self.ids.push(id);
        self.live += 1;
        if self.rebuilding {
            self.pending.push(id);
        }
        if self.exact && self.live > exact_max {
            self.outgrown = true;
        }
    }

    pub fn search(
        &self,
        vector: &[f32],
        k: usize,
        allow: &dyn Fn(usize) -> bool,
    ) -> Vec<(usize, f32)> {
        self.index.search(vector, k, allow)
    }

    pub fn tombstone(&mut self, _id: usize) {
        self.live = self.live.saturating_sub(1);
        self.dead += 1;
    }

    /// The graph to save, when the index is one and no rebuild is about to
    /// replace it.
    pub fn graph(&self) -> Option<&GraphIndex> {
        let graph = self.index.as_any().downcast_ref::<GraphIndex>();
        graph.filter(|_| !self.rebuilding)
    }

    /// Swaps in a graph loaded from a snapshot: `ids` its nodes (`dead` of
    /// them entries that are gone, which the search filter refuses).
    pub fn install(&mut self, graph: Arc<GraphIndex>, ids: Vec<usize>, dead: usize) {
        self.live = ids.len() - dead.min(ids.len());
        self.dead = dead;
        self.ids = ids;
        self.index = graph;
        self.exact = false;
        self.outgrown = false;
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }

    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// Vectors in the index, tombstones included.
    pub fn size(&self) -> usize {
        self.ids.len()
    }

    pub fn dead(&self) -> usize {
        self.dead
    }

    pub fn live(&self) -> usize {
        self.live
    }

    pub fn rebuilding(&self) -> bool {
        self.rebuilding
    }

    pub fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.ids.iter().copied()
    }

    pub fn needs_rebuild(&self) -> bool {
        let size = self.ids.len();
        let too_dead = size >= MIN_REBUILD && self.dead as f64 > DEAD_SHARE * size as f64;
        !self.rebuilding && (self.outgrown || too_dead)
    }

    pub fn start_rebuild(&mut self) {
        self.rebuilding = true;
        self.pending.clear();
    }

    /// Ids inserted since the rebuild started (and not yet handed over).
    pub fn take_pending(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.pending)
    }

    /// How many inserts arrived since the rebuild started.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Swaps in `built` (made from the ids `built_ids`), after replaying what
    /// is still pending. `vector_of` answers for live ids only.
    pub fn finish_rebuild(
        &mut self,
        built: (Arc<dyn VectorIndex>, bool),
        built_ids: Vec<usize>,
        vector_of: impl Fn(usize) -> Option<Arc<[f32]>>,
    ) {
        let (index, exact) = built;
        let mut ids = built_ids;
        for id in std::mem::take(&mut self.pending) {
            if let Some(v) = vector_of(id) {
                index.insert(id, &v);
                ids.push(id);
            }
        }
        self.dead = ids.iter().filter(|id| vector_of(**id).is_none()).count();
        self.live = ids.len() - self.dead;
        self.ids = ids;
        self.index = index;
        self.exact = exact;
        self.outgrown = false;
        self.rebuilding = false;
    }
}
