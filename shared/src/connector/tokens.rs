//! Access tokens for connector calls: read from the secret store, refreshed when expired or
//! refused, with rotating refresh tokens kept safe.
//!
//! Box refresh tokens are single use (saas-apis.md §1.1): if two workers refreshed at once, one
//! would burn the token the other just got, and the integration would be locked out. So a
//! refresh runs under a per-integration lock (in-process mutex plus a lease in the dedup store
//! for other processes), re-reads the stored tokens once it holds the lock (someone else may have
//! refreshed already), and writes the new pair back *before* using the new access token.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

use super::{Connector, ConnectorError, TokenSet};
use crate::backend::Backend;
use crate::domain::{Integration, IntegrationStatus};

/// Refresh this long before the provider's stated expiry.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::seconds(60);
/// How long one refresh may hold the cross-process lease.
const REFRESH_LEASE: chrono::Duration = chrono::Duration::seconds(30);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("integration {0} has no stored tokens: connect it again")]
    Missing(String),
    #[error("stored tokens for integration {0} are unreadable: connect it again")]
    Corrupt(String),
    #[error(transparent)]
    Secret(#[from] crate::ports::SecretError),
    #[error(transparent)]
    Store(#[from] crate::ports::StoreError),
}

impl From<TokenError> for ConnectorError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Missing(_) | TokenError::Corrupt(_) => {
                ConnectorError::NeedsReauth(error.to_string())
            }
            other => ConnectorError::Transient(other.to_string()),
        }
    }
}

#[derive(Clone)]
pub struct TokenManager {
    backend: Backend,
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl TokenManager {
    pub fn new(backend: Backend) -> Self {
        TokenManager {
            backend,
            locks: Arc::default(),
        }
    }

    /// Stores a freshly issued token set (after the OAuth code exchange).
    /// Returns the stored version.
    pub async fn store(
        &self,
        integration: &Integration,
        tokens: &TokenSet,
    ) -> Result<String, TokenError> {
        let json = serde_json::to_string(tokens)
            .map_err(|_| TokenError::Corrupt(integration.id.clone()))?;
        Ok(self
            .backend
            .secrets
            .put_secret(&integration.token_secret_name(), &SecretString::from(json))
            .await?)
    }

    pub async fn load(&self, integration: &Integration) -> Result<(TokenSet, String), TokenError> {
        let stored = self
            .backend
            .secrets
            .get_secret(&integration.token_secret_name())
            .await?
            .ok_or_else(|| TokenError::Missing(integration.id.clone()))?;
        let tokens: TokenSet = serde_json::from_str(stored.value.expose_secret())
            .map_err(|_| TokenError::Corrupt(integration.id.clone()))?;
        Ok((tokens, stored.version))
    }

    pub async fn forget(&self, integration: &Integration) -> Result<(), TokenError> {
        self.backend
            .secrets
            .delete_secret(&integration.token_secret_name())
            .await?;
        Ok(())
    }

    fn local_lock(&self, integration_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(integration_id.to_string()).or_default().clone()
    }

    /// A usable access token, refreshed first if it has expired.
    pub async fn access_token(
        &self,
        connector: &dyn Connector,
        integration: &Integration,
    ) -> Result<SecretString, ConnectorError> {
        Ok(self.versioned_access_token(connector, integration).await?.0)
    }

    /// The access token and the stored version it came from.
    async fn versioned_access_token(
        &self,
        connector: &dyn Connector,
        integration: &Integration,
    ) -> Result<(SecretString, String), ConnectorError> {
        let (tokens, version) = self.load(integration).await?;
        if tokens.expires_at > Utc::now() + EXPIRY_MARGIN {
            return Ok((SecretString::from(tokens.access_token), version));
        }
        self.refresh(connector, integration, &version).await
    }

    /// Refreshes the tokens whose stored version is `seen_version`, unless someone already did.
    async fn refresh(
        &self,
        connector: &dyn Connector,
        integration: &Integration,
        seen_version: &str,
    ) -> Result<(SecretString, String), ConnectorError> {
        let lock = self.local_lock(&integration.id);
        let _held = lock.lock().await;
        let lease = format!("token-refresh#{}", integration.id);
        let mut waited = Duration::ZERO;
        loop {
            let now = Utc::now();
            if self
                .backend
                .dedup
                .insert_if_absent(&lease, now + REFRESH_LEASE, now)
                .await
                .map_err(TokenError::from)?
            {
                break;
            }
            // Another process is refreshing: wait for it, then use what it stored.
            if waited > Duration::from_secs(35) {
                return Err(ConnectorError::Transient(
                    "another process holds the token refresh lease".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            waited += Duration::from_millis(200);
        }
        let result = self
            .refresh_holding_lease(connector, integration, seen_version)
            .await;
        if let Err(error) = self.backend.dedup.remove(&lease).await {
            tracing::warn!(integration = %integration.id, %error, "could not release the refresh lease; it will expire");
        }
        result
    }

    async fn refresh_holding_lease(
        &self,
        connector: &dyn Connector,
        integration: &Integration,
        seen_version: &str,
    ) -> Result<(SecretString, String), ConnectorError> {
        let (current, version) = self.load(integration).await?;
        if version != seen_version && current.expires_at > Utc::now() + EXPIRY_MARGIN {
            return Ok((SecretString::from(current.access_token), version));
        }
        let Some(refresh_token) = current.refresh_token else {
            return Err(ConnectorError::NeedsReauth(
                "no refresh token was issued".into(),
            ));
        };
        match connector.refresh(&SecretString::from(refresh_token)).await {
            Ok(fresh) => {
                // Persist before use: if we crashed after using the new access token but before
                // storing, the single-use refresh token would be lost with us.
                let version = self.store(integration, &fresh).await?;
                tracing::info!(integration = %integration.id, "access token refreshed");
                Ok((SecretString::from(fresh.access_token), version))
            }
            Err(ConnectorError::NeedsReauth(reason)) => {
                self.mark_needs_reauth(integration, &reason).await;
                Err(ConnectorError::NeedsReauth(reason))
            }
            Err(other) => Err(other),
        }
    }

    async fn mark_needs_reauth(&self, integration: &Integration, reason: &str) {
        let store = &self.backend.integrations;
        match store
            .get_integration(&integration.tenant_id, &integration.id)
            .await
        {
            Ok(Some(mut current)) if current.status == IntegrationStatus::Connected => {
                current.status = IntegrationStatus::NeedsReauth;
                current.updated_at = Utc::now();
                if let Err(error) = store.put_integration(&current).await {
                    tracing::error!(integration = %integration.id, %error, "could not mark integration needs-reauth");
                }
            }
            _ => {}
        }
        tracing::error!(integration = %integration.id, %reason,
            "the provider rejected the refresh token: the integration needs re-authorization by an admin");
    }

    /// Runs `call` with a valid access token; if the provider refuses the token, refreshes it
    /// once and runs `call` again.
    pub async fn with_token<T, F, Fut>(
        &self,
        connector: &dyn Connector,
        integration: &Integration,
        call: F,
    ) -> Result<T, ConnectorError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        let (token, version) = self.versioned_access_token(connector, integration).await?;
        match call(token).await {
            Err(ConnectorError::Unauthorized) => {
                // Refresh the token that was refused, unless another caller already has.
                let (fresh, _) = self.refresh(connector, integration, &version).await?;
                match call(fresh).await {
                    Err(ConnectorError::Unauthorized) => Err(ConnectorError::NeedsReauth(
                        "the provider refuses freshly refreshed tokens".into(),
                    )),
                    other => other,
                }
            }
            other => other,
        }
    }
}
