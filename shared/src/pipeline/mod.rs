//! The pipeline stages, each a function of the core and one message, so Lambda handlers and the
//! local workers run exactly the same code.

pub mod batch;
pub mod inspector;
pub mod poller;
pub mod remediator;
pub mod worker;

use crate::connector::ConnectorError;
use crate::domain::EnvelopeError;
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
    #[error("{0}")]
    Inconsistent(String),
    /// Another worker holds the work right now (expected when push and pull queue the same
    /// action): the message comes back after the visibility timeout. Not an error to log.
    #[error("{0}")]
    Busy(String),
}
