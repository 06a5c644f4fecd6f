//! A provider application's own credentials (client id and secret, webhook keys), read from the
//! secret store when first needed and kept for a few minutes, so a rotation takes effect soon
//! without a read on every call.

use chrono::{DateTime, Duration, Utc};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use tokio::sync::RwLock;

use super::ConnectorError;
use crate::ports::SecretStore;

/// How long credentials are used before they are read again.
const CREDENTIALS_TTL: Duration = Duration::minutes(5);

pub struct AppCredentials<T> {
    secret_name: &'static str,
    /// What to store, for the error when nothing is: "the Box app's client id, secret and
    /// webhook keys".
    what: &'static str,
    cached: RwLock<Option<(T, DateTime<Utc>)>>,
}

impl<T: DeserializeOwned + Clone> AppCredentials<T> {
    pub fn new(secret_name: &'static str, what: &'static str) -> Self {
        AppCredentials {
            secret_name,
            what,
            cached: RwLock::new(None),
        }
    }

    pub async fn get(&self, secrets: &dyn SecretStore) -> Result<T, ConnectorError> {
        if let Some((credentials, loaded)) = self.cached.read().await.as_ref() {
            if Utc::now() - *loaded < CREDENTIALS_TTL {
                return Ok(credentials.clone());
            }
        }
        let name = self.secret_name;
        let stored = secrets
            .get_secret(name)
            .await
            .map_err(|e| ConnectorError::Transient(e.to_string()))?
            .ok_or_else(|| {
                ConnectorError::NotConfigured(format!("store {} in the secret '{name}'", self.what))
            })?;
        let credentials: T = serde_json::from_str(stored.value.expose_secret()).map_err(|e| {
            ConnectorError::NotConfigured(format!("secret '{name}' is not the expected JSON: {e}"))
        })?;
        *self.cached.write().await = Some((credentials.clone(), Utc::now()));
        Ok(credentials)
    }
}
