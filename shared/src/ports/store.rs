use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{Activity, Checkpoint, Incident, IncidentStatus, Integration};

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
    /// Every tenant's integrations, for the poller.
    async fn list_all_integrations(&self) -> Result<Vec<Integration>, StoreError>;
}

#[async_trait]
pub trait CheckpointStore: Send + Sync {
    async fn get_checkpoint(&self, stream: &str) -> Result<Option<Checkpoint>, StoreError>;
    /// Writes `cursor` only if the stored version is still `expected_version` (`None`: no
    /// checkpoint exists yet). A stale writer gets [`StoreError::Conflict`].
    async fn put_checkpoint(
        &self,
        stream: &str,
        cursor: &str,
        expected_version: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Checkpoint, StoreError>;
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
}

/// Which activities to return, newest first.
#[derive(Debug, Clone, Default)]
pub struct ActivityQuery {
    pub tenant_id: String,
    pub integration_id: Option<String>,
    pub actor_email: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
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
    ) -> Result<Vec<Incident>, StoreError>;
}

/// Every store in one bound, for back ends that implement them all on one connection.
pub trait Stores:
    IntegrationStore + CheckpointStore + DedupStore + ActivityStore + IncidentStore
{
}

impl<T> Stores for T where
    T: IntegrationStore + CheckpointStore + DedupStore + ActivityStore + IncidentStore
{
}
