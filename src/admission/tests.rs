use std::sync::Mutex;

use super::*;

/// Echoes its inputs after `per_unit` per cost unit (inputs are costs), and
/// records what it ran; holds every batch until `gate` has a permit.
struct Echo {
    per_unit: Duration,
    ran: Mutex<Vec<u64>>,
    gate: tokio::sync::Semaphore,
}

impl Echo {
    fn new(per_unit: Duration, open: bool) -> Arc<Self> {
        let permits = if open {
            tokio::sync::Semaphore::MAX_PERMITS
        } else {
            0
        };
        Arc::new(Self {
            per_unit,
            ran: Mutex::new(Vec::new()),
            gate: tokio::sync::Semaphore::new(permits),
        })
    }

    fn ran(&self) -> Vec<u64> {
        self.ran.lock().unwrap().clone()
    }
}

impl Runner<u64, u64> for Echo {
    fn run(&self, inputs: Vec<u64>) -> BoxFuture<'_, Result<Vec<u64>, String>> {
        Box::pin(async move {
            let permit = self.gate.acquire().await.map_err(|e| e.to_string())?;
            permit.forget();
            self.ran.lock().unwrap().extend(&inputs);
            let units: u64 = inputs.iter().sum();
            tokio::time::sleep(self.per_unit * units as u32).await;
            Ok(inputs)
        })
    }
}

fn limits(max_batch: usize) -> LaneLimits {
    LaneLimits {
        max_batch,
        max_batch_cost: 10_000,
        max_queued_cost: 100_000,
        initial_rate: 1_000.0,
    }
}

fn lane(runner: &Arc<Echo>, max_batch: usize) -> Arc<Lane<u64, u64>> {
    Arc::new(Lane::new(Arc::clone(runner) as _, limits(max_batch)))
}

fn soon(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

#[tokio::test(start_paused = true)]
async fn every_caller_gets_its_own_output_from_batches() {
    let echo = Echo::new(Duration::from_micros(100), true);
    let lane = lane(&echo, 4);
    let calls: Vec<_> = (1..=10u64)
        .map(|i| {
            let lane = Arc::clone(&lane);
            tokio::spawn(async move { lane.submit("t", i, i, soon(10_000)).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap(), Ok(i as u64 + 1));
    }
    assert_eq!(echo.ran().len(), 10);
}

#[tokio::test(start_paused = true)]
async fn a_job_that_would_wait_past_its_deadline_is_refused_at_once() {
    // 1 ms per unit, measured: 1000 units take a second.
    let echo = Echo::new(Duration::from_millis(1), true);
    let lane = lane(&echo, 1);
    assert_eq!(lane.submit("t", 50, 50, soon(10_000)).await, Ok(50));
    let busy = {
        let lane = Arc::clone(&lane);
        tokio::spawn(async move { lane.submit("t", 1000, 1000, soon(60_000)).await })
    };
    tokio::task::yield_now().await;
    let asked = Instant::now();
    assert_eq!(
        lane.submit("other", 5, 5, soon(100)).await,
        Err(Refused::Saturated)
    );
    assert_eq!(Instant::now(), asked, "refused without waiting");
    assert_eq!(busy.await.unwrap(), Ok(1000));
    assert!(!echo.ran().contains(&5), "a refused job never runs");
}

#[tokio::test(start_paused = true)]
async fn jobs_whose_caller_has_gone_are_never_run() {
    let echo = Echo::new(Duration::ZERO, false);
    let lane = lane(&echo, 8);
    let first = {
        let lane = Arc::clone(&lane);
        tokio::spawn(async move { lane.submit("t", 1, 1, soon(60_000)).await })
    };
    tokio::task::yield_now().await;
    // Queued behind the held batch; its caller gives up after 10 ms.
    let gone = lane.submit("t", 2, 2, soon(10)).await;
    assert_eq!(gone, Err(Refused::Timeout));
    let kept = {
        let lane = Arc::clone(&lane);
        tokio::spawn(async move { lane.submit("t", 3, 3, soon(60_000)).await })
    };
    tokio::task::yield_now().await;
    echo.gate.add_permits(2);
    assert_eq!(first.await.unwrap(), Ok(1));
    assert_eq!(kept.await.unwrap(), Ok(3));
    assert_eq!(echo.ran(), vec![1, 3]);
}

#[tokio::test(start_paused = true)]
async fn tenants_are_served_in_turn_so_a_flood_does_not_starve_another() {
    let echo = Echo::new(Duration::ZERO, false);
    let lane = lane(&echo, 1);
    let mut flood = Vec::new();
    for i in 0..20u64 {
        let lane = Arc::clone(&lane);
        flood.push(tokio::spawn(async move {
            lane.submit("flood", 100 + i, 1, soon(60_000)).await
        }));
        tokio::task::yield_now().await;
    }
    let quiet = {
        let lane = Arc::clone(&lane);
        tokio::spawn(async move { lane.submit("quiet", 7, 1, soon(60_000)).await })
    };
    tokio::task::yield_now().await;
    echo.gate.add_permits(100);
    assert_eq!(quiet.await.unwrap(), Ok(7));
    for f in flood {
        f.await.unwrap().unwrap();
    }
    let order = echo.ran();
    let at = order.iter().position(|x| *x == 7).unwrap();
    assert!(at <= 2, "the quiet tenant's job ran {at}th: {order:?}");
}
