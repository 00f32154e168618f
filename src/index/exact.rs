//! The exact scan: every vector compared, exact, and fastest for small
//! partitions.

use std::sync::{Arc, PoisonError, RwLock};

use super::space::{VectorIndex, similarity};

/// Every vector compared. It holds the entries' own vectors (shared), not copies.
#[derive(Default)]
pub struct ExactIndex {
    rows: RwLock<Vec<(usize, Arc<[f32]>)>>,
}

impl VectorIndex for ExactIndex {
    fn insert(&self, id: usize, vector: &Arc<[f32]>) {
        let mut rows = self.rows.write().unwrap_or_else(PoisonError::into_inner);
        rows.push((id, Arc::clone(vector)));
    }

    fn search(&self, query: &[f32], k: usize, allow: &dyn Fn(usize) -> bool) -> Vec<(usize, f32)> {
        let rows = self.rows.read().unwrap_or_else(PoisonError::into_inner);
        let mut best: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
        for (id, vector) in rows.iter() {
            if !allow(*id) {
                continue;
            }
            let s = similarity(query, vector);
            if best.len() < k || best.last().is_some_and(|(_, worst)| s > *worst) {
                let at = best.partition_point(|(_, b)| *b >= s);
                best.insert(at, (*id, s));
                best.truncate(k);
            }
        }
        best
    }

    fn len(&self) -> usize {
        self.rows
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
