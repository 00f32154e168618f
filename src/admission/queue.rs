//! The lane's queue: one FIFO per tenant, served round-robin, with the cost
//! queued per tenant and the throughput measured from finished batches — what
//! the expected wait of a new job is computed from.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

/// Why a job produced no output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// It would have waited past its deadline: not queued.
    #[error("would wait past the deadline")]
    Saturated,
    /// The deadline passed while it was queued or running.
    #[error("deadline passed")]
    Timeout,
    #[error("failed: {0}")]
    Failed(String),
    #[error("the lane is shut down")]
    Closed,
}

impl Refused {
    /// A low-cardinality label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Saturated => "saturated",
            Self::Timeout => "timeout",
            Self::Failed(_) => "error",
            Self::Closed => "closed",
        }
    }
}

/// Limits of one lane.
#[derive(Debug, Clone, Copy)]
pub struct LaneLimits {
    /// Jobs per batch.
    pub max_batch: usize,
    /// Cost units (about tokens) per batch.
    pub max_batch_cost: u64,
    /// Cost units queued in all; beyond it jobs are refused at once.
    pub max_queued_cost: u64,
    /// Throughput assumed before the first batch is measured (units per second).
    pub initial_rate: f64,
}

pub type Reply<O> = oneshot::Sender<Result<O, Refused>>;

pub struct Job<I, O> {
    /// Set by [`Queue::push`].
    pub tenant: String,
    pub input: I,
    pub cost: u64,
    pub deadline: Instant,
    pub reply: Reply<O>,
}

struct Tenant<I, O> {
    jobs: VecDeque<Job<I, O>>,
    cost: u64,
}

struct State<I, O> {
    tenants: HashMap<String, Tenant<I, O>>,
    /// Tenants with queued jobs, in serving order.
    turn: VecDeque<String>,
    queued: usize,
    queued_cost: u64,
    /// Cost of the batch being run (0 when idle).
    running_cost: u64,
    running_since: Option<Instant>,
    /// Measured cost units per second (EWMA over batches).
    rate: f64,
}

pub struct Queue<I, O> {
    state: Mutex<State<I, O>>,
    notify: Notify,
    closed: AtomicBool,
    limits: LaneLimits,
}

impl<I, O> Queue<I, O> {
    pub fn new(limits: LaneLimits) -> Self {
        Self {
            state: Mutex::new(State {
                tenants: HashMap::new(),
                turn: VecDeque::new(),
                queued: 0,
                queued_cost: 0,
                running_cost: 0,
                running_since: None,
                rate: limits.initial_rate.max(1.0),
            }),
            notify: Notify::new(),
            closed: AtomicBool::new(false),
            limits,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<I, O>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn notify(&self) -> &Notify {
        &self.notify
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn len(&self) -> usize {
        self.lock().queued
    }

    /// Queues `job` unless it would wait past its deadline or the queue is full.
    pub fn push(&self, tenant: &str, mut job: Job<I, O>) -> Result<(), Refused> {
        if self.is_closed() {
            return Err(Refused::Closed);
        }
        let mut state = self.lock();
        if state.queued_cost + job.cost > self.limits.max_queued_cost {
            return Err(Refused::Saturated);
        }
        let wait = expected_wait(&state, tenant, job.cost, Instant::now());
        if Instant::now() + wait > job.deadline {
            return Err(Refused::Saturated);
        }
        job.tenant = tenant.to_string();
        enqueue(&mut state, job, false);
        drop(state);
        self.notify.notify_one();
        Ok(())
    }

    pub fn expected_wait(&self, tenant: &str, cost: u64) -> Duration {
        expected_wait(&self.lock(), tenant, cost, Instant::now())
    }

    /// The next batch: one job per tenant in turn, skipping jobs whose caller
    /// has gone or whose deadline has passed, up to the batch limits.
    pub fn next_batch(&self, now: Instant) -> Option<Vec<Job<I, O>>> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut batch = Vec::new();
        let mut cost = 0;
        while batch.len() < self.limits.max_batch {
            let Some(name) = state.turn.pop_front() else {
                break;
            };
            let Some(tenant) = state.tenants.get_mut(&name) else {
                continue;
            };
            let Some(job) = tenant.jobs.pop_front() else {
                state.tenants.remove(&name);
                continue;
            };
            tenant.cost -= job.cost;
            let more = !tenant.jobs.is_empty();
            if more {
                state.turn.push_back(name);
            } else {
                state.tenants.remove(&name);
            }
            state.queued -= 1;
            state.queued_cost -= job.cost;
            if job.reply.is_closed() || job.deadline <= now {
                continue;
            }
            if !batch.is_empty() && cost + job.cost > self.limits.max_batch_cost {
                // Over the batch budget: back to the front of the line.
                enqueue(state, job, true);
                break;
            }
            cost += job.cost;
            batch.push(job);
        }
        (!batch.is_empty()).then_some(batch)
    }

    pub fn started(&self, cost: u64) {
        let mut state = self.lock();
        state.running_cost = cost;
        state.running_since = Some(Instant::now());
    }

    /// Folds a finished batch into the throughput estimate.
    pub fn finished(&self, cost: u64, elapsed: Duration) {
        let mut state = self.lock();
        state.running_cost = 0;
        state.running_since = None;
        let secs = elapsed.as_secs_f64().max(1e-4);
        let rate = cost as f64 / secs;
        state.rate = 0.7 * state.rate + 0.3 * rate;
    }
}

/// Adds `job` to its tenant's line (at the front when `first`), the tenant
/// to the serving order if it was not waiting.
fn enqueue<I, O>(state: &mut State<I, O>, job: Job<I, O>, first: bool) {
    let name = job.tenant.clone();
    state.queued += 1;
    state.queued_cost += job.cost;
    let tenant = state.tenants.entry(name.clone()).or_insert_with(|| Tenant {
        jobs: VecDeque::new(),
        cost: 0,
    });
    let was_waiting = !tenant.jobs.is_empty();
    tenant.cost += job.cost;
    if first {
        tenant.jobs.push_front(job);
    } else {
        tenant.jobs.push_back(job);
    }
    match (was_waiting, first) {
        (false, true) => state.turn.push_front(name),
        (false, false) => state.turn.push_back(name),
        (true, _) => {}
    }
}

/// Round-robin serves every tenant's line in parallel: a new job of `cost`
/// behind `own` units of its tenant waits for what each other tenant has
/// queued up to that depth, plus what is left of the batch running now.
fn expected_wait<I, O>(state: &State<I, O>, tenant: &str, cost: u64, now: Instant) -> Duration {
    let own = state.tenants.get(tenant).map_or(0, |t| t.cost) + cost;
    let ahead: u64 = state
        .tenants
        .iter()
        .filter(|(name, _)| name.as_str() != tenant)
        .map(|(_, t)| t.cost.min(own))
        .sum();
    let running_left = match state.running_since {
        Some(since) => {
            let total = state.running_cost as f64 / state.rate;
            (total - now.saturating_duration_since(since).as_secs_f64()).max(0.0)
        }
        None => 0.0,
    };
    Duration::from_secs_f64((ahead + own) as f64 / state.rate + running_left)
}
