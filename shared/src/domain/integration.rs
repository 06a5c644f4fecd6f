//! A connected SaaS tenant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Provider;

/// How activities reach us from this tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IngestMode {
    /// Webhooks only.
    Push,
    /// Scheduled polls of the provider's event API only.
    Pull,
    /// Both: the event API is the source of truth, webhooks bring latency down.
    Both,
}

impl IngestMode {
    pub fn polls(self) -> bool {
        matches!(self, IngestMode::Pull | IngestMode::Both)
    }

    pub fn receives_webhooks(self) -> bool {
        matches!(self, IngestMode::Push | IngestMode::Both)
    }
}

/// How the CASB authenticates to a provider tenant; each connector says which it supports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// OAuth 2.0 authorization code through an admin's browser; the stored secret is the token
    /// pair, refreshed under a lease (rotating or not, as the connector says).
    #[default]
    AuthorizationCode,
    /// OAuth 2.0 client credentials (app-only, after an admin's consent): the stored secret is
    /// the client id and secret; access tokens are requested when needed and cached.
    ClientCredentials,
    /// A signed JWT assertion (RFC 7523) for a service account, naming a subject to act as: the
    /// stored secret is the private key and its ids.
    JwtAssertion,
    /// A static API token the provider's admin console issued; used as it is, never refreshed.
    ApiToken,
}

impl CredentialKind {
    pub const ALL: [CredentialKind; 4] = [
        CredentialKind::AuthorizationCode,
        CredentialKind::ClientCredentials,
        CredentialKind::JwtAssertion,
        CredentialKind::ApiToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::AuthorizationCode => "authorization_code",
            CredentialKind::ClientCredentials => "client_credentials",
            CredentialKind::JwtAssertion => "jwt_assertion",
            CredentialKind::ApiToken => "api_token",
        }
    }

    /// Whether an integration with these credentials can be created without a browser.
    pub fn headless(self) -> bool {
        self != CredentialKind::AuthorizationCode
    }
}

impl std::fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CredentialKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CredentialKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = CredentialKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown credential kind '{s}': expected one of {}",
                    known.join(", ")
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    Connected,
    /// Stopped by an operator; nothing is polled or accepted until resumed.
    Paused,
    /// The provider rejected our refresh token (`invalid_grant`): an admin must reconnect.
    NeedsReauth,
    Disconnected,
}

/// One connected tenant of one provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Integration {
    pub id: String,
    pub tenant_id: String,
    pub provider: Provider,
    /// The provider's own id for the tenant (Box enterprise id, Microsoft tenant GUID, ...).
    pub external_tenant_id: Option<String>,
    pub display_name: String,
    pub mode: IngestMode,
    pub status: IntegrationStatus,
    /// How the CASB authenticates to the tenant.
    #[serde(default)]
    pub credential: CredentialKind,
    /// Webhook ids registered at the provider, so disconnect can remove exactly those.
    #[serde(default)]
    pub webhook_ids: Vec<String>,
    /// Connector-specific settings (watched folders, quarantine folder id, ...).
    #[serde(default)]
    pub settings: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Integration {
    /// Whether the poller should pull this integration now.
    pub fn is_pollable(&self) -> bool {
        self.status == IntegrationStatus::Connected && self.mode.polls()
    }

    /// Name of the secret holding this integration's credentials (tokens, client secret,
    /// private key or API token): under the tenant's name, so no key is shared across tenants.
    pub fn credential_secret_name(&self) -> String {
        format!(
            "tenants/{}/integrations/{}/credentials",
            self.tenant_id, self.id
        )
    }

    /// The checkpoint key of one of this integration's streams.
    pub fn stream_key(&self, stream_id: &str) -> String {
        super::stream_key(&self.tenant_id, &self.id, stream_id)
    }

    /// This integration connected again (the same provider tenant, for the same tenant): it
    /// keeps its id, checkpoints and webhooks; the new connection's settings override the old
    /// ones of the same name, and its credentials, mode and name replace the old.
    pub fn reconnected(
        mut self,
        settings: &serde_json::Value,
        credential: CredentialKind,
        mode: IngestMode,
        display_name: &str,
        now: DateTime<Utc>,
    ) -> Integration {
        if let (Some(old), Some(new)) = (self.settings.as_object_mut(), settings.as_object()) {
            for (name, value) in new {
                old.insert(name.clone(), value.clone());
            }
        }
        self.credential = credential;
        self.mode = mode;
        self.display_name = display_name.to_string();
        self.status = IntegrationStatus::Connected;
        self.updated_at = now;
        self
    }

    /// Whether webhooks from the provider are accepted for this integration now.
    pub fn accepts_webhooks(&self) -> bool {
        self.status == IntegrationStatus::Connected && self.mode.receives_webhooks()
    }
}
