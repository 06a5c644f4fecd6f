//! The inspector: stores each activity, classifies the file it names, runs the tenant's
//! policies on it, writes incidents and queues their response actions.
//!
//! Idempotent end to end: the activity is stored under its stable id, a file version is
//! classified once (under a lease, cached by content hash), an incident's id derives from
//! (policy, integration, subject) and is created only if absent, and actions are (re-)queued
//! while they are still pending on the incident; the remediator skips actions already done. So
//! a redelivered activity, or a crash at any step, gives the same incidents and actions, once.
//! A new exposure of something already remediated (the partner invited again) raises the
//! incident again and runs its actions again.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use super::PipelineError;
use crate::connector::ConnectorError;
use crate::core::Core;
use crate::domain::{
    content_key, incident_id, sender_listed, ActionRecord, ActionStatus, Activity, BlockEntryMatch,
    BlockList, Classification, Envelope, EventType, Incident, IncidentObject, IncidentStatus,
    ResponseAction,
};
use crate::lease::HeldLease;
use crate::policy::{classification_of, provider_content_key, ActivePolicies, Mode, PolicyHit};
use crate::ports::OutgoingMessage;

/// What inspecting one activity did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The file's content was downloaded and scanned for this activity.
    pub content_scanned: bool,
    /// The file version's classification was already stored (no download).
    pub classification_reused: bool,
    pub incidents_created: usize,
    /// Incidents raised again by a new exposure after their remediation.
    pub incidents_reopened: usize,
    pub actions_queued: usize,
    /// Anomalies this activity opened or extended.
    pub anomalies: usize,
}

/// An uninspected result is kept this long, then the version is tried again (a refused
/// download may be allowed tomorrow); inspected versions are kept as long as activities.
const RETRY_UNINSPECTED_AFTER_HOURS: i64 = 24;

/// Handles one message from the activities queue.
pub async fn handle_message(core: &Core, body: &str) -> Result<Inspection, PipelineError> {
    let envelope = Envelope::<Activity>::parse(body)?;
    inspect(core, &envelope.payload).await
}

pub async fn inspect(core: &Core, activity: &Activity) -> Result<Inspection, PipelineError> {
    let backend = &core.backend;
    let now = backend.clock.now();
    let retention =
        Duration::from_std(core.settings.activity_retention).unwrap_or(Duration::days(90));
    // One activity per user action: a second copy (the other ingest path, or a redelivery)
    // completes the stored one instead of adding another.
    let merged = match backend
        .activities
        .get_activity(&activity.tenant_id, &activity.id())
        .await?
    {
        Some(stored) => stored.merged_with(activity.clone()),
        None => activity.clone(),
    };
    let mut merged = merged;
    // Placed before it is stored: the stored activity, its export and the detectors see one
    // place (the provider's own coordinates win over the database's).
    core.threats().locate(&mut merged);
    let activity = &merged;
    backend
        .activities
        .put_activity(activity, now + retention)
        .await?;
    super::exporter::record_activity(core, activity).await?;

    let active = core
        .policies_for(&activity.tenant_id)
        .await
        .map_err(|e| PipelineError::Inconsistent(e.to_string()))?;
    let mut inspection = Inspection::default();
    let classification = classify(core, activity, &active, &mut inspection).await?;
    let blocked = block_list_matches(
        core,
        activity,
        classification.as_ref(),
        &active.set.block_lists(),
    )
    .await?;
    let mut actions = Vec::new();
    for hit in active
        .set
        .evaluate_with(activity, classification.as_ref(), &blocked)
    {
        actions.extend(raise(core, activity, &active, hit, now, &mut inspection).await?);
    }
    // Behaviour: the anomalies this activity opens or extends, and the policies that act on
    // them.
    let anomalies = crate::threat::observe(core, activity).await?;
    inspection.anomalies = anomalies.len();
    for anomaly in &anomalies {
        for hit in active.set.evaluate_anomaly(anomaly, activity) {
            actions.extend(raise(core, activity, &active, hit, now, &mut inspection).await?);
        }
    }
    inspection.actions_queued = actions.len();
    backend.action_queue.send_batch(actions).await?;
    Ok(inspection)
}

/// Opens the incident for a policy hit (or raises it again after its remediation), and returns
/// the messages for its actions still to do.
async fn raise(
    core: &Core,
    activity: &Activity,
    active: &ActivePolicies,
    hit: PolicyHit<'_>,
    now: DateTime<Utc>,
    inspection: &mut Inspection,
) -> Result<Vec<OutgoingMessage>, PipelineError> {
    let incidents = &core.backend.incidents;
    let policy = hit.policy;
    let id = incident_id(&policy.id, &activity.integration_id, &hit.subject);
    let monitor_only = policy.mode == Mode::Monitor;
    let records = || -> Vec<ActionRecord> {
        policy
            .actions
            .iter()
            .filter_map(|action| {
                let kind = action.kind()?;
                // The security team's channel keeps the id actions had before channels.
                let channel = action.channel().filter(|c| *c != "security-team");
                Some(ActionRecord {
                    action_id: ResponseAction::id_for(&id, kind, channel),
                    kind,
                    channel: channel.map(str::to_string),
                    scope: action.scope(),
                    undo: None,
                    status: if monitor_only {
                        ActionStatus::Skipped
                    } else {
                        ActionStatus::Pending
                    },
                    detail: monitor_only
                        .then(|| "monitor mode: the policy records, it does not act".into()),
                    attempts: 0,
                    updated_at: now,
                })
            })
            .collect()
    };
    let candidate = Incident {
        id: id.clone(),
        tenant_id: activity.tenant_id.clone(),
        integration_id: activity.integration_id.clone(),
        policy_id: policy.id.clone(),
        policy_name: policy.name.clone(),
        policy_version: active.version,
        monitor_only,
        severity: policy.severity,
        object: IncidentObject {
            provider: activity.provider,
            object_id: activity.object_id.clone(),
            object_type: activity.object_type.clone(),
            object_name: activity.object_name.clone(),
            object_path: activity.object_path.clone(),
        },
        activity_id: activity.id(),
        activity_ids: vec![activity.id()],
        reopened: 0,
        actor_email: activity.actor_email.clone(),
        owner_email: activity
            .enrichments
            .exposure
            .as_ref()
            .and_then(|e| e.owner_email.clone()),
        matches: hit.matches.clone(),
        status: IncidentStatus::Open,
        actions: records(),
        history: Vec::new(),
        created_at: now,
        updated_at: now,
        version: 0,
    };
    let incident = if incidents.create_incident(&candidate).await? {
        inspection.incidents_created += 1;
        tracing::info!(incident = %id, policy = %candidate.policy_id, policy_version = active.version,
            severity = ?candidate.severity, monitor_only, object = ?candidate.object.object_name, "incident opened");
        candidate
    } else {
        let mut stored = incidents
            .get_incident(&activity.tenant_id, &id)
            .await?
            .ok_or_else(|| {
                PipelineError::Inconsistent(format!("incident {id} exists but cannot be read"))
            })?;
        let seen =
            stored.activity_id == activity.id() || stored.activity_ids.contains(&activity.id());
        // Only what happened after the remediation finished is a new exposure; an activity
        // from before it, processed late, sees today's exposure but is not new. Providers log
        // to the second, so an exposure in the very second the remediation finished waits
        // for the next activity on the file.
        let after_remediation = stored.remediated()
            && stored
                .last_action_at()
                .is_none_or(|done| activity.event_timestamp > done);
        if !seen && after_remediation && stored.status != IncidentStatus::FalsePositive {
            // A new exposure of what was already fixed: the partner invited again, the
            // restored file shared again. Raise it again and do the work again.
            stored.reopened += 1;
            stored.status = IncidentStatus::Open;
            stored.activity_ids.push(activity.id());
            stored.matches = hit.matches.clone();
            stored.policy_version = active.version;
            stored.actions = records();
            stored.updated_at = now;
            match incidents.update_incident(&stored).await {
                Ok(updated) => {
                    inspection.incidents_reopened += 1;
                    tracing::info!(incident = %id, reopened = updated.reopened, "incident raised again after remediation");
                    updated
                }
                // Someone else updated it meanwhile (the remediator recording an outcome):
                // the redelivery that follows decides again on what is stored then.
                Err(e) if e.is_conflict() => {
                    return Err(PipelineError::Busy(format!(
                        "incident {id} changed while being raised again; will decide again"
                    )))
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            // Seen before (a redelivery, or the same event by the other ingest path), or its
            // remediation is still under way: queue whatever is still pending.
            stored
        }
    };
    // Every time, not only when created: a delivery that stopped before exporting it left
    // this to the redelivery (the outbox keeps one record per incident state).
    super::exporter::record_incident(core, &incident).await?;
    Ok(pending_action_messages(&incident, now))
}

/// The remediator's messages for the incident's actions still pending.
pub(crate) fn pending_action_messages(
    incident: &Incident,
    now: DateTime<Utc>,
) -> Vec<OutgoingMessage> {
    incident
        .actions
        .iter()
        .filter(|a| a.status == ActionStatus::Pending)
        .map(|record| OutgoingMessage::enveloped(incident.response_action(record), now))
        .collect()
}

/// The classification of the file version the activity names. Every file created or modified
/// is classified, and any file a content policy may judge; a version already classified is not
/// downloaded again. `None` when the activity names no file or its provider serves no content.
async fn classify(
    core: &Core,
    activity: &Activity,
    active: &ActivePolicies,
    inspection: &mut Inspection,
) -> Result<Option<Classification>, PipelineError> {
    let new_content = matches!(
        activity.event_type,
        EventType::DataCreation | EventType::DataModification
    );
    let (Some(file_id), true) = (activity.object_id.as_deref(), activity.is_about_file()) else {
        return Ok(None);
    };
    if !new_content && !active.set.wants_content(activity) {
        return Ok(None);
    }
    let Some(connector) = core
        .connectors
        .get(activity.provider)
        .filter(|c| c.capabilities().content_download)
    else {
        return Ok(None);
    };
    let classifications = &core.backend.classifications;
    let tenant = activity.tenant_id.as_str();
    let provider_key = provider_content_key(activity);
    if let Some(key) = &provider_key {
        if let Some(known) = classifications.get_classification(tenant, key).await? {
            inspection.classification_reused = true;
            return Ok(Some(known));
        }
    }
    // One worker per version: the push and the pull copy of one upload, or two shares of one
    // file, arrive together; the second waits and then finds the classification stored.
    let lease_key = format!(
        "classify#{tenant}#{}",
        provider_key
            .clone()
            .unwrap_or_else(|| format!("{}#{file_id}", activity.integration_id))
    );
    let Some(held) = HeldLease::acquire(
        core.backend.dedup.clone(),
        &lease_key,
        core.settings.action_lease,
    )
    .await?
    else {
        return Err(PipelineError::Busy(format!(
            "file {file_id} is being inspected by another worker; will look again"
        )));
    };
    let result = classify_holding_lease(
        core,
        connector.as_ref(),
        activity,
        file_id,
        provider_key,
        inspection,
    )
    .await;
    held.release().await;
    result
}

async fn classify_holding_lease(
    core: &Core,
    connector: &dyn crate::connector::Connector,
    activity: &Activity,
    file_id: &str,
    provider_key: Option<String>,
    inspection: &mut Inspection,
) -> Result<Option<Classification>, PipelineError> {
    let backend = &core.backend;
    let tenant = activity.tenant_id.as_str();
    let now = backend.clock.now();
    let keep = Duration::from_std(core.settings.activity_retention).unwrap_or(Duration::days(90));
    if let Some(key) = &provider_key {
        // Classified while we waited for the lease.
        if let Some(known) = backend
            .classifications
            .get_classification(tenant, key)
            .await?
        {
            inspection.classification_reused = true;
            return Ok(Some(known));
        }
    }
    let uninspected = |reason: String| async {
        tracing::warn!(activity = %activity.id(), file = %file_id, %reason, "file not inspected");
        let key = provider_key.clone().unwrap_or_default();
        let record = Classification::uninspected(tenant, &key, reason, now);
        if !key.is_empty() {
            backend
                .classifications
                .put_classification(
                    &record,
                    now + Duration::hours(RETRY_UNINSPECTED_AFTER_HOURS),
                )
                .await?;
        }
        Ok::<_, PipelineError>(Some(record))
    };
    let max = core.settings.max_download_bytes;
    let known_size = activity.enrichments.exposure.as_ref().and_then(|e| e.size);
    if let Some(size) = known_size.filter(|size| *size > max) {
        return uninspected(format!(
            "{size} bytes, over the {max}-byte download limit (CASB_MAX_DOWNLOAD_MB)"
        ))
        .await;
    }
    let Some(integration) = backend
        .integrations
        .get_integration(tenant, &activity.integration_id)
        .await?
    else {
        return Ok(None);
    };
    let scanner = core
        .scanner()
        .map_err(|e| PipelineError::Inconsistent(e.to_string()))?;
    // Reserve the file's memory (its bytes and the text it may expand to) before downloading:
    // big files take turns, small ones run side by side, and none exceeds the budget.
    let total = core.settings.inspection_memory_bytes.max(1 << 20);
    let size = known_size.unwrap_or(max).min(max);
    let wanted = size + scanner.max_extracted_bytes(size);
    let permits = wanted.min(total).div_ceil(1 << 20).max(1) as u32;
    let _memory = core
        .inspection_memory
        .acquire_many(permits)
        .await
        .map_err(|_| PipelineError::Inconsistent("inspection memory budget closed".into()))?;
    let integration = &integration;
    let downloaded = core
        .tokens
        .with_token(connector, integration, |token| async move {
            connector.download(integration, &token, file_id, max).await
        })
        .await;
    let bytes = match downloaded {
        Ok(bytes) => bytes,
        // Not ready yet (Box answers 202 right after an upload), throttled, or a passing fault:
        // fail the message so it is retried after the visibility timeout.
        Err(
            e @ (ConnectorError::RateLimited { .. }
            | ConnectorError::Transient(_)
            | ConnectorError::Unauthorized),
        ) => return Err(e.into()),
        Err(other) => return uninspected(other.to_string()).await,
    };
    let key = match provider_key {
        Some(key) => key,
        None => {
            // No provider hash: the bytes name the version. A version seen before is not
            // scanned again, though it had to be downloaded to know.
            let key = content_key("sha256", &hex::encode(Sha256::digest(&bytes)));
            if let Some(known) = backend
                .classifications
                .get_classification(tenant, &key)
                .await?
            {
                inspection.classification_reused = true;
                return Ok(Some(known));
            }
            key
        }
    };
    let name = activity.object_name.clone().unwrap_or_default();
    let size = bytes.len() as u64;
    let sha256 = key
        .strip_prefix("sha256:")
        .map_or_else(|| hex::encode(Sha256::digest(&bytes)), str::to_string);
    let findings = tokio::task::spawn_blocking(move || scanner.scan(&name, &bytes))
        .await
        .map_err(|e| PipelineError::Inconsistent(format!("content scan failed: {e}")))?;
    inspection.content_scanned = true;
    let mut classification = classification_of(tenant, &key, findings, Some(size), now);
    classification.sha256 = Some(sha256);
    if let Some(reason) = classification.coverage.reason() {
        // A hostile or unreadable file (zip bomb, nesting, timeout, unknown binary) is
        // recorded as such; policies decide whether that deserves a person's look.
        tracing::warn!(activity = %activity.id(), file = %file_id, %reason, "content only partly inspected");
    }
    tracing::info!(activity = %activity.id(), content = %key,
        detectors = ?classification.detectors.iter().map(|d| (&d.detector, d.total())).collect::<Vec<_>>(),
        "content classified");
    backend
        .classifications
        .put_classification(&classification, now + keep)
        .await?;
    Ok(Some(classification))
}

/// The tenant's block-list entries the activity and its file match now, on the lists its
/// policies judge: the file's SHA-1 (the provider's content hash), its SHA-256 (of the bytes
/// downloaded), the URLs in its text, and the mail's sender. Read for each activity, so an
/// entry added today catches a file classified last week.
async fn block_list_matches(
    core: &Core,
    activity: &Activity,
    content: Option<&Classification>,
    lists: &[BlockList],
) -> Result<Vec<BlockEntryMatch>, PipelineError> {
    let mut hits = Vec::new();
    for &list in lists {
        let values: Vec<String> = match (list, content) {
            (BlockList::Senders, _) => activity
                .from_email
                .iter()
                .map(|f| f.trim().to_lowercase())
                .collect(),
            (BlockList::Sha1, Some(content)) => content
                .sha1()
                .map(str::to_string)
                .or_else(|| {
                    activity
                        .enrichments
                        .exposure
                        .as_ref()
                        .and_then(|e| e.content_sha1.clone())
                })
                .map(|h| h.to_ascii_lowercase())
                .into_iter()
                .collect(),
            (BlockList::Sha256, Some(content)) => content.sha256.iter().cloned().collect(),
            (BlockList::Urls, Some(content)) => content.urls.clone(),
            (_, None) => Vec::new(),
        };
        if values.is_empty() {
            continue;
        }
        let entries = core
            .backend
            .access
            .list_block_entries(&activity.tenant_id, list)
            .await?;
        for value in values {
            let listed = entries.iter().any(|e| match list {
                BlockList::Senders => sender_listed(&e.value, &value),
                _ => e.value == value,
            });
            if listed {
                tracing::info!(activity = %activity.id(), list = list.as_str(), %value, "on a block list");
                hits.push(BlockEntryMatch { list, value });
            }
        }
    }
    Ok(hits)
}
