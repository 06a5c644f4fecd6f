//! The clauses of a policy's `when`, and how each is judged on an activity.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dlp::{Category, Confidence};
use crate::domain::{
    Activity, Anomaly, AnomalyCategory, Classification, DetectorKind, EventType, LinkVisibility,
    MatchSummary, Severity, UserType,
};

/// Every clause present must hold; absent clauses hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_types: Vec<EventType>,
    /// The provider's own event names (`COLLAB_INVITE`), for what the event types lump together.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<PersonCondition>,
    /// The person the activity was aimed at (the invited collaborator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<PersonCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectCondition>,
    /// The visibility of the link this event set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link: Vec<LinkVisibility>,
    /// Who can reach the object now, whatever the event was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure: Option<ExposureCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentCondition>,
    /// An anomaly the threat detectors found. A policy with this clause is judged only when an
    /// activity opens or extends an anomaly, never on the activity alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<AnomalyCondition>,
    /// The activity or its file is on one of these of the tenant's block lists, as the REST API
    /// keeps them: `sha1`, `sha256` (the file's hash), `urls` (a URL in its text), `senders`
    /// (the mail's sender).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<crate::domain::BlockList>,
}

/// Which anomalies a policy acts on: every list present must match (a list is any-of).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyCondition {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detectors: Vec<DetectorKind>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<AnomalyCategory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
}

impl AnomalyCondition {
    pub fn holds(&self, anomaly: &Anomaly) -> Option<Vec<MatchSummary>> {
        let holds = (self.detectors.is_empty() || self.detectors.contains(&anomaly.detector))
            && (self.categories.is_empty() || self.categories.contains(&anomaly.category))
            && self.min_severity.is_none_or(|min| anomaly.severity >= min);
        holds.then(|| {
            vec![summary(
                format!("anomaly.{}", anomaly.detector.as_str()),
                anomaly.activity_count.min(u32::MAX as u64) as u32,
            )]
        })
    }
}

/// Who someone is: internal or external, by address or domain, or on a named list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonCondition {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<UserType>,
    /// Any of these domains (subdomains included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    /// On any of these lists (a block list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<String>,
    /// On none of these lists (trusted partners).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_in_lists: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectCondition {
    /// `file` or `folder`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// File name extensions, without the dot, any case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// Formats recognised from the content (`pdf`, `zip`, `text`, ...): judged with the
    /// classification, so a renamed file is still known for what it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detected_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// Path patterns; `*` matches any run of characters (`/Finance/*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureKind {
    PublicLink,
    OrganizationLink,
    ExternalCollaborators,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureCondition {
    pub any_of: Vec<ExposureKind>,
    /// With `external_collaborators`: how many make it count.
    #[serde(default = "one")]
    pub min_external_collaborators: u32,
}

/// Holds when any matcher holds, or (with `uninspected: true`) when the file could not be
/// fully inspected.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentCondition {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<ContentMatcher>,
    #[serde(default)]
    pub uninspected: bool,
}

/// Detectors (by id or category) with enough matches at enough confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentMatcher {
    /// Detector ids (built-in, or custom rules and exact-data sets from the DLP rules file);
    /// empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detectors: Vec<String>,
    /// Empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_detectors: Vec<String>,
    #[serde(default = "medium")]
    pub min_confidence: Confidence,
    /// Matches of one detector needed.
    #[serde(default = "one")]
    pub min_count: u32,
}

fn one() -> u32 {
    1
}

fn medium() -> Confidence {
    Confidence::Medium
}

fn summary(rule: impl Into<String>, count: u32) -> MatchSummary {
    MatchSummary {
        rule: rule.into(),
        count,
    }
}

fn lower_domain(email: &str) -> Option<String> {
    email
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_ascii_lowercase())
}

/// `entry` is an address (`a@b.example`) or a domain, which also covers its subdomains.
pub(crate) fn address_matches(entry: &str, email: &str) -> bool {
    let entry = entry.trim().to_ascii_lowercase();
    if entry.contains('@') {
        return entry == email.to_ascii_lowercase();
    }
    let entry = entry.trim_start_matches('@').trim_start_matches('.');
    lower_domain(email).is_some_and(|domain| {
        domain == entry
            || domain
                .strip_suffix(entry)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

/// `*` matches any run of characters, `?` one; everything else literally.
pub(crate) fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl PersonCondition {
    fn matches(
        &self,
        kind: Option<UserType>,
        email: Option<&str>,
        lists: &BTreeMap<String, Vec<String>>,
        role: &str,
    ) -> Option<Vec<MatchSummary>> {
        let mut matched = Vec::new();
        if let Some(wanted) = self.kind {
            if kind != Some(wanted) {
                return None;
            }
            if role == "target" && wanted == UserType::External {
                matched.push(summary("external_collaborator", 1));
            }
        }
        let on_list = |name: &String| {
            email.is_some_and(|email| {
                lists
                    .get(name)
                    .is_some_and(|entries| entries.iter().any(|e| address_matches(e, email)))
            })
        };
        if !self.domains.is_empty() || !self.emails.is_empty() || !self.lists.is_empty() {
            let email = email?;
            let by_address = self
                .domains
                .iter()
                .chain(&self.emails)
                .any(|entry| address_matches(entry, email));
            let listed: Vec<&String> = self.lists.iter().filter(|l| on_list(l)).collect();
            if !by_address && listed.is_empty() {
                return None;
            }
            matched.extend(listed.into_iter().map(|l| summary(format!("list:{l}"), 1)));
        }
        if self.not_in_lists.iter().any(on_list) {
            return None;
        }
        Some(matched)
    }
}

impl ObjectCondition {
    fn holds(&self, activity: &Activity) -> bool {
        if let Some(kind) = &self.kind {
            if activity.object_type.as_deref() != Some(kind.as_str()) {
                return false;
            }
        }
        if !self.extensions.is_empty() {
            let name = activity.object_name.as_deref().unwrap_or("");
            let extension = name
                .rsplit_once('.')
                .map(|(_, e)| e.to_ascii_lowercase())
                .unwrap_or_default();
            if !self
                .extensions
                .iter()
                .any(|e| e.trim_start_matches('.').eq_ignore_ascii_case(&extension))
            {
                return false;
            }
        }
        if self.min_size.is_some() || self.max_size.is_some() {
            let size = activity.enrichments.exposure.as_ref().and_then(|e| e.size);
            let Some(size) = size else { return false };
            if self.min_size.is_some_and(|min| size < min)
                || self.max_size.is_some_and(|max| size > max)
            {
                return false;
            }
        }
        if !self.paths.is_empty() {
            let Some(path) = activity.object_path.as_deref() else {
                return false;
            };
            if !self.paths.iter().any(|p| glob_matches(p, path)) {
                return false;
            }
        }
        true
    }
}

impl ExposureCondition {
    fn matches(&self, activity: &Activity) -> Option<Vec<MatchSummary>> {
        let exposure = activity.enrichments.exposure.as_ref()?;
        let matched: Vec<MatchSummary> = self
            .any_of
            .iter()
            .filter_map(|kind| match kind {
                ExposureKind::PublicLink => exposure.public_link.then(|| summary("public_link", 1)),
                ExposureKind::OrganizationLink => exposure
                    .organization_link
                    .then(|| summary("organization_link", 1)),
                ExposureKind::ExternalCollaborators => {
                    let n = exposure.external_collaborators.len() as u32;
                    (n > 0 && n >= self.min_external_collaborators)
                        .then(|| summary("external_collaborators", n))
                }
            })
            .collect();
        (!matched.is_empty()).then_some(matched)
    }
}

impl ContentMatcher {
    fn matches(&self, classification: &Classification) -> Vec<MatchSummary> {
        classification
            .detectors
            .iter()
            .filter(|d| self.detectors.is_empty() || self.detectors.contains(&d.detector))
            .filter(|d| self.categories.is_empty() || self.categories.contains(&d.category))
            .filter(|d| !self.exclude_detectors.contains(&d.detector))
            .map(|d| (d, d.at_least(self.min_confidence)))
            .filter(|(_, n)| *n >= self.min_count.max(1))
            .map(|(d, n)| summary(d.detector.clone(), n))
            .collect()
    }
}

impl ContentCondition {
    /// The matches on the classification, or `None` when the clause does not hold.
    pub fn matches(&self, classification: &Classification) -> Option<Vec<MatchSummary>> {
        let mut matched: Vec<MatchSummary> = Vec::new();
        for matcher in &self.any_of {
            for hit in matcher.matches(classification) {
                if !matched.iter().any(|m| m.rule == hit.rule) {
                    matched.push(hit);
                }
            }
        }
        if self.uninspected && !classification.coverage.is_complete() {
            matched.push(summary("uninspected", 1));
        }
        (!matched.is_empty()).then_some(matched)
    }
}

impl Conditions {
    /// Judges every clause but the content ones; `None` when one does not hold, else what
    /// matched.
    pub fn holds_without_content(
        &self,
        activity: &Activity,
        lists: &BTreeMap<String, Vec<String>>,
    ) -> Option<Vec<MatchSummary>> {
        if self.anomaly.is_some() {
            return None;
        }
        self.holds_on_activity(activity, lists)
    }

    /// Judges an anomaly policy on an anomaly and the activity that opened or extended it.
    pub fn holds_on_anomaly(
        &self,
        anomaly: &Anomaly,
        activity: &Activity,
        lists: &BTreeMap<String, Vec<String>>,
    ) -> Option<Vec<MatchSummary>> {
        let mut matched = self.anomaly.as_ref()?.holds(anomaly)?;
        matched.extend(self.holds_on_activity(activity, lists)?);
        Some(matched)
    }

    /// The clauses about the activity itself (not its content, not an anomaly).
    fn holds_on_activity(
        &self,
        activity: &Activity,
        lists: &BTreeMap<String, Vec<String>>,
    ) -> Option<Vec<MatchSummary>> {
        if !self.event_types.is_empty() && !self.event_types.contains(&activity.event_type) {
            return None;
        }
        if !self.event_names.is_empty()
            && !self
                .event_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&activity.event_name))
        {
            return None;
        }
        if let Some(object) = &self.object {
            if !object.holds(activity) {
                return None;
            }
        }
        let mut matched = Vec::new();
        if !self.link.is_empty() {
            let visibility = activity.link_visibility?;
            if !self.link.contains(&visibility) {
                return None;
            }
            matched.push(summary(
                match visibility {
                    LinkVisibility::Public => "public_link",
                    LinkVisibility::Organization => "organization_link",
                    LinkVisibility::Restricted => "restricted_link",
                },
                1,
            ));
        }
        if let Some(actor) = &self.actor {
            matched.extend(actor.matches(
                Some(activity.actor_type),
                activity.actor_email.as_deref(),
                lists,
                "actor",
            )?);
        }
        if let Some(target) = &self.target {
            matched.extend(target.matches(
                activity.target_user_type,
                activity.target_user_email.as_deref(),
                lists,
                "target",
            )?);
        }
        if let Some(exposure) = &self.exposure {
            matched.extend(exposure.matches(activity)?);
        }
        Some(matched)
    }

    /// Judges the clauses that need the content: `content`, and the object's detected type.
    pub fn holds_on_content(
        &self,
        classification: Option<&Classification>,
    ) -> Option<Vec<MatchSummary>> {
        if let Some(object) = &self.object {
            if !object.detected_types.is_empty() {
                let detected = classification?.detected_type.as_deref()?;
                if !object
                    .detected_types
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(detected))
                {
                    return None;
                }
            }
        }
        match &self.content {
            Some(content) => content.matches(classification?),
            None => Some(Vec::new()),
        }
    }

    /// Judges the `blocked` clause on the block-list entries the activity and its file match:
    /// holds when one of them is on a list the clause names.
    pub fn holds_on_blocked(
        &self,
        blocked: &[crate::domain::BlockEntryMatch],
    ) -> Option<Vec<MatchSummary>> {
        let mut matched = Vec::new();
        if self.blocked.is_empty() {
            return Some(matched);
        }
        for list in &self.blocked {
            let count = blocked.iter().filter(|h| h.list == *list).count() as u32;
            if count > 0 {
                matched.push(summary(format!("blocked_{}", list.as_str()), count));
            }
        }
        (!matched.is_empty()).then_some(matched)
    }

    /// Whether judging these conditions needs the file's classification.
    pub fn needs_content(&self) -> bool {
        self.content.is_some()
            || self.blocked.iter().any(|l| l.on_content())
            || self
                .object
                .as_ref()
                .is_some_and(|o| !o.detected_types.is_empty())
    }
}
