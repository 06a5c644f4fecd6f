//! `casb poll` and `casb act`: one connector call against any Box-compatible API, for operators
//! debugging a tenant and for checking the connector against another implementation of Box's API.

use std::sync::Arc;

use anyhow::{anyhow, bail};
use casb_connector_box::{BoxConfig, BoxConnector};
use casb_shared::connector::{ActionOutcome, Connector};
use casb_shared::domain::{
    ActionKind, IngestMode, Integration, IntegrationStatus, Provider, ResponseAction,
};
use casb_shared::embedded::FileSecretStore;
use secrecy::SecretString;

fn connector(api_base: &str, _scratch: &tempfile::TempDir) -> BoxConnector {
    let mut config = BoxConfig::default();
    config.api_base = api_base.trim_end_matches('/').to_string();
    config.download_hosts = config.download_hosts.with_url_host(api_base);
    // No OAuth or webhooks here: the app-credentials secret is never read.
    BoxConnector::new(
        config,
        Arc::new(FileSecretStore::new(&_scratch.path().join("secrets.json"))),
    )
}

pub(crate) fn integration(internal_domains: &[String]) -> Integration {
    let now = chrono::Utc::now();
    Integration {
        id: "cli".into(),
        tenant_id: "cli".into(),
        provider: Provider::Box,
        external_tenant_id: None,
        display_name: "casb command line".into(),
        mode: IngestMode::Pull,
        status: IntegrationStatus::Connected,
        credential: Default::default(),
        webhook_ids: vec![],
        settings: serde_json::json!({"internal_domains": internal_domains}),
        created_at: now,
        updated_at: now,
    }
}

fn provider(name: &str) -> anyhow::Result<()> {
    let provider: Provider = name.parse().map_err(|e: String| anyhow!(e))?;
    if provider != Provider::Box {
        bail!("only --provider box is supported by this command so far");
    }
    Ok(())
}

/// Prints one page (or, without `once`, every page until caught up) as JSON Lines.
pub async fn poll(
    provider_name: &str,
    api_base: &str,
    access_token: &str,
    stream_position: &str,
    once: bool,
    internal_domains: &[String],
) -> anyhow::Result<()> {
    provider(provider_name)?;
    let scratch = tempfile::tempdir()?;
    let connector = connector(api_base, &scratch);
    let integration = integration(internal_domains);
    let token = SecretString::from(access_token.to_string());
    let mut position = stream_position.to_string();
    loop {
        let request = casb_shared::connector::PollRequest {
            stream: "events",
            cursor: Some(&position),
            redeliver: false,
            deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(300),
        };
        let page = connector.poll(&integration, &token, &request).await?;
        for activity in &page.activities {
            println!("{}", serde_json::to_string(activity)?);
        }
        eprintln!(
            "{} activities; next stream_position {}",
            page.activities.len(),
            page.next_cursor
        );
        if once || !page.has_more || page.next_cursor == position {
            return Ok(());
        }
        position = page.next_cursor;
    }
}

pub fn action_kind(name: &str) -> anyhow::Result<ActionKind> {
    Ok(match name {
        "quarantine" => ActionKind::Quarantine,
        "delete" => ActionKind::Delete,
        "remove-link" => ActionKind::RemoveSharedLink,
        "remove-external-collaborators" => ActionKind::RemoveExternalCollaborators,
        other => bail!("unknown action '{other}': use quarantine, delete, remove-link or remove-external-collaborators"),
    })
}

/// Runs one response action and prints its outcome as JSON.
pub async fn act(
    provider_name: &str,
    api_base: &str,
    access_token: &str,
    kind: ActionKind,
    file_id: &str,
    internal_domains: &[String],
) -> anyhow::Result<bool> {
    provider(provider_name)?;
    let scratch = tempfile::tempdir()?;
    let connector = connector(api_base, &scratch);
    let integration = integration(internal_domains);
    let action = ResponseAction {
        id: format!("cli#{}", kind.as_str()),
        incident_id: "cli".into(),
        tenant_id: "cli".into(),
        integration_id: "cli".into(),
        provider: Provider::Box,
        kind,
        object_id: Some(file_id.to_string()),
        object_type: Some("file".into()),
        channel: None,
        scope: None,
    };
    let outcome = connector
        .execute(
            &integration,
            &SecretString::from(access_token.to_string()),
            &action,
        )
        .await?;
    let (status, detail, ok) = match outcome {
        ActionOutcome::Succeeded { detail, .. } => ("succeeded", detail, true),
        ActionOutcome::Unsupported { reason } => ("unsupported", reason, false),
    };
    println!(
        "{}",
        serde_json::json!({"action": kind.as_str(), "file_id": file_id, "status": status, "detail": detail})
    );
    Ok(ok)
}
