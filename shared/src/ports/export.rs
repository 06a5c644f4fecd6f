//! Where OCSF records wait to be exported, and where the exported files go.
//!
//! Records are added to an outbox when the pipeline records what they describe, idempotently
//! by key. The exporter claims a batch of them under a batch id (each record in one batch
//! only), writes the batch's files under names made from that id, and then completes the batch.
//! A crash between claim and completion leaves the batch open: the next run writes the same
//! records to the same names again (replacing, not adding) and completes it. A completed key is
//! remembered for as long as the record it describes, so a redelivered activity is not exported
//! a second time.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// One record waiting for export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRecord {
    /// What makes this record unique: the same key is exported once.
    pub key: String,
    /// The OCSF class, or 0 for an event forwarded raw (no mapping covers it).
    pub class_uid: u32,
    /// The record's `time`, in epoch milliseconds (the partition it goes to).
    pub time_ms: i64,
    /// The record, compact JSON.
    pub body: String,
}

#[async_trait]
pub trait ExportStore: Send + Sync {
    /// Adds the records whose keys were never added; `keep_until` is how long a key is
    /// remembered (after export too). Adding a key again changes nothing.
    async fn add_export_records(
        &self,
        records: &[ExportRecord],
        keep_until: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Assigns up to `limit` records not in any batch to `batch_id`, oldest first, and returns
    /// them. A record is assigned to one batch only, even with claims racing.
    async fn claim_export_batch(
        &self,
        batch_id: &str,
        limit: usize,
    ) -> Result<Vec<ExportRecord>, StoreError>;
    /// Batches claimed and not completed (an exporter stopped half-way).
    async fn open_export_batches(&self) -> Result<Vec<String>, StoreError>;
    /// The records of an open batch.
    async fn export_batch_records(&self, batch_id: &str) -> Result<Vec<ExportRecord>, StoreError>;
    /// The batch's files are written: its records are done (their keys stay remembered).
    async fn complete_export_batch(&self, batch_id: &str) -> Result<(), StoreError>;
}

/// A place files are written to: an S3 bucket, or a directory.
#[async_trait]
pub trait ObjectSink: Send + Sync {
    /// Writes `bytes` at `key`, replacing what is there; all or nothing.
    async fn put_object(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError>;
    /// Where the files go, for logs and `casb doctor` (`s3://bucket`, a path).
    fn describe(&self) -> String;
}
