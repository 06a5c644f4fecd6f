//! The remediator: carries out response actions and records each outcome on its incident.
//!
//! An action already recorded as done is skipped, so a redelivered message does nothing twice.
//! Provider actions are idempotent at the provider too (removing a removed link is success), so
//! a crash between doing an action and recording it repeats it harmlessly. Notifications go
//! through [`crate::notify`], which tells a receiver a resend by the action id.

use super::PipelineError;
use crate::connector::{ActionOutcome, ConnectorError};
use crate::core::Core;
use crate::domain::{ActionKind, ActionRecord, ActionStatus, Envelope, ResponseAction};
use crate::lease::HeldLease;

/// Handles one message from the actions queue.
pub async fn handle_message(core: &Core, body: &str) -> Result<ActionStatus, PipelineError> {
    let envelope = Envelope::<ResponseAction>::parse(body)?;
    carry_out(core, &envelope.payload).await
}

pub async fn carry_out(
    core: &Core,
    action: &ResponseAction,
) -> Result<ActionStatus, PipelineError> {
    // The same action can be queued twice (the same exposure seen by push and by pull) and two
    // workers can hold copies at once: a lease lets only one of them act. The other fails its
    // copy, which comes back after the visibility timeout and then finds the action done. The
    // lease is short and renewed while held, so a worker that crashed holding it does not
    // block the redeliveries until the message is dead-lettered.
    let lease = format!("action-lease#{}#{}", action.tenant_id, action.id);
    let Some(held) = HeldLease::acquire(
        core.backend.dedup.clone(),
        &lease,
        core.settings.action_lease,
    )
    .await?
    else {
        return Err(PipelineError::Busy(format!(
            "action {} is being carried out by another worker; will check again",
            action.id
        )));
    };
    let result = carry_out_holding_lease(core, action).await;
    held.release().await;
    result
}

async fn carry_out_holding_lease(
    core: &Core,
    action: &ResponseAction,
) -> Result<ActionStatus, PipelineError> {
    // Read under the lease: a copy that waited for it finds the action already done.
    let incidents = &core.backend.incidents;
    let incident = incidents
        .get_incident(&action.tenant_id, &action.incident_id)
        .await?
        .ok_or_else(|| {
            PipelineError::Inconsistent(format!(
                "response action {} names incident {} which does not exist",
                action.id, action.incident_id
            ))
        })?;
    let record = incident.action(&action.id).ok_or_else(|| {
        PipelineError::Inconsistent(format!(
            "incident {} has no action {}",
            incident.id, action.id
        ))
    })?;
    if record.status.is_final() {
        tracing::info!(action = %action.id, status = ?record.status, "action already done; skipping redelivery");
        // A run that stopped between recording the outcome and exporting it left this to do.
        super::exporter::record_incident(core, &incident).await?;
        return Ok(record.status);
    }
    let result = match action.kind {
        ActionKind::Notify => core
            .notifier
            .notify(&core.backend, &incident, action)
            .await
            .map_err(PipelineError::from),
        _ => act_at_provider(core, action).await,
    };
    let (status, detail, undo, error) = match result {
        Ok(ActionOutcome::Succeeded { detail, undo }) => {
            (ActionStatus::Succeeded, detail, undo, None)
        }
        Ok(ActionOutcome::Unsupported { reason }) => {
            (ActionStatus::Unsupported, reason, None, None)
        }
        Err(error) => (ActionStatus::Failed, error.to_string(), None, Some(error)),
    };
    record_outcome(core, action, status, &detail, undo).await?;
    tracing::info!(action = %action.id, kind = ?action.kind, ?status, %detail, "response action recorded");
    match error {
        // Failing the message retries the action; after the queue's receive limit it is
        // dead-lettered and the incident keeps the last error for the analyst.
        Some(error) => Err(error),
        None => Ok(status),
    }
}

async fn act_at_provider(
    core: &Core,
    action: &ResponseAction,
) -> Result<ActionOutcome, PipelineError> {
    let Some(connector) = core.connectors.get(action.provider) else {
        return Ok(ActionOutcome::Unsupported {
            reason: format!(
                "no {} connector is configured in this deployment",
                action.provider
            ),
        });
    };
    if !connector
        .capabilities()
        .response_actions
        .contains(&action.kind)
    {
        return Ok(ActionOutcome::Unsupported {
            reason: format!(
                "{} offers no API for {}",
                action.provider,
                action.kind.as_str()
            ),
        });
    }
    let integration = core
        .backend
        .integrations
        .get_integration(&action.tenant_id, &action.integration_id)
        .await?
        .ok_or_else(|| {
            PipelineError::Inconsistent(format!(
                "integration {} no longer exists",
                action.integration_id
            ))
        })?;
    let connector = connector.as_ref();
    let integration = &integration;
    let executed = core
        .tokens
        .with_token(connector, integration, |token| async move {
            connector.execute(integration, &token, action).await
        })
        .await;
    match executed {
        Ok(outcome) => Ok(outcome),
        Err(ConnectorError::Unsupported(reason)) => Ok(ActionOutcome::Unsupported { reason }),
        Err(error) => Err(error.into()),
    }
}

/// Writes the outcome onto the incident, unless the action is already done.
async fn record_outcome(
    core: &Core,
    action: &ResponseAction,
    status: ActionStatus,
    detail: &str,
    undo: Option<serde_json::Value>,
) -> Result<(), PipelineError> {
    let now = core.backend.clock.now();
    update_action(
        core,
        &action.tenant_id,
        &action.incident_id,
        &action.id,
        |record| {
            if record.status.is_final() {
                return false;
            }
            record.status = status;
            record.detail = Some(detail.to_string());
            record.undo = undo.clone();
            record.attempts += 1;
            record.updated_at = now;
            true
        },
    )
    .await
}

/// Changes one action record of an incident, re-reading and retrying if another action's
/// outcome was written concurrently. `change` answers whether it changed anything.
async fn update_action(
    core: &Core,
    tenant_id: &str,
    incident_id: &str,
    action_id: &str,
    change: impl Fn(&mut ActionRecord) -> bool,
) -> Result<(), PipelineError> {
    let incidents = &core.backend.incidents;
    for _ in 0..10 {
        let mut incident = incidents
            .get_incident(tenant_id, incident_id)
            .await?
            .ok_or_else(|| {
                PipelineError::Inconsistent(format!("incident {incident_id} disappeared"))
            })?;
        let Some(record) = incident.action_mut(action_id) else {
            return Err(PipelineError::Inconsistent(format!(
                "incident has no action {action_id}"
            )));
        };
        if !change(record) {
            return Ok(());
        }
        incident.updated_at = core.backend.clock.now();
        match incidents.update_incident(&incident).await {
            Ok(updated) => return super::exporter::record_incident(core, &updated).await,
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(PipelineError::Inconsistent(format!(
        "incident {incident_id} kept changing while recording action {action_id}; will retry"
    )))
}

/// One action [`restore`] undid, or could not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RestoreOutcome {
    pub kind: ActionKind,
    pub status: ActionStatus,
    pub detail: String,
}

/// Undoes an incident's quarantine and collaborator removals at the provider (`casb act
/// restore`), newest first, from what each action recorded when it ran; each undone action is
/// marked [`ActionStatus::Restored`]. Links removed and files deleted are not restored: a link
/// comes back with a new address only its owner should hand out, and a deleted file is in the
/// provider's trash.
pub async fn restore(
    core: &Core,
    tenant_id: &str,
    incident_id: &str,
) -> Result<Vec<RestoreOutcome>, PipelineError> {
    let incident = core
        .backend
        .incidents
        .get_incident(tenant_id, incident_id)
        .await?
        .ok_or_else(|| {
            PipelineError::Inconsistent(format!("tenant {tenant_id} has no incident {incident_id}"))
        })?;
    let connector = core
        .connectors
        .get(incident.object.provider)
        .ok_or_else(|| {
            PipelineError::Inconsistent(format!(
                "no {} connector is configured in this deployment",
                incident.object.provider
            ))
        })?;
    let integration = core
        .backend
        .integrations
        .get_integration(tenant_id, &incident.integration_id)
        .await?
        .ok_or_else(|| {
            PipelineError::Inconsistent(format!(
                "integration {} no longer exists",
                incident.integration_id
            ))
        })?;
    let mut outcomes = Vec::new();
    for record in incident.actions.iter().rev() {
        let restorable = matches!(
            record.kind,
            ActionKind::Quarantine | ActionKind::RemoveExternalCollaborators
        );
        let (true, ActionStatus::Succeeded, Some(undo)) =
            (restorable, record.status, record.undo.as_ref())
        else {
            continue;
        };
        let action = incident.response_action(record);
        let (connector, integration, action_ref) = (connector.as_ref(), &integration, &action);
        let restored = core
            .tokens
            .with_token(connector, integration, |token| async move {
                connector
                    .restore(integration, &token, action_ref, undo)
                    .await
            })
            .await;
        let restored = match restored {
            Err(ConnectorError::Unsupported(reason)) => ActionOutcome::Unsupported { reason },
            other => other?,
        };
        let outcome = match restored {
            ActionOutcome::Succeeded { detail, .. } => {
                let now = core.backend.clock.now();
                update_action(core, tenant_id, incident_id, &record.action_id, |r| {
                    if r.status != ActionStatus::Succeeded {
                        return false;
                    }
                    r.status = ActionStatus::Restored;
                    r.detail = Some(detail.clone());
                    r.updated_at = now;
                    true
                })
                .await?;
                RestoreOutcome {
                    kind: record.kind,
                    status: ActionStatus::Restored,
                    detail,
                }
            }
            ActionOutcome::Unsupported { reason } => RestoreOutcome {
                kind: record.kind,
                status: record.status,
                detail: reason,
            },
        };
        tracing::info!(incident = %incident_id, kind = ?outcome.kind, detail = %outcome.detail, "action restored");
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
