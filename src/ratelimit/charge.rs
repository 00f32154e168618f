//! An admitted request's charge as a guard: the pipeline tells it what the
//! request turned out to cost, and it settles with the limiter when dropped —
//! so every way out of the pipeline settles, by construction.

use std::sync::Arc;

use super::headers::RateHeaders;
use super::limiter::{Admission, RateLimiter};

pub struct Charge {
    limiter: Arc<RateLimiter>,
    admission: Admission,
    /// Real tokens spent; `None`: unknown (the up-front estimate stands).
    tokens: Option<u64>,
    /// Give the request slot back (a cache hit, when hits are free).
    refund_request: bool,
}

impl Charge {
    /// A fresh charge: nothing has been spent yet.
    pub fn new(limiter: Arc<RateLimiter>, admission: Admission) -> Self {
        Self {
            limiter,
            admission,
            tokens: Some(0),
            refund_request: false,
        }
    }

    pub fn headers(&self) -> &RateHeaders {
        &self.admission.headers
    }

    /// Answered without an upstream call (cache hit, coalesced follower).
    pub fn answered_from_cache(&mut self) {
        self.tokens = Some(0);
        self.refund_request = self.limiter.hits_are_free();
    }

    /// An upstream call is under way: until it reports, its cost is unknown.
    pub fn sent(&mut self) {
        self.tokens = None;
    }

    /// What the upstream reported (`None`: it did not say).
    pub fn spent(&mut self, tokens: Option<u64>) {
        self.tokens = tokens;
    }

    /// No answer was produced (an error): nothing was spent.
    pub fn failed(&mut self) {
        self.tokens = Some(0);
        self.refund_request = false;
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.limiter
            .settle(&self.admission, self.tokens, self.refund_request);
    }
}
