//! The in-process vector index (DESIGN.md §4) behind a small trait, with two
//! implementations: an exact scan (small partitions) and `hnsw_rs` (large ones).
//! Vectors are L2-normalised, so similarity is the dot product; the HNSW
//! distance is our own clamped `(1 - dot).max(0)`, since `hnsw_rs`'s
//! `DistDot`/`DistCosine` can panic or crawl on (near-)identical unit vectors.

mod exact;
mod graph;
mod hnsw;
mod space;

pub use exact::ExactIndex;
pub use graph::{GraphError, GraphIndex, GraphParams};
pub use hnsw::HnswIndex;
pub use space::{VectorIndex, distance, similarity};

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::space::similarity_portable;
    use super::*;
    use crate::embedding::normalize;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    pub(crate) fn random_unit(rng: &mut StdRng, dim: usize) -> Arc<[f32]> {
        let mut v: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        normalize(&mut v);
        v.into()
    }

    #[test]
    fn similarity_is_the_dot_product_for_any_length() {
        for len in [0, 1, 7, 8, 9, 384, 385] {
            let a: Vec<f32> = (0..len).map(|i| i as f32 * 0.5).collect();
            let b: Vec<f32> = (0..len).map(|i| 1.0 - i as f32 * 0.25).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            for got in [similarity(&a, &b), similarity_portable(&a, &b)] {
                assert!((got - plain).abs() <= 1e-3 * plain.abs().max(1.0), "{len}");
            }
        }
    }

    #[test]
    fn the_distance_is_clamped_at_zero_for_identical_vectors() {
        let mut rng = StdRng::seed_from_u64(1);
        let v = random_unit(&mut rng, 384);
        assert!((0.0..1e-5).contains(&distance(&v, &v)));
        let mut w = v.to_vec();
        w.iter_mut().for_each(|x| *x *= 1.000_001);
        assert_eq!(
            distance(&v, &w),
            0.0,
            "a dot product over 1 must not go negative"
        );
        let opposite: Vec<f32> = v.iter().map(|x| -x).collect();
        assert!((distance(&v, &opposite) - 2.0).abs() < 1e-4);
    }

    #[test]
    fn the_exact_scan_ranks_by_similarity_and_honours_the_filter() {
        let mut rng = StdRng::seed_from_u64(2);
        let index = ExactIndex::default();
        let vectors: Vec<_> = (0..50).map(|_| random_unit(&mut rng, 16)).collect();
        for (i, v) in vectors.iter().enumerate() {
            index.insert(i, v);
        }
        let hits = index.search(&vectors[7], 3, &|_| true);
        assert_eq!(hits[0].0, 7);
        assert!((hits[0].1 - 1.0).abs() < 1e-5);
        assert!(hits[0].1 >= hits[1].1 && hits[1].1 >= hits[2].1);
        let filtered = index.search(&vectors[7], 3, &|id| id != 7);
        assert!(filtered.iter().all(|(id, _)| *id != 7));
    }
}
