use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::access::ApiCredential;
use crate::domain::{
    Activity, Anomaly, BlockEntry, BlockList, Checkpoint, Classification, Incident, IncidentStatus,
    Integration, StreamHealth,
};
use crate::threat::BehaviourState;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: someone else wrote first. Re-read and decide again.
    #[error("{what} was changed by another writer; re-read it and retry")]
    Conflict { what: String },
    #[error("the store could not be reached: {0}")]
    Unavailable(String),
    #[error("stored record is corrupt ({what}): {message}")]
    Corrupt { what: String, message: String },
}

impl StoreError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}

#[async_trait]
pub trait IntegrationStore: Send + Sync {
    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError>;
    async fn get_integration(
        &self,
        tenant_id: &str,
        integration_id: &str,
    ) -> Result<Option<Integration>, StoreError>;
    async fn list_integrations(&self, tenant_id: &str) -> Result<Vec<Integration>, StoreError>;
    /// One page of every tenant's integrations, for the scheduler: up to `limit` after the
    /// opaque `after` cursor (from the previous page's `next`), in a stable order.
    async fn list_integrations_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<IntegrationPage, StoreError>;
}

/// A page of integrations; `next` is `None` on the last page.
#[derive(Debug, Clone, Default)]
pub struct IntegrationPage {
    pub integrations: Vec<Integration>,
    pub next: Option<String>,
}

#[async_trait]
pub trait CheckpointStore: Send + Sync {
    async fn get_checkpoint(&self, stream: &str) -> Result<Option<Checkpoint>, StoreError>;
    /// Writes `cursor` and `health` only if the stored version is still `expected_version`
    /// (`None`: no checkpoint exists yet). A stale writer gets [`StoreError::Conflict`].
    async fn put_checkpoint(
        &self,
        stream: &str,
        cursor: &str,
        health: &StreamHealth,
        expected_version: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Checkpoint, StoreError>;
    /// Every checkpoint whose stream key starts with `prefix` (an integration's streams), for
    /// operators; not on any hot path.
    async fn list_checkpoints(&self, prefix: &str) -> Result<Vec<Checkpoint>, StoreError>;
}

/// Remembers keys for a while: provider event ids, webhook delivery ids, poll leases.
#[async_trait]
pub trait DedupStore: Send + Sync {
    /// Records `key` until `expires_at`; `true` if it was absent or had expired. The expiry is
    /// checked in the write itself, never left to a TTL sweeper that may lag by days.
    async fn insert_if_absent(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    async fn contains(&self, key: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;
    async fn remove(&self, key: &str) -> Result<(), StoreError>;
    /// Takes (or, for the same `owner`, extends) the lease `key` until `expires_at`; `true` if
    /// `owner` now holds it. A lease another owner holds is taken only once it has expired.
    async fn acquire_lease(
        &self,
        key: &str,
        owner: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Gives the lease up, but only if `owner` still holds it: a holder whose lease expired and
    /// was taken over must not delete the new holder's lease.
    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), StoreError>;
}

/// Which activities to return, newest first.
#[derive(Debug, Clone, Default)]
pub struct ActivityQuery {
    pub tenant_id: String,
    pub integration_id: Option<String>,
    pub actor_email: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Keyset paging: only activities strictly older than this (event time, activity id) in
    /// the newest-first order.
    pub before: Option<(DateTime<Utc>, String)>,
    pub limit: usize,
}

/// Which incidents to return, newest first (by creation).
#[derive(Debug, Clone, Default)]
pub struct IncidentQuery {
    pub tenant_id: String,
    pub status: Option<IncidentStatus>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created at or before.
    pub to: Option<DateTime<Utc>>,
    /// Keyset paging: only incidents strictly older than this (created at, incident id).
    pub before: Option<(DateTime<Utc>, String)>,
    pub limit: usize,
}

#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// Stores the activity under its stable id; storing it again overwrites it with itself.
    async fn put_activity(
        &self,
        activity: &Activity,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn get_activity(
        &self,
        tenant_id: &str,
        activity_id: &str,
    ) -> Result<Option<Activity>, StoreError>;
    async fn query_activities(&self, query: &ActivityQuery) -> Result<Vec<Activity>, StoreError>;
    /// The tenant's activities with these ids, in no particular order; ids it does not have
    /// (past their retention) are left out. Back ends read them in batches.
    async fn get_activities(
        &self,
        tenant_id: &str,
        activity_ids: &[String],
    ) -> Result<Vec<Activity>, StoreError> {
        let mut found = Vec::new();
        for id in activity_ids {
            found.extend(self.get_activity(tenant_id, id).await?);
        }
        Ok(found)
    }
    /// The tenant's activities in the order they were first stored (oldest first), after the
    /// (stored at, activity id) `after` and stored before `until`: the log SIEMs page through.
    /// An activity stored again (a second copy merged in) keeps its first place.
    async fn activity_log(
        &self,
        tenant_id: &str,
        after: Option<&(DateTime<Utc>, String)>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredActivity>, StoreError>;
}

/// An activity with when it was first stored.
#[derive(Debug, Clone)]
pub struct StoredActivity {
    pub activity: Activity,
    pub stored_at: DateTime<Utc>,
}

#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Creates the incident unless one with its id exists; `true` if it was created.
    async fn create_incident(&self, incident: &Incident) -> Result<bool, StoreError>;
    async fn get_incident(
        &self,
        tenant_id: &str,
        incident_id: &str,
    ) -> Result<Option<Incident>, StoreError>;
    /// Replaces the incident if the stored version still equals `incident.version`, and returns
    /// it with the version bumped. Otherwise [`StoreError::Conflict`].
    async fn update_incident(&self, incident: &Incident) -> Result<Incident, StoreError>;
    /// Newest first.
    async fn list_incidents(
        &self,
        tenant_id: &str,
        status: Option<IncidentStatus>,
        limit: usize,
    ) -> Result<Vec<Incident>, StoreError> {
        self.query_incidents(&IncidentQuery {
            tenant_id: tenant_id.to_string(),
            status,
            limit,
            ..IncidentQuery::default()
        })
        .await
    }
    /// Newest first, in the same (created at, id) order on every back end.
    async fn query_incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>, StoreError>;
}

/// What the REST API keeps: its credentials (only their hashes) and each tenant's block lists.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Creates the credential unless one with its id exists (an API user's id is its name, so
    /// two tenants cannot both have user `alice`); `true` if it was created.
    async fn create_credential(&self, credential: &ApiCredential) -> Result<bool, StoreError>;
    async fn get_credential(&self, id: &str) -> Result<Option<ApiCredential>, StoreError>;
    /// The tenant's credentials, oldest first.
    async fn list_credentials(&self, tenant_id: &str) -> Result<Vec<ApiCredential>, StoreError>;
    /// Marks the tenant's credential revoked at `at`; `false` if the tenant has no such
    /// credential. Revoking again keeps the first time.
    async fn revoke_credential(
        &self,
        tenant_id: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Adds the entry unless its value is already on the list; `true` if it was added.
    async fn add_block_entry(&self, entry: &BlockEntry) -> Result<bool, StoreError>;
    /// `true` if the value was on the list.
    async fn remove_block_entry(
        &self,
        tenant_id: &str,
        list: BlockList,
        value: &str,
    ) -> Result<bool, StoreError>;
    /// The list's entries, in value order.
    async fn list_block_entries(
        &self,
        tenant_id: &str,
        list: BlockList,
    ) -> Result<Vec<BlockEntry>, StoreError>;
}

/// One applied version of a tenant's policy set, kept as the administrator wrote it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredPolicySet {
    pub tenant_id: String,
    /// 1 for the first set a tenant applies, then one more per apply.
    pub version: u64,
    /// The policy file's text (YAML or JSON).
    pub source: String,
    /// The file name it was applied from, for people reading the history.
    pub file_name: String,
    pub applied_at: DateTime<Utc>,
}

#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// Stores `set` unless the tenant already has its version: two administrators applying at
    /// once get [`StoreError::Conflict`] for the second, which re-reads and applies again.
    async fn put_policy_set(&self, set: &StoredPolicySet) -> Result<(), StoreError>;
    /// The tenant's newest version, `None` when it runs the default set.
    async fn latest_policy_set(
        &self,
        tenant_id: &str,
    ) -> Result<Option<StoredPolicySet>, StoreError>;
    async fn get_policy_set(
        &self,
        tenant_id: &str,
        version: u64,
    ) -> Result<Option<StoredPolicySet>, StoreError>;
}

/// File classifications by content version: the content-hash cache of DLP results.
#[async_trait]
pub trait ClassificationStore: Send + Sync {
    async fn get_classification(
        &self,
        tenant_id: &str,
        content_key: &str,
    ) -> Result<Option<Classification>, StoreError>;
    /// Stores it until `expires_at`; storing the same version again replaces it.
    async fn put_classification(
        &self,
        classification: &Classification,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// What the threat detectors keep: behaviour state per subject, anomalies, and the activities
/// behind each anomaly.
#[async_trait]
pub trait ThreatStore: Send + Sync {
    async fn get_behaviour(
        &self,
        tenant_id: &str,
        subject: &str,
    ) -> Result<Option<BehaviourState>, StoreError>;
    /// Writes the state if the stored version still equals `state.version` (0: none stored
    /// yet), and returns it with the version bumped. Otherwise [`StoreError::Conflict`].
    async fn put_behaviour(&self, state: &BehaviourState) -> Result<BehaviourState, StoreError>;
    /// Creates the anomaly unless one with its id exists; `true` if it was created.
    async fn create_anomaly(&self, anomaly: &Anomaly) -> Result<bool, StoreError>;
    async fn get_anomaly(
        &self,
        tenant_id: &str,
        anomaly_id: &str,
    ) -> Result<Option<Anomaly>, StoreError>;
    /// Replaces the anomaly if the stored version still equals `anomaly.version`, and returns
    /// it with the version bumped. Otherwise [`StoreError::Conflict`].
    async fn update_anomaly(&self, anomaly: &Anomaly) -> Result<Anomaly, StoreError>;
    /// The tenant's anomalies, the most recently active first.
    async fn list_anomalies(
        &self,
        tenant_id: &str,
        limit: usize,
    ) -> Result<Vec<Anomaly>, StoreError>;
    /// Records activities behind an anomaly (again is harmless), keeping the latest
    /// [`Anomaly::KEPT_ACTIVITIES`].
    async fn add_anomaly_activities(
        &self,
        tenant_id: &str,
        anomaly_id: &str,
        activities: &[(String, DateTime<Utc>)],
    ) -> Result<(), StoreError>;
    /// The ids of the activities behind an anomaly, newest first.
    async fn anomaly_activities(
        &self,
        tenant_id: &str,
        anomaly_id: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
}

/// Every store in one bound, for back ends that implement them all on one connection.
pub trait Stores:
    IntegrationStore
    + CheckpointStore
    + DedupStore
    + ActivityStore
    + IncidentStore
    + PolicyStore
    + ClassificationStore
    + ThreatStore
    + AccessStore
    + super::ExportStore
{
}

impl<T> Stores for T where
    T: IntegrationStore
        + CheckpointStore
        + DedupStore
        + ActivityStore
        + IncidentStore
        + PolicyStore
        + ClassificationStore
        + ThreatStore
        + AccessStore
        + super::ExportStore
{
}

/// The opaque cursor of an integration page: the last (tenant, id) seen, base64url JSON.
pub mod page_cursor {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use crate::ports::StoreError;

    pub fn encode(tenant_id: &str, id: &str) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::json!([tenant_id, id]).to_string())
    }

    pub fn decode(cursor: &str) -> Result<(String, String), StoreError> {
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|json| serde_json::from_slice::<(String, String)>(&json).ok())
            .ok_or_else(|| StoreError::Corrupt {
                what: "integration page cursor".into(),
                message: "not a cursor this store issued; start from the first page".into(),
            })
    }
}
