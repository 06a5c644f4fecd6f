use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::group_commit::{Answer, GroupCommit};
use crate::domain::{
    enum_label, Activity, Checkpoint, Classification, Incident, Integration, StreamHealth,
};
use crate::ports::{
    ActivityQuery, ActivityStore, CheckpointStore, ClassificationStore, DedupStore, ExportRecord,
    ExportStore, IncidentQuery, IncidentStore, IntegrationPage, IntegrationStore, PolicyStore,
    StoreError, StoredActivity, StoredPolicySet,
};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS integrations (
    tenant_id TEXT NOT NULL,
    id        TEXT NOT NULL,
    doc       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE IF NOT EXISTS stream_checkpoints (
    stream     TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    health     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dedup_keys (
    key        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    key        TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS activities (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    actor_email    TEXT,
    event_time     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    doc            TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS activities_by_time ON activities (tenant_id, event_time);
CREATE INDEX IF NOT EXISTS activities_by_integration ON activities (tenant_id, integration_id, event_time);
CREATE INDEX IF NOT EXISTS activities_by_actor ON activities (tenant_id, actor_email, event_time);
CREATE TABLE IF NOT EXISTS incidents (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS incidents_by_time ON incidents (tenant_id, created_at);
CREATE TABLE IF NOT EXISTS policy_sets (
    tenant_id TEXT NOT NULL,
    version   INTEGER NOT NULL,
    doc       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);
CREATE TABLE IF NOT EXISTS classifications (
    tenant_id   TEXT NOT NULL,
    content_key TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, content_key)
);
CREATE TABLE IF NOT EXISTS queue_messages (
    message_id     TEXT PRIMARY KEY,
    queue          TEXT NOT NULL,
    body           TEXT NOT NULL,
    sent_at        INTEGER NOT NULL,
    visible_at     INTEGER NOT NULL,
    receive_count  INTEGER NOT NULL DEFAULT 0,
    receipt_handle TEXT
);
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at);
CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages (receipt_handle);
CREATE TABLE IF NOT EXISTS export_records (
    key        TEXT PRIMARY KEY,
    class_uid  INTEGER NOT NULL,
    time_ms    INTEGER NOT NULL,
    body       TEXT,
    batch_id   TEXT,
    done       INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS export_records_pending ON export_records (done, batch_id, time_ms);
CREATE TABLE IF NOT EXISTS behaviour (
    tenant_id TEXT NOT NULL,
    subject   TEXT NOT NULL,
    version   INTEGER NOT NULL,
    doc       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, subject)
);
CREATE TABLE IF NOT EXISTS anomalies (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    last_activity_at INTEGER NOT NULL,
    version          INTEGER NOT NULL,
    doc              TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS anomalies_by_time ON anomalies (tenant_id, last_activity_at);
CREATE TABLE IF NOT EXISTS anomaly_activities (
    tenant_id   TEXT NOT NULL,
    anomaly_id  TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, anomaly_id, activity_id)
);
CREATE INDEX IF NOT EXISTS anomaly_activities_by_time ON anomaly_activities (tenant_id, anomaly_id, at);
CREATE TABLE IF NOT EXISTS api_credentials (
    id        TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    purge_at  INTEGER,
    doc       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_credentials_by_tenant ON api_credentials (tenant_id);
CREATE TABLE IF NOT EXISTS block_entries (
    tenant_id TEXT NOT NULL,
    list      TEXT NOT NULL,
    value     TEXT NOT NULL,
    doc       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, list, value)
);
CREATE TABLE IF NOT EXISTS outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    sent_at    INTEGER NOT NULL,
    recipients TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL
);
"#;

/// Sets `mode` on `path` (Unix); elsewhere the platform's defaults stand.
fn owner_only(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// One SQLite database holding every store. Cheap to clone; clones share the connection and
/// its commit thread ([`GroupCommit`]), which closes when the last clone is dropped.
#[derive(Clone)]
pub struct Database {
    commits: Arc<GroupCommit>,
}

impl Database {
    /// Opens (creating if needed) the database file and brings its schema up to date. The
    /// data directory and the database (e-mail addresses, file names, link URLs) are made
    /// owner-only; SQLite gives its -wal and -shm files the database file's permissions.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let unavailable =
            |what: &str, e: std::io::Error| StoreError::Unavailable(format!("cannot {what}: {e}"));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| unavailable(&format!("create data directory {}", dir.display()), e))?;
            owner_only(dir, 0o700)
                .map_err(|e| unavailable(&format!("restrict {} to its owner", dir.display()), e))?;
        }
        let mut create = std::fs::OpenOptions::new();
        create.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
        create
            .open(path)
            .map_err(|e| unavailable(&format!("create database {}", path.display()), e))?;
        owner_only(path, 0o600)
            .map_err(|e| unavailable(&format!("restrict {} to its owner", path.display()), e))?;
        let connection = Connection::open(path).map_err(|e| {
            StoreError::Unavailable(format!("cannot open database {}: {e}", path.display()))
        })?;
        Self::prepare(connection)
    }

    /// An in-memory database, for unit tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::prepare(Connection::open_in_memory().map_err(sqlite_error)?)
    }

    fn prepare(connection: Connection) -> Result<Self, StoreError> {
        // WAL survives a process crash with every committed transaction intact and lets readers
        // run beside the writer. `synchronous = FULL` fsyncs the WAL at every commit, so what
        // was acknowledged (a webhook answered 200, a message sent) survives an operating-system
        // crash or power loss too; NORMAL may lose the last commits then. Group commit makes
        // concurrent writers share that fsync. The busy timeout covers a second process (the
        // `casb` admin commands) on the same file.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            )
            .map_err(sqlite_error)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite_error)?;
        connection.execute_batch(SCHEMA).map_err(sqlite_error)?;
        migrate(&connection)?;
        Ok(Database {
            commits: Arc::new(GroupCommit::start(connection)?),
        })
    }

    /// Runs `work` on the connection, off the async executor, in the next group transaction,
    /// and returns once that transaction is durable. Everything `work` writes is kept or
    /// rolled back as one: an error (or a panic) rolls back its own writes and nobody else's.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.commits.run(Answer::AfterSync, work).await
    }

    /// Like [`Database::run`], but answered as soon as `work` has run, before its group's
    /// commit reaches the disk: for queue receives and deletes only, whose loss in an
    /// operating-system crash brings a message back, which at-least-once consumers absorb (see
    /// [`Answer::BeforeSync`]). A worker deleting ten finished messages one by one need not wait
    /// for ten fsyncs.
    pub(crate) async fn run_before_sync<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.commits.run(Answer::BeforeSync, work).await
    }

    /// Group transactions committed since the database was opened (for tests and
    /// diagnostics: writers per commit = writes / this).
    pub fn groups_committed(&self) -> u64 {
        self.commits.groups_committed()
    }

    /// Deletes activities and dedup keys past their expiry (DynamoDB's TTL sweeper, locally).
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let now = millis(now);
        self.run(move |c| {
            let a = c
                .execute("DELETE FROM activities WHERE expires_at <= ?1", [now])
                .map_err(sqlite_error)?;
            let d = c
                .execute("DELETE FROM dedup_keys WHERE expires_at <= ?1", [now])
                .map_err(sqlite_error)?;
            let l = c
                .execute("DELETE FROM leases WHERE expires_at <= ?1", [now])
                .map_err(sqlite_error)?;
            // Only exported keys expire: a record still waiting is never dropped.
            let e = c
                .execute(
                    "DELETE FROM export_records WHERE done = 1 AND expires_at <= ?1",
                    [now],
                )
                .map_err(sqlite_error)?;
            let t = c
                .execute("DELETE FROM api_credentials WHERE purge_at <= ?1", [now])
                .map_err(sqlite_error)?;
            Ok(a + d + l + e + t)
        })
        .await
    }
}

/// Records `key` until `expires_at` unless it is recorded and unexpired at `now`; `true` if
/// written. The expiry is checked in the write itself (no sweeper needed for correctness).
pub(crate) fn insert_dedup_key(
    c: &Connection,
    key: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let written = c
        .execute(
            "INSERT INTO dedup_keys (key, expires_at) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
             WHERE dedup_keys.expires_at <= ?3",
            params![key, millis(expires_at), millis(now)],
        )
        .map_err(sqlite_error)?;
    Ok(written == 1)
}

pub(crate) fn sqlite_error(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
}

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub(super) fn to_doc<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt {
        what: "record".into(),
        message: e.to_string(),
    })
}

pub(super) fn from_doc<T: DeserializeOwned>(what: &str, doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt {
        what: what.to_string(),
        message: e.to_string(),
    })
}

pub(super) fn docs<T: DeserializeOwned>(
    what: &str,
    rows: Vec<String>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(|doc| from_doc(what, doc)).collect()
}

#[async_trait]
impl IntegrationStore for Database {
    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        let (tenant, id, doc) = (
            integration.tenant_id.clone(),
            integration.id.clone(),
            to_doc(integration)?,
        );
        self.run(move |c| {
            c.execute(
                "INSERT INTO integrations (tenant_id, id, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id, id) DO UPDATE SET doc = excluded.doc",
                params![tenant, id, doc],
            )
            .map_err(sqlite_error)?;
            Ok(())
        })
        .await
    }

    async fn get_integration(
        &self,
        tenant_id: &str,
        integration_id: &str,
    ) -> Result<Option<Integration>, StoreError> {
        let (tenant, id) = (tenant_id.to_string(), integration_id.to_string());
        let doc: Option<String> = self
            .run(move |c| {
                first_doc(
                    c,
                    "SELECT doc FROM integrations WHERE tenant_id = ?1 AND id = ?2",
                    params![tenant, id],
                )
            })
            .await?;
        doc.map(|d| from_doc("integration", &d)).transpose()
    }

    async fn list_integrations(&self, tenant_id: &str) -> Result<Vec<Integration>, StoreError> {
        let tenant = tenant_id.to_string();
        let rows = self
            .run(move |c| {
                collect_strings(
                    c,
                    "SELECT doc FROM integrations WHERE tenant_id = ?1 ORDER BY id",
                    params![tenant],
                )
            })
            .await?;
        docs("integration", rows)
    }

    async fn list_integrations_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<IntegrationPage, StoreError> {
        // Keyset paging on (tenant_id, id): stable while integrations are added or removed.
        let (after_tenant, after_id) = match after {
            Some(cursor) => crate::ports::page_cursor::decode(cursor)?,
            None => (String::new(), String::new()),
        };
        let limit = limit.clamp(1, 1000);
        let rows = self
            .run(move |c| {
                collect_strings(
                    c,
                    "SELECT doc FROM integrations WHERE (tenant_id, id) > (?1, ?2)
                     ORDER BY tenant_id, id LIMIT ?3",
                    params![after_tenant, after_id, limit as i64],
                )
            })
            .await?;
        let integrations: Vec<Integration> = docs("integration", rows)?;
        let next = (integrations.len() == limit)
            .then(|| integrations.last())
            .flatten()
            .map(|last| crate::ports::page_cursor::encode(&last.tenant_id, &last.id));
        Ok(IntegrationPage { integrations, next })
    }
}

/// Brings a database made by an earlier version up to this schema.
fn migrate(c: &Connection) -> Result<(), StoreError> {
    // When each activity was first stored, for the SIEM log (`activity_log`); activities
    // stored before the column existed take their event time.
    let has_stored_at = c
        .prepare("SELECT 1 FROM pragma_table_info('activities') WHERE name = 'stored_at'")
        .and_then(|mut s| s.exists([]))
        .map_err(sqlite_error)?;
    if !has_stored_at {
        c.execute_batch(
            "ALTER TABLE activities ADD COLUMN stored_at INTEGER;
             UPDATE activities SET stored_at = event_time WHERE stored_at IS NULL;",
        )
        .map_err(sqlite_error)?;
    }
    c.execute_batch(
        "CREATE INDEX IF NOT EXISTS activities_by_stored ON activities (tenant_id, stored_at, id);",
    )
    .map_err(sqlite_error)
}

/// The first column of the first row, if there is one (a `doc` by its key).
pub(super) fn first_doc(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<String>, StoreError> {
    c.query_row(sql, params, |row| row.get(0))
        .optional()
        .map_err(sqlite_error)
}

pub(super) fn collect_strings(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<String>, StoreError> {
    let mut statement = c.prepare(sql).map_err(sqlite_error)?;
    let rows = statement
        .query_map(params, |row| row.get::<_, String>(0))
        .map_err(sqlite_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_error)
}

fn checkpoint_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Checkpoint, String)> {
    Ok((
        Checkpoint {
            stream: row.get(0)?,
            cursor: row.get(1)?,
            version: row.get::<_, i64>(2)? as u64,
            updated_at: from_millis(row.get(3)?),
            health: StreamHealth::default(),
        },
        row.get(4)?,
    ))
}

fn with_health((mut checkpoint, health): (Checkpoint, String)) -> Result<Checkpoint, StoreError> {
    checkpoint.health = from_doc("stream health", &health)?;
    Ok(checkpoint)
}

#[async_trait]
impl CheckpointStore for Database {
    async fn get_checkpoint(&self, stream: &str) -> Result<Option<Checkpoint>, StoreError> {
        let stream = stream.to_string();
        self.run(move |c| {
            c.query_row(
                "SELECT stream, cursor, version, updated_at, health FROM stream_checkpoints
                 WHERE stream = ?1",
                [&stream],
                checkpoint_row,
            )
            .optional()
            .map_err(sqlite_error)
        })
        .await?
        .map(with_health)
        .transpose()
    }

    async fn put_checkpoint(
        &self,
        stream: &str,
        cursor: &str,
        health: &StreamHealth,
        expected_version: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Checkpoint, StoreError> {
        let (stream, cursor) = (stream.to_string(), cursor.to_string());
        let health = health.clone();
        let health_doc = to_doc(&health)?;
        let new_version = expected_version.unwrap_or(0) + 1;
        self.run(move |c| {
            let written = match expected_version {
                None => c.execute(
                    "INSERT INTO stream_checkpoints (stream, cursor, version, updated_at, health)
                     VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT (stream) DO NOTHING",
                    params![stream, cursor, millis(now), health_doc],
                ),
                Some(expected) => c.execute(
                    "UPDATE stream_checkpoints SET cursor = ?2, version = ?3, updated_at = ?4,
                     health = ?5 WHERE stream = ?1 AND version = ?6",
                    params![
                        stream,
                        cursor,
                        new_version as i64,
                        millis(now),
                        health_doc,
                        expected as i64
                    ],
                ),
            }
            .map_err(sqlite_error)?;
            if written == 0 {
                return Err(StoreError::Conflict {
                    what: format!("checkpoint '{stream}'"),
                });
            }
            Ok(Checkpoint {
                stream,
                cursor,
                version: new_version,
                updated_at: now,
                health,
            })
        })
        .await
    }

    async fn list_checkpoints(&self, prefix: &str) -> Result<Vec<Checkpoint>, StoreError> {
        let prefix = prefix.to_string();
        let rows = self
            .run(move |c| {
                let mut statement = c
                    .prepare(
                        "SELECT stream, cursor, version, updated_at, health FROM stream_checkpoints
                         WHERE substr(stream, 1, length(?1)) = ?1 ORDER BY stream",
                    )
                    .map_err(sqlite_error)?;
                let rows = statement
                    .query_map([&prefix], checkpoint_row)
                    .map_err(sqlite_error)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_error)
            })
            .await?;
        rows.into_iter().map(with_health).collect()
    }
}

#[async_trait]
impl DedupStore for Database {
    async fn insert_if_absent(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.run(move |c| insert_dedup_key(c, &key, expires_at, now))
            .await
    }

    async fn contains(&self, key: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.run(move |c| {
            c.query_row(
                "SELECT 1 FROM dedup_keys WHERE key = ?1 AND expires_at > ?2",
                params![key, millis(now)],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(sqlite_error)
        })
        .await
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_string();
        self.run(move |c| {
            c.execute("DELETE FROM dedup_keys WHERE key = ?1", [key])
                .map_err(sqlite_error)?;
            Ok(())
        })
        .await
    }

    async fn acquire_lease(
        &self,
        key: &str,
        owner: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (key, owner) = (key.to_string(), owner.to_string());
        self.run(move |c| {
            let written = c
                .execute(
                    "INSERT INTO leases (key, owner, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key) DO UPDATE SET owner = excluded.owner,
                     expires_at = excluded.expires_at
                     WHERE leases.owner = excluded.owner OR leases.expires_at <= ?4",
                    params![key, owner, millis(expires_at), millis(now)],
                )
                .map_err(sqlite_error)?;
            Ok(written == 1)
        })
        .await
    }

    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let (key, owner) = (key.to_string(), owner.to_string());
        self.run(move |c| {
            c.execute(
                "DELETE FROM leases WHERE key = ?1 AND owner = ?2",
                params![key, owner],
            )
            .map_err(sqlite_error)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl ActivityStore for Database {
    async fn put_activity(
        &self,
        activity: &Activity,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let doc = to_doc(activity)?;
        let row = (
            activity.tenant_id.clone(),
            activity.id(),
            activity.integration_id.clone(),
            activity.actor_email.clone(),
            millis(activity.event_timestamp),
        );
        self.run(move |c| {
            c.execute(
                "INSERT INTO activities (tenant_id, id, integration_id, actor_email, event_time, expires_at, doc, stored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (tenant_id, id) DO UPDATE SET doc = excluded.doc, expires_at = excluded.expires_at",
                params![row.0, row.1, row.2, row.3, row.4, millis(expires_at), doc, millis(Utc::now())],
            )
            .map_err(sqlite_error)?;
            Ok(())
        })
        .await
    }

    async fn get_activity(
        &self,
        tenant_id: &str,
        activity_id: &str,
    ) -> Result<Option<Activity>, StoreError> {
        let (tenant, id) = (tenant_id.to_string(), activity_id.to_string());
        let doc: Option<String> = self
            .run(move |c| {
                first_doc(
                    c,
                    "SELECT doc FROM activities WHERE tenant_id = ?1 AND id = ?2",
                    params![tenant, id],
                )
            })
            .await?;
        doc.map(|d| from_doc("activity", &d)).transpose()
    }

    async fn get_activities(
        &self,
        tenant_id: &str,
        activity_ids: &[String],
    ) -> Result<Vec<Activity>, StoreError> {
        let tenant = tenant_id.to_string();
        let ids = activity_ids.to_vec();
        let rows = self
            .run(move |c| {
                let mut docs = Vec::with_capacity(ids.len());
                // SQLite's default limit on parameters is 32766; a few hundred at a time.
                for chunk in ids.chunks(500) {
                    let placeholders = vec!["?"; chunk.len()].join(",");
                    let sql = format!(
                        "SELECT doc FROM activities WHERE tenant_id = ? AND id IN ({placeholders})"
                    );
                    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&tenant];
                    values.extend(chunk.iter().map(|id| id as &dyn rusqlite::ToSql));
                    docs.extend(collect_strings(c, &sql, values.as_slice())?);
                }
                Ok(docs)
            })
            .await?;
        docs("activity", rows)
    }

    async fn query_activities(&self, query: &ActivityQuery) -> Result<Vec<Activity>, StoreError> {
        let query = query.clone();
        let rows = self
            .run(move |c| {
                collect_strings(
                    c,
                    "SELECT doc FROM activities
                     WHERE tenant_id = ?1
                       AND (?2 IS NULL OR integration_id = ?2)
                       AND (?3 IS NULL OR actor_email = ?3)
                       AND (?4 IS NULL OR event_time >= ?4)
                       AND (?5 IS NULL OR event_time <= ?5)
                       AND (?6 IS NULL OR event_time < ?6 OR (event_time = ?6 AND id < ?7))
                     ORDER BY event_time DESC, id DESC
                     LIMIT ?8",
                    params![
                        query.tenant_id,
                        query.integration_id,
                        query.actor_email,
                        query.from.map(millis),
                        query.to.map(millis),
                        query.before.as_ref().map(|(t, _)| millis(*t)),
                        query.before.as_ref().map(|(_, id)| id.clone()),
                        query.limit as i64
                    ],
                )
            })
            .await?;
        docs("activity", rows)
    }

    async fn activity_log(
        &self,
        tenant_id: &str,
        after: Option<&(DateTime<Utc>, String)>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredActivity>, StoreError> {
        let tenant = tenant_id.to_string();
        let after = after.map(|(t, id)| (millis(*t), id.clone()));
        let rows: Vec<(i64, String)> = self
            .run(move |c| {
                let mut statement = c
                    .prepare(
                        "SELECT stored_at, doc FROM activities
                         WHERE tenant_id = ?1 AND stored_at < ?2
                           AND (?3 IS NULL OR stored_at > ?3 OR (stored_at = ?3 AND id > ?4))
                         ORDER BY stored_at, id LIMIT ?5",
                    )
                    .map_err(sqlite_error)?;
                let rows = statement
                    .query_map(
                        params![
                            tenant,
                            millis(until),
                            after.as_ref().map(|(t, _)| *t),
                            after.as_ref().map(|(_, id)| id.clone()),
                            limit as i64
                        ],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .map_err(sqlite_error)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_error)
            })
            .await?;
        rows.into_iter()
            .map(|(stored_at, doc)| {
                Ok(StoredActivity {
                    activity: from_doc("activity", &doc)?,
                    stored_at: from_millis(stored_at),
                })
            })
            .collect()
    }
}

#[async_trait]
impl IncidentStore for Database {
    async fn create_incident(&self, incident: &Incident) -> Result<bool, StoreError> {
        let mut stored = incident.clone();
        stored.version = 1;
        let doc = to_doc(&stored)?;
        let row = (
            stored.tenant_id.clone(),
            stored.id.clone(),
            enum_label(&stored.status),
            millis(stored.created_at),
        );
        self.run(move |c| {
            let written = c
                .execute(
                    "INSERT INTO incidents (tenant_id, id, status, created_at, version, doc)
                     VALUES (?1, ?2, ?3, ?4, 1, ?5) ON CONFLICT (tenant_id, id) DO NOTHING",
                    params![row.0, row.1, row.2, row.3, doc],
                )
                .map_err(sqlite_error)?;
            Ok(written == 1)
        })
        .await
    }

    async fn get_incident(
        &self,
        tenant_id: &str,
        incident_id: &str,
    ) -> Result<Option<Incident>, StoreError> {
        let (tenant, id) = (tenant_id.to_string(), incident_id.to_string());
        let doc: Option<String> = self
            .run(move |c| {
                first_doc(
                    c,
                    "SELECT doc FROM incidents WHERE tenant_id = ?1 AND id = ?2",
                    params![tenant, id],
                )
            })
            .await?;
        doc.map(|d| from_doc("incident", &d)).transpose()
    }

    async fn update_incident(&self, incident: &Incident) -> Result<Incident, StoreError> {
        let expected = incident.version;
        let mut stored = incident.clone();
        stored.version = expected + 1;
        let doc = to_doc(&stored)?;
        let (tenant, id, status) = (
            stored.tenant_id.clone(),
            stored.id.clone(),
            enum_label(&stored.status),
        );
        self.run(move |c| {
            let written = c
                .execute(
                    "UPDATE incidents SET doc = ?3, status = ?4, version = ?5
                     WHERE tenant_id = ?1 AND id = ?2 AND version = ?6",
                    params![
                        tenant,
                        id,
                        doc,
                        status,
                        (expected + 1) as i64,
                        expected as i64
                    ],
                )
                .map_err(sqlite_error)?;
            if written == 0 {
                return Err(StoreError::Conflict {
                    what: format!("incident '{id}'"),
                });
            }
            Ok(())
        })
        .await?;
        Ok(stored)
    }

    async fn query_incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>, StoreError> {
        let query = query.clone();
        let status = query.status.map(|s| enum_label(&s));
        let rows = self
            .run(move |c| {
                collect_strings(
                    c,
                    "SELECT doc FROM incidents
                     WHERE tenant_id = ?1
                       AND (?2 IS NULL OR status = ?2)
                       AND (?3 IS NULL OR created_at >= ?3)
                       AND (?4 IS NULL OR created_at <= ?4)
                       AND (?5 IS NULL OR created_at < ?5 OR (created_at = ?5 AND id < ?6))
                     ORDER BY created_at DESC, id DESC LIMIT ?7",
                    params![
                        query.tenant_id,
                        status,
                        query.from.map(millis),
                        query.to.map(millis),
                        query.before.as_ref().map(|(t, _)| millis(*t)),
                        query.before.as_ref().map(|(_, id)| id.clone()),
                        query.limit as i64
                    ],
                )
            })
            .await?;
        docs("incident", rows)
    }
}

#[async_trait]
impl PolicyStore for Database {
    async fn put_policy_set(&self, set: &StoredPolicySet) -> Result<(), StoreError> {
        let doc = to_doc(set)?;
        let (tenant, version) = (set.tenant_id.clone(), set.version as i64);
        self.run(move |c| {
            let written = c
                .execute(
                    "INSERT INTO policy_sets (tenant_id, version, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (tenant_id, version) DO NOTHING",
                    params![tenant, version, doc],
                )
                .map_err(sqlite_error)?;
            if written == 0 {
                return Err(StoreError::Conflict {
                    what: format!("policy set version {version} of tenant '{tenant}'"),
                });
            }
            Ok(())
        })
        .await
    }

    async fn latest_policy_set(
        &self,
        tenant_id: &str,
    ) -> Result<Option<StoredPolicySet>, StoreError> {
        let tenant = tenant_id.to_string();
        let doc: Option<String> = self
            .run(move |c| {
                first_doc(
                    c,
                    "SELECT doc FROM policy_sets WHERE tenant_id = ?1
                     ORDER BY version DESC LIMIT 1",
                    params![tenant],
                )
            })
            .await?;
        doc.map(|d| from_doc("policy set", &d)).transpose()
    }

    async fn get_policy_set(
        &self,
        tenant_id: &str,
        version: u64,
    ) -> Result<Option<StoredPolicySet>, StoreError> {
        let tenant = tenant_id.to_string();
        let doc: Option<String> = self
            .run(move |c| {
                first_doc(
                    c,
                    "SELECT doc FROM policy_sets WHERE tenant_id = ?1 AND version = ?2",
                    params![tenant, version as i64],
                )
            })
            .await?;
        doc.map(|d| from_doc("policy set", &d)).transpose()
    }
}

#[async_trait]
impl ClassificationStore for Database {
    async fn get_classification(
        &self,
        tenant_id: &str,
        content_key: &str,
    ) -> Result<Option<Classification>, StoreError> {
        let (tenant, key) = (tenant_id.to_string(), content_key.to_string());
        let now = millis(Utc::now());
        let doc: Option<String> = self
            .run(move |c| {
                first_doc(
                    c,
                    "SELECT doc FROM classifications
                     WHERE tenant_id = ?1 AND content_key = ?2 AND expires_at > ?3",
                    params![tenant, key, now],
                )
            })
            .await?;
        doc.map(|d| from_doc("classification", &d)).transpose()
    }

    async fn put_classification(
        &self,
        classification: &Classification,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let doc = to_doc(classification)?;
        let (tenant, key) = (
            classification.tenant_id.clone(),
            classification.content_key.clone(),
        );
        let expires = millis(expires_at);
        self.run(move |c| {
            c.execute(
                "INSERT INTO classifications (tenant_id, content_key, expires_at, doc)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant_id, content_key) DO UPDATE SET expires_at = ?3, doc = ?4",
                params![tenant, key, expires, doc],
            )
            .map_err(sqlite_error)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_database_runs_in_wal_mode_with_synchronous_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("casb.db");
        let db = Database::open(&path).unwrap();
        let (journal, synchronous): (String, i64) = db
            .run(|c| {
                let journal = c
                    .query_row("PRAGMA journal_mode", [], |row| row.get(0))
                    .map_err(sqlite_error)?;
                let synchronous = c
                    .query_row("PRAGMA synchronous", [], |row| row.get(0))
                    .map_err(sqlite_error)?;
                Ok((journal, synchronous))
            })
            .await
            .unwrap();
        assert_eq!(journal, "wal");
        // 2 = FULL: the WAL is synced at every commit, so an acknowledged write survives an
        // operating-system crash (NORMAL, 1, would not).
        assert_eq!(synchronous, 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(path.parent().unwrap()), 0o700);
            assert_eq!(mode(&path), 0o600);
        }
    }
}

#[async_trait]
impl ExportStore for Database {
    async fn add_export_records(
        &self,
        records: &[ExportRecord],
        keep_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let records = records.to_vec();
        let expires = millis(keep_until);
        self.run(move |c| {
            // One savepoint of the group transaction: all the records or none.
            {
                let mut insert = c
                    .prepare_cached(
                        "INSERT INTO export_records (key, class_uid, time_ms, body, expires_at)
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key) DO NOTHING",
                    )
                    .map_err(sqlite_error)?;
                for r in &records {
                    insert
                        .execute(params![r.key, r.class_uid, r.time_ms, r.body, expires])
                        .map_err(sqlite_error)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn claim_export_batch(
        &self,
        batch_id: &str,
        limit: usize,
    ) -> Result<Vec<ExportRecord>, StoreError> {
        let batch = batch_id.to_string();
        self.run(move |c| {
            c.execute(
                "UPDATE export_records SET batch_id = ?1 WHERE key IN (
                     SELECT key FROM export_records WHERE done = 0 AND batch_id IS NULL
                     ORDER BY time_ms LIMIT ?2)",
                params![batch, limit as i64],
            )
            .map_err(sqlite_error)?;
            batch_records(c, &batch)
        })
        .await
    }

    async fn open_export_batches(&self) -> Result<Vec<String>, StoreError> {
        self.run(|c| {
            let mut query = c
                .prepare(
                    "SELECT DISTINCT batch_id FROM export_records
                     WHERE done = 0 AND batch_id IS NOT NULL ORDER BY batch_id",
                )
                .map_err(sqlite_error)?;
            let ids = query
                .query_map([], |row| row.get(0))
                .map_err(sqlite_error)?
                .collect::<Result<Vec<String>, _>>()
                .map_err(sqlite_error)?;
            Ok(ids)
        })
        .await
    }

    async fn export_batch_records(&self, batch_id: &str) -> Result<Vec<ExportRecord>, StoreError> {
        let batch = batch_id.to_string();
        self.run(move |c| batch_records(c, &batch)).await
    }

    async fn complete_export_batch(&self, batch_id: &str) -> Result<(), StoreError> {
        let batch = batch_id.to_string();
        self.run(move |c| {
            // The body is not needed any more; the key is, to refuse a second export.
            c.execute(
                "UPDATE export_records SET done = 1, body = NULL WHERE batch_id = ?1",
                [batch],
            )
            .map(|_| ())
            .map_err(sqlite_error)
        })
        .await
    }
}

fn batch_records(c: &Connection, batch: &str) -> Result<Vec<ExportRecord>, StoreError> {
    let mut query = c
        .prepare_cached(
            "SELECT key, class_uid, time_ms, body FROM export_records
             WHERE batch_id = ?1 AND done = 0 ORDER BY time_ms, key",
        )
        .map_err(sqlite_error)?;
    let records = query
        .query_map([batch], |row| {
            Ok(ExportRecord {
                key: row.get(0)?,
                class_uid: row.get(1)?,
                time_ms: row.get(2)?,
                body: row.get::<_, Option<String>>(3)?.unwrap_or_default(),
            })
        })
        .map_err(sqlite_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite_error)?;
    Ok(records)
}
