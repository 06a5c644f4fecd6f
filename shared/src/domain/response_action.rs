//! Response actions: what the remediator does about an incident.

use serde::{Deserialize, Serialize};

use super::Provider;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Suspend the user's account (the object is a user): no sign-in until reactivated.
    SuspendUser,
    /// End the user's sessions and revoke their tokens (the object is a user).
    SignOutUser,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Notify => "notify",
            ActionKind::Quarantine => "quarantine",
            ActionKind::Delete => "delete",
            ActionKind::RemoveSharedLink => "remove_shared_link",
            ActionKind::RemoveExternalCollaborators => "remove_external_collaborators",
            ActionKind::SuspendUser => "suspend_user",
            ActionKind::SignOutUser => "sign_out_user",
        }
    }

    /// Whether the action is on an account rather than a file.
    pub fn on_user(self) -> bool {
        matches!(self, ActionKind::SuspendUser | ActionKind::SignOutUser)
    }
}

/// Which collaborations `remove_external_collaborators` removes.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CollaboratorScope {
    /// Only collaborations on the file itself.
    #[default]
    File,
    /// Also those on the folders above it (the partner loses those whole folders).
    Ancestors,
}

/// A response action addressed to the remediator. Carries ids and references only, never file
/// content or secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// For [`ActionKind::Notify`]: the notification channel the policy names (see
    /// [`crate::notify`]); `None` is the security team's default channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// For [`ActionKind::RemoveExternalCollaborators`]: where to remove them; `None` is the
    /// file only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<CollaboratorScope>,
}

impl ResponseAction {
    /// `{incident_id}#{kind}`, or `{incident_id}#notify#{channel}` for a named channel: one
    /// action per channel, so a failed Slack post is retried without e-mailing twice.
    pub fn id_for(incident_id: &str, kind: ActionKind, channel: Option<&str>) -> String {
        match channel {
            Some(channel) => format!("{incident_id}#{}#{channel}", kind.as_str()),
            None => format!("{incident_id}#{}", kind.as_str()),
        }
    }
}
