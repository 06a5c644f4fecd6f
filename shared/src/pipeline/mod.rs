//! The pipeline stages, each a function of the core and one message, so Lambda handlers and the
//! local workers run exactly the same code.

pub mod batch;
pub mod exporter;
pub mod inspector;
pub mod poller;
pub mod remediator;
pub mod worker;

use crate::connector::ConnectorError;
use crate::domain::EnvelopeError;
use crate::notify::NotifyError;
use crate::ports::{MailError, QueueError, SecretError, StoreError};

/// Why a stage could not finish a message. The message is then retried (it stays on its queue)
/// and, failing every time, dead-lettered: nothing is dropped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error("{0}")]
    Inconsistent(String),
    /// Another worker holds the work right now (expected when push and pull queue the same
    /// action): the message comes back after the visibility timeout. Not an error to log.
    #[error("{0}")]
    Busy(String),
}

impl PipelineError {
    /// Whether this is an expected, passing condition a retry resolves on its own: another
    /// writer won a conditional write, or the provider asked us to wait, failed for a moment or
    /// has the content not ready yet (Box answers 202 right after an upload).
    pub fn is_passing(&self) -> bool {
        matches!(
            self,
            PipelineError::Store(StoreError::Conflict { .. })
                | PipelineError::Connector(
                    ConnectorError::RateLimited { .. } | ConnectorError::Transient(_)
                )
        )
    }
}

/// Logs a record that failed and will be retried, at the level its cause deserves: work held
/// elsewhere is routine (info), a passing condition a warning, anything else an error, so that a
/// healthy run shows no ERROR line (the crash benchmark counts them).
pub(crate) fn log_retried_record(message_id: &str, error: &PipelineError) {
    match error {
        PipelineError::Busy(reason) => {
            tracing::info!(%message_id, %reason, "record busy elsewhere; it will come back")
        }
        passing if passing.is_passing() => {
            tracing::warn!(%message_id, error = %passing, "record will be retried")
        }
        error => tracing::error!(%message_id, %error, "record failed; it will be retried"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_contention_and_passing_provider_faults_are_passing() {
        let passing = [
            PipelineError::Store(StoreError::Conflict {
                what: "checkpoint".into(),
            }),
            PipelineError::Connector(ConnectorError::RateLimited {
                retry_after: std::time::Duration::from_secs(1),
            }),
            PipelineError::Connector(ConnectorError::Transient("202 not ready".into())),
        ];
        assert!(passing.iter().all(PipelineError::is_passing));
        let failing = [
            PipelineError::Store(StoreError::Unavailable("disk full".into())),
            PipelineError::Connector(ConnectorError::Permanent("400".into())),
            PipelineError::Inconsistent("bad envelope".into()),
        ];
        assert!(!failing.iter().any(PipelineError::is_passing));
    }
}
