//! The inspector: stores each activity, runs the policies on it, writes incidents and queues
//! their response actions.
//!
//! Idempotent end to end: the activity is stored under its stable id, an incident's id derives
//! from (policy, activity) and is created only if absent, and actions are (re-)queued while they
//! are still pending on the incident; the remediator skips actions already done. So a
//! redelivered activity, or a crash at any step, gives the same incidents and actions, once.

use chrono::Duration;

use super::PipelineError;
use crate::connector::ConnectorError;
use crate::content::ContentFindings;
use crate::core::Core;
use crate::domain::{
    incident_id, ActionRecord, ActionStatus, Activity, Envelope, Incident, IncidentObject,
    IncidentStatus, ResponseAction,
};
use crate::policy::evaluate;
use crate::ports::OutgoingMessage;

/// What inspecting one activity did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub content_scanned: bool,
    pub incidents_created: usize,
    pub actions_queued: usize,
}

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
    let activity = &merged;
    backend
        .activities
        .put_activity(activity, now + retention)
        .await?;

    let content = inspect_content(core, activity).await?;
    let mut inspection = Inspection {
        content_scanned: content.is_some(),
        ..Inspection::default()
    };
    let mut actions = Vec::new();
    for hit in evaluate(&core.policies, activity, content.as_ref()) {
        let id = incident_id(
            &hit.policy.id,
            &activity.integration_id,
            &hit.policy.condition.subject(activity),
        );
        let candidate = Incident {
            id: id.clone(),
            tenant_id: activity.tenant_id.clone(),
            integration_id: activity.integration_id.clone(),
            policy_id: hit.policy.id.clone(),
            policy_name: hit.policy.name.clone(),
            severity: hit.policy.severity,
            object: IncidentObject {
                provider: activity.provider,
                object_id: activity.object_id.clone(),
                object_type: activity.object_type.clone(),
                object_name: activity.object_name.clone(),
                object_path: activity.object_path.clone(),
            },
            activity_id: activity.id(),
            actor_email: activity.actor_email.clone(),
            matches: hit.matches,
            status: IncidentStatus::Open,
            actions: hit
                .policy
                .actions
                .iter()
                .map(|kind| ActionRecord {
                    action_id: ResponseAction::id_for(&id, *kind, None),
                    kind: *kind,
                    channel: None,
                    status: ActionStatus::Pending,
                    detail: None,
                    attempts: 0,
                    updated_at: now,
                })
                .collect(),
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let incident = if backend.incidents.create_incident(&candidate).await? {
            inspection.incidents_created += 1;
            tracing::info!(incident = %id, policy = %candidate.policy_id, severity = ?candidate.severity,
                object = ?candidate.object.object_name, "incident opened");
            candidate
        } else {
            // Seen before (a redelivery, or the same event by the other ingest path): queue
            // whatever is still pending on the incident as stored.
            backend
                .incidents
                .get_incident(&activity.tenant_id, &id)
                .await?
                .ok_or_else(|| {
                    PipelineError::Inconsistent(format!("incident {id} exists but cannot be read"))
                })?
        };
        for record in incident
            .actions
            .iter()
            .filter(|a| a.status == ActionStatus::Pending)
        {
            let action = ResponseAction {
                id: record.action_id.clone(),
                incident_id: incident.id.clone(),
                tenant_id: incident.tenant_id.clone(),
                integration_id: incident.integration_id.clone(),
                provider: incident.object.provider,
                kind: record.kind,
                object_id: incident.object.object_id.clone(),
                object_type: incident.object.object_type.clone(),
                channel: record.channel.clone(),
            };
            let envelope = Envelope::wrap(action, now);
            actions.push(OutgoingMessage::new(
                envelope.id.clone(),
                envelope.to_json(),
            ));
        }
    }
    inspection.actions_queued = actions.len();
    backend.action_queue.send_batch(actions).await?;
    Ok(inspection)
}

/// Downloads and scans the file when a content policy could fire: the activity is about a file
/// that is exposed (public link or external collaborator) and its provider can serve content.
async fn inspect_content(
    core: &Core,
    activity: &Activity,
) -> Result<Option<ContentFindings>, PipelineError> {
    let exposed = activity
        .enrichments
        .exposure
        .as_ref()
        .is_some_and(|e| e.is_exposed());
    let wanted = core.policies.iter().any(|p| p.condition.needs_content());
    let (Some(file_id), true, true, true) = (
        activity.object_id.as_deref(),
        activity.is_about_file(),
        exposed,
        wanted,
    ) else {
        return Ok(None);
    };
    let Some(connector) = core
        .connectors
        .get(activity.provider)
        .filter(|c| c.capabilities().content_download)
    else {
        return Ok(None);
    };
    let Some(integration) = core
        .backend
        .integrations
        .get_integration(&activity.tenant_id, &activity.integration_id)
        .await?
    else {
        return Ok(None);
    };
    let connector = connector.as_ref();
    let integration = &integration;
    let max = core.settings.max_download_bytes;
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
        Err(other) => {
            tracing::warn!(activity = %activity.id(), error = %other, "content not inspected");
            return Ok(Some(ContentFindings {
                matches: vec![],
                skipped: Some(other.to_string()),
            }));
        }
    };
    let name = activity.object_name.clone().unwrap_or_default();
    let scanner = core
        .scanner()
        .map_err(|e| PipelineError::Inconsistent(e.to_string()))?;
    let findings = tokio::task::spawn_blocking(move || scanner.scan(&name, &bytes))
        .await
        .map_err(|e| PipelineError::Inconsistent(format!("content scan failed: {e}")))?;
    if let Some(reason) = &findings.skipped {
        // A hostile or unreadable file (zip bomb, nesting, timeout, unknown binary) that is
        // exposed deserves a look by a person even when nothing was found in what was read.
        tracing::warn!(activity = %activity.id(), file = %file_id, reason = %reason, "content only partly inspected");
    }
    tracing::info!(activity = %activity.id(), matches = ?findings.matches, "content inspected");
    Ok(Some(findings))
}
