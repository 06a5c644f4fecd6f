//! Connectors: one per provider behind one trait. The pipeline only ever talks to a provider
//! through this trait, and a registry picks the connector by provider.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{ActionKind, Activity, Integration, Provider, ResponseAction};

/// What a provider's connector can do, so the product can say so instead of failing late.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub oauth: bool,
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

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("the provider asked us to slow down; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    #[error("the provider rejected our grant ({0}); an admin must reconnect the integration")]
    NeedsReauth(String),
    #[error("the provider is unavailable or failed: {0}")]
    Transient(String),
    #[error("the provider refused the request: {0}")]
    Permanent(String),
    #[error("{0}")]
    Unsupported(String),
}

#[async_trait]
pub trait Connector: Send + Sync {
    fn provider(&self) -> Provider;
    fn capabilities(&self) -> Capabilities;
    /// Fetches one page of events after `cursor` (`None`: start of the stream as the connector
    /// defines it) and normalizes them.
    async fn poll(
        &self,
        integration: &Integration,
        cursor: Option<&str>,
    ) -> Result<PollPage, ConnectorError>;
    /// Carries out a response action. Must be idempotent: doing it twice is success.
    async fn execute(
        &self,
        integration: &Integration,
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
