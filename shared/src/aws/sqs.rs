use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;

use super::describe;
use crate::ports::{OutgoingMessage, Queue, QueueError, ReceivedMessage};

/// SQS allows at most 10 entries per batch call.
const SQS_BATCH_LIMIT: usize = 10;

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
    name: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: &str) -> Self {
        let name = url.rsplit('/').next().unwrap_or(url).to_string();
        SqsQueue {
            client,
            url: url.to_string(),
            name,
        }
    }

    fn unavailable<E: std::error::Error>(&self, error: E) -> QueueError {
        QueueError::Unavailable {
            queue: self.name.clone(),
            message: describe(&error),
        }
    }

    async fn send_chunk(&self, chunk: &[OutgoingMessage]) -> Result<(), QueueError> {
        // Batch entry ids must be unique, alphanumeric, `-` or `_`: use positions.
        let mut pending: Vec<(String, &OutgoingMessage)> = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("m{i}"), m))
            .collect();
        // One retry of the entries SQS refused as a batch (throttling, a transient fault).
        for attempt in 0..2 {
            let entries = pending
                .iter()
                .map(|(id, message)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(&message.body)
                        .set_delay_seconds(message.delay.map(|d| d.as_secs().min(900) as i32))
                        .build()
                        .map_err(|e| self.unavailable(e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| self.unavailable(e))?;
            let failed = output.failed;
            if failed.is_empty() {
                return Ok(());
            }
            let reasons: Vec<String> = failed
                .iter()
                .map(|f| format!("{}: {}", f.code, f.message.clone().unwrap_or_default()))
                .collect();
            let failed_ids: Vec<&str> = failed.iter().map(|f| f.id.as_str()).collect();
            pending.retain(|(id, _)| failed_ids.contains(&id.as_str()));
            if attempt == 1 || failed.iter().any(|f| f.sender_fault) {
                return Err(QueueError::Rejected {
                    queue: self.name.clone(),
                    failed: pending.len(),
                    total: chunk.len(),
                    message: reasons.join("; "),
                });
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Queue for SqsQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Result<(), QueueError> {
        for chunk in messages.chunks(SQS_BATCH_LIMIT) {
            self.send_chunk(chunk).await?;
        }
        Ok(())
    }

    async fn receive(
        &self,
        max: usize,
        visibility_timeout: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, SQS_BATCH_LIMIT) as i32)
            .visibility_timeout(visibility_timeout.as_secs().min(43_200) as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let receive_count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                Some(ReceivedMessage {
                    message_id: m.message_id?,
                    receipt_handle: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                    receive_count,
                })
            })
            .collect())
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let result = self
            .client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // A receipt from an earlier receive: the message was redelivered and belongs to its
            // newer receiver now.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_receipt_handle_is_invalid()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.unavailable(e)),
        }
    }

    async fn approximate_depth(&self) -> Result<u64, QueueError> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| self.unavailable(e))?;
        let attributes = output.attributes.unwrap_or_default();
        let count = |name: QueueAttributeName| -> u64 {
            attributes
                .get(&name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(count(QueueAttributeName::ApproximateNumberOfMessages)
            + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
    }
}
