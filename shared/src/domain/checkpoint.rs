//! Where a poll of one integration's event stream resumes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An opaque provider cursor (Box `stream_position`, a Graph `deltaLink`, a timestamp) with the
/// version it was written at. Writers name the version they read; a stale writer is rejected,
/// so two pollers can never both advance one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The stream this cursor belongs to, usually `{integration_id}` or `{integration_id}#{feed}`.
    pub stream: String,
    pub cursor: String,
    /// Starts at 1 on the first write and grows by one on every write.
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}
