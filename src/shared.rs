//! The shared Redis (DESIGN.md §3): one auto-reconnecting multiplexed
//! connection per node — to a single Redis or to a Redis Cluster, chosen by
//! configuration — every command bounded by a short timeout. A Redis error or
//! outage is counted (`gateway_redis_errors_total{op}`) and reported to the
//! caller, which treats it as a miss: Redis is never on the failure path.
//!
//! Blocking reads (`XREAD BLOCK`) must not share that connection — they would
//! stall every command queued behind them, and its response timeout would cut
//! them — so [`Shared::blocking`] opens a dedicated one with a timeout longer
//! than the block.

use std::sync::Arc;
use std::time::Duration;

mod connection;
mod outbox;

use std::ops::Deref;

use redis::AsyncConnectionConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use tokio::sync::oneshot;

pub use connection::Connection;
pub use outbox::{OutboxLimits, Write, backoff};

use crate::config::RedisConfig;
use crate::metrics::Metrics;
use outbox::Outbox;

#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    #[error("redis command timed out")]
    Timeout,
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
}

/// How to reach Redis again (for dedicated connections).
#[derive(Clone)]
enum Target {
    Single(redis::Client),
    Cluster(ClusterClient),
}

/// A handle to the shared Redis; cheap to clone. Commands go through
/// [`Link`]; writes that must reach Redis eventually go through the outbox.
#[derive(Clone)]
pub struct Shared {
    link: Link,
    outbox: Arc<Outbox>,
}

/// The connection and how commands run on it.
#[derive(Clone)]
pub struct Link {
    connection: Connection,
    target: Target,
    prefix: Arc<str>,
    timeout: Duration,
    connect_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Deref for Shared {
    type Target = Link;

    fn deref(&self) -> &Link {
        &self.link
    }
}

impl Shared {
    /// Prepares the connection without connecting: a Redis that is down at
    /// start-up is connected to later, on demand. With `config.cluster`, `url`
    /// may list several seed nodes separated by commas.
    pub fn connect_lazily(
        url: &str,
        config: &RedisConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, SharedError> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let connect_timeout = Duration::from_millis(config.connect_timeout_ms);
        let (connection, target) = if config.cluster {
            let seeds: Vec<&str> = url
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let client = ClusterClient::builder(seeds).retries(1).build()?;
            let cluster_config = ClusterConfig::new()
                .set_connection_timeout(connect_timeout)
                .set_response_timeout(timeout);
            let connection = client.get_pending_async_connection_with_config(cluster_config);
            (Connection::Cluster(connection), Target::Cluster(client))
        } else {
            let client = redis::Client::open(url)?;
            let manager_config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(connect_timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_secs(1));
            let manager = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)?;
            (Connection::Single(manager), Target::Single(client))
        };
        let link = Link {
            connection,
            target,
            prefix: config.prefix.clone().into(),
            timeout,
            connect_timeout,
            metrics,
        };
        let outbox = Arc::new(Outbox::new(OutboxLimits {
            max_groups: config.outbox_max_writes,
            max_bytes: config.outbox_max_bytes,
        }));
        start_writer(&link, &outbox);
        Ok(Self { link, outbox })
    }

    /// Sends `writes` to Redis in order, now or — while Redis is away —
    /// once it answers again. The receiver fires when all are written.
    pub fn send_later(&self, writes: Vec<Write>) -> Option<oneshot::Receiver<()>> {
        let (written, dropped) = self.outbox.push(writes);
        let (groups, bytes) = self.outbox.pending();
        self.metrics.outbox(groups, bytes, dropped);
        if dropped > 0 {
            tracing::warn!(dropped, "Redis outbox full: the oldest writes were dropped");
        }
        written
    }

    /// Writes waiting in the outbox.
    pub fn pending(&self) -> usize {
        self.outbox.pending().0
    }

    /// Waits (up to `limit`) for the outbox to empty: at shutdown.
    pub async fn flush(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.outbox.pending().0 > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

/// The outbox's writer: sends the first waiting write, retries it with
/// backoff while Redis fails; stops when the outbox is gone.
fn start_writer(link: &Link, outbox: &Arc<Outbox>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no async runtime: Redis writes will not be sent");
        return;
    };
    let (link, outbox, notify) = (link.clone(), Arc::downgrade(outbox), outbox.notify());
    runtime.spawn(async move {
        let mut failures = 0;
        loop {
            let notified = notify.notified();
            let Some(strong) = outbox.upgrade() else {
                return;
            };
            let Some(write) = strong.front() else {
                drop(strong);
                notified.await;
                continue;
            };
            drop(strong);
            if link.write(&write).await {
                failures = 0;
                if let Some(strong) = outbox.upgrade() {
                    strong.written();
                    let (groups, bytes) = strong.pending();
                    link.metrics.outbox(groups, bytes, 0);
                }
            } else {
                failures += 1;
                tokio::time::sleep(backoff(failures)).await;
            }
        }
    });
}

impl Link {
    /// Sends one write now; whether Redis took it.
    pub async fn write(&self, write: &Write) -> bool {
        match write {
            Write::Set {
                op,
                key,
                value,
                expires_at_ms,
            } => {
                let left = expires_at_ms.saturating_sub(crate::clock::now_ms());
                self.set_px(op, key, value, Duration::from_millis(left))
                    .await
                    .is_ok()
            }
            Write::Cmd { op, cmd } => self.query::<redis::Value>(op, cmd).await.is_ok(),
        }
    }

    /// `{prefix}{suffix}`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Runs `cmd` within the timeout; failures are counted under `op`.
    pub async fn query<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, SharedError> {
        let mut connection = self.connection.clone();
        let call = cmd.query_async(&mut connection);
        self.bounded(op, self.timeout, call).await
    }

    /// Runs a Lua script (EVALSHA, loading it on NOSCRIPT) within the timeout.
    pub async fn invoke<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, SharedError> {
        let mut connection = self.connection.clone();
        let call = invocation.invoke_async(&mut connection);
        self.bounded(op, self.timeout, call).await
    }

    /// Awaits `call` for at most `limit`; a failure is counted under `op`.
    pub async fn bounded<T>(
        &self,
        op: &'static str,
        limit: Duration,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, SharedError> {
        let result = match tokio::time::timeout(limit, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(SharedError::Redis(e)),
            Err(_) => Err(SharedError::Timeout),
        };
        if let Err(e) = &result {
            self.metrics.redis_error(op);
            tracing::debug!(op, error = %e, "redis command failed");
        }
        result
    }

    /// Like [`query`](Self::query), for a command that may safely run twice
    /// (a read). A connection that died while unused — Redis restarted or a
    /// proxy cut it — only shows it on its next command, which fails while
    /// the manager reconnects; that command is sent once more on the new
    /// connection, so the first read after a restart is answered, not lost.
    pub async fn read<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, SharedError> {
        match self.query(op, cmd).await {
            Err(SharedError::Redis(e)) if e.is_unrecoverable_error() => {
                tracing::debug!(op, "redis connection replaced; sending the read again");
                self.query(op, cmd).await
            }
            result => result,
        }
    }

    pub async fn get(&self, op: &'static str, key: &str) -> Result<Option<Vec<u8>>, SharedError> {
        self.read(op, redis::cmd("GET").arg(key)).await
    }

    /// `SET key value PX ttl`.
    pub async fn set_px(
        &self,
        op: &'static str,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), SharedError> {
        let millis = ttl.as_millis().max(1) as u64;
        self.query(
            op,
            redis::cmd("SET").arg(key).arg(value).arg("PX").arg(millis),
        )
        .await
    }

    /// `PING`, for readiness.
    pub async fn ping(&self) -> bool {
        self.read::<String>("ping", &redis::cmd("PING"))
            .await
            .is_ok()
    }

    /// A new connection of its own for blocking commands that wait up to
    /// `block`: its response timeout is `block` plus the command timeout, not
    /// the shared connection's short one.
    pub async fn blocking(&self, block: Duration) -> Result<Connection, SharedError> {
        let response_timeout = block + self.timeout.max(Duration::from_secs(1));
        let connect = async {
            match &self.target {
                Target::Single(client) => {
                    let config = AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(self.connect_timeout))
                        .set_response_timeout(Some(response_timeout));
                    client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await
                        .map(Connection::Dedicated)
                }
                Target::Cluster(client) => {
                    let config = ClusterConfig::new()
                        .set_connection_timeout(self.connect_timeout)
                        .set_response_timeout(response_timeout);
                    client
                        .get_async_connection_with_config(config)
                        .await
                        .map(Connection::Cluster)
                }
            }
        };
        let limit = self.connect_timeout * 2;
        self.bounded("connect", limit, connect).await
    }
}
