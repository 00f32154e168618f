//! Captures a streamed answer while it passes through. Only a stream that ended
//! cleanly with `data: [DONE]` (after a 200) is assembled and cached; a cut,
//! idle, oversized or unparsable stream is not. Either way the single-flight
//! followers are released.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::entry::{CachedResponse, Usage};
use super::flight::{FlightGuard, Landed};
use super::key::CacheKey;
use super::l1::L1;
use super::live::Live;
use super::sse;
use crate::upstream::StreamObserver;

/// Called with the entry when a captured stream is stored (the L2 fill).
pub type OnStore = Box<dyn FnOnce(Arc<CachedResponse>) + Send>;

/// How a route's streams are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Chat chunks, assembled into one `chat.completion` (which serves
    /// JSON and streamed requests alike); only after `data: [DONE]`.
    Chat,
    /// The events as they came (the Responses API), replayed as they are;
    /// only once `response.completed` arrived.
    Raw,
    /// Not kept.
    None,
}

pub struct StreamFill {
    capture: Capture,
    /// The relay to the flight's followers, while the stream runs.
    live: Option<Arc<Live>>,
    on_store: Option<OnStore>,
    buffer: Vec<u8>,
    limit: usize,
    overflowed: bool,
    key: CacheKey,
    ttl: Duration,
    store: bool,
    l1: Arc<L1>,
    flight: Option<FlightGuard>,
}

/// Where and how long a captured stream is kept.
pub struct Keep {
    pub key: CacheKey,
    pub ttl: Duration,
    /// `false` under `no-store`: the flight lands, nothing is stored.
    pub store: bool,
}

impl StreamFill {
    pub fn new(
        capture: Capture,
        l1: Arc<L1>,
        keep: Keep,
        limit: usize,
        flight: Option<FlightGuard>,
        on_store: Option<OnStore>,
    ) -> Self {
        let Keep { key, ttl, store } = keep;
        let live = flight.as_ref().map(|f| f.go_live(limit));
        Self {
            capture,
            live,
            on_store,
            buffer: Vec::new(),
            limit,
            overflowed: false,
            key,
            ttl,
            store,
            l1,
            flight,
        }
    }

    fn entry(&self) -> Option<CachedResponse> {
        if self.overflowed {
            return None;
        }
        let (body, usage) = match self.capture {
            Capture::Chat => {
                let completion = sse::assemble(&self.buffer)?;
                let usage = Usage::of(&completion);
                (Bytes::from(serde_json::to_vec(&completion).ok()?), usage)
            }
            Capture::Raw => {
                let response = sse::completed_response(&self.buffer)?;
                (Bytes::from(self.buffer.clone()), Usage::of(&response))
            }
            Capture::None => return None,
        };
        Some(CachedResponse::new(body, self.ttl, usage))
    }
}

impl StreamObserver for StreamFill {
    fn chunk(&mut self, bytes: &Bytes) {
        if let Some(live) = &self.live {
            live.push(bytes);
        }
        if self.overflowed {
            return;
        }
        if self.buffer.len() + bytes.len() > self.limit {
            self.overflowed = true;
            self.buffer = Vec::new();
        } else {
            self.buffer.extend_from_slice(bytes);
        }
    }

    fn end(mut self: Box<Self>, clean: bool) {
        if let Some(live) = self.live.take() {
            live.finish(clean);
        }
        let entry = if clean {
            self.entry().map(Arc::new)
        } else {
            None
        };
        let landed = match (entry, clean) {
            (Some(entry), _) => {
                if self.store {
                    self.l1.fill(self.key, Arc::clone(&entry));
                    if let Some(on_store) = self.on_store.take() {
                        on_store(Arc::clone(&entry));
                    }
                }
                Landed::Answer(entry)
            }
            // Clean but not cacheable (too large): followers ask upstream themselves.
            (None, true) => Landed::Abandoned,
            (None, false) => Landed::Cut,
        };
        if let Some(flight) = self.flight.take() {
            flight.land(landed);
        }
    }
}
