//! Single-flight: concurrent identical misses on one node make one upstream
//! call. The first request leads; the others wait for what it lands — the
//! answer, or its error (which is not cached). A leader that goes away without
//! landing (client gone) lands `Abandoned`, and its followers look in the
//! cache again, then board anew (one of them leads). While a leader's stream
//! runs, followers that want a stream too get it live ([`Live`]), chunk by
//! chunk as the leader does; followers that want JSON wait for the landing.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::StatusCode;
use bytes::Bytes;
use tokio::sync::watch;

use super::entry::CachedResponse;
use super::key::CacheKey;
use super::live::Live;

/// What a flight ended with.
#[derive(Debug, Clone)]
pub enum Landed {
    Answer(Arc<CachedResponse>),
    /// A non-200 answer or a gateway error: status and JSON body, passed on as is.
    Failed {
        status: StatusCode,
        body: Bytes,
    },
    /// The leader's upstream stream broke after it started: nothing to share.
    Cut,
    Abandoned,
}

/// What boarding a flight gives a request.
pub enum Flight {
    /// Lead: make the upstream call and land the flight.
    Lead(FlightGuard),
    /// Another request's call landed with this (never `Abandoned`).
    Followed(Landed),
    /// Another request's stream, relayed as it runs.
    Live(Arc<Live>),
    /// A leader went away, and the cache had the answer meanwhile.
    Cached(Arc<CachedResponse>),
}

/// Where a flight stands.
#[derive(Clone)]
enum Stage {
    Waiting,
    Live(Arc<Live>),
    Landed(Landed),
}

type Slot = watch::Receiver<Stage>;

#[derive(Default)]
pub struct Flights {
    inflight: Mutex<HashMap<CacheKey, (u64, Slot)>>,
    next_id: AtomicU64,
    waiting: AtomicUsize,
}

enum Join {
    Leader(FlightGuard),
    Follower(Slot),
}

impl Flights {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Leads a new flight for `key`, or follows the one in the air.
    fn join(self: &Arc<Self>, key: CacheKey) -> Join {
        let mut map = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, slot)) = map.get(&key) {
            return Join::Follower(slot.clone());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(Stage::Waiting);
        map.insert(key, (id, rx));
        Join::Leader(FlightGuard {
            flights: Arc::clone(self),
            key,
            id,
            tx,
            landed: false,
        })
    }

    fn remove(&self, key: &CacheKey, id: u64) {
        let mut map = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(key).is_some_and(|(current, _)| *current == id) {
            map.remove(key);
        }
    }

    /// Leads the flight for `key` or follows the one in the air until it
    /// lands — or, with `live`, until its stream starts; when its leader goes
    /// away, looks in the cache (`recheck`) and boards again.
    pub async fn board<F, Fut>(self: &Arc<Self>, key: CacheKey, live: bool, recheck: F) -> Flight
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Option<Arc<CachedResponse>>>,
    {
        loop {
            match self.join(key) {
                Join::Leader(guard) => return Flight::Lead(guard),
                Join::Follower(slot) => match self.wait_stage(slot, live).await {
                    Stage::Live(relay) => return Flight::Live(relay),
                    Stage::Landed(Landed::Abandoned) | Stage::Waiting => {
                        if let Some(entry) = recheck().await {
                            return Flight::Cached(entry);
                        }
                    }
                    Stage::Landed(landed) => return Flight::Followed(landed),
                },
            }
        }
    }

    pub fn in_flight(&self) -> usize {
        self.inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Requests currently waiting for a leader.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Waits for the leader's landing; a vanished leader counts as `Abandoned`.
    #[cfg(test)]
    async fn wait(&self, slot: Slot) -> Landed {
        match self.wait_stage(slot, false).await {
            Stage::Landed(landed) => landed,
            Stage::Live(_) | Stage::Waiting => Landed::Abandoned,
        }
    }

    /// Waits for the leader to land (or, with `live`, to go live); a
    /// vanished leader counts as `Abandoned`.
    async fn wait_stage(&self, mut slot: Slot, live: bool) -> Stage {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        let ready = |stage: &Stage| match stage {
            Stage::Waiting => false,
            Stage::Live(_) => live,
            Stage::Landed(_) => true,
        };
        match slot.wait_for(ready).await {
            Ok(stage) => stage.clone(),
            Err(_) => Stage::Landed(Landed::Abandoned),
        }
    }
}

/// Held by the leader; landing (or dropping) it releases the followers.
pub struct FlightGuard {
    flights: Arc<Flights>,
    key: CacheKey,
    id: u64,
    tx: watch::Sender<Stage>,
    landed: bool,
}

impl FlightGuard {
    pub fn land(mut self, landed: Landed) {
        self.release(landed);
    }

    /// The leader's stream has started: followers that want a stream get it
    /// from here on, live (up to `limit` bytes).
    pub fn go_live(&self, limit: usize) -> Arc<Live> {
        let live = Live::new(limit);
        if !self.landed {
            self.tx.send_replace(Stage::Live(Arc::clone(&live)));
        }
        live
    }

    fn release(&mut self, landed: Landed) {
        if self.landed {
            return;
        }
        self.landed = true;
        // Out of the map first: a request arriving now finds the cache filled
        // (fills happen before landing) or starts a fresh flight.
        self.flights.remove(&self.key, self.id);
        self.tx.send_replace(Stage::Landed(landed));
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        self.release(Landed::Abandoned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::Usage;
    use std::time::Duration;

    fn key() -> CacheKey {
        CacheKey([9; 32])
    }

    #[tokio::test]
    async fn followers_receive_what_the_leader_lands() {
        let flights = Flights::new();
        let Join::Leader(guard) = flights.join(key()) else {
            panic!("first is leader")
        };
        let followers: Vec<_> = (0..3)
            .map(|_| match flights.join(key()) {
                Join::Follower(slot) => {
                    let flights = Arc::clone(&flights);
                    tokio::spawn(async move { flights.wait(slot).await })
                }
                Join::Leader(_) => panic!("second is follower"),
            })
            .collect();
        let entry = Arc::new(CachedResponse::new(
            Bytes::from_static(b"{}"),
            Duration::from_secs(1),
            Usage::default(),
        ));
        guard.land(Landed::Answer(entry));
        for f in followers {
            assert!(matches!(f.await.unwrap(), Landed::Answer(_)));
        }
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_dropped_leader_releases_followers_as_abandoned() {
        let flights = Flights::new();
        let guard = flights.join(key());
        let Join::Follower(slot) = flights.join(key()) else {
            panic!("follower")
        };
        drop(guard);
        assert!(matches!(flights.wait(slot).await, Landed::Abandoned));
        assert!(matches!(flights.join(key()), Join::Leader(_)));
    }
}
