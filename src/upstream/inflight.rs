//! A request in flight on a deployment, held by its response (a stream's
//! body) until it ends.

use std::sync::Arc;

use super::route::Deployment;

/// A request in flight on a deployment: counted in its load and holding
/// its concurrency slot until dropped — with the response, or at the end of
/// a stream.
pub struct InFlight {
    deployment: Arc<Deployment>,
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Other holds released with it (a tenant's concurrency slot).
    extra: Vec<Box<dyn Send + Sync>>,
}

impl InFlight {
    pub fn new(
        deployment: Arc<Deployment>,
        slot: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Self {
        deployment.state.load.started();
        Self {
            deployment,
            _slot: slot,
            extra: Vec::new(),
        }
    }

    /// Keeps `hold` until this request ends.
    pub fn hold(&mut self, hold: Box<dyn Send + Sync>) {
        self.extra.push(hold);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.deployment.state.load.finished();
        self.extra.clear();
    }
}
