//! Where a poll of one stream resumes, and how that stream is doing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An opaque provider cursor (Box `stream_position`, a Graph `deltaLink`, a timestamp) with the
/// version it was written at. Writers name the version they read; a stale writer is rejected,
/// so two pollers can never both advance one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Checkpoint {
    /// The stream this cursor belongs to: `{tenant_id}#{integration_id}#{stream_id}`.
    pub stream: String,
    pub cursor: String,
    /// Starts at 1 on the first write and grows by one on every write.
    pub version: u64,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub health: StreamHealth,
}

/// How a stream is doing, written with its cursor, for operators and alarms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StreamHealth {
    /// The last poll that fetched and queued without error.
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// Failed polls since the last success.
    #[serde(default)]
    pub consecutive_failures: u32,
    /// Seconds between the newest event queued by the last poll and the time it was queued.
    pub lag_seconds: Option<i64>,
    /// Events queued in total, and queued without full enrichment (see `Activity::incomplete`).
    #[serde(default)]
    pub events_queued: u64,
    #[serde(default)]
    pub events_incomplete: u64,
    /// For streams whose cursor the provider holds (Netskope's iterator moves on every
    /// `next`): a page was fetched but not yet committed. The next poll asks the provider for
    /// that page again instead of a new one.
    #[serde(default)]
    pub page_in_flight: bool,
}

/// The checkpoint key of one stream of one integration: the tenant is in every key.
pub fn stream_key(tenant_id: &str, integration_id: &str, stream_id: &str) -> String {
    format!("{tenant_id}#{integration_id}#{stream_id}")
}

/// The key prefix of every stream of one integration.
pub fn integration_stream_prefix(tenant_id: &str, integration_id: &str) -> String {
    format!("{tenant_id}#{integration_id}#")
}
