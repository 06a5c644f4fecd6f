//! A second, read-only-in-practice connection to a `casb serve` data directory's SQLite
//! database (WAL lets it read beside the writer, in this process or in another one). The
//! benchmark counts and reads through it so that measuring does not queue behind the product's
//! own connection.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use casb_shared::domain::{Activity, Incident};
use rusqlite::{Connection, OpenFlags};

#[derive(Clone)]
pub struct Reader {
    connection: Arc<Mutex<Connection>>,
}

impl Reader {
    /// Opens `data_dir/casb.db`, which must exist (the product creates it).
    pub fn open(data_dir: &Path) -> anyhow::Result<Reader> {
        let path = data_dir.join("casb.db");
        let connection = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening {}", path.display()))?;
        connection.busy_timeout(Duration::from_secs(10))?;
        Ok(Reader {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let connection = self.connection.clone();
        let result = tokio::task::spawn_blocking(move || {
            let guard = connection.lock().unwrap_or_else(|e| e.into_inner());
            work(&guard)
        })
        .await?;
        Ok(result?)
    }

    pub async fn activity_count(&self, tenant: &str) -> anyhow::Result<u64> {
        let tenant = tenant.to_string();
        self.run(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM activities WHERE tenant_id = ?1",
                [tenant],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
        .await
    }

    pub async fn activities(&self, tenant: &str) -> anyhow::Result<Vec<Activity>> {
        let tenant = tenant.to_string();
        let docs: Vec<String> = self
            .run(move |c| {
                let mut statement = c.prepare("SELECT doc FROM activities WHERE tenant_id = ?1")?;
                let rows = statement.query_map([tenant], |row| row.get(0))?;
                rows.collect()
            })
            .await?;
        docs.iter()
            .map(|doc| serde_json::from_str(doc).context("an activity document"))
            .collect()
    }

    /// Ids of the tenant's incidents (cheap: no documents).
    pub async fn incident_ids(&self, tenant: &str) -> anyhow::Result<Vec<String>> {
        let tenant = tenant.to_string();
        self.run(move |c| {
            let mut statement = c.prepare("SELECT id FROM incidents WHERE tenant_id = ?1")?;
            let rows = statement.query_map([tenant], |row| row.get(0))?;
            rows.collect()
        })
        .await
    }

    pub async fn incident(&self, tenant: &str, id: &str) -> anyhow::Result<Option<Incident>> {
        let (tenant, id) = (tenant.to_string(), id.to_string());
        let doc: Option<String> = self
            .run(move |c| {
                let mut statement =
                    c.prepare("SELECT doc FROM incidents WHERE tenant_id = ?1 AND id = ?2")?;
                let mut rows = statement.query_map([tenant, id], |row| row.get(0))?;
                rows.next().transpose()
            })
            .await?;
        doc.map(|doc| serde_json::from_str(&doc).context("an incident document"))
            .transpose()
    }

    pub async fn incidents(&self, tenant: &str) -> anyhow::Result<Vec<Incident>> {
        let tenant = tenant.to_string();
        let docs: Vec<String> = self
            .run(move |c| {
                let mut statement = c.prepare("SELECT doc FROM incidents WHERE tenant_id = ?1")?;
                let rows = statement.query_map([tenant], |row| row.get(0))?;
                rows.collect()
            })
            .await?;
        docs.iter()
            .map(|doc| serde_json::from_str(doc).context("an incident document"))
            .collect()
    }

    /// Messages per queue (visible or in flight), dead-letter queues included (`*-dlq`).
    pub async fn queue_depths(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        self.run(|c| {
            let mut statement =
                c.prepare("SELECT queue, COUNT(*) FROM queue_messages GROUP BY queue")?;
            let rows = statement.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
            })?;
            rows.collect()
        })
        .await
    }

    /// Bodies of the notification e-mails kept in the local outbox.
    pub async fn outbox_bodies(&self) -> anyhow::Result<Vec<String>> {
        self.run(|c| {
            let mut statement = c.prepare("SELECT body FROM outbox")?;
            let rows = statement.query_map([], |row| row.get(0))?;
            rows.collect()
        })
        .await
    }
}
