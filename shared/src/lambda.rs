//! Lambda adapters: the few lines between the Lambda runtime's event types and the core.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;

use crate::core::Core;
use crate::pipeline::batch::{process_batch, QueueRecord};
use crate::pipeline::{inspector, poller, remediator, PipelineError};

fn records(event: SqsEvent) -> Vec<QueueRecord> {
    event
        .records
        .into_iter()
        .map(|m| QueueRecord {
            message_id: m.message_id.unwrap_or_default(),
            body: m.body.unwrap_or_default(),
        })
        .collect()
}

fn batch_response(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.set_failures(failed);
    response
}

/// The inspector's SQS handler: reports only the records that failed.
pub async fn inspector_handler(
    core: &Core,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let failed = process_batch(records(event.payload), |body| {
        let core = core.clone();
        async move { inspector::handle_message(&core, &body).await.map(|_| ()) }
    })
    .await;
    Ok(batch_response(failed))
}

/// The remediator's SQS handler: reports only the records that failed.
pub async fn remediator_handler(
    core: &Core,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let failed = process_batch(records(event.payload), |body| {
        let core = core.clone();
        async move { remediator::handle_message(&core, &body).await.map(|_| ()) }
    })
    .await;
    Ok(batch_response(failed))
}

/// What the poller returns to EventBridge (visible in the Lambda console and logs).
#[derive(Debug, serde::Serialize)]
pub struct PollSummary {
    pub integrations: usize,
    pub queued: usize,
    pub failed: Vec<String>,
}

/// The poller's scheduled handler. The payload is ignored: EventBridge Scheduler may send its
/// configured input or a scheduled-event document, and every run polls everything.
pub async fn poller_handler(
    core: &Core,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<PollSummary, lambda_runtime::Error> {
    let results = poller::poll_all(core).await.map_err(Box::new)?;
    Ok(summarize(results))
}

pub(crate) fn summarize(
    results: Vec<(String, Result<poller::PollStats, PipelineError>)>,
) -> PollSummary {
    PollSummary {
        integrations: results.len(),
        queued: results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .map(|s| s.queued)
            .sum(),
        failed: results
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(id, _)| id.clone())
            .collect(),
    }
}
