//! A lease held for as long as the work under it takes: short, so a crashed holder's lease
//! lapses soon (a redelivered message can take over), and renewed by a heartbeat while its
//! holder lives, so slow work (a token endpoint that takes its time, a provider action that
//! lists a whole folder tree) never loses it to a second worker midway.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::ports::{DedupStore, StoreError};

pub struct HeldLease {
    dedup: Arc<dyn DedupStore>,
    key: String,
    owner: String,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl HeldLease {
    /// Takes the lease `key` for `length` (renewed every third of it), or `None` if another
    /// live holder has it.
    pub async fn acquire(
        dedup: Arc<dyn DedupStore>,
        key: &str,
        length: Duration,
    ) -> Result<Option<HeldLease>, StoreError> {
        let owner = uuid::Uuid::new_v4().to_string();
        let span = chrono::Duration::from_std(length).unwrap_or(chrono::Duration::seconds(30));
        let now = Utc::now();
        if !dedup.acquire_lease(key, &owner, now + span, now).await? {
            return Ok(None);
        }
        let heartbeat = {
            let (dedup, key, owner) = (dedup.clone(), key.to_string(), owner.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(length / 3).await;
                    let now = Utc::now();
                    match dedup.acquire_lease(&key, &owner, now + span, now).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(lease = %key, "lease taken over by another worker while held");
                            return;
                        }
                        Err(error) => {
                            tracing::warn!(lease = %key, %error, "could not renew a lease")
                        }
                    }
                }
            })
        };
        Ok(Some(HeldLease {
            dedup,
            key: key.to_string(),
            owner,
            heartbeat,
        }))
    }

    /// Stops renewing and gives the lease up (only if still ours).
    pub async fn release(self) {
        self.heartbeat.abort();
        if let Err(error) = self.dedup.release_lease(&self.key, &self.owner).await {
            tracing::warn!(lease = %self.key, %error, "could not release a lease; it will expire");
        }
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        // A holder that stops without releasing (an error path, a panic) stops renewing, so
        // the lease lapses on its own.
        self.heartbeat.abort();
    }
}
