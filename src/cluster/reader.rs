//! The log reader: follows the whole stream `{prefix}l2:log` with plain
//! `XREAD BLOCK` from the node's own last id, on a connection of its own
//! (blocking reads must not stall the shared multiplexed connection, nor be
//! cut by its short response timeout). After an error it reconnects with
//! backoff and resumes from its last id; if Redis lost the stream (restarted
//! without persistence) it starts over from the beginning of what is there,
//! and the node writes back what it holds ([`super::heal`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use redis::streams::{StreamRangeReply, StreamReadReply};
use tokio_util::sync::CancellationToken;

use super::Cluster;
use super::log::{Event, stream_id};
use crate::cache::{PurgeScope, now_ms};
use crate::shared::{Connection, Shared};

const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Cluster {
    /// Follows the log from `position` until `shutdown`.
    pub async fn follow(self: Arc<Self>, position: String, shutdown: CancellationToken) {
        let Some(shared) = self.shared.clone() else {
            self.readiness.synced.store(true, Ordering::Release);
            return;
        };
        self.update_sync(|s| s.position = position);
        let block = Duration::from_millis(self.config.read_block_ms);
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            let connected = tokio::select! {
                c = shared.blocking(block) => c,
                () = shutdown.cancelled() => return,
            };
            match connected {
                Ok(mut connection) => {
                    backoff = Duration::from_millis(100);
                    match self.data_lost(&shared, &mut connection).await {
                        Ok(lost) => {
                            if lost {
                                // What the log holds now is all new: read it all.
                                self.update_sync(|s| s.position = "0".into());
                                self.republish(shared.clone(), shutdown.clone());
                            }
                            self.update_sync(|s| s.connected = true);
                            self.metrics.cluster_connected(true);
                            self.session(&shared, &mut connection, &shutdown).await;
                            self.update_sync(|s| s.connected = false);
                            self.metrics.cluster_connected(false);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cluster log reader cannot check Redis's data; retrying");
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cluster log reader cannot reach Redis; retrying");
                }
            }
            // However the first attempt ended, the node serves from memory
            // meanwhile: a failing Redis must not keep it out of the load
            // balancer.
            self.readiness.synced.store(true, Ordering::Release);
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Reads on one connection until it fails or `shutdown`.
    async fn session(
        &self,
        shared: &Shared,
        connection: &mut Connection,
        shutdown: &CancellationToken,
    ) {
        let key = Cluster::log_key(shared);
        if let Err(e) = self.check_position(shared, connection, &key).await {
            tracing::warn!(error = %e, "cluster log reader lost its connection");
            return;
        }
        self.load_purge_marks(shared).await;
        let block = self.config.read_block_ms;
        let limit = Duration::from_millis(block) + Duration::from_secs(5);
        // Until the first short read, read without blocking: a node with
        // nothing to catch up is ready at once, not after one block period.
        let mut caught_up = false;
        loop {
            let position = self.sync_state().position;
            let mut read = redis::cmd("XREAD");
            read.arg("COUNT").arg(self.config.read_batch);
            if caught_up {
                read.arg("BLOCK").arg(block);
            }
            read.arg("STREAMS").arg(&key).arg(&position);
            let reply = tokio::select! {
                r = shared.bounded("l2_log_read", limit, read.query_async::<Option<StreamReadReply>>(connection)) => r,
                () = shutdown.cancelled() => return,
            };
            let entries = match reply {
                Ok(reply) => reply.map(|r| r.keys).unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(error = %e, "cluster log read failed; reconnecting");
                    return;
                }
            };
            let ids: Vec<_> = entries.into_iter().flat_map(|k| k.ids).collect();
            let count = ids.len();
            for entry in ids {
                self.apply(&entry.id, &entry.map);
                self.update_sync(|s| s.position = entry.id);
            }
            if count < self.config.read_batch && !caught_up {
                caught_up = true;
                self.update_sync(|s| s.caught_up = true);
                self.readiness.synced.store(true, Ordering::Release);
            }
        }
    }

    /// One log entry: a fill from another node (or an earlier life of this
    /// one) goes into the index; a purge is applied.
    fn apply(&self, id: &str, fields: &std::collections::HashMap<String, redis::Value>) {
        match Event::parse(fields) {
            Ok(Event::Fill(fill)) => {
                let stored = fill.stored_at_ms;
                if self.apply_fill(fill) {
                    let lag = now_ms().saturating_sub(stored);
                    self.metrics.cluster_applied(Duration::from_millis(lag));
                    self.update_sync(|s| {
                        s.applied += 1;
                        s.last_lag_ms = Some(lag);
                    });
                }
            }
            Ok(Event::Purge { scope, at_ms, node }) => {
                let removed = self.apply_purge(&scope, at_ms);
                if node != self.node {
                    self.metrics.cluster_purge("log");
                    tracing::info!(scope = scope.label(), from = %node, removed, "purge applied from the log");
                }
            }
            Err(e) => tracing::warn!(entry = id, error = %e, "malformed cluster log entry skipped"),
        }
    }

    /// If the stream's newest entry is older than our position, Redis lost
    /// the stream (a restart without persistence): start over from its start.
    /// If its oldest is newer, it was trimmed past us: what was trimmed is
    /// lost to this node, which keeps what it has and reads all that is left.
    async fn check_position(
        &self,
        shared: &Shared,
        connection: &mut Connection,
        key: &str,
    ) -> Result<(), crate::shared::SharedError> {
        let position = self.sync_state().position;
        let ours = stream_id(&position).unwrap_or((0, 0));
        if ours == (0, 0) {
            return Ok(());
        }
        let newest = end_of(shared, connection, key, "XREVRANGE", ["+", "-"]).await?;
        if ours > newest {
            tracing::warn!(position = %position, "the cluster log is behind this node's position (Redis lost it?): reading it from the start");
            self.update_sync(|s| s.position = "0".into());
            return Ok(());
        }
        let oldest = end_of(shared, connection, key, "XRANGE", ["-", "+"]).await?;
        if oldest > ours {
            tracing::warn!(position = %position, "the cluster log was trimmed past this node's position: rebuilding from what it holds");
        }
        Ok(())
    }

    /// Purge marks kept in Redis: purges this node missed while away, even
    /// when the log was trimmed past them.
    async fn load_purge_marks(&self, shared: &Shared) {
        let cmd = redis::cmd("HGETALL").arg(shared.key("purges")).clone();
        let Ok(marks) = shared.read::<Vec<(String, u64)>>("purge", &cmd).await else {
            return;
        };
        for (label, at_ms) in marks {
            self.apply_purge(&PurgeScope::from_label(&label), at_ms);
        }
    }
}

/// The id of the first entry `command` (XRANGE or XREVRANGE) returns over
/// `range`; `(0, 0)` for an empty or missing stream.
async fn end_of(
    shared: &Shared,
    connection: &mut Connection,
    key: &str,
    command: &str,
    range: [&str; 2],
) -> Result<(u64, u64), crate::shared::SharedError> {
    let mut cmd = redis::cmd(command);
    cmd.arg(key).arg(range[0]).arg(range[1]).arg("COUNT").arg(1);
    let limit = Duration::from_secs(5);
    let reply: StreamRangeReply = shared
        .bounded("l2_log_read", limit, cmd.query_async(connection))
        .await?;
    Ok(reply
        .ids
        .first()
        .and_then(|e| stream_id(&e.id))
        .unwrap_or((0, 0)))
}
