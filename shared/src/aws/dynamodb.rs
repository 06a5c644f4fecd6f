use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::describe;
use crate::access::ApiCredential;
use crate::domain::{
    enum_label, Activity, Anomaly, BlockEntry, BlockList, Checkpoint, Classification, Incident,
    Integration, StreamHealth,
};
use crate::ports::{
    page_cursor, AccessStore, ActivityQuery, ActivityStore, CheckpointStore, ClassificationStore,
    DedupStore, ExportRecord, ExportStore, IncidentQuery, IncidentStore, IntegrationPage,
    IntegrationStore, PolicyStore, StoreError, StoredActivity, StoredPolicySet, ThreatStore,
};
use crate::threat::BehaviourState;

type Item = HashMap<String, AttributeValue>;

/// The DynamoDB tables, by name (template.yaml creates them; `provision` creates them in moto).
#[derive(Debug, Clone)]
pub struct TableNames {
    pub integrations: String,
    pub checkpoints: String,
    pub dedup: String,
    pub activities: String,
    pub incidents: String,
    pub policies: String,
    pub classifications: String,
    pub exports: String,
    /// Behaviour states, anomalies and the activities behind them (one table, `pk`/`sk`).
    pub threats: String,
    /// The REST API's credentials and the tenants' block lists (one table, `pk`/`sk`).
    pub access: String,
}

impl TableNames {
    /// The names `provision` and the tests use: `{prefix}-integrations`, ...
    pub fn with_prefix(prefix: &str) -> Self {
        TableNames {
            integrations: format!("{prefix}-integrations"),
            checkpoints: format!("{prefix}-checkpoints"),
            dedup: format!("{prefix}-dedup"),
            activities: format!("{prefix}-activities"),
            incidents: format!("{prefix}-incidents"),
            policies: format!("{prefix}-policies"),
            classifications: format!("{prefix}-classifications"),
            exports: format!("{prefix}-exports"),
            threats: format!("{prefix}-threats"),
            access: format!("{prefix}-access"),
        }
    }
}

/// Global secondary indexes (see template.yaml).
pub(crate) const ACTIVITIES_BY_TIME: &str = "by_time";
pub(crate) const ACTIVITIES_BY_INTEGRATION: &str = "by_integration";
pub(crate) const ACTIVITIES_BY_ACTOR: &str = "by_actor";
/// A tenant's activities in the order they were first stored (the SIEM log).
pub(crate) const ACTIVITIES_BY_STORED: &str = "by_stored";
pub(crate) const INCIDENTS_BY_CREATED: &str = "by_created";
/// Export records not in a batch yet, oldest first (sparse: `pending` is removed on claim).
pub(crate) const EXPORTS_PENDING: &str = "pending_by_time";
/// Batch manifests not completed yet (sparse: `open_manifest` is removed on completion).
pub(crate) const EXPORTS_OPEN_BATCHES: &str = "open_batches";

/// A tenant's anomalies, the most recently active first.
pub(crate) const ANOMALIES_BY_ACTIVITY: &str = "anomalies_by_activity";
/// A tenant's API credentials, by creation.
pub(crate) const CREDENTIALS_BY_TENANT: &str = "credentials_by_tenant";

/// Every store on DynamoDB, one table each.
#[derive(Clone)]
pub struct DynamoStores {
    client: Client,
    tables: TableNames,
}

impl DynamoStores {
    pub fn new(client: Client, tables: TableNames) -> Self {
        DynamoStores { client, tables }
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unavailable<E: std::error::Error>(error: E) -> StoreError {
    StoreError::Unavailable(format!("dynamodb: {}", describe(&error)))
}

fn to_doc<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(value)
        .map(AttributeValue::S)
        .map_err(|e| StoreError::Corrupt {
            what: "record".into(),
            message: e.to_string(),
        })
}

fn from_item<T: DeserializeOwned>(what: &str, item: &Item) -> Result<T, StoreError> {
    let doc = item
        .get("doc")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt {
            what: what.to_string(),
            message: "item has no 'doc' attribute".into(),
        })?;
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt {
        what: what.to_string(),
        message: e.to_string(),
    })
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A sortable key for time-ordered indexes: zero-padded milliseconds, then the id as tiebreak.
fn time_key(t: DateTime<Utc>, id: &str) -> String {
    format!("{:013}#{id}", t.timestamp_millis().max(0))
}

/// The sort-key range of a newest-first, keyset-paged query on a [`time_key`] attribute: from
/// `from` to `to`, ending at the cursor's key (exclusive: the key condition includes it, so it
/// is read and dropped).
struct KeyRange {
    low: String,
    high: String,
    cursor_key: Option<String>,
}

impl KeyRange {
    fn new(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        before: Option<&(DateTime<Utc>, String)>,
    ) -> Self {
        let low = from.map_or_else(
            || "0".repeat(13),
            |t| format!("{:013}", t.timestamp_millis().max(0)),
        );
        let mut high = to.map_or_else(
            || "9".repeat(13) + "#~",
            |t| format!("{:013}#~", t.timestamp_millis().max(0)),
        );
        let cursor_key = before.map(|(t, id)| time_key(*t, id));
        if let Some(key) = &cursor_key {
            high = high.min(key.clone());
        }
        KeyRange {
            low,
            high,
            cursor_key,
        }
    }

    /// Items to read for a page of `limit`: one more when the cursor's own item may come back.
    fn fetch(&self, limit: usize) -> usize {
        limit + usize::from(self.cursor_key.is_some())
    }

    /// The page: the items read, without the cursor's own.
    fn page<'a>(
        &'a self,
        items: &'a [Item],
        attribute: &'a str,
        limit: usize,
    ) -> impl Iterator<Item = &'a Item> + 'a {
        items
            .iter()
            .filter(move |item| {
                self.cursor_key.is_none()
                    || item.get(attribute).and_then(|v| v.as_s().ok()) != self.cursor_key.as_ref()
            })
            .take(limit)
    }
}

fn is_conditional_failure<E>(error: &aws_sdk_dynamodb::error::SdkError<E>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

impl DynamoStores {
    /// Puts `item` into a `pk`/`sk` table unless its key exists; `true` if it was written.
    async fn put_new(&self, table: &str, item: Item) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_doc(&self, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item)
    }

    /// Runs a query to the end (or until `limit` items), newest first.
    async fn query_all(
        &self,
        table: &str,
        index: Option<&str>,
        partition: (&str, AttributeValue),
        range: Option<(&str, String, String)>,
        filter: Option<(&str, HashMap<String, AttributeValue>)>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_items(table, index, partition, range, filter, limit, false)
            .await
    }

    /// Runs a query to the end (or until `limit` items), in the sort key's order when
    /// `ascending`, else in reverse.
    #[allow(clippy::too_many_arguments)]
    async fn query_items(
        &self,
        table: &str,
        index: Option<&str>,
        partition: (&str, AttributeValue),
        range: Option<(&str, String, String)>,
        filter: Option<(&str, HashMap<String, AttributeValue>)>,
        limit: usize,
        ascending: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut condition = "#p = :p".to_string();
        let mut names = HashMap::from([("#p".to_string(), partition.0.to_string())]);
        let mut values = HashMap::from([(":p".to_string(), partition.1)]);
        if let Some((attribute, low, high)) = range {
            condition.push_str(" AND #r BETWEEN :low AND :high");
            names.insert("#r".into(), attribute.to_string());
            values.insert(":low".into(), s(low));
            values.insert(":high".into(), s(high));
        }
        let filter_expression = filter.map(|(expression, filter_values)| {
            values.extend(filter_values);
            expression.to_string()
        });
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(table)
                .set_index_name(index.map(str::to_string))
                .key_condition_expression(&condition)
                .set_filter_expression(filter_expression.clone())
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(ascending)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(output.items.unwrap_or_default());
            if items.len() >= limit {
                items.truncate(limit);
                return Ok(items);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }
}

#[async_trait]
impl IntegrationStore for DynamoStores {
    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.integrations)
            .item("tenant_id", s(&integration.tenant_id))
            .item("id", s(&integration.id))
            .item("doc", to_doc(integration)?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_integration(
        &self,
        tenant_id: &str,
        integration_id: &str,
    ) -> Result<Option<Integration>, StoreError> {
        let key = HashMap::from([
            ("tenant_id".into(), s(tenant_id)),
            ("id".into(), s(integration_id)),
        ]);
        self.get_doc(&self.tables.integrations, key)
            .await?
            .map(|item| from_item("integration", &item))
            .transpose()
    }

    async fn list_integrations(&self, tenant_id: &str) -> Result<Vec<Integration>, StoreError> {
        let items = self
            .query_all(
                &self.tables.integrations,
                None,
                ("tenant_id", s(tenant_id)),
                None,
                None,
                usize::MAX,
            )
            .await?;
        let mut integrations: Vec<Integration> = items
            .iter()
            .map(|item| from_item("integration", item))
            .collect::<Result<_, _>>()?;
        integrations.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(integrations)
    }

    async fn list_integrations_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<IntegrationPage, StoreError> {
        // A scan, one page at a time: the schedule walks every tenant's integrations, and the
        // cursor is the table key of the last one read.
        let start = match after {
            Some(cursor) => {
                let (tenant, id) = page_cursor::decode(cursor)?;
                Some(HashMap::from([
                    ("tenant_id".to_string(), s(tenant)),
                    ("id".to_string(), s(id)),
                ]))
            }
            None => None,
        };
        let output = self
            .client
            .scan()
            .table_name(&self.tables.integrations)
            .consistent_read(true)
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let integrations = output
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| from_item::<Integration>("integration", item))
            .collect::<Result<Vec<_>, _>>()?;
        let next = output.last_evaluated_key.and_then(|key| {
            let text = |name: &str| key.get(name).and_then(|v| v.as_s().ok()).cloned();
            Some(page_cursor::encode(&text("tenant_id")?, &text("id")?))
        });
        Ok(IntegrationPage { integrations, next })
    }
}

fn checkpoint_from_item(item: &Item) -> Result<Checkpoint, StoreError> {
    let stream = item
        .get("stream")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let corrupt = |message: &str| StoreError::Corrupt {
        what: format!("checkpoint '{stream}'"),
        message: message.to_string(),
    };
    let health = match item.get("health").and_then(|v| v.as_s().ok()) {
        Some(json) => serde_json::from_str(json).map_err(|e| corrupt(&e.to_string()))?,
        None => StreamHealth::default(),
    };
    Ok(Checkpoint {
        cursor: item
            .get("cursor")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| corrupt("no cursor"))?,
        version: number(item, "version").ok_or_else(|| corrupt("no version"))? as u64,
        updated_at: item
            .get("updated_at")
            .and_then(|v| v.as_s().ok())
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| corrupt("no updated_at"))?,
        health,
        stream,
    })
}

#[async_trait]
impl CheckpointStore for DynamoStores {
    async fn get_checkpoint(&self, stream: &str) -> Result<Option<Checkpoint>, StoreError> {
        let key = HashMap::from([("stream".into(), s(stream))]);
        self.get_doc(&self.tables.checkpoints, key)
            .await?
            .map(|item| checkpoint_from_item(&item))
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
        let version = expected_version.unwrap_or(0) + 1;
        let health_json = serde_json::to_string(health).map_err(|e| StoreError::Corrupt {
            what: format!("checkpoint '{stream}'"),
            message: e.to_string(),
        })?;
        let mut request = self
            .client
            .put_item()
            .table_name(&self.tables.checkpoints)
            .item("stream", s(stream))
            .item("cursor", s(cursor))
            .item("version", n(version))
            .item("updated_at", s(now.to_rfc3339()))
            .item("health", s(health_json));
        request = match expected_version {
            None => request
                .condition_expression("attribute_not_exists(#s)")
                .expression_attribute_names("#s", "stream"),
            Some(expected) => request
                .condition_expression("#v = :expected")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":expected", n(expected)),
        };
        match request.send().await {
            Ok(_) => Ok(Checkpoint {
                stream: stream.to_string(),
                cursor: cursor.to_string(),
                version,
                updated_at: now,
                health: health.clone(),
            }),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::Conflict {
                what: format!("checkpoint '{stream}'"),
            }),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn list_checkpoints(&self, prefix: &str) -> Result<Vec<Checkpoint>, StoreError> {
        // Operators only: a filtered scan of a small table.
        let mut checkpoints = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.tables.checkpoints)
                .consistent_read(true)
                .filter_expression("begins_with(#s, :prefix)")
                .expression_attribute_names("#s", "stream")
                .expression_attribute_values(":prefix", s(prefix))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in output.items.unwrap_or_default() {
                checkpoints.push(checkpoint_from_item(&item)?);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        checkpoints.sort_by(|a, b| a.stream.cmp(&b.stream));
        Ok(checkpoints)
    }
}

#[async_trait]
impl DedupStore for DynamoStores {
    async fn insert_if_absent(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // DynamoDB's TTL sweeper may lag by up to 48 hours, so expiry is checked in the
        // condition; `expires_at` (seconds) only lets the sweeper clean up eventually.
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.dedup)
            .item("key", s(key))
            .item("expires_at", n(expires_at.timestamp()))
            .item("expires_at_ms", n(expires_at.timestamp_millis()))
            .condition_expression("attribute_not_exists(#k) OR #e <= :now")
            .expression_attribute_names("#k", "key")
            .expression_attribute_names("#e", "expires_at_ms")
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn contains(&self, key: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let item = self
            .get_doc(&self.tables.dedup, HashMap::from([("key".into(), s(key))]))
            .await?;
        Ok(item
            .and_then(|item| number(&item, "expires_at_ms"))
            .is_some_and(|expires| expires > now.timestamp_millis()))
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.dedup)
            .key("key", s(key))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn acquire_lease(
        &self,
        key: &str,
        owner: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Leases share the dedup table under their own key space.
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.dedup)
            .item("key", s(format!("lease#{key}")))
            .item("owner", s(owner))
            .item("expires_at", n(expires_at.timestamp()))
            .item("expires_at_ms", n(expires_at.timestamp_millis()))
            .condition_expression("attribute_not_exists(#k) OR #o = :owner OR #e <= :now")
            .expression_attribute_names("#k", "key")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_names("#e", "expires_at_ms")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.tables.dedup)
            .key("key", s(format!("lease#{key}")))
            .condition_expression("#o = :owner")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone else holds it now (ours expired and was taken): theirs to release.
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl ActivityStore for DynamoStores {
    async fn put_activity(
        &self,
        activity: &Activity,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = activity.id();
        // An update, not a put: `stored_key` (when it was first stored, for the SIEM log)
        // stays what the first write set.
        let mut expression = "SET doc = :doc, time_key = :time, integration_key = :integration, \
             expires_at = :expires, stored_key = if_not_exists(stored_key, :stored)"
            .to_string();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.tables.activities)
            .key("tenant_id", s(&activity.tenant_id))
            .key("id", s(&id))
            .expression_attribute_values(":doc", to_doc(activity)?)
            .expression_attribute_values(":time", s(time_key(activity.event_timestamp, &id)))
            .expression_attribute_values(
                ":integration",
                s(format!(
                    "{}#{}",
                    activity.tenant_id, activity.integration_id
                )),
            )
            .expression_attribute_values(":expires", n(expires_at.timestamp()))
            .expression_attribute_values(":stored", s(time_key(Utc::now(), &id)));
        if let Some(email) = &activity.actor_email {
            expression.push_str(", actor_key = :actor");
            request = request.expression_attribute_values(
                ":actor",
                s(format!("{}#{}", activity.tenant_id, email)),
            );
        }
        request
            .update_expression(expression)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_activity(
        &self,
        tenant_id: &str,
        activity_id: &str,
    ) -> Result<Option<Activity>, StoreError> {
        let key = HashMap::from([
            ("tenant_id".into(), s(tenant_id)),
            ("id".into(), s(activity_id)),
        ]);
        self.get_doc(&self.tables.activities, key)
            .await?
            .map(|item| from_item("activity", &item))
            .transpose()
    }

    async fn get_activities(
        &self,
        tenant_id: &str,
        activity_ids: &[String],
    ) -> Result<Vec<Activity>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = Vec::with_capacity(activity_ids.len());
        // BatchGetItem takes 100 keys; what it leaves unprocessed (throttling) is asked again.
        for chunk in activity_ids.chunks(100) {
            let mut keys: Vec<Item> = chunk
                .iter()
                .map(|id| HashMap::from([("tenant_id".into(), s(tenant_id)), ("id".into(), s(id))]))
                .collect();
            let mut rounds = 0;
            while !keys.is_empty() {
                rounds += 1;
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(unavailable)?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.tables.activities, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for item in output
                    .responses
                    .and_then(|mut r| r.remove(&self.tables.activities))
                    .unwrap_or_default()
                {
                    found.push(from_item("activity", &item)?);
                }
                keys = output
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.tables.activities))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if !keys.is_empty() {
                    if rounds >= 8 {
                        return Err(StoreError::Unavailable(
                            "DynamoDB kept activity reads unprocessed (throttled); retry".into(),
                        ));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50 << rounds)).await;
                }
            }
        }
        Ok(found)
    }

    async fn query_activities(&self, query: &ActivityQuery) -> Result<Vec<Activity>, StoreError> {
        // The tenant is always part of the partition key: a query can never read another
        // tenant's activities.
        let (index, partition) = match (&query.integration_id, &query.actor_email) {
            (Some(integration), _) => (
                ACTIVITIES_BY_INTEGRATION,
                (
                    "integration_key",
                    s(format!("{}#{integration}", query.tenant_id)),
                ),
            ),
            (None, Some(email)) => (
                ACTIVITIES_BY_ACTOR,
                ("actor_key", s(format!("{}#{email}", query.tenant_id))),
            ),
            (None, None) => (ACTIVITIES_BY_TIME, ("tenant_id", s(&query.tenant_id))),
        };
        let range = KeyRange::new(query.from, query.to, query.before.as_ref());
        // With both an integration and an actor, the second narrows by filter.
        let filter = match (&query.integration_id, &query.actor_email) {
            (Some(_), Some(email)) => Some((
                "actor_key = :actor",
                HashMap::from([(
                    ":actor".to_string(),
                    s(format!("{}#{email}", query.tenant_id)),
                )]),
            )),
            _ => None,
        };
        let items = self
            .query_all(
                &self.tables.activities,
                Some(index),
                partition,
                Some(("time_key", range.low.clone(), range.high.clone())),
                filter,
                range.fetch(query.limit),
            )
            .await?;
        range
            .page(&items, "time_key", query.limit)
            .map(|item| from_item("activity", item))
            .collect()
    }

    async fn activity_log(
        &self,
        tenant_id: &str,
        after: Option<&(DateTime<Utc>, String)>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredActivity>, StoreError> {
        let low = after.map_or_else(|| "0".repeat(13), |(t, id)| time_key(*t, id));
        let until_ms = until.timestamp_millis().max(1) - 1;
        let high = format!("{until_ms:013}#~");
        if low > high {
            return Ok(Vec::new());
        }
        let items = self
            .query_items(
                &self.tables.activities,
                Some(ACTIVITIES_BY_STORED),
                ("tenant_id", s(tenant_id)),
                Some(("stored_key", low.clone(), high)),
                None,
                limit + usize::from(after.is_some()),
                true,
            )
            .await?;
        let mut found = Vec::with_capacity(limit);
        for item in &items {
            let Some(key) = item.get("stored_key").and_then(|v| v.as_s().ok()) else {
                continue;
            };
            // The range includes the cursor's own item: it was on the previous page.
            if after.is_some() && *key == low {
                continue;
            }
            let stored_at = key
                .split('#')
                .next()
                .and_then(|ms| ms.parse::<i64>().ok())
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or_default();
            found.push(StoredActivity {
                activity: from_item("activity", item)?,
                stored_at,
            });
        }
        found.truncate(limit);
        Ok(found)
    }
}

#[async_trait]
impl IncidentStore for DynamoStores {
    async fn create_incident(&self, incident: &Incident) -> Result<bool, StoreError> {
        let mut stored = incident.clone();
        stored.version = 1;
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.incidents)
            .set_item(Some(incident_item(&stored)?))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", "id")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_incident(
        &self,
        tenant_id: &str,
        incident_id: &str,
    ) -> Result<Option<Incident>, StoreError> {
        let key = HashMap::from([
            ("tenant_id".into(), s(tenant_id)),
            ("id".into(), s(incident_id)),
        ]);
        self.get_doc(&self.tables.incidents, key)
            .await?
            .map(|item| from_item("incident", &item))
            .transpose()
    }

    async fn update_incident(&self, incident: &Incident) -> Result<Incident, StoreError> {
        let mut stored = incident.clone();
        stored.version = incident.version + 1;
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.incidents)
            .set_item(Some(incident_item(&stored)?))
            .condition_expression("#v = :expected")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":expected", n(incident.version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(stored),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::Conflict {
                what: format!("incident '{}'", incident.id),
            }),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn query_incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>, StoreError> {
        let filter = query.status.map(|status| {
            (
                "incident_status = :status",
                HashMap::from([(":status".to_string(), s(enum_label(&status)))]),
            )
        });
        let range = KeyRange::new(query.from, query.to, query.before.as_ref());
        let items = self
            .query_all(
                &self.tables.incidents,
                Some(INCIDENTS_BY_CREATED),
                ("tenant_id", s(&query.tenant_id)),
                Some(("created_key", range.low.clone(), range.high.clone())),
                filter,
                range.fetch(query.limit),
            )
            .await?;
        range
            .page(&items, "created_key", query.limit)
            .map(|item| from_item("incident", item))
            .collect()
    }
}

fn incident_item(incident: &Incident) -> Result<Item, StoreError> {
    Ok(HashMap::from([
        ("tenant_id".into(), s(&incident.tenant_id)),
        ("id".into(), s(&incident.id)),
        (
            "created_key".into(),
            s(time_key(incident.created_at, &incident.id)),
        ),
        ("incident_status".into(), s(enum_label(&incident.status))),
        ("version".into(), n(incident.version)),
        ("doc".into(), to_doc(incident)?),
    ]))
}

/// Versions sort as strings in the policies table: zero-padded, newest last.
fn version_key(version: u64) -> String {
    format!("{version:010}")
}

#[async_trait]
impl PolicyStore for DynamoStores {
    async fn put_policy_set(&self, set: &StoredPolicySet) -> Result<(), StoreError> {
        let item = HashMap::from([
            ("tenant_id".into(), s(&set.tenant_id)),
            ("version".into(), s(version_key(set.version))),
            ("doc".into(), to_doc(set)?),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.policies)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#v)")
            .expression_attribute_names("#v", "version")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::Conflict {
                what: format!(
                    "policy set version {} of tenant '{}'",
                    set.version, set.tenant_id
                ),
            }),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn latest_policy_set(
        &self,
        tenant_id: &str,
    ) -> Result<Option<StoredPolicySet>, StoreError> {
        let items = self
            .query_all(
                &self.tables.policies,
                None,
                ("tenant_id", s(tenant_id)),
                None,
                None,
                1,
            )
            .await?;
        items
            .first()
            .map(|item| from_item("policy set", item))
            .transpose()
    }

    async fn get_policy_set(
        &self,
        tenant_id: &str,
        version: u64,
    ) -> Result<Option<StoredPolicySet>, StoreError> {
        let key = HashMap::from([
            ("tenant_id".into(), s(tenant_id)),
            ("version".into(), s(version_key(version))),
        ]);
        self.get_doc(&self.tables.policies, key)
            .await?
            .map(|item| from_item("policy set", &item))
            .transpose()
    }
}

#[async_trait]
impl ClassificationStore for DynamoStores {
    async fn get_classification(
        &self,
        tenant_id: &str,
        content_key: &str,
    ) -> Result<Option<Classification>, StoreError> {
        let key = HashMap::from([
            ("tenant_id".into(), s(tenant_id)),
            ("content_key".into(), s(content_key)),
        ]);
        let Some(item) = self.get_doc(&self.tables.classifications, key).await? else {
            return Ok(None);
        };
        // DynamoDB's TTL sweeper may lag by days: an expired item is absent.
        if number(&item, "expires_at").is_some_and(|t| t <= Utc::now().timestamp()) {
            return Ok(None);
        }
        from_item("classification", &item).map(Some)
    }

    async fn put_classification(
        &self,
        classification: &Classification,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let item = HashMap::from([
            ("tenant_id".into(), s(&classification.tenant_id)),
            ("content_key".into(), s(&classification.content_key)),
            ("expires_at".into(), n(expires_at.timestamp())),
            ("doc".into(), to_doc(classification)?),
        ]);
        self.client
            .put_item()
            .table_name(&self.tables.classifications)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// The manifest of a batch: its item key in the exports table.
fn manifest_key(batch_id: &str) -> String {
    format!("batch#{batch_id}")
}

fn export_record(item: &Item) -> Option<ExportRecord> {
    Some(ExportRecord {
        key: item.get("key")?.as_s().ok()?.clone(),
        class_uid: number(item, "class_uid")? as u32,
        time_ms: number(item, "time_ms")?,
        body: item
            .get("body")
            .and_then(|b| b.as_s().ok())
            .cloned()
            .unwrap_or_default(),
    })
}

/// The exports table. A batch is claimed in three steps, each safe to stop after: the
/// manifest lists the candidates (read consistently later, unlike an index), then each
/// candidate is claimed with a conditional write (so two exporters never share a record), then
/// the claimed records are returned. Completion marks the manifest's claimed records done and
/// closes the manifest.
#[async_trait]
impl ExportStore for DynamoStores {
    async fn add_export_records(
        &self,
        records: &[ExportRecord],
        keep_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for record in records {
            let item = HashMap::from([
                ("key".into(), s(&record.key)),
                ("class_uid".into(), n(record.class_uid)),
                ("time_ms".into(), n(record.time_ms)),
                (
                    "time_key".into(),
                    s(format!("{:013}#{}", record.time_ms.max(0), record.key)),
                ),
                ("pending".into(), s("1")),
                ("body".into(), s(&record.body)),
                ("expires_at".into(), n(keep_until.timestamp())),
            ]);
            let put = self
                .client
                .put_item()
                .table_name(&self.tables.exports)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#k)")
                .expression_attribute_names("#k", "key")
                .send()
                .await;
            match put {
                Ok(_) => {}
                Err(e) if is_conditional_failure(&e) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }

    async fn claim_export_batch(
        &self,
        batch_id: &str,
        limit: usize,
    ) -> Result<Vec<ExportRecord>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.tables.exports)
            .index_name(EXPORTS_PENDING)
            .key_condition_expression("pending = :one")
            .expression_attribute_values(":one", s("1"))
            .scan_index_forward(true)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(unavailable)?;
        let candidates: Vec<String> = output
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| item.get("key")?.as_s().ok().cloned())
            .collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        self.client
            .put_item()
            .table_name(&self.tables.exports)
            .item("key", s(manifest_key(batch_id)))
            .item("open_manifest", s("1"))
            .item("batch_id", s(batch_id))
            .item(
                "candidates",
                AttributeValue::L(candidates.iter().map(s).collect()),
            )
            .send()
            .await
            .map_err(unavailable)?;
        let mut claimed = Vec::new();
        for key in &candidates {
            let update = self
                .client
                .update_item()
                .table_name(&self.tables.exports)
                .key("key", s(key))
                .update_expression("SET open_batch = :b REMOVE pending")
                .condition_expression("attribute_exists(pending)")
                .expression_attribute_values(":b", s(batch_id))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
                .send()
                .await;
            match update {
                Ok(output) => {
                    if let Some(record) = output.attributes.as_ref().and_then(export_record) {
                        claimed.push(record);
                    }
                }
                // Claimed by another exporter between the query and here.
                Err(e) if is_conditional_failure(&e) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        claimed.sort_by(|a, b| (a.time_ms, &a.key).cmp(&(b.time_ms, &b.key)));
        Ok(claimed)
    }

    async fn open_export_batches(&self) -> Result<Vec<String>, StoreError> {
        let items = self
            .query_all(
                &self.tables.exports,
                Some(EXPORTS_OPEN_BATCHES),
                ("open_manifest", s("1")),
                None,
                None,
                usize::MAX,
            )
            .await?;
        let mut ids: Vec<String> = items
            .iter()
            .filter_map(|item| item.get("batch_id")?.as_s().ok().cloned())
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn export_batch_records(&self, batch_id: &str) -> Result<Vec<ExportRecord>, StoreError> {
        let Some(manifest) = self
            .get_doc(
                &self.tables.exports,
                HashMap::from([("key".into(), s(manifest_key(batch_id)))]),
            )
            .await?
        else {
            return Ok(Vec::new());
        };
        let candidates: Vec<String> = manifest
            .get("candidates")
            .and_then(|c| c.as_l().ok())
            .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
            .unwrap_or_default();
        let mut records = Vec::new();
        for key in candidates {
            let Some(item) = self
                .get_doc(
                    &self.tables.exports,
                    HashMap::from([("key".into(), s(&key))]),
                )
                .await?
            else {
                continue;
            };
            let in_batch =
                item.get("open_batch").and_then(|b| b.as_s().ok()) == Some(&batch_id.to_string());
            if in_batch {
                records.extend(export_record(&item));
            }
        }
        records.sort_by(|a, b| (a.time_ms, &a.key).cmp(&(b.time_ms, &b.key)));
        Ok(records)
    }

    async fn complete_export_batch(&self, batch_id: &str) -> Result<(), StoreError> {
        for record in self.export_batch_records(batch_id).await? {
            self.client
                .update_item()
                .table_name(&self.tables.exports)
                .key("key", s(&record.key))
                .update_expression("SET done = :one REMOVE open_batch, body")
                .expression_attribute_values(":one", n(1))
                .send()
                .await
                .map_err(unavailable)?;
        }
        self.client
            .delete_item()
            .table_name(&self.tables.exports)
            .key("key", s(manifest_key(batch_id)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn behaviour_key(tenant_id: &str, subject: &str) -> Item {
    HashMap::from([
        ("pk".into(), s(format!("behaviour#{tenant_id}#{subject}"))),
        ("sk".into(), s("state")),
    ])
}

fn anomaly_pk(tenant_id: &str, anomaly_id: &str) -> AttributeValue {
    s(format!("anomaly#{tenant_id}#{anomaly_id}"))
}

fn anomaly_item(anomaly: &Anomaly) -> Result<Item, StoreError> {
    Ok(HashMap::from([
        ("pk".into(), anomaly_pk(&anomaly.tenant_id, &anomaly.id)),
        ("sk".into(), s("anomaly")),
        ("anomaly_tenant".into(), s(&anomaly.tenant_id)),
        (
            "activity_key".into(),
            s(time_key(anomaly.last_activity_at, &anomaly.id)),
        ),
        ("version".into(), n(anomaly.version)),
        ("doc".into(), to_doc(anomaly)?),
    ]))
}

impl DynamoStores {
    /// Puts `item` if the stored `version` equals `expected` (0: no item yet).
    async fn put_versioned(
        &self,
        item: Item,
        expected: u64,
        what: String,
    ) -> Result<(), StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.tables.threats)
            .set_item(Some(item));
        let request = if expected == 0 {
            request.condition_expression("attribute_not_exists(pk)")
        } else {
            request
                .condition_expression("#v = :expected")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":expected", n(expected))
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::Conflict { what }),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl ThreatStore for DynamoStores {
    async fn get_behaviour(
        &self,
        tenant_id: &str,
        subject: &str,
    ) -> Result<Option<BehaviourState>, StoreError> {
        self.get_doc(&self.tables.threats, behaviour_key(tenant_id, subject))
            .await?
            .map(|item| from_item("behaviour state", &item))
            .transpose()
    }

    async fn put_behaviour(&self, state: &BehaviourState) -> Result<BehaviourState, StoreError> {
        let mut stored = state.clone();
        stored.version = state.version + 1;
        let mut item = behaviour_key(&state.tenant_id, &state.subject);
        item.insert("version".into(), n(stored.version));
        item.insert("doc".into(), to_doc(&stored)?);
        self.put_versioned(
            item,
            state.version,
            format!("behaviour of '{}'", state.subject),
        )
        .await?;
        Ok(stored)
    }

    async fn create_anomaly(&self, anomaly: &Anomaly) -> Result<bool, StoreError> {
        let mut stored = anomaly.clone();
        stored.version = 1;
        match self
            .put_versioned(
                anomaly_item(&stored)?,
                0,
                format!("anomaly '{}'", anomaly.id),
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn get_anomaly(
        &self,
        tenant_id: &str,
        anomaly_id: &str,
    ) -> Result<Option<Anomaly>, StoreError> {
        let key = HashMap::from([
            ("pk".into(), anomaly_pk(tenant_id, anomaly_id)),
            ("sk".into(), s("anomaly")),
        ]);
        self.get_doc(&self.tables.threats, key)
            .await?
            .map(|item| from_item("anomaly", &item))
            .transpose()
    }

    async fn update_anomaly(&self, anomaly: &Anomaly) -> Result<Anomaly, StoreError> {
        let mut stored = anomaly.clone();
        stored.version = anomaly.version + 1;
        self.put_versioned(
            anomaly_item(&stored)?,
            anomaly.version.max(1),
            format!("anomaly '{}'", anomaly.id),
        )
        .await?;
        Ok(stored)
    }

    async fn list_anomalies(
        &self,
        tenant_id: &str,
        limit: usize,
    ) -> Result<Vec<Anomaly>, StoreError> {
        let items = self
            .query_all(
                &self.tables.threats,
                Some(ANOMALIES_BY_ACTIVITY),
                ("anomaly_tenant", s(tenant_id)),
                None,
                None,
                limit,
            )
            .await?;
        items
            .iter()
            .map(|item| from_item("anomaly", item))
            .collect()
    }

    async fn add_anomaly_activities(
        &self,
        tenant_id: &str,
        anomaly_id: &str,
        activities: &[(String, DateTime<Utc>)],
    ) -> Result<(), StoreError> {
        let pk = anomaly_pk(tenant_id, anomaly_id);
        let item = |activity_id: &str, at: DateTime<Utc>| -> Item {
            HashMap::from([
                ("pk".into(), pk.clone()),
                (
                    "sk".into(),
                    s(format!("activity#{}", time_key(at, activity_id))),
                ),
                ("activity_id".into(), s(activity_id)),
            ])
        };
        let mut added = 0u64;
        if let [(activity_id, at)] = activities {
            // One activity extending an anomaly (the common case): a conditional put says
            // whether it is new, so a redelivery does not move the counter.
            added = u64::from(
                self.put_new(&self.tables.threats, item(activity_id, *at))
                    .await?,
            );
        } else {
            // The activities a new anomaly gathers (up to thousands): 25 a request. Counted as
            // new, so after a repeated opening the counter may run ahead and trim a little early.
            for chunk in activities.chunks(25) {
                let mut requests: Vec<WriteRequest> = chunk
                    .iter()
                    .map(|(activity_id, at)| {
                        WriteRequest::builder()
                            .put_request(
                                PutRequest::builder()
                                    .set_item(Some(item(activity_id, *at)))
                                    .build()
                                    .expect("the item is set"),
                            )
                            .build()
                    })
                    .collect();
                added += requests.len() as u64;
                let mut attempts = 0;
                while !requests.is_empty() {
                    attempts += 1;
                    let output = self
                        .client
                        .batch_write_item()
                        .request_items(&self.tables.threats, requests)
                        .send()
                        .await
                        .map_err(unavailable)?;
                    requests = output
                        .unprocessed_items
                        .and_then(|mut left| left.remove(&self.tables.threats))
                        .unwrap_or_default();
                    if !requests.is_empty() {
                        if attempts >= 8 {
                            return Err(StoreError::Unavailable(format!(
                                "dynamodb: {} anomaly activities left unprocessed after {attempts} \
                                 attempts; the anomaly is recorded again on redelivery",
                                requests.len()
                            )));
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(50 << attempts)).await;
                    }
                }
            }
        }
        if added == 0 {
            return Ok(());
        }
        // A counter item says when the oldest must go, without counting 100,000 items.
        let kept = self
            .client
            .update_item()
            .table_name(&self.tables.threats)
            .key("pk", pk.clone())
            .key("sk", s("activity_count"))
            .update_expression("ADD #c :added")
            .expression_attribute_names("#c", "activities")
            .expression_attribute_values(":added", n(added))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(unavailable)?
            .attributes
            .as_ref()
            .and_then(|a| number(a, "activities"))
            .unwrap_or(0);
        let excess = kept - Anomaly::KEPT_ACTIVITIES as i64;
        if excess <= 0 {
            return Ok(());
        }
        let oldest = self
            .client
            .query()
            .table_name(&self.tables.threats)
            .key_condition_expression("pk = :pk AND begins_with(sk, :activity)")
            .expression_attribute_values(":pk", pk.clone())
            .expression_attribute_values(":activity", s("activity#"))
            .scan_index_forward(true)
            .limit(excess.min(1000) as i32)
            .send()
            .await
            .map_err(unavailable)?
            .items
            .unwrap_or_default();
        for item in &oldest {
            if let Some(sk) = item.get("sk") {
                self.client
                    .delete_item()
                    .table_name(&self.tables.threats)
                    .key("pk", pk.clone())
                    .key("sk", sk.clone())
                    .send()
                    .await
                    .map_err(unavailable)?;
            }
        }
        self.client
            .update_item()
            .table_name(&self.tables.threats)
            .key("pk", pk)
            .key("sk", s("activity_count"))
            .update_expression("ADD #c :removed")
            .expression_attribute_names("#c", "activities")
            .expression_attribute_values(":removed", n(-(oldest.len() as i64)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn anomaly_activities(
        &self,
        tenant_id: &str,
        anomaly_id: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let items = self
            .query_all(
                &self.tables.threats,
                None,
                ("pk", anomaly_pk(tenant_id, anomaly_id)),
                Some(("sk", "activity#".into(), "activity#~".into())),
                None,
                limit,
            )
            .await?;
        Ok(items
            .iter()
            .filter_map(|item| item.get("activity_id")?.as_s().ok().cloned())
            .collect())
    }
}

fn credential_key(id: &str) -> Item {
    HashMap::from([
        ("pk".into(), s(format!("credential#{id}"))),
        ("sk".into(), s("credential")),
    ])
}

fn block_partition(tenant_id: &str, list: BlockList) -> String {
    format!("block#{tenant_id}#{}", list.as_str())
}

/// The access table: a credential is the item `credential#<id>` (ids are global: Basic and
/// bearer tokens carry no tenant), found per tenant through [`CREDENTIALS_BY_TENANT`]; a block
/// list is the partition `block#<tenant>#<list>`, one item per value.
#[async_trait]
impl AccessStore for DynamoStores {
    async fn create_credential(&self, credential: &ApiCredential) -> Result<bool, StoreError> {
        let mut item = credential_key(&credential.id);
        item.insert("credential_tenant".into(), s(&credential.tenant_id));
        item.insert(
            "created_key".into(),
            s(time_key(credential.created_at, &credential.id)),
        );
        item.insert("doc".into(), to_doc(credential)?);
        // DynamoDB's TTL drops an access token a day after it expired.
        if let Some(at) = credential.purge_at() {
            item.insert("purge_at".into(), n(at.timestamp()));
        }
        self.put_new(&self.tables.access, item).await
    }

    async fn get_credential(&self, id: &str) -> Result<Option<ApiCredential>, StoreError> {
        self.get_doc(&self.tables.access, credential_key(id))
            .await?
            .map(|item| from_item("API credential", &item))
            .transpose()
    }

    async fn list_credentials(&self, tenant_id: &str) -> Result<Vec<ApiCredential>, StoreError> {
        let items = self
            .query_all(
                &self.tables.access,
                Some(CREDENTIALS_BY_TENANT),
                ("credential_tenant", s(tenant_id)),
                None,
                None,
                usize::MAX,
            )
            .await?;
        let mut credentials = items
            .iter()
            .map(|item| from_item("API credential", item))
            .collect::<Result<Vec<ApiCredential>, _>>()?;
        credentials.reverse();
        Ok(credentials)
    }

    async fn revoke_credential(
        &self,
        tenant_id: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let Some(mut credential) = self.get_credential(id).await? else {
            return Ok(false);
        };
        if credential.tenant_id != tenant_id {
            return Ok(false);
        }
        credential.revoked_at.get_or_insert(at);
        // Conditional on the tenant, so the write can never land on another tenant's item.
        self.client
            .update_item()
            .table_name(&self.tables.access)
            .set_key(Some(credential_key(id)))
            .update_expression("SET doc = :doc")
            .condition_expression("credential_tenant = :tenant")
            .expression_attribute_values(":doc", to_doc(&credential)?)
            .expression_attribute_values(":tenant", s(tenant_id))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    async fn add_block_entry(&self, entry: &BlockEntry) -> Result<bool, StoreError> {
        let item = HashMap::from([
            (
                "pk".into(),
                s(block_partition(&entry.tenant_id, entry.list)),
            ),
            ("sk".into(), s(&entry.value)),
            ("doc".into(), to_doc(entry)?),
        ]);
        self.put_new(&self.tables.access, item).await
    }

    async fn remove_block_entry(
        &self,
        tenant_id: &str,
        list: BlockList,
        value: &str,
    ) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.tables.access)
            .key("pk", s(block_partition(tenant_id, list)))
            .key("sk", s(value))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn list_block_entries(
        &self,
        tenant_id: &str,
        list: BlockList,
    ) -> Result<Vec<BlockEntry>, StoreError> {
        let items = self
            .query_all(
                &self.tables.access,
                None,
                ("pk", s(block_partition(tenant_id, list))),
                None,
                None,
                usize::MAX,
            )
            .await?;
        let mut entries = items
            .iter()
            .map(|item| from_item("block entry", item))
            .collect::<Result<Vec<BlockEntry>, _>>()?;
        entries.sort_by(|a, b| a.value.cmp(&b.value));
        Ok(entries)
    }
}
