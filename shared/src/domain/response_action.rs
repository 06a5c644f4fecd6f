//! Response actions: what the remediator does about an incident.

use serde::{Deserialize, Serialize};

use super::Provider;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Email the security team (always possible: it needs no provider API).
    Notify,
    /// Move the file to an admin-only folder, remembering where it was so it can be restored.
    Quarantine,
    /// Delete the file (to the provider's trash where it has one).
    Delete,
    RemoveSharedLink,
    RemoveExternalCollaborators,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Notify => "notify",
            ActionKind::Quarantine => "quarantine",
            ActionKind::Delete => "delete",
            ActionKind::RemoveSharedLink => "remove_shared_link",
            ActionKind::RemoveExternalCollaborators => "remove_external_collaborators",
        }
    }
}

/// A response action addressed to the remediator. Carries ids and references only, never file
/// content or secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseAction {
    /// `{incident_id}#{kind}`: stable, so a redelivered or re-enqueued action is recognised.
    pub id: String,
    pub incident_id: String,
    pub tenant_id: String,
    pub integration_id: String,
    pub provider: Provider,
    pub kind: ActionKind,
    pub object_id: Option<String>,
    pub object_type: Option<String>,
}

impl ResponseAction {
    pub fn id_for(incident_id: &str, kind: ActionKind) -> String {
        format!("{incident_id}#{}", kind.as_str())
    }
}
