//! The exporter: every record the product keeps, as OCSF 1.5.0, in files a SIEM or Amazon
//! Security Lake reads.
//!
//! The inspector and the remediator add records to the export outbox as they store what the
//! records describe (an activity, an incident's state, a response action's outcome), keyed so
//! that a redelivery adds nothing. On the schedule, [`run`] claims batches from the outbox and
//! writes, per batch:
//! - gzip JSON Lines, one object per (class, hour):
//!   `ocsf/class_uid=6006/year=2026/month=11/day=29/hour=01/{batch}.jsonl.gz`; events no mapping
//!   covers go under `unmapped/` as they came;
//! - when Security Lake is set up, Parquet, one object per (class, day), in the custom-source
//!   layout `ext/{prefix}_{class_uid}/region=.../accountId=.../eventDay=YYYYMMDD/{batch}.gz.parquet`.
//!
//! File names come from the batch id, so a batch written again after a crash replaces its own
//! files: nothing is lost and nothing is exported twice.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Timelike, Utc};
use serde::Serialize;
use serde_json::Value;

use super::PipelineError;
use crate::core::Core;
use crate::domain::{Activity, Incident};
use crate::lease::HeldLease;
use crate::ocsf::{self, Mapped};
use crate::ports::{ExportRecord, ObjectSink};

/// The JSON Lines prefix for OCSF records, and the one for events forwarded raw.
pub const OCSF_PREFIX: &str = "ocsf";
pub const UNMAPPED_PREFIX: &str = "unmapped";

/// One export run at a time: a run holds this lease while it writes.
const RUN_LEASE: &str = "export-run";
const RUN_LEASE_LENGTH: std::time::Duration = std::time::Duration::from_secs(120);

/// What one run wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub batches: usize,
    /// Batches a stopped run had claimed, written again and completed by this one.
    pub recovered_batches: usize,
    pub records: usize,
    pub files: Vec<String>,
    /// Set when another run holds the lease (this one did nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

fn keep_until(core: &Core) -> DateTime<Utc> {
    let retention = chrono::Duration::from_std(core.settings.activity_retention)
        .unwrap_or(chrono::Duration::days(90));
    core.backend.clock.now() + retention
}

fn export_record(key: String, record: &Value, fallback_time: DateTime<Utc>) -> ExportRecord {
    ExportRecord {
        key,
        class_uid: record["class_uid"].as_u64().unwrap_or(0) as u32,
        time_ms: record["time"]
            .as_i64()
            .unwrap_or_else(|| fallback_time.timestamp_millis()),
        body: record.to_string(),
    }
}

/// Adds an activity's record (its OCSF class, or the event as it came when no mapping covers
/// it) to the outbox, once per activity.
pub async fn record_activity(core: &Core, activity: &Activity) -> Result<(), PipelineError> {
    if !core.backend.export_sinks.enabled() {
        return Ok(());
    }
    let options = ocsf::Options {
        raw_data: core.settings.export_raw_data,
    };
    // An event forwarded raw has no `class_uid`: it is exported as class 0, under `unmapped/`.
    let (Mapped::Ocsf(body) | Mapped::Unmapped(body)) = ocsf::map_activity(activity, options);
    let record = export_record(
        format!("activity#{}", activity.id()),
        &body,
        activity.event_timestamp,
    );
    core.backend
        .exports
        .add_export_records(&[record], keep_until(core))
        .await?;
    Ok(())
}

/// Adds an incident's state (Data Security Finding) and the outcomes of its response actions
/// (File Remediation Activity) to the outbox: each state once, whichever process stored it.
pub async fn record_incident(core: &Core, incident: &Incident) -> Result<(), PipelineError> {
    if !core.backend.export_sinks.enabled() {
        return Ok(());
    }
    let mut records = vec![export_record(
        format!(
            "incident#{}#{}",
            incident.id,
            incident.updated_at.timestamp_millis()
        ),
        &ocsf::incident(incident),
        incident.updated_at,
    )];
    for action in &incident.actions {
        if let Some(record) = ocsf::response_action(incident, action) {
            records.push(export_record(
                format!(
                    "action#{}#{}#{}",
                    action.action_id,
                    crate::domain::enum_label(&action.status),
                    action.updated_at.timestamp_millis()
                ),
                &record,
                action.updated_at,
            ));
        }
    }
    core.backend
        .exports
        .add_export_records(&records, keep_until(core))
        .await?;
    Ok(())
}

/// Adds an anomaly's state (Detection Finding) to the outbox, once per version.
pub async fn record_anomaly(
    core: &Core,
    anomaly: &crate::domain::Anomaly,
) -> Result<(), PipelineError> {
    if !core.backend.export_sinks.enabled() {
        return Ok(());
    }
    let record = export_record(
        format!("anomaly#{}#{}", anomaly.id, anomaly.version),
        &ocsf::anomaly(anomaly, &anomaly.recent_activity_ids),
        anomaly.updated_at,
    );
    core.backend
        .exports
        .add_export_records(&[record], keep_until(core))
        .await?;
    Ok(())
}

/// Adds a change to the product's configuration (Entity Management) to the outbox.
pub async fn record_config_change(
    core: &Core,
    change: &ocsf::ConfigChange<'_>,
) -> Result<(), PipelineError> {
    if !core.backend.export_sinks.enabled() {
        return Ok(());
    }
    let record = export_record(
        format!("config#{}", change.uid),
        &ocsf::config_change(change),
        change.time,
    );
    core.backend
        .exports
        .add_export_records(&[record], keep_until(core))
        .await?;
    Ok(())
}

/// Writes what waits in the outbox: first any batch a stopped run left open, then new batches
/// until the outbox is empty.
pub async fn run(core: &Core) -> Result<ExportSummary, PipelineError> {
    let backend = &core.backend;
    let mut summary = ExportSummary::default();
    if !backend.export_sinks.enabled() {
        summary.skipped = Some("no export destination is configured".into());
        return Ok(summary);
    }
    let Some(lease) =
        HeldLease::acquire(backend.dedup.clone(), RUN_LEASE, RUN_LEASE_LENGTH).await?
    else {
        summary.skipped = Some("another export run holds the lease".into());
        return Ok(summary);
    };
    let result = run_batches(core, &mut summary).await;
    lease.release().await;
    result.map(|()| summary)
}

async fn run_batches(core: &Core, summary: &mut ExportSummary) -> Result<(), PipelineError> {
    let exports = &core.backend.exports;
    for batch_id in exports.open_export_batches().await? {
        let records = exports.export_batch_records(&batch_id).await?;
        write_batch(core, &batch_id, &records, summary).await?;
        exports.complete_export_batch(&batch_id).await?;
        summary.recovered_batches += 1;
        summary.records += records.len();
    }
    let limit = core.settings.export_batch_size.max(1);
    // Within the schedule tick's time: what is left waits for the next tick.
    let budget = std::time::Instant::now() + core.settings.poll_job_budget;
    loop {
        if std::time::Instant::now() >= budget {
            return Ok(());
        }
        let now = core.backend.clock.now();
        // Sortable by time, unique across runs.
        let batch_id = format!(
            "{}-{}",
            now.format("%Y%m%dT%H%M%S%3fZ"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let records = exports.claim_export_batch(&batch_id, limit).await?;
        if records.is_empty() {
            return Ok(());
        }
        write_batch(core, &batch_id, &records, summary).await?;
        exports.complete_export_batch(&batch_id).await?;
        summary.batches += 1;
        summary.records += records.len();
        if records.len() < limit {
            return Ok(());
        }
    }
}

fn hour_of(time_ms: i64) -> DateTime<Utc> {
    let time = Utc
        .timestamp_millis_opt(time_ms)
        .single()
        .unwrap_or_default();
    time.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(time)
}

fn parse(records: &[&ExportRecord]) -> Result<Vec<Value>, PipelineError> {
    records
        .iter()
        .map(|r| {
            serde_json::from_str(&r.body).map_err(|e| {
                PipelineError::Inconsistent(format!("export record {} is not JSON: {e}", r.key))
            })
        })
        .collect()
}

fn export_error(error: casb_export::ExportError) -> PipelineError {
    PipelineError::Inconsistent(format!("export: {error}"))
}

async fn put(
    sink: &dyn ObjectSink,
    key: String,
    bytes: Vec<u8>,
    content_type: &str,
    summary: &mut ExportSummary,
) -> Result<(), PipelineError> {
    sink.put_object(&key, bytes, content_type).await?;
    summary.files.push(format!("{}/{key}", sink.describe()));
    Ok(())
}

async fn write_batch(
    core: &Core,
    batch_id: &str,
    records: &[ExportRecord],
    summary: &mut ExportSummary,
) -> Result<(), PipelineError> {
    let sinks = &core.backend.export_sinks;
    if let Some(sink) = &sinks.json_lines {
        let mut by_hour: BTreeMap<(u32, i64), Vec<&ExportRecord>> = BTreeMap::new();
        for record in records {
            let hour = hour_of(record.time_ms).timestamp_millis();
            by_hour
                .entry((record.class_uid, hour))
                .or_default()
                .push(record);
        }
        for ((class_uid, hour), group) in by_hour {
            let prefix = if class_uid == 0 {
                UNMAPPED_PREFIX
            } else {
                OCSF_PREFIX
            };
            let hour = Utc.timestamp_millis_opt(hour).single().unwrap_or_default();
            let key = casb_export::jsonl_key(prefix, class_uid, hour, batch_id);
            let bytes = casb_export::jsonl_gzip(&parse(&group)?).map_err(export_error)?;
            put(sink.as_ref(), key, bytes, "application/gzip", summary).await?;
        }
    }
    if let Some((sink, lake)) = &sinks.security_lake {
        let mut by_day: BTreeMap<(u32, chrono::NaiveDate), Vec<&ExportRecord>> = BTreeMap::new();
        for record in records.iter().filter(|r| r.class_uid != 0) {
            let day = hour_of(record.time_ms).date_naive();
            by_day
                .entry((record.class_uid, day))
                .or_default()
                .push(record);
        }
        for ((class_uid, day), group) in by_day {
            let source = format!("{}_{class_uid}", lake.source_prefix);
            let key = casb_export::security_lake_key(
                &source,
                &lake.region,
                &lake.account_id,
                day,
                batch_id,
            )
            .map_err(export_error)?;
            let bytes = casb_export::parquet(&parse(&group)?).map_err(export_error)?;
            put(
                sink.as_ref(),
                key,
                bytes,
                "application/vnd.apache.parquet",
                summary,
            )
            .await?;
        }
    }
    Ok(())
}
