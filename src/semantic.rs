//! The L2 semantic cache (DESIGN.md §2, §4): the last user message is embedded
//! and searched among earlier prompts of the same partition — everything else
//! about the request identical — and a candidate is a hit only above the
//! similarity threshold *and* past the verification guards.
//!
//! Each partition is searched exactly while small and through its own HNSW
//! graph once it grows past `exact_scan_max`. Expired, purged and evicted
//! entries become tombstones, filtered from every search; a partition whose
//! graph holds over 20 % tombstones is rebuilt in the background and swapped
//! in, so no request waits for a rebuild.

mod build;
mod decide;
mod entry;
mod keys;
mod partition;
mod stage;
mod store;
mod verify;

pub use decide::{Ask, Decision, Judge, raise_reread};
pub use entry::{Answer, Candidate, Lookup, NewEntry, Stats, prompt};
pub use keys::{Archived, EntryId, PartitionKey, entry_id, graph_key, id_hex, partition_of};
pub use stage::{Fetched, L2, L2Lookup, Peers, Probe, Query};
pub use store::SemanticCache;
pub use verify::{Guards, Rejection};

#[cfg(test)]
mod tests;
