//! Threat detection on user behaviour.
//!
//! Every activity the inspector stores passes through [`observe`]: it updates the behaviour
//! state of the user who acted (and, for sign-ins, of the address they came from), runs the
//! detectors ([`detectors`]) and records what they found as anomalies, each with a category, an
//! explanation and the activities behind it.
//!
//! Idempotent like the rest of the pipeline: a subject's state remembers the activities it has
//! counted, so a redelivered activity changes no count; the state and the findings it produced
//! are written together (a conditional write), and the findings are then recorded as anomalies
//! by stable id, so a crash between the two is repaired by the redelivery, which finds its
//! findings in the state and records them again, once.

pub mod detectors;
pub mod geo;
pub mod settings;
pub mod state;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use geo::{GeoDatabase, Place};
pub use settings::ThreatSettings;
pub use state::{BehaviourState, Burst};

use crate::core::Core;
use crate::domain::{Activity, Anomaly, DetectorKind, Severity};
use crate::pipeline::PipelineError;
use crate::ports::ActivityQuery;

/// Whose behaviour a state describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A user, by login (lower case) or, without one, the provider's id.
    User(String),
    /// An address sign-ins come from.
    Address(String),
}

impl Subject {
    pub fn key(&self) -> String {
        match self {
            Subject::User(user) => format!("user:{user}"),
            Subject::Address(address) => format!("ip:{address}"),
        }
    }

    /// The subjects whose behaviour an activity is part of.
    pub fn of(activity: &Activity) -> Vec<Subject> {
        let mut subjects = Vec::new();
        let user = activity
            .actor_email
            .as_deref()
            .or(activity.actor_id.as_deref())
            .map(|u| u.trim().to_lowercase())
            .filter(|u| !u.is_empty());
        if let Some(user) = user {
            subjects.push(Subject::User(user));
        }
        let sign_in = matches!(
            activity.event_type,
            crate::domain::EventType::Login | crate::domain::EventType::LoginFailure
        );
        if let (true, Some(address)) = (sign_in, activity.actor_ip.as_deref()) {
            if address.parse::<std::net::IpAddr>().is_ok() {
                subjects.push(Subject::Address(address.to_string()));
            }
        }
        subjects
    }
}

/// What a detector found in one activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub detector: DetectorKind,
    /// The anomaly's subject key (`user:…`, `ip:…`).
    pub subject: String,
    /// The episode this firing belongs to: with the subject and detector, the anomaly's id.
    pub episode: String,
    pub severity: Severity,
    pub explanation: String,
    #[serde(default)]
    pub evidence: serde_json::Value,
    pub activity_id: String,
    pub at: DateTime<Utc>,
    /// Other activities behind it the detector knows (the earlier sign-in of a travel).
    #[serde(default)]
    pub related: Vec<(String, DateTime<Utc>)>,
    /// When the firing opens its episode: the burst whose activities in the window are behind
    /// it, gathered from the activity store.
    #[serde(default)]
    pub gather: Option<Burst>,
}

/// The detectors' settings with the geolocation database they read, loaded on first use:
/// only the inspector places addresses, so the other functions never read the file.
pub struct ThreatDetection {
    pub settings: ThreatSettings,
    geo: OnceLock<Result<Option<GeoDatabase>, String>>,
}

impl ThreatDetection {
    pub fn new(settings: ThreatSettings) -> Self {
        ThreatDetection {
            settings,
            geo: OnceLock::new(),
        }
    }

    /// The geolocation database, read on first use. Whatever runs the inspector calls this at
    /// start-up ([`Core::geolocation`]), so a configured database that cannot be read stops the
    /// start instead of quietly turning the geographic detectors off.
    pub fn geolocation(&self) -> Result<Option<&GeoDatabase>, String> {
        self.geo
            .get_or_init(|| {
                self.settings
                    .geoip_db
                    .as_deref()
                    .map(GeoDatabase::open)
                    .transpose()
            })
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }

    pub fn database(&self) -> Option<&GeoDatabase> {
        self.geolocation().ok().flatten()
    }

    /// One line per detector family on whether it runs, for `casb doctor` and the health
    /// output: the geographic detectors say they are off instead of guessing. Says what this
    /// process knows without reading the database (the api function only reports it).
    pub fn status(&self) -> Vec<(String, bool, String)> {
        let s = &self.settings;
        if !s.enabled {
            return vec![(
                "threat detection".into(),
                false,
                "off (CASB_THREAT_DETECTION=false)".into(),
            )];
        }
        let geo = match (self.geo.get(), &s.geoip_db) {
            (Some(Ok(Some(db))), _) => (true, format!("on, geolocation from {}", db.describe())),
            (Some(Err(e)), _) => (false, format!("off for addresses: {e}")),
            (None, Some(path)) => (
                true,
                format!(
                    "on, geolocation from {} (read where the inspector runs)",
                    path.display()
                ),
            ),
            (Some(Ok(None)), _) | (None, None) => (
                false,
                "off for addresses: set CASB_GEOIP_DB to a MaxMind-format city database \
                 (GeoLite2-City.mmdb); only providers' own coordinates (Netskope) are used"
                    .into(),
            ),
        };
        vec![
            ("impossible travel, new country".into(), geo.0, geo.1),
            (
                "brute force".into(),
                true,
                format!(
                    "on: {} failed sign-ins in {} minutes, per user and per address",
                    s.brute_force_failures, s.window_minutes
                ),
            ),
            (
                "mass download, deletion, sharing".into(),
                true,
                format!(
                    "on: floors {}/{}/{} per {} minutes, raised by each user's own baseline \
                     after {} active days",
                    s.mass_downloads,
                    s.mass_deletions,
                    s.mass_shares,
                    s.window_minutes,
                    s.baseline_min_days
                ),
            ),
            (
                "unusual hours, admin grants, personal mail shares".into(),
                true,
                format!(
                    "on: hours after {} active days of history",
                    s.unusual_hours_min_days
                ),
            ),
        ]
    }

    /// Fills the activity's place from the database when the provider gave no coordinates
    /// (the provider's own fields win).
    pub fn locate(&self, activity: &mut Activity) {
        let has_coordinates = activity
            .enrichments
            .geo
            .as_ref()
            .is_some_and(|g| g.latitude.is_some() && g.longitude.is_some());
        if has_coordinates {
            return;
        }
        let (Some(db), Some(address)) = (self.database(), activity.actor_ip.as_deref()) else {
            return;
        };
        if let Some(mut found) = db.locate(address) {
            if let Some(provider) = &activity.enrichments.geo {
                found.country = provider.country.clone().or(found.country);
                found.asn = provider.asn;
                found.asn_name = provider.asn_name.clone();
            }
            activity.enrichments.geo = Some(found);
        }
    }
}

/// Conditional writes lost in a row before the activity is left to its redelivery.
const STATE_WRITE_ATTEMPTS: usize = 5;
/// Activities of a window gathered for a new anomaly.
const GATHER_LIMIT: usize = 10_000;

/// Runs the detectors on one stored activity and records what they find. Returns the
/// anomalies opened or extended by this activity (for the policies to act on).
pub async fn observe(core: &Core, activity: &Activity) -> Result<Vec<Anomaly>, PipelineError> {
    let detection = core.threats();
    if !detection.settings.enabled {
        return Ok(Vec::new());
    }
    let place = activity.enrichments.geo.as_ref().and_then(Place::from_geo);
    let mut findings = Vec::new();
    for subject in Subject::of(activity) {
        findings.extend(update_subject(core, &subject, activity, place.as_ref()).await?);
    }
    let mut anomalies = Vec::new();
    for finding in findings {
        if let Some(anomaly) = record(core, activity, &finding).await? {
            anomalies.push(anomaly);
        }
    }
    Ok(anomalies)
}

/// Applies the activity to one subject's state (once) and returns its findings: new ones, or
/// those a previous delivery found and stored with the state.
async fn update_subject(
    core: &Core,
    subject: &Subject,
    activity: &Activity,
    place: Option<&Place>,
) -> Result<Vec<Finding>, PipelineError> {
    let store = &core.backend.threats;
    let settings = &core.threats().settings;
    let key = subject.key();
    let id = activity.id();
    for _ in 0..STATE_WRITE_ATTEMPTS {
        let mut state = store
            .get_behaviour(&activity.tenant_id, &key)
            .await?
            .unwrap_or_else(|| BehaviourState::new(&activity.tenant_id, &key));
        if state.has_applied(&id) {
            return Ok(state
                .recent_findings
                .iter()
                .filter(|f| f.activity_id == id)
                .cloned()
                .collect());
        }
        let findings = detectors::observe(&mut state, subject, activity, place, settings);
        state.mark_applied(&id);
        for finding in &findings {
            state.remember_finding(finding.clone());
        }
        match store.put_behaviour(&state).await {
            Ok(_) => return Ok(findings),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(PipelineError::Busy(format!(
        "the behaviour of {key} changed {STATE_WRITE_ATTEMPTS} times while this activity was \
         applied; will apply it again"
    )))
}

/// The activities behind a new anomaly: the window's activities of the burst's kind by the same
/// user (or from the same address), the related ones, and this one.
async fn gather(
    core: &Core,
    activity: &Activity,
    finding: &Finding,
) -> Result<Vec<(String, DateTime<Utc>)>, PipelineError> {
    let mut ids: Vec<(String, DateTime<Utc>)> = finding.related.clone();
    if let Some(kind) = finding.gather {
        let window = Duration::minutes(core.threats().settings.window_minutes);
        let address = finding.subject.strip_prefix("ip:");
        let query = ActivityQuery {
            tenant_id: activity.tenant_id.clone(),
            integration_id: None,
            // The store indexes activities by the actor's login; an address's are filtered.
            actor_email: match address {
                None => activity.actor_email.clone(),
                Some(_) => None,
            },
            from: Some(finding.at - window),
            to: Some(finding.at),
            limit: GATHER_LIMIT,
            ..ActivityQuery::default()
        };
        if address.is_some() || query.actor_email.is_some() {
            for earlier in core.backend.activities.query_activities(&query).await? {
                let same_subject = match address {
                    Some(address) => earlier.actor_ip.as_deref() == Some(address),
                    None => true,
                };
                if same_subject && detectors::burst_kind(&earlier) == Some(kind) {
                    ids.push((earlier.id(), earlier.event_timestamp));
                }
            }
        }
    }
    // Oldest first and the firing activity last: the anomaly's recent ids end with it, so
    // its redelivery is recognised.
    let this = activity.id();
    let mut seen = BTreeSet::from([this.clone()]);
    ids.retain(|(id, _)| seen.insert(id.clone()));
    ids.sort_by_key(|(_, at)| *at);
    ids.push((this, activity.event_timestamp));
    Ok(ids)
}

/// Opens the finding's anomaly or extends it with the activity; `None` when this activity was
/// already recorded on it and nothing changed.
async fn record(
    core: &Core,
    activity: &Activity,
    finding: &Finding,
) -> Result<Option<Anomaly>, PipelineError> {
    let store = &core.backend.threats;
    let tenant = &activity.tenant_id;
    let id = Anomaly::id_for(tenant, &finding.subject, finding.detector, &finding.episode);
    let now = core.backend.clock.now();
    for _ in 0..STATE_WRITE_ATTEMPTS {
        let Some(mut stored) = store.get_anomaly(tenant, &id).await? else {
            let behind = gather(core, activity, finding).await?;
            let first = behind.iter().map(|(_, t)| *t).min().unwrap_or(finding.at);
            let last = behind.iter().map(|(_, t)| *t).max().unwrap_or(finding.at);
            let mut anomaly = Anomaly {
                id: id.clone(),
                tenant_id: tenant.clone(),
                integration_id: activity.integration_id.clone(),
                provider: activity.provider,
                subject: finding.subject.clone(),
                category: finding.detector.category(),
                detector: finding.detector,
                severity: finding.severity,
                explanation: finding.explanation.clone(),
                evidence: finding.evidence.clone(),
                first_activity_at: first,
                last_activity_at: last,
                activity_count: behind.len() as u64,
                recent_activity_ids: Vec::new(),
                created_at: now,
                updated_at: now,
                version: 0,
            };
            for (activity_id, _) in &behind {
                anomaly.remember(activity_id);
            }
            // The activities first: an anomaly is never seen without them.
            store.add_anomaly_activities(tenant, &id, &behind).await?;
            if store.create_anomaly(&anomaly).await? {
                anomaly.version = 1;
                tracing::warn!(anomaly = %id, detector = finding.detector.as_str(),
                    subject = %finding.subject, severity = ?finding.severity,
                    activities = anomaly.activity_count, "anomaly opened");
                crate::pipeline::exporter::record_anomaly(core, &anomaly).await?;
                return Ok(Some(anomaly));
            }
            continue;
        };
        if stored.has_seen(&finding.activity_id) {
            // Recorded by an earlier delivery: make sure its export is queued, change nothing.
            crate::pipeline::exporter::record_anomaly(core, &stored).await?;
            return Ok(Some(stored));
        }
        let mut behind = finding.related.clone();
        behind.push((finding.activity_id.clone(), finding.at));
        stored.activity_count +=
            behind.iter().filter(|(id, _)| !stored.has_seen(id)).count() as u64;
        for (activity_id, _) in &behind {
            stored.remember(activity_id);
        }
        stored.first_activity_at = stored.first_activity_at.min(finding.at);
        stored.last_activity_at = stored.last_activity_at.max(finding.at);
        // The explanation is the latest firing's at the anomaly's highest severity: a success
        // after a brute force keeps saying so while more failures come.
        if finding.severity >= stored.severity {
            stored.explanation = finding.explanation.clone();
            stored.evidence = finding.evidence.clone();
            stored.severity = finding.severity;
        }
        stored.updated_at = now;
        store.add_anomaly_activities(tenant, &id, &behind).await?;
        match store.update_anomaly(&stored).await {
            Ok(updated) => {
                crate::pipeline::exporter::record_anomaly(core, &updated).await?;
                return Ok(Some(updated));
            }
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(PipelineError::Busy(format!(
        "anomaly {id} changed {STATE_WRITE_ATTEMPTS} times while being extended; will try again"
    )))
}

#[cfg(test)]
mod tests;
