//! Healing after Redis loses its data (restarted without persistence,
//! flushed, failed over to an empty replica). The log entries other nodes had
//! not read yet and every answer kept in Redis are gone, so nodes would stay
//! apart for good: one holds an entry another never saw, or dropped because
//! its answer vanished. A node notices the loss when it reconnects — the key
//! `{prefix}l2:life`, set once per life of Redis's data, no longer holds the
//! value it saw — reads the new log from its start, and writes back every
//! live entry whose answer it holds (answer first, then log entry, as a fill),
//! in the background. Readers skip what they already know (an entry's id is
//! its prompt's hash), so each node ends with the union of what survived.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Cluster;
use crate::cache::now_ms;
use crate::shared::{Connection, Shared, SharedError, backoff};

impl Cluster {
    /// Whether Redis's data is not the life this node saw last (`false` the
    /// first time: there is nothing to compare with). Claims a new life when
    /// the key is missing.
    pub(super) async fn data_lost(
        &self,
        shared: &Shared,
        connection: &mut Connection,
    ) -> Result<bool, SharedError> {
        let key = shared.key("l2:life");
        let claim = format!("{}-{}", self.node, now_ms());
        let limit = Duration::from_secs(5);
        let set = redis::cmd("SET").arg(&key).arg(&claim).arg("NX").clone();
        shared
            .bounded::<Option<String>>("l2_life", limit, set.query_async(connection))
            .await?;
        let get = redis::cmd("GET").arg(&key).clone();
        let current: Option<String> = shared
            .bounded("l2_life", limit, get.query_async(connection))
            .await?;
        // Evicted between the two calls: this node's claim is as good as any.
        let current = current.unwrap_or(claim);
        let mut life = self.life.lock().unwrap_or_else(|e| e.into_inner());
        let lost = life.as_ref().is_some_and(|seen| *seen != current);
        *life = Some(current);
        Ok(lost)
    }

    /// Writes back, in the background, every live entry whose answer this
    /// node holds; a later republish (Redis lost again) or `shutdown` stops it.
    pub(super) fn republish(self: &Arc<Self>, shared: Shared, shutdown: CancellationToken) {
        let Some(l2) = &self.l2 else {
            return;
        };
        let run = self.republishes.fetch_add(1, Ordering::AcqRel) + 1;
        let entries: Vec<_> = l2
            .cache
            .export()
            .into_iter()
            .filter(|e| e.response.is_some())
            .collect();
        tracing::warn!(
            entries = entries.len(),
            "Redis lost the cluster's data (restarted without persistence or flushed): \
             republishing the answers this node holds"
        );
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let current = || this.republishes.load(Ordering::Acquire) == run;
            let mut sent = 0u64;
            for entry in entries {
                let Some(writes) = this.fill_writes(&shared, &entry) else {
                    continue;
                };
                if entry.expires_at_ms <= now_ms() {
                    continue;
                }
                for write in &writes {
                    let mut failures = 0;
                    while !shared.write(write).await {
                        if !current() || shutdown.is_cancelled() {
                            return;
                        }
                        failures += 1;
                        tokio::time::sleep(backoff(failures)).await;
                    }
                }
                if !current() || shutdown.is_cancelled() {
                    return;
                }
                sent += 1;
                this.metrics.cluster_republished();
            }
            tracing::info!(entries = sent, "republished after Redis lost its data");
        });
    }
}
