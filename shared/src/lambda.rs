//! Lambda adapters: the few lines between the Lambda runtime's event types and the core.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;

use crate::core::Core;
use crate::pipeline::batch::{process_batch, QueueRecord};
use crate::pipeline::{inspector, poller, remediator};

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

/// The poller's handler. It has two event sources: the EventBridge schedule (any JSON that is
/// not an SQS batch), on which it only enqueues one job per due stream, and the poll-jobs
/// queue, whose jobs it works, reporting the failed ones for SQS to retry.
pub async fn poller_handler(
    core: &Core,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let payload = event.payload;
    if payload.get("Records").is_some_and(|r| r.is_array()) {
        let sqs: SqsEvent = serde_json::from_value(payload)?;
        let failed = process_batch(records(sqs), |body| {
            let core = core.clone();
            async move { poller::handle_message(&core, &body).await.map(|_| ()) }
        })
        .await;
        return Ok(serde_json::to_value(batch_response(failed))?);
    }
    let summary = poller::schedule_due(core).await.map_err(Box::new)?;
    // The same tick writes the export outbox to S3. A failure is the next tick's to retry:
    // the records stay in the outbox, and scheduling must not wait on it.
    let export = match crate::pipeline::exporter::run(core).await {
        Ok(export) => serde_json::to_value(export)?,
        Err(error) => {
            tracing::error!(%error, "export run failed; the next tick retries");
            serde_json::json!({ "error": error.to_string() })
        }
    };
    Ok(serde_json::json!({ "schedule": summary, "export": export }))
}
