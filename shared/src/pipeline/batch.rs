//! Partial batch failures: process each record of a batch on its own and report only the ones
//! that failed, so one bad record never makes a good one run twice. A panic in one record fails
//! that record only.

use std::future::Future;

use super::PipelineError;

/// One queue record: an SQS message id and its body.
#[derive(Debug, Clone)]
pub struct QueueRecord {
    pub message_id: String,
    pub body: String,
}

/// Runs `handler` on every record concurrently and returns the ids of the records that failed
/// (returned an error or panicked), in input order.
pub async fn process_batch<F, Fut>(records: Vec<QueueRecord>, handler: F) -> Vec<String>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), PipelineError>> + Send + 'static,
{
    let tasks: Vec<_> = records
        .into_iter()
        .map(|record| {
            let span = tracing::info_span!("record", message_id = %record.message_id);
            let task = tokio::spawn(tracing::Instrument::instrument(handler(record.body), span));
            (record.message_id, task)
        })
        .collect();
    let mut failed = Vec::new();
    for (message_id, task) in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                super::log_retried_record(&message_id, &error);
                failed.push(message_id);
            }
            Err(join_error) => {
                tracing::error!(%message_id, error = %join_error, "record handler panicked; it will be retried");
                failed.push(message_id);
            }
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, body: &str) -> QueueRecord {
        QueueRecord {
            message_id: id.into(),
            body: body.into(),
        }
    }

    #[tokio::test]
    async fn only_failed_and_panicking_records_are_reported() {
        let records = vec![
            record("a", "ok"),
            record("b", "fail"),
            record("c", "panic"),
            record("d", "ok"),
        ];
        let failed = process_batch(records, |body| async move {
            match body.as_str() {
                "fail" => Err(PipelineError::Inconsistent("bad record".into())),
                "panic" => panic!("handler bug"),
                _ => Ok(()),
            }
        })
        .await;
        assert_eq!(failed, vec!["b".to_string(), "c".to_string()]);
    }
}
