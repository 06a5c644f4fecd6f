//! Mitigation: act on files and accounts now, through the provider's API. Each target becomes
//! an incident of the `api.mitigation` policy whose actions the remediator carries out like any
//! policy's (leased, retried, recorded, exported); the batch id reads their outcome.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::{bad_request, not_found, store_error, ApiState, JsonBody};
use crate::domain::{
    ActionKind, ActionRecord, ActionStatus, Incident, IncidentObject, IncidentStatus, MatchSummary,
    ResponseAction, Severity, StatusChange,
};
use crate::http::ApiError;

/// The policy id and name mitigation incidents carry.
pub const MITIGATION_POLICY: &str = "api.mitigation";
/// Targets one request may name.
const MAX_TARGETS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetType {
    File,
    User,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MitigationTarget {
    #[serde(rename = "type")]
    pub kind: TargetType,
    /// The provider's id of the file or user.
    pub id: String,
    /// A name for people reading the incident.
    pub name: Option<String>,
    /// For a file: quarantine, delete, remove_shared_link, remove_external_collaborators. For
    /// a user: suspend_user, sign_out_user.
    pub actions: Vec<ActionKind>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MitigationRequest {
    /// The integration (provider tenant) the targets live in.
    pub integration_id: String,
    /// Why: kept with each incident (1 to 2000 characters).
    pub comment: String,
    /// 1 to 100 files or users.
    pub targets: Vec<MitigationTarget>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MitigationBatch {
    /// Read the outcome at `/api/v1/mitigations/{batch_id}`.
    pub batch_id: String,
    /// `done` once every action has a final outcome.
    pub done: bool,
    pub targets: Vec<Incident>,
}

fn batch_id(count: usize) -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    format!("mit-{}-{count}", hex::encode(bytes))
}

/// The incident ids of a batch: its id says how many targets it has.
fn incident_ids(batch_id: &str) -> Option<Vec<String>> {
    let rest = batch_id.strip_prefix("mit-")?;
    let (random, count) = rest.split_once('-')?;
    let count: usize = count.parse().ok()?;
    let well_formed = random.len() == 16
        && random.bytes().all(|b| b.is_ascii_hexdigit())
        && (1..=MAX_TARGETS).contains(&count);
    well_formed.then(|| (0..count).map(|i| format!("{batch_id}.{i}")).collect())
}

/// Act on files or accounts now. The actions are queued to the remediator; the answer is the
/// batch, with each target's incident and its actions pending.
#[utoipa::path(post, path = "/api/v1/mitigations", tag = "mitigation",
    request_body = MitigationRequest,
    responses(
        (status = 202, description = "Queued; poll the batch for the outcome", body = MitigationBatch),
        (status = 400, description = "An action that does not fit its target, or a malformed request", body = ApiError),
        (status = 404, description = "No such integration in your tenant", body = ApiError),
    ))]
pub(super) async fn mitigate(
    State(state): State<ApiState>,
    caller: Caller,
    JsonBody(request): JsonBody<MitigationRequest>,
) -> Result<(StatusCode, Json<MitigationBatch>), ApiError> {
    let core = &state.core;
    let comment = request.comment.trim();
    if comment.is_empty() || comment.chars().count() > 2000 {
        return Err(bad_request(
            "comment must be 1 to 2000 characters: say why these are mitigated",
        ));
    }
    if request.targets.is_empty() || request.targets.len() > MAX_TARGETS {
        return Err(bad_request(format!("name 1 to {MAX_TARGETS} targets")));
    }
    for (i, target) in request.targets.iter().enumerate() {
        if target.id.trim().is_empty() || target.id.len() > 256 {
            return Err(bad_request(format!(
                "targets[{i}].id must be 1 to 256 characters"
            )));
        }
        if target.actions.is_empty() {
            return Err(bad_request(format!("targets[{i}] names no action")));
        }
        for action in &target.actions {
            let fits = match target.kind {
                TargetType::File => !action.on_user() && *action != ActionKind::Notify,
                TargetType::User => action.on_user(),
            };
            if !fits {
                return Err(bad_request(format!(
                    "targets[{i}]: {} does not act on a {}",
                    action.as_str(),
                    if target.kind == TargetType::File {
                        "file"
                    } else {
                        "user"
                    }
                )));
            }
        }
    }
    let integration = core
        .backend
        .integrations
        .get_integration(&caller.tenant_id, &request.integration_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("integration", &request.integration_id))?;
    let now = core.backend.clock.now();
    let batch = batch_id(request.targets.len());
    let mut incidents = Vec::new();
    let mut messages = Vec::new();
    for (i, target) in request.targets.iter().enumerate() {
        let id = format!("{batch}.{i}");
        let mut kinds = target.actions.clone();
        kinds.dedup();
        let incident = Incident {
            id: id.clone(),
            tenant_id: caller.tenant_id.clone(),
            integration_id: integration.id.clone(),
            policy_id: MITIGATION_POLICY.into(),
            policy_name: "Mitigation requested through the API".into(),
            policy_version: 0,
            monitor_only: false,
            severity: Severity::High,
            object: IncidentObject {
                provider: integration.provider,
                object_id: Some(target.id.trim().to_string()),
                object_type: Some(
                    if target.kind == TargetType::File {
                        "file"
                    } else {
                        "user"
                    }
                    .into(),
                ),
                object_name: target.name.clone(),
                object_path: None,
            },
            activity_id: batch.clone(),
            activity_ids: Vec::new(),
            reopened: 0,
            actor_email: None,
            owner_email: None,
            matches: vec![MatchSummary {
                rule: "api_mitigation".into(),
                count: 1,
            }],
            status: IncidentStatus::InProgress,
            actions: kinds
                .iter()
                .map(|&kind| ActionRecord {
                    action_id: ResponseAction::id_for(&id, kind, None),
                    kind,
                    channel: None,
                    scope: None,
                    status: ActionStatus::Pending,
                    detail: None,
                    undo: None,
                    attempts: 0,
                    updated_at: now,
                })
                .collect(),
            history: vec![StatusChange {
                from: IncidentStatus::Open,
                to: IncidentStatus::InProgress,
                comment: comment.to_string(),
                by: caller.credential_id.clone(),
                at: now,
            }],
            created_at: now,
            updated_at: now,
            version: 0,
        };
        core.backend
            .incidents
            .create_incident(&incident)
            .await
            .map_err(store_error)?;
        crate::pipeline::exporter::record_incident(core, &incident)
            .await
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        messages.extend(crate::pipeline::inspector::pending_action_messages(
            &incident, now,
        ));
        incidents.push(incident);
    }
    core.backend
        .action_queue
        .send_batch(messages)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the actions could not be queued ({e}); the batch {batch} records them as pending: retry the request"),
            )
        })?;
    tracing::info!(batch = %batch, tenant = %caller.tenant_id, targets = incidents.len(), by = %caller.credential_id, "mitigation queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(MitigationBatch {
            batch_id: batch,
            done: false,
            targets: incidents,
        }),
    ))
}

/// A mitigation batch: each target's incident with its actions' outcomes.
#[utoipa::path(get, path = "/api/v1/mitigations/{batch_id}", tag = "mitigation",
    params(("batch_id" = String, Path, description = "The batch id the request returned")),
    responses(
        (status = 200, description = "The batch", body = MitigationBatch),
        (status = 404, description = "No such batch in your tenant", body = ApiError),
    ))]
pub(super) async fn get_batch(
    State(state): State<ApiState>,
    caller: Caller,
    Path(batch_id): Path<String>,
) -> Result<Json<MitigationBatch>, ApiError> {
    let ids = incident_ids(&batch_id).ok_or_else(|| not_found("mitigation batch", &batch_id))?;
    let mut targets = Vec::new();
    for id in ids {
        match state
            .core
            .backend
            .incidents
            .get_incident(&caller.tenant_id, &id)
            .await
            .map_err(store_error)?
        {
            Some(incident) => targets.push(incident),
            None => return Err(not_found("mitigation batch", &batch_id)),
        }
    }
    let done = targets
        .iter()
        .all(|i| i.actions.iter().all(|a| a.status.is_final()));
    Ok(Json(MitigationBatch {
        batch_id,
        done,
        targets,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_id_names_its_incidents_and_a_forged_one_names_none() {
        let id = batch_id(3);
        assert_eq!(
            incident_ids(&id).unwrap(),
            vec![format!("{id}.0"), format!("{id}.1"), format!("{id}.2")]
        );
        assert_eq!(incident_ids("mit-0123456789abcdef-0"), None);
        assert_eq!(incident_ids("mit-0123456789abcdef-101"), None);
        assert_eq!(incident_ids("mit-xyz-1"), None);
        assert_eq!(incident_ids("inc-1"), None);
    }
}
