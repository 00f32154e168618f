//! The shared Redis connection (DESIGN.md §3): one auto-reconnecting multiplexed
//! connection per node, every command bounded by a short timeout. A Redis error
//! or outage is counted (`gateway_redis_errors_total{op}`) and reported to the
//! caller, which treats it as a miss: Redis is never on the failure path.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::RedisConfig;
use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    #[error("redis command timed out")]
    Timeout,
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
}

/// A handle to the shared Redis; cheap to clone.
#[derive(Clone)]
pub struct Shared {
    connection: ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Shared {
    /// Prepares the connection without connecting: a Redis that is down at
    /// start-up is connected to later, on demand.
    pub fn connect_lazily(
        url: &str,
        config: &RedisConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, SharedError> {
        let client = redis::Client::open(url)?;
        let timeout = Duration::from_millis(config.timeout_ms);
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(config.connect_timeout_ms)))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config)?;
        Ok(Self {
            connection,
            prefix: config.prefix.clone().into(),
            timeout,
            metrics,
        })
    }

    /// `{prefix}{suffix}`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// Runs `cmd` within the timeout; failures are counted under `op`.
    pub async fn query<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, SharedError> {
        let mut connection = self.connection.clone();
        let result =
            match tokio::time::timeout(self.timeout, cmd.query_async(&mut connection)).await {
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

    /// Runs a Lua script (EVALSHA, loading it on NOSCRIPT) within the timeout.
    pub async fn invoke<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, SharedError> {
        let mut connection = self.connection.clone();
        let call = invocation.invoke_async(&mut connection);
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(SharedError::Redis(e)),
            Err(_) => Err(SharedError::Timeout),
        };
        if let Err(e) = &result {
            self.metrics.redis_error(op);
            tracing::debug!(op, error = %e, "redis script failed");
        }
        result
    }

    pub async fn get(&self, op: &'static str, key: &str) -> Result<Option<Vec<u8>>, SharedError> {
        self.query(op, redis::cmd("GET").arg(key)).await
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
        self.query::<String>("ping", &redis::cmd("PING"))
            .await
            .is_ok()
    }
}
