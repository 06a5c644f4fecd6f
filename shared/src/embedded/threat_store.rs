//! The threat detectors' store on SQLite: behaviour states, anomalies and the activities
//! behind them, each write conditional like the incidents'.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;

use super::database::{
    collect_strings, docs, first_doc, from_doc, millis, sqlite_error, to_doc, Database,
};
use crate::domain::Anomaly;
use crate::ports::{StoreError, ThreatStore};
use crate::threat::BehaviourState;

#[async_trait]
impl ThreatStore for Database {
    async fn get_behaviour(
        &self,
        tenant_id: &str,
        subject: &str,
    ) -> Result<Option<BehaviourState>, StoreError> {
        let (tenant, subject) = (tenant_id.to_string(), subject.to_string());
        // Answered without waiting for the group's fsync: every write of a state is
        // conditional on the version read, so a version that never reaches the disk makes that
        // write a conflict, and the writer reads again.
        let doc: Option<String> = self
            .run_before_sync(move |c| {
                first_doc(
                    c,
                    "SELECT doc FROM behaviour WHERE tenant_id = ?1 AND subject = ?2",
                    params![tenant, subject],
                )
            })
            .await?;
        doc.map(|d| from_doc("behaviour state", &d)).transpose()
    }

    async fn put_behaviour(&self, state: &BehaviourState) -> Result<BehaviourState, StoreError> {
        let expected = state.version;
        let mut stored = state.clone();
        stored.version = expected + 1;
        let doc = to_doc(&stored)?;
        let (tenant, subject) = (stored.tenant_id.clone(), stored.subject.clone());
        self.run(move |c| {
            let written = if expected == 0 {
                c.execute(
                    "INSERT INTO behaviour (tenant_id, subject, version, doc) VALUES (?1, ?2, 1, ?3)
                     ON CONFLICT (tenant_id, subject) DO NOTHING",
                    params![tenant, subject, doc],
                )
            } else {
                c.execute(
                    "UPDATE behaviour SET doc = ?3, version = ?4
                     WHERE tenant_id = ?1 AND subject = ?2 AND version = ?5",
                    params![tenant, subject, doc, (expected + 1) as i64, expected as i64],
                )
            }
            .map_err(sqlite_error)?;
            if written == 0 {
                return Err(StoreError::Conflict {
                    what: format!("behaviour of '{subject}'"),
                });
            }
            Ok(())
        })
        .await?;
        Ok(stored)
    }

    async fn create_anomaly(&self, anomaly: &Anomaly) -> Result<bool, StoreError> {
        let mut stored = anomaly.clone();
        stored.version = 1;
        let doc = to_doc(&stored)?;
        let row = (
            stored.tenant_id.clone(),
            stored.id.clone(),
            millis(stored.last_activity_at),
        );
        self.run(move |c| {
            let written = c
                .execute(
                    "INSERT INTO anomalies (tenant_id, id, last_activity_at, version, doc)
                     VALUES (?1, ?2, ?3, 1, ?4) ON CONFLICT (tenant_id, id) DO NOTHING",
                    params![row.0, row.1, row.2, doc],
                )
                .map_err(sqlite_error)?;
            Ok(written == 1)
        })
        .await
    }

    async fn get_anomaly(
        &self,
        tenant_id: &str,
        anomaly_id: &str,
    ) -> Result<Option<Anomaly>, StoreError> {
        let (tenant, id) = (tenant_id.to_string(), anomaly_id.to_string());
        // As behaviour states: updates are conditional on the version read.
        let doc: Option<String> = self
            .run_before_sync(move |c| {
                first_doc(
                    c,
                    "SELECT doc FROM anomalies WHERE tenant_id = ?1 AND id = ?2",
                    params![tenant, id],
                )
            })
            .await?;
        doc.map(|d| from_doc("anomaly", &d)).transpose()
    }

    async fn update_anomaly(&self, anomaly: &Anomaly) -> Result<Anomaly, StoreError> {
        let expected = anomaly.version;
        let mut stored = anomaly.clone();
        stored.version = expected + 1;
        let doc = to_doc(&stored)?;
        let (tenant, id, last) = (
            stored.tenant_id.clone(),
            stored.id.clone(),
            millis(stored.last_activity_at),
        );
        self.run(move |c| {
            let written = c
                .execute(
                    "UPDATE anomalies SET doc = ?3, last_activity_at = ?4, version = ?5
                     WHERE tenant_id = ?1 AND id = ?2 AND version = ?6",
                    params![
                        tenant,
                        id,
                        doc,
                        last,
                        (expected + 1) as i64,
                        expected as i64
                    ],
                )
                .map_err(sqlite_error)?;
            if written == 0 {
                return Err(StoreError::Conflict {
                    what: format!("anomaly '{id}'"),
                });
            }
            Ok(())
        })
        .await?;
        Ok(stored)
    }

    async fn list_anomalies(
        &self,
        tenant_id: &str,
        limit: usize,
    ) -> Result<Vec<Anomaly>, StoreError> {
        let tenant = tenant_id.to_string();
        let rows = self
            .run(move |c| {
                collect_strings(
                    c,
                    "SELECT doc FROM anomalies WHERE tenant_id = ?1
                     ORDER BY last_activity_at DESC, id DESC LIMIT ?2",
                    params![tenant, limit as i64],
                )
            })
            .await?;
        docs("anomaly", rows)
    }

    async fn add_anomaly_activities(
        &self,
        tenant_id: &str,
        anomaly_id: &str,
        activities: &[(String, DateTime<Utc>)],
    ) -> Result<(), StoreError> {
        let (tenant, anomaly) = (tenant_id.to_string(), anomaly_id.to_string());
        let rows: Vec<(String, i64)> = activities
            .iter()
            .map(|(id, at)| (id.clone(), millis(*at)))
            .collect();
        self.run(move |c| {
            let mut insert = c
                .prepare_cached(
                    "INSERT INTO anomaly_activities (tenant_id, anomaly_id, activity_id, at)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                )
                .map_err(sqlite_error)?;
            for (id, at) in &rows {
                insert
                    .execute(params![tenant, anomaly, id, at])
                    .map_err(sqlite_error)?;
            }
            let count: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM anomaly_activities WHERE tenant_id = ?1 AND anomaly_id = ?2",
                    params![tenant, anomaly],
                    |row| row.get(0),
                )
                .map_err(sqlite_error)?;
            let excess = count - Anomaly::KEPT_ACTIVITIES as i64;
            if excess > 0 {
                c.execute(
                    "DELETE FROM anomaly_activities WHERE rowid IN (
                       SELECT rowid FROM anomaly_activities WHERE tenant_id = ?1 AND anomaly_id = ?2
                       ORDER BY at ASC, activity_id ASC LIMIT ?3)",
                    params![tenant, anomaly, excess],
                )
                .map_err(sqlite_error)?;
            }
            Ok(())
        })
        .await
    }

    async fn anomaly_activities(
        &self,
        tenant_id: &str,
        anomaly_id: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let (tenant, anomaly) = (tenant_id.to_string(), anomaly_id.to_string());
        self.run(move |c| {
            collect_strings(
                c,
                "SELECT activity_id FROM anomaly_activities WHERE tenant_id = ?1 AND anomaly_id = ?2
                 ORDER BY at DESC, activity_id DESC LIMIT ?3",
                params![tenant, anomaly, limit as i64],
            )
        })
        .await
    }
}
