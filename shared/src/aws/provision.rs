//! Creates the stack's tables and queues with the same keys, indexes, TTL and redrive policy as
//! template.yaml, for a test or development AWS endpoint (moto, LocalStack). In AWS itself the
//! SAM template owns these resources.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use super::describe;
use super::dynamodb::{
    TableNames, ACTIVITIES_BY_ACTOR, ACTIVITIES_BY_INTEGRATION, ACTIVITIES_BY_STORED,
    ACTIVITIES_BY_TIME, ANOMALIES_BY_ACTIVITY, CREDENTIALS_BY_TENANT, EXPORTS_OPEN_BATCHES,
    EXPORTS_PENDING, INCIDENTS_BY_CREATED,
};

/// A queue and its dead-letter queue, by URL.
#[derive(Debug, Clone)]
pub struct QueuePair {
    pub url: String,
    pub dead_letter_url: String,
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and type are set")
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

fn index(name: &str, partition: &str, sort: &str) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(partition, KeyType::Hash))
        .key_schema(key(sort, KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .expect("name, keys and projection are set")
}

struct TableSpec<'a> {
    name: &'a str,
    partition: &'a str,
    sort: Option<&'a str>,
    extra_attributes: &'a [&'a str],
    indexes: Vec<GlobalSecondaryIndex>,
    ttl_attribute: Option<&'a str>,
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    spec: TableSpec<'_>,
) -> Result<(), String> {
    let mut request = client
        .create_table()
        .table_name(spec.name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(spec.partition, KeyType::Hash))
        .attribute_definitions(string_attribute(spec.partition));
    if let Some(sort) = spec.sort {
        request = request
            .key_schema(key(sort, KeyType::Range))
            .attribute_definitions(string_attribute(sort));
    }
    for attribute in spec.extra_attributes {
        request = request.attribute_definitions(string_attribute(attribute));
    }
    if !spec.indexes.is_empty() {
        request = request.set_global_secondary_indexes(Some(spec.indexes));
    }
    match request.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) => {}
        Err(e) => return Err(format!("create table {}: {}", spec.name, describe(&e))),
    }
    if let Some(attribute) = spec.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(spec.name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .send()
            .await
            .map_err(|e| format!("enable TTL on {}: {}", spec.name, describe(&e)))?;
    }
    Ok(())
}

/// Creates every table (idempotent: existing tables are kept).
pub async fn create_tables(
    client: &aws_sdk_dynamodb::Client,
    tables: &TableNames,
) -> Result<(), String> {
    create_table(
        client,
        TableSpec {
            name: &tables.policies,
            partition: "tenant_id",
            sort: Some("version"),
            extra_attributes: &[],
            indexes: vec![],
            ttl_attribute: None,
        },
    )
    .await?;
    create_table(
        client,
        TableSpec {
            name: &tables.classifications,
            partition: "tenant_id",
            sort: Some("content_key"),
            extra_attributes: &[],
            indexes: vec![],
            ttl_attribute: Some("expires_at"),
        },
    )
    .await?;
    create_table(
        client,
        TableSpec {
            name: &tables.exports,
            partition: "key",
            sort: None,
            extra_attributes: &["pending", "time_key", "open_manifest"],
            indexes: vec![
                index(EXPORTS_PENDING, "pending", "time_key"),
                index(EXPORTS_OPEN_BATCHES, "open_manifest", "key"),
            ],
            ttl_attribute: Some("expires_at"),
        },
    )
    .await?;
    create_table(
        client,
        TableSpec {
            name: &tables.integrations,
            partition: "tenant_id",
            sort: Some("id"),
            extra_attributes: &[],
            indexes: vec![],
            ttl_attribute: None,
        },
    )
    .await?;
    create_table(
        client,
        TableSpec {
            name: &tables.checkpoints,
            partition: "stream",
            sort: None,
            extra_attributes: &[],
            indexes: vec![],
            ttl_attribute: None,
        },
    )
    .await?;
    create_table(
        client,
        TableSpec {
            name: &tables.dedup,
            partition: "key",
            sort: None,
            extra_attributes: &[],
            indexes: vec![],
            ttl_attribute: Some("expires_at"),
        },
    )
    .await?;
    create_table(
        client,
        TableSpec {
            name: &tables.activities,
            partition: "tenant_id",
            sort: Some("id"),
            extra_attributes: &["time_key", "integration_key", "actor_key", "stored_key"],
            indexes: vec![
                index(ACTIVITIES_BY_TIME, "tenant_id", "time_key"),
                index(ACTIVITIES_BY_INTEGRATION, "integration_key", "time_key"),
                index(ACTIVITIES_BY_ACTOR, "actor_key", "time_key"),
                index(ACTIVITIES_BY_STORED, "tenant_id", "stored_key"),
            ],
            ttl_attribute: Some("expires_at"),
        },
    )
    .await?;
    create_table(
        client,
        TableSpec {
            name: &tables.incidents,
            partition: "tenant_id",
            sort: Some("id"),
            extra_attributes: &["created_key"],
            indexes: vec![index(INCIDENTS_BY_CREATED, "tenant_id", "created_key")],
            ttl_attribute: None,
        },
    )
    .await?;
    create_table(
        client,
        TableSpec {
            name: &tables.threats,
            partition: "pk",
            sort: Some("sk"),
            extra_attributes: &["anomaly_tenant", "activity_key"],
            indexes: vec![index(
                ANOMALIES_BY_ACTIVITY,
                "anomaly_tenant",
                "activity_key",
            )],
            ttl_attribute: None,
        },
    )
    .await?;
    create_table(
        client,
        TableSpec {
            name: &tables.access,
            partition: "pk",
            sort: Some("sk"),
            extra_attributes: &["credential_tenant", "created_key"],
            indexes: vec![index(
                CREDENTIALS_BY_TENANT,
                "credential_tenant",
                "created_key",
            )],
            ttl_attribute: Some("purge_at"),
        },
    )
    .await
}

/// Creates a queue with a dead-letter queue that takes messages after `max_receives` receives.
pub async fn create_queue_pair(
    client: &aws_sdk_sqs::Client,
    name: &str,
    max_receives: u32,
    visibility_timeout_seconds: u32,
) -> Result<QueuePair, String> {
    let dead_letter_url = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| format!("create queue {name}-dlq: {}", describe(&e)))?
        .queue_url
        .ok_or("no queue url returned")?;
    let dead_letter_arn = client
        .get_queue_attributes()
        .queue_url(&dead_letter_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| format!("read {name}-dlq arn: {}", describe(&e)))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or("no queue arn returned")?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dead_letter_arn,
        "maxReceiveCount": max_receives,
    });
    let url = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout_seconds.to_string(),
        )
        .send()
        .await
        .map_err(|e| format!("create queue {name}: {}", describe(&e)))?
        .queue_url
        .ok_or("no queue url returned")?;
    Ok(QueuePair {
        url,
        dead_letter_url,
    })
}
