//! A policy violation, what was done about it, and where it stands.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ActionKind, CollaboratorScope, Provider};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Open,
    InProgress,
    Resolved,
    FalsePositive,
}

/// The object an incident is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IncidentObject {
    pub provider: Provider,
    pub object_id: Option<String>,
    pub object_type: Option<String>,
    pub object_name: Option<String>,
    pub object_path: Option<String>,
}

/// What matched, summarised: never the matched values themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MatchSummary {
    /// A detector id (e.g. `credit_card`) or a collaboration condition (e.g. `public_link`).
    pub rule: String,
    pub count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Queued for the remediator, not yet carried out.
    Pending,
    Succeeded,
    /// Tried and failed; the message is retried and, failing again, dead-lettered.
    Failed,
    /// Not carried out: the policy runs in monitor mode. Kept so the incident shows what
    /// enforcing the policy would have done.
    Skipped,
    /// Carried out, then undone by `casb act restore` (the file moved back, the removed
    /// collaborations added again).
    Restored,
    /// The provider has no API for this action, or no connector is configured.
    Unsupported,
}

impl ActionStatus {
    /// Whether the remediator is done with this action (a redelivery must not redo it).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ActionStatus::Succeeded
                | ActionStatus::Unsupported
                | ActionStatus::Skipped
                | ActionStatus::Restored
        )
    }
}

/// One response action on an incident and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionRecord {
    pub action_id: String,
    pub kind: ActionKind,
    /// The notification channel of a [`ActionKind::Notify`] action, when the policy names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Where a `remove_external_collaborators` action acts, as the policy said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<CollaboratorScope>,
    pub status: ActionStatus,
    /// What happened, in words an analyst can act on.
    pub detail: Option<String>,
    /// What the provider needs to undo the action (the folder a file was moved from, the
    /// collaborations removed with their roles), as its connector recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<serde_json::Value>,
    pub attempts: u32,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Incident {
    pub id: String,
    pub tenant_id: String,
    pub integration_id: String,
    pub policy_id: String,
    pub policy_name: String,
    /// The version of the tenant's policy set that fired: 0 for the default set, else the
    /// version `casb policy apply` stored.
    #[serde(default)]
    pub policy_version: u64,
    /// Recorded by a policy in monitor mode: its actions were listed, not carried out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub monitor_only: bool,
    pub severity: Severity,
    pub object: IncidentObject,
    /// The activity that triggered it.
    pub activity_id: String,
    /// Every activity that raised it since, oldest first: a redelivered activity is already
    /// here, a new exposure is not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activity_ids: Vec<String>,
    /// How often the incident was raised again after its remediation was complete (the
    /// partner invited again, the restored file shared again); each time its actions run again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reopened: u32,
    pub actor_email: Option<String>,
    /// The owner of the object, when the provider names one: who the `owner` notification
    /// channel writes to (the actor when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    pub matches: Vec<MatchSummary>,
    pub status: IncidentStatus,
    pub actions: Vec<ActionRecord>,
    /// Every status change an analyst made, oldest first, with who made it and why: the audit
    /// trail of the incident's handling.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<StatusChange>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version; the store bumps it on every write.
    pub version: u64,
}

/// One status change, as the API recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusChange {
    pub from: IncidentStatus,
    pub to: IncidentStatus,
    pub comment: String,
    /// The API credential (or IAM principal) that made the change.
    pub by: String,
    pub at: DateTime<Utc>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Incident {
    /// Whether everything the policy asked of the provider was done: a new exposure after
    /// this is new work, not a redelivery of the old.
    pub fn remediated(&self) -> bool {
        let provider_actions: Vec<&ActionRecord> = self
            .actions
            .iter()
            .filter(|a| a.kind != ActionKind::Notify)
            .collect();
        self.status == IncidentStatus::Resolved
            || (!self.monitor_only
                && !provider_actions.is_empty()
                && provider_actions
                    .iter()
                    .all(|a| a.status == ActionStatus::Succeeded))
    }

    /// The remediator's message for one of this incident's actions.
    pub fn response_action(&self, record: &ActionRecord) -> super::ResponseAction {
        super::ResponseAction {
            id: record.action_id.clone(),
            incident_id: self.id.clone(),
            tenant_id: self.tenant_id.clone(),
            integration_id: self.integration_id.clone(),
            provider: self.object.provider,
            kind: record.kind,
            object_id: self.object.object_id.clone(),
            object_type: self.object.object_type.clone(),
            channel: record.channel.clone(),
            scope: record.scope,
        }
    }

    /// When the last action was recorded.
    pub fn last_action_at(&self) -> Option<DateTime<Utc>> {
        self.actions.iter().map(|a| a.updated_at).max()
    }

    pub fn action(&self, action_id: &str) -> Option<&ActionRecord> {
        self.actions.iter().find(|a| a.action_id == action_id)
    }

    pub fn action_mut(&mut self, action_id: &str) -> Option<&mut ActionRecord> {
        self.actions.iter_mut().find(|a| a.action_id == action_id)
    }
}

/// One incident per (policy, integration, subject), where the subject is what the violation is
/// about (a file and its link, a file and its content): redelivering an activity, or seeing the
/// same exposure through the other ingest path, finds the same incident.
pub fn incident_id(policy_id: &str, integration_id: &str, subject: &str) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in [policy_id, integration_id, subject].iter().enumerate() {
        if i > 0 {
            hasher.update([0]);
        }
        hasher.update(part.as_bytes());
    }
    format!("inc-{}", hex::encode(&hasher.finalize()[..12]))
}
