//! Operator actions on integrations, for `casb integration ...` on the embedded back end and,
//! through the same ports, against a deployed stack: add one without a browser (client
//! credentials, a JWT assertion or an API token), list them with their streams' health, pause,
//! resume and remove them. The OAuth redirect flow (`/oauth/{provider}/connect`, started from a
//! `casb connect-link` link) remains the way to add authorization-code integrations.

use chrono::Utc;
use secrecy::SecretString;

use crate::connector::{validate_settings, Connector};
use crate::core::Core;
use crate::domain::{
    integration_stream_prefix, Checkpoint, CredentialKind, IngestMode, Integration,
    IntegrationStatus, Provider,
};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("no integration {id} for tenant {tenant}")]
    NotFound { tenant: String, id: String },
    #[error("the provider refused the credentials: {0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] crate::ports::StoreError),
    #[error(transparent)]
    Token(#[from] crate::connector::tokens::TokenError),
}

/// What `casb integration add` asks for.
pub struct NewIntegration {
    pub provider: Provider,
    pub tenant_id: String,
    /// `None`: the connector's first headless kind.
    pub credential: Option<CredentialKind>,
    pub mode: IngestMode,
    /// (name, raw value), validated against the connector's settings.
    pub settings: Vec<(String, String)>,
    /// Read from a file or standard input, never from argv or the environment.
    pub secret: SecretString,
}

/// An integration with its streams, for listing.
pub struct IntegrationView {
    pub integration: Integration,
    pub streams: Vec<Checkpoint>,
}

fn connector(core: &Core, provider: Provider) -> Result<&dyn Connector, AdminError> {
    core.connectors
        .get(provider)
        .map(|c| c.as_ref())
        .ok_or_else(|| {
            AdminError::Invalid(format!(
                "no {provider} connector in this build (available: {})",
                core.connectors
                    .providers()
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// Adds (or, for a provider tenant this tenant already connected, reconnects) an integration
/// with headless credentials. The credentials are checked with the provider before anything
/// is kept: refused credentials change nothing.
pub async fn add_integration(
    core: &Core,
    request: NewIntegration,
) -> Result<(Integration, Vec<String>), AdminError> {
    let connector = connector(core, request.provider)?;
    let headless: Vec<CredentialKind> = connector
        .credential_kinds()
        .into_iter()
        .filter(|k| k.headless())
        .collect();
    let credential = match request.credential {
        Some(kind) if headless.contains(&kind) => kind,
        Some(CredentialKind::AuthorizationCode) => {
            return Err(AdminError::Invalid(format!(
                "{} authorization-code integrations are connected through a browser: open the link `casb connect-link --provider {} --tenant {}` prints",
                request.provider, request.provider, request.tenant_id
            )))
        }
        Some(kind) => {
            return Err(AdminError::Invalid(format!(
                "{} does not take {kind} credentials (it takes: {})",
                request.provider,
                headless.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            )))
        }
        None => *headless.first().ok_or_else(|| {
            AdminError::Invalid(format!(
                "{} can only be connected through a browser: open the link `casb connect-link --provider {} --tenant {}` prints",
                request.provider, request.provider, request.tenant_id
            ))
        })?,
    };
    crate::domain::validate_id("tenant id", request.tenant_id.trim())
        .map_err(AdminError::Invalid)?;
    let settings = validate_settings(request.provider, &connector.settings(), &request.settings)
        .map_err(AdminError::Invalid)?;
    let now = Utc::now();
    let mut integration = Integration {
        id: format!("int-{}", uuid::Uuid::new_v4().simple()),
        tenant_id: request.tenant_id.trim().to_string(),
        provider: request.provider,
        external_tenant_id: None,
        display_name: request.provider.to_string(),
        mode: request.mode,
        status: IntegrationStatus::Connected,
        credential,
        webhook_ids: vec![],
        settings,
        created_at: now,
        updated_at: now,
    };
    // Check the credentials under a name nobody else uses; keep them only if they work.
    core.tokens
        .store_secret(&integration, &request.secret)
        .await?;
    let checked = {
        let connector_ref = connector;
        let probe = &integration;
        core.tokens
            .with_token(connector_ref, probe, |token| async move {
                connector_ref.check_credentials(probe, &token).await
            })
            .await
    };
    let grant = match checked {
        Ok(grant) => grant,
        Err(error) => {
            core.tokens.forget(&integration).await?;
            return Err(AdminError::Refused(error.to_string()));
        }
    };
    integration.display_name = grant.display_name;
    integration.external_tenant_id = grant.external_tenant_id;
    if let Some(existing) = crate::http::oauth_callback::find_existing(
        core,
        &integration.tenant_id,
        integration.provider,
        integration.external_tenant_id.as_deref(),
    )
    .await?
    {
        // The same provider tenant again: keep its id, checkpoints and webhooks.
        core.tokens.forget(&integration).await?;
        integration = existing.reconnected(
            &integration.settings,
            credential,
            integration.mode,
            &integration.display_name,
            now,
        );
        core.tokens
            .store_secret(&integration, &request.secret)
            .await?;
    }
    let warnings = if integration.mode.polls() {
        crate::pipeline::poller::seed_checkpoints(core, connector, &integration).await
    } else {
        Vec::new()
    };
    core.backend
        .integrations
        .put_integration(&integration)
        .await?;
    record_integration_change(
        core,
        &integration,
        if integration.created_at == integration.updated_at {
            1
        } else {
            3
        },
    )
    .await?;
    Ok((integration, warnings))
}

/// The tenant's integrations, each with its streams' checkpoints and health.
pub async fn list_integrations(
    core: &Core,
    tenant_id: &str,
) -> Result<Vec<IntegrationView>, AdminError> {
    let mut views = Vec::new();
    for integration in core
        .backend
        .integrations
        .list_integrations(tenant_id)
        .await?
    {
        let streams = core
            .backend
            .checkpoints
            .list_checkpoints(&integration_stream_prefix(
                &integration.tenant_id,
                &integration.id,
            ))
            .await?;
        views.push(IntegrationView {
            integration,
            streams,
        });
    }
    Ok(views)
}

async fn load(core: &Core, tenant_id: &str, id: &str) -> Result<Integration, AdminError> {
    core.backend
        .integrations
        .get_integration(tenant_id, id)
        .await?
        .ok_or_else(|| AdminError::NotFound {
            tenant: tenant_id.into(),
            id: id.into(),
        })
}

/// Pauses (nothing polled, webhooks acknowledged and dropped) or resumes an integration.
pub async fn set_paused(
    core: &Core,
    tenant_id: &str,
    id: &str,
    paused: bool,
) -> Result<Integration, AdminError> {
    let mut integration = load(core, tenant_id, id).await?;
    integration.status = match (integration.status, paused) {
        (IntegrationStatus::Connected | IntegrationStatus::Paused, true) => {
            IntegrationStatus::Paused
        }
        (IntegrationStatus::Paused | IntegrationStatus::Connected, false) => {
            IntegrationStatus::Connected
        }
        (other, _) => {
            return Err(AdminError::Invalid(format!(
                "integration {id} is {other:?}: connect it again instead"
            )))
        }
    };
    integration.updated_at = Utc::now();
    core.backend
        .integrations
        .put_integration(&integration)
        .await?;
    record_integration_change(core, &integration, if paused { 12 } else { 13 }).await?;
    Ok(integration)
}

/// Removes an integration: its webhooks at the provider (best effort), its credentials from the
/// secret store; the record stays, disconnected, for the incidents that name it.
pub async fn remove_integration(
    core: &Core,
    tenant_id: &str,
    id: &str,
) -> Result<(Integration, Vec<String>), AdminError> {
    let mut integration = load(core, tenant_id, id).await?;
    let mut warnings = Vec::new();
    if let Some(connector) = core.connectors.get(integration.provider) {
        let connector = connector.as_ref();
        let current = &integration;
        if !integration.webhook_ids.is_empty() {
            if let Err(error) = core
                .tokens
                .with_token(connector, current, |token| async move {
                    connector.deregister_webhooks(current, &token).await
                })
                .await
            {
                warnings.push(format!("webhooks not removed: {error}"));
            }
        }
    }
    core.tokens.forget(&integration).await?;
    integration.status = IntegrationStatus::Disconnected;
    integration.webhook_ids.clear();
    integration.updated_at = Utc::now();
    core.backend
        .integrations
        .put_integration(&integration)
        .await?;
    record_integration_change(core, &integration, 4).await?;
    Ok((integration, warnings))
}

/// Records an integration's change (connected, paused, resumed, removed) for export as Entity
/// Management; `activity_id` is OCSF's (1 Create, 3 Update, 4 Delete, 12 Suspend, 13 Resume).
pub async fn record_integration_change(
    core: &Core,
    integration: &Integration,
    activity_id: u32,
) -> Result<(), AdminError> {
    let change = crate::ocsf::ConfigChange {
        tenant_id: &integration.tenant_id,
        uid: format!(
            "{}#integration#{}#{}",
            integration.tenant_id,
            integration.id,
            integration.updated_at.timestamp_millis()
        ),
        entity_type: "integration",
        entity_uid: &integration.id,
        entity_name: &integration.display_name,
        entity_version: None,
        activity_id,
        time: integration.updated_at,
        details: serde_json::json!({
            "provider": integration.provider.as_str(),
            "mode": crate::domain::enum_label(&integration.mode),
            "status": crate::domain::enum_label(&integration.status),
            "credential": integration.credential.as_str(),
        }),
    };
    crate::pipeline::exporter::record_config_change(core, &change)
        .await
        .map_err(|e| AdminError::Invalid(format!("changed, but not recorded for export: {e}")))
}
