//! Policies: which activities are violations, how severe, and what to do about them.
//!
//! The built-in collaboration policies below need no content inspection; DLP-based policies
//! (sensitive content combined with collaboration state) build on the same shape.

use crate::content::ContentFindings;
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
    /// A file whose content the DLP engine finds sensitive can be reached by the public (link)
    /// or by someone outside the organization (collaborator).
    SensitiveFileExposed,
}

impl Condition {
    /// Whether evaluating the condition needs the file's content.
    pub fn needs_content(self) -> bool {
        matches!(self, Condition::SensitiveFileExposed)
    }

    /// What the incident is about: the same subject seen through either ingest path (or in a
    /// later event) is the same incident.
    pub fn subject(self, activity: &Activity) -> String {
        let object = activity.object_id.as_deref().unwrap_or("");
        let detail = match self {
            Condition::FileSharedPublicly => activity.shared_link.clone(),
            Condition::SharedWithExternalUser => activity.target_user_email.clone(),
            Condition::SensitiveFileExposed => activity
                .enrichments
                .exposure
                .as_ref()
                .and_then(|e| e.content_sha1.clone()),
        };
        match (object, detail) {
            ("", _) | (_, None) => format!("activity#{}", activity.id()),
            (object, Some(detail)) => format!("{object}#{detail}"),
        }
    }

    /// The matches the condition finds in the activity (and its content, when scanned); empty
    /// when it does not hold.
    pub fn matches(
        self,
        activity: &Activity,
        content: Option<&ContentFindings>,
    ) -> Vec<MatchSummary> {
        if self == Condition::SensitiveFileExposed {
            let exposed = activity
                .enrichments
                .exposure
                .as_ref()
                .is_some_and(|e| e.is_exposed());
            return match content {
                Some(findings) if exposed && activity.is_about_file() => findings.matches.clone(),
                _ => Vec::new(),
            };
        }
        let (holds, rule) = match self {
            Condition::FileSharedPublicly => (
                activity.is_about_file()
                    && activity.link_visibility == Some(LinkVisibility::Public),
                "public_link",
            ),
            Condition::SharedWithExternalUser => (
                activity.event_type == EventType::DataSharing
                    && activity.target_user_type == Some(UserType::External),
                "external_collaborator",
            ),
            Condition::SensitiveFileExposed => (false, "sensitive_content"),
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
            id: "builtin.sensitive-file-exposed".into(),
            name: "Sensitive file shared publicly or externally".into(),
            severity: Severity::High,
            condition: Condition::SensitiveFileExposed,
            actions: vec![
                ActionKind::Quarantine,
                ActionKind::RemoveSharedLink,
                ActionKind::RemoveExternalCollaborators,
                ActionKind::Notify,
            ],
        },
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
pub fn evaluate<'a>(
    policies: &'a [Policy],
    activity: &Activity,
    content: Option<&ContentFindings>,
) -> Vec<PolicyHit<'a>> {
    policies
        .iter()
        .filter_map(|policy| {
            let matches = policy.condition.matches(activity, content);
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
        let hits = evaluate(&policies, &fixtures::public_share("e-1"), None);
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
        assert!(evaluate(&policies, &org_link, None).is_empty());

        let mut folder = fixtures::public_share("e-2");
        folder.object_type = Some("folder".into());
        assert!(evaluate(&policies, &folder, None).is_empty());
    }

    #[test]
    fn sharing_with_an_external_user_is_flagged_but_internal_is_not() {
        let policies = builtin_policies();
        let mut invite = fixtures::public_share("e-1");
        invite.link_visibility = None;
        invite.target_user_type = Some(UserType::External);
        let hits = evaluate(&policies, &invite, None);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].policy.id, "builtin.external-collaborator");

        invite.target_user_type = Some(UserType::Internal);
        assert!(evaluate(&policies, &invite, None).is_empty());
    }

    fn card_findings() -> ContentFindings {
        ContentFindings {
            matches: vec![MatchSummary {
                rule: "credit_card".into(),
                count: 3,
            }],
            skipped: None,
        }
    }

    #[test]
    fn sensitive_content_is_an_incident_only_when_the_file_is_exposed() {
        let policies = builtin_policies();
        let mut shared = fixtures::public_share("e-1");
        shared.enrichments.exposure = Some(crate::domain::Exposure {
            public_link: true,
            external_collaborators: vec![],
            content_sha1: Some("abc".into()),
        });
        let ids = |hits: Vec<PolicyHit>| {
            hits.into_iter()
                .map(|h| h.policy.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(evaluate(&policies, &shared, Some(&card_findings()))),
            ["builtin.sensitive-file-exposed", "builtin.public-file-link"]
        );
        // Clean content: only the collaboration policy.
        assert_eq!(
            ids(evaluate(
                &policies,
                &shared,
                Some(&ContentFindings::default())
            )),
            ["builtin.public-file-link"]
        );

        let mut private = shared.clone();
        private.link_visibility = None;
        private.enrichments.exposure = Some(crate::domain::Exposure::default());
        assert!(evaluate(&policies, &private, Some(&card_findings())).is_empty());
    }

    #[test]
    fn the_same_exposure_seen_twice_is_the_same_subject() {
        let pulled = fixtures::public_share("event-from-stream");
        let mut pushed = fixtures::public_share("webhook-delivery-id");
        pushed.ingest_path = crate::domain::IngestPath::Push;
        assert_ne!(pulled.id(), pushed.id());
        let condition = Condition::FileSharedPublicly;
        assert_eq!(condition.subject(&pulled), condition.subject(&pushed));
        let mut relinked = pulled.clone();
        relinked.shared_link = Some("https://app.box.com/s/new".into());
        assert_ne!(condition.subject(&pulled), condition.subject(&relinked));
    }
}
