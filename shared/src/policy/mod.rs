//! Policies: which activities are violations, how severe, and what to do about them.
//!
//! The built-in collaboration policies below need no content inspection; DLP-based policies
//! (sensitive content combined with collaboration state) build on the same shape.

use crate::domain::{
    ActionKind, Activity, EventType, LinkVisibility, MatchSummary, Severity, UserType,
};

/// A condition on an activity's collaboration state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// A file got (or has) a link that anyone can open without signing in.
    FileSharedPublicly,
    /// A file or folder was shared with someone outside the organization.
    SharedWithExternalUser,
}

impl Condition {
    /// The matches the condition finds in the activity; empty when it does not hold.
    pub fn matches(self, activity: &Activity) -> Vec<MatchSummary> {
        let holds = match self {
            Condition::FileSharedPublicly => {
                activity.is_about_file() && activity.link_visibility == Some(LinkVisibility::Public)
            }
            Condition::SharedWithExternalUser => {
                activity.event_type == EventType::DataSharing
                    && activity.target_user_type == Some(UserType::External)
            }
        };
        let rule = match self {
            Condition::FileSharedPublicly => "public_link",
            Condition::SharedWithExternalUser => "external_collaborator",
        };
        if holds {
            vec![MatchSummary {
                rule: rule.into(),
                count: 1,
            }]
        } else {
            Vec::new()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Stable: incident ids derive from it.
    pub id: String,
    pub name: String,
    pub severity: Severity,
    pub condition: Condition,
    /// In the order the remediator should carry them out.
    pub actions: Vec<ActionKind>,
}

/// A policy that an activity violates, and what matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyHit<'a> {
    pub policy: &'a Policy,
    pub matches: Vec<MatchSummary>,
}

/// The policies every deployment starts with.
pub fn builtin_policies() -> Vec<Policy> {
    vec![
        Policy {
            id: "builtin.public-file-link".into(),
            name: "File shared by public link".into(),
            severity: Severity::Medium,
            condition: Condition::FileSharedPublicly,
            actions: vec![ActionKind::RemoveSharedLink, ActionKind::Notify],
        },
        Policy {
            id: "builtin.external-collaborator".into(),
            name: "Shared with an external collaborator".into(),
            severity: Severity::Low,
            condition: Condition::SharedWithExternalUser,
            actions: vec![ActionKind::Notify],
        },
    ]
}

/// Every policy the activity violates.
pub fn evaluate<'a>(policies: &'a [Policy], activity: &Activity) -> Vec<PolicyHit<'a>> {
    policies
        .iter()
        .filter_map(|policy| {
            let matches = policy.condition.matches(activity);
            (!matches.is_empty()).then_some(PolicyHit { policy, matches })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures;

    #[test]
    fn a_public_link_on_a_file_violates_the_public_link_policy_only() {
        let policies = builtin_policies();
        let hits = evaluate(&policies, &fixtures::public_share("e-1"));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].policy.id, "builtin.public-file-link");
        assert_eq!(
            hits[0].matches,
            vec![MatchSummary {
                rule: "public_link".into(),
                count: 1
            }]
        );
    }

    #[test]
    fn organization_links_and_folders_are_not_public_file_links() {
        let policies = builtin_policies();
        let mut org_link = fixtures::public_share("e-1");
        org_link.link_visibility = Some(LinkVisibility::Organization);
        assert!(evaluate(&policies, &org_link).is_empty());

        let mut folder = fixtures::public_share("e-2");
        folder.object_type = Some("folder".into());
        assert!(evaluate(&policies, &folder).is_empty());
    }

    #[test]
    fn sharing_with_an_external_user_is_flagged_but_internal_is_not() {
        let policies = builtin_policies();
        let mut invite = fixtures::public_share("e-1");
        invite.link_visibility = None;
        invite.target_user_type = Some(UserType::External);
        let hits = evaluate(&policies, &invite);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].policy.id, "builtin.external-collaborator");

        invite.target_user_type = Some(UserType::Internal);
        assert!(evaluate(&policies, &invite).is_empty());
    }
}
