use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use tokio::sync::Notify;

use super::database::{millis, sqlite_error, Database};
use crate::ports::{Clock, OutgoingMessage, Queue, QueueError, ReceivedMessage, StoreError};

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
        self.database
            .run(move |c| {
                let tx = c.transaction().map_err(sqlite_error)?;
                let candidates: Vec<(String, String, u32)> = {
                    let mut statement = tx
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
                        tx.execute(
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
                    tx.execute(
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
                tx.commit().map_err(sqlite_error)?;
                Ok(received)
            })
            .await
            .map_err(|e| self.unavailable(e))
    }
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
        self.database
            .run(move |c| {
                let tx = c.transaction().map_err(sqlite_error)?;
                for message in &messages {
                    let delay = message.delay.map_or(0, |d| d.as_millis() as i64);
                    tx.execute(
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
                }
                tx.commit().map_err(sqlite_error)
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
        self.database
            .run(move |c| {
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
