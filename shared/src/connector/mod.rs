//! Connectors: one per provider behind one trait. The pipeline only ever talks to a provider
//! through this trait, and a registry picks the connector by provider. What differs between
//! providers is data (endpoints, field mappings, event names); the control flow (token refresh,
//! retries, host allow-lists, dedup) lives here once.

pub mod boxcom;
pub mod http;
pub mod oauth;
pub mod tokens;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::domain::{ActionKind, Activity, Integration, Provider, ResponseAction};

/// What a provider's connector can do, so the product can say so instead of failing late.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub oauth: bool,
    pub pkce: bool,
    pub webhooks: bool,
    pub polling: bool,
    pub content_download: bool,
    pub response_actions: Vec<ActionKind>,
}

/// One page of a provider's event stream.
#[derive(Debug, Clone, PartialEq)]
pub struct PollPage {
    pub activities: Vec<Activity>,
    /// Where the next poll resumes. Stored only after `activities` are safely queued.
    pub next_cursor: String,
    /// Whether the provider said more events are waiting right now.
    pub has_more: bool,
}

/// How a response action ended at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    Succeeded {
        detail: String,
    },
    /// The provider offers no API for it, or this object cannot take it.
    Unsupported {
        reason: String,
    },
}

/// OAuth tokens as the provider issued them. Lives only in the secret store.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Who granted the connection, as the provider describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantInfo {
    pub external_tenant_id: Option<String>,
    pub display_name: String,
    pub admin_email: Option<String>,
}

/// A webhook delivery as received: headers lower-cased, body as raw bytes.
#[derive(Debug, Clone)]
pub struct WebhookDelivery<'a> {
    pub headers: &'a HashMap<String, String>,
    pub body: &'a [u8],
}

/// Why a webhook delivery was refused. Every variant is answered with 401 and queues nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRejection {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("delivery timestamp is not RFC 3339")]
    BadTimestamp,
    #[error("delivery timestamp is outside the replay window")]
    Expired,
    #[error("signature does not match")]
    BadSignature,
    #[error("webhook signing keys are not configured")]
    NoKeys,
}

/// What a verified webhook delivery carries.
#[derive(Debug, Clone)]
pub struct WebhookNotice {
    /// The provider's id for the notification, stable across its retries.
    pub delivery_id: String,
    pub activities: Vec<Activity>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("the provider asked us to slow down; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// The access token was refused (expired or revoked); refresh and retry once.
    #[error("the provider refused the access token")]
    Unauthorized,
    #[error("the provider rejected our grant ({0}); an admin must reconnect the integration")]
    NeedsReauth(String),
    #[error("the provider is unavailable or failed: {0}")]
    Transient(String),
    #[error("the provider refused the request: {0}")]
    Permanent(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("connector is not configured: {0}")]
    NotConfigured(String),
}

/// One provider. Methods that call the provider's API take the access token to use; the caller
/// (see [`tokens::TokenManager`]) refreshes it on [`ConnectorError::Unauthorized`].
#[async_trait]
pub trait Connector: Send + Sync {
    fn provider(&self) -> Provider;
    fn capabilities(&self) -> Capabilities;

    // --- OAuth ---
    /// The consent page URL for `state` (and the PKCE challenge, where supported).
    async fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<String, ConnectorError> {
        let _ = (redirect_uri, state, code_challenge);
        Err(ConnectorError::Unsupported(format!(
            "{} has no OAuth flow here",
            self.provider()
        )))
    }
    async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenSet, ConnectorError> {
        let _ = (code, code_verifier, redirect_uri);
        Err(ConnectorError::Unsupported(format!(
            "{} has no OAuth flow here",
            self.provider()
        )))
    }
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, ConnectorError> {
        let _ = refresh_token;
        Err(ConnectorError::Unsupported(format!(
            "{} tokens cannot be refreshed",
            self.provider()
        )))
    }
    async fn revoke(&self, token: &SecretString) -> Result<(), ConnectorError> {
        let _ = token;
        Ok(())
    }
    /// Describes the tenant that granted `access_token`.
    async fn grant_info(&self, access_token: &SecretString) -> Result<GrantInfo, ConnectorError> {
        let _ = access_token;
        Ok(GrantInfo {
            external_tenant_id: None,
            display_name: self.provider().to_string(),
            admin_email: None,
        })
    }

    // --- push ---
    /// Registers webhooks for the integration at `address`; returns their ids.
    async fn register_webhooks(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        address: &str,
    ) -> Result<Vec<String>, ConnectorError> {
        let _ = (integration, access_token, address);
        Ok(Vec::new())
    }
    async fn deregister_webhooks(
        &self,
        integration: &Integration,
        access_token: &SecretString,
    ) -> Result<(), ConnectorError> {
        let _ = (integration, access_token);
        Ok(())
    }
    /// Checks a delivery's signature and freshness over the raw body.
    async fn verify_webhook(
        &self,
        delivery: &WebhookDelivery<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), WebhookRejection> {
        let _ = (delivery, now);
        Err(WebhookRejection::NoKeys)
    }
    /// Turns a verified delivery into activities, fetching what the payload lacks.
    async fn parse_webhook(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        body: &[u8],
    ) -> Result<WebhookNotice, ConnectorError> {
        let _ = (integration, access_token, body);
        Err(ConnectorError::Unsupported(format!(
            "{} webhooks are not supported",
            self.provider()
        )))
    }

    // --- pull ---
    /// The cursor a new integration starts from (usually "now": history is not replayed).
    async fn initial_cursor(
        &self,
        integration: &Integration,
        access_token: &SecretString,
    ) -> Result<Option<String>, ConnectorError> {
        let _ = (integration, access_token);
        Ok(None)
    }
    /// Fetches one page of events after `cursor` and normalizes them.
    async fn poll(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        cursor: Option<&str>,
    ) -> Result<PollPage, ConnectorError>;

    // --- content ---
    /// A file's bytes, refusing more than `max_bytes`.
    async fn download(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        file_id: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ConnectorError> {
        let _ = (integration, access_token, file_id, max_bytes);
        Err(ConnectorError::Unsupported(format!(
            "{} content download is not supported",
            self.provider()
        )))
    }

    // --- response actions ---
    /// Carries out a response action. Must be idempotent: doing it twice is success.
    async fn execute(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        action: &ResponseAction,
    ) -> Result<ActionOutcome, ConnectorError>;
}

/// The connectors this deployment has, by provider.
#[derive(Clone, Default)]
pub struct ConnectorRegistry {
    connectors: HashMap<Provider, Arc<dyn Connector>>,
}

impl ConnectorRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, connector: Arc<dyn Connector>) {
        self.connectors.insert(connector.provider(), connector);
    }

    pub fn get(&self, provider: Provider) -> Option<&Arc<dyn Connector>> {
        self.connectors.get(&provider)
    }

    pub fn providers(&self) -> Vec<Provider> {
        let mut providers: Vec<_> = self.connectors.keys().copied().collect();
        providers.sort();
        providers
    }
}
