//! Work for the poller, carried on the poll-jobs queue: poll one stream, or turn one verified
//! webhook notice into activities. The schedule and webhook intake only enqueue these; the
//! poller does the provider calls, off the request path and one stream at a time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::MessageKind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollJob {
    pub tenant_id: String,
    pub integration_id: String,
    pub work: PollWork,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PollWork {
    /// The schedule found the stream due.
    Scheduled { stream: String },
    /// The previous job on the stream stopped with more waiting (its time budget ran out, or
    /// the provider asked it to wait).
    Continuation { stream: String },
    /// A webhook delivery whose signature and window were checked, exactly as received.
    Notice {
        delivery_id: String,
        /// Lower-cased header names; only what the connector may need to read the notice.
        headers: BTreeMap<String, String>,
        body: String,
    },
}

impl PollJob {
    pub fn stream(&self) -> Option<&str> {
        match &self.work {
            PollWork::Scheduled { stream } | PollWork::Continuation { stream } => Some(stream),
            PollWork::Notice { .. } => None,
        }
    }
}

impl MessageKind for PollJob {
    const KIND: &'static str = "poll_job";
    fn message_id(&self) -> String {
        let what = match &self.work {
            PollWork::Scheduled { stream } => format!("scheduled#{stream}"),
            PollWork::Continuation { stream } => format!("continuation#{stream}"),
            PollWork::Notice { delivery_id, .. } => format!("notice#{delivery_id}"),
        };
        format!("{}#{}#{what}", self.tenant_id, self.integration_id)
    }
}
