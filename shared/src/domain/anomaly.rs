//! Anomalies: what the threat detectors found in a user's (or an address's) behaviour, with the
//! activities behind it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Provider, Severity};

/// What kind of threat an anomaly suggests: the words security teams file them under.
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
pub enum AnomalyCategory {
    /// Someone other than the user may be signed in as the user.
    CompromisedAccount,
    /// The user is doing something harmful with legitimate access.
    InsiderThreat,
    /// Data is leaving in bulk or to personal accounts.
    DataExfiltration,
    /// Someone gained administrative power.
    PrivilegeEscalation,
}

impl AnomalyCategory {
    pub fn label(self) -> &'static str {
        match self {
            AnomalyCategory::CompromisedAccount => "Compromised Account",
            AnomalyCategory::InsiderThreat => "Insider Threat",
            AnomalyCategory::DataExfiltration => "Data Exfiltration",
            AnomalyCategory::PrivilegeEscalation => "Privilege Escalation",
        }
    }
}

/// The detector that found an anomaly. Each is described, with its settings, in the README's
/// "Threat detection" section.
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
pub enum DetectorKind {
    ImpossibleTravel,
    NewCountry,
    BruteForce,
    MassDownload,
    MassDeletion,
    MassSharing,
    UnusualHours,
    AdminGrant,
    PersonalDomainShare,
}

impl DetectorKind {
    pub const ALL: [DetectorKind; 9] = [
        DetectorKind::ImpossibleTravel,
        DetectorKind::NewCountry,
        DetectorKind::BruteForce,
        DetectorKind::MassDownload,
        DetectorKind::MassDeletion,
        DetectorKind::MassSharing,
        DetectorKind::UnusualHours,
        DetectorKind::AdminGrant,
        DetectorKind::PersonalDomainShare,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DetectorKind::ImpossibleTravel => "impossible_travel",
            DetectorKind::NewCountry => "new_country",
            DetectorKind::BruteForce => "brute_force",
            DetectorKind::MassDownload => "mass_download",
            DetectorKind::MassDeletion => "mass_deletion",
            DetectorKind::MassSharing => "mass_sharing",
            DetectorKind::UnusualHours => "unusual_hours",
            DetectorKind::AdminGrant => "admin_grant",
            DetectorKind::PersonalDomainShare => "personal_domain_share",
        }
    }

    pub fn category(self) -> AnomalyCategory {
        match self {
            DetectorKind::ImpossibleTravel
            | DetectorKind::NewCountry
            | DetectorKind::BruteForce => AnomalyCategory::CompromisedAccount,
            DetectorKind::MassDownload
            | DetectorKind::MassSharing
            | DetectorKind::PersonalDomainShare => AnomalyCategory::DataExfiltration,
            DetectorKind::MassDeletion | DetectorKind::UnusualHours => {
                AnomalyCategory::InsiderThreat
            }
            DetectorKind::AdminGrant => AnomalyCategory::PrivilegeEscalation,
        }
    }

    /// A human title for lists and notifications.
    pub fn title(self) -> &'static str {
        match self {
            DetectorKind::ImpossibleTravel => "Impossible travel",
            DetectorKind::NewCountry => "Sign-in from a new country",
            DetectorKind::BruteForce => "Brute-force sign-in attempts",
            DetectorKind::MassDownload => "Mass download",
            DetectorKind::MassDeletion => "Mass deletion",
            DetectorKind::MassSharing => "Mass sharing",
            DetectorKind::UnusualHours => "Activity at unusual hours",
            DetectorKind::AdminGrant => "Administrator privileges granted",
            DetectorKind::PersonalDomainShare => "Shared to a personal mail address",
        }
    }
}

impl std::str::FromStr for DetectorKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DetectorKind::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = DetectorKind::ALL.iter().map(|d| d.as_str()).collect();
                format!(
                    "unknown detector '{s}': expected one of {}",
                    known.join(", ")
                )
            })
    }
}

/// One episode of anomalous behaviour. Repeated firing on the same episode extends it (more
/// activities, a later `last_activity_at`, perhaps a higher severity) instead of opening another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Anomaly {
    pub id: String,
    pub tenant_id: String,
    pub integration_id: String,
    pub provider: Provider,
    /// Whose behaviour: the user's login or id, or `ip:<address>` for an address's.
    pub subject: String,
    pub category: AnomalyCategory,
    pub detector: DetectorKind,
    pub severity: Severity,
    /// What the behaviour broke and by how much, in words.
    pub explanation: String,
    /// The figures behind the explanation (observed count, threshold, baseline, speed, ...).
    #[serde(default)]
    pub evidence: serde_json::Value,
    pub first_activity_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    /// How many activities are behind it; the store keeps the latest
    /// [`Anomaly::KEPT_ACTIVITIES`] of their ids.
    pub activity_count: u64,
    /// The latest few activity ids, newest last: a redelivered activity is recognised here.
    #[serde(default)]
    pub recent_activity_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every stored update (optimistic concurrency, as incidents).
    #[serde(default)]
    pub version: u64,
}

impl Anomaly {
    /// Activity ids kept per anomaly; older ones are dropped as new ones come.
    pub const KEPT_ACTIVITIES: usize = 100_000;
    /// Activity ids kept in the anomaly record itself.
    pub const RECENT_IDS: usize = 64;

    /// The id of the anomaly an episode opens: stable, so the same episode computed again (a
    /// redelivery) names the same anomaly.
    pub fn id_for(tenant_id: &str, subject: &str, detector: DetectorKind, episode: &str) -> String {
        let mut hasher = Sha256::new();
        for part in [tenant_id, subject, detector.as_str(), episode] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        format!("an-{}", hex::encode(&hasher.finalize()[..12]))
    }

    pub fn has_seen(&self, activity_id: &str) -> bool {
        self.recent_activity_ids.iter().any(|id| id == activity_id)
    }

    /// Remembers `activity_id` among the recent ones (bounded).
    pub fn remember(&mut self, activity_id: &str) {
        self.recent_activity_ids.push(activity_id.to_string());
        let excess = self
            .recent_activity_ids
            .len()
            .saturating_sub(Self::RECENT_IDS);
        self.recent_activity_ids.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_names_round_trip_and_each_has_a_category() {
        for detector in DetectorKind::ALL {
            assert_eq!(detector.as_str().parse::<DetectorKind>(), Ok(detector));
            assert_eq!(super::super::enum_label(&detector), detector.as_str());
        }
        assert_eq!(
            DetectorKind::BruteForce.category().label(),
            "Compromised Account"
        );
        assert!("travel"
            .parse::<DetectorKind>()
            .unwrap_err()
            .contains("impossible_travel"));
    }

    #[test]
    fn anomaly_ids_depend_on_every_part_of_the_episode() {
        let base = Anomaly::id_for("t", "u@x", DetectorKind::MassDownload, "e1");
        assert_eq!(
            base,
            Anomaly::id_for("t", "u@x", DetectorKind::MassDownload, "e1")
        );
        for other in [
            Anomaly::id_for("t2", "u@x", DetectorKind::MassDownload, "e1"),
            Anomaly::id_for("t", "v@x", DetectorKind::MassDownload, "e1"),
            Anomaly::id_for("t", "u@x", DetectorKind::MassDeletion, "e1"),
            Anomaly::id_for("t", "u@x", DetectorKind::MassDownload, "e2"),
        ] {
            assert_ne!(base, other);
        }
    }
}
