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

/// Runs each received message as its own task, up to `max_in_flight` at once, until
/// `shutdown` resolves: what an SQS event source mapping with `MaximumConcurrency` does. Unlike
/// [`run_until`], a slow message never holds up the ones received after it (one slow tenant's
/// poll job must not delay another's). A message is deleted when its handler succeeds; a
/// failure leaves it to come back after the visibility timeout.
pub async fn run_concurrently<F, Fut>(
    queue: Arc<dyn Queue>,
    options: WorkerOptions,
    max_in_flight: usize,
    handler: F,
    shutdown: impl Future<Output = ()>,
) where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), PipelineError>> + Send + 'static,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1)));
    let handler = Arc::new(handler);
    let mut running = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Receive only as many as there are free slots, so nothing waits invisible in memory.
        let free = tokio::select! {
            _ = &mut shutdown => break,
            permit = slots.clone().acquire_many_owned(1) => match permit {
                Ok(permit) => { drop(permit); slots.available_permits() }
                Err(_) => break,
            },
        };
        let received = tokio::select! {
            _ = &mut shutdown => break,
            received = queue.receive(free.clamp(1, options.batch_size.max(1)), options.visibility_timeout, options.wait) => received,
        };
        let messages = match received {
            Ok(messages) => messages,
            Err(error) => {
                tracing::error!(queue = queue.name(), %error, "queue worker error; retrying shortly");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for message in messages {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let (queue, handler) = (queue.clone(), handler.clone());
            running.spawn(async move {
                let span = tracing::info_span!("record", message_id = %message.message_id);
                let outcome = tracing::Instrument::instrument(handler(message.body), span).await;
                match outcome {
                    Ok(()) => {
                        if let Err(error) = queue.delete(&message.receipt_handle).await {
                            tracing::warn!(%error, "could not delete a finished message; it will be seen again");
                        }
                    }
                    Err(error) => super::log_retried_record(&message.message_id, &error),
                }
                drop(permit);
            });
        }
        // Reap finished tasks so the set does not grow.
        while running.try_join_next().is_some() {}
    }
    running.abort_all();
}
