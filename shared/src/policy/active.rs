//! Which policies a tenant runs now, applying a new set, and trying one on stored history.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{default_set, parse, ActivePolicies, PolicyError, PolicySet};
use crate::core::Core;
use crate::domain::{content_key, validate_id, Activity, Classification, MatchSummary};
use crate::ports::{ActivityQuery, PolicyStore, StoreError, StoredPolicySet};

/// Each tenant's policy set as last read, kept for a short while so the inspector does not
/// read the store for every activity.
pub struct PolicyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Arc<ActivePolicies>)>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored set that no longer parses (applied by a newer version, or edited in the
    /// table by hand): the inspector stops rather than run a guess.
    #[error("tenant '{tenant}' policy set version {version} cannot be used: {error}; apply a corrected set with `casb policy apply`")]
    Invalid {
        tenant: String,
        version: u64,
        error: PolicyError,
    },
}

fn default_active() -> Arc<ActivePolicies> {
    static DEFAULT: OnceLock<Arc<ActivePolicies>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            Arc::new(ActivePolicies {
                version: 0,
                set: default_set(),
            })
        })
        .clone()
}

impl PolicyCache {
    pub fn new(ttl: Duration) -> Self {
        PolicyCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant's newest applied set, or the default set when it has applied none.
    pub async fn get(
        &self,
        store: &dyn PolicyStore,
        tenant_id: &str,
    ) -> Result<Arc<ActivePolicies>, PolicyLoadError> {
        if let Some((read_at, active)) = self.lock().get(tenant_id) {
            if read_at.elapsed() < self.ttl {
                return Ok(active.clone());
            }
        }
        let active = match store.latest_policy_set(tenant_id).await? {
            None => default_active(),
            Some(stored) => Arc::new(ActivePolicies {
                version: stored.version,
                // Detector ids were checked when the set was applied; a custom rule removed
                // since only stops matching, it does not stop the tenant's other policies.
                set: parse(&stored.source, &stored.file_name, None).map_err(|error| {
                    PolicyLoadError::Invalid {
                        tenant: tenant_id.to_string(),
                        version: stored.version,
                        error,
                    }
                })?,
            }),
        };
        self.lock()
            .insert(tenant_id.to_string(), (Instant::now(), active.clone()));
        Ok(active)
    }

    /// Drops what is cached for the tenant (after an apply in this process).
    pub fn forget(&self, tenant_id: &str) {
        self.lock().remove(tenant_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<ActivePolicies>)>> {
        // A panic while holding the lock leaves a plain map behind, still usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks `text` against the detectors this deployment has, and stores it as the tenant's next
/// version. Applying the same text as the newest version changes nothing and returns it.
pub async fn apply(
    core: &Core,
    tenant_id: &str,
    text: &str,
    file_name: &str,
) -> Result<StoredPolicySet, ApplyError> {
    validate_id("tenant id", tenant_id).map_err(ApplyError::Invalid)?;
    let detectors = core
        .scanner()
        .map_err(|e| ApplyError::Invalid(e.to_string()))?
        .detectors();
    parse(text, file_name, Some(&detectors)).map_err(|e| ApplyError::Invalid(e.to_string()))?;
    let store = &core.backend.policies;
    for _ in 0..5 {
        let latest = store.latest_policy_set(tenant_id).await?;
        if let Some(latest) = latest.as_ref().filter(|l| l.source == text) {
            return Ok(latest.clone());
        }
        let stored = StoredPolicySet {
            tenant_id: tenant_id.to_string(),
            version: latest.map_or(1, |l| l.version + 1),
            source: text.to_string(),
            file_name: file_name.to_string(),
            applied_at: core.backend.clock.now(),
        };
        match store.put_policy_set(&stored).await {
            Ok(()) => {
                core.policies.forget(tenant_id);
                let uid = format!("{tenant_id}#policy-set#{}", stored.version);
                crate::pipeline::exporter::record_config_change(
                    core,
                    &crate::ocsf::ConfigChange {
                        tenant_id,
                        uid: uid.clone(),
                        entity_type: "policy set",
                        entity_uid: &uid,
                        entity_name: &stored.file_name,
                        entity_version: Some(stored.version.to_string()),
                        activity_id: if stored.version == 1 { 1 } else { 3 },
                        time: stored.applied_at,
                        details: serde_json::json!({ "policies": parse(text, file_name, None).map(|s| s.policies.len()).unwrap_or(0) }),
                    },
                )
                .await
                .map_err(|e| ApplyError::Invalid(format!("applied, but not recorded for export: {e}")))?;
                return Ok(stored);
            }
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApplyError::Store(StoreError::Conflict {
        what: format!("tenant '{tenant_id}' policy set (others keep applying)"),
    }))
}

/// One policy that would have fired on a stored activity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WouldFire {
    pub activity_id: String,
    pub event_time: DateTime<Utc>,
    pub event_name: String,
    pub actor: Option<String>,
    pub object: Option<String>,
    pub policy_id: String,
    pub policy_name: String,
    pub monitor_only: bool,
    pub matches: Vec<MatchSummary>,
    pub actions: Vec<String>,
}

/// What `set` would have done over the tenant's activities since `since`: no incident is
/// written, nothing is queued, no file is downloaded (content conditions are judged on the
/// classifications already stored). Newest first, at most `limit` activities read.
pub async fn dry_run(
    core: &Core,
    tenant_id: &str,
    set: &PolicySet,
    since: DateTime<Utc>,
    limit: usize,
) -> Result<(usize, Vec<WouldFire>), StoreError> {
    let backend = &core.backend;
    let activities = backend
        .activities
        .query_activities(&ActivityQuery {
            tenant_id: tenant_id.to_string(),
            from: Some(since),
            limit,
            ..ActivityQuery::default()
        })
        .await?;
    let mut fired = Vec::new();
    for activity in &activities {
        let classification = stored_classification(core, activity).await?;
        for hit in set.evaluate(activity, classification.as_ref()) {
            fired.push(WouldFire {
                activity_id: activity.id(),
                event_time: activity.event_timestamp,
                event_name: activity.event_name.clone(),
                actor: activity.actor_email.clone(),
                object: activity
                    .object_path
                    .clone()
                    .or_else(|| activity.object_name.clone()),
                policy_id: hit.policy.id.clone(),
                policy_name: hit.policy.name.clone(),
                monitor_only: hit.policy.mode == super::Mode::Monitor,
                matches: hit.matches,
                actions: hit
                    .policy
                    .actions
                    .iter()
                    .map(|a| match a.channel() {
                        Some(channel) => format!("notify:{channel}"),
                        None => a.name().to_string(),
                    })
                    .collect(),
            });
        }
    }
    Ok((activities.len(), fired))
}

/// The classification stored for the file version an activity names, if its provider reported
/// a content hash and the version was inspected.
pub async fn stored_classification(
    core: &Core,
    activity: &Activity,
) -> Result<Option<Classification>, StoreError> {
    match provider_content_key(activity) {
        Some(key) => {
            core.backend
                .classifications
                .get_classification(&activity.tenant_id, &key)
                .await
        }
        None => Ok(None),
    }
}

/// The content-version key the provider gives for the activity's file (Box: SHA-1).
pub fn provider_content_key(activity: &Activity) -> Option<String> {
    activity
        .enrichments
        .exposure
        .as_ref()
        .and_then(|e| e.content_sha1.as_deref())
        .filter(|h| !h.is_empty())
        .map(|h| content_key("sha1", h))
}
