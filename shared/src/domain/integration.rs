//! A connected SaaS tenant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Provider;

/// How activities reach us from this tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    pub id: String,
    pub tenant_id: String,
    pub provider: Provider,
    /// The provider's own id for the tenant (Box enterprise id, Microsoft tenant GUID, ...).
    pub external_tenant_id: Option<String>,
    pub display_name: String,
    pub mode: IngestMode,
    pub status: IntegrationStatus,
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

    /// Name of the secret holding this integration's OAuth tokens.
    pub fn token_secret_name(&self) -> String {
        format!("integrations/{}/tokens", self.id)
    }
}
