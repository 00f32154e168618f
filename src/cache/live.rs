//! A leader's stream, relayed live to the followers of its flight: every
//! chunk is kept (up to the entry size limit) and each follower reads from the
//! start at its own pace — a late joiner gets the prefix at once, then the
//! tail as it arrives; a slow follower never holds the leader back.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::BoxFuture;
use tokio::sync::Notify;

/// How the leader's stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Clean,
    Broken,
}

struct State {
    chunks: Vec<Bytes>,
    bytes: usize,
    end: Option<End>,
}

pub struct Live {
    state: Mutex<State>,
    changed: Notify,
    limit: usize,
}

impl Live {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                chunks: Vec::new(),
                bytes: 0,
                end: None,
            }),
            changed: Notify::new(),
            limit,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A chunk the leader received. Past the size limit the relay ends as
    /// broken for the followers (the leader's own stream goes on).
    pub fn push(&self, chunk: &Bytes) {
        let mut state = self.lock();
        if state.end.is_some() {
            return;
        }
        if state.bytes + chunk.len() > self.limit {
            state.end = Some(End::Broken);
        } else {
            state.bytes += chunk.len();
            state.chunks.push(chunk.clone());
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// The leader's stream ended (`clean`: with `[DONE]` after a 200).
    pub fn finish(&self, clean: bool) {
        let mut state = self.lock();
        state
            .end
            .get_or_insert(if clean { End::Clean } else { End::Broken });
        drop(state);
        self.changed.notify_waiters();
    }

    /// A reader from the first chunk.
    pub fn reader(self: &Arc<Self>) -> Reader {
        Reader {
            live: Arc::clone(self),
            next: 0,
            waiting: None,
            done: false,
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.changed.notify_waiters();
    }
}

/// One follower's view of the relay: the chunks it has not read yet, then
/// the end (an error when the leader's stream broke).
pub struct Reader {
    live: Arc<Live>,
    next: usize,
    waiting: Option<BoxFuture<'static, ()>>,
    done: bool,
}

enum Step {
    Chunk(Bytes),
    End(End),
    Wait,
}

impl Reader {
    fn step(&mut self) -> Step {
        let state = self.live.lock();
        if self.next < state.chunks.len() {
            // Everything available at once: a late joiner gets the prefix
            // in one write.
            let mut out = Vec::new();
            for chunk in &state.chunks[self.next..] {
                out.extend_from_slice(chunk);
            }
            self.next = state.chunks.len();
            return Step::Chunk(Bytes::from(out));
        }
        match state.end {
            Some(end) => Step::End(end),
            None => Step::Wait,
        }
    }
}

impl Stream for Reader {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            if let Some(waiting) = self.waiting.as_mut() {
                match waiting.as_mut().poll(cx) {
                    Poll::Ready(()) => self.waiting = None,
                    Poll::Pending => return Poll::Pending,
                }
            }
            // Registered before looking, so a change in between is not missed.
            let live = Arc::clone(&self.live);
            let mut notified: BoxFuture<'static, ()> =
                Box::pin(async move { live.changed.notified().await });
            let _ = notified.as_mut().poll(cx);
            match self.step() {
                Step::Chunk(bytes) => return Poll::Ready(Some(Ok(bytes))),
                Step::End(End::Clean) => {
                    self.done = true;
                    return Poll::Ready(None);
                }
                Step::End(End::Broken) => {
                    self.done = true;
                    let error = std::io::Error::other("the shared upstream stream broke");
                    return Poll::Ready(Some(Err(error)));
                }
                Step::Wait => self.waiting = Some(notified),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_late_reader_gets_the_prefix_then_the_tail_then_the_end() {
        let live = Live::new(1024);
        live.push(&Bytes::from_static(b"a"));
        live.push(&Bytes::from_static(b"b"));
        let mut reader = live.reader();
        assert_eq!(reader.next().await.unwrap().unwrap(), "ab");
        let pushing = {
            let live = Arc::clone(&live);
            tokio::spawn(async move {
                live.push(&Bytes::from_static(b"c"));
                live.finish(true);
            })
        };
        let mut rest = Vec::new();
        while let Some(chunk) = reader.next().await {
            rest.extend_from_slice(&chunk.unwrap());
        }
        pushing.await.unwrap();
        assert_eq!(rest, b"c");
    }

    #[tokio::test]
    async fn a_broken_leader_ends_every_reader_with_an_error() {
        let live = Live::new(1024);
        let mut reader = live.reader();
        live.push(&Bytes::from_static(b"x"));
        live.finish(false);
        assert_eq!(reader.next().await.unwrap().unwrap(), "x");
        assert!(reader.next().await.unwrap().is_err());
    }

    #[tokio::test]
    async fn past_the_size_limit_the_relay_breaks() {
        let live = Live::new(3);
        live.push(&Bytes::from_static(b"ab"));
        live.push(&Bytes::from_static(b"cd"));
        let mut reader = live.reader();
        assert_eq!(reader.next().await.unwrap().unwrap(), "ab");
        assert!(reader.next().await.unwrap().is_err());
    }
}
