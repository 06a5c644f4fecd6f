//! `--stack NAME`: the AWS back end of a deployed stack, found from its CloudFormation outputs
//! (template.yaml's Outputs), so operator commands work on a deployment without anyone copying
//! table names or queue URLs by hand.

use anyhow::{anyhow, Context};
use casb_shared::admin_credential::AdminCredential;
use casb_shared::aws::TableNames;
use casb_shared::backend::Backend;
use casb_shared::config::{optional_env, AwsSettings, Settings};
use casb_shared::Core;

/// The stack's outputs by key.
async fn outputs(
    sdk: &aws_config::SdkConfig,
    stack: &str,
) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let client = aws_sdk_cloudformation::Client::new(sdk);
    let described = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| anyhow!("{}", casb_shared::aws::describe_error(&e)))
        .with_context(|| format!("reading the outputs of stack '{stack}' (is it deployed in this account and region?)"))?;
    let stack_description = described
        .stacks
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no stack named '{stack}'"))?;
    Ok(stack_description
        .outputs
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| Some((o.output_key?, o.output_value?)))
        .collect())
}

/// One output of a stack, or an error saying the stack predates it.
fn output(
    stack: &str,
    outputs: &std::collections::HashMap<String, String>,
    key: &str,
) -> anyhow::Result<String> {
    outputs.get(key).cloned().ok_or_else(|| {
        anyhow!("stack '{stack}' has no output {key}: deploy this version's template.yaml")
    })
}

/// The AWS settings a deployed stack's outputs describe.
pub fn settings_from_outputs(
    stack: &str,
    outputs: &std::collections::HashMap<String, String>,
) -> anyhow::Result<AwsSettings> {
    let get = |key: &str| output(stack, outputs, key);
    Ok(AwsSettings {
        tables: TableNames {
            integrations: get("IntegrationsTableName")?,
            checkpoints: get("CheckpointsTableName")?,
            dedup: get("DedupTableName")?,
            activities: get("ActivitiesTableName")?,
            incidents: get("IncidentsTableName")?,
            policies: get("PoliciesTableName")?,
            classifications: get("ClassificationsTableName")?,
            exports: get("ExportsTableName")?,
            threats: get("ThreatsTableName")?,
            access: get("AccessTableName")?,
        },
        activity_queue_url: get("ActivityQueueUrl")?,
        action_queue_url: get("ActionQueueUrl")?,
        poll_queue_url: get("PollJobQueueUrl")?,
        secret_prefix: get("SecretPrefix")?,
        // Changes made from the command line (policy sets, integrations) go to the export
        // outbox; the poller writes the files.
        export_bucket: outputs.get("OcsfExportBucket").cloned(),
        security_lake: None,
        mail_from: None,
        endpoint_url: optional_env("AWS_ENDPOINT_URL"),
    })
}

pub async fn core_for_stack(stack: &str, settings: Settings) -> anyhow::Result<Core> {
    let sdk = casb_shared::aws::sdk_config(optional_env("AWS_ENDPOINT_URL").as_deref()).await;
    let outputs = outputs(&sdk, stack).await?;
    let aws = settings_from_outputs(stack, &outputs)?;
    let backend = Backend::aws_from_sdk(&sdk, &aws);
    let connectors = casb_connectors::from_env(&backend);
    Ok(Core::new(backend, settings, connectors)?)
}

/// A deployed stack's admin credential (its `AdminTokenSecretArn` output) and API base URL
/// (`ApiUrl`), for `casb admin-token --stack` and `casb connect-link --stack`.
pub async fn admin_for_stack(stack: &str) -> anyhow::Result<(AdminCredential, String)> {
    let sdk = casb_shared::aws::sdk_config(optional_env("AWS_ENDPOINT_URL").as_deref()).await;
    let outputs = outputs(&sdk, stack).await?;
    let secret = output(stack, &outputs, "AdminTokenSecretArn")?;
    Ok((
        AdminCredential::secrets_manager(&sdk, &secret),
        output(stack, &outputs, "ApiUrl")?,
    ))
}
