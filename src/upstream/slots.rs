//! Tenants' concurrency limits: at most `max_in_flight` upstream requests of
//! one tenant at a time, so one tenant's burst cannot take every connection a
//! provider allows. A request waits briefly for a slot, then gets a 429.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Default)]
pub struct TenantSlots {
    /// Tenant → (its limit when the semaphore was made, the semaphore).
    slots: Mutex<HashMap<String, (u32, Arc<Semaphore>)>>,
}

/// Every slot of the tenant stayed taken for the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl TenantSlots {
    /// A slot for one of `tenant`'s requests, held until dropped; `None`
    /// without a limit. A changed limit (a reload) starts a new semaphore:
    /// requests holding the old one's slots finish undisturbed.
    pub async fn acquire(
        &self,
        tenant: &str,
        limit: Option<u32>,
        wait: Duration,
    ) -> Result<Option<OwnedSemaphorePermit>, Full> {
        let Some(limit) = limit else {
            return Ok(None);
        };
        let semaphore = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = slots
                .entry(tenant.to_string())
                .or_insert_with(|| (limit, Arc::new(Semaphore::new(limit as usize))));
            if entry.0 != limit {
                *entry = (limit, Arc::new(Semaphore::new(limit as usize)));
            }
            Arc::clone(&entry.1)
        };
        if let Ok(permit) = Arc::clone(&semaphore).try_acquire_owned() {
            return Ok(Some(permit));
        }
        match tokio::time::timeout(wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            _ => Err(Full),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_tenant_gets_its_limit_then_waits_then_is_refused() {
        let slots = TenantSlots::default();
        let wait = Duration::from_millis(100);
        let a = slots.acquire("t", Some(2), wait).await.expect("first");
        let _b = slots.acquire("t", Some(2), wait).await.expect("second");
        assert_eq!(slots.acquire("t", Some(2), wait).await.err(), Some(Full));
        assert!(slots.acquire("other", Some(2), wait).await.is_ok());
        assert!(
            slots
                .acquire("t", None, wait)
                .await
                .expect("unlimited")
                .is_none()
        );
        let waiting = slots.acquire("t", Some(2), Duration::from_secs(5));
        let (got, ()) = tokio::join!(waiting, async { drop(a) });
        assert!(got.is_ok(), "a freed slot goes to the waiting request");
    }
}
