//! The node's outbox of writes to the shared Redis (DESIGN.md §3): fills
//! (L1 answers, L2 answers and their log entries) and purges queue here and a
//! single writer sends them in order. While Redis is away they wait — bounded
//! by count and bytes, the oldest dropped first and counted — and are written
//! once Redis answers again, so nothing a node learned during an outage is
//! lost to the others. A write that fails (one on a connection being
//! re-established included) is retried with backoff until it is written or
//! its entry has expired.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::clock::now_ms;

/// One write.
#[derive(Clone)]
pub enum Write {
    /// `SET key value PX <time left until expires_at_ms>`; dropped once expired.
    Set {
        op: &'static str,
        key: String,
        value: Arc<[u8]>,
        expires_at_ms: u64,
    },
    /// Any other command (HSET, XADD).
    Cmd { op: &'static str, cmd: redis::Cmd },
}

impl Write {
    fn bytes(&self) -> usize {
        let args = match self {
            Self::Set { key, value, .. } => key.len() + value.len(),
            Self::Cmd { cmd, .. } => cmd
                .args_iter()
                .map(|a| match a {
                    redis::Arg::Simple(bytes) => bytes.len(),
                    _ => 8,
                })
                .sum(),
        };
        args + 64
    }

    fn expired(&self, now_ms: u64) -> bool {
        matches!(self, Self::Set { expires_at_ms, .. } if *expires_at_ms <= now_ms)
    }
}

/// Writes that go together and in order (an answer, then its log entry).
struct Group {
    writes: VecDeque<Write>,
    bytes: usize,
    done: Option<oneshot::Sender<()>>,
}

#[derive(Debug, Clone, Copy)]
pub struct OutboxLimits {
    pub max_groups: usize,
    pub max_bytes: usize,
}

#[derive(Default)]
struct Queue {
    groups: VecDeque<Group>,
    bytes: usize,
}

pub struct Outbox {
    queue: Mutex<Queue>,
    /// Shared with the writer, which must not keep the outbox alive.
    notify: Arc<Notify>,
    limits: OutboxLimits,
}

impl Outbox {
    pub fn new(limits: OutboxLimits) -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            notify: Arc::new(Notify::new()),
            limits,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn notify(&self) -> Arc<Notify> {
        Arc::clone(&self.notify)
    }

    /// Queues `writes`, to go in order. The oldest groups make room; how
    /// many were dropped is returned with a receiver that fires once every
    /// write of the group is in Redis (`None`: too large to queue at all).
    pub fn push(&self, writes: Vec<Write>) -> (Option<oneshot::Receiver<()>>, usize) {
        let bytes: usize = writes.iter().map(Write::bytes).sum();
        if bytes > self.limits.max_bytes {
            return (None, 0);
        }
        let (done, written) = oneshot::channel();
        let mut queue = self.lock();
        let mut dropped = 0;
        while queue.groups.len() >= self.limits.max_groups
            || queue.bytes + bytes > self.limits.max_bytes
        {
            let Some(old) = queue.groups.pop_front() else {
                break;
            };
            queue.bytes -= old.bytes;
            dropped += 1;
        }
        queue.bytes += bytes;
        queue.groups.push_back(Group {
            writes: writes.into(),
            bytes,
            done: Some(done),
        });
        drop(queue);
        self.notify.notify_one();
        (Some(written), dropped)
    }

    /// Groups and bytes waiting.
    pub fn pending(&self) -> (usize, usize) {
        let queue = self.lock();
        (queue.groups.len(), queue.bytes)
    }

    /// The next write to send (a copy: nothing is held while it is sent),
    /// after dropping expired writes and completing finished groups; `None`
    /// when the outbox is empty.
    pub fn front(&self) -> Option<Write> {
        let now = now_ms();
        let mut queue = self.lock();
        loop {
            let group = queue.groups.front_mut()?;
            while group.writes.front().is_some_and(|w| w.expired(now)) {
                group.writes.pop_front();
            }
            if let Some(write) = group.writes.front() {
                return Some(write.clone());
            }
            if let Some(finished) = queue.groups.pop_front() {
                queue.bytes -= finished.bytes;
                if let Some(done) = finished.done {
                    let _ = done.send(());
                }
            }
        }
    }

    /// The write `front` returned is in Redis; a group whose writes are all
    /// in is done.
    pub fn written(&self) {
        let mut queue = self.lock();
        let Some(group) = queue.groups.front_mut() else {
            return;
        };
        group.writes.pop_front();
        if group.writes.is_empty()
            && let Some(finished) = queue.groups.pop_front()
        {
            queue.bytes -= finished.bytes;
            if let Some(done) = finished.done {
                let _ = done.send(());
            }
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        // Wakes the writer, which then finds the outbox gone and stops.
        self.notify.notify_one();
    }
}

/// Retry delays: 100 ms doubling to 5 s.
pub fn backoff(failures: u32) -> Duration {
    let ms = 100u64.saturating_mul(1 << failures.min(6));
    Duration::from_millis(ms.min(5_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, expires_at_ms: u64) -> Write {
        Write::Set {
            op: "t",
            key: key.into(),
            value: Arc::from(&b"v"[..]),
            expires_at_ms,
        }
    }

    fn key(w: &Write) -> String {
        match w {
            Write::Set { key, .. } => key.clone(),
            Write::Cmd { .. } => "cmd".into(),
        }
    }

    #[test]
    fn writes_come_out_in_order_and_a_group_completes_when_all_are_written() {
        let outbox = Outbox::new(OutboxLimits {
            max_groups: 10,
            max_bytes: 1 << 20,
        });
        let later = now_ms() + 60_000;
        let (mut first, _) = outbox.push(vec![set("a", later), set("b", later)]);
        let (_, _) = outbox.push(vec![set("c", later)]);
        assert_eq!(key(&outbox.front().unwrap()), "a");
        // Not written: the same write again.
        assert_eq!(key(&outbox.front().unwrap()), "a");
        outbox.written();
        assert_eq!(key(&outbox.front().unwrap()), "b");
        assert!(first.as_mut().unwrap().try_recv().is_err());
        outbox.written();
        assert_eq!(key(&outbox.front().unwrap()), "c");
        assert!(first.unwrap().try_recv().is_ok());
    }

    #[test]
    fn the_oldest_groups_are_dropped_past_the_bounds_and_expired_writes_skipped() {
        let outbox = Outbox::new(OutboxLimits {
            max_groups: 2,
            max_bytes: 1 << 20,
        });
        let later = now_ms() + 60_000;
        outbox.push(vec![set("a", later)]);
        outbox.push(vec![set("b", 1)]);
        let (_, dropped) = outbox.push(vec![set("c", later)]);
        assert_eq!(dropped, 1);
        // "a" was dropped for room, "b" has expired: "c" is next.
        assert_eq!(key(&outbox.front().unwrap()), "c");
        outbox.written();
        assert!(outbox.front().is_none());
        assert_eq!(outbox.pending(), (0, 0));
    }
}
