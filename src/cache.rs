//! The L1 exact cache (DESIGN.md §2, §3): a byte-bounded moka cache in process,
//! backed — when Redis is configured — by a shared Redis tier, so an answer
//! filled on one node is a hit on every node. TTLs are fixed at write time.

mod capture;
mod entry;
mod flight;
mod key;
mod l1;
mod live;
mod policy;
mod purge;
pub mod sse;
mod status;

pub use capture::{Capture, Keep, StreamFill};
pub use entry::{CachedResponse, Usage, now_ms};
pub use flight::{Flight, FlightGuard, Flights, Landed};
pub use key::{CacheKey, NON_SEMANTIC_FIELDS, canonical_json, l1_key};
pub use l1::{L1, Lookup, Tier};
pub use live::{Live, Reader};
pub use policy::{CachePolicy, PolicyError, scope_of};
pub use purge::{PurgeScope, Purges};
pub use status::CacheStatus;
