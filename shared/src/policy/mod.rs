//! Policies: which activities are violations, how severe, and what to do about them.
//!
//! A policy is data that a tenant's security administrator writes (YAML or JSON, see
//! [`load`] and the README's "Policies" section): what it covers, the conditions that must all
//! hold, and the actions to take in order. The product's own defaults are a policy set in the
//! same format ([`default_set`]), used by a tenant until it applies its own.
//!
//! Conditions are clauses that must all hold; a list inside a clause is any-of. Content
//! conditions are judged on the file version's stored classification, so the inspector only
//! needs the content when every other clause of a content policy already holds.

mod active;
mod conditions;
mod load;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use active::{
    apply, dry_run, provider_content_key, stored_classification, ApplyError, PolicyCache,
    PolicyLoadError, WouldFire,
};
pub use conditions::*;
pub use load::{default_set, parse, PolicyError, DEFAULT_POLICIES_YAML};

use crate::content::ContentFindings;
pub use crate::domain::CollaboratorScope;
use crate::domain::{ActionKind, Activity, Classification, MatchSummary, Provider, Severity};

/// Whether a policy acts or only records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Record the incident and carry out the actions.
    #[default]
    Enforce,
    /// Record the incident and list the actions it would take, taking none: for trying a new
    /// policy on live traffic.
    Monitor,
}

/// One step of a policy's response, in the order written. Written as a name (`quarantine`) or
/// a one-key map with options (`notify: soc-slack`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyAction {
    /// Record an incident (every policy that fires does; listing it is allowed for clarity).
    Incident,
    Quarantine,
    Delete,
    RemoveSharedLink,
    RemoveExternalCollaborators {
        scope: CollaboratorScope,
    },
    /// Send the incident to a notification channel (`security-team`, `owner`, or one defined
    /// in the channels file).
    Notify {
        channel: String,
    },
}

impl PolicyAction {
    /// The response action the remediator carries out, if any.
    pub fn kind(&self) -> Option<ActionKind> {
        Some(match self {
            PolicyAction::Incident => return None,
            PolicyAction::Quarantine => ActionKind::Quarantine,
            PolicyAction::Delete => ActionKind::Delete,
            PolicyAction::RemoveSharedLink => ActionKind::RemoveSharedLink,
            PolicyAction::RemoveExternalCollaborators { .. } => {
                ActionKind::RemoveExternalCollaborators
            }
            PolicyAction::Notify { .. } => ActionKind::Notify,
        })
    }

    /// The name the policy file uses.
    pub fn name(&self) -> &'static str {
        match self {
            PolicyAction::Incident => "incident",
            PolicyAction::Quarantine => "quarantine",
            PolicyAction::Delete => "delete",
            PolicyAction::RemoveSharedLink => "remove_shared_link",
            PolicyAction::RemoveExternalCollaborators { .. } => "remove_external_collaborators",
            PolicyAction::Notify { .. } => "notify",
        }
    }

    /// Where `remove_external_collaborators` acts.
    pub fn scope(&self) -> Option<CollaboratorScope> {
        match self {
            PolicyAction::RemoveExternalCollaborators { scope } => Some(*scope),
            _ => None,
        }
    }

    pub fn channel(&self) -> Option<&str> {
        match self {
            PolicyAction::Notify { channel } => Some(channel),
            _ => None,
        }
    }
}

impl Serialize for PolicyAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            PolicyAction::Notify { channel } => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("notify", channel)?;
                map.end()
            }
            PolicyAction::RemoveExternalCollaborators { scope } => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(self.name(), &BTreeMap::from([("scope", scope)]))?;
                map.end()
            }
            other => serializer.serialize_str(other.name()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Stable: incident ids derive from it.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub severity: Severity,
    #[serde(default)]
    pub mode: Mode,
    /// Providers covered; empty: all.
    #[serde(default)]
    pub providers: Vec<Provider>,
    /// Integration ids covered; empty: all of the tenant's.
    #[serde(default)]
    pub integrations: Vec<String>,
    #[serde(default)]
    pub when: Conditions,
    #[serde(default)]
    pub actions: Vec<PolicyAction>,
}

fn enabled_by_default() -> bool {
    true
}

/// A tenant's policies and the named lists they refer to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySet {
    /// Named lists of e-mail addresses and domains (`blocked-partners: [rival.example]`) that
    /// actor and target conditions refer to.
    #[serde(default)]
    pub lists: BTreeMap<String, Vec<String>>,
    pub policies: Vec<Policy>,
}

/// A policy set as a tenant runs it: the set and the version it was applied as (0: the
/// product's default set, never applied by anyone).
#[derive(Debug, Clone)]
pub struct ActivePolicies {
    pub version: u64,
    pub set: PolicySet,
}

/// A policy that an activity violates, and what matched.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyHit<'a> {
    pub policy: &'a Policy,
    pub matches: Vec<MatchSummary>,
    /// What the incident is about: the same subject seen again is the same incident.
    pub subject: String,
}

impl Policy {
    /// Whether the policy covers this activity's provider and integration.
    pub fn covers(&self, activity: &Activity) -> bool {
        self.enabled
            && (self.providers.is_empty() || self.providers.contains(&activity.provider))
            && (self.integrations.is_empty()
                || self.integrations.contains(&activity.integration_id))
    }

    /// Whether judging the policy needs the file's classification.
    pub fn needs_content(&self) -> bool {
        self.when.needs_content()
    }

    /// What the incident is about: the object, with the part of it the policy looks at (the
    /// content version, the link, the invited person). An activity with no object is its own
    /// subject. The parts are written as the policies compiled into earlier versions wrote
    /// them, so upgrading keeps every open incident's id.
    pub fn subject(&self, activity: &Activity, content_key: Option<&str>) -> String {
        let own = || format!("activity#{}", activity.id());
        let Some(object) = activity.object_id.as_deref().filter(|o| !o.is_empty()) else {
            return own();
        };
        let when = &self.when;
        let mut parts = vec![object];
        for (used, part) in [
            (
                when.needs_content(),
                content_key.map(|key| key.split_once(':').map_or(key, |(_, digest)| digest)),
            ),
            (!when.link.is_empty(), activity.shared_link.as_deref()),
            (when.target.is_some(), activity.target_user_email.as_deref()),
        ] {
            match (used, part) {
                (false, _) => {}
                (true, Some(part)) => parts.push(part),
                (true, None) => return own(),
            }
        }
        parts.join("#")
    }
}

impl PolicySet {
    /// `(policy id, channel)` for every notify action naming a channel not in `known` (nor
    /// `owner`, always there): such an action would be recorded as unsupported. A warning, not
    /// an error: the channels of the process that checks may not be the remediator's.
    pub fn unknown_channels(&self, known: &[&str]) -> Vec<(String, String)> {
        self.policies
            .iter()
            .flat_map(|p| {
                p.actions
                    .iter()
                    .filter_map(|a| a.channel())
                    .filter(|c| *c != "owner" && !known.contains(c))
                    .map(|c| (p.id.clone(), c.to_string()))
            })
            .collect()
    }

    /// Whether any enabled policy covering the activity would need its file's content, once
    /// the conditions that need no content hold.
    pub fn wants_content(&self, activity: &Activity) -> bool {
        self.policies.iter().any(|p| {
            p.covers(activity)
                && p.needs_content()
                && p.when
                    .holds_without_content(activity, &self.lists)
                    .is_some()
        })
    }

    /// Every anomaly policy the anomaly (with the activity that opened or extended it) meets.
    /// The incident is about the anomaly: its further activities are the same incident.
    pub fn evaluate_anomaly(
        &self,
        anomaly: &crate::domain::Anomaly,
        activity: &Activity,
    ) -> Vec<PolicyHit<'_>> {
        self.policies
            .iter()
            .filter(|p| p.covers(activity) && !p.needs_content())
            .filter_map(|policy| {
                Some(PolicyHit {
                    policy,
                    matches: policy
                        .when
                        .holds_on_anomaly(anomaly, activity, &self.lists)?,
                    subject: format!("anomaly#{}", anomaly.id),
                })
            })
            .collect()
    }

    /// Every policy the activity violates. `content` is the classification of the file's
    /// current version, when it has one; content conditions do not hold without it.
    pub fn evaluate(
        &self,
        activity: &Activity,
        content: Option<&Classification>,
    ) -> Vec<PolicyHit<'_>> {
        self.evaluate_with(activity, content, &[])
    }

    /// [`PolicySet::evaluate`], with the tenant's block-list entries the activity and its file
    /// match (`blocked` conditions hold only on these).
    pub fn evaluate_with(
        &self,
        activity: &Activity,
        content: Option<&Classification>,
        blocked: &[crate::domain::BlockEntryMatch],
    ) -> Vec<PolicyHit<'_>> {
        self.policies
            .iter()
            .filter(|p| p.covers(activity))
            .filter_map(|policy| {
                let mut matches = policy.when.holds_without_content(activity, &self.lists)?;
                if policy.needs_content() {
                    matches.extend(policy.when.holds_on_content(content)?);
                }
                matches.extend(policy.when.holds_on_blocked(blocked)?);
                // One summary per rule: a public link can be both what the event set and
                // what the file has now.
                let mut seen = std::collections::HashSet::new();
                matches.retain(|m| seen.insert(m.rule.clone()));
                Some(PolicyHit {
                    policy,
                    subject: policy.subject(activity, content.map(|c| c.content_key.as_str())),
                    matches,
                })
            })
            .collect()
    }

    /// The block lists any enabled policy judges, for the inspector to read.
    pub fn block_lists(&self) -> Vec<crate::domain::BlockList> {
        let mut lists: Vec<_> = self
            .policies
            .iter()
            .filter(|p| p.enabled)
            .flat_map(|p| p.when.blocked.iter().copied())
            .collect();
        lists.sort_by_key(|l| l.as_str());
        lists.dedup();
        lists
    }
}

/// The classification a scan produces for `content_key`.
pub fn classification_of(
    tenant_id: &str,
    content_key: &str,
    findings: ContentFindings,
    size: Option<u64>,
    now: chrono::DateTime<chrono::Utc>,
) -> Classification {
    Classification {
        tenant_id: tenant_id.to_string(),
        content_key: content_key.to_string(),
        detectors: findings.detectors,
        coverage: findings.coverage,
        detected_type: findings.detected_type,
        size,
        sha256: None,
        urls: findings.urls,
        inspected_at: now,
    }
}

#[cfg(test)]
mod tests;
