//! A mock OpenAI-compatible upstream that speaks real HTTP and SSE: chat
//! completions (JSON and streamed), deterministic embeddings, a model list, and
//! scripted or random faults. Tests and benchmarks run it in process; users start
//! it with `cargo run --release -p mock-upstream` to try the gateway offline.

mod chat;
mod embed;
mod responses;
mod text;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

/// Behaviour of every response.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// Wait before the response head.
    pub latency: Duration,
    /// Wait between streamed chunks.
    pub chunk_delay: Duration,
    /// Share of chat/embedding requests answered 503 at random (0.0–1.0).
    pub error_rate: f64,
    pub embedding_dim: usize,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            error_rate: 0.0,
            embedding_dim: 384,
        }
    }
}

/// A fault for the next request, from the script queue.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, an OpenAI error body and optional `Retry-After`.
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// Wait this long before answering normally.
    Delay(Duration),
    /// Stream this many chunks, then break the connection.
    CutStreamAfter(usize),
    /// Hold the answer until `release_streams` lets it go (needs `hold_streams`).
    Hold,
    /// Hold like `Hold`, then answer with this status.
    HoldThenStatus(u16),
}

/// Shared state: counters the tests read and the fault script they write.
#[derive(Debug)]
pub struct MockState {
    pub options: MockOptions,
    requests: AtomicU64,
    keys: Mutex<Vec<Option<String>>>,
    traceparents: Mutex<Vec<Option<String>>>,
    bodies: Mutex<Vec<serde_json::Value>>,
    faults: Mutex<VecDeque<Fault>>,
    gate: Mutex<Option<Arc<Semaphore>>>,
    cancelled: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MockState {
    fn new(options: MockOptions) -> Self {
        Self {
            options,
            requests: AtomicU64::new(0),
            keys: Mutex::new(Vec::new()),
            traceparents: Mutex::new(Vec::new()),
            bodies: Mutex::new(Vec::new()),
            faults: Mutex::new(VecDeque::new()),
            gate: Mutex::new(None),
            cancelled: watch::Sender::new(0),
        }
    }

    /// Counts a chat/embedding request and returns the fault it should suffer.
    fn admit(
        &self,
        auth: Option<String>,
        traceparent: Option<String>,
        body: serde_json::Value,
    ) -> Option<Fault> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        lock(&self.keys).push(auth);
        lock(&self.traceparents).push(traceparent);
        lock(&self.bodies).push(body);
        let scripted = lock(&self.faults).pop_front();
        scripted.or_else(|| {
            (self.options.error_rate > 0.0 && rand::random::<f64>() < self.options.error_rate)
                .then_some(Fault::Status {
                    status: 503,
                    retry_after: None,
                })
        })
    }

    fn gate(&self) -> Option<Arc<Semaphore>> {
        lock(&self.gate).clone()
    }

    fn stream_cancelled(&self) {
        self.cancelled.send_modify(|n| *n += 1);
    }
}

/// A running mock upstream.
pub struct MockUpstream {
    pub addr: SocketAddr,
    pub state: Arc<MockState>,
    shutdown: CancellationToken,
}

impl MockUpstream {
    /// Binds `addr` (port 0 for a free one) and serves in the background.
    pub async fn start_on(addr: SocketAddr, options: MockOptions) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(MockState::new(options));
        let shutdown = CancellationToken::new();
        let app = router(Arc::clone(&state));
        let token = shutdown.clone();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(token.cancelled_owned());
            if let Err(e) = server.await {
                tracing::error!(error = %e, "mock upstream stopped");
            }
        });
        Ok(Self {
            addr,
            state,
            shutdown,
        })
    }

    /// Starts on a free loopback port.
    pub async fn start(options: MockOptions) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), options).await
    }

    /// Base URL to configure as an upstream, `/v1` included.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Chat and embedding requests received so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The `Authorization` header of each request, in order.
    pub fn keys_seen(&self) -> Vec<Option<String>> {
        lock(&self.state.keys).clone()
    }

    /// The W3C `traceparent` header of each request, in order.
    pub fn traceparents_seen(&self) -> Vec<Option<String>> {
        lock(&self.state.traceparents).clone()
    }

    /// The JSON body of each request, in order.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        lock(&self.state.bodies).clone()
    }

    /// Queues faults for the next requests, in order.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.state.faults).extend(faults);
    }

    /// From now on streams pause after their first chunk until released.
    pub fn hold_streams(&self) {
        *lock(&self.state.gate) = Some(Arc::new(Semaphore::new(0)));
    }

    /// Lets `n` held streams continue.
    pub fn release_streams(&self, n: usize) {
        if let Some(gate) = self.state.gate() {
            gate.add_permits(n);
        }
    }

    /// Waits until `n` streams were dropped before their end (the reader went away).
    pub async fn wait_streams_cancelled(&self, n: u64, within: Duration) -> bool {
        let mut rx = self.state.cancelled.subscribe();
        tokio::time::timeout(within, rx.wait_for(|c| *c >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::completions))
        .route("/v1/completions", post(text::completions))
        .route("/v1/responses", post(responses::create))
        .route("/v1/embeddings", post(embed::embeddings))
        .route("/v1/models", get(embed::models))
        .route("/v1/models/{id}", get(embed::model))
        .with_state(state)
}
