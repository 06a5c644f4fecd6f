//! Access tokens for connector calls, for every kind of credential an integration can have.
//!
//! - **Authorization code**: the token pair lives in the secret store and is refreshed when
//!   expired or refused. Box refresh tokens are single use (saas-apis.md §1.1): if two workers
//!   refreshed at once, one would burn the token the other just got. So a refresh runs under a
//!   per-integration lock: an in-process mutex, plus a lease in the store for other processes,
//!   owned (only its owner may release it) and renewed by a heartbeat for as long as the
//!   refresh takes, however slow the token endpoint. The refresh request is sent once, never
//!   retried blindly (a retry after a lost answer would spend a dead token). The new pair is
//!   stored before it is used. A refresh refused with `invalid_grant` re-reads the store
//!   before giving up: another process may have won the race and stored a valid pair.
//! - **Client credentials / JWT assertion**: the stored secret makes tokens on demand; they
//!   are cached in memory until shortly before they expire.
//! - **API token**: used as stored; a refusal means an operator must store a new one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{Connector, ConnectorError, TokenSet};
use crate::backend::Backend;
use crate::domain::{CredentialKind, Integration, IntegrationStatus};
use crate::lease::HeldLease;

/// Refresh this long before the provider's stated expiry.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// How the cross-process refresh lease behaves.
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    /// The lease's length; its holder renews it every third of this while it refreshes.
    pub lease: Duration,
    /// How long a caller waits for another process's refresh before giving up (transiently).
    pub max_wait: Duration,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        RefreshOptions {
            lease: Duration::from_secs(30),
            max_wait: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("integration {0} has no stored credentials: connect it again")]
    Missing(String),
    #[error("stored credentials for integration {0} are unreadable: connect it again")]
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

/// What a token handed to a call came from, so a refusal can be answered the right way.
enum Issued {
    /// The stored pair of this version.
    Stored(String),
    /// Made from headless credentials and cached.
    Cached,
    /// A static API token.
    Static,
}

#[derive(Clone)]
pub struct TokenManager {
    backend: Backend,
    options: RefreshOptions,
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    cache: Arc<Mutex<HashMap<String, CachedToken>>>,
}

/// An access token made from headless credentials, and when it expires.
type CachedToken = (SecretString, DateTime<Utc>);

fn integration_key(integration: &Integration) -> String {
    format!("{}#{}", integration.tenant_id, integration.id)
}

impl TokenManager {
    pub fn new(backend: Backend) -> Self {
        Self::with_options(backend, RefreshOptions::default())
    }

    pub fn with_options(backend: Backend, options: RefreshOptions) -> Self {
        TokenManager {
            backend,
            options,
            locks: Arc::default(),
            cache: Arc::default(),
        }
    }

    /// Stores a freshly issued token pair (after the OAuth code exchange). Returns the stored
    /// version.
    pub async fn store(
        &self,
        integration: &Integration,
        tokens: &TokenSet,
    ) -> Result<String, TokenError> {
        let json = serde_json::to_string(tokens)
            .map_err(|_| TokenError::Corrupt(integration.id.clone()))?;
        self.store_secret(integration, &SecretString::from(json))
            .await
    }

    /// Stores headless credentials exactly as the operator gave them (the connector reads them).
    pub async fn store_secret(
        &self,
        integration: &Integration,
        secret: &SecretString,
    ) -> Result<String, TokenError> {
        self.forget_cached(integration);
        Ok(self
            .backend
            .secrets
            .put_secret(&integration.credential_secret_name(), secret)
            .await?)
    }

    async fn load_secret(
        &self,
        integration: &Integration,
    ) -> Result<(SecretString, String), TokenError> {
        let stored = self
            .backend
            .secrets
            .get_secret(&integration.credential_secret_name())
            .await?
            .ok_or_else(|| TokenError::Missing(integration.id.clone()))?;
        Ok((stored.value, stored.version))
    }

    /// The stored token pair of an authorization-code integration, and its version.
    pub async fn load(&self, integration: &Integration) -> Result<(TokenSet, String), TokenError> {
        let (secret, version) = self.load_secret(integration).await?;
        let tokens: TokenSet = serde_json::from_str(secret.expose_secret())
            .map_err(|_| TokenError::Corrupt(integration.id.clone()))?;
        Ok((tokens, version))
    }

    pub async fn forget(&self, integration: &Integration) -> Result<(), TokenError> {
        self.forget_cached(integration);
        self.backend
            .secrets
            .delete_secret(&integration.credential_secret_name())
            .await?;
        Ok(())
    }

    fn forget_cached(&self, integration: &Integration) {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&integration_key(integration));
    }

    fn local_lock(&self, integration: &Integration) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks
            .entry(integration_key(integration))
            .or_default()
            .clone()
    }

    /// A usable access token, refreshed or made first if needed.
    pub async fn access_token(
        &self,
        connector: &dyn Connector,
        integration: &Integration,
    ) -> Result<SecretString, ConnectorError> {
        Ok(self.issue(connector, integration).await?.0)
    }

    async fn issue(
        &self,
        connector: &dyn Connector,
        integration: &Integration,
    ) -> Result<(SecretString, Issued), ConnectorError> {
        match integration.credential {
            CredentialKind::AuthorizationCode => {
                let (tokens, version) = self.load(integration).await?;
                if tokens.expires_at > Utc::now() + EXPIRY_MARGIN {
                    return Ok((
                        SecretString::from(tokens.access_token),
                        Issued::Stored(version),
                    ));
                }
                let (token, version) = self.refresh(connector, integration, &version).await?;
                Ok((token, Issued::Stored(version)))
            }
            CredentialKind::ApiToken => {
                let (secret, _) = self.load_secret(integration).await?;
                Ok((static_token(&secret), Issued::Static))
            }
            CredentialKind::ClientCredentials | CredentialKind::JwtAssertion => {
                let key = integration_key(integration);
                if let Some((token, expires_at)) = self
                    .cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&key)
                    .cloned()
                {
                    if expires_at > Utc::now() + EXPIRY_MARGIN {
                        return Ok((token, Issued::Cached));
                    }
                }
                let (secret, _) = self.load_secret(integration).await?;
                let tokens = connector.headless_token(integration, &secret).await?;
                let token = SecretString::from(tokens.access_token);
                self.cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, (token.clone(), tokens.expires_at));
                Ok((token, Issued::Cached))
            }
        }
    }

    /// Refreshes the tokens whose stored version is `seen_version`, unless someone already did.
    async fn refresh(
        &self,
        connector: &dyn Connector,
        integration: &Integration,
        seen_version: &str,
    ) -> Result<(SecretString, String), ConnectorError> {
        let lock = self.local_lock(integration);
        let _held = lock.lock().await;
        if let Some(fresh) = self.refreshed_since(integration, seen_version).await? {
            return Ok(fresh);
        }
        if !connector.refresh_rotates() {
            // A refresh token that is not spent by use can be used by everyone at once.
            return self.refresh_now(connector, integration, seen_version).await;
        }
        let lease = format!("token-refresh#{}#{}", integration.tenant_id, integration.id);
        let give_up = tokio::time::Instant::now() + self.options.max_wait;
        // Held (and renewed) for as long as the refresh takes: a slow token endpoint must not
        // let the lease lapse and a second process spend the same refresh token.
        let held = loop {
            if let Some(held) =
                HeldLease::acquire(self.backend.dedup.clone(), &lease, self.options.lease)
                    .await
                    .map_err(TokenError::from)?
            {
                break held;
            }
            // Another process is refreshing: use what it stores as soon as it does.
            if let Some(fresh) = self.refreshed_since(integration, seen_version).await? {
                return Ok(fresh);
            }
            if tokio::time::Instant::now() >= give_up {
                return Err(ConnectorError::Transient(
                    "another process has been refreshing this integration's token for too long; retrying later".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let result = self.refresh_now(connector, integration, seen_version).await;
        held.release().await;
        result
    }

    /// The stored pair, if it changed since `seen_version` and is still valid.
    async fn refreshed_since(
        &self,
        integration: &Integration,
        seen_version: &str,
    ) -> Result<Option<(SecretString, String)>, ConnectorError> {
        let (current, version) = self.load(integration).await?;
        Ok(
            (version != seen_version && current.expires_at > Utc::now() + EXPIRY_MARGIN)
                .then(|| (SecretString::from(current.access_token), version)),
        )
    }

    async fn refresh_now(
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
                // Refused: unless another process stored a valid pair meanwhile (it spent the
                // token we sent), the grant really is gone.
                if let Some(fresh) = self.refreshed_since(integration, &version).await? {
                    tracing::warn!(integration = %integration.id, "refresh refused, but another process had already refreshed; using its tokens");
                    return Ok(fresh);
                }
                self.note_needs_reauth(integration, &reason).await;
                Err(ConnectorError::NeedsReauth(reason))
            }
            Err(other) => Err(other),
        }
    }

    /// Marks the integration needs-reauth (if it is connected) and says so in the log: the
    /// provider refused its grant, and only an admin reconnecting it helps. Used by every
    /// path that learns it (refresh, a refused API token, the poller).
    pub(crate) async fn mark_needs_reauth(
        &self,
        integration: &Integration,
        reason: &str,
    ) -> Result<(), crate::ports::StoreError> {
        let store = &self.backend.integrations;
        if let Some(mut current) = store
            .get_integration(&integration.tenant_id, &integration.id)
            .await?
        {
            if current.status == IntegrationStatus::Connected {
                current.status = IntegrationStatus::NeedsReauth;
                current.updated_at = self.backend.clock.now();
                store.put_integration(&current).await?;
            }
        }
        tracing::error!(integration = %integration.id, %reason,
            "the provider rejected the integration's grant: it needs re-authorization by an admin and is not polled until then");
        Ok(())
    }

    /// [`TokenManager::mark_needs_reauth`] where the caller goes on to report the refusal anyway.
    async fn note_needs_reauth(&self, integration: &Integration, reason: &str) {
        if let Err(error) = self.mark_needs_reauth(integration, reason).await {
            tracing::error!(integration = %integration.id, %error, "could not mark integration needs-reauth");
        }
    }

    /// Runs `call` with a valid access token; if the provider refuses the token, gets a new
    /// one once (refresh, or new headless token) and runs `call` again.
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
        let (token, issued) = self.issue(connector, integration).await?;
        match call(token).await {
            Err(ConnectorError::Unauthorized) => {
                let fresh = match issued {
                    // Refresh the token that was refused, unless another caller already has.
                    Issued::Stored(version) => {
                        self.refresh(connector, integration, &version).await?.0
                    }
                    Issued::Cached => {
                        self.forget_cached(integration);
                        self.issue(connector, integration).await?.0
                    }
                    Issued::Static => {
                        let reason = "the provider refused the stored API token: store a new one with `casb integration add` (or `casb secret-put`)";
                        self.note_needs_reauth(integration, reason).await;
                        return Err(ConnectorError::NeedsReauth(reason.into()));
                    }
                };
                match call(fresh).await {
                    Err(ConnectorError::Unauthorized) => Err(ConnectorError::NeedsReauth(
                        "the provider refuses freshly issued tokens".into(),
                    )),
                    other => other,
                }
            }
            other => other,
        }
    }
}

/// A stored API token: the JSON `{"token": "..."}` or, as pasted, the bare token.
fn static_token(secret: &SecretString) -> SecretString {
    let text = secret.expose_secret().trim();
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => match value.get("token").and_then(|t| t.as_str()) {
            Some(token) => SecretString::from(token.to_string()),
            None => SecretString::from(text.to_string()),
        },
        Err(_) => SecretString::from(text.to_string()),
    }
}
