//! Admission control for the expensive stages (embedding, verification):
//! a [`Lane`] is a queue in front of a batch runner that
//! - refuses at once a job that would wait past its caller's deadline, from
//!   the work queued ahead of it and the throughput the runner has shown;
//! - serves tenants round-robin, so one tenant's flood cannot push another
//!   tenant's jobs past their budget;
//! - drops, unrun, the jobs whose caller has gone (timed out, disconnected);
//! - runs one batch at a time (the runner decides where: off the runtime).
//!
//! The caller turns a refusal into "skip L2 for this request": the request is
//! never failed or delayed for it. Hand-written because no crate does
//! deadline-aware, per-tenant-fair batching.

mod queue;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{Notify, oneshot};
use tokio::time::{Instant, timeout_at};

use queue::{Job, Queue};
pub use queue::{LaneLimits, Refused};

/// Runs a batch of inputs, one output per input, in order.
pub trait Runner<I, O>: Send + Sync + 'static {
    fn run(&self, inputs: Vec<I>) -> BoxFuture<'_, Result<Vec<O>, String>>;
}

/// A queue with admission control in front of a batch runner.
pub struct Lane<I, O> {
    queue: Arc<Queue<I, O>>,
}

impl<I: Send + 'static, O: Send + 'static> Lane<I, O> {
    /// Starts the lane's worker on the current runtime.
    pub fn new(runner: Arc<dyn Runner<I, O>>, limits: LaneLimits) -> Self {
        let queue = Arc::new(Queue::new(limits));
        tokio::spawn(work(Arc::clone(&queue), runner));
        Self { queue }
    }

    /// Runs `input` (costing about `cost` units) for `tenant`, answering by
    /// `deadline` or not at all.
    pub async fn submit(
        &self,
        tenant: &str,
        input: I,
        cost: u64,
        deadline: Instant,
    ) -> Result<O, Refused> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            tenant: String::new(),
            input,
            cost: cost.max(1),
            deadline,
            reply,
        };
        self.queue.push(tenant, job)?;
        match timeout_at(deadline, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Refused::Closed),
            Err(_) => Err(Refused::Timeout),
        }
    }

    /// Jobs waiting (not yet in a batch).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The expected wait for a job of `cost` from `tenant`, were it queued now.
    pub fn expected_wait(&self, tenant: &str, cost: u64) -> Duration {
        self.queue.expected_wait(tenant, cost)
    }
}

impl<I, O> Drop for Lane<I, O> {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// The worker: one batch at a time, while the lane lives.
async fn work<I: Send + 'static, O: Send + 'static>(
    queue: Arc<Queue<I, O>>,
    runner: Arc<dyn Runner<I, O>>,
) {
    loop {
        let Some(batch) = queue.next_batch(Instant::now()) else {
            if queue.is_closed() {
                return;
            }
            wait(queue.notify()).await;
            continue;
        };
        let cost: u64 = batch.iter().map(|j| j.cost).sum();
        let (inputs, replies): (Vec<I>, Vec<_>) =
            batch.into_iter().map(|j| (j.input, j.reply)).unzip();
        let started = Instant::now();
        queue.started(cost);
        let result = runner.run(inputs).await;
        queue.finished(cost, started.elapsed());
        match result {
            Ok(outputs) if outputs.len() == replies.len() => {
                for (reply, output) in replies.into_iter().zip(outputs) {
                    let _ = reply.send(Ok(output));
                }
            }
            Ok(_) => fail(replies, "wrong number of outputs".into()),
            Err(e) => fail(replies, e),
        }
    }
}

async fn wait(notify: &Notify) {
    notify.notified().await;
}

fn fail<O>(replies: Vec<queue::Reply<O>>, error: String) {
    for reply in replies {
        let _ = reply.send(Err(Refused::Failed(error.clone())));
    }
}

#[cfg(test)]
mod tests;
