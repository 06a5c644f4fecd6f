//! Local queue workers: what the SQS event source mapping does in AWS, for the embedded back
//! end. Receive a batch, run the same batch handler the Lambda runs, delete what succeeded;
//! failures come back after the visibility timeout and are dead-lettered after too many tries.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::batch::{process_batch, QueueRecord};
use super::PipelineError;
use crate::ports::Queue;

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub batch_size: usize,
    /// Like the queue's visibility timeout in template.yaml: how long a failed message waits
    /// before it is retried.
    pub visibility_timeout: Duration,
    pub wait: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            batch_size: 10,
            visibility_timeout: Duration::from_secs(30),
            wait: Duration::from_secs(1),
        }
    }
}

/// Receives one batch, processes it and deletes the messages that succeeded. Returns how many
/// messages were received.
pub async fn run_once<F, Fut>(
    queue: &Arc<dyn Queue>,
    options: &WorkerOptions,
    handler: F,
) -> Result<usize, PipelineError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), PipelineError>> + Send + 'static,
{
    let messages = queue
        .receive(options.batch_size, options.visibility_timeout, options.wait)
        .await?;
    let received = messages.len();
    if received == 0 {
        return Ok(0);
    }
    let records = messages
        .iter()
        .map(|m| QueueRecord {
            message_id: m.message_id.clone(),
            body: m.body.clone(),
        })
        .collect();
    let failed = process_batch(records, handler).await;
    for message in messages.iter().filter(|m| !failed.contains(&m.message_id)) {
        queue.delete(&message.receipt_handle).await?;
    }
    Ok(received)
}

/// Runs `run_once` until `shutdown` resolves.
pub async fn run_until<F, Fut>(
    queue: Arc<dyn Queue>,
    options: WorkerOptions,
    handler: F,
    shutdown: impl Future<Output = ()>,
) where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), PipelineError>> + Send + 'static,
{
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            result = run_once(&queue, &options, &handler) => {
                if let Err(error) = result {
                    tracing::error!(queue = queue.name(), %error, "queue worker error; retrying shortly");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
