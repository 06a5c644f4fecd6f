use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::Notify;

use super::database::{insert_dedup_key, millis, sqlite_error, Database};
use crate::ports::{
    Clock, OnceQueue, OutgoingMessage, Queue, QueueError, ReceivedMessage, SendOnce, StoreError,
};

/// Where a queue sends messages that were received too often without being deleted.
#[derive(Debug, Clone)]
pub struct DeadLetterPolicy {
    pub queue: String,
    /// Like SQS's `maxReceiveCount`: a message received this many times goes to the dead-letter
    /// queue on its next receive instead of being delivered again.
    pub max_receives: u32,
}

/// A durable queue in the embedded database, with SQS's semantics: a received message stays
/// invisible for the visibility timeout and comes back if not deleted; its receive count grows;
/// past `max_receives` it moves to the dead-letter queue.
#[derive(Clone)]
pub struct EmbeddedQueue {
    name: String,
    database: Database,
    dead_letter: Option<DeadLetterPolicy>,
    clock: Arc<dyn Clock>,
    arrivals: Arc<Notify>,
}

impl EmbeddedQueue {
    pub fn new(
        database: Database,
        name: &str,
        dead_letter: Option<DeadLetterPolicy>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        EmbeddedQueue {
            name: name.to_string(),
            database,
            dead_letter,
            clock,
            arrivals: Arc::new(Notify::new()),
        }
    }

    fn unavailable(&self, e: StoreError) -> QueueError {
        QueueError::Unavailable {
            queue: self.name.clone(),
            message: e.to_string(),
        }
    }

    async fn receive_now(
        &self,
        max: usize,
        visibility_timeout: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let queue = self.name.clone();
        let dead_letter = self.dead_letter.clone();
        let now = millis(self.clock.now());
        let visible_at = now.saturating_add(visibility_timeout.as_millis() as i64);
        // One transaction (the database runs each piece of work as one): a message is either
        // handed out with a new receipt or not at all. Answered before the commit is synced:
        // a receive lost in a machine crash only makes the message visible again.
        self.database
            .run_before_sync(move |c| {
                let candidates: Vec<(String, String, u32)> = {
                    let mut statement = c
                        .prepare(
                            "SELECT message_id, body, receive_count FROM queue_messages
                             WHERE queue = ?1 AND visible_at <= ?2
                             ORDER BY visible_at, sent_at LIMIT ?3",
                        )
                        .map_err(sqlite_error)?;
                    let rows = statement
                        .query_map(params![queue, now, max as i64], |row| {
                            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                        })
                        .map_err(sqlite_error)?;
                    rows.collect::<Result<_, _>>().map_err(sqlite_error)?
                };
                let mut received = Vec::with_capacity(candidates.len());
                for (message_id, body, receive_count) in candidates {
                    if let Some(policy) = dead_letter.as_ref().filter(|p| receive_count >= p.max_receives) {
                        c.execute(
                            "UPDATE queue_messages SET queue = ?2, visible_at = ?3, receive_count = 0,
                             receipt_handle = NULL WHERE message_id = ?1",
                            params![message_id, policy.queue, now],
                        )
                        .map_err(sqlite_error)?;
                        tracing::warn!(%message_id, from = %queue, to = %policy.queue, receive_count,
                            "message moved to the dead-letter queue");
                        continue;
                    }
                    let receipt_handle = uuid::Uuid::new_v4().to_string();
                    c.execute(
                        "UPDATE queue_messages SET receive_count = receive_count + 1, visible_at = ?2,
                         receipt_handle = ?3 WHERE message_id = ?1",
                        params![message_id, visible_at, receipt_handle],
                    )
                    .map_err(sqlite_error)?;
                    received.push(ReceivedMessage {
                        message_id,
                        receipt_handle,
                        body,
                        receive_count: receive_count + 1,
                    });
                }
                Ok(received)
            })
            .await
            .map_err(|e| self.unavailable(e))
    }
}

fn insert_message(
    c: &Connection,
    queue: &str,
    message: &OutgoingMessage,
    now: i64,
) -> Result<(), StoreError> {
    let delay = message.delay.map_or(0, |d| d.as_millis() as i64);
    c.execute(
        "INSERT INTO queue_messages (message_id, queue, body, sent_at, visible_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            uuid::Uuid::new_v4().to_string(),
            queue,
            message.body,
            now,
            now.saturating_add(delay)
        ],
    )
    .map_err(sqlite_error)?;
    Ok(())
}

#[async_trait]
impl Queue for EmbeddedQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Result<(), QueueError> {
        if messages.is_empty() {
            return Ok(());
        }
        let queue = self.name.clone();
        let now = millis(self.clock.now());
        // All or nothing: the batch is one piece of database work.
        self.database
            .run(move |c| {
                messages
                    .iter()
                    .try_for_each(|message| insert_message(c, &queue, message, now))
            })
            .await
            .map_err(|e| self.unavailable(e))?;
        self.arrivals.notify_waiters();
        Ok(())
    }

    async fn receive(
        &self,
        max: usize,
        visibility_timeout: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let messages = self
                .receive_now(max.clamp(1, 10), visibility_timeout)
                .await?;
            if !messages.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(messages);
            }
            // Long polling: wake on a send from this process, or re-check shortly for messages
            // whose visibility timeout ended (or that another process sent).
            let nap = (deadline - tokio::time::Instant::now()).min(Duration::from_millis(100));
            let _ = tokio::time::timeout(nap, self.arrivals.notified()).await;
        }
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let handle = receipt_handle.to_string();
        // Answered before the commit is synced: a delete lost in a machine crash brings the
        // message back once more (at-least-once), and it is synced after everything the
        // consumer wrote before deleting.
        self.database
            .run_before_sync(move |c| {
                c.execute(
                    "DELETE FROM queue_messages WHERE receipt_handle = ?1",
                    [handle],
                )
                .map_err(sqlite_error)?;
                Ok(())
            })
            .await
            .map_err(|e| self.unavailable(e))
    }

    async fn approximate_depth(&self) -> Result<u64, QueueError> {
        let queue = self.name.clone();
        self.database
            .run(move |c| {
                c.query_row(
                    "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1",
                    [queue],
                    |row| row.get::<_, i64>(0),
                )
                .optional()
                .map(|n| n.unwrap_or(0) as u64)
                .map_err(sqlite_error)
            })
            .await
            .map_err(|e| self.unavailable(e))
    }
}

/// The dedup key and the message are written in one transaction, committed (fsynced, with
/// whatever else was waiting) before the answer: an acknowledged delivery is queued and
/// remembered, and one that failed left neither, so the provider's retry is accepted. The key
/// lives in the same database's `dedup_keys`, the embedded [`crate::ports::DedupStore`].
#[async_trait]
impl OnceQueue for EmbeddedQueue {
    async fn send_once(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        message: OutgoingMessage,
    ) -> Result<SendOnce, QueueError> {
        let (key, queue) = (key.to_string(), self.name.clone());
        let sent_at = millis(self.clock.now());
        let outcome = self
            .database
            .run(move |c| {
                if !insert_dedup_key(c, &key, expires_at, now)? {
                    return Ok(SendOnce::AlreadySent);
                }
                insert_message(c, &queue, &message, sent_at)?;
                Ok(SendOnce::Sent)
            })
            .await
            .map_err(|e| self.unavailable(e))?;
        if outcome == SendOnce::Sent {
            self.arrivals.notify_waiters();
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use crate::backend::EmbeddedBackend;
    use crate::embedded::database::sqlite_error;
    use crate::ports::{OutgoingMessage, SendOnce};

    #[tokio::test]
    async fn a_delivery_key_and_its_notice_are_written_together_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        // The back end webhook intake uses: its `webhook_notices` and `dedup`, one database.
        let embedded = EmbeddedBackend::open(dir.path()).unwrap();
        let backend = &embedded.backend;
        let key = "webhook#tenant-a#int-1#delivery-1";
        let now = chrono::Utc::now();
        let expires = now + chrono::Duration::days(14);
        let notice = || OutgoingMessage::new("m-1", r#"{"notice": 1}"#);

        // A failure between the two writes: the queue insert is refused after the key's insert.
        embedded
            .database
            .run(|c| {
                c.execute_batch(
                    "CREATE TEMP TRIGGER refuse_messages BEFORE INSERT ON queue_messages
                     BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
                )
                .map_err(sqlite_error)
            })
            .await
            .unwrap();
        let failed = backend
            .webhook_notices
            .send_once(key, expires, now, notice())
            .await;
        assert!(
            failed
                .as_ref()
                .is_err_and(|e| e.to_string().contains("injected failure")),
            "{failed:?}"
        );
        assert!(
            !backend.dedup.contains(key, now).await.unwrap(),
            "a key kept without its notice would make the provider's retry a 'duplicate'"
        );
        assert_eq!(backend.poll_queue.approximate_depth().await.unwrap(), 0);

        embedded
            .database
            .run(|c| {
                c.execute_batch("DROP TRIGGER refuse_messages")
                    .map_err(sqlite_error)
            })
            .await
            .unwrap();
        // The provider's retry is accepted, once.
        let retry = backend
            .webhook_notices
            .send_once(key, expires, now, notice());
        assert_eq!(retry.await.unwrap(), SendOnce::Sent);
        let again = backend
            .webhook_notices
            .send_once(key, expires, now, notice());
        assert_eq!(again.await.unwrap(), SendOnce::AlreadySent);
        assert!(backend.dedup.contains(key, now).await.unwrap());
        let queued = backend
            .poll_queue
            .receive(
                10,
                std::time::Duration::from_secs(30),
                std::time::Duration::ZERO,
            )
            .await
            .unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].body, r#"{"notice": 1}"#);
    }
}
