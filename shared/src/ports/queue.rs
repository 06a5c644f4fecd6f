use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::DedupStore;

/// A message to send. `id` is unique within one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub id: String,
    pub body: String,
    /// Keep the message invisible this long after sending (SQS `DelaySeconds`, at most 15
    /// minutes): a continuation that must wait out a provider's `Retry-After`.
    pub delay: Option<Duration>,
}

impl OutgoingMessage {
    pub fn new(id: impl Into<String>, body: impl Into<String>) -> Self {
        OutgoingMessage {
            id: id.into(),
            body: body.into(),
            delay: None,
        }
    }

    /// `payload` in a versioned envelope sent at `now`, the envelope's id the message's.
    pub fn enveloped<T: crate::domain::MessageKind>(payload: T, now: DateTime<Utc>) -> Self {
        let envelope = crate::domain::Envelope::wrap(payload, now);
        OutgoingMessage::new(envelope.id.clone(), envelope.to_json())
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay.min(MAX_DELAY));
        self
    }
}

/// SQS's longest message delay.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// A message received and now invisible to other consumers until its visibility timeout ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// Names this receipt; deleting needs it, and it changes on every receive.
    pub receipt_handle: String,
    pub body: String,
    /// How many times the message has been received, this receive included.
    pub receive_count: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue '{queue}' could not be reached: {message}")]
    Unavailable { queue: String, message: String },
    #[error("queue '{queue}' refused {failed} of {total} messages: {message}")]
    Rejected {
        queue: String,
        failed: usize,
        total: usize,
        message: String,
    },
}

/// SQS semantics: at-least-once delivery, a visibility timeout, a receive count, and a
/// dead-letter queue that takes a message after too many receives.
#[async_trait]
pub trait Queue: Send + Sync {
    fn name(&self) -> &str;
    /// Sends every message or returns an error; on error some messages may have been sent, which
    /// at-least-once consumers tolerate.
    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Result<(), QueueError>;
    /// Receives up to `max` messages, waiting up to `wait` for the first one.
    async fn receive(
        &self,
        max: usize,
        visibility_timeout: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;
    /// Deletes a received message. A stale receipt handle (the message was redelivered since)
    /// is not an error: the newer receiver owns it now.
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError>;
    /// Messages waiting or in flight (approximate on SQS).
    async fn approximate_depth(&self) -> Result<u64, QueueError>;
}

/// What [`OnceQueue::send_once`] did with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOnce {
    /// The key was new (or had expired): the message is queued and the key recorded.
    Sent,
    /// The key was recorded before: nothing was queued.
    AlreadySent,
}

/// A queue that takes a message once per key: webhook intake's "seen this delivery?" and its
/// hand-off to the poll-jobs queue as one step, so that what it acknowledges is both queued and
/// remembered.
#[async_trait]
pub trait OnceQueue: Send + Sync {
    /// Queues `message` unless `key` is recorded and unexpired at `now`, and records `key` until
    /// `expires_at`. On error the provider is told to retry (503); the retry must be accepted.
    async fn send_once(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        message: OutgoingMessage,
    ) -> Result<SendOnce, QueueError>;
}

/// [`OnceQueue`] over a dedup store and a queue that share no transaction (DynamoDB and SQS).
/// The key is recorded only after the send: a crash in between makes the provider's retry queue
/// the notice again, which the activity dedup downstream absorbs; recording first would make
/// that retry look like a duplicate and lose the notice. Two copies of one delivery arriving at
/// once may both be queued, for the same reason harmlessly.
pub struct DedupedQueue {
    dedup: Arc<dyn DedupStore>,
    queue: Arc<dyn Queue>,
}

impl DedupedQueue {
    pub fn new(dedup: Arc<dyn DedupStore>, queue: Arc<dyn Queue>) -> Self {
        DedupedQueue { dedup, queue }
    }

    fn dedup_unavailable(&self, e: super::StoreError) -> QueueError {
        QueueError::Unavailable {
            queue: self.queue.name().to_string(),
            message: format!("its dedup store failed: {e}"),
        }
    }
}

#[async_trait]
impl OnceQueue for DedupedQueue {
    async fn send_once(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        message: OutgoingMessage,
    ) -> Result<SendOnce, QueueError> {
        if self
            .dedup
            .contains(key, now)
            .await
            .map_err(|e| self.dedup_unavailable(e))?
        {
            return Ok(SendOnce::AlreadySent);
        }
        self.queue.send_batch(vec![message]).await?;
        self.dedup
            .insert_if_absent(key, expires_at, now)
            .await
            .map_err(|e| self.dedup_unavailable(e))?;
        Ok(SendOnce::Sent)
    }
}
